"""Reads of the ledger and the scoring rules.

`scoring_rules_for` is the one read that may write: a program's rules are created
with defaults the first time anything asks for them (docs/scoring.md, "Defaults").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum

from fokus.people.models import Person, Role
from fokus.programs.models import EnrollmentStatus, Program, Task, Track
from fokus.scoring.guarantee import (
    ZERO,
    KpiMax,
    KpiRuleSpec,
    ShareReport,
    TrackMax,
    allowed_other,
    floor_cap,
    share_report,
)
from fokus.scoring.models import KpiRule, PointsEntry, PointsSource, ScoringRules

DEFAULT_GRADE_POINTS = {1: Decimal(1), 2: Decimal(2), 3: Decimal(3)}
DEFAULT_MIN_SHARE = Decimal("0.600")
DEFAULT_METRIC = "cars_sold"
DEFAULT_BONUS_PER_ENTRY = Decimal(3)
DEFAULT_BONUS_PER_PERSON = Decimal(6)


# --- rules -------------------------------------------------------------------------------


def grade_points_of(rules: ScoringRules) -> dict[int, Decimal]:
    return {int(k): Decimal(str(v)) for k, v in (rules.grade_points or {}).items()}


def kpi_specs_of(rules: ScoringRules) -> list[KpiRuleSpec]:
    return [
        KpiRuleSpec(
            metric=r.metric,
            points_per_unit=r.points_per_unit,
            cap_per_person_per_day=r.cap_per_person_per_day,
            cap_per_person_per_program=r.cap_per_person_per_program,
        )
        for r in rules.kpi_rules.order_by("metric")
    ]


def kpi_rule_for(rules: ScoringRules, metric: str) -> KpiRule | None:
    return rules.kpi_rules.filter(metric=metric).first()


def program_days(program: Program) -> int:
    """Calendar days of the program: sales happen every day, not only on learning days."""
    return (program.ends_on - program.starts_on).days + 1


def program_max_grade(program: Program) -> int:
    best = Task.objects.filter(track__program=program).order_by("-grade_max").first()
    return best.grade_max if best else 0


def track_maxima(program: Program, grade_points: dict[int, Decimal]) -> list[TrackMax]:
    """Per track: tasks, active participants and the most learning points one can reach.

    A task's best is the highest points of any grade it allows (1..grade_max); a grade
    without points counts 0 here, and `scoring_rules_save` refuses such a rule set.
    """
    tracks = list(
        Track.objects.filter(program=program)
        .annotate(
            participants=Count(
                "enrollments",
                filter=Q(enrollments__status=EnrollmentStatus.ACTIVE),
                distinct=True,
            )
        )
        .order_by("position", "slug")
    )
    grade_maxes: dict[int, list[int]] = {}
    for track_id, grade_max in Task.objects.filter(track__program=program).values_list(
        "track_id", "grade_max"
    ):
        grade_maxes.setdefault(track_id, []).append(grade_max)
    best_by_max: dict[int, Decimal] = {}

    def best(grade_max: int) -> Decimal:
        if grade_max not in best_by_max:
            best_by_max[grade_max] = max(
                (grade_points.get(g, ZERO) for g in range(1, grade_max + 1)), default=ZERO
            )
        return best_by_max[grade_max]

    return [
        TrackMax(
            slug=t.slug,
            title=t.title,
            tasks=len(grade_maxes.get(t.pk, [])),
            participants=t.participants,
            max_learning=sum((best(m) for m in grade_maxes.get(t.pk, [])), ZERO),
            earns_kpi=t.follows_id is None,
        )
        for t in tracks
    ]


def share_report_for(
    *,
    program: Program,
    grade_points: dict[int, Decimal],
    min_share: Decimal,
    kpi_rules: Iterable[KpiRuleSpec],
    bonus_max_per_person: Decimal,
) -> ShareReport:
    days = program_days(program)
    return share_report(
        tracks=track_maxima(program, grade_points),
        kpi=[
            KpiMax(
                metric=r.metric,
                points_per_unit=r.points_per_unit,
                cap_per_day=r.cap_per_person_per_day,
                cap_per_program=r.cap_per_person_per_program,
                days=days,
            )
            for r in kpi_rules
        ],
        max_bonus=bonus_max_per_person,
        min_share=min_share,
        days=days,
    )


def learning_share_report(program: Program) -> ShareReport:
    """The guarantee as it stands now: rules as saved, tracks and enrollments as they are."""
    rules = scoring_rules_for(program)
    return share_report_for(
        program=program,
        grade_points=grade_points_of(rules),
        min_share=rules.min_learning_share,
        kpi_rules=kpi_specs_of(rules),
        bonus_max_per_person=rules.bonus_max_per_person,
    )


def scoring_rules_for(program: Program) -> ScoringRules:
    """The program's rules; created with the defaults the first time they are asked for.

    Defaults: grades 1/2/3 -> 1/2/3 points (grade g -> g points above 3), 60% learning,
    bonuses up to 3 per entry and 6 per person, and cars_sold at 1 point per unit with
    the largest per-program cap that keeps the share for the program as it is now.
    """
    existing = ScoringRules.objects.filter(program=program).first()
    if existing is not None:
        return existing
    grade_points = dict(DEFAULT_GRADE_POINTS)
    for grade in range(4, program_max_grade(program) + 1):
        grade_points[grade] = Decimal(grade)
    bonus = DEFAULT_BONUS_PER_PERSON
    tracks = track_maxima(program, grade_points)
    counted = [t for t in tracks if t.participants] or tracks
    learning = min((t.max_learning for t in counted if t.earns_kpi), default=ZERO)
    weakest = min((t.max_learning for t in counted), default=ZERO)
    bonus = min(bonus, floor_cap(allowed_other(weakest, DEFAULT_MIN_SHARE) or ZERO, Decimal(1)))
    room = (allowed_other(learning, DEFAULT_MIN_SHARE) or ZERO) - bonus
    try:
        with transaction.atomic():
            rules = ScoringRules.objects.create(
                program=program,
                grade_points={str(g): str(p) for g, p in sorted(grade_points.items())},
                min_learning_share=DEFAULT_MIN_SHARE,
                bonus_max_per_entry=min(DEFAULT_BONUS_PER_ENTRY, bonus),
                bonus_max_per_person=bonus,
            )
            KpiRule.objects.create(
                rules=rules,
                metric=DEFAULT_METRIC,
                points_per_unit=Decimal(1),
                cap_per_person_per_program=floor_cap(room, Decimal(1)),
            )
    except IntegrityError:
        # Someone else created them at the same moment: theirs are as good as ours.
        return ScoringRules.objects.get(program=program)
    return rules


def rules_as_data(rules: ScoringRules) -> dict[str, Any]:
    """The rules in the shape of the rules file (`docs/scoring.md`), numbers as strings."""

    def num(value: Decimal | None) -> str | None:
        return None if value is None else f"{value.normalize():f}"

    return {
        "grade_points": {str(g): num(p) for g, p in sorted(grade_points_of(rules).items())},
        "min_learning_share": num(rules.min_learning_share),
        "kpi": [
            {
                "metric": r.metric,
                "points_per_unit": num(r.points_per_unit),
                "cap_per_day": num(r.cap_per_person_per_day),
                "cap_per_program": num(r.cap_per_person_per_program),
            }
            for r in kpi_specs_of(rules)
        ],
        "bonus": {
            "max_per_entry": num(rules.bonus_max_per_entry),
            "max_per_person": num(rules.bonus_max_per_person),
        },
    }


def share_report_data(report: ShareReport) -> dict[str, Any]:
    def num(value: Decimal | None) -> str | None:
        return None if value is None else f"{value.normalize():f}"

    return {
        "holds": report.holds,
        "min_learning_share": num(report.min_share),
        "days": report.days,
        "binding_track": report.binding.track.slug if report.binding else None,
        "max_learning": num(report.max_learning),
        "max_kpi": num(report.max_kpi),
        "max_bonus": num(report.max_bonus),
        "explanation": report.explanation,
        "suggestions": list(report.suggestions),
        "suggested_program_caps": {m: num(c) for m, c in report.suggested_program_caps.items()},
        "tracks": [
            {
                "track": s.track.slug,
                "title": s.track.title,
                "tasks": s.track.tasks,
                "participants": s.track.participants,
                "earns_kpi": s.track.earns_kpi,
                "max_learning": num(s.track.max_learning),
                "max_kpi": num(s.max_kpi),
                "max_bonus": num(s.max_bonus),
                "learning_share": num(s.share.quantize(Decimal("0.001"))) if s.share else None,
                "holds": s.holds,
            }
            for s in report.tracks
        ],
    }


# --- who may do what ---------------------------------------------------------------------


def person_manages(manager: Person, person: Person) -> bool:
    """Is `manager` above `person` in the reporting chain (direct or higher)?"""
    if manager.organization_id != person.organization_id or manager.pk == person.pk:
        return False
    seen: set[int] = {person.pk}
    manager_id = person.manager_id
    while manager_id is not None and manager_id not in seen:
        if manager_id == manager.pk:
            return True
        seen.add(manager_id)
        manager_id = (
            Person.objects.filter(pk=manager_id, organization_id=person.organization_id)
            .values_list("manager_id", flat=True)
            .first()
        )
    return False


def program_participants(program: Program) -> list[Person]:
    """People actively enrolled in any track of the program, by name."""
    return list(
        Person.objects.filter(
            organization_id=program.organization_id,
            enrollments__track__program=program,
            enrollments__status=EnrollmentStatus.ACTIVE,
        )
        .distinct()
        .order_by("full_name", "employee_number")
    )


def person_is_participant(program: Program, person: Person, *, kpi_only: bool = False) -> bool:
    tracks = Track.objects.filter(program=program)
    if kpi_only:
        tracks = tracks.filter(follows__isnull=True)
    return person.enrollments.filter(
        track__in=tracks, status=EnrollmentStatus.ACTIVE
    ).exists()


def bonus_recipients(program: Program, awarder: Person) -> list[Person]:
    """Participants the awarder may give a bonus: all for admins, their reports for managers."""
    people = program_participants(program)
    if awarder.has_role(Role.ADMIN):
        return [p for p in people if p.pk != awarder.pk]
    return [p for p in people if person_manages(awarder, p)]


# --- the ledger --------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    learning: Decimal = ZERO
    kpi: Decimal = ZERO
    bonus: Decimal = ZERO
    other: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.learning + self.kpi + self.bonus + self.other

    def as_data(self) -> dict[str, str]:
        return {
            name: f"{getattr(self, name).quantize(Decimal('0.01')):f}"
            for name in ("learning", "kpi", "bonus", "other", "total")
        }


def _totals(rows: Iterable[tuple[str, Decimal | None]]) -> Totals:
    sums = {"learning": ZERO, "kpi": ZERO, "bonus": ZERO, "other": ZERO}
    for source, amount in rows:
        key = source if source in ("learning", "kpi", "bonus") else "other"
        sums[key] += amount or ZERO
    return Totals(**sums)


def ledger_totals(program: Program) -> dict[int, Totals]:
    """person_id -> sums by source, for every person with an entry in the program."""
    rows = (
        PointsEntry.objects.filter(program=program)
        .values("person_id", "source")
        .annotate(points=Sum("amount"))
        .order_by()
    )
    by_person: dict[int, list[tuple[str, Decimal | None]]] = {}
    for row in rows:
        by_person.setdefault(row["person_id"], []).append((row["source"], row["points"]))
    return {person_id: _totals(items) for person_id, items in by_person.items()}


def person_totals(program: Program, person: Person) -> Totals:
    rows = (
        PointsEntry.objects.filter(program=program, person=person)
        .values_list("source")
        .annotate(points=Sum("amount"))
        .order_by()
    )
    return _totals(rows)


@dataclass(frozen=True)
class LedgerRow:
    entry: PointsEntry
    running_total: Decimal


def ledger_entries(program: Program, person: Person) -> list[LedgerRow]:
    """A person's entries in the order they were written, each with the total so far."""
    entries = (
        PointsEntry.objects.filter(program=program, person=person)
        .select_related("created_by", "reverses")
        .order_by("id")
    )
    rows: list[LedgerRow] = []
    running = ZERO
    for entry in entries:
        running += entry.amount
        rows.append(LedgerRow(entry=entry, running_total=running))
    return rows


def ledger_row_data(row: LedgerRow) -> dict[str, Any]:
    entry = row.entry
    return {
        "id": entry.pk,
        "occurred_on": entry.occurred_on.isoformat(),
        "source": entry.source,
        "amount": f"{entry.amount:f}",
        "quantity": None if entry.quantity is None else f"{entry.quantity.normalize():f}",
        "reason": entry.reason,
        "reference": entry.reference,
        "reverses": entry.reverses_id,
        "created_by": entry.created_by.employee_number if entry.created_by else None,
        "created_at": entry.created_at.isoformat(),
        "running_total": f"{row.running_total:f}",
    }


def kpi_points_sum(
    program: Program, person: Person, metric: str, on: date | None = None
) -> Decimal:
    """Net KPI points of one metric (reversals included), on one day or in the program."""
    entries = PointsEntry.objects.filter(
        program=program, person=person, source=PointsSource.KPI,
        reference__startswith=f"{metric}:",
    )
    if on is not None:
        entries = entries.filter(occurred_on=on)
    return entries.aggregate(points=Sum("amount"))["points"] or ZERO


def bonus_points_sum(program: Program, person: Person) -> Decimal:
    entries = PointsEntry.objects.filter(program=program, person=person, source=PointsSource.BONUS)
    return entries.aggregate(points=Sum("amount"))["points"] or ZERO


def recent_bonuses(
    program: Program, people: Iterable[Person], limit: int = 20
) -> list[PointsEntry]:
    return list(
        PointsEntry.objects.filter(
            program=program, source=PointsSource.BONUS, person__in=list(people)
        )
        .select_related("person", "created_by")
        .order_by("-id")[:limit]
    )


def entry_by_key(key: str) -> PointsEntry | None:
    return PointsEntry.objects.filter(idempotency_key=key).first()
