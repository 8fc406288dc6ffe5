"""The curator's side over REST, mounted at /api/v1/review: the queue (keyset cursor),
next answer, claim, release, return for revision, grade, and turnaround stats.

Programs, tracks, units, tasks and attempts are looked up inside the caller's
organisation: another organisation's id is a 404 like an unknown one. Curators and
admins only (403 for other roles); stats for admins and lead curators.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import ConfigDict, Field

from fokus.core import clock
from fokus.core.api.errors import ERROR_RESPONSES, ErrorOut, error_body
from fokus.core.models import Organization
from fokus.core.tenancy import request_organization
from fokus.people.models import Person
from fokus.programs.schedule import zone
from fokus.review import queries
from fokus.review.errors import ClaimConflict, ReviewError, ReviewForbidden
from fokus.review.models import Attempt
from fokus.review.queries import FilterNotFound, QueueFilters
from fokus.review.services import (
    attempt_claim,
    attempt_claim_next,
    attempt_grade,
    attempt_release,
    attempt_return_for_revision,
)

router = Router(tags=["review"])
RESPONSES: dict[int, type[ErrorOut]] = {**ERROR_RESPONSES, 409: ErrorOut}


class QueueQuery(Schema):
    program: str = Field("", description="A program slug.")
    track: str = Field("", description="A track slug (within the program, if given).")
    day_index: int | None = Field(None, ge=1, description="The learning day number.")
    unit_id: int | None = Field(None, description="The participant's dealership (unit).")
    task_id: int | None = None
    mine: bool = Field(False, description="Only answers claimed by me or assigned to me.")


class PageQuery(Schema):
    cursor: str = Field("", max_length=200, description="`next_cursor` of the previous page.")
    limit: int = Field(queries.QUEUE_PAGE_SIZE, ge=1, le=200)


class PersonRef(Schema):
    employee_number: str
    full_name: str


class QueueItemOut(Schema):
    attempt_id: int
    number: int
    submitted_at: datetime
    is_late: bool
    waiting_hours: float = Field(description="Working hours since the answer was sent.")
    target_hours: int
    overdue: bool
    participant: PersonRef
    unit: str | None
    program: str
    track: str
    day_index: int
    task_id: int
    task_title: str
    grade_max: int
    claimed_by: PersonRef | None
    claimed_until: datetime | None
    assigned_curator: PersonRef | None


class CountsOut(Schema):
    total: int
    overdue: int
    claimed: int
    unclaimed: int


class QueueOut(Schema):
    counts: CountsOut
    items: list[QueueItemOut]
    next_cursor: str | None


class AttemptStateOut(Schema):
    attempt_id: int
    status: str
    grade: int | None
    feedback: str
    claimed_by: PersonRef | None
    claimed_until: datetime | None


class ReturnIn(Schema):
    model_config = ConfigDict(extra="forbid")

    feedback: str = Field(min_length=1, max_length=10_000)


class GradeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    grade: int = Field(description="1 to the task's highest grade.")
    feedback: str = Field(min_length=1, max_length=10_000)
    rubric: dict[str, int | str] | None = Field(
        None, description='Optional marks per criterion, e.g. {"structure": 2}.'
    )


class StatsQuery(Schema):
    program: str = ""
    since: date | None = Field(
        None, description="First day (the curator's zone); default 30 days back."
    )
    until: date | None = Field(None, description="Last day, included; default today.")


class ProgramStatsOut(Schema):
    program: str
    target_hours: int
    pending: int
    pending_overdue: int
    decided: int
    late: int
    median_first_feedback_hours: float | None
    p90_first_feedback_hours: float | None
    revision_rounds_per_answer: float | None


class CuratorStatsOut(Schema):
    curator: str
    graded: int
    returned: int
    late: int
    median_hours: float | None
    pending: int
    pending_overdue: int


class StatsOut(Schema):
    since: datetime
    until: datetime
    programs: list[ProgramStatsOut]
    curators: list[CuratorStatsOut]


# --- access -----------------------------------------------------------------------------


def _reviewer(request: HttpRequest) -> tuple[Organization, Person]:
    organization = request_organization(request)
    person = getattr(request, "person", None)
    if person is None or person.organization_id != organization.pk:
        raise HttpError(403, _("Only curators and admins of the organisation review answers."))
    if not queries.person_may_review(person):
        raise HttpError(403, _("Only curators and admins of the organisation review answers."))
    return organization, person


def _filters(organization: Organization, q: QueueQuery) -> QueueFilters:
    try:
        return queries.queue_filters_resolve(
            organization=organization, program=q.program, track=q.track,
            day_index=q.day_index, unit_id=q.unit_id, task_id=q.task_id, mine=q.mine,
        )
    except FilterNotFound as missing:
        raise HttpError(404, _("Not found.")) from missing


def _attempt(organization: Organization, attempt_id: int) -> Attempt:
    attempt = queries.review_attempt(organization=organization, attempt_id=attempt_id)
    if attempt is None:
        raise HttpError(404, _("Not found."))
    return attempt


def _ref(person: Person | None) -> dict[str, str] | None:
    if person is None:
        return None
    return {"employee_number": person.employee_number, "full_name": person.full_name}


def _state(attempt: Attempt) -> dict[str, Any]:
    fresh = Attempt.objects.select_related("claimed_by").get(pk=attempt.pk)
    return {
        "attempt_id": fresh.pk,
        "status": fresh.status,
        "grade": fresh.grade,
        "feedback": fresh.feedback,
        "claimed_by": _ref(fresh.claimed_by),
        "claimed_until": fresh.claimed_until,
    }


def _refused(exc: ReviewError) -> Status:
    if isinstance(exc, ReviewForbidden):
        return Status(403, error_body(403, exc.message))
    if isinstance(exc, ClaimConflict):
        return Status(409, error_body(409, exc.message))
    errors = [{"field": exc.field, "message": exc.message}] if exc.field else []
    return Status(400, error_body(400, exc.message, errors))


# --- routes -----------------------------------------------------------------------------


@router.get("/queue", response={200: QueueOut, **RESPONSES}, operation_id="review_queue")
def review_queue(
    request: HttpRequest, filters: Query[QueueQuery], page: Query[PageQuery]
) -> Any:
    """Answers awaiting review, oldest first; `next_cursor` fetches the next page."""
    organization, person = _reviewer(request)
    result = queries.queue_page(
        organization=organization,
        filters=_filters(organization, filters),
        curator=person,
        now=clock.now(),
        cursor=page.cursor,
        limit=page.limit,
    )
    items = []
    for row in result.rows:
        a, s = row.attempt, row.attempt.submission
        items.append({
            "attempt_id": a.pk,
            "number": a.number,
            "submitted_at": a.submitted_at,
            "is_late": a.is_late,
            "waiting_hours": round(row.waiting_hours, 2),
            "target_hours": row.target_hours,
            "overdue": row.overdue,
            "participant": _ref(s.person),
            "unit": s.unit.name if s.unit else None,
            "program": s.program.slug,
            "track": s.track.slug,
            "day_index": s.task.day.index,
            "task_id": s.task_id,
            "task_title": s.task.title,
            "grade_max": s.task.grade_max,
            "claimed_by": _ref(a.claimed_by) if row.claim_live else None,
            "claimed_until": a.claimed_until if row.claim_live else None,
            "assigned_curator": _ref(s.assigned_curator),
        })
    counts = result.counts
    return {
        "counts": {
            "total": counts.total, "overdue": counts.overdue, "claimed": counts.claimed,
            "unclaimed": counts.unclaimed,
        },
        "items": items,
        "next_cursor": result.next_cursor or None,
    }


@router.post("/next", response={200: AttemptStateOut, 204: None, **RESPONSES},
             operation_id="review_next")
def review_next(request: HttpRequest, filters: Query[QueueQuery]) -> Any:
    """Claim the oldest matching answer nobody holds (204 when there is none)."""
    organization, person = _reviewer(request)
    try:
        attempt = attempt_claim_next(
            organization=organization, curator=person, filters=_filters(organization, filters)
        )
    except ReviewError as exc:
        return _refused(exc)
    if attempt is None:
        return Status(204, None)
    return Status(200, _state(attempt))


@router.post("/attempts/{attempt_id}/claim", response={200: AttemptStateOut, **RESPONSES},
             operation_id="review_claim")
def review_claim(request: HttpRequest, attempt_id: int) -> Any:
    """Take the answer for review (409 if another curator holds it); the holder renews."""
    organization, person = _reviewer(request)
    attempt = _attempt(organization, attempt_id)
    try:
        attempt_claim(attempt=attempt, curator=person)
    except ReviewError as exc:
        return _refused(exc)
    return Status(200, _state(attempt))


@router.post("/attempts/{attempt_id}/release", response={200: AttemptStateOut, **RESPONSES},
             operation_id="review_release")
def review_release(request: HttpRequest, attempt_id: int) -> Any:
    """Give the claim back (nothing happens if the caller does not hold it)."""
    organization, person = _reviewer(request)
    attempt = _attempt(organization, attempt_id)
    try:
        attempt_release(attempt=attempt, curator=person)
    except ReviewError as exc:
        return _refused(exc)
    return Status(200, _state(attempt))


@router.post("/attempts/{attempt_id}/return", response={200: AttemptStateOut, **RESPONSES},
             operation_id="review_return")
def review_return(request: HttpRequest, attempt_id: int, payload: ReturnIn) -> Any:
    """Return for revision with feedback (claims the answer if nobody holds it)."""
    organization, person = _reviewer(request)
    attempt = _attempt(organization, attempt_id)
    try:
        attempt_return_for_revision(attempt=attempt, curator=person, feedback=payload.feedback)
    except ReviewError as exc:
        return _refused(exc)
    return Status(200, _state(attempt))


@router.post("/attempts/{attempt_id}/grade", response={200: AttemptStateOut, **RESPONSES},
             operation_id="review_grade")
def review_grade(request: HttpRequest, attempt_id: int, payload: GradeIn) -> Any:
    """Grade with feedback on the task's scale; writes the learning points once."""
    organization, person = _reviewer(request)
    attempt = _attempt(organization, attempt_id)
    try:
        attempt_grade(
            attempt=attempt, curator=person, grade=payload.grade, feedback=payload.feedback,
            rubric=dict(payload.rubric) if payload.rubric is not None else None,
        )
    except ReviewError as exc:
        return _refused(exc)
    return Status(200, _state(attempt))


@router.get("/stats", response={200: StatsOut, **RESPONSES}, operation_id="review_stats")
def review_stats(request: HttpRequest, q: Query[StatsQuery]) -> Any:
    """Turnaround by program and curator (admins: all programs; lead curators: theirs)."""
    organization = request_organization(request)
    person = getattr(request, "person", None)
    if not queries.person_may_see_stats(person):
        raise HttpError(403, _("Turnaround is for admins and lead curators."))
    assert person is not None
    program_ids: list[int] | None = (
        None if queries.person_is_review_admin(person) else queries.programs_led_by(person)
    )
    if q.program:
        try:
            selected = queries.queue_filters_resolve(
                organization=organization, program=q.program
            ).program_id
        except FilterNotFound as missing:
            raise HttpError(404, _("Not found.")) from missing
        if selected is None or (program_ids is not None and selected not in program_ids):
            raise HttpError(404, _("Not found."))
        program_ids = [selected]
    now = clock.now()
    tz = zone(person.time_zone)
    until = (
        datetime.combine(q.until + timedelta(days=1), time(0), tzinfo=tz) if q.until else now
    )
    since = (
        datetime.combine(q.since, time(0), tzinfo=tz) if q.since else until - timedelta(days=30)
    )
    if since >= until:
        return Status(400, error_body(400, _("The first day must come before the last day."),
                                      [{"field": "since", "message": str(q.since)}]))
    report = queries.review_stats(
        organization=organization, program_ids=program_ids, since=since, until=until, now=now
    )
    return {
        "since": since,
        "until": until,
        "programs": [
            {
                "program": p.program.slug, "target_hours": p.target_hours, "pending": p.pending,
                "pending_overdue": p.pending_overdue, "decided": p.decided, "late": p.late,
                "median_first_feedback_hours": _round(p.median_first_feedback),
                "p90_first_feedback_hours": _round(p.p90_first_feedback),
                "revision_rounds_per_answer": _round(p.rounds_per_submission),
            }
            for p in report.programs
        ],
        "curators": [
            {
                "curator": c.name, "graded": c.graded, "returned": c.returned, "late": c.late,
                "median_hours": _round(c.median_hours), "pending": c.pending,
                "pending_overdue": c.pending_overdue,
            }
            for c in report.curators
        ],
    }


def _round(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None
