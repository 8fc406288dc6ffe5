"""The points ledger and the scoring rules of a program.

The ledger is append-only: a correction is a new entry (a reversal), never an edit
or a delete. Boards are sums of the ledger (the leaderboard app keeps them).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from fokus.core.models import Organization
from fokus.people.models import Person
from fokus.programs.models import Program


class PointsSource(models.TextChoices):
    LEARNING = "learning", _("learning")
    KPI = "kpi", _("KPI")
    BONUS = "bonus", _("bonus")
    MENTORING = "mentoring", _("mentoring")
    KNOWLEDGE = "knowledge", _("knowledge")


class PointsEntry(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organisation")
    )
    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="points_entries", verbose_name=_("program")
    )
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="points_entries", verbose_name=_("person")
    )
    source = models.CharField(_("source"), max_length=16, choices=PointsSource.choices)
    amount = models.DecimalField(_("points"), max_digits=10, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=300)
    # What the points are for, e.g. "task:17", "sale:XTA21...", "bonus:5".
    reference = models.CharField(_("reference"), max_length=200, blank=True, default="")
    # Unique: the same grade, sale or bonus can never be counted twice.
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    # The day the points count for (boards by day and week), in the person's zone.
    occurred_on = models.DateField(_("date"))
    # What was counted: the grade of a learning entry, the units of a KPI entry (a
    # reversal carries the same). Lets a re-grade tell "same grade" from "changed grade".
    quantity = models.DecimalField(
        _("quantity"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by",
        verbose_name=_("reverses"),
    )
    created_by = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("entered by"),
    )
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        indexes = [
            models.Index(fields=["program", "person"]),
            models.Index(fields=["program", "id"]),
            models.Index(fields=["program", "occurred_on"]),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} {self.source} {self.amount}"


class ScoringRules(models.Model):
    """How a program turns grades, KPI and bonuses into points, and the learning-first share."""

    program = models.OneToOneField(
        Program, on_delete=models.CASCADE, related_name="scoring_rules", verbose_name=_("program")
    )
    # {"1": 1, "2": 2, "3": 3}: grade (as text) -> learning points.
    grade_points = models.JSONField(_("points per grade"), default=dict)
    min_learning_share = models.DecimalField(
        _("minimum share of learning points"), max_digits=4, decimal_places=3,
        default=Decimal("0.600"),
    )
    bonus_max_per_entry = models.DecimalField(
        _("largest single bonus"), max_digits=8, decimal_places=2, default=Decimal("3")
    )
    bonus_max_per_person = models.DecimalField(
        _("bonus limit per person per program"), max_digits=8, decimal_places=2,
        default=Decimal("6"),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("scoring rules")
        verbose_name_plural = _("scoring rules")

    def __str__(self) -> str:
        return str(self.program)


class KpiRule(models.Model):
    """Points per unit of a KPI metric (cars sold: 1), capped so learning stays first."""

    rules = models.ForeignKey(ScoringRules, on_delete=models.CASCADE, related_name="kpi_rules")
    metric = models.CharField(_("metric"), max_length=64)
    points_per_unit = models.DecimalField(_("points per unit"), max_digits=8, decimal_places=2)
    cap_per_person_per_day = models.DecimalField(
        _("cap per person per day"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    cap_per_person_per_program = models.DecimalField(
        _("cap per person per program"), max_digits=10, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = _("KPI rule")
        verbose_name_plural = _("KPI rules")
        constraints = [
            models.UniqueConstraint(fields=["rules", "metric"], name="kpi_rule_unique_metric")
        ]

    def __str__(self) -> str:
        return f"{self.metric}: {self.points_per_unit}"
