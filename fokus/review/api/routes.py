"""Answers over REST, the participant's side: my submissions, one submission, a new attempt.

Mounted at /api/v1/answers. Every read is scoped to the caller's organisation and to
who may see an answer (its author, curators and admins, the author's managers);
anything else is a 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from fokus.core import clock
from fokus.core.api.errors import ERROR_RESPONSES, error_body
from fokus.core.tenancy import request_organization
from fokus.people.models import Person
from fokus.review.errors import AnswerRefused, ReviewForbidden
from fokus.review.models import Attempt, AttemptStatus, Submission
from fokus.review.queries import submission_for_viewer, submissions_of, task_for_participant
from fokus.review.services import attempt_save_draft, attempt_submit

router = Router(tags=["answers"])


class FileOut(Schema):
    id: int
    name: str
    content_type: str
    size: int
    url: str


class AttemptOut(Schema):
    number: int
    status: str
    text: str
    link: str
    submitted_at: datetime | None
    is_late: bool
    grade: int | None
    feedback: str
    decided_at: datetime | None
    files: list[FileOut]


class SubmissionOut(Schema):
    id: int
    task_id: int
    task_title: str
    program: str
    person: str
    status: str
    grade_max: int
    attempts: list[AttemptOut]


def _attempt_out(attempt: Attempt) -> dict[str, Any]:
    decided = attempt.status in {AttemptStatus.RETURNED, AttemptStatus.GRADED}
    return {
        "number": attempt.number,
        "status": attempt.status,
        "text": attempt.text,
        "link": attempt.link,
        "submitted_at": attempt.submitted_at,
        "is_late": attempt.is_late,
        "grade": attempt.grade if decided else None,
        "feedback": attempt.feedback if decided else "",
        "decided_at": attempt.decided_at if decided else None,
        "files": [
            {
                "id": f.pk,
                "name": f.original_name,
                "content_type": f.content_type,
                "size": f.size,
                "url": reverse("review:file", kwargs={"file_id": f.pk}),
            }
            for f in attempt.files.all()
        ],
    }


def _submission_out(submission: Submission, viewer: Person) -> dict[str, Any]:
    own = submission.person_id == viewer.pk
    return {
        "id": submission.pk,
        "task_id": submission.task_id,
        "task_title": submission.task.title,
        "program": submission.task.track.program.slug,
        "person": submission.person.employee_number,
        "status": submission.status,
        "grade_max": submission.task.grade_max,
        # Someone else's draft is not theirs to read yet.
        "attempts": [
            _attempt_out(a) for a in submission.attempts.all()
            if own or a.status != AttemptStatus.DRAFT
        ],
    }


def _person(request: HttpRequest) -> Person:
    request_organization(request)
    person: Person | None = getattr(request, "person", None)
    if person is None:
        raise Http404
    return person


@router.get("", response={200: list[SubmissionOut], **ERROR_RESPONSES},
            operation_id="answers_mine")
def answers_mine(request: HttpRequest) -> list[dict[str, Any]]:
    """The caller's own submissions (one per task), newest activity first."""
    person = _person(request)
    return [_submission_out(s, person) for s in submissions_of(person=person)[:500]]


@router.get("/{submission_id}", response={200: SubmissionOut, **ERROR_RESPONSES},
            operation_id="answers_detail")
def answers_detail(request: HttpRequest, submission_id: int) -> dict[str, Any]:
    """One submission with its attempts and feedback: the author's own, or one the caller
    may see (curators and admins of the organisation, the author's managers)."""
    person = _person(request)
    submission = submission_for_viewer(viewer=person, submission_id=submission_id)
    if submission is None:
        raise Http404
    return _submission_out(submission, person)


@router.post(
    "/tasks/{task_id}/attempts",
    response={201: AttemptOut, **ERROR_RESPONSES},
    operation_id="answers_attempt_create",
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "text": {"type": "string"},
                            "link": {"type": "string", "format": "uri"},
                            "action": {"type": "string", "enum": ["submit", "draft"],
                                       "default": "submit"},
                            "files": {"type": "array",
                                      "items": {"type": "string", "format": "binary"}},
                        },
                    }
                }
            }
        }
    },
)
def answers_attempt_create(request: HttpRequest, task_id: int) -> Any:
    """Answer a task (multipart form): `text`, `link`, `files` as the task accepts, and
    `action` = `submit` (default: send for review) or `draft` (keep working on it).

    400 names the field or file at fault and saves nothing; 403 when the caller is not
    enrolled in the task's track.
    """
    person = _person(request)
    page = task_for_participant(person=person, task_id=task_id, now=clock.now())
    if page is None:
        raise Http404
    action = request.POST.get("action", "submit")
    if action not in {"submit", "draft"}:
        return Status(400, error_body(
            400, _("“action” must be “submit” or “draft”."),
            [{"field": "action", "message": _("“action” must be “submit” or “draft”.")}],
        ))
    service = attempt_submit if action == "submit" else attempt_save_draft
    try:
        attempt = service(
            person=person, task=page.task, text=request.POST.get("text", ""),
            link=request.POST.get("link", ""), files=request.FILES.getlist("files"),
        )
    except ReviewForbidden as refused:
        return Status(403, error_body(403, refused.message))
    except AnswerRefused as refused:
        errors = [{"field": refused.field, "message": refused.message}] if refused.field else []
        return Status(400, error_body(400, refused.message, errors))
    return Status(201, _attempt_out(attempt))
