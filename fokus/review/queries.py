"""Reads about answers: the participant's side first, then the curator queue (appended).

Who may see an answer (and its files): its author; curators and admins of the
organisation; the author's managers, up the chain (read-only). Everyone else gets None,
which the interfaces answer with 404.
"""

from __future__ import annotations

import base64
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, Prefetch, Q, QuerySet

from fokus.core.models import Organization
from fokus.people.models import Person, Role, Unit
from fokus.programs.models import (
    AnswerKind,
    Enrollment,
    EnrollmentStatus,
    Program,
    Task,
    Track,
)
from fokus.review.models import (
    Attempt,
    AttemptFile,
    AttemptStatus,
    ReviewEvent,
    ReviewSettings,
    Submission,
)
from fokus.review.services import (
    answer_deadline,
    review_settings_of,
    task_opens_at,
)
from fokus.review.turnaround import WorkingHours, overdue_cutoff, working_seconds

MANAGER_CHAIN_MAX = 20
STAFF_ROLES = frozenset({Role.CURATOR.value, Role.ADMIN.value})


# --- who may see whose answers --------------------------------------------------------------


def manager_chain_ids(person: Person) -> set[int]:
    """The person's managers up the chain (a loop in bad data ends the walk)."""
    found: set[int] = set()
    current = person.manager_id
    while current is not None and current not in found and len(found) < MANAGER_CHAIN_MAX:
        found.add(current)
        current = (
            Person.objects.filter(pk=current, organization_id=person.organization_id)
            .values_list("manager_id", flat=True)
            .first()
        )
    return found


def may_view_answers_of(*, viewer: Person, author: Person) -> bool:
    if viewer.organization_id != author.organization_id:
        return False
    if viewer.pk == author.pk:
        return True
    if viewer.role_set & STAFF_ROLES:
        return True
    return viewer.pk in manager_chain_ids(author)


def _attempts_prefetch() -> Any:  # a Prefetch; the stubs type its parameters narrowly
    return Prefetch(
        "attempts",
        queryset=Attempt.objects.select_related("decided_by")
        .prefetch_related(Prefetch("files", queryset=AttemptFile.objects.order_by("id")))
        .order_by("number"),
    )


def submission_for_viewer(*, viewer: Person, submission_id: int) -> Submission | None:
    """A submission with its attempts and files, if `viewer` may see it."""
    submission = (
        Submission.objects.select_related(
            "person", "task__track__program", "task__day", "task__slot"
        )
        .prefetch_related(_attempts_prefetch())
        .filter(pk=submission_id, organization_id=viewer.organization_id)
        .first()
    )
    if submission is None or not may_view_answers_of(viewer=viewer, author=submission.person):
        return None
    return submission


def file_for_viewer(*, viewer: Person, file_id: int) -> AttemptFile | None:
    """An attached file, if `viewer` may see the answer it belongs to. Drafts: author only."""
    found = (
        AttemptFile.objects.select_related("attempt__submission__person")
        .filter(pk=file_id, attempt__organization_id=viewer.organization_id)
        .first()
    )
    if found is None:
        return None
    author = found.attempt.submission.person
    if found.attempt.status == AttemptStatus.DRAFT and viewer.pk != author.pk:
        return None
    if not may_view_answers_of(viewer=viewer, author=author):
        return None
    return found


def submissions_of(*, person: Person) -> QuerySet[Submission]:
    """The person's own submissions, newest activity first, with their attempts."""
    return (
        Submission.objects.filter(person=person, organization_id=person.organization_id)
        .select_related("task__track__program", "task__day", "task__slot")
        .prefetch_related(_attempts_prefetch())
        .order_by("-updated_at", "-id")
    )


# --- the task page -------------------------------------------------------------------------


@dataclass(slots=True)
class TaskAnswering:
    """Everything the participant's task page shows."""

    task: Task
    settings: ReviewSettings
    opens_at: datetime
    deadline: datetime
    now: datetime
    submission: Submission | None
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.opens_at <= self.now

    @property
    def is_past_deadline(self) -> bool:
        return self.now >= self.deadline

    @property
    def kinds(self) -> list[str]:
        return self.task.answer_kind_list

    @property
    def takes_text(self) -> bool:
        return AnswerKind.TEXT in self.kinds

    @property
    def takes_link(self) -> bool:
        return AnswerKind.LINK in self.kinds

    @property
    def takes_files(self) -> bool:
        return AnswerKind.FILE in self.kinds

    @property
    def takes_photos(self) -> bool:
        return AnswerKind.PHOTO in self.kinds or AnswerKind.FILE in self.kinds

    @property
    def latest(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def draft(self) -> Attempt | None:
        latest = self.latest
        return latest if latest is not None and latest.status == AttemptStatus.DRAFT else None

    @property
    def history(self) -> list[Attempt]:
        """Sent attempts, newest first (the draft is in the form)."""
        return [a for a in reversed(self.attempts) if a.status != AttemptStatus.DRAFT]

    @property
    def status(self) -> str:
        latest = self.latest
        return latest.status if latest is not None else ""

    @property
    def used_attempts(self) -> int:
        """Attempts sent so far (a draft is not sent yet)."""
        return sum(1 for a in self.attempts if a.status != AttemptStatus.DRAFT)

    @property
    def remaining_attempts(self) -> int:
        return max(self.settings.max_attempts - self.used_attempts, 0)

    @property
    def can_answer(self) -> bool:
        """The form is shown: open, not awaiting review, not graded, attempts left."""
        if not self.is_open:
            return False
        if self.status in {AttemptStatus.SUBMITTED, AttemptStatus.GRADED}:
            return False
        if self.is_past_deadline and not self.settings.accept_late:
            return False
        return self.remaining_attempts > 0

    @property
    def would_be_late(self) -> bool:
        return self.is_past_deadline and self.settings.accept_late


def task_for_participant(*, person: Person, task_id: int, now: datetime) -> TaskAnswering | None:
    """A task of the person's organisation in a track they are actively enrolled in."""
    task = (
        Task.objects.select_related("track__program", "day", "slot")
        .filter(pk=task_id, track__program__organization_id=person.organization_id)
        .first()
    )
    if task is None:
        return None
    enrolled = Enrollment.objects.filter(
        person=person, track_id=task.track_id, status=EnrollmentStatus.ACTIVE
    ).exists()
    if not enrolled:
        return None
    settings = review_settings_of(task.track.program)
    submission = (
        Submission.objects.filter(person=person, task=task)
        .prefetch_related(_attempts_prefetch())
        .first()
    )
    attempts = list(submission.attempts.all()) if submission is not None else []
    return TaskAnswering(
        task=task,
        settings=settings,
        opens_at=task_opens_at(task=task, person=person),
        deadline=answer_deadline(task=task, person=person, settings=settings),
        now=now,
        submission=submission,
        attempts=attempts,
    )


@dataclass(frozen=True, slots=True)
class AnswerBadge:
    status: str  # an AttemptStatus value, "" when nothing was saved yet
    grade: int | None
    grade_max: int
    is_late: bool
    number: int


def answer_badges(*, person: Person, task_ids: Iterable[int]) -> dict[int, AnswerBadge]:
    """Per task id, the state of the person's latest attempt (for Today and material pages)."""
    ids = list(task_ids)
    if not ids:
        return {}
    rows = (
        Attempt.objects.filter(
            submission__person=person,
            submission__task_id__in=ids,
            organization_id=person.organization_id,
        )
        .order_by("submission__task_id", "number")
        .values_list("submission__task_id", "status", "grade", "is_late", "number",
                     "submission__task__grade_max")
    )
    result = {}
    # Ordered by number: the last row per task wins.
    for task_id, status, grade, is_late, number, grade_max in rows:
        result[task_id] = AnswerBadge(status, grade, grade_max, is_late, number)
    return result


# --- The curator side: queue, review page, turnaround stats, audit -----------------------
# Everything below takes the organisation (or an object already scoped to it) first.

QUEUE_PAGE_SIZE = 50


def person_may_review(person: Person | None) -> bool:
    """Curators and admins work the queue (a lead curator is a curator too)."""
    return person is not None and person.is_active and bool(person.role_set & STAFF_ROLES)


def person_is_review_admin(person: Person | None) -> bool:
    return person is not None and person.has_role(Role.ADMIN)


def programs_led_by(person: Person) -> list[int]:
    return list(
        ReviewSettings.objects.filter(
            lead_curator=person, program__organization_id=person.organization_id
        ).values_list("program_id", flat=True)
    )


def person_may_see_stats(person: Person | None) -> bool:
    return person_is_review_admin(person) or (person is not None and bool(programs_led_by(person)))


def person_may_assign(person: Person | None, program_id: int) -> bool:
    """Admins, and the program's lead curator, hand answers to a curator."""
    if person is None:
        return False
    return person.has_role(Role.ADMIN) or program_id in programs_led_by(person)


def review_curators(*, organization: Organization) -> list[Person]:
    """Who can be given answers: the organisation's active curators."""
    return list(
        Person.objects.filter(
            organization=organization, is_active=True, roles__contains=Role.CURATOR.value
        ).order_by("full_name")
    )


@dataclass(frozen=True)
class ProgramReview:
    """A program's review settings as the queue needs them (defaults without a row)."""

    program_id: int
    target_hours: int
    hours: WorkingHours
    claim_minutes: int
    lead_curator_id: int | None


def program_reviews(program_ids: Iterable[int]) -> dict[int, ProgramReview]:
    ids = set(program_ids)
    found = {
        s.program_id: s for s in ReviewSettings.objects.filter(program_id__in=ids)
    }
    defaults = ReviewSettings()
    result = {}
    for program_id in ids:
        row = found.get(program_id, defaults)
        result[program_id] = ProgramReview(
            program_id=program_id,
            target_hours=row.turnaround_hours,
            hours=WorkingHours.of(row),
            claim_minutes=row.claim_minutes,
            lead_curator_id=row.lead_curator_id,
        )
    return result


class FilterNotFound(LookupError):
    """A queue filter names something the organisation does not have (a 404)."""


@dataclass(frozen=True)
class QueueFilters:
    """Which answers a curator looks at; ids are already checked against the organisation."""

    program_id: int | None = None
    track_ids: tuple[int, ...] = ()
    day_index: int | None = None
    unit_id: int | None = None
    task_id: int | None = None
    mine: bool = False


def queue_filters_resolve(
    *,
    organization: Organization,
    program: str = "",
    track: str = "",
    day_index: int | None = None,
    unit_id: int | None = None,
    task_id: int | None = None,
    mine: bool = False,
) -> QueueFilters:
    """Slugs and ids from a request → QueueFilters; FilterNotFound for a foreign value."""
    program_id = None
    if program:
        program_id = (
            Program.objects.filter(organization=organization, slug=program)
            .values_list("pk", flat=True)
            .first()
        )
        if program_id is None:
            raise FilterNotFound("program")
    track_ids: tuple[int, ...] = ()
    if track:
        tracks = Track.objects.filter(program__organization=organization, slug=track)
        if program_id is not None:
            tracks = tracks.filter(program_id=program_id)
        track_ids = tuple(tracks.values_list("pk", flat=True))
        if not track_ids:
            raise FilterNotFound("track")
    if unit_id is not None and not Unit.objects.filter(
        organization=organization, pk=unit_id
    ).exists():
        raise FilterNotFound("unit")
    if task_id is not None and not Task.objects.filter(
        track__program__organization=organization, pk=task_id
    ).exists():
        raise FilterNotFound("task")
    return QueueFilters(
        program_id=program_id,
        track_ids=track_ids,
        day_index=day_index,
        unit_id=unit_id,
        task_id=task_id,
        mine=mine,
    )


def _claim_is_live(now: datetime) -> Q:
    return Q(claimed_by__isnull=False, claimed_until__gte=now)


def queue_attempts(
    *, organization: Organization, filters: QueueFilters, curator: Person, now: datetime
) -> QuerySet[Attempt]:
    """Answers awaiting review that match the filters (unordered, no joins it needs not)."""
    qs = Attempt.objects.filter(organization=organization, status=AttemptStatus.SUBMITTED)
    if filters.program_id is not None:
        qs = qs.filter(submission__program_id=filters.program_id)
    if filters.track_ids:
        qs = qs.filter(submission__track_id__in=filters.track_ids)
    if filters.task_id is not None:
        qs = qs.filter(submission__task_id=filters.task_id)
    if filters.day_index is not None:
        qs = qs.filter(submission__task__day__index=filters.day_index)
    if filters.unit_id is not None:
        qs = qs.filter(submission__unit_id=filters.unit_id)
    if filters.mine:
        qs = qs.filter(
            Q(claimed_by=curator, claimed_until__gte=now) | Q(submission__assigned_curator=curator)
        )
    return qs


def queue_next_candidates(
    *, organization: Organization, filters: QueueFilters, curator: Person, now: datetime
) -> QuerySet[Attempt]:
    """What "Next answer" may take, oldest first: unclaimed (or an expired claim), not
    given to another curator, not the curator's own answer."""
    return (
        queue_attempts(organization=organization, filters=filters, curator=curator, now=now)
        .exclude(_claim_is_live(now))
        .filter(
            Q(submission__assigned_curator__isnull=True) | Q(submission__assigned_curator=curator)
        )
        .exclude(submission__person=curator)
        .order_by("submitted_at", "pk")
    )


def queue_claimed_by(
    *, organization: Organization, filters: QueueFilters, curator: Person, now: datetime
) -> QuerySet[Attempt]:
    """Matching answers the curator already holds, oldest first: Next offers them first."""
    return (
        queue_attempts(organization=organization, filters=filters, curator=curator, now=now)
        .filter(claimed_by=curator, claimed_until__gte=now)
        .order_by("submitted_at", "pk")
    )


@dataclass(frozen=True)
class QueueRow:
    attempt: Attempt
    waiting_hours: float
    target_hours: int
    overdue: bool
    claim_live: bool

    @property
    def submission(self) -> Submission:
        return self.attempt.submission


@dataclass(frozen=True)
class QueueCounts:
    total: int
    overdue: int
    claimed: int

    @property
    def unclaimed(self) -> int:
        return self.total - self.claimed


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    counts: QueueCounts
    next_cursor: str
    programs: dict[int, ProgramReview]


def queue_cursor_encode(attempt: Attempt) -> str:
    assert attempt.submitted_at is not None
    raw = f"{attempt.submitted_at.astimezone(UTC).isoformat()}|{attempt.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def queue_cursor_decode(cursor: str) -> tuple[datetime, int] | None:
    """(submitted_at, id) after which the page starts; None for a malformed cursor."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, pk = raw.split("|")
        instant = datetime.fromisoformat(stamp)
        if instant.tzinfo is None:
            return None
        return instant, int(pk)
    except (ValueError, UnicodeDecodeError):
        return None


def _overdue_q(now: datetime, reviews: dict[int, ProgramReview]) -> Q | None:
    """`submitted_at < cutoff` per program; one cutoff when all programs share settings."""
    by_cutoff: dict[datetime, list[int]] = {}
    for review in reviews.values():
        cutoff = overdue_cutoff(now, review.target_hours * 3600, review.hours)
        by_cutoff.setdefault(cutoff, []).append(review.program_id)
    if not by_cutoff:
        return None
    if len(by_cutoff) == 1:
        # No join on submission: the count stays on the attempt index.
        return Q(submitted_at__lt=next(iter(by_cutoff)))
    q = Q()
    for cutoff, program_ids in by_cutoff.items():
        q |= Q(submission__program_id__in=program_ids, submitted_at__lt=cutoff)
    return q


def queue_counts(
    *,
    organization: Organization,
    filters: QueueFilters,
    curator: Person,
    now: datetime,
    reviews: dict[int, ProgramReview] | None = None,
) -> QueueCounts:
    if reviews is None:
        reviews = program_reviews(_org_program_ids(organization, filters))
    qs = queue_attempts(organization=organization, filters=filters, curator=curator, now=now)
    overdue_q = _overdue_q(now, reviews)
    # COUNT(*) over the queue index's own columns: without filters that need a join,
    # PostgreSQL answers total and overdue from one index-only scan; live claims are
    # few and come from the claimed_by index.
    aggregates: dict[str, Any] = {"total": Count("*")}
    if overdue_q is not None:
        aggregates["overdue"] = Count("submitted_at", filter=overdue_q)
    values = qs.aggregate(**aggregates)
    claimed = qs.filter(_claim_is_live(now)).count()
    return QueueCounts(
        total=values["total"], overdue=values.get("overdue") or 0, claimed=claimed
    )


def _org_program_ids(organization: Organization, filters: QueueFilters) -> list[int]:
    if filters.program_id is not None:
        return [filters.program_id]
    return list(Program.objects.filter(organization=organization).values_list("pk", flat=True))


def queue_page(
    *,
    organization: Organization,
    filters: QueueFilters,
    curator: Person,
    now: datetime,
    cursor: str = "",
    limit: int = QUEUE_PAGE_SIZE,
) -> QueuePage:
    """One page of the queue, oldest first, after `cursor` (keyset: no OFFSET)."""
    reviews = program_reviews(_org_program_ids(organization, filters))
    qs = queue_attempts(organization=organization, filters=filters, curator=curator, now=now)
    after = queue_cursor_decode(cursor)
    if after is not None:
        stamp, pk = after
        # The plain >= lets the database walk the (organisation, status, submitted_at)
        # index from the cursor on; the OR settles ties on the same instant.
        qs = qs.filter(submitted_at__gte=stamp).filter(
            Q(submitted_at__gt=stamp) | Q(submitted_at=stamp, pk__gt=pk)
        )
    found = list(
        # The list shows no answer texts: leave the long columns behind.
        qs.select_related("submission")
        .defer("text", "feedback", "rubric")
        .order_by("submitted_at", "pk")[: limit + 1]
    )
    _attach_related(found)
    more = len(found) > limit
    found = found[:limit]
    rows = []
    for attempt in found:
        review = reviews.get(attempt.submission.program_id) or program_reviews(
            [attempt.submission.program_id]
        )[attempt.submission.program_id]
        assert attempt.submitted_at is not None
        seconds = working_seconds(attempt.submitted_at, now, review.hours)
        rows.append(
            QueueRow(
                attempt=attempt,
                waiting_hours=seconds / 3600,
                target_hours=review.target_hours,
                overdue=seconds > review.target_hours * 3600,
                claim_live=bool(
                    attempt.claimed_by_id
                    and attempt.claimed_until is not None
                    and attempt.claimed_until >= now
                ),
            )
        )
    counts = queue_counts(
        organization=organization, filters=filters, curator=curator, now=now, reviews=reviews
    )
    return QueuePage(
        rows=rows,
        counts=counts,
        next_cursor=queue_cursor_encode(found[-1]) if more and found else "",
        programs=reviews,
    )


def _attach_related(attempts: list[Attempt]) -> None:
    """People, units, tasks, tracks and programs of a page of attempts, a query each.

    One select_related over nine tables costs PostgreSQL more to plan (~70 ms) than to
    run; five primary-key reads are a few milliseconds together.
    """
    submissions = [a.submission for a in attempts]
    person_ids = {s.person_id for s in submissions} | {
        s.assigned_curator_id for s in submissions if s.assigned_curator_id
    } | {a.claimed_by_id for a in attempts if a.claimed_by_id}
    people = Person.objects.in_bulk(person_ids)
    units = Unit.objects.in_bulk({s.unit_id for s in submissions if s.unit_id})
    tasks = Task.objects.select_related("day").defer("prompt").in_bulk(
        {s.task_id for s in submissions}
    )
    tracks = Track.objects.defer("description").in_bulk({s.track_id for s in submissions})
    programs = Program.objects.defer("description").in_bulk(
        {s.program_id for s in submissions}
    )
    for attempt in attempts:
        s = attempt.submission
        s.person = people[s.person_id]
        s.unit = units.get(s.unit_id) if s.unit_id else None
        s.task = tasks[s.task_id]
        s.track = tracks[s.track_id]
        s.program = programs[s.program_id]
        s.assigned_curator = people.get(s.assigned_curator_id) if s.assigned_curator_id else None
        attempt.claimed_by = people.get(attempt.claimed_by_id) if attempt.claimed_by_id else None


@dataclass(frozen=True)
class QueueChoices:
    """What the queue's filter form offers."""

    programs: list[Program]
    tracks: list[Track]
    units: list[Unit]
    tasks: list[Task]
    day_indexes: list[int]


def queue_choices(*, organization: Organization, program_id: int | None) -> QueueChoices:
    programs = list(Program.objects.filter(organization=organization).order_by("title"))
    # One read of the tasks gives the tracks and day numbers too.
    tasks = Task.objects.filter(track__program__organization=organization).select_related(
        "day", "track"
    )
    if program_id is not None:
        tasks = tasks.filter(track__program_id=program_id)
    task_list = list(tasks.order_by("day__index", "slot__local_time", "position")[:2000])
    seen: set[str] = set()
    unique_tracks = []
    for track in sorted({t.track for t in task_list}, key=lambda t: (t.position, t.slug)):
        if track.slug not in seen:
            seen.add(track.slug)
            unique_tracks.append(track)
    return QueueChoices(
        programs=programs,
        tracks=unique_tracks,
        units=list(Unit.objects.filter(organization=organization).order_by("name")),
        tasks=task_list[:500],
        day_indexes=sorted({t.day.index for t in task_list}),
    )


# --- the review page -----------------------------------------------------------------------


def review_attempt(*, organization: Organization, attempt_id: int) -> Attempt | None:
    """An attempt of the organisation with everything the review page shows; None if foreign."""
    return (
        Attempt.objects.filter(organization=organization, pk=attempt_id)
        .select_related(
            "submission__person__unit",
            "submission__unit",
            "submission__program",
            "submission__track",
            "submission__task__day",
            "submission__assigned_curator",
            "claimed_by",
            "decided_by",
        )
        .first()
    )


@dataclass(frozen=True)
class ReviewPage:
    attempt: Attempt
    earlier: list[Attempt]
    files: list[AttemptFile]
    review: ProgramReview
    waiting_hours: float
    overdue: bool
    claim_live: bool
    participant_now: datetime
    grades: list[int]


def review_page(*, organization: Organization, attempt_id: int, now: datetime) -> ReviewPage | None:
    attempt = review_attempt(organization=organization, attempt_id=attempt_id)
    if attempt is None:
        return None
    submission = attempt.submission
    review = program_reviews([submission.program_id])[submission.program_id]
    earlier = list(
        Attempt.objects.filter(submission=submission, number__lt=attempt.number)
        .exclude(status=AttemptStatus.DRAFT)
        .select_related("decided_by")
        .prefetch_related("files")
        .order_by("-number")
    )
    end = attempt.decided_at or now
    seconds = (
        working_seconds(attempt.submitted_at, end, review.hours) if attempt.submitted_at else 0.0
    )
    try:
        participant_zone = ZoneInfo(submission.person.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        participant_zone = ZoneInfo("UTC")
    return ReviewPage(
        attempt=attempt,
        earlier=earlier,
        files=list(attempt.files.order_by("pk")),
        review=review,
        waiting_hours=seconds / 3600,
        overdue=seconds > review.target_hours * 3600,
        claim_live=bool(
            attempt.claimed_by_id and attempt.claimed_until and attempt.claimed_until >= now
        ),
        participant_now=now.astimezone(participant_zone),
        grades=list(range(1, submission.task.grade_max + 1)),
    )


# --- turnaround ----------------------------------------------------------------------------


@dataclass
class CuratorStats:
    curator_id: int | None
    name: str
    graded: int = 0
    returned: int = 0
    late: int = 0
    hours: list[float] = field(default_factory=list)
    pending: int = 0
    pending_overdue: int = 0

    @property
    def decided(self) -> int:
        return self.graded + self.returned

    @property
    def median_hours(self) -> float | None:
        return statistics.median(self.hours) if self.hours else None

    @property
    def on_time_share(self) -> float | None:
        return (self.decided - self.late) / self.decided if self.decided else None


@dataclass
class ProgramStats:
    program: Program
    target_hours: int
    pending: int = 0
    pending_overdue: int = 0
    first_feedback_hours: list[float] = field(default_factory=list)
    submissions: int = 0
    revision_rounds: int = 0
    decided: int = 0
    late: int = 0

    @property
    def median_first_feedback(self) -> float | None:
        return statistics.median(self.first_feedback_hours) if self.first_feedback_hours else None

    @property
    def p90_first_feedback(self) -> float | None:
        values = sorted(self.first_feedback_hours)
        if not values:
            return None
        return values[min(len(values) - 1, int(0.9 * len(values)))]

    @property
    def rounds_per_submission(self) -> float | None:
        return self.revision_rounds / self.submissions if self.submissions else None

    @property
    def on_time_share(self) -> float | None:
        return (self.decided - self.late) / self.decided if self.decided else None


@dataclass
class ReviewStats:
    programs: list[ProgramStats]
    curators: list[CuratorStats]
    since: datetime
    until: datetime


def review_stats(
    *, organization: Organization, program_ids: Iterable[int] | None, since: datetime,
    until: datetime, now: datetime,
) -> ReviewStats:
    """Turnaround by program and by curator for decisions made in [since, until).

    Times are working hours (the program's ReviewSettings). "Late" is a decision made
    after the target; "first feedback" runs from a submission's first attempt to its
    first decision; a revision round is one return for revision.
    """
    programs_qs = Program.objects.filter(organization=organization)
    if program_ids is not None:
        programs_qs = programs_qs.filter(pk__in=list(program_ids))
    programs = {p.pk: p for p in programs_qs.order_by("title")}
    reviews = program_reviews(programs)
    by_program = {
        pk: ProgramStats(program=p, target_hours=reviews[pk].target_hours)
        for pk, p in programs.items()
    }
    curators: dict[int | None, CuratorStats] = {}

    def curator_row(person_id: int | None, name: str) -> CuratorStats:
        if person_id not in curators:
            curators[person_id] = CuratorStats(curator_id=person_id, name=name)
        return curators[person_id]

    decided = (
        Attempt.objects.filter(
            organization=organization,
            submission__program_id__in=list(programs),
            status__in=[AttemptStatus.GRADED, AttemptStatus.RETURNED],
            decided_at__gte=since,
            decided_at__lt=until,
        )
        .exclude(submitted_at=None)
        .values_list(
            "submission__program_id", "status", "submitted_at", "decided_at",
            "decided_by_id", "decided_by__full_name", "number",
        )
    )
    for program_id, status, submitted_at, decided_at, by_id, by_name, number in decided:
        if submitted_at is None or decided_at is None:
            continue
        review = reviews[program_id]
        hours = working_seconds(submitted_at, decided_at, review.hours) / 3600
        late = hours > review.target_hours
        stats = by_program[program_id]
        stats.decided += 1
        stats.late += late
        row = curator_row(by_id, by_name or "—")
        row.hours.append(hours)
        row.late += late
        if status == AttemptStatus.GRADED:
            row.graded += 1
        else:
            row.returned += 1
            stats.revision_rounds += 1
        if number == 1:
            stats.first_feedback_hours.append(hours)
            stats.submissions += 1

    pending = (
        Attempt.objects.filter(
            organization=organization,
            submission__program_id__in=list(programs),
            status=AttemptStatus.SUBMITTED,
        )
        .exclude(submitted_at=None)
        .values_list(
            "submission__program_id", "submitted_at", "claimed_by_id", "claimed_until",
            "claimed_by__full_name", "submission__assigned_curator_id",
            "submission__assigned_curator__full_name",
        )
    )
    cutoffs = {
        pk: overdue_cutoff(now, r.target_hours * 3600, r.hours) for pk, r in reviews.items()
    }
    for program_id, submitted_at, claimed_id, claimed_until, claimed_name, assigned_id, \
            assigned_name in pending:
        overdue = submitted_at is not None and submitted_at < cutoffs[program_id]
        stats = by_program[program_id]
        stats.pending += 1
        stats.pending_overdue += overdue
        if claimed_id and claimed_until and claimed_until >= now:
            holder: tuple[int | None, str] | None = (claimed_id, claimed_name)
        elif assigned_id:
            holder = (assigned_id, assigned_name)
        else:
            holder = None
        if holder is not None:
            row = curator_row(*holder)
            row.pending += 1
            row.pending_overdue += overdue
    return ReviewStats(
        programs=list(by_program.values()),
        curators=sorted(curators.values(), key=lambda c: (c.curator_id is None, c.name)),
        since=since,
        until=until,
    )


@dataclass(frozen=True)
class OverdueAttempt:
    attempt_id: int
    participant: str
    task: str
    submitted_at: datetime
    waiting_hours: float
    curator: str

    @property
    def dedupe_key(self) -> str:
        """Stable per attempt: a sender that keeps it sends each notice once."""
        return f"review-overdue:{self.attempt_id}"


@dataclass(frozen=True)
class OverdueNotice:
    """For the lead curator (admins when the program has none): answers just overdue."""

    organization_id: int
    program_id: int
    program_title: str
    recipient_ids: tuple[int, ...]
    target_hours: int
    attempts: tuple[OverdueAttempt, ...]


def review_overdue_scan(*, now: datetime, since: datetime | None = None) -> list[OverdueNotice]:
    """Answers that went overdue in (since, now], grouped into one notice per program.

    Stateless and idempotent: an answer goes overdue at one instant (its deadline), so
    consecutive scans over adjacent windows name each answer once, and running a scan
    again for the same window gives the same notices. The beat passes the previous
    firing as `since` (default: 15 minutes back, the job's cadence).
    """
    if since is None:
        since = now - timedelta(minutes=15)
    if since >= now:
        return []
    notices: list[OverdueNotice] = []
    active = Attempt.objects.filter(status=AttemptStatus.SUBMITTED).exclude(submitted_at=None)
    program_ids = set(active.values_list("submission__program_id", flat=True).distinct())
    reviews = program_reviews(program_ids)
    programs = Program.objects.in_bulk(program_ids)
    for program_id in sorted(program_ids):
        review = reviews[program_id]
        target = review.target_hours * 3600
        newer = overdue_cutoff(now, target, review.hours)  # overdue now: submitted < newer
        older = overdue_cutoff(since, target, review.hours)  # overdue before: < older
        if newer <= older:
            continue
        rows = (
            active.filter(
                submission__program_id=program_id,
                submitted_at__gte=older,
                submitted_at__lt=newer,
            )
            .select_related(
                "submission__person", "submission__task", "claimed_by",
                "submission__assigned_curator",
            )
            .order_by("submitted_at", "pk")
        )
        attempts = []
        for attempt in rows:
            assert attempt.submitted_at is not None
            holder = attempt.claimed_by or attempt.submission.assigned_curator
            attempts.append(
                OverdueAttempt(
                    attempt_id=attempt.pk,
                    participant=attempt.submission.person.full_name,
                    task=attempt.submission.task.title,
                    submitted_at=attempt.submitted_at,
                    waiting_hours=working_seconds(attempt.submitted_at, now, review.hours)
                    / 3600,
                    curator=holder.full_name if holder else "",
                )
            )
        if not attempts:
            continue
        program = programs[program_id]
        if review.lead_curator_id is not None:
            recipients: tuple[int, ...] = (review.lead_curator_id,)
        else:
            recipients = tuple(
                Person.objects.filter(
                    organization_id=program.organization_id,
                    is_active=True,
                    roles__contains=Role.ADMIN.value,
                ).values_list("pk", flat=True)
            )
        notices.append(
            OverdueNotice(
                organization_id=program.organization_id,
                program_id=program_id,
                program_title=program.title,
                recipient_ids=recipients,
                target_hours=review.target_hours,
                attempts=tuple(attempts),
            )
        )
    return notices


def review_overdue_list(*, organization: Organization, now: datetime,
                        program_id: int | None = None) -> list[OverdueAttempt]:
    """Every answer overdue now (for the CLI and the stats page), oldest first."""
    filters = QueueFilters(program_id=program_id)
    reviews = program_reviews(_org_program_ids(organization, filters))
    overdue_q = _overdue_q(now, reviews)
    if overdue_q is None:
        return []
    qs = (
        Attempt.objects.filter(organization=organization, status=AttemptStatus.SUBMITTED)
        .filter(overdue_q)
        .select_related(
            "submission__person", "submission__task", "claimed_by",
            "submission__assigned_curator",
        )
        .order_by("submitted_at", "pk")
    )
    if program_id is not None:
        qs = qs.filter(submission__program_id=program_id)
    result = []
    for attempt in qs:
        assert attempt.submitted_at is not None
        review = reviews[attempt.submission.program_id]
        holder = (
            attempt.claimed_by
            if attempt.claimed_until and attempt.claimed_until >= now
            else attempt.submission.assigned_curator
        )
        result.append(
            OverdueAttempt(
                attempt_id=attempt.pk,
                participant=attempt.submission.person.full_name,
                task=attempt.submission.task.title,
                submitted_at=attempt.submitted_at,
                waiting_hours=working_seconds(attempt.submitted_at, now, review.hours) / 3600,
                curator=holder.full_name if holder else "",
            )
        )
    return result


# --- audit -----------------------------------------------------------------------------------

AUDIT_PAGE_SIZE = 100


@dataclass(frozen=True)
class AuditFilters:
    actor_id: int | None = None
    program_id: int | None = None
    kind: str = ""
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditPage:
    events: list[ReviewEvent]
    next_cursor: str


def audit_events(
    *, organization: Organization, filters: AuditFilters, cursor: str = "",
    limit: int = AUDIT_PAGE_SIZE,
) -> AuditPage:
    """Review events newest first, keyset-paged by (at, id)."""
    qs = ReviewEvent.objects.filter(organization=organization)
    if filters.actor_id is not None:
        qs = qs.filter(actor_id=filters.actor_id)
    if filters.program_id is not None:
        qs = qs.filter(attempt__submission__program_id=filters.program_id)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.since is not None:
        qs = qs.filter(at__gte=filters.since)
    if filters.until is not None:
        qs = qs.filter(at__lt=filters.until)
    after = queue_cursor_decode(cursor)
    if after is not None:
        stamp, pk = after
        qs = qs.filter(at__lte=stamp).filter(Q(at__lt=stamp) | Q(at=stamp, pk__lt=pk))
    events = list(
        qs.select_related(
            "actor", "attempt__submission__person", "attempt__submission__task",
            "attempt__submission__program",
        ).order_by("-at", "-pk")[: limit + 1]
    )
    more = len(events) > limit
    events = events[:limit]
    next_cursor = ""
    if more and events:
        last = events[-1]
        raw = f"{last.at.astimezone(UTC).isoformat()}|{last.pk}"
        next_cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    return AuditPage(events=events, next_cursor=next_cursor)


def audit_actors(*, organization: Organization) -> list[Person]:
    """People who appear in the organisation's review events (the audit's curator filter)."""
    ids = (
        ReviewEvent.objects.filter(organization=organization)
        .exclude(actor=None)
        .values_list("actor_id", flat=True)
        .distinct()
    )
    return list(Person.objects.filter(organization=organization, pk__in=ids).order_by("full_name"))
