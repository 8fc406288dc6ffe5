"""Writes to the points ledger and the scoring rules.

The ledger is append-only. Every write carries an idempotency key (unique in the
table): writing the same thing twice returns the first entry. A correction is a new
entry that reverses an earlier one; nothing here updates or deletes an entry.

Writes that depend on a person's sums (caps, bonus limits, grade revisions) lock the
person's row first (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's IMMEDIATE
transactions already serialise writers), so two concurrent writes cannot both take
the last point under a cap.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from fokus.core import clock
from fokus.people.models import Person, Role
from fokus.programs.models import Program, Task
from fokus.scoring import queries
from fokus.scoring.guarantee import CENT, ZERO, KpiRuleSpec, ShareReport, points_text
from fokus.scoring.models import KpiRule, PointsEntry, PointsSource, ScoringRules

__all__ = [
    "BonusRefused",
    "KpiRuleSpec",
    "LedgerConflict",
    "RulesRejected",
    "ScoringError",
    "bonus_award",
    "grade_points_record",
    "kpi_points_record",
    "kpi_points_reverse",
    "points_append",
    "points_reverse",
    "scoring_rules_save",
]

KEY_MAX = 200
REASON_MAX = 300
METRIC_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
POINTS_LIMIT = Decimal("100000")


class ScoringError(ValueError):
    """A write the ledger refuses; the message is a sentence for the user."""


class LedgerConflict(ScoringError):
    """The same idempotency key arrived with different content: a bug upstream."""


class BonusRefused(ScoringError):
    def __init__(self, message: str, *, permission: bool = False) -> None:
        super().__init__(message)
        # True: the awarder may not award this person at all (403 rather than 400).
        self.permission = permission


class RulesRejected(ScoringError):
    """A rule set that is malformed or breaks the learning-first guarantee."""

    def __init__(
        self, problems: list[tuple[str, str]], report: ShareReport | None = None
    ) -> None:
        # (field, message); field "" for the rule set as a whole.
        self.problems = problems
        self.report = report
        super().__init__(" ".join(message for _field, message in problems))


# --- the ledger --------------------------------------------------------------------------


def _money(value: Decimal, what: str) -> Decimal:
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ScoringError(_("%(what)s is not a number.") % {"what": what}) from exc
    if not amount.is_finite():
        raise ScoringError(_("%(what)s is not a number.") % {"what": what})
    if amount != amount.quantize(CENT):
        raise ScoringError(
            _("%(what)s has more than two decimal places: %(value)s.")
            % {"what": what, "value": amount}
        )
    if abs(amount) >= POINTS_LIMIT:
        raise ScoringError(_("%(what)s is too large: %(value)s.") % {"what": what, "value": amount})
    return amount.quantize(CENT)


def reason_language(person: Person) -> str:
    """The language a ledger reason is written in: the language of the person it is about.

    Reasons are stored as text (docs/scoring.md, "Reasons"): the participant is the one
    who reads why they got points, so the text is in their language, not in the language
    of whoever happened to trigger the write (a curator, a KPI import on the CLI).
    """
    known = {code for code, _name in settings.LANGUAGES}
    return person.language if person.language in known else settings.LANGUAGE_CODE


def _check_same(entry: PointsEntry, *, program: Program, person: Person, source: str,
                amount: Decimal) -> None:
    if (
        entry.program_id != program.pk
        or entry.person_id != person.pk
        or entry.source != source
        or entry.amount != amount
    ):
        raise LedgerConflict(
            _("Idempotency key “%(key)s” is already used by entry %(id)s (program %(program)s, "
              "person %(person)s, %(source)s %(amount)s); a different write with the same key "
              "is refused (program %(new_program)s, person %(new_person)s, %(new_source)s "
              "%(new_amount)s).")
            % {"key": entry.idempotency_key, "id": entry.pk, "program": entry.program_id,
               "person": entry.person_id, "source": entry.source, "amount": entry.amount,
               "new_program": program.pk, "new_person": person.pk, "new_source": source,
               "new_amount": amount}
        )


def _lock(person: Person) -> None:
    Person.objects.select_for_update().filter(pk=person.pk).values_list("pk").first()


@transaction.atomic
def points_append(
    *,
    program: Program,
    person: Person,
    source: str,
    amount: Decimal,
    reason: str,
    reference: str,
    idempotency_key: str,
    occurred_on: date,
    created_by: Person | None = None,
    reverses: PointsEntry | None = None,
    quantity: Decimal | None = None,
) -> tuple[PointsEntry, bool]:
    """Append one entry; (entry, True) when written, (existing entry, False) for a known key.

    Raises LedgerConflict if the key exists with another program, person, source or
    amount, and ScoringError for entries that would mix organisations.
    """
    if source not in PointsSource.values:
        raise ScoringError(_("Unknown points source “%(source)s”.") % {"source": source})
    amount = _money(amount, _("The points"))
    if not idempotency_key or len(idempotency_key) > KEY_MAX:
        raise ScoringError(
            _("An idempotency key of 1 to %(max)s characters is required.") % {"max": KEY_MAX}
        )
    if person.organization_id != program.organization_id:
        raise ScoringError(
            _("%(person)s does not belong to the organisation of program “%(program)s”.")
            % {"person": person, "program": program.slug}
        )
    if created_by is not None and created_by.organization_id != program.organization_id:
        raise ScoringError(
            _("%(person)s does not belong to the organisation of program “%(program)s”.")
            % {"person": created_by, "program": program.slug}
        )
    if reverses is not None and (
        reverses.program_id != program.pk or reverses.person_id != person.pk
    ):
        raise ScoringError(_("A reversal must belong to the same program and person."))
    reason = reason.strip()[:REASON_MAX]
    existing = queries.entry_by_key(idempotency_key)
    if existing is not None:
        _check_same(existing, program=program, person=person, source=source, amount=amount)
        return existing, False
    entry = PointsEntry(
        organization_id=program.organization_id,
        program=program,
        person=person,
        source=source,
        amount=amount,
        quantity=quantity,
        reason=reason,
        reference=reference[:200],
        idempotency_key=idempotency_key,
        occurred_on=occurred_on,
        reverses=reverses,
        created_by=created_by,
        created_at=clock.now(),
    )
    try:
        with transaction.atomic():
            _transaction_id_assign()
            entry.save(force_insert=True)
    except IntegrityError:
        # A concurrent writer inserted the same key between our read and our insert.
        existing = queries.entry_by_key(idempotency_key)
        if existing is None:
            raise
        _check_same(existing, program=program, person=person, source=source, amount=amount)
        return existing, False
    return entry, True


def _transaction_id_assign() -> None:
    """Give the writing transaction its id before the entry takes its sequence number.

    PostgreSQL assigns a transaction id only at the first row written, after the INSERT
    drew the entry id from the sequence. The leaderboard decides that every entry up to
    an id is visible once all transactions older than a snapshot's xmax ended
    (fokus.leaderboard.services); a writer preempted between nextval and its first row
    would be invisible to that rule and its entry skipped for good.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()")


@transaction.atomic
def points_reverse(
    *, entry: PointsEntry, reason: str, created_by: Person | None = None
) -> PointsEntry:
    """Cancel an entry with a new one of the opposite amount; twice is the same reversal."""
    if entry.reverses_id is not None:
        raise ScoringError(
            _("Entry %(id)s is itself a reversal; record a new entry instead of reversing it.")
            % {"id": entry.pk}
        )
    reversal, _created = points_append(
        program=entry.program,
        person=entry.person,
        source=entry.source,
        amount=-entry.amount,
        reason=reason,
        reference=entry.reference,
        idempotency_key=f"reversal:{entry.idempotency_key}"[:KEY_MAX],
        occurred_on=entry.occurred_on,
        created_by=created_by,
        reverses=entry,
        quantity=entry.quantity,
    )
    return reversal


# --- learning ----------------------------------------------------------------------------


def _grade_keys(attempt_key: str) -> tuple[str, str]:
    return f"grade:{attempt_key}", f"grade:{attempt_key}:r"


@transaction.atomic
def grade_points_record(
    *,
    program: Program,
    person: Person,
    task: Task,
    attempt_key: str,
    grade: int,
    graded_by: Person | None,
    occurred_on: date,
) -> PointsEntry:
    """Learning points for a graded attempt, once; a changed grade is a correction.

    The first grade writes `grade:<attempt>`. The same grade again returns that entry.
    A different grade reverses the current grade entry and writes `grade:<attempt>:r<n>`
    (n counts the grades given before). The latest grade wins.
    """
    if task.track.program_id != program.pk:
        raise ScoringError(
            _("Task “%(task)s” is not part of program “%(program)s”.")
            % {"task": task.title, "program": program.slug}
        )
    if isinstance(grade, bool) or not isinstance(grade, int) or not 1 <= grade <= task.grade_max:
        raise ScoringError(
            _("Grade %(grade)s is outside 1–%(max)s for task “%(task)s”.")
            % {"grade": grade, "max": task.grade_max, "task": task.title}
        )
    rules = queries.scoring_rules_for(program)
    points = queries.grade_points_of(rules).get(grade)
    if points is None:
        raise ScoringError(
            _("Program “%(program)s” sets no points for grade %(grade)s.")
            % {"program": program.slug, "grade": grade}
        )
    _lock(person)
    first_key, revision_prefix = _grade_keys(attempt_key)
    grades = [
        e
        for e in PointsEntry.objects.filter(
            program=program, person=person, source=PointsSource.LEARNING,
            idempotency_key__startswith=first_key, reverses__isnull=True,
        ).order_by("id")
        if e.idempotency_key == first_key
        or (
            e.idempotency_key.startswith(revision_prefix)
            and e.idempotency_key[len(revision_prefix):].isdigit()
        )
    ]
    current = grades[-1] if grades else None
    if current is not None and current.quantity == grade:
        return current
    with translation.override(reason_language(person)):
        reason = _("Task “%(task)s”: grade %(grade)s of %(max)s") % {
            "task": task.title, "grade": grade, "max": task.grade_max,
        }
        correction = _("Grade changed from %(old)s to %(new)s") % {
            "old": points_text(current.quantity or ZERO) if current is not None else "",
            "new": grade,
        }
    if current is not None:
        points_reverse(entry=current, reason=correction, created_by=graded_by)
    key = first_key if not grades else f"{revision_prefix}{len(grades)}"
    entry, _created = points_append(
        program=program,
        person=person,
        source=PointsSource.LEARNING,
        amount=points,
        reason=reason,
        reference=f"task:{task.pk}:attempt:{attempt_key}",
        idempotency_key=key,
        occurred_on=occurred_on,
        created_by=graded_by,
        quantity=Decimal(grade),
    )
    return entry


# --- KPI ---------------------------------------------------------------------------------


def _kpi_key(program: Program, sale_key: str) -> str:
    return f"kpi:{program.pk}:{sale_key}"


@transaction.atomic
def kpi_points_record(
    *,
    program: Program,
    person: Person,
    metric: str,
    quantity: Decimal,
    sale_key: str,
    occurred_on: date,
) -> PointsEntry | None:
    """KPI points for one sale (or other KPI row), capped so learning stays first.

    None when the sale earns nothing in this program: no rule for the metric, a date
    outside the program, or a person not enrolled in a track that earns KPI points.
    Points are `quantity × points per unit`, cut to the room left under the daily and
    the per-program cap of the metric; a sale beyond a cap is still recorded (with the
    points it got, possibly 0, and the reason says which cap cut it). Recording the same
    sale again returns the first entry. Cancellations go through `kpi_points_reverse`.
    """
    quantity = Decimal(quantity)
    if quantity <= 0:
        raise ScoringError(
            _("Sale %(sale)s: quantity %(quantity)s; a cancellation is recorded with "
              "kpi_points_reverse, not as a negative sale.")
            % {"sale": sale_key, "quantity": quantity}
        )
    existing = queries.entry_by_key(_kpi_key(program, sale_key))
    if existing is not None:
        if existing.program_id != program.pk or existing.person_id != person.pk:
            _check_same(existing, program=program, person=person, source=PointsSource.KPI,
                        amount=existing.amount)
        return existing
    rules = queries.scoring_rules_for(program)
    rule = queries.kpi_rule_for(rules, metric)
    if rule is None or not program.starts_on <= occurred_on <= program.ends_on:
        return None
    if person.organization_id != program.organization_id:
        raise ScoringError(
            _("%(person)s does not belong to the organisation of program “%(program)s”.")
            % {"person": person, "program": program.slug}
        )
    if not queries.person_is_participant(program, person, kpi_only=True):
        return None
    _lock(person)
    raw = (quantity * rule.points_per_unit).quantize(CENT, rounding=ROUND_DOWN)
    amount, cut_by = raw, ""
    if rule.cap_per_person_per_day is not None:
        room = rule.cap_per_person_per_day - queries.kpi_points_sum(
            program, person, metric, occurred_on
        )
        if room < amount:
            amount, cut_by = max(room, ZERO), "day"
    if rule.cap_per_person_per_program is not None:
        room = rule.cap_per_person_per_program - queries.kpi_points_sum(program, person, metric)
        if room < amount:
            amount, cut_by = max(room, ZERO), "program"
    values = {
        "metric": metric,
        "quantity": points_text(quantity),
        "points": points_text(amount),
        "raw": points_text(raw),
    }
    with translation.override(reason_language(person)):
        if cut_by == "day":
            reason = _("%(metric)s: %(quantity)s; %(points)s of %(raw)s points, the daily cap "
                       "is reached") % values
        elif cut_by == "program":
            reason = _("%(metric)s: %(quantity)s; %(points)s of %(raw)s points, the cap for "
                       "the program is reached") % values
        else:
            reason = _("%(metric)s: %(quantity)s; %(points)s points") % values
    entry, _created = points_append(
        program=program,
        person=person,
        source=PointsSource.KPI,
        amount=amount,
        reason=reason,
        reference=f"{metric}:{sale_key}",
        idempotency_key=_kpi_key(program, sale_key),
        occurred_on=occurred_on,
        quantity=quantity,
    )
    return entry


@transaction.atomic
def kpi_points_reverse(
    *, program: Program, person: Person, sale_key: str, reason: str
) -> PointsEntry | None:
    """Reverse what a sale earned; None when that sale earned no entry in this program.

    Room a cancellation frees under a cap is used by later sales only: earlier capped
    sales are not topped up (docs/scoring.md, "Cancellations").
    """
    entry = queries.entry_by_key(_kpi_key(program, sale_key))
    if entry is None:
        return None
    if entry.person_id != person.pk:
        raise LedgerConflict(
            _("Sale “%(sale)s” earned points for person %(owner)s, not for %(person)s; it is "
              "not reversed for another person.")
            % {"sale": sale_key, "owner": entry.person_id, "person": person.pk}
        )
    return points_reverse(entry=entry, reason=reason)


# --- bonuses -----------------------------------------------------------------------------


@transaction.atomic
def bonus_award(
    *,
    program: Program,
    person: Person,
    amount: Decimal,
    reason: str,
    awarded_by: Person,
    request_key: str | None = None,
    occurred_on: date | None = None,
) -> PointsEntry:
    """A manual bonus from a manager up the person's chain or an admin of the organisation.

    `request_key` (a form's or client's id for this request) makes a resubmission return
    the first bonus instead of awarding it twice.
    """
    if awarded_by.organization_id != program.organization_id or (
        person.organization_id != program.organization_id
    ):
        raise BonusRefused(_("You do not have permission to do this."), permission=True)
    if awarded_by.pk == person.pk:
        raise BonusRefused(_("Nobody awards a bonus to themselves."), permission=True)
    if not (awarded_by.has_role(Role.ADMIN) or queries.person_manages(awarded_by, person)):
        raise BonusRefused(
            _("Only a manager of %(person)s (direct or higher) or an admin of the organisation "
              "may award them a bonus.") % {"person": person.full_name},
            permission=True,
        )
    reason = (reason or "").strip()
    if not reason:
        raise BonusRefused(_("Say what the bonus is for: the reason is required."))
    if len(reason) > REASON_MAX:
        raise BonusRefused(
            _("The reason is longer than %(max)s characters.") % {"max": REASON_MAX}
        )
    try:
        amount = _money(amount, _("The bonus"))
    except ScoringError as exc:
        raise BonusRefused(str(exc)) from exc
    if amount <= 0:
        raise BonusRefused(_("A bonus is a positive number of points."))
    key = (
        f"bonus:{program.pk}:{request_key}"
        if request_key
        else f"bonus:{program.pk}:{person.pk}:{uuid.uuid4().hex}"
    )
    existing = queries.entry_by_key(key)
    if existing is not None:
        _check_same(existing, program=program, person=person, source=PointsSource.BONUS,
                    amount=amount)
        return existing
    if not queries.person_is_participant(program, person):
        raise BonusRefused(
            _("%(person)s is not enrolled in program “%(program)s”.")
            % {"person": person.full_name, "program": program.title}
        )
    rules = queries.scoring_rules_for(program)
    if amount > rules.bonus_max_per_entry:
        raise BonusRefused(
            _("A single bonus is at most %(max)s points in this program.")
            % {"max": points_text(rules.bonus_max_per_entry)}
        )
    _lock(person)
    given = queries.bonus_points_sum(program, person)
    if given + amount > rules.bonus_max_per_person:
        raise BonusRefused(
            _("%(person)s already has %(given)s bonus points of the %(max)s allowed per person "
              "in this program; at most %(left)s more.")
            % {
                "person": person.full_name,
                "given": points_text(given),
                "max": points_text(rules.bonus_max_per_person),
                "left": points_text(max(ZERO, rules.bonus_max_per_person - given)),
            }
        )
    entry, _created = points_append(
        program=program,
        person=person,
        source=PointsSource.BONUS,
        amount=amount,
        reason=reason,
        reference=f"bonus:{awarded_by.employee_number}",
        idempotency_key=key,
        occurred_on=occurred_on or _today_of(person),
        created_by=awarded_by,
    )
    return entry


def _today_of(person: Person) -> date:
    try:
        zone = ZoneInfo(person.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return clock.now().astimezone(zone).date()


# --- rules -------------------------------------------------------------------------------


def _decimal(value: object, field: str, problems: list[tuple[str, str]], *,
             places: int = 2, allow_none: bool = False) -> Decimal | None:
    if value is None or value == "":
        if allow_none:
            return None
        problems.append((field, _("%(field)s: a number is required.") % {"field": field}))
        return None
    try:
        number = Decimal(str(value).replace(",", ".").strip())
    except (InvalidOperation, ValueError):
        problems.append((field, _("%(field)s: “%(value)s” is not a number.")
                         % {"field": field, "value": value}))
        return None
    quantum = Decimal(1).scaleb(-places)
    if not number.is_finite() or number < 0 or number >= POINTS_LIMIT:
        problems.append((field, _("%(field)s: %(value)s is not a number from 0 up to %(max)s.")
                         % {"field": field, "value": value, "max": POINTS_LIMIT}))
        return None
    if number != number.quantize(quantum):
        problems.append((field, _("%(field)s: %(value)s has more than %(places)s decimal places.")
                         % {"field": field, "value": value, "places": places}))
        return None
    return number.quantize(quantum)


@transaction.atomic
def scoring_rules_save(
    *,
    program: Program,
    grade_points: dict[int, Decimal],
    min_learning_share: Decimal,
    kpi_rules: Sequence[KpiRuleSpec],
    bonus_max_per_entry: Decimal,
    bonus_max_per_person: Decimal,
) -> ScoringRules:
    """Replace the program's rules, or raise RulesRejected naming every problem.

    THE LEARNING-FIRST GUARANTEE: a rule set under which some counted track's maximum
    learning points fall below the minimum share of everything a participant can earn is
    refused, with the numbers and the largest caps that would fit (docs/scoring.md).
    """
    problems: list[tuple[str, str]] = []
    grades: dict[int, Decimal] = {}
    for raw_grade, raw_points in grade_points.items():
        try:
            grade = int(raw_grade)
        except (TypeError, ValueError):
            problems.append(("grade_points", _("grade_points: “%(grade)s” is not a whole number.")
                             % {"grade": raw_grade}))
            continue
        if grade < 1 or grade > 100:
            problems.append(("grade_points", _("grade_points: grade %(grade)s is not from 1 to "
                                               "100.") % {"grade": grade}))
            continue
        points = _decimal(raw_points, f"grade_points.{grade}", problems)
        if points is not None:
            grades[grade] = points
    top = queries.program_max_grade(program)
    missing = [g for g in range(1, max(top, 1) + 1) if g not in grades]
    if missing and not any(f.startswith("grade_points") for f, _m in problems):
        problems.append(
            ("grade_points",
             _("grade_points: tasks of this program are graded 1–%(top)s; set points for "
               "grade(s) %(missing)s.")
             % {"top": max(top, 1), "missing": ", ".join(str(g) for g in missing)})
        )
    share = _decimal(min_learning_share, "min_learning_share", problems, places=3)
    if share is not None and share > 1:
        problems.append(("min_learning_share",
                         _("min_learning_share: %(value)s is more than 100%%.")
                         % {"value": min_learning_share}))
        share = None
    per_entry = _decimal(bonus_max_per_entry, "bonus.max_per_entry", problems)
    per_person = _decimal(bonus_max_per_person, "bonus.max_per_person", problems)
    specs: list[KpiRuleSpec] = []
    seen: set[str] = set()
    for index, spec in enumerate(kpi_rules):
        where = f"kpi[{index}]"
        metric = (spec.metric or "").strip()
        if not METRIC_RE.match(metric):
            problems.append((f"{where}.metric",
                             _("%(where)s.metric: “%(metric)s” is not a metric name (lower-case "
                               "letters, digits, _ and -).") % {"where": where, "metric": metric}))
            continue
        if metric in seen:
            problems.append((f"{where}.metric", _("%(where)s.metric: “%(metric)s” appears twice.")
                             % {"where": where, "metric": metric}))
            continue
        seen.add(metric)
        ppu = _decimal(spec.points_per_unit, f"{where}.points_per_unit", problems)
        if ppu is not None and ppu <= 0:
            problems.append((f"{where}.points_per_unit",
                             _("%(where)s.points_per_unit must be more than 0.")
                             % {"where": where}))
        per_day = _decimal(spec.cap_per_person_per_day, f"{where}.cap_per_day", problems,
                           allow_none=True)
        per_program = _decimal(spec.cap_per_person_per_program, f"{where}.cap_per_program",
                               problems, allow_none=True)
        if ppu is not None and ppu > 0:
            specs.append(KpiRuleSpec(metric, ppu, per_day, per_program))
    if problems or share is None or per_entry is None or per_person is None:
        raise RulesRejected(problems)
    report = queries.share_report_for(
        program=program,
        grade_points=grades,
        min_share=share,
        kpi_rules=specs,
        bonus_max_per_person=per_person,
    )
    if not report.holds:
        raise RulesRejected(
            [("", report.explanation), *(("", tip) for tip in report.suggestions)], report
        )
    rules = queries.scoring_rules_for(program)
    rules.grade_points = {str(g): str(p) for g, p in sorted(grades.items())}
    rules.min_learning_share = share
    rules.bonus_max_per_entry = per_entry
    rules.bonus_max_per_person = per_person
    rules.save()
    rules.kpi_rules.exclude(metric__in=[s.metric for s in specs]).delete()
    for spec in specs:
        KpiRule.objects.update_or_create(
            rules=rules,
            metric=spec.metric,
            defaults={
                "points_per_unit": spec.points_per_unit,
                "cap_per_person_per_day": spec.cap_per_person_per_day,
                "cap_per_person_per_program": spec.cap_per_person_per_program,
            },
        )
    return rules
