"""The participant's side of answers: the task page (draft, submit, resubmit), a read-only
answer page for the author, their managers and curators, and the permission-checked
file download. Times render on the viewer's own clock (participant_view).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from fokus.core import clock
from fokus.people.models import Person
from fokus.programs.markdown import render_markdown
from fokus.programs.models import AnswerKind
from fokus.programs.web.participant import participant_view
from fokus.review import files as answer_files
from fokus.review.errors import AnswerRefused, ReviewForbidden
from fokus.review.models import AttemptStatus
from fokus.review.queries import (
    TaskAnswering,
    file_for_viewer,
    submission_for_viewer,
    task_for_participant,
)
from fokus.review.services import attempt_save_draft, attempt_submit


def _safe_html(text: str) -> str:
    from django.utils.safestring import mark_safe

    return mark_safe(render_markdown(text))  # noqa: S308 - sanitised by nh3 in render_markdown


def _file_accept(page: TaskAnswering) -> str:
    """The file picker's hint (the server decides by content anyway)."""
    if page.takes_files:
        return "image/jpeg,image/png,image/webp,.pdf,.docx,.xlsx,.pptx,.txt"
    return "image/*"


def _context(page: TaskAnswering, **extra: Any) -> dict[str, Any]:
    labels = dict(AnswerKind.choices)
    draft = page.draft
    return {
        "page": page,
        "task": page.task,
        "program": page.task.track.program,
        "prompt_html": _safe_html(page.task.prompt),
        "kinds": [labels.get(k, k) for k in page.kinds],
        "draft": draft,
        "text_value": extra.pop("text_value", draft.text if draft else ""),
        "link_value": extra.pop("link_value", draft.link if draft else ""),
        "file_accept": _file_accept(page),
        "max_files": answer_files.MAX_FILES,
        "max_mb": answer_files.MAX_FILE_BYTES // (1024 * 1024),
        "statuses": AttemptStatus,
        **extra,
    }


@require_http_methods(["GET", "POST"])
@participant_view
def task(request: HttpRequest, person: Person, task_id: int) -> HttpResponse:
    page = task_for_participant(person=person, task_id=task_id, now=clock.now())
    if page is None:
        raise Http404
    if request.method != "POST":
        return render(request, "review/participant/task.html", _context(page))
    submit = request.POST.get("action") != "draft"
    text = request.POST.get("text", "")
    link = request.POST.get("link", "")
    uploads = request.FILES.getlist("files")
    service = attempt_submit if submit else attempt_save_draft
    try:
        attempt = service(person=person, task=page.task, text=text, link=link, files=uploads)
    except (AnswerRefused, ReviewForbidden) as refused:
        page = task_for_participant(person=person, task_id=task_id, now=clock.now())
        if page is None:
            raise Http404 from refused
        context = _context(page, error=refused.message, error_field=refused.field,
                           text_value=text, link_value=link)
        return render(request, "review/participant/task.html", context, status=400)
    if submit:
        if attempt.is_late:
            messages.success(request, _("Your answer is sent for review (marked late)."))
        else:
            messages.success(request, _("Your answer is sent for review."))
    else:
        messages.success(request, _("Draft saved."))
    return redirect("review:task", task_id=task_id)


@require_GET
@participant_view
def answer(request: HttpRequest, person: Person, submission_id: int) -> HttpResponse:
    submission = submission_for_viewer(viewer=person, submission_id=submission_id)
    if submission is None:
        raise Http404
    attempts = [a for a in submission.attempts.all() if a.status != AttemptStatus.DRAFT]
    if submission.person_id != person.pk and not attempts:
        raise Http404
    return render(
        request,
        "review/participant/answer.html",
        {
            "submission": submission,
            "task": submission.task,
            "program": submission.task.track.program,
            "prompt_html": _safe_html(submission.task.prompt),
            "attempts": list(reversed(attempts)),
            "is_author": submission.person_id == person.pk,
            "statuses": AttemptStatus,
        },
    )


@require_GET
@participant_view
def file(request: HttpRequest, person: Person, file_id: int) -> FileResponse:
    found = file_for_viewer(viewer=person, file_id=file_id)
    if found is None:
        raise Http404
    try:
        handle = open(answer_files.path_of(found.storage_name), "rb")  # noqa: SIM115 - FileResponse closes it
    except (OSError, ValueError) as exc:
        raise Http404 from exc
    is_photo = found.content_type in answer_files.PHOTO_TYPES
    response = FileResponse(
        handle,
        content_type=found.content_type,
        as_attachment=not is_photo,
        filename=found.original_name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    # A file never runs as a page of ours, whatever a browser makes of it.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response
