"""Supervisors' pages: the team view (and a higher manager's rollup), nudges, support
tasks, confirmations of application at work, the supervisors' board, the template editor.

The program and every person in a URL are looked up inside the caller's organisation
first (a foreign slug or number is a 404); then the reporting chain decides (404 too,
so a supervisor cannot probe who is in another team).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fokus.core import clock
from fokus.core.tenancy import request_organization
from fokus.people.models import Person
from fokus.programs.models import LearningDay, Program
from fokus.review import files as review_files
from fokus.supervision import queries, services
from fokus.supervision.models import RuleKind, SupportTaskTemplate
from fokus.supervision.rules import PLACEHOLDERS

View = Callable[..., HttpResponseBase]


def supervisor_view(view: View) -> View:
    """Signed in with a person of the request's organisation; renders on their clock."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        organization = request_organization(request)
        person: Person | None = getattr(request, "person", None)
        if person is None or person.organization_id != organization.pk:
            raise Http404
        with timezone.override(queries.zone_of(person)):
            return view(request, person, *args, **kwargs)

    return wrapper


def _program(viewer: Person, slug: str) -> Program:
    program = queries.program_of(viewer, slug)
    if program is None:
        raise Http404
    return program


def _report(viewer: Person, employee_number: str) -> Person:
    """Someone below the viewer in the reporting chain, else 404."""
    person = queries.person_in_org(viewer.organization_id, employee_number)
    if person is None or not queries.manages(viewer, person):
        raise Http404
    return person


@require_GET
@supervisor_view
def team_index(request: HttpRequest, viewer: Person) -> HttpResponse:
    programs = queries.programs_with_team(viewer)
    if len(programs) == 1:
        return redirect("supervision:team", program=programs[0].slug)
    return render(request, "supervision/team_index.html", {"programs": programs})


def _team_page(request: HttpRequest, viewer: Person, program: Program, supervisor: Person
               ) -> HttpResponse:
    now = clock.now()
    summary = queries.team_summary(supervisor=supervisor, program=program, now=now)
    rollup = queries.team_rollup(manager=supervisor, program=program, now=now)
    own = viewer.pk == supervisor.pk
    support_tasks = [
        t for t in queries.support_tasks_today(supervisor, now) if t.program_id == program.pk
    ]
    return render(request, "supervision/team.html", {
        "program": program,
        "viewer": viewer,
        "supervisor": supervisor,
        "summary": summary,
        "rollup": rollup,
        "own": own,
        "support_tasks": support_tasks,
        "local_now": now,
        "confirmations": queries.confirmations_by(supervisor, program, limit=10),
    })


@require_GET
@supervisor_view
def team(request: HttpRequest, viewer: Person, program: str) -> HttpResponse:
    return _team_page(request, viewer, _program(viewer, program), viewer)


@require_GET
@supervisor_view
def team_of(request: HttpRequest, viewer: Person, program: str, manager: str) -> HttpResponse:
    found = _program(viewer, program)
    supervisor = queries.person_in_org(viewer.organization_id, manager)
    if supervisor is None or not queries.may_view_team(viewer, supervisor):
        raise Http404
    return _team_page(request, viewer, found, supervisor)


@require_POST
@supervisor_view
def nudge(request: HttpRequest, viewer: Person, program: str, person: str) -> HttpResponse:
    found = _program(viewer, program)
    report = _report(viewer, person)
    try:
        result = services.nudge_send(supervisor=viewer, report=report, program=found)
    except services.SupervisionError as error:
        messages.error(request, str(error))
    else:
        if result.already_sent_today:
            messages.info(request, _("%(name)s has already been reminded today.")
                          % {"name": report.full_name})
        else:
            messages.success(request, _("A reminder is on its way to %(name)s.")
                             % {"name": report.full_name})
    return redirect("supervision:team", program=found.slug)


@require_POST
@supervisor_view
def support_task_resolve(
    request: HttpRequest, viewer: Person, program: str, support_task_id: int
) -> HttpResponse:
    found = _program(viewer, program)
    task = queries.support_task_for(viewer, support_task_id)
    if task is None or task.program_id != found.pk:
        raise Http404
    note = request.POST.get("note", "")
    try:
        if request.POST.get("decision") == "skip":
            services.support_task_skip(task=task, supervisor=viewer, note=note)
        else:
            services.support_task_complete(task=task, supervisor=viewer, note=note)
    except services.SupervisionError as error:
        messages.error(request, str(error))
    back = request.POST.get("next", "")
    if back.startswith("/") and not back.startswith("//"):
        return redirect(back)
    return redirect("supervision:team", program=found.slug)


def _days_so_far(program: Program, report: Person) -> list[LearningDay]:
    today = queries.local_date(report, clock.now())
    return list(program.learning_days.filter(date__lte=today).order_by("-index"))


@require_http_methods(["GET", "POST"])
@supervisor_view
def confirm(request: HttpRequest, viewer: Person, program: str, person: str) -> HttpResponse:
    found = _program(viewer, program)
    report = _report(viewer, person)
    days = _days_so_far(found, report)
    error: services.SupervisionError | None = None
    values: dict[str, Any] = {"day": days[0].pk if days else None, "checklist": {}, "note": ""}
    if request.method == "POST":
        values = {
            "day": request.POST.get("day"),
            "checklist": {key: request.POST.get(key) == "yes" for key in services.CHECKLIST},
            "note": request.POST.get("note", ""),
        }
        day = next((d for d in days if str(d.pk) == values["day"]), None)
        try:
            if day is None:
                raise services.SupervisionError(_("Choose a learning day that has come."),
                                                field="day")
            confirmation = services.application_confirm(
                supervisor=viewer, report=report, program=found, day=day,
                checklist=values["checklist"], note=values["note"],
                photo=request.FILES.get("photo"),
            )
        except services.SupervisionError as exc:
            if exc.permission:
                raise PermissionDenied(str(exc)) from exc
            error = exc
        else:
            if confirmation.points:
                messages.success(request, _("Confirmed: %(name)s gets %(points)s bonus points.")
                                 % {"name": report.full_name, "points": confirmation.points})
            else:
                messages.warning(request, _("Confirmed, without points: %(reason)s")
                                 % {"reason": confirmation.points_refused})
            return redirect("supervision:team", program=found.slug)
    items = [
        {"key": key, "label": label, "checked": bool(values["checklist"].get(key))}
        for key, label in services.CHECKLIST.items()
    ]
    status = 400 if error is not None else 200
    return render(request, "supervision/confirm.html", {
        "program": found, "report": report, "days": days, "items": items, "values": values,
        "error": error,
    }, status=status)


@require_GET
@supervisor_view
def confirmation_photo(request: HttpRequest, viewer: Person, confirmation_id: int) -> FileResponse:
    confirmation = queries.confirmation_for_viewer(viewer, confirmation_id)
    if confirmation is None or not confirmation.photo_storage_name:
        raise Http404
    try:
        handle = open(review_files.path_of(confirmation.photo_storage_name), "rb")  # noqa: SIM115 - FileResponse closes it
    except (OSError, ValueError) as exc:
        raise Http404 from exc
    response = FileResponse(handle, content_type=confirmation.photo_content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response


@require_GET
@supervisor_view
def board(request: HttpRequest, viewer: Person, program: str) -> HttpResponse:
    found = _program(viewer, program)
    return render(request, "supervision/board.html", {
        "program": found, "standings": queries.supervisors_board(found), "viewer": viewer,
    })


@require_http_methods(["GET", "POST"])
@supervisor_view
def support_templates(request: HttpRequest, viewer: Person, program: str) -> HttpResponse:
    found = _program(viewer, program)
    if not services.may_edit_templates(viewer):
        raise PermissionDenied
    templates = services.support_templates_ensure(found)
    errors: dict[int, str] = {}
    posted: dict[int, dict[str, Any]] = {}
    if request.method == "POST":
        template = _posted_template(found, request.POST.get("template", ""))
        parameters, problem = _posted_parameters(template, request.POST)
        posted[template.pk] = {"text": request.POST.get("text", ""), "parameters": parameters}
        try:
            if problem:
                raise services.SupervisionError(problem, field="parameters")
            services.support_template_save(
                template=template, author=viewer, text=request.POST.get("text", ""),
                parameters=parameters, is_active=request.POST.get("is_active") == "on",
            )
        except services.SupervisionError as exc:
            errors[template.pk] = str(exc)
        else:
            messages.success(request, _("Saved. New support tasks use this text."))
            return redirect("supervision:support_templates", program=found.slug)
    rows = [
        {
            "template": t,
            "text": posted.get(t.pk, {}).get("text", t.text),
            "placeholders": ", ".join("{" + p + "}" for p in PLACEHOLDERS[t.rule]),
            "error": errors.get(t.pk, ""),
        }
        for t in sorted(templates.values(), key=lambda t: (RuleKind.values.index(t.rule),
                                                           t.language))
    ]
    return render(request, "supervision/support_templates.html", {
        "program": found, "rows": rows,
    }, status=400 if errors else 200)


def _posted_template(program: Program, value: str) -> SupportTaskTemplate:
    if not value.isdigit():
        raise Http404
    template = SupportTaskTemplate.objects.filter(program=program, pk=int(value)).first()
    if template is None:
        raise Http404
    return template


def _posted_parameters(template: SupportTaskTemplate, data: Any) -> tuple[dict[str, Any], str]:
    parameters = dict(template.parameters or {})
    if template.rule != RuleKind.NOT_ANSWERED:
        return parameters, ""
    raw = (data.get("min_missing") or "").strip()
    try:
        parameters["min_missing"] = int(raw)
    except ValueError:
        return parameters, _("min_missing: a whole number of 1 or more.")
    parameters["after"] = (data.get("after") or "").strip()
    return parameters, ""
