"""Writes of the insights app: program settings and the refresh of the fact tables.

`insights_refresh(program)` rebuilds one program's facts in one transaction (delete,
then bulk insert): the dashboard never sees half a refresh. The nightly job refreshes
every program that is running or ended within the last 30 days; the dashboard's
"Refresh" button refreshes its own program on demand.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import BooleanField as BooleanFieldExpr
from django.db.models import Case, Count, Exists, OuterRef, Q, Sum, Value, When

from fokus.core import clock
from fokus.insights.models import (
    ActivityFact,
    InsightSettings,
    KpiDayFact,
    ParticipantFact,
    PersonKpiFact,
)
from fokus.insights.periods import uplift_periods
from fokus.kpi.models import KpiRecord
from fokus.programs.models import Enrollment, MaterialView, Program, Task
from fokus.review.models import Attempt, AttemptStatus, ReviewSettings, Submission
from fokus.review.turnaround import WorkingHours, working_hours_between

ANSWERED = (AttemptStatus.SUBMITTED, AttemptStatus.RETURNED, AttemptStatus.GRADED)
REFRESH_WINDOW = timedelta(days=30)
BULK = 5000


def insight_settings_for(program: Program) -> InsightSettings:
    found = InsightSettings.objects.filter(program=program).first()
    return found or InsightSettings(program=program)


def insight_settings_save(program: Program, values: dict[str, Any]) -> InsightSettings:
    """Store the completion rule, the metric and the cost; validation errors name the field."""
    settings = insight_settings_for(program)
    allowed = {"completion_percent", "metric", "cost_money", "cost_hours", "hour_value",
               "unit_value"}
    unknown = set(values) - allowed
    if unknown:
        raise ValidationError({name: "unknown field" for name in sorted(unknown)})
    for name, value in values.items():
        setattr(settings, name, value)
    settings.full_clean(exclude=["program"])
    settings.save()
    return settings


def _bulk(model: Any, rows: list[Any]) -> None:
    for start in range(0, len(rows), BULK):
        model.objects.bulk_create(rows[start:start + BULK])


def _participant_facts(program: Program, today: date) -> list[ParticipantFact]:
    enrollments = list(
        Enrollment.objects.filter(track__program=program)
        .values_list("person_id", "track_id", "person__unit_id")
    )
    due_by_track = Counter(
        Task.objects.filter(track__program=program, day__date__lte=today)
        .values_list("track_id", flat=True)
    )
    tasks_total: Counter[int] = Counter()
    units: dict[int, int | None] = {}
    unit_id: int | None
    for person_id, track_id, unit_id in enrollments:
        tasks_total[person_id] += due_by_track.get(track_id, 0)
        units[person_id] = unit_id
    opened = dict(
        MaterialView.objects.filter(material__track__program=program)
        .values_list("person_id").annotate(n=Count("id")).values_list("person_id", "n")
    )
    submissions = (
        Submission.objects.filter(program=program, status__in=ANSWERED)
        .values_list("person_id")
        .annotate(n=Count("id"), g=Count("id", filter=Q(status=AttemptStatus.GRADED)))
        .values_list("person_id", "n", "g")
    )
    answered = {person_id: (n, g) for person_id, n, g in submissions}
    facts = []
    for person_id, unit_id in units.items():
        total = tasks_total[person_id]
        n_answered, n_graded = answered.get(person_id, (0, 0))
        share = min(10000, n_graded * 10000 // total) if total else 0
        facts.append(ParticipantFact(
            program=program, person_id=person_id, unit_id=unit_id, tasks_total=total,
            opened=opened.get(person_id, 0), answered=n_answered, graded=n_graded,
            graded_share=share,
        ))
    return facts


def _activity_facts(program: Program) -> list[ActivityFact]:
    cells: dict[tuple[date, int | None], ActivityFact] = {}

    def cell(day: date, slot_id: int | None) -> ActivityFact:
        key = (day, slot_id)
        if key not in cells:
            cells[key] = ActivityFact(program=program, day=day, slot_id=slot_id)
        return cells[key]

    views = (
        MaterialView.objects.filter(material__track__program=program)
        .values_list("material__day__date", "material__slot_id").annotate(n=Count("id"))
    )
    for day, slot_id, n in views:
        cell(day, slot_id).opened += n
    answers = (
        Submission.objects.filter(program=program, status__in=ANSWERED)
        .values_list("task__day__date", "task__slot_id").annotate(n=Count("id"))
    )
    for day, slot_id, n in answers:
        cell(day, slot_id).answered += n
    hours = WorkingHours.of(ReviewSettings.objects.filter(program=program).first())
    grades = Attempt.objects.filter(
        submission__program=program, status=AttemptStatus.GRADED,
        submitted_at__isnull=False, decided_at__isnull=False,
    ).values_list("submission__task__day__date", "submission__task__slot_id",
                  "submitted_at", "decided_at")
    for day, slot_id, submitted_at, decided_at in grades.iterator(chunk_size=BULK):
        target = cell(day, slot_id)
        target.graded += 1
        if submitted_at is not None and decided_at is not None:  # filtered above; for mypy
            target.turnaround_hours += working_hours_between(submitted_at, decided_at, hours)
    return [cells[key] for key in sorted(cells, key=lambda k: (k[0], k[1] or 0))]


def _kpi_facts(program: Program, metric: str, today: date) -> list[KpiDayFact]:
    periods = uplift_periods(program.starts_on, program.ends_on, today)
    enrolled = Enrollment.objects.filter(track__program=program, person_id=OuterRef("person_id"))
    rows = (
        KpiRecord.objects.filter(
            organization_id=program.organization_id, metric=metric, person__isnull=False,
            occurred_on__gte=periods.baseline_start, occurred_on__lte=program.ends_on,
        )
        .annotate(p=Case(When(Exists(enrolled), then=Value(True)), default=Value(False),
                         output_field=BooleanFieldExpr()))
        .values_list("occurred_on", "p")
        .annotate(q=Sum("quantity"))
        .order_by()
    )
    return [
        KpiDayFact(program=program, day=day, participants=bool(p), quantity=Decimal(q or 0))
        for day, p, q in rows
    ]


def kpi_population(program: Program, metric: str, today: date) -> tuple[int, int]:
    """(participants, others) with a KPI record in the baseline or program period."""
    periods = uplift_periods(program.starts_on, program.ends_on, today)
    people = set(
        KpiRecord.objects.filter(
            organization_id=program.organization_id, metric=metric, person__isnull=False,
            occurred_on__gte=periods.baseline_start, occurred_on__lte=program.ends_on,
        ).values_list("person_id", flat=True).distinct().order_by()
    )
    enrolled = set(
        Enrollment.objects.filter(track__program=program).values_list("person_id", flat=True)
    )
    return len(people & enrolled), len(people - enrolled)


_PERSON_KPI_SQL = (
    f"INSERT INTO {PersonKpiFact._meta.db_table} "  # noqa: S608 - our table names
    "(program_id, person_id, early, late, during, in_baseline) "
    "SELECT %s, person_id, "
    "SUM(CASE WHEN occurred_on < %s THEN quantity ELSE 0 END), "
    "SUM(CASE WHEN occurred_on >= %s AND occurred_on < %s THEN quantity ELSE 0 END), "
    "SUM(CASE WHEN occurred_on >= %s THEN quantity ELSE 0 END), "
    "SUM(CASE WHEN occurred_on < %s THEN 1 ELSE 0 END) "
    f"FROM {KpiRecord._meta.db_table} "
    "WHERE organization_id = %s AND metric = %s AND person_id IS NOT NULL "
    "AND occurred_on >= %s AND occurred_on <= %s GROUP BY person_id"
)


def _person_kpi_facts(program: Program, metric: str, today: date) -> tuple[date, date]:
    """Sum each person's KPI over the default uplift periods, inside the database."""
    periods = uplift_periods(program.starts_on, program.ends_on, today)
    middle = periods.baseline_middle
    with connection.cursor() as cursor:
        cursor.execute(_PERSON_KPI_SQL, [
            program.pk, middle, middle, periods.program_start, periods.program_start,
            periods.program_start, program.organization_id, metric, periods.baseline_start,
            periods.program_end,
        ])
    return periods.baseline_start, periods.program_end


def insights_refresh(program: Program, *, now: datetime | None = None) -> InsightSettings:
    """Rebuild the program's facts from the raw rows."""
    instant = now or clock.now()
    today = instant.date()
    settings = insight_settings_for(program)
    participants = _participant_facts(program, today)
    activity = _activity_facts(program)
    kpi = _kpi_facts(program, settings.metric, today)
    with_kpi, others = kpi_population(program, settings.metric, today)
    with transaction.atomic():
        ParticipantFact.objects.filter(program=program).delete()
        ActivityFact.objects.filter(program=program).delete()
        KpiDayFact.objects.filter(program=program).delete()
        PersonKpiFact.objects.filter(program=program).delete()
        baseline_start, program_end = _person_kpi_facts(program, settings.metric, today)
        settings.uplift_baseline_start = baseline_start
        settings.uplift_program_end = program_end
        _bulk(ParticipantFact, participants)
        _bulk(ActivityFact, activity)
        _bulk(KpiDayFact, kpi)
        settings.refreshed_at = instant
        settings.kpi_participants = with_kpi
        settings.kpi_others = others
        settings.save()
    return settings


def insights_refresh_current(*, now: datetime | None = None) -> int:
    """Refresh every program running now or ended within the last 30 days."""
    instant = now or clock.now()
    today = instant.date()
    programs = Program.objects.filter(
        starts_on__lte=today, ends_on__gte=today - REFRESH_WINDOW
    ).order_by("pk")
    count = 0
    for program in programs:
        insights_refresh(program, now=instant)
        count += 1
    return count
