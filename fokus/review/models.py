"""Answers to tasks and their curator review: attempts, claims, decisions, audit."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from fokus.core.models import Organization
from fokus.people.models import Person, Unit
from fokus.programs.models import Program, Task, Track


class AttemptStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    SUBMITTED = "submitted", _("awaiting review")
    RETURNED = "returned", _("returned for revision")
    GRADED = "graded", _("graded")


class Submission(models.Model):
    """One person's work on one task: the thread of their attempts."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="submissions")
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="submissions")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="submissions")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="submissions")
    # Copied from the person when the first attempt is made: queue filters by dealership.
    unit = models.ForeignKey(
        Unit, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=16, choices=AttemptStatus.choices, default=AttemptStatus.DRAFT
    )
    assigned_curator = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_submissions",
        verbose_name=_("assigned curator"),
    )
    created_at = models.DateTimeField(_("created at"))
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("submission")
        verbose_name_plural = _("submissions")
        constraints = [
            models.UniqueConstraint(fields=["person", "task"], name="submission_unique_person_task")
        ]

    def __str__(self) -> str:
        return f"{self.person_id} → {self.task_id}"


class Attempt(models.Model):
    """One version of an answer; every attempt is kept with its feedback."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField(_("attempt"))
    status = models.CharField(
        _("status"), max_length=16, choices=AttemptStatus.choices, default=AttemptStatus.DRAFT
    )
    text = models.TextField(_("answer"), blank=True, default="")
    link = models.URLField(_("link"), max_length=1000, blank=True, default="")
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    is_late = models.BooleanField(_("late"), default=False)
    claimed_by = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("claimed by"),
    )
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    grade = models.PositiveSmallIntegerField(_("grade"), null=True, blank=True)
    # Optional per-criterion marks, e.g. {"structure": 2, "tone": 3}; the grade still decides.
    rubric = models.JSONField(_("rubric"), null=True, blank=True)
    feedback = models.TextField(_("feedback"), blank=True, default="")
    decided_by = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    decided_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")
        constraints = [
            models.UniqueConstraint(fields=["submission", "number"], name="attempt_unique_number")
        ]
        indexes = [
            # The curator queue: an organisation's answers awaiting review, oldest first.
            models.Index(fields=["organization", "status", "submitted_at"], name="attempt_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.submission_id}#{self.number}"


class AttemptFile(models.Model):
    """A photo or document attached to an attempt, stored under a random name."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="files")
    storage_name = models.CharField(max_length=100, unique=True)
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveIntegerField(_("size"))
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(_("uploaded at"))

    class Meta:
        verbose_name = _("attached file")
        verbose_name_plural = _("attached files")

    def __str__(self) -> str:
        return self.original_name


class ReviewEventKind(models.TextChoices):
    SUBMITTED = "submitted", _("submitted")
    CLAIMED = "claimed", _("claimed")
    RELEASED = "released", _("released")
    CLAIM_EXPIRED = "claim_expired", _("claim expired")
    ASSIGNED = "assigned", _("assigned")
    RETURNED = "returned", _("returned for revision")
    GRADED = "graded", _("graded")
    GRADE_CHANGED = "grade_changed", _("grade changed")


class ReviewEvent(models.Model):
    """The audit trail: who did what to an attempt, when, and what it was before."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(_("event"), max_length=16, choices=ReviewEventKind.choices)
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("review event")
        verbose_name_plural = _("review events")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["organization", "at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.attempt_id}"


class ReviewSettings(models.Model):
    """Per program: turnaround target, attempts, late answers, claims, auto-assignment."""

    program = models.OneToOneField(
        Program, on_delete=models.CASCADE, related_name="review_settings"
    )
    turnaround_hours = models.PositiveSmallIntegerField(
        _("turnaround target, working hours"), default=4
    )
    working_day_start = models.TimeField(_("working day starts"), default="09:00")
    working_day_end = models.TimeField(_("working day ends"), default="18:00")
    working_time_zone = models.CharField(
        _("working hours time zone"), max_length=64, default="Europe/Moscow"
    )
    max_attempts = models.PositiveSmallIntegerField(_("maximum attempts per task"), default=3)
    accept_late = models.BooleanField(_("accept late answers"), default=True)
    # Empty: an answer is on time until the program's last day ends (participant's zone).
    # N: until the end of the task's learning day plus N days.
    answer_days = models.PositiveSmallIntegerField(
        _("days to answer after the task's learning day"), null=True, blank=True
    )
    claim_minutes = models.PositiveSmallIntegerField(_("claim expires after, minutes"), default=20)
    lead_curator = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("lead curator"),
    )
    auto_assign = models.BooleanField(
        _("assign new answers to the least loaded curator"), default=False
    )

    class Meta:
        verbose_name = _("review settings")
        verbose_name_plural = _("review settings")

    def __str__(self) -> str:
        return str(self.program)


class TelegramDialogStep(models.TextChoices):
    ANSWERING = "answering", _("collecting an answer")
    FEEDBACK = "feedback", _("waiting for the curator's feedback")


class TelegramDialog(models.Model):
    """Where a person's Telegram conversation with the bot stands (fokus.review.telegram_flows):
    collecting an answer to `task`, or waiting for the feedback on `attempt`'s decision.
    One row per person; a new step replaces the old one."""

    person = models.OneToOneField(
        Person, on_delete=models.CASCADE, related_name="review_telegram_dialog"
    )
    step = models.CharField(_("step"), max_length=16, choices=TelegramDialogStep.choices)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, null=True, blank=True,
                             related_name="+")
    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, null=True, blank=True,
                                related_name="+")
    # The curator's pressed decision: "return", or "grade" with `grade`.
    decision = models.CharField(_("decision"), max_length=16, blank=True, default="")
    grade = models.PositiveSmallIntegerField(_("grade"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("Telegram review dialog")
        verbose_name_plural = _("Telegram review dialogs")

    def __str__(self) -> str:
        return f"{self.person_id}: {self.step}"
