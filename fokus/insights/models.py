"""Insights: a program's settings (completion rule, cost for ROI) and pre-aggregated facts.

The dashboard reads only the fact tables below, which `services.insights_refresh`
rebuilds per program from enrollments, material views, answers, grades and KPI
records (nightly, and on demand from the dashboard). Every fact row hangs off a
program, which belongs to one organisation: scoping by program scopes by tenant.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from fokus.people.models import Person, Unit
from fokus.programs.models import Program, Slot

DEFAULT_COMPLETION_PERCENT = 80


class InsightSettings(models.Model):
    """How a program is judged: the completion rule, the KPI metric and its cost."""

    program = models.OneToOneField(
        Program, on_delete=models.CASCADE, related_name="insight_settings",
        verbose_name=_("program"),
    )
    completion_percent = models.PositiveSmallIntegerField(
        _("completed when graded tasks reach, %"), default=DEFAULT_COMPLETION_PERCENT,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    metric = models.CharField(_("KPI metric"), max_length=64, default="cars_sold")
    cost_money = models.DecimalField(
        _("program cost, money"), max_digits=14, decimal_places=2, default=Decimal(0),
        validators=[MinValueValidator(Decimal(0))],
    )
    cost_hours = models.DecimalField(
        _("participants' hours spent"), max_digits=12, decimal_places=1, default=Decimal(0),
        validators=[MinValueValidator(Decimal(0))],
    )
    hour_value = models.DecimalField(
        _("value of one hour of work, money"), max_digits=12, decimal_places=2,
        default=Decimal(0), validators=[MinValueValidator(Decimal(0))],
    )
    unit_value = models.DecimalField(
        _("gross margin of one KPI unit (a car), money"), max_digits=14, decimal_places=2,
        default=Decimal(0), validators=[MinValueValidator(Decimal(0))],
    )
    refreshed_at = models.DateTimeField(_("facts refreshed at"), null=True, blank=True)
    # People behind the KPI trend's two lines at the last refresh (per-person averages).
    kpi_participants = models.PositiveIntegerField(default=0)
    kpi_others = models.PositiveIntegerField(default=0)
    # The periods PersonKpiFact was summed over (the default uplift as of the refresh).
    uplift_baseline_start = models.DateField(null=True, blank=True)
    uplift_program_end = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name = _("insight settings")
        verbose_name_plural = _("insight settings")

    def __str__(self) -> str:
        return str(self.program)

    @property
    def total_cost(self) -> Decimal:
        return self.cost_money + self.cost_hours * self.hour_value


class ParticipantFact(models.Model):
    """One enrolled person's progress in one program, as of the last refresh."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    unit = models.ForeignKey(Unit, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+")
    tasks_total = models.PositiveIntegerField(default=0)
    opened = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    graded = models.PositiveIntegerField(default=0)
    # Hundredths of a percent of tasks graded: the completion rule compares integers.
    graded_share = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["program", "person"], name="insights_fact_person")
        ]
        indexes = [models.Index(fields=["program", "unit"])]

    def __str__(self) -> str:
        return f"{self.program_id}/{self.person_id}"


class ActivityFact(models.Model):
    """Opened materials, answers and grades of one learning day and slot of a program."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    slot = models.ForeignKey(Slot, on_delete=models.CASCADE, null=True, blank=True,
                             related_name="+")
    opened = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    graded = models.PositiveIntegerField(default=0)
    # Working hours from the submission to the grade, summed over `graded`.
    turnaround_hours = models.FloatField(default=0.0)

    class Meta:
        indexes = [models.Index(fields=["program", "day"])]

    def __str__(self) -> str:
        return f"{self.program_id}/{self.day}/{self.slot_id}"


class KpiDayFact(models.Model):
    """KPI per day of participants and of everybody else (with a KPI record), net of
    cancellations, from the baseline period's start to the program's end."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    participants = models.BooleanField()
    quantity = models.DecimalField(max_digits=16, decimal_places=3)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["program", "day", "participants"], name="insights_kpi_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.program_id}/{self.day}/{self.participants}"


class PersonKpiFact(models.Model):
    """A person's KPI in the halves of the baseline and in the program period: the uplift
    report's input, summed once per refresh instead of over 5,000,000 rows per request."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+",
                               db_constraint=False)
    early = models.DecimalField(max_digits=16, decimal_places=3)
    late = models.DecimalField(max_digits=16, decimal_places=3)
    during = models.DecimalField(max_digits=16, decimal_places=3)
    in_baseline = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["program"])]

    def __str__(self) -> str:
        return f"{self.program_id}/{self.person_id}"
