"""Reads of the digest: what one learning day's digest says, for a whole program at once.

`DigestDay.load` asks the database a fixed number of set-based questions for the whole
program (about twenty, grouped by person or unit, whatever the number of people), and
`DigestDay.content_for` then builds each person's `DigestContent` from in-memory dicts.
That split is what lets 100,000 digests be built in seconds (bench/bench_digest.py).

"Today" is the learning day's date on each person's own wall clock: the window
[00:00, 24:00) in their zone. People in eleven zones need eleven windows, so time
filters are one OR of (zone, window) pairs, never a query per person.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, ExpressionWrapper, F, FloatField, Min, Q, Sum

from fokus.digest.models import ShowcaseConsent
from fokus.leaderboard.models import PROGRAM_PERIOD, Standing, TeamStanding
from fokus.leaderboard.queries import board_current
from fokus.people.models import Person, Role, Unit
from fokus.programs.models import (
    Enrollment,
    EnrollmentStatus,
    LearningDay,
    Material,
    MaterialView,
    Program,
    Slot,
    SlotKind,
    Task,
)
from fokus.programs.schedule import contact_instant, zone
from fokus.review.models import Attempt, AttemptStatus, Submission
from fokus.review.queries import program_reviews
from fokus.review.turnaround import overdue_cutoff
from fokus.scoring.models import PointsEntry
from fokus.supervision.models import SupportTask, SupportTaskStatus

# How many of the day's best answers a digest quotes, and how long a quote may be.
SHOWCASE_SIZE = 3
EXCERPT_CHARS = 160
# Best answers are picked from at most this many top-graded candidates of the day.
SHOWCASE_CANDIDATES = 300
# Names listed per group in a supervisor's digest; the rest are counted.
NAMES_LISTED = 8
TOMORROW_TITLES = 5

_ANSWERED = (AttemptStatus.SUBMITTED, AttemptStatus.GRADED)


def digest_contact_point(program_id: int, day: date) -> str:
    """The outbox key of a program's digest on one learning day (one per person)."""
    return f"digest:{program_id}:{day.isoformat()}"


def first_name_of(full_name: str) -> str:
    """The given name from a roster's full name.

    Russian rosters write "Фамилия Имя Отчество": three words give the middle one,
    two Cyrillic words the second ("Иванова Мария"); otherwise the first word.
    """
    words = full_name.split()
    if not words:
        return ""
    if len(words) >= 3:
        return words[1]
    if len(words) == 2 and any("а" <= ch.lower() <= "я" or ch in "ёЁ" for ch in full_name):
        return words[1]
    return words[0]


def excerpt_of(text: str, limit: int = EXCERPT_CHARS) -> str:
    """One line of at most `limit` characters, cut at a word with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,.;:-—") + "…"


# --- what a digest says ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recipient:
    person_id: int
    organization_id: int
    full_name: str
    email: str
    time_zone: str
    language: str
    roles: frozenset[str]
    unit_id: int | None
    track_ids: tuple[int, ...]  # active enrollments in the program; empty: not a participant

    @property
    def first_name(self) -> str:
        return first_name_of(self.full_name)


@dataclass(frozen=True, slots=True)
class UnitProgress:
    """A dealership's day: how many enrolled colleagues answered a task today."""

    name: str
    members: int
    answered_today: int
    rank: int | None
    units: int

    @property
    def percent(self) -> int:
        return round(100 * self.answered_today / self.members) if self.members else 0


@dataclass(frozen=True, slots=True)
class ParticipantPart:
    opened_today: int
    answered_today: int
    tasks_open: int
    returned: int
    points_today: Decimal
    points_total: Decimal
    rank: int | None
    # Places gained since the last nightly snapshot (negative: lost); None: no snapshot.
    rank_change: int | None
    unit: UnitProgress | None


@dataclass(frozen=True, slots=True)
class ShowcaseAnswer:
    attempt_id: int
    author_id: int
    author_first_name: str
    task_title: str
    excerpt: str
    grade: int
    grade_max: int


@dataclass(frozen=True, slots=True)
class TomorrowPart:
    date: date
    day_index: int
    titles: tuple[str, ...]
    more: int
    first_at: datetime | None  # the first lesson slot, on the person's wall clock


@dataclass(frozen=True, slots=True)
class TeamPart:
    members: int
    answered_today: int
    answered_names: tuple[str, ...]
    idle_names: tuple[str, ...]  # no material opened and no answer today
    idle_count: int
    returned_names: tuple[str, ...]  # an answer is back with them for revision
    returned_count: int
    points_today: Decimal
    points_total: Decimal


@dataclass(frozen=True, slots=True)
class QueuePart:
    waiting: int
    assigned_to_me: int
    oldest_waiting: timedelta | None
    overdue: int
    target_hours: int


@dataclass(frozen=True, slots=True)
class ProgramPart:
    participants: int
    active_today: int
    answers_today: int
    graded_today: int


@dataclass(frozen=True, slots=True)
class DigestContent:
    """Everything one person's digest of one learning day says, before wording."""

    person_id: int
    first_name: str
    language: str
    time_zone: str
    program_id: int
    program_title: str
    program_slug: str
    day: date
    day_index: int
    due_at: datetime | None  # the digest slot on the person's clock (UTC); None: no slot
    participant: ParticipantPart | None = None
    showcase: tuple[ShowcaseAnswer, ...] = ()
    tomorrow: TomorrowPart | None = None
    team: TeamPart | None = None
    # The supervisor's open support tasks of the day (fokus.supervision generates them).
    support_tasks: tuple[str, ...] = ()
    queue: QueuePart | None = None
    summary: ProgramPart | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.participant or self.team or self.queue or self.summary)


# --- recipients -------------------------------------------------------------------------


@dataclass
class Audience:
    """Who gets the program's digest, and the reporting lines supervisors need."""

    recipients: dict[int, Recipient]
    participants: dict[int, Recipient]  # actively enrolled (a subset of recipients)
    teams: dict[int, tuple[int, ...]]  # supervisor id -> enrolled people below them
    names: dict[int, str] = field(default_factory=dict)


def digest_audience(program: Program) -> Audience:
    """Participants, supervisors of participants, curators and viewers of the organisation.

    Two queries: the organisation's active people (the manager tree needs all of them)
    and the program's active enrollments.
    """
    tracks_of: dict[int, list[int]] = defaultdict(list)
    for person_id, track_id in Enrollment.objects.filter(
        track__program=program, status=EnrollmentStatus.ACTIVE
    ).values_list("person_id", "track_id"):
        tracks_of[person_id].append(track_id)
    people = Person.objects.filter(
        organization_id=program.organization_id, is_active=True
    ).values_list(
        "pk", "full_name", "email", "time_zone", "language", "roles", "unit_id", "manager_id"
    )
    staff_roles = {Role.SUPERVISOR.value, Role.CURATOR.value, Role.VIEWER.value}
    children: dict[int, list[int]] = defaultdict(list)
    rows: dict[int, Recipient] = {}
    names: dict[int, str] = {}
    for pk, full_name, email, tz, language, roles_text, unit_id, manager_id in people:
        if manager_id is not None:
            children[manager_id].append(pk)
        roles = frozenset(r for r in roles_text.split(",") if r)
        track_ids = tuple(sorted(tracks_of.get(pk, ())))
        if track_ids or roles & staff_roles:
            rows[pk] = Recipient(
                pk, program.organization_id, full_name, email, tz, language or "", roles,
                unit_id, track_ids,
            )
            names[pk] = full_name
    participants = {pk: r for pk, r in rows.items() if r.track_ids}
    teams: dict[int, tuple[int, ...]] = {}
    for pk, r in rows.items():
        if Role.SUPERVISOR not in r.roles:
            continue
        members: list[int] = []
        seen = {pk}
        stack = list(children.get(pk, ()))
        while stack:  # the whole subtree; a loop in bad data ends at a seen person
            child = stack.pop()
            if child in seen:
                continue
            seen.add(child)
            if child in participants:
                members.append(child)
            stack.extend(children.get(child, ()))
        if members:
            teams[pk] = tuple(sorted(members, key=lambda m: names[m]))
    recipients = {
        pk: r
        for pk, r in rows.items()
        if r.track_ids or pk in teams or r.roles & {Role.CURATOR.value, Role.VIEWER.value}
    }
    return Audience(recipients=recipients, participants=participants, teams=teams, names=names)


def digest_slot_time(program: Program) -> time | None:
    """The program's digest time of day (the earliest digest slot), or None."""
    return (
        Slot.objects.filter(program=program, kind=SlotKind.DIGEST)
        .order_by("local_time")
        .values_list("local_time", flat=True)
        .first()
    )


# --- the day's data ---------------------------------------------------------------------


def _zone_windows(day: date, zones: Iterable[str]) -> dict[str, tuple[datetime, datetime]]:
    return {
        tz: (contact_instant(day, time(0), tz), contact_instant(day + timedelta(1), time(0), tz))
        for tz in zones
    }


def _in_local_day(
    windows: dict[str, tuple[datetime, datetime]], zone_field: str, time_field: str
) -> Q:
    """Rows whose `time_field` falls on the day in the zone named by `zone_field`."""
    q = Q(pk__in=[])
    for tz, (start, end) in windows.items():
        q |= Q(**{zone_field: tz, f"{time_field}__gte": start, f"{time_field}__lt": end})
    return q


def _counts(rows: Iterable[tuple[int, int]]) -> dict[int, int]:
    return {key: value for key, value in rows}


def _competition_ranks(values: Iterable[Decimal]) -> dict[Decimal, int]:
    """value -> 1 + how many are higher (ties share a rank: 1, 2, 2, 4), as boards rank."""
    ranks: dict[Decimal, int] = {}
    for position, value in enumerate(sorted(values, reverse=True), start=1):
        ranks.setdefault(value, position)
    return ranks


def _standings_with_ranks(
    rows: Iterable[tuple[int, Decimal, int | None]],
) -> dict[int, tuple[Decimal, int, int | None]]:
    """person -> (total, rank, rank at the last snapshot), ranked here in one pass."""
    found = list(rows)
    ranks = _competition_ranks(total for _pid, total, _previous in found)
    return {pid: (total, ranks[total], previous) for pid, total, previous in found}


def _team_ranks(rows: Iterable[tuple[int, Decimal]]) -> dict[int, int]:
    """unit -> place on the team board (points per member, as the board ranks teams)."""
    found = list(rows)
    ranks = _competition_ranks(average for _unit, average in found)
    return {unit: ranks[average] for unit, average in found}


@dataclass
class DigestDay:
    """One learning day of one program, loaded once for everyone's digest."""

    program: Program
    day: LearningDay
    now: datetime
    audience: Audience
    slot_time: time | None
    opened: dict[int, int]
    answered: dict[int, int]
    points_today: dict[int, Decimal]
    standings: dict[int, tuple[Decimal, int, int | None]]
    team_ranks: dict[int, int]
    unit_names: dict[int, str]
    tasks_by_track: dict[int, int]
    answered_by_person_track: dict[tuple[int, int], int]
    returned: dict[int, int]
    showcase_candidates: list[tuple[datetime, ShowcaseAnswer]]
    graded_today: int
    next_day: LearningDay | None
    tomorrow_titles: dict[int, list[str]]  # track id -> titles in slot order
    tomorrow_first: dict[int, time]  # track id -> first lesson slot with content
    queue_waiting: int
    queue_oldest: datetime | None
    queue_overdue: int
    queue_assigned: dict[int, int]
    queue_target_hours: int
    support_tasks: dict[int, tuple[str, ...]] = field(default_factory=dict)
    unit_members: dict[int, int] = field(default_factory=dict)
    unit_answered: dict[int, int] = field(default_factory=dict)
    _showcase_by_zone: dict[str, tuple[ShowcaseAnswer, ...]] = field(default_factory=dict)
    _windows: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    _summary: ProgramPart | None = None
    _due_by_zone: dict[str, datetime] = field(default_factory=dict)
    _tomorrow_cache: dict[tuple[tuple[int, ...], str], TomorrowPart | None] = field(
        default_factory=dict
    )
    _unit_cache: dict[int, UnitProgress] = field(default_factory=dict)

    @classmethod
    def load(
        cls, program: Program, day: date, now: datetime, audience: Audience | None = None
    ) -> DigestDay | None:
        """The day's data, or None when `day` is not a learning day of the program."""
        learning_day = LearningDay.objects.filter(program=program, date=day).first()
        if learning_day is None:
            return None
        if audience is None:
            audience = digest_audience(program)
        zones = {r.time_zone for r in audience.recipients.values()}
        windows = _zone_windows(day, zones)
        in_program_material = Q(material__track__program=program)
        opened = _counts(
            MaterialView.objects.filter(in_program_material)
            .filter(_in_local_day(windows, "person__time_zone", "opened_at"))
            .values("person_id")
            .annotate(n=Count("pk"))
            .values_list("person_id", "n")
        )
        answered = _counts(
            Attempt.objects.filter(submission__program=program, submitted_at__isnull=False)
            .filter(_in_local_day(windows, "submission__person__time_zone", "submitted_at"))
            .values("submission__person_id")
            .annotate(n=Count("submission_id", distinct=True))
            .values_list("submission__person_id", "n")
        )
        graded_today = (
            Attempt.objects.filter(submission__program=program, status=AttemptStatus.GRADED)
            .filter(_in_local_day(windows, "submission__person__time_zone", "decided_at"))
            .count()
        )
        points_today = {
            pid: total or Decimal(0)
            for pid, total in PointsEntry.objects.filter(program=program, occurred_on=day)
            .values("person_id")
            .annotate(s=Sum("amount"))
            .values_list("person_id", "s")
        }
        board_current(program)
        standings = _standings_with_ranks(
            Standing.objects.filter(program=program, period=PROGRAM_PERIOD).values_list(
                "person_id", "total", "previous_rank"
            )
        )
        team_ranks = _team_ranks(
            TeamStanding.objects.filter(program=program, period=PROGRAM_PERIOD).values_list(
                "unit_id", "average"
            )
        )
        unit_names = dict(
            Unit.objects.filter(organization_id=program.organization_id).values_list("pk", "name")
        )
        tasks_by_track = _counts(
            Task.objects.filter(track__program=program, day__index__lte=learning_day.index)
            .values("track_id")
            .annotate(n=Count("pk"))
            .values_list("track_id", "n")
        )
        answered_by_person_track = {
            (pid, tid): n
            for pid, tid, n in Submission.objects.filter(
                program=program, status__in=_ANSWERED, task__day__index__lte=learning_day.index
            )
            .values("person_id", "track_id")
            .annotate(n=Count("pk"))
            .values_list("person_id", "track_id", "n")
        }
        returned = _counts(
            Submission.objects.filter(program=program, status=AttemptStatus.RETURNED)
            .values("person_id")
            .annotate(n=Count("pk"))
            .values_list("person_id", "n")
        )
        showcase_candidates = _showcase_candidates(program, windows)
        next_day = (
            LearningDay.objects.filter(program=program, index__gt=learning_day.index)
            .order_by("index")
            .first()
        )
        tomorrow_titles: dict[int, list[str]] = defaultdict(list)
        tomorrow_first: dict[int, time] = {}
        if next_day is not None:
            for track_id, title, slot_time in Material.objects.filter(day=next_day).order_by(
                "slot__local_time", "position", "pk"
            ).values_list("track_id", "title", "slot__local_time"):
                tomorrow_titles[track_id].append(title)
                tomorrow_first.setdefault(track_id, slot_time)
            for track_id, slot_time in Task.objects.filter(day=next_day).values_list(
                "track_id", "slot__local_time"
            ):
                if track_id not in tomorrow_first or slot_time < tomorrow_first[track_id]:
                    tomorrow_first[track_id] = slot_time
        queue = Attempt.objects.filter(
            submission__program=program, status=AttemptStatus.SUBMITTED
        )
        review = program_reviews([program.pk])[program.pk]
        cutoff = overdue_cutoff(now, review.target_hours * 3600, review.hours)
        queue_values = queue.aggregate(
            waiting=Count("pk"),
            oldest=Min("submitted_at"),
            overdue=Count("pk", filter=Q(submitted_at__lt=cutoff)),
        )
        queue_assigned = _counts(
            queue.filter(submission__assigned_curator__isnull=False)
            .values("submission__assigned_curator_id")
            .annotate(n=Count("pk"))
            .values_list("submission__assigned_curator_id", "n")
        )
        data = cls(
            program=program,
            day=learning_day,
            now=now,
            audience=audience,
            slot_time=digest_slot_time(program),
            opened=opened,
            answered=answered,
            points_today=points_today,
            standings=standings,
            team_ranks=team_ranks,
            unit_names=unit_names,
            tasks_by_track=tasks_by_track,
            answered_by_person_track=answered_by_person_track,
            returned=returned,
            showcase_candidates=showcase_candidates,
            graded_today=graded_today,
            next_day=next_day,
            tomorrow_titles=dict(tomorrow_titles),
            tomorrow_first=tomorrow_first,
            queue_waiting=queue_values["waiting"] or 0,
            queue_oldest=queue_values["oldest"],
            queue_overdue=queue_values["overdue"] or 0,
            queue_assigned=queue_assigned,
            queue_target_hours=review.target_hours,
            support_tasks=_open_support_tasks(program, learning_day),
        )
        data._windows = windows
        data._count_units()
        return data

    # --- derived, in memory ---------------------------------------------------------

    def _count_units(self) -> None:
        members: dict[int, int] = defaultdict(int)
        answered: dict[int, int] = defaultdict(int)
        for pid, r in self.audience.participants.items():
            if r.unit_id is None:
                continue
            members[r.unit_id] += 1
            if self.answered.get(pid):
                answered[r.unit_id] += 1
        self.unit_members = dict(members)
        self.unit_answered = dict(answered)

    def due_at(self, recipient: Recipient) -> datetime | None:
        if self.slot_time is None:
            return None
        found = self._due_by_zone.get(recipient.time_zone)
        if found is None:
            found = self._due_by_zone[recipient.time_zone] = contact_instant(
                self.day.date, self.slot_time, recipient.time_zone
            )
        return found

    def showcase_for(self, time_zone: str) -> tuple[ShowcaseAnswer, ...]:
        """The day's best consented answers graded on the day in this zone, one per author."""
        found = self._showcase_by_zone.get(time_zone)
        if found is None:
            start, end = self._windows.get(time_zone) or _zone_windows(
                self.day.date, [time_zone]
            )[time_zone]
            picked: list[ShowcaseAnswer] = []
            authors: set[int] = set()
            for decided_at, answer in self.showcase_candidates:
                if start <= decided_at < end and answer.author_id not in authors:
                    picked.append(answer)
                    authors.add(answer.author_id)
                    if len(picked) == SHOWCASE_SIZE:
                        break
            found = self._showcase_by_zone[time_zone] = tuple(picked)
        return found

    def summary(self) -> ProgramPart:
        if self._summary is None:
            participants = self.audience.participants
            active = sum(
                1 for pid in participants if self.opened.get(pid) or self.answered.get(pid)
            )
            self._summary = ProgramPart(
                participants=len(participants),
                active_today=active,
                answers_today=sum(self.answered.get(pid, 0) for pid in participants),
                graded_today=self.graded_today,
            )
        return self._summary

    def _participant(self, r: Recipient) -> ParticipantPart:
        pid = r.person_id
        tasks = sum(self.tasks_by_track.get(t, 0) for t in r.track_ids)
        done = sum(self.answered_by_person_track.get((pid, t), 0) for t in r.track_ids)
        total, rank, previous = self.standings.get(pid, (Decimal(0), None, None))
        unit = None
        if r.unit_id is not None:
            unit = self._unit_cache.get(r.unit_id)
            if unit is None:
                unit = self._unit_cache[r.unit_id] = UnitProgress(
                    name=self.unit_names.get(r.unit_id, ""),
                    members=self.unit_members.get(r.unit_id, 0),
                    answered_today=self.unit_answered.get(r.unit_id, 0),
                    rank=self.team_ranks.get(r.unit_id),
                    units=len(self.team_ranks),
                )
        return ParticipantPart(
            opened_today=self.opened.get(pid, 0),
            answered_today=self.answered.get(pid, 0),
            tasks_open=max(tasks - done, 0),
            returned=self.returned.get(pid, 0),
            points_today=self.points_today.get(pid, Decimal(0)),
            points_total=total,
            rank=rank,
            rank_change=(previous - rank) if rank is not None and previous is not None else None,
            unit=unit,
        )

    def _team(self, members: tuple[int, ...]) -> TeamPart:
        names = self.audience.names
        answered = [m for m in members if self.answered.get(m)]
        idle = [m for m in members if not self.answered.get(m) and not self.opened.get(m)]
        returned = [m for m in members if self.returned.get(m)]
        return TeamPart(
            members=len(members),
            answered_today=len(answered),
            answered_names=tuple(names[m] for m in answered[:NAMES_LISTED]),
            idle_names=tuple(names[m] for m in idle[:NAMES_LISTED]),
            idle_count=len(idle),
            returned_names=tuple(names[m] for m in returned[:NAMES_LISTED]),
            returned_count=len(returned),
            points_today=sum((self.points_today.get(m, Decimal(0)) for m in members), Decimal(0)),
            points_total=sum(
                (self.standings[m][0] for m in members if m in self.standings), Decimal(0)
            ),
        )

    def _tomorrow(self, r: Recipient) -> TomorrowPart | None:
        # The same for everyone with the same tracks in the same zone: built once.
        key = (r.track_ids, r.time_zone)
        if key not in self._tomorrow_cache:
            self._tomorrow_cache[key] = self._tomorrow_of(r.track_ids, r.time_zone)
        return self._tomorrow_cache[key]

    def _tomorrow_of(self, own_tracks: tuple[int, ...], time_zone: str) -> TomorrowPart | None:
        if self.next_day is None:
            return None
        track_ids = own_tracks or tuple(sorted(self.tomorrow_first))
        titles: list[str] = []
        for t in track_ids:
            titles.extend(x for x in self.tomorrow_titles.get(t, ()) if x not in titles)
        firsts = [self.tomorrow_first[t] for t in track_ids if t in self.tomorrow_first]
        first_at = None
        if firsts:
            instant = contact_instant(self.next_day.date, min(firsts), time_zone)
            first_at = instant.astimezone(zone(time_zone))
        return TomorrowPart(
            date=self.next_day.date,
            day_index=self.next_day.index,
            titles=tuple(titles[:TOMORROW_TITLES]),
            more=max(len(titles) - TOMORROW_TITLES, 0),
            first_at=first_at,
        )

    def _showcase_without(self, r: Recipient) -> tuple[ShowcaseAnswer, ...]:
        """The zone's best answers, minus the person's own (nobody is their own example)."""
        answers = self.showcase_for(r.time_zone)
        if any(a.author_id == r.person_id for a in answers):
            return tuple(a for a in answers if a.author_id != r.person_id)
        return answers

    def content_for(self, r: Recipient) -> DigestContent:
        participant = self._participant(r) if r.track_ids else None
        team_members = self.audience.teams.get(r.person_id)
        queue = None
        if Role.CURATOR in r.roles:
            oldest = self.queue_oldest
            queue = QueuePart(
                waiting=self.queue_waiting,
                assigned_to_me=self.queue_assigned.get(r.person_id, 0),
                oldest_waiting=(self.now - oldest) if oldest is not None else None,
                overdue=self.queue_overdue,
                target_hours=self.queue_target_hours,
            )
        return DigestContent(
            person_id=r.person_id,
            first_name=r.first_name,
            language=r.language,
            time_zone=r.time_zone,
            program_id=self.program.pk,
            program_title=self.program.title,
            program_slug=self.program.slug,
            day=self.day.date,
            day_index=self.day.index,
            due_at=self.due_at(r),
            participant=participant,
            showcase=self._showcase_without(r) if participant is not None else (),
            tomorrow=self._tomorrow(r),
            team=self._team(team_members) if team_members else None,
            support_tasks=self.support_tasks.get(r.person_id, ()),
            queue=queue,
            summary=self.summary() if Role.VIEWER in r.roles else None,
        )


def _open_support_tasks(program: Program, day: LearningDay) -> dict[int, tuple[str, ...]]:
    """Each supervisor's support tasks of the day still open, oldest first (one query)."""
    found: dict[int, list[str]] = defaultdict(list)
    for supervisor_id, text in (
        SupportTask.objects.filter(program=program, day=day, status=SupportTaskStatus.OPEN)
        .order_by("created_at", "pk")
        .values_list("supervisor_id", "text")
    ):
        found[supervisor_id].append(text)
    return {pk: tuple(texts) for pk, texts in found.items()}


def _showcase_candidates(
    program: Program, windows: dict[str, tuple[datetime, datetime]]
) -> list[tuple[datetime, ShowcaseAnswer]]:
    """Top-graded text answers of consenting authors decided on the day, best first."""
    if not windows:
        return []
    start = min(w[0] for w in windows.values())
    end = max(w[1] for w in windows.values())
    consenting = ShowcaseConsent.objects.filter(
        organization_id=program.organization_id
    ).values("person_id")
    rows = (
        Attempt.objects.filter(
            submission__program=program,
            status=AttemptStatus.GRADED,
            grade__isnull=False,
            decided_at__gte=start,
            decided_at__lt=end,
            submission__person_id__in=consenting,
        )
        .exclude(text="")
        .annotate(
            ratio=ExpressionWrapper(
                F("grade") * 1.0 / F("submission__task__grade_max"), output_field=FloatField()
            )
        )
        .order_by("-ratio", "decided_at", "pk")
        .values_list(
            "pk", "submission__person_id", "submission__person__full_name",
            "submission__task__title", "text", "grade", "submission__task__grade_max",
            "decided_at",
        )[:SHOWCASE_CANDIDATES]
    )
    return [
        (
            decided_at.astimezone(UTC) if decided_at else start,
            ShowcaseAnswer(
                attempt_id=pk,
                author_id=author_id,
                author_first_name=first_name_of(full_name),
                task_title=title,
                excerpt=excerpt_of(text),
                grade=grade or 0,
                grade_max=grade_max,
            ),
        )
        for pk, author_id, full_name, title, text, grade, grade_max, decided_at in rows
    ]


def digest_build(person: Person, program: Program, day: date, now: datetime) -> DigestContent:
    """One person's digest content (the preview page; batches use DigestDay directly).

    A person the digest does not address (not enrolled, no team, not a curator or
    viewer) gets an empty content; a date that is not a learning day raises ValueError.
    """
    data = DigestDay.load(program, day, now)
    if data is None:
        raise ValueError(f"{day.isoformat()} is not a learning day of {program.slug}")
    recipient = data.audience.recipients.get(person.pk)
    if recipient is None:
        return DigestContent(
            person_id=person.pk,
            first_name=first_name_of(person.full_name),
            language=person.language,
            time_zone=person.time_zone,
            program_id=program.pk,
            program_title=program.title,
            program_slug=program.slug,
            day=day,
            day_index=data.day.index,
            due_at=None,
        )
    return data.content_for(recipient)


def showcase_consent_of(person: Person) -> ShowcaseConsent | None:
    return ShowcaseConsent.objects.filter(person=person).first()


def digest_learning_day(program: Program, local_date: date) -> LearningDay | None:
    """The learning day a preview on `local_date` shows: that day, else the last before."""
    return (
        LearningDay.objects.filter(program=program, date__lte=local_date)
        .order_by("-date")
        .first()
    )
