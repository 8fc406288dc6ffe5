"""Planning: which messages each participant gets on a learning day, and when.

`delivery_plan_day` turns a program's learning day into outbox rows for every active
participant: one LESSON row per lesson slot that holds content for the person's
track(s), due at that slot's time on the person's own wall clock. It is set-based (a
handful of queries for the whole program, instants computed once per zone, rows
inserted in bulk and ignoring the ones that already exist), so the same day can be
planned again at any time: new enrollees get their rows, nobody gets a second one.

Reminders are planned lazily, shortly before they are due (`delivery_plan_reminders`,
every minute, 15 minutes ahead), and only for tasks the person has not answered yet;
until they are sent, `delivery_reminders_cancel_answered` marks the ones whose tasks
got answered in the meantime SKIPPED. Planning them early would mean 2 extra rows per
person per day that mostly get cancelled.

Rules (docs/delivery.md, "Planning"):
- Quiet hours: the person's own (DeliveryPreference.quiet_from/until, both set) or
  the organisation's (DeliverySettings). Nothing is due inside them. A message that
  falls inside is moved to the end of the quiet period when that is still the same
  local day (quiet 07:00–09:00, lesson 08:00 → 09:00), otherwise it is SKIPPED
  (quiet 22:00–08:00, reminder 23:00 → skipped: tomorrow brings new lessons).
- Daily budget (DeliverySettings.daily_budget) per person and local day, over all
  kinds and programs: messages are ranked by what was already sent, then PRIORITY
  (a task beats a reminder), then due time; the planned ones past the budget are
  SKIPPED with the reason in `error`.
- Channel: the first reachable channel in the person's order (Telegram needs a
  reachable chat, e-mail an address and no unsubscribe). Nobody reachable: no row.
- Muted reminders: no reminder rows at all.
"""

from __future__ import annotations

import json
import time as monotonic_time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings as django_settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Count, F, IntegerField, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber
from django.tasks import task
from django.utils import translation
from django.utils.translation import gettext as _

from fokus.core import clock
from fokus.delivery.links import LinkTarget, link_url
from fokus.delivery.models import (
    PRIORITY,
    Channel,
    Delivery,
    DeliveryKind,
    DeliveryPreference,
    DeliverySettings,
    DeliveryStatus,
)
from fokus.programs.models import (
    Enrollment,
    EnrollmentStatus,
    LearningDay,
    Material,
    Program,
    Slot,
    SlotKind,
    Task,
)
from fokus.programs.schedule import ContactPointTable, SlotOccurrence, contact_instant, zone
from fokus.scheduler.background import enqueue_on_commit
from fokus.telegram.models import TelegramChat

__all__ = [
    "PlanReport",
    "Quiet",
    "delivery_budget_enforce",
    "delivery_plan_day",
    "delivery_plan_reminders",
    "delivery_reminders_cancel",
    "delivery_reminders_cancel_answered",
    "delivery_settings_for",
    "lesson_contact_point",
    "quiet_adjust",
    "reminder_contact_point",
    "reminder_offsets",
]

# A contact point whose instant passed longer ago than this is not planned any more
# (someone enrolled at noon gets the afternoon lesson, not the morning one too; the
# Today page shows them everything).
LATE_PLANNING_GRACE = timedelta(hours=1)
# Reminders are planned this long before they are due ...
REMINDER_LOOKAHEAD = timedelta(minutes=15)
# ... and re-checked against answers until they are this close to being due (the
# minute job runs every minute, so the last check is at most a minute before sending).
REMINDER_RECHECK = timedelta(minutes=10)
# "Answered" = an attempt was handed in (submitted, returned or graded), not a draft.
ANSWERED_STATUSES = ("submitted", "returned", "graded")

SKIP_QUIET = "quiet hours until the end of the day"
SKIP_BUDGET = "daily message budget spent on more important messages"
SKIP_ANSWERED = "task answered before the reminder was due"


def lesson_contact_point(program_id: int, day: date, slot_time: time) -> str:
    return f"lesson:{program_id}:{day.isoformat()}:{slot_time:%H:%M}"


def reminder_contact_point(program_id: int, day: date, slot_time: time, offset: int) -> str:
    """A reminder about the tasks of one lesson slot; `offset` minutes after it."""
    return f"reminder:{program_id}:{day.isoformat()}:{slot_time:%H:%M}:+{offset}"


def reminder_offsets(settings: DeliverySettings) -> list[int]:
    """The settings' comma-separated minutes, positive, unique, in order."""
    found: set[int] = set()
    for part in settings.reminder_offsets.split(","):
        part = part.strip()
        if part.isdigit() and int(part) > 0:
            found.add(int(part))
    return sorted(found)


def delivery_settings_for(organization_id: int) -> DeliverySettings:
    """The organisation's settings, or the defaults (unsaved) when it has none."""
    found = DeliverySettings.objects.filter(organization_id=organization_id).first()
    return found if found is not None else DeliverySettings(organization_id=organization_id)


# --- quiet hours ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Quiet:
    """Quiet hours on the local wall clock; `start == end` or None means none."""

    start: time | None
    end: time | None

    @property
    def active(self) -> bool:
        return self.start is not None and self.end is not None and self.start != self.end

    def contains(self, t: time) -> bool:
        if not self.active:
            return False
        assert self.start is not None and self.end is not None
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


def quiet_for(
    settings: DeliverySettings, person_from: time | None, person_until: time | None
) -> Quiet:
    """The person's own quiet hours when they set both ends, else the organisation's."""
    if person_from is not None and person_until is not None:
        return Quiet(person_from, person_until)
    return Quiet(settings.quiet_from, settings.quiet_until)


def quiet_adjust(instant: datetime, time_zone: str, quiet: Quiet) -> datetime | None:
    """Where a message due at `instant` goes: unchanged, the end of quiet hours, or None.

    None means skipped: the quiet period lasts past the end of the local day.
    """
    if not quiet.active:
        return instant
    local = instant.astimezone(zone(time_zone))
    if not quiet.contains(local.time().replace(tzinfo=None)):
        return instant
    assert quiet.start is not None and quiet.end is not None
    wraps = quiet.start > quiet.end
    if wraps and local.time().replace(tzinfo=None) >= quiet.start:
        return None  # the evening part of an overnight quiet period: ends tomorrow
    return contact_instant(local.date(), quiet.end, time_zone)


# --- who is reached where ---------------------------------------------------------------


@dataclass(slots=True)
class Recipient:
    person_id: int
    time_zone: str
    tracks: list[int] = field(default_factory=list)
    channel: str | None = None
    quiet_from: time | None = None
    quiet_until: time | None = None
    mute_reminders: bool = False
    language: str = ""


def _recipients(program: Program, *, time_zone: str | None = None) -> dict[int, Recipient]:
    """Active participants of `program` (active people of its organisation) with their
    channel and preferences: three queries whatever the number of people."""
    enrollments = Enrollment.objects.filter(
        track__program=program,
        status=EnrollmentStatus.ACTIVE,
        person__is_active=True,
        person__organization_id=program.organization_id,
    )
    if time_zone is not None:
        enrollments = enrollments.filter(person__time_zone=time_zone)
    people: dict[int, Recipient] = {}
    emails: dict[int, bool] = {}
    for person_id, track_id, tz, email, language in enrollments.values_list(
        "person_id", "track_id", "person__time_zone", "person__email", "person__language"
    ):
        found = people.get(person_id)
        if found is None:
            found = people[person_id] = Recipient(person_id, tz, language=language)
            emails[person_id] = bool(email)
        found.tracks.append(track_id)
    if not people:
        return people
    person_ids = enrollments.values("person_id")
    preferences: dict[int, tuple[str, bool, bool, time | None, time | None]] = {
        row[0]: row[1:]
        for row in DeliveryPreference.objects.filter(person_id__in=person_ids).values_list(
            "person_id", "channel_order", "mute_reminders", "email_unsubscribed",
            "quiet_from", "quiet_until",
        )
    }
    with_telegram = set(
        TelegramChat.objects.filter(
            person_id__in=person_ids, unreachable_at__isnull=True
        ).values_list("person_id", flat=True)
    )
    default_order = [Channel.TELEGRAM.value, Channel.EMAIL.value]
    for person_id, recipient in people.items():
        preference = preferences.get(person_id)
        order = default_order
        unsubscribed = False
        if preference is not None:
            order_text, recipient.mute_reminders, unsubscribed, qf, qu = preference
            recipient.quiet_from, recipient.quiet_until = qf, qu
            order = [c for c in order_text.split(",") if c in Channel.values] or default_order
        for channel in order:
            if channel == Channel.TELEGRAM and person_id in with_telegram:
                recipient.channel = channel
                break
            if channel == Channel.EMAIL and emails[person_id] and not unsubscribed:
                recipient.channel = channel
                break
    return people


# --- writing rows -----------------------------------------------------------------------


@dataclass(slots=True)
class _Row:
    person_id: int
    kind: str
    contact_point: str
    channel: str
    due_at: datetime
    status: str
    error: str
    payload_json: str


def _copy_escape(text: str) -> str:
    """A value for COPY's text format (backslash escapes; JSON has its own backslashes)."""
    return (text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def _copy_lines(rows: Sequence[_Row], prefix: str, suffix: str) -> Iterator[str]:
    """Rows as COPY text lines, in chunks; every repeated value is formatted once."""
    priority = {kind: str(PRIORITY[DeliveryKind(kind)]) for kind in {r.kind for r in rows}}
    instants: dict[datetime, str] = {}
    texts: dict[str, str] = {}
    chunk: list[str] = []
    for r in rows:
        due = instants.get(r.due_at)
        if due is None:
            due = instants[r.due_at] = r.due_at.astimezone(UTC).isoformat(sep=" ")
        point = texts.get(r.contact_point)
        if point is None:
            point = texts[r.contact_point] = _copy_escape(r.contact_point)
        payload = texts.get(r.payload_json)
        if payload is None:
            payload = texts[r.payload_json] = _copy_escape(r.payload_json)
        chunk.append(
            f"{prefix}{r.person_id}\t{r.kind}\t{point}\t{r.channel}\t{due}\t"
            f"{priority[r.kind]}\t{r.status}\t{_copy_escape(r.error)}\t{payload}{suffix}\n"
        )
        if len(chunk) >= 20000:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def _insert(rows: Sequence[_Row], *, organization_id: int, program_id: int) -> int:
    """Insert rows, leaving existing (person, contact point, channel) rows untouched.

    PostgreSQL: when none of the rows' contact points exists yet (the first planning of
    a day), COPY straight into the table; otherwise (or when a concurrent planner got
    there first) COPY into a temporary table, then one INSERT … ON CONFLICT DO NOTHING.
    Both are many times faster than model instances for 200,000 rows. Elsewhere:
    bulk_create with ignore_conflicts. Returns how many rows are new.
    """
    if not rows:
        return 0
    now = clock.now()
    table = Delivery._meta.db_table
    if connection.vendor == "postgresql":
        points = {r.contact_point for r in rows}
        fresh = not Delivery.objects.filter(
            program_id=program_id, contact_point__in=points
        ).exists() and not Delivery.objects.filter(
            program_id__isnull=True, contact_point__in=points
        ).exists()
        if fresh:
            try:
                with transaction.atomic(), connection.cursor() as cursor, cursor.cursor.copy(
                    f"COPY {table} (organization_id, program_id, person_id, kind,"
                    " contact_point, channel, due_at, priority, status, error, payload,"
                    " attempts, claimed_by, provider_message_id, created_at) FROM STDIN"
                ) as copy:
                    created_at = now.astimezone(UTC).isoformat(sep=" ")
                    for block in _copy_lines(
                        rows, f"{organization_id}\t{program_id}\t",
                        f"\t0\t\t\t{created_at}",
                    ):
                        copy.write(block)
                return len(rows)
            except IntegrityError:
                pass  # planned meanwhile by someone else: insert what is missing
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS delivery_plan_rows ("
                " person_id bigint, kind varchar(16), contact_point varchar(200),"
                " channel varchar(16), due_at timestamptz, priority smallint,"
                " status varchar(16), error text, payload jsonb) ON COMMIT DROP"
            )
            cursor.execute("TRUNCATE delivery_plan_rows")
            with cursor.cursor.copy(
                "COPY delivery_plan_rows (person_id, kind, contact_point, channel, due_at,"
                " priority, status, error, payload) FROM STDIN"
            ) as copy:
                for block in _copy_lines(rows, "", ""):
                    copy.write(block)
            cursor.execute(
                f"INSERT INTO {table} (organization_id, program_id, person_id, kind,"  # noqa: S608
                " contact_point, channel, due_at, priority, status, attempts, claimed_by,"
                " provider_message_id, error, payload, created_at)"
                " SELECT %s, %s, person_id, kind, contact_point, channel, due_at, priority,"
                " status, 0, '', '', error, payload, %s FROM delivery_plan_rows"
                " ON CONFLICT (person_id, contact_point, channel) DO NOTHING",
                [organization_id, program_id, now],
            )
            created = cursor.rowcount
            cursor.execute("DROP TABLE delivery_plan_rows")
            return int(created)
    payloads: dict[str, Any] = {}
    objects = []
    for r in rows:
        payload = payloads.get(r.payload_json)
        if payload is None:
            payload = payloads[r.payload_json] = json.loads(r.payload_json)
        objects.append(
            Delivery(
                organization_id=organization_id, program_id=program_id, person_id=r.person_id,
                kind=r.kind, contact_point=r.contact_point, channel=r.channel,
                due_at=r.due_at, priority=PRIORITY[DeliveryKind(r.kind)], status=r.status,
                error=r.error, payload=payload,
            )
        )
    before = Delivery.objects.filter(program_id=program_id).count()
    Delivery.objects.bulk_create(objects, batch_size=2000, ignore_conflicts=True)
    return Delivery.objects.filter(program_id=program_id).count() - before


def _local_day_bounds(day: date, time_zone: str) -> tuple[datetime, datetime]:
    tz = zone(time_zone)
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def delivery_budget_enforce(
    *, organization_id: int, budget: int, day: date, time_zone: str,
    people: QuerySet[Any] | Iterable[int],
) -> int:
    """Skip the planned messages past `budget` in the local `day` of each person.

    Ranking per person: messages already on their way (sent, sending, failed) first —
    they cannot be taken back — then by priority, due time and id. Returns how many
    rows were skipped. `people`: ids, or a queryset of `person_id` values, in `time_zone`.
    """
    start, end = _local_day_bounds(day, time_zone)
    spent = Case(
        When(status=DeliveryStatus.PLANNED, then=Value(1)), default=Value(0),
        output_field=IntegerField(),
    )
    ranked = (
        Delivery.objects.filter(
            organization_id=organization_id, person_id__in=people,
            due_at__gte=start, due_at__lt=end,
        )
        .exclude(status=DeliveryStatus.SKIPPED)
        .annotate(
            rank=Window(
                RowNumber(), partition_by=[F("person_id")],
                order_by=[spent.asc(), F("priority").asc(), F("due_at").asc(), F("id").asc()],
            )
        )
        .filter(rank__gt=budget)
        .values_list("pk", "status")
    )
    # The status is checked here, not in the query: Django would apply it before the
    # window and rank without the messages already sent.
    over = [pk for pk, status in ranked if status == DeliveryStatus.PLANNED]
    if not over:
        return 0
    return Delivery.objects.filter(pk__in=over, status=DeliveryStatus.PLANNED).update(
        status=DeliveryStatus.SKIPPED, error=SKIP_BUDGET
    )


# --- lessons ----------------------------------------------------------------------------


@dataclass(slots=True)
class PlanReport:
    program_id: int
    day: date
    people: int = 0
    rows: int = 0
    created: int = 0
    skipped_quiet: int = 0
    skipped_budget: int = 0
    unreachable: int = 0
    seconds: float = 0.0


def _content_of_day(day: LearningDay) -> dict[tuple[int, int], tuple[list[int], list[int]]]:
    """(track id, slot id) -> (material ids, task ids) on that day, in their order."""
    content: dict[tuple[int, int], tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for track_id, slot_id, pk in Material.objects.filter(day=day).order_by(
        "slot__local_time", "position", "pk"
    ).values_list("track_id", "slot_id", "pk"):
        content[(track_id, slot_id)][0].append(pk)
    for track_id, slot_id, pk in Task.objects.filter(day=day).order_by(
        "slot__local_time", "position", "pk"
    ).values_list("track_id", "slot_id", "pk"):
        content[(track_id, slot_id)][1].append(pk)
    return dict(content)


@transaction.atomic
def delivery_plan_day(program: Program, day: date, now: datetime) -> PlanReport:
    """Plan the lessons of `program` on learning date `day` for all its participants.

    Idempotent; contact points that passed more than an hour before `now` are left
    out. Applies channels, quiet hours and the daily budget (module docstring).
    """
    started = monotonic_time.perf_counter()
    report = PlanReport(program.pk, day)
    learning_day = LearningDay.objects.filter(program=program, date=day).first()
    if learning_day is None:
        return report
    settings = delivery_settings_for(program.organization_id)
    slots = list(Slot.objects.filter(program=program, kind=SlotKind.LESSON).order_by("local_time"))
    content = _content_of_day(learning_day)
    people = _recipients(program)
    report.people = len(people)
    # Per set of tracks: the lesson slots with content, and each one's payload (JSON
    # once, shared by everybody with the same tracks).
    lessons_of: dict[tuple[int, ...], list[tuple[int, str]]] = {}
    # Per (zone, quiet hours): each lesson slot's instant, moved or None (skipped).
    instants: dict[tuple[str, Quiet], dict[int, datetime | None]] = {}
    rows: list[_Row] = []
    late = now - LATE_PLANNING_GRACE
    points = {slot.pk: lesson_contact_point(program.pk, day, slot.local_time) for slot in slots}
    slot_times = {slot.pk: slot.local_time for slot in slots}
    table = ContactPointTable(
        [SlotOccurrence(learning_day.index, day, SlotKind.LESSON, s.local_time) for s in slots]
    )
    for recipient in people.values():
        if recipient.channel is None:
            report.unreachable += 1
            continue
        key = tuple(sorted(recipient.tracks))
        lessons = lessons_of.get(key)
        if lessons is None:
            lessons = lessons_of[key] = []
            for slot in slots:
                materials: list[int] = []
                tasks: list[int] = []
                for track_id in key:
                    found = content.get((track_id, slot.pk))
                    if found is not None:
                        materials += [m for m in found[0] if m not in materials]
                        tasks += [t for t in found[1] if t not in tasks]
                if materials or tasks:
                    payload = {
                        "materials": materials, "tasks": tasks,
                        "day_index": learning_day.index, "slot": f"{slot.local_time:%H:%M}",
                    }
                    lessons.append((slot.pk, json.dumps(payload)))
        if not lessons:
            continue
        quiet = quiet_for(settings, recipient.quiet_from, recipient.quiet_until)
        at = instants.get((recipient.time_zone, quiet))
        if at is None:
            at = instants[(recipient.time_zone, quiet)] = {}
            by_time = {p.slot_time: p.utc for p in table.for_zone(recipient.time_zone)}
            for slot in slots:
                at[slot.pk] = quiet_adjust(by_time[slot.local_time], recipient.time_zone, quiet)
        for slot_id, payload_json in lessons:
            due = at[slot_id]
            point = points[slot_id]
            if due is None:
                report.skipped_quiet += 1
                original = contact_instant(day, slot_times[slot_id], recipient.time_zone)
                if original < late:
                    continue
                rows.append(_Row(
                    recipient.person_id, DeliveryKind.LESSON, point, recipient.channel,
                    original, DeliveryStatus.SKIPPED, SKIP_QUIET, payload_json,
                ))
                continue
            if due < late:
                continue
            rows.append(_Row(
                recipient.person_id, DeliveryKind.LESSON, point, recipient.channel, due,
                DeliveryStatus.PLANNED, "", payload_json,
            ))
    report.rows = len(rows)
    report.created = _insert(rows, organization_id=program.organization_id, program_id=program.pk)
    if report.created:
        most = max((len(lessons) for lessons in lessons_of.values()), default=0)
        candidates = _budget_candidates(
            program, day, list(points.values()), {r.time_zone for r in people.values()},
            threshold=settings.daily_budget - most,
        )
        by_zone: dict[str, list[int]] = defaultdict(list)
        for person_id in candidates:
            if person_id in people:
                by_zone[people[person_id].time_zone].append(person_id)
        for tz, ids in sorted(by_zone.items()):
            report.skipped_budget += delivery_budget_enforce(
                organization_id=program.organization_id, budget=settings.daily_budget,
                day=day, time_zone=tz, people=ids,
            )
    report.seconds = monotonic_time.perf_counter() - started
    return report


def _budget_candidates(
    program: Program, day: date, lesson_points: list[str], zones: set[str], *, threshold: int
) -> list[int]:
    """People who might be over the budget on `day`: more than `threshold` other messages.

    A cheap superset (one GROUP BY over the union of everybody's local day) so the exact
    ranking runs only for them; nobody, usually.
    """
    if not zones:
        return []
    bounds = [_local_day_bounds(day, tz) for tz in zones]
    start, end = min(b[0] for b in bounds), max(b[1] for b in bounds)
    rows = Delivery.objects.filter(
        organization_id=program.organization_id, due_at__gte=start, due_at__lt=end,
    ).exclude(status=DeliveryStatus.SKIPPED)
    if threshold < 0:  # this day's lessons alone are over the budget
        return list(rows.values_list("person_id", flat=True).distinct())
    others = rows.exclude(program=program, contact_point__in=lesson_points)
    return list(
        others.values("person_id").annotate(n=Count("pk")).filter(n__gt=threshold)
        .values_list("person_id", flat=True)
    )


def _participants_in_zone(program: Program, time_zone: str) -> QuerySet[Any]:
    return Enrollment.objects.filter(
        track__program=program, status=EnrollmentStatus.ACTIVE,
        person__time_zone=time_zone, person__organization_id=program.organization_id,
    ).values("person_id")


# --- reminders --------------------------------------------------------------------------


def _answered(pairs_people: Iterable[int], task_ids: Iterable[int]) -> set[tuple[int, int]]:
    """(person id, task id) of handed-in answers.

    Answers live in fokus.review, a layer above delivery, so the model is looked up by
    name here (read-only, this one place) instead of imported.
    """
    submission = apps.get_model("review", "Submission")
    return set(
        submission.objects.filter(
            person_id__in=pairs_people, task_id__in=list(task_ids),
            status__in=ANSWERED_STATUSES,
        ).values_list("person_id", "task_id")
    )


def _active_programs(today: date) -> QuerySet[Program]:
    # A local date is at most a day away from the UTC date; reminders run a bit later.
    return Program.objects.filter(
        starts_on__lte=today + timedelta(days=1), ends_on__gte=today - timedelta(days=2)
    )


@dataclass(slots=True)
class ReminderReport:
    planned: int = 0
    skipped_budget: int = 0
    cancelled: int = 0


def delivery_plan_reminders(
    now: datetime, *, lookahead: timedelta = REMINDER_LOOKAHEAD
) -> ReminderReport:
    """Plan the reminders whose time (lesson slot + offset) is in [now - 1 h, now + lookahead).

    Only for participants with a task of that slot not yet answered, who did not mute
    reminders; quiet hours and the budget apply as to lessons. Idempotent.
    """
    report = ReminderReport()
    today = now.astimezone(UTC).date()
    window_start = now - LATE_PLANNING_GRACE
    window_end = now + lookahead
    for program in _active_programs(today):
        settings = delivery_settings_for(program.organization_id)
        offsets = reminder_offsets(settings)
        if not offsets:
            continue
        days = list(
            LearningDay.objects.filter(
                program=program, date__gte=today - timedelta(days=2),
                date__lte=today + timedelta(days=1),
            )
        )
        if not days:
            continue
        task_slots = list(
            Slot.objects.filter(program=program, tasks__day__in=days).distinct()
        )
        zones = list(
            Enrollment.objects.filter(
                track__program=program, status=EnrollmentStatus.ACTIVE,
                person__organization_id=program.organization_id,
            ).values_list("person__time_zone", flat=True).distinct()
        )
        for tz in zones:
            for learning_day in days:
                for slot in task_slots:
                    base = contact_instant(learning_day.date, slot.local_time, tz)
                    for offset in offsets:
                        when = base + timedelta(minutes=offset)
                        if window_start <= when < window_end:
                            planned, skipped = _plan_reminder(
                                program, settings, learning_day, slot, offset, tz, when,
                            )
                            report.planned += planned
                            report.skipped_budget += skipped
    return report


@transaction.atomic
def _plan_reminder(
    program: Program, settings: DeliverySettings, day: LearningDay, slot: Slot,
    offset: int, time_zone: str, when: datetime,
) -> tuple[int, int]:
    tasks_of_track: dict[int, list[int]] = defaultdict(list)
    for track_id, pk in Task.objects.filter(day=day, slot=slot).order_by(
        "position", "pk"
    ).values_list("track_id", "pk"):
        tasks_of_track[track_id].append(pk)
    people = _recipients(program, time_zone=time_zone)
    wanted: dict[int, list[int]] = {}
    for recipient in people.values():
        if recipient.channel is None or recipient.mute_reminders:
            continue
        tasks = [t for track in sorted(recipient.tracks) for t in tasks_of_track.get(track, [])]
        if tasks:
            wanted[recipient.person_id] = tasks
    if not wanted:
        return 0, 0
    all_tasks = {t for tasks in wanted.values() for t in tasks}
    answered = _answered(_participants_in_zone(program, time_zone), all_tasks)
    point = reminder_contact_point(program.pk, day.date, slot.local_time, offset)
    titles = dict(Task.objects.filter(pk__in=all_tasks).values_list("pk", "title"))
    rows: list[_Row] = []
    for person_id, tasks in wanted.items():
        open_tasks = [t for t in tasks if (person_id, t) not in answered]
        if not open_tasks:
            continue
        recipient = people[person_id]
        assert recipient.channel is not None
        quiet = quiet_for(settings, recipient.quiet_from, recipient.quiet_until)
        due = quiet_adjust(when, time_zone, quiet)
        payload = json.dumps({
            "tasks": open_tasks, "day_index": day.index, "slot": f"{slot.local_time:%H:%M}",
            "offset_minutes": offset,
            **_reminder_message(program, day, person_id, recipient.language,
                                [titles[t] for t in open_tasks], open_tasks),
        })
        if due is None:
            rows.append(_Row(person_id, DeliveryKind.REMINDER, point, recipient.channel, when,
                             DeliveryStatus.SKIPPED, SKIP_QUIET, payload))
        else:
            rows.append(_Row(person_id, DeliveryKind.REMINDER, point, recipient.channel, due,
                             DeliveryStatus.PLANNED, "", payload))
    created = _insert(rows, organization_id=program.organization_id, program_id=program.pk)
    skipped = 0
    if created:
        candidates = _budget_candidates(
            program, day.date, [point], {time_zone}, threshold=settings.daily_budget - 1
        )
        skipped = delivery_budget_enforce(
            organization_id=program.organization_id, budget=settings.daily_budget,
            day=day.date, time_zone=time_zone, people=[p for p in candidates if p in wanted],
        )
    return created, skipped


def _reminder_message(
    program: Program, day: LearningDay, person_id: int, language: str,
    titles: list[str], task_ids: list[int],
) -> dict[str, Any]:
    """The prepared text and buttons of a reminder (the dispatcher sends them as they are),
    in the person's language, with their own signed links to the tasks."""
    with translation.override(language or django_settings.LANGUAGE_CODE):
        heading = _("%(program)s · day %(index)s") % {"program": program.title, "index": day.index}
        if len(titles) == 1:
            body = _("Your answer to the task “%(title)s” is still missing. "
                     "It takes a few minutes, and your curator will reply.") % {"title": titles[0]}
        else:
            body = _("Your answers to these tasks are still missing:") + "\n" + "\n".join(
                f"• {t}" for t in titles
            )
        subject = _("Reminder: %(title)s") % {"title": titles[0]}
        label = _("Answer the task")
        buttons = [
            [{"text": label if len(titles) == 1 else f"{label}: {title}"[:60],
              "url": link_url(person_id=person_id, target=LinkTarget.TASK, object_id=task_id)}]
            for task_id, title in zip(task_ids, titles, strict=True)
        ]
    return {"subject": subject, "text": f"{heading}\n\n{body}", "buttons": buttons}


def delivery_reminders_cancel(*, person_id: int, task_ids: Iterable[int]) -> int:
    """Skip the person's planned reminders whose tasks are now all answered.

    For callers that know an answer was just handed in (the answer service may call
    it); the minute job does the same for everybody shortly before sending.
    """
    answered = set(task_ids)
    rows = Delivery.objects.filter(
        person_id=person_id, kind=DeliveryKind.REMINDER, status=DeliveryStatus.PLANNED
    ).values_list("pk", "payload")
    done = [pk for pk, payload in rows if set(payload.get("tasks", [])) <= answered]
    if not done:
        return 0
    return Delivery.objects.filter(pk__in=done, status=DeliveryStatus.PLANNED).update(
        status=DeliveryStatus.SKIPPED, error=SKIP_ANSWERED
    )


def delivery_reminders_cancel_answered(
    now: datetime, *, within: timedelta = REMINDER_RECHECK
) -> int:
    """Skip planned reminders due before `now + within` whose tasks all got answered."""
    rows = list(
        Delivery.objects.filter(
            kind=DeliveryKind.REMINDER, status=DeliveryStatus.PLANNED,
            due_at__lt=now + within,
        ).values_list("pk", "person_id", "payload")
    )
    if not rows:
        return 0
    people = {person_id for _pk, person_id, _payload in rows}
    tasks = {t for _pk, _person, payload in rows for t in payload.get("tasks", [])}
    answered = _answered(list(people), tasks)
    done = [
        pk for pk, person_id, payload in rows
        if all((person_id, t) in answered for t in payload.get("tasks", []))
    ]
    if not done:
        return 0
    return Delivery.objects.filter(pk__in=done, status=DeliveryStatus.PLANNED).update(
        status=DeliveryStatus.SKIPPED, error=SKIP_ANSWERED
    )


# --- jobs (fokus/config/schedule.py) and tasks ------------------------------------------


@task
def delivery_plan_day_task(program_id: int, day_iso: str) -> dict[str, Any]:
    program = Program.objects.filter(pk=program_id).first()
    if program is None:
        return {}
    report = delivery_plan_day(program, date.fromisoformat(day_iso), clock.now())
    return {"rows": report.rows, "created": report.created, "seconds": round(report.seconds, 3)}


def delivery_planning_job(slot: datetime) -> None:
    """Every minute (the one schedule entry of planning).

    1. Cancel reminders made needless by answers; this runs in the beat's own
       transaction, before the dispatcher's tasks of the same minute.
    2. Plan the reminders of the next minutes (a task: it touches many people).
    3. Plan yesterday's, today's and tomorrow's learning days (UTC dates) on the hour,
       and at once for a day with no lesson rows yet (a program that was just
       imported or started). A local date is never more than a day away from the
       UTC date, so every lesson is planned about a day ahead; planning again on the
       hour picks up new enrollees and newly bound Telegram chats.
    """
    delivery_reminders_cancel_answered(slot)
    enqueue_on_commit(delivery_plan_reminders_task, slot.isoformat())
    today = slot.astimezone(UTC).date()
    days = LearningDay.objects.filter(
        date__gte=today - timedelta(days=1), date__lte=today + timedelta(days=1)
    ).values_list("program_id", "date").order_by("date", "program_id")
    for program_id, day in days:
        planned = Delivery.objects.filter(
            program_id=program_id, kind=DeliveryKind.LESSON,
            contact_point__startswith=f"lesson:{program_id}:{day.isoformat()}:",
        ).exists()
        if slot.minute == 0 or not planned:
            enqueue_on_commit(delivery_plan_day_task, program_id, day.isoformat())


@task
def delivery_plan_reminders_task(now_iso: str) -> dict[str, int]:
    report = delivery_plan_reminders(datetime.fromisoformat(now_iso))
    return {"planned": report.planned, "skipped_budget": report.skipped_budget}
