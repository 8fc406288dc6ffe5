"""Writes for answers and their review: drafts, attempts, claims, decisions, grade changes.

The lifecycle of an attempt (docs/review.md): draft → submitted → returned | graded.
A returned attempt stays as it was (with its feedback); the participant answers again
in a new attempt, up to the program's maximum. Graded is final; an admin or the lead
curator may change a grade, which writes a correction to the points ledger.

Claims: a curator claims a submitted attempt with one conditional UPDATE (`... WHERE
claimed_until IS NULL OR claimed_until < now OR claimed_by = me`): of two curators who
claim at the same moment exactly one changes the row; the other gets ClaimConflict. On
PostgreSQL the second UPDATE waits for the first row lock and re-checks the condition;
on SQLite the IMMEDIATE transaction serialises the two. Decisions go through the same
claim, then a second conditional UPDATE (`status = submitted AND claimed_by = me`), so
an attempt is decided once.

Every claim, release, decision and grade change is a ReviewEvent (who, when, before,
after).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Count, Max, Q
from django.urls import reverse
from django.utils import formats, translation
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from fokus.core import clock
from fokus.delivery.models import Channel, Delivery, DeliveryKind
from fokus.delivery.services import delivery_enqueue
from fokus.leaderboard.services import standings_refresh
from fokus.people.models import Person, Role
from fokus.programs.models import AnswerKind, Enrollment, EnrollmentStatus, Program, Task
from fokus.programs.schedule import contact_instant, zone
from fokus.review import files as answer_files
from fokus.review.errors import (
    AlreadyDecided,
    AnswerRefused,
    ClaimConflict,
    FileRefused,
    ReviewError,
    ReviewForbidden,
)
from fokus.review.models import (
    Attempt,
    AttemptFile,
    AttemptStatus,
    ReviewEvent,
    ReviewEventKind,
    ReviewSettings,
    Submission,
)
from fokus.scoring.services import grade_points_record
from fokus.telegram.models import TelegramChat

__all__ = [
    "AlreadyDecided",
    "AnswerRefused",
    "ClaimConflict",
    "FileRefused",
    "ReviewError",
    "ReviewForbidden",
    "ReviewNotice",
    "answer_deadline",
    "attempt_claim",
    "attempt_grade",
    "attempt_grade_change",
    "attempt_release",
    "attempt_return_for_revision",
    "attempt_save_draft",
    "attempt_submit",
    "review_notice_for_curator",
    "review_notice_for_participant",
    "review_settings_of",
]

TEXT_MAX = 20_000
FEEDBACK_MAX = 10_000
REASON_MAX = 1_000
LINK_MAX = 1_000
RUBRIC_MAX_ITEMS = 20
REVIEWER_ROLES = frozenset({Role.CURATOR.value, Role.ADMIN.value})


# --- settings and rules ------------------------------------------------------------------


def review_settings_of(program: Program) -> ReviewSettings:
    """The program's review settings; defaults (unsaved) when none were stored."""
    found = ReviewSettings.objects.filter(program=program).first()
    return found if found is not None else ReviewSettings(program=program)


def answer_deadline(*, task: Task, person: Person, settings: ReviewSettings) -> datetime:
    """The instant after which an answer is late, on the participant's own clock.

    With `answer_days` empty: the end of the program's last day. With N: the end of the
    task's learning day plus N days. "End of a day" is the next midnight in the zone.
    """
    program = task.track.program
    last: date = (
        program.ends_on if settings.answer_days is None
        else task.day.date + timedelta(days=settings.answer_days)
    )
    return contact_instant(last + timedelta(days=1), time(0), person.time_zone)


def task_opens_at(*, task: Task, person: Person) -> datetime:
    return contact_instant(task.day.date, task.slot.local_time, person.time_zone)


def is_reviewer(person: Person, program: Program) -> bool:
    return (
        person.is_active
        and person.organization_id == program.organization_id
        and bool(person.role_set & REVIEWER_ROLES)
    )


def may_change_grades(person: Person, program: Program, settings: ReviewSettings) -> bool:
    if person.organization_id != program.organization_id or not person.is_active:
        return False
    return person.has_role(Role.ADMIN) or (
        settings.lead_curator_id is not None and settings.lead_curator_id == person.pk
    )


# --- the participant's side ----------------------------------------------------------------


def _task_for(person: Person, task: Task) -> Task:
    task = Task.objects.select_related("track__program", "day", "slot").get(pk=task.pk)
    if task.track.program.organization_id != person.organization_id:
        raise ReviewForbidden(_("This task belongs to another organisation."))
    return task


def _when(local: datetime) -> str:
    """A date and time in the active language's format (23 ноября 2026 г. 10:00)."""
    return formats.date_format(local, "DATETIME_FORMAT")


def _check_may_answer(person: Person, task: Task, now: datetime) -> None:
    enrolled = Enrollment.objects.filter(
        person=person, track_id=task.track_id, status=EnrollmentStatus.ACTIVE
    ).exists()
    if not enrolled:
        raise ReviewForbidden(_("You are not enrolled in the track of this task."))
    opens_at = task_opens_at(task=task, person=person)
    if opens_at > now:
        local = opens_at.astimezone(zone(person.time_zone))
        raise AnswerRefused(
            _("This task opens on %(when)s your time; answers are accepted from then.")
            % {"when": _when(local)}
        )


def _clean_answer(task: Task, text: str, link: str, uploads: Sequence[Any]) -> tuple[str, str]:
    kinds = set(task.answer_kind_list)
    text = (text or "").strip()
    link = (link or "").strip()
    labels = dict(AnswerKind.choices)
    accepted = ", ".join(str(labels.get(k, k)) for k in task.answer_kind_list)
    if text and AnswerKind.TEXT not in kinds:
        raise AnswerRefused(
            _("This task does not take a text answer (it takes: %(kinds)s).") % {"kinds": accepted},
            field="text",
        )
    if link and AnswerKind.LINK not in kinds:
        raise AnswerRefused(
            _("This task does not take a link (it takes: %(kinds)s).") % {"kinds": accepted},
            field="link",
        )
    if uploads and not kinds & {AnswerKind.PHOTO, AnswerKind.FILE}:
        raise AnswerRefused(
            _("This task does not take photos or files (it takes: %(kinds)s).")
            % {"kinds": accepted},
            field="files",
        )
    if len(text) > TEXT_MAX:
        raise AnswerRefused(
            _("The answer is %(count)s characters long; at most %(max)s.")
            % {"count": len(text), "max": TEXT_MAX},
            field="text",
        )
    if link:
        if len(link) > LINK_MAX:
            raise AnswerRefused(
                _("The link is longer than %(max)s characters.") % {"max": LINK_MAX},
                field="link",
            )
        try:
            URLValidator(schemes=["http", "https"])(link)
        except ValidationError as exc:
            raise AnswerRefused(
                _("“%(link)s” is not a web address (it should start with https://).")
                % {"link": link[:100]},
                field="link",
            ) from exc
    return text, link


def _check_files(
    task: Task, uploads: Sequence[Any], already: int
) -> list[answer_files.CheckedFile]:
    kinds = set(task.answer_kind_list)
    return answer_files.check_uploads(
        uploads,
        photos=AnswerKind.PHOTO in kinds or AnswerKind.FILE in kinds,
        documents=AnswerKind.FILE in kinds,
        already=already,
    )


def _lock_submission(person: Person, task: Task, now: datetime) -> Submission:
    submission, _created = Submission.objects.get_or_create(
        person=person,
        task=task,
        defaults={
            "organization_id": person.organization_id,
            "program": task.track.program,
            "track_id": task.track_id,
            "unit_id": person.unit_id,
            "created_at": now,
            "updated_at": now,
        },
    )
    # Serialises two saves of the same person on the same task (two tabs, web + bot).
    return Submission.objects.select_for_update().get(pk=submission.pk)


def _latest(submission: Submission) -> Attempt | None:
    return submission.attempts.order_by("-number").first()


def _working_attempt(
    submission: Submission, settings: ReviewSettings, now: datetime
) -> tuple[Attempt, bool]:
    """The draft to write into: the current draft, or a new attempt (returns created?)."""
    latest = _latest(submission)
    if latest is not None and latest.status == AttemptStatus.DRAFT:
        return latest, False
    if latest is not None and latest.status == AttemptStatus.SUBMITTED:
        raise AnswerRefused(
            _("Your answer is awaiting review; you can change it if the curator returns it.")
        )
    if latest is not None and latest.status == AttemptStatus.GRADED:
        raise AnswerRefused(_("This task is already graded; no more answers are taken."))
    number = (latest.number if latest is not None else 0) + 1
    if number > settings.max_attempts:
        if settings.max_attempts == 1:
            raise AnswerRefused(_("You have used the only attempt for this task."))
        raise AnswerRefused(
            ngettext(
                "You have used all %(max)s attempt for this task.",
                "You have used all %(max)s attempts for this task.",
                settings.max_attempts,
            )
            % {"max": settings.max_attempts}
        )
    attempt = Attempt(
        organization_id=submission.organization_id,
        submission=submission,
        number=number,
        status=AttemptStatus.DRAFT,
    )
    return attempt, True


def _attach(
    attempt: Attempt, checked: list[answer_files.CheckedFile], now: datetime, written: list[str]
) -> None:
    """Store the files, then their rows; `written` learns the names before any row is made,
    so the caller can take the files back if anything after this fails."""
    names = answer_files.store(checked)
    written.extend(names)
    AttemptFile.objects.bulk_create(
        [
            AttemptFile(
                attempt=attempt,
                storage_name=name,
                original_name=c.original_name,
                content_type=c.content_type,
                size=c.size,
                sha256=c.sha256,
                uploaded_at=now,
            )
            for name, c in zip(names, checked, strict=True)
        ]
    )


def _write_answer(
    *, person: Person, task: Task, text: str, link: str, files: Sequence[Any], submit: bool
) -> Attempt:
    now = clock.now()
    task = _task_for(person, task)
    _check_may_answer(person, task, now)
    text, link = _clean_answer(task, text, link, files)
    program = task.track.program
    settings = review_settings_of(program)
    # Files are read and checked before the write transaction (it would hold the lock
    # while 200 MB are parsed); the count is checked again under the lock.
    draft_files = AttemptFile.objects.filter(
        attempt__submission__person=person, attempt__submission__task=task,
        attempt__status=AttemptStatus.DRAFT,
    ).count()
    checked = _check_files(task, files, draft_files)
    written: list[str] = []
    try:
        with transaction.atomic():
            submission = _lock_submission(person, task, now)
            attempt, created = _working_attempt(submission, settings, now)
            existing_files = 0 if created else attempt.files.count()
            if checked and existing_files + len(checked) > answer_files.MAX_FILES:
                _check_files(task, files, existing_files)
            if submit:
                kinds = set(task.answer_kind_list)
                has_files = bool(checked) or existing_files > 0
                filled = (
                    (text and AnswerKind.TEXT in kinds)
                    or (link and AnswerKind.LINK in kinds)
                    or (has_files and kinds & {AnswerKind.PHOTO, AnswerKind.FILE})
                )
                if not filled:
                    raise AnswerRefused(_("The answer is empty: write, attach or link something."))
                deadline = answer_deadline(task=task, person=person, settings=settings)
                attempt.is_late = now >= deadline
                if attempt.is_late and not settings.accept_late:
                    local = deadline.astimezone(zone(person.time_zone))
                    raise AnswerRefused(
                        _("Answers to this task were due by %(when)s your time; late answers "
                          "are not accepted in this program.")
                        % {"when": _when(local)}
                    )
                attempt.status = AttemptStatus.SUBMITTED
                attempt.submitted_at = now
            attempt.text = text
            attempt.link = link
            attempt.save()
            _attach(attempt, checked, now, written)
            submission.status = attempt.status
            submission.updated_at = now
            if submission.unit_id is None and person.unit_id is not None:
                submission.unit_id = person.unit_id
            if submit:
                _event(attempt, person, ReviewEventKind.SUBMITTED, {},
                       {"number": attempt.number, "is_late": attempt.is_late}, now)
                if settings.auto_assign and submission.assigned_curator_id is None:
                    curator = _least_loaded_curator(program)
                    if curator is not None:
                        submission.assigned_curator = curator
                        _event(attempt, None, ReviewEventKind.ASSIGNED, {},
                               {"curator": curator.pk}, now)
            submission.save(update_fields=["status", "updated_at", "unit", "assigned_curator"])
            if submit:
                review_notice_for_curator(attempt=attempt)
    except BaseException:
        answer_files.remove(written)
        raise
    return attempt


def attempt_save_draft(
    *, person: Person, task: Task, text: str, link: str, files: Sequence[Any]
) -> Attempt:
    """Keep the participant's unfinished answer; files attach to the draft."""
    return _write_answer(person=person, task=task, text=text, link=link, files=files, submit=False)


def attempt_submit(
    *, person: Person, task: Task, text: str, link: str, files: Sequence[Any]
) -> Attempt:
    """Send the answer for review (the current draft, or a new attempt after a return)."""
    return _write_answer(person=person, task=task, text=text, link=link, files=files, submit=True)


def _least_loaded_curator(program: Program) -> Person | None:
    """The active curator of the organisation with the fewest answers awaiting them."""
    return (
        Person.objects.filter(
            organization_id=program.organization_id,
            is_active=True,
            roles__contains=Role.CURATOR.value,
        )
        .annotate(
            load=Count(
                "assigned_submissions",
                filter=Q(assigned_submissions__status=AttemptStatus.SUBMITTED),
            )
        )
        .order_by("load", "pk")
        .first()
    )


# --- claims --------------------------------------------------------------------------------


def _event(
    attempt: Attempt,
    actor: Person | None,
    kind: str,
    before: dict[str, Any],
    after: dict[str, Any],
    at: datetime,
) -> ReviewEvent:
    return ReviewEvent.objects.create(
        organization_id=attempt.organization_id,
        attempt=attempt,
        actor=actor,
        kind=kind,
        before=before,
        after=after,
        at=at,
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _program_of(attempt: Attempt) -> Program:
    return Program.objects.get(submissions__attempts=attempt)


def _check_reviewer(attempt: Attempt, curator: Person, program: Program) -> None:
    if attempt.organization_id != curator.organization_id or not is_reviewer(curator, program):
        raise ReviewForbidden(_("Only curators and admins of the organisation review answers."))


def _not_pending(attempt: Attempt) -> AlreadyDecided:
    return AlreadyDecided(
        _("This answer is no longer awaiting review (it is %(status)s).")
        % {"status": attempt.get_status_display()}
    )


@transaction.atomic
def attempt_claim(*, attempt: Attempt, curator: Person) -> Attempt:
    """Take the attempt for review for ReviewSettings.claim_minutes; the holder may renew.

    Raises ClaimConflict if another curator holds it, AlreadyDecided if it is decided.
    """
    program = _program_of(attempt)
    _check_reviewer(attempt, curator, program)
    settings = review_settings_of(program)
    now = clock.now()
    before = Attempt.objects.filter(pk=attempt.pk).values(
        "claimed_by_id", "claimed_until", "status"
    ).first()
    if before is None:
        raise ReviewForbidden(_("This answer does not exist."))
    until = now + timedelta(minutes=settings.claim_minutes)
    won = (
        Attempt.objects.filter(
            pk=attempt.pk, organization_id=curator.organization_id,
            status=AttemptStatus.SUBMITTED,
        )
        .filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now) | Q(claimed_by=curator)
        )
        .update(claimed_by=curator, claimed_until=until)
    )
    fresh = Attempt.objects.select_related("claimed_by").get(pk=attempt.pk)
    if not won:
        if fresh.status != AttemptStatus.SUBMITTED:
            raise _not_pending(fresh)
        holder = fresh.claimed_by.full_name if fresh.claimed_by else _("another curator")
        local = fresh.claimed_until.astimezone(zone(settings.working_time_zone)) if (
            fresh.claimed_until
        ) else None
        raise ClaimConflict(
            _("%(name)s is reviewing this answer until %(time)s.")
            % {"name": holder, "time": local.strftime("%H:%M") if local else "—"}
        )
    previous, previous_until = before["claimed_by_id"], before["claimed_until"]
    if previous is not None and previous != curator.pk and previous_until is not None:
        _event(fresh, None, ReviewEventKind.CLAIM_EXPIRED,
               {"claimed_by": previous, "claimed_until": _iso(previous_until)}, {}, now)
    held = previous == curator.pk and previous_until is not None and previous_until >= now
    if not held:
        _event(fresh, curator, ReviewEventKind.CLAIMED,
               {"claimed_by": None if previous == curator.pk else previous,
                "claimed_until": None if previous == curator.pk else _iso(previous_until)},
               {"claimed_by": curator.pk, "claimed_until": _iso(until)}, now)
    return fresh


@transaction.atomic
def attempt_release(*, attempt: Attempt, curator: Person) -> Attempt:
    """Give the claim back (nothing happens if the curator does not hold it)."""
    now = clock.now()
    current = Attempt.objects.filter(pk=attempt.pk, organization_id=curator.organization_id).first()
    if current is None:
        raise ReviewForbidden(_("This answer does not exist."))
    released = Attempt.objects.filter(pk=attempt.pk, claimed_by=curator).update(
        claimed_by=None, claimed_until=None
    )
    if released:
        _event(current, curator, ReviewEventKind.RELEASED,
               {"claimed_by": curator.pk, "claimed_until": _iso(current.claimed_until)}, {}, now)
    return Attempt.objects.get(pk=attempt.pk)


# --- decisions -----------------------------------------------------------------------------


def _feedback(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ReviewError(
            _("Feedback is required: tell the participant what is good and what to improve."),
            field="feedback",
        )
    if len(text) > FEEDBACK_MAX:
        raise ReviewError(
            _("Feedback is %(count)s characters long; at most %(max)s.")
            % {"count": len(text), "max": FEEDBACK_MAX},
            field="feedback",
        )
    return text


def _check_grade(grade: Any, task: Task) -> int:
    if isinstance(grade, bool) or not isinstance(grade, int) or not 1 <= grade <= task.grade_max:
        raise ReviewError(
            _("The grade must be a whole number from 1 to %(max)s.") % {"max": task.grade_max},
            field="grade",
        )
    return grade


def _check_rubric(rubric: dict[str, Any] | None) -> dict[str, Any] | None:
    if rubric is None:
        return None
    if not isinstance(rubric, dict) or len(rubric) > RUBRIC_MAX_ITEMS:
        raise ReviewError(
            _("The rubric must be at most %(max)s named marks.") % {"max": RUBRIC_MAX_ITEMS},
            field="rubric",
        )
    for key, value in rubric.items():
        if not isinstance(key, str) or not key.strip() or len(key) > 100:
            raise ReviewError(_("A rubric criterion needs a name of 1–100 characters."),
                              field="rubric")
        if isinstance(value, bool) or not isinstance(value, int | str) or len(str(value)) > 200:
            raise ReviewError(
                _("The rubric mark for “%(name)s” must be a number or a short text.")
                % {"name": key[:100]},
                field="rubric",
            )
    return rubric


def _decide(
    attempt: Attempt, curator: Person, now: datetime, changes: dict[str, Any]
) -> Attempt:
    """Claim (or hold) the attempt, then move it out of `submitted` once."""
    attempt_claim(attempt=attempt, curator=curator)
    done = Attempt.objects.filter(
        pk=attempt.pk, status=AttemptStatus.SUBMITTED, claimed_by=curator
    ).update(decided_by=curator, decided_at=now, claimed_by=None, claimed_until=None, **changes)
    fresh = Attempt.objects.select_related(
        "submission__task__track__program", "submission__task__day", "submission__person"
    ).get(pk=attempt.pk)
    if not done:
        raise _not_pending(fresh)
    Submission.objects.filter(pk=fresh.submission_id).update(status=fresh.status, updated_at=now)
    return fresh


@transaction.atomic
def attempt_return_for_revision(*, attempt: Attempt, curator: Person, feedback: str) -> Attempt:
    """Send the answer back with feedback; the participant answers again in a new attempt."""
    feedback = _feedback(feedback)
    program = _program_of(attempt)
    settings = review_settings_of(program)
    number = Attempt.objects.filter(pk=attempt.pk).values_list("number", flat=True).first()
    if number is not None and number >= settings.max_attempts:
        raise ReviewError(
            _("This is the participant's last attempt (%(number)s of %(max)s): grade it instead "
              "of returning it.")
            % {"number": number, "max": settings.max_attempts},
            field="decision",
        )
    now = clock.now()
    fresh = _decide(attempt, curator, now,
                    {"status": AttemptStatus.RETURNED, "feedback": feedback})
    _event(fresh, curator, ReviewEventKind.RETURNED, {"status": AttemptStatus.SUBMITTED.value},
           {"status": AttemptStatus.RETURNED.value, "feedback": feedback}, now)
    review_notice_for_participant(attempt=fresh)
    return fresh


def _points(attempt: Attempt, curator: Person, grade: int) -> None:
    task = attempt.submission.task
    program = task.track.program
    grade_points_record(
        program=program,
        person=attempt.submission.person,
        task=task,
        attempt_key=str(attempt.pk),
        grade=grade,
        graded_by=curator,
        # Learning points count for the task's learning day: a late review does not move
        # them to another day's board, and a correction lands on the same day.
        occurred_on=task.day.date,
    )
    standings_refresh(program=program)


@transaction.atomic
def attempt_grade(
    *,
    attempt: Attempt,
    curator: Person,
    grade: int,
    feedback: str,
    rubric: dict[str, Any] | None = None,
) -> Attempt:
    """Grade the answer on the task's scale; writes its learning points exactly once."""
    feedback = _feedback(feedback)
    rubric = _check_rubric(rubric)
    task = Task.objects.get(submissions__attempts=attempt)
    grade = _check_grade(grade, task)
    now = clock.now()
    fresh = _decide(attempt, curator, now, {
        "status": AttemptStatus.GRADED, "grade": grade, "feedback": feedback, "rubric": rubric,
    })
    _points(fresh, curator, grade)
    _event(fresh, curator, ReviewEventKind.GRADED, {"status": AttemptStatus.SUBMITTED.value},
           {"status": AttemptStatus.GRADED.value, "grade": grade, "feedback": feedback,
            "rubric": rubric}, now)
    review_notice_for_participant(attempt=fresh)
    return fresh


@transaction.atomic
def attempt_grade_change(
    *, attempt: Attempt, curator: Person, grade: int, feedback: str, reason: str
) -> Attempt:
    """Change a given grade (admins, the lead curator); the ledger gets a correction."""
    feedback = _feedback(feedback)
    reason = (reason or "").strip()
    if not reason:
        raise ReviewError(_("Say why the grade changes."), field="reason")
    if len(reason) > REASON_MAX:
        raise ReviewError(_("The reason is longer than %(max)s characters.") % {"max": REASON_MAX},
                          field="reason")
    program = _program_of(attempt)
    settings = review_settings_of(program)
    if attempt.organization_id != curator.organization_id or not may_change_grades(
        curator, program, settings
    ):
        raise ReviewForbidden(_("Only admins and the lead curator change grades."))
    current = (
        Attempt.objects.select_for_update()
        .select_related("submission__task__track__program", "submission__task__day",
                        "submission__person")
        .get(pk=attempt.pk)
    )
    if current.status != AttemptStatus.GRADED or current.grade is None:
        raise ReviewError(_("Only a graded answer can have its grade changed."), field="grade")
    grade = _check_grade(grade, current.submission.task)
    now = clock.now()
    before = {"grade": current.grade, "feedback": current.feedback,
              "decided_by": current.decided_by_id, "decided_at": _iso(current.decided_at)}
    current.grade = grade
    current.feedback = feedback
    current.decided_by = curator
    current.decided_at = now
    current.save(update_fields=["grade", "feedback", "decided_by", "decided_at"])
    _points(current, curator, grade)
    _event(current, curator, ReviewEventKind.GRADE_CHANGED, before,
           {"grade": grade, "feedback": feedback, "reason": reason}, now)
    review_notice_for_participant(attempt=current)
    return current


# --- telling the participant -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReviewNotice:
    """What the participant should hear about a decision, whatever the channel."""

    person_id: int
    attempt_id: int
    task_id: int
    status: str
    grade: int | None
    grade_max: int
    feedback: str
    path: str  # the task page, relative to FOKUS_PUBLIC_URL


def review_notice_for_participant(*, attempt: Attempt) -> ReviewNotice:
    """Tell the participant about a decision: a FEEDBACK message into the outbox.

    Called after every return, grade and grade change, inside the decision's
    transaction: the outbox row commits (or rolls back) with the decision. One message
    per decision event (`review-feedback:<attempt>:<event>`), so a retried call never
    sends twice and a changed grade is told again. Delivery picks the channel, quiet
    hours and the fallback to e-mail (docs/review.md, "Telling the participant").
    """
    submission = attempt.submission
    task = submission.task
    notice = ReviewNotice(
        person_id=submission.person_id,
        attempt_id=attempt.pk,
        task_id=task.pk,
        status=attempt.status,
        grade=attempt.grade,
        grade_max=task.grade_max,
        feedback=attempt.feedback,
        path=reverse("review:task", kwargs={"task_id": task.pk}),
    )
    event_id = (
        ReviewEvent.objects.filter(
            attempt=attempt,
            kind__in=[ReviewEventKind.RETURNED, ReviewEventKind.GRADED,
                      ReviewEventKind.GRADE_CHANGED],
        )
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    person = submission.person
    with translation.override(person_language(person)):
        payload = _feedback_payload(attempt, task, notice)
    delivery_enqueue(
        person=person,
        kind=DeliveryKind.FEEDBACK,
        contact_point=f"review-feedback:{attempt.pk}:{event_id or 0}",
        due_at=clock.now(),
        payload=payload,
        program=submission.program,
    )
    return notice


def person_language(person: Person) -> str:
    known = {code for code, _name in django_settings.LANGUAGES}
    return person.language if person.language in known else django_settings.LANGUAGE_CODE


def public_url(path: str) -> str:
    return django_settings.FOKUS_PUBLIC_URL.rstrip("/") + path


def message_html(paragraphs: Sequence[str]) -> str:
    return "".join("<p>" + escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs if p)


def _feedback_payload(attempt: Attempt, task: Task, notice: ReviewNotice) -> dict[str, Any]:
    title = task.title
    curator = attempt.decided_by.full_name if attempt.decided_by else _("The curator")
    if attempt.status == AttemptStatus.RETURNED:
        subject = _("Your answer to “%(task)s” was returned for revision") % {"task": title}
        lead = _("%(curator)s returned your answer to “%(task)s” for revision. Read the "
                 "feedback and answer again.") % {"curator": curator, "task": title}
    else:
        subject = _("Your answer to “%(task)s” is graded %(grade)s of %(max)s") % {
            "task": title, "grade": attempt.grade, "max": task.grade_max}
        lead = _("%(curator)s graded your answer to “%(task)s”: %(grade)s of %(max)s.") % {
            "curator": curator, "task": title, "grade": attempt.grade, "max": task.grade_max}
    feedback = _("Feedback: %(feedback)s") % {"feedback": attempt.feedback}
    buttons: list[list[dict[str, str]]] = [
        [{"text": _("Open the answer"), "url": public_url(notice.path)}]
    ]
    if attempt.status == AttemptStatus.RETURNED:
        # In Telegram the participant answers again right there (telegram_flows);
        # e-mail leaves callback buttons out.
        buttons.append([{"text": _("Answer again"), "callback_data": f"rv:a:{task.pk}"}])
    return {
        "subject": subject,
        "text": f"{lead}\n\n{feedback}",
        "html": message_html([lead, feedback]),
        "buttons": buttons,
        "task_id": task.pk,
        "task_ids": [task.pk],
        "attempt_id": attempt.pk,
    }


def review_notice_for_curator(*, attempt: Attempt) -> Delivery | None:
    """A new answer awaiting review, sent in Telegram to its curator: the assigned one,
    else the program's lead curator, with the grade buttons and "Return"
    (fokus.review.telegram_flows acts on them). Only when that curator has a reachable
    Telegram chat: on the web the queue already shows the answer."""
    submission = Submission.objects.select_related(
        "assigned_curator", "person", "task", "program"
    ).get(pk=attempt.submission_id)
    settings = review_settings_of(submission.program)
    curator = submission.assigned_curator or settings.lead_curator
    if curator is None or not curator.is_active:
        return None
    if not TelegramChat.objects.filter(person=curator, unreachable_at__isnull=True).exists():
        return None
    with translation.override(person_language(curator)):
        payload = _curator_payload(attempt, submission, settings)
    return delivery_enqueue(
        person=curator,
        kind=DeliveryKind.CURATOR,
        contact_point=f"review-new:{attempt.pk}",
        due_at=clock.now(),
        payload=payload,
        program=submission.program,
        channel=Channel.TELEGRAM,
    )


def _curator_payload(
    attempt: Attempt, submission: Submission, settings: ReviewSettings
) -> dict[str, Any]:
    task = submission.task
    subject = _("New answer: %(person)s, “%(task)s”") % {
        "person": submission.person.full_name, "task": task.title}
    head = _("%(person)s answered “%(task)s” (attempt %(number)s of %(max)s).") % {
        "person": submission.person.full_name, "task": task.title,
        "number": attempt.number, "max": settings.max_attempts}
    if attempt.is_late:
        head += " " + _("The answer is late.")
    parts = [head]
    if attempt.text:
        parts.append(attempt.text if len(attempt.text) <= 1500 else attempt.text[:1500] + "…")
    if attempt.link:
        parts.append(attempt.link)
    files = attempt.files.count()
    if files:
        parts.append(ngettext("%(count)s file attached.", "%(count)s files attached.", files)
                     % {"count": files})
    parts.append(_("Press a grade or “Return”, then write the feedback."))
    grades = [{"text": str(g), "callback_data": f"rv:g:{attempt.pk}:{g}"}
              for g in range(1, task.grade_max + 1)]
    buttons: list[list[dict[str, str]]] = [grades[i:i + 5] for i in range(0, len(grades), 5)]
    if attempt.number < settings.max_attempts:
        buttons.append([{"text": _("Return for revision"), "callback_data": f"rv:r:{attempt.pk}"}])
    buttons.append([{"text": _("Open in Fokus"), "url": public_url(
        reverse("curator:attempt", kwargs={"attempt_id": attempt.pk}))}])
    return {
        "subject": subject,
        "text": "\n\n".join(parts),
        "html": message_html(parts),
        "buttons": buttons,
        "attempt_id": attempt.pk,
        "task_id": task.pk,
    }


def latest_attempt_number(submission: Submission) -> int:
    return submission.attempts.aggregate(n=Max("number"))["n"] or 0


# --- the curator queue: next answer, assignment (appended by the curator side) ----------------


@transaction.atomic
def attempt_claim_next(
    *, organization: Any, curator: Person, filters: Any, skip: Attempt | None = None
) -> Attempt | None:
    """Claim the oldest answer matching the queue filters that nobody holds; None if none.

    An answer the curator already holds in this filter comes first (pressing Next never
    hoards claims). `skip`: an answer the curator passes over; their claim on it is
    released and it is not offered again by this call. Otherwise the candidate row is
    locked with `FOR UPDATE SKIP LOCKED` (PostgreSQL): two curators pressing Next at the
    same moment lock different rows and get different answers. SQLite's IMMEDIATE
    transaction serialises them instead.
    `filters` is a queries.QueueFilters.
    """
    # queries imports this module, so the queue reads are imported here, at call time.
    from fokus.review.queries import queue_claimed_by, queue_next_candidates

    if skip is not None:
        attempt_release(attempt=skip, curator=curator)
    skipped = [skip.pk] if skip is not None else []
    now = clock.now()
    held = (
        queue_claimed_by(organization=organization, filters=filters, curator=curator, now=now)
        .exclude(pk__in=skipped)
        .first()
    )
    if held is not None:
        return attempt_claim(attempt=held, curator=curator)
    for _try in range(5):
        candidate = (
            queue_next_candidates(
                organization=organization, filters=filters, curator=curator, now=now
            )
            .exclude(pk__in=skipped)
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if candidate is None:
            return None
        try:
            return attempt_claim(attempt=candidate, curator=curator)
        except ClaimConflict:
            continue  # decided or claimed between the read and the claim: take the next
    return None


@transaction.atomic
def attempt_assign(*, attempt: Attempt, curator: Person, assignee: Person | None) -> Submission:
    """Give the answer's submission to a curator (None: to nobody); admins, lead curator.

    The assignment stays with the submission, so the participant's next attempt goes to
    the same curator. A live claim of someone else is left alone.
    """
    program = _program_of(attempt)
    settings = review_settings_of(program)
    if attempt.organization_id != curator.organization_id or not may_change_grades(
        curator, program, settings
    ):
        raise ReviewForbidden(_("Only admins and the lead curator assign answers."))
    if assignee is not None and (
        assignee.organization_id != curator.organization_id or not is_reviewer(assignee, program)
    ):
        raise ReviewError(
            _("%(name)s is not an active curator of this organisation.")
            % {"name": assignee.full_name},
            field="assignee",
        )
    submission = Submission.objects.select_for_update().get(pk=attempt.submission_id)
    previous = submission.assigned_curator_id
    new = assignee.pk if assignee is not None else None
    if previous == new:
        return submission
    now = clock.now()
    submission.assigned_curator_id = new
    submission.updated_at = now
    submission.save(update_fields=["assigned_curator", "updated_at"])
    _event(attempt, curator, ReviewEventKind.ASSIGNED, {"curator": previous}, {"curator": new}, now)
    return submission
