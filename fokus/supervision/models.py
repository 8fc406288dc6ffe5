"""Supervisors' side of a program: generated support tasks, confirmations, standings.

A supervisor (a person with direct reports, usually enrolled in a track that follows
the consultants' track) gets tasks generated from the team's state by rules whose
texts authors edit per program. Confirming that a report used the day's technique
with a real client gives the report bonus points through the scoring ledger.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from fokus.core.models import Organization
from fokus.people.models import Person
from fokus.programs.models import LearningDay, Program, Task, Track
from fokus.scoring.models import PointsEntry


class RuleKind(models.TextChoices):
    NOT_ANSWERED = "not_answered", _("reports have not answered today's task")
    RETURNED = "returned", _("a report's answer was returned for revision")
    TOP_GRADE = "top_grade", _("a report got the top grade")


class SupportTaskTemplate(models.Model):
    """The text of one rule in one language for one program; authors edit it."""

    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="support_templates",
        verbose_name=_("program"),
    )
    rule = models.CharField(_("rule"), max_length=32, choices=RuleKind.choices)
    language = models.CharField(_("language"), max_length=8)
    text = models.CharField(_("text"), max_length=500)
    # Rule parameters, e.g. {"min_missing": 1, "after": "14:00"}; see rules.py.
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"))
    updated_by = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("updated by"),
    )

    class Meta:
        verbose_name = _("support task template")
        verbose_name_plural = _("support task templates")
        ordering = ["program", "rule", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "rule", "language"], name="support_template_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule} ({self.language})"


class SupportTaskStatus(models.TextChoices):
    OPEN = "open", _("to do")
    DONE = "done", _("done")
    SKIPPED = "skipped", _("skipped")


class SupportTask(models.Model):
    """One generated task of a supervisor on one day: unique per rule, subject and day."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="support_tasks", verbose_name=_("program")
    )
    track = models.ForeignKey(
        Track, on_delete=models.SET_NULL, null=True, blank=True, related_name="support_tasks",
        verbose_name=_("supervisors' track"),
    )
    supervisor = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="support_tasks",
        verbose_name=_("supervisor"),
    )
    day = models.ForeignKey(
        LearningDay, on_delete=models.CASCADE, related_name="support_tasks", verbose_name=_("day")
    )
    rule = models.CharField(_("rule"), max_length=32, choices=RuleKind.choices)
    # What the task is about: "team" for the whole team, "attempt:<id>" for one answer.
    subject = models.CharField(_("subject"), max_length=100)
    report = models.ForeignKey(
        Person, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("subordinate"),
    )
    task = models.ForeignKey(
        Task, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("task"),
    )
    # Rendered once, in the supervisor's language: an edited template changes new tasks only.
    text = models.CharField(_("text"), max_length=1000)
    status = models.CharField(
        _("status"), max_length=16, choices=SupportTaskStatus.choices,
        default=SupportTaskStatus.OPEN,
    )
    note = models.CharField(_("note"), max_length=1000, blank=True, default="")
    created_at = models.DateTimeField(_("created at"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("support task")
        verbose_name_plural = _("support tasks")
        ordering = ["day__index", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["supervisor", "rule", "subject", "day"], name="support_task_unique"
            )
        ]
        indexes = [models.Index(fields=["supervisor", "day"])]

    def __str__(self) -> str:
        return self.text


class ApplicationConfirmation(models.Model):
    """A supervisor saw a report use the day's technique with a real client."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="application_confirmations",
        verbose_name=_("program"),
    )
    supervisor = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="confirmations_given",
        verbose_name=_("supervisor"),
    )
    report = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="confirmations_received",
        verbose_name=_("subordinate"),
    )
    day = models.ForeignKey(
        LearningDay, on_delete=models.CASCADE, related_name="+", verbose_name=_("day")
    )
    task = models.ForeignKey(
        Task, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("task"),
    )
    # {"used_with_client": true, "followed_steps": false, ...}: see CHECKLIST in services.
    checklist = models.JSONField(_("checklist"), default=dict)
    note = models.CharField(_("note"), max_length=1000, blank=True, default="")
    photo_storage_name = models.CharField(max_length=100, blank=True, default="")
    photo_content_type = models.CharField(max_length=100, blank=True, default="")
    points = models.DecimalField(
        _("bonus points"), max_digits=8, decimal_places=2, default=Decimal(0)
    )
    points_entry = models.ForeignKey(
        PointsEntry, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Why no points were given (the bonus limit was reached), shown to the supervisor.
    points_refused = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("application confirmation")
        verbose_name_plural = _("application confirmations")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["report", "day", "program"], name="confirmation_unique_per_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.supervisor_id} → {self.report_id} ({self.day_id})"


class SupervisorStanding(models.Model):
    """The supervisors' board, precomputed (fokus.supervision.scores)."""

    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="supervisor_standings"
    )
    supervisor = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    team_size = models.PositiveIntegerField(default=0)
    own_share = models.DecimalField(max_digits=6, decimal_places=4, default=Decimal(0))
    adoption_share = models.DecimalField(max_digits=6, decimal_places=4, default=Decimal(0))
    grade_share = models.DecimalField(max_digits=6, decimal_places=4, default=Decimal(0))
    score = models.DecimalField(max_digits=7, decimal_places=2, default=Decimal(0))
    rank = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField()

    class Meta:
        ordering = ["program", "rank", "supervisor__full_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "supervisor"], name="supervisor_standing_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.supervisor_id}: {self.score}"
