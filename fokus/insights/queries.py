"""Reads of the insights app: who may see it, the dashboard (facts only), the uplift report.

The dashboard reads the fact tables that `services.insights_refresh` fills, never the
raw rows, so its cost does not grow with the number of KPI records. The uplift report
reads KPI records once (one grouped query over the two periods) and runs the
estimators in `estimator.py`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from fokus.core.models import Organization
from fokus.insights import estimator
from fokus.insights.estimator import Estimate, Outcome, Roi
from fokus.insights.models import (
    ActivityFact,
    InsightSettings,
    KpiDayFact,
    ParticipantFact,
    PersonKpiFact,
)
from fokus.insights.periods import Periods, uplift_periods
from fokus.kpi.models import KpiRecord
from fokus.leaderboard.queries import BoardRow, board
from fokus.people.models import Person, Role, Unit
from fokus.programs.models import Enrollment, MaterialView, Program, Slot
from fokus.review.models import Attempt, AttemptStatus

INSIGHT_ROLES = frozenset({Role.VIEWER.value, Role.ADMIN.value})
TOP_OF_BOARD = 10
RATE_DAYS = 30  # rates are "per 30 days", read as per month


def person_may_see_insights(person: Person | None, *, is_superuser: bool = False) -> bool:
    """Viewers and admins of the organisation (and superusers)."""
    if is_superuser:
        return True
    return person is not None and bool(person.role_set & INSIGHT_ROLES)


def person_may_edit_cost(person: Person | None, *, is_superuser: bool = False) -> bool:
    if is_superuser:
        return True
    return person is not None and person.has_role(Role.ADMIN)


def programs_of(organization: Organization) -> QuerySet[Program]:
    return Program.objects.filter(organization=organization).order_by("-starts_on", "slug")


def program_by_slug(organization: Organization, slug: str) -> Program | None:
    return Program.objects.filter(organization=organization, slug=slug).first()


def insight_settings(program: Program) -> InsightSettings:
    found = InsightSettings.objects.filter(program=program).first()
    return found or InsightSettings(program=program)


# --- the dashboard ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Funnel:
    enrolled: int
    started: int
    completed: int
    completion_percent: int


@dataclass(frozen=True, slots=True)
class ActivityRow:
    day: date
    slot: str  # "09:00 lesson" or "" for content without a slot
    opened: int
    answered: int
    graded: int
    turnaround_hours: float | None  # mean working hours to a grade


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One dealership (or region) of the table."""

    name: str
    city: str
    enrolled: int
    started: int
    completed: int
    answered: int
    graded: int

    @property
    def completion_share(self) -> float:
        return self.completed / self.enrolled if self.enrolled else 0.0


@dataclass(frozen=True, slots=True)
class KpiPoint:
    day: date
    participants: Decimal  # per participant
    others: Decimal  # per other person


@dataclass(slots=True)
class Dashboard:
    program: Program
    date_from: date
    date_to: date
    funnel: Funnel
    activity: list[ActivityRow]
    turnaround_hours: float | None
    graded_in_range: int
    units: list[GroupRow]
    regions: list[GroupRow]
    kpi: list[KpiPoint]
    board: list[BoardRow]
    refreshed_at: Any
    settings: InsightSettings
    activity_by_day: list[tuple[date, int, int]] = field(default_factory=list)


def _completed_q(percent: int) -> Q:
    return Q(tasks_total__gt=0, graded_share__gte=percent * 100)


_STARTED = Q(opened__gt=0) | Q(answered__gt=0)


def funnel(program: Program, completion_percent: int) -> Funnel:
    counts = ParticipantFact.objects.filter(program=program).aggregate(
        enrolled=Count("id"),
        started=Count("id", filter=_STARTED),
        completed=Count("id", filter=_completed_q(completion_percent)),
    )
    return Funnel(counts["enrolled"], counts["started"], counts["completed"], completion_percent)


def _slot_label(slot: Slot | None) -> str:
    if slot is None:
        return ""
    return f"{slot.local_time:%H:%M} {slot.get_kind_display()}"


def activity(program: Program, date_from: date, date_to: date) -> list[ActivityRow]:
    slots = {s.pk: s for s in Slot.objects.filter(program=program)}
    facts = ActivityFact.objects.filter(
        program=program, day__gte=date_from, day__lte=date_to
    ).order_by("day", "slot_id")
    rows = []
    for fact in facts:
        slot = slots.get(fact.slot_id) if fact.slot_id else None
        rows.append(ActivityRow(
            day=fact.day, slot=_slot_label(slot), opened=fact.opened, answered=fact.answered,
            graded=fact.graded,
            turnaround_hours=fact.turnaround_hours / fact.graded if fact.graded else None,
        ))
    rows.sort(key=lambda r: (r.day, r.slot))
    return rows


def _unit_groups(program: Program, completion_percent: int) -> list[GroupRow]:
    """One scan of the participant facts, grouped by dealership; the funnel and the
    regions are sums of these rows (three scans of 40,000 facts cost the p95 budget)."""
    rows = (
        ParticipantFact.objects.filter(program=program)
        .values_list("unit_id")
        .annotate(
            enrolled=Count("id"), started=Count("id", filter=_STARTED),
            completed=Count("id", filter=_completed_q(completion_percent)),
            answered_sum=Sum("answered"), graded_sum=Sum("graded"),
        )
        .order_by()
    )
    units = {pk: (name, city) for pk, name, city in Unit.objects.filter(
        organization_id=program.organization_id).values_list("pk", "name", "city")}
    result = []
    for unit_id, enrolled, started, completed, answered, graded in rows:
        name, city = units.get(unit_id, ("", ""))
        result.append(GroupRow(name=name, city=city, enrolled=enrolled, started=started,
                               completed=completed, answered=answered or 0,
                               graded=graded or 0))
    result.sort(key=lambda r: (-r.completion_share, r.name))
    return result


def _sum_groups(rows: list[GroupRow], key: str) -> list[GroupRow]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for r in rows:
        t = totals[getattr(r, key)]
        t[0] += r.enrolled
        t[1] += r.started
        t[2] += r.completed
        t[3] += r.answered
        t[4] += r.graded
    result = [GroupRow(name=name, city=name, enrolled=t[0], started=t[1], completed=t[2],
                       answered=t[3], graded=t[4]) for name, t in totals.items()]
    result.sort(key=lambda r: (-r.completion_share, r.name))
    return result


def kpi_trend(program: Program, settings: InsightSettings, date_from: date,
              date_to: date) -> list[KpiPoint]:
    by_day: dict[date, dict[bool, Decimal]] = defaultdict(dict)
    for day, participants, quantity in KpiDayFact.objects.filter(
        program=program, day__gte=date_from, day__lte=date_to
    ).values_list("day", "participants", "quantity"):
        by_day[day][participants] = quantity
    n_in, n_out = settings.kpi_participants, settings.kpi_others
    points = []
    for day in sorted(by_day):
        values = by_day[day]
        points.append(KpiPoint(
            day=day,
            participants=(values.get(True, Decimal(0)) / n_in) if n_in else Decimal(0),
            others=(values.get(False, Decimal(0)) / n_out) if n_out else Decimal(0),
        ))
    return points


def dashboard(program: Program, *, date_from: date | None = None, date_to: date | None = None,
              completion_percent: int | None = None, today: date) -> Dashboard:
    settings = insight_settings(program)
    percent = completion_percent or settings.completion_percent
    periods = uplift_periods(program.starts_on, program.ends_on, today)
    start = date_from or program.starts_on
    end = date_to or program.ends_on
    rows = activity(program, start, end)
    units = _unit_groups(program, percent)
    graded = sum(r.graded for r in rows)
    hours = sum((r.turnaround_hours or 0.0) * r.graded for r in rows)
    per_day: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        per_day[r.day][0] += r.opened
        per_day[r.day][1] += r.answered
    # The KPI trend shows the baseline too, unless the range asks for less.
    kpi_from = date_from or periods.baseline_start
    return Dashboard(
        program=program, date_from=start, date_to=end,
        funnel=Funnel(sum(u.enrolled for u in units), sum(u.started for u in units),
                      sum(u.completed for u in units), percent),
        activity=rows, turnaround_hours=hours / graded if graded else None,
        graded_in_range=graded,
        units=units, regions=_sum_groups(units, "city"),
        kpi=kpi_trend(program, settings, kpi_from, end),
        board=board(program, limit=TOP_OF_BOARD), refreshed_at=settings.refreshed_at,
        settings=settings,
        activity_by_day=[(d, v[0], v[1]) for d, v in sorted(per_day.items())],
    )


# --- the uplift report ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpliftReport:
    program: Program
    metric: str
    periods: Periods
    naive: Estimate
    did: Estimate
    matched: Estimate
    participants: int  # enrolled people in the comparison
    others: int
    left_out: int  # enrolled people without a KPI record in the baseline
    roi: Roi | None
    cost: Decimal
    months: float
    as_of: datetime | None = None  # figures from the last refresh; None: computed now

    @property
    def estimates(self) -> list[Estimate]:
        return [self.naive, self.did, self.matched]


def uplift_outcomes(program: Program, metric: str, periods: Periods, *,
                    from_facts: bool = False) -> list[Outcome]:
    """One outcome per person with a KPI record in the baseline: participants (enrolled
    in the program, whatever their status now: intention to treat) and everybody else
    with the participant role. Rates are per 30 days.

    `from_facts`: read the sums `services.insights_refresh` stored for these periods
    instead of summing the KPI records now."""
    middle = periods.baseline_middle
    sums: Any
    if from_facts:
        sums = PersonKpiFact.objects.filter(program=program).values_list(
            "person_id", "early", "late", "during", "in_baseline"
        ).order_by()
    else:
        sums = (
            KpiRecord.objects.filter(
                organization_id=program.organization_id, metric=metric, person__isnull=False,
                occurred_on__gte=periods.baseline_start, occurred_on__lte=periods.program_end,
            )
            .values_list("person_id")
            .annotate(
                early=Sum("quantity", filter=Q(occurred_on__lt=middle)),
                late=Sum("quantity", filter=Q(occurred_on__gte=middle,
                                              occurred_on__lt=periods.program_start)),
                during=Sum("quantity", filter=Q(occurred_on__gte=periods.program_start)),
                in_baseline=Count("id", filter=Q(occurred_on__lt=periods.program_start)),
            )
            .values_list("person_id", "early", "late", "during", "in_baseline")
            .order_by()
        )
    enrolled = set(
        Enrollment.objects.filter(track__program=program).values_list("person_id", flat=True)
    )
    people = {
        pk: (unit_id, city or "", roles or "")
        for pk, unit_id, city, roles in Person.objects.filter(
            organization_id=program.organization_id
        ).values_list("pk", "unit_id", "unit__city", "roles")
    }
    early_days = (middle - periods.baseline_start).days
    late_days = periods.baseline_days - early_days
    outcomes = []
    for person_id, early, late, during, in_baseline in sums:
        if not in_baseline or person_id not in people:
            continue
        unit_id, city, roles = people[person_id]
        treated = person_id in enrolled
        if not treated and Role.PARTICIPANT.value not in roles.split(","):
            continue
        early_q, late_q = float(early or 0), float(late or 0)
        outcomes.append(Outcome(
            person_id=person_id, treated=treated,
            baseline=(early_q + late_q) * RATE_DAYS / periods.baseline_days,
            period=float(during or 0) * RATE_DAYS / periods.program_days,
            cluster=unit_id if unit_id is not None else ("person", person_id),
            region=city,
            baseline_early=early_q * RATE_DAYS / max(1, early_days),
            baseline_late=late_q * RATE_DAYS / max(1, late_days),
        ))
    outcomes.sort(key=lambda o: o.person_id)
    return outcomes


def uplift_report(program: Program, *, today: date, baseline_days: int | None = None,
                  metric: str | None = None) -> UpliftReport:
    settings = insight_settings(program)
    chosen = metric or settings.metric
    from_facts = (
        baseline_days is None and chosen == settings.metric
        and settings.uplift_baseline_start is not None
        and settings.uplift_program_end is not None
    )
    if from_facts:
        assert settings.uplift_baseline_start is not None
        assert settings.uplift_program_end is not None
        periods = Periods(settings.uplift_baseline_start, program.starts_on,
                          settings.uplift_program_end)
    else:
        periods = uplift_periods(program.starts_on, program.ends_on, today, baseline_days)
    outcomes = uplift_outcomes(program, chosen, periods, from_facts=from_facts)
    did = estimator.difference_in_differences(outcomes)
    participants = sum(1 for o in outcomes if o.treated)
    enrolled = Enrollment.objects.filter(track__program=program).values("person_id").distinct()
    months = periods.program_days / RATE_DAYS
    cost = settings.total_cost
    result = None
    if cost > 0 and settings.unit_value > 0:
        result = estimator.roi(did, participants=participants, months=months,
                               value_per_unit=float(settings.unit_value), cost=float(cost))
    return UpliftReport(
        program=program, metric=chosen, periods=periods, naive=estimator.naive(outcomes),
        did=did, matched=estimator.matched(outcomes), participants=participants,
        others=len(outcomes) - participants, left_out=max(0, enrolled.count() - participants),
        roi=result, cost=cost, months=months,
        as_of=settings.refreshed_at if from_facts else None,
    )


# --- xAPI events ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LearningEvent:
    verb: str  # opened, answered, graded, completed
    employee_number: str
    name: str
    email: str
    object_path: str
    object_name: str
    timestamp: datetime
    score: tuple[int, int] | None = None


def learning_events(program: Program, *, since: datetime | None, limit: int) -> list[LearningEvent]:
    """Opened materials, submitted and graded attempts, and completions, oldest first.

    A completion is dated by the grade that took the person over the completion rule.
    """
    events: list[LearningEvent] = []
    views = MaterialView.objects.filter(material__track__program=program)
    attempts = Attempt.objects.filter(submission__program=program)
    if since is not None:
        views = views.filter(opened_at__gt=since)
    for view in views.select_related("person", "material").order_by("opened_at", "pk")[:limit]:
        events.append(LearningEvent(
            "opened", view.person.employee_number, view.person.full_name, view.person.email,
            f"/materials/{view.material_id}/", view.material.title, view.opened_at,
        ))
    submitted = attempts.filter(submitted_at__isnull=False)
    if since is not None:
        submitted = submitted.filter(submitted_at__gt=since)
    related = ("submission__person", "submission__task")
    for attempt in submitted.select_related(*related).order_by("submitted_at", "pk")[:limit]:
        person, task = attempt.submission.person, attempt.submission.task
        assert attempt.submitted_at is not None
        events.append(LearningEvent(
            "answered", person.employee_number, person.full_name, person.email,
            f"/tasks/{task.pk}/", task.title, attempt.submitted_at,
        ))
    graded = attempts.filter(status=AttemptStatus.GRADED, decided_at__isnull=False)
    if since is not None:
        graded = graded.filter(decided_at__gt=since)
    settings = insight_settings(program)
    facts = {
        f.person_id: f for f in ParticipantFact.objects.filter(
            program=program, tasks_total__gt=0,
            graded_share__gte=settings.completion_percent * 100,
        )
    }
    completed_at: dict[int, tuple[datetime, Person]] = {}
    for attempt in graded.select_related(*related).order_by("decided_at", "pk")[:limit]:
        person, task = attempt.submission.person, attempt.submission.task
        assert attempt.decided_at is not None
        events.append(LearningEvent(
            "graded", person.employee_number, person.full_name, person.email,
            f"/tasks/{task.pk}/", task.title, attempt.decided_at,
            (attempt.grade or 0, task.grade_max),
        ))
        if person.pk in facts:
            completed_at[person.pk] = (attempt.decided_at, person)
    for instant, person in completed_at.values():
        events.append(LearningEvent(
            "completed", person.employee_number, person.full_name, person.email,
            f"/programs/{program.slug}/", program.title, instant,
        ))
    events.sort(key=lambda e: (e.timestamp, e.verb, e.employee_number, e.object_path))
    return events[:limit]
