"""The authors' matrix editor: days × lesson slots × tracks, edited in place.

Every page works as plain forms with POST/redirect; htmx (when the browser runs it)
swaps fragments instead: the editor panel for forms, one cell after a save. Objects
are looked up inside the caller's organisation first (a foreign id is a 404), then
the role is checked (a participant of the same organisation gets a 403).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from fokus.core.models import Organization
from fokus.core.tenancy import request_organization
from fokus.people.models import Role
from fokus.programs import queries, services
from fokus.programs.markdown import render_markdown
from fokus.programs.models import LearningDay, Material, Program, Slot, Task, Track
from fokus.programs.queries import MatrixCell
from fokus.programs.web.forms import AuthoringForm, MaterialForm, MoveForm, TaskForm

TEMPLATES = "programs/authoring/"


def _author_organization(request: HttpRequest) -> Organization:
    """The caller's organisation, once we know the caller may author in it."""
    organization = request_organization(request)
    _require_author(request)
    return organization


def _require_author(request: HttpRequest) -> None:
    if request.user.is_superuser:
        return
    person = getattr(request, "person", None)
    if person is None or not (person.has_role(Role.AUTHOR) or person.has_role(Role.ADMIN)):
        raise PermissionDenied(_("Only authors and admins of this organisation edit programs."))


def _program(request: HttpRequest, slug: str) -> Program:
    program = queries.program_for_authoring(organization=request_organization(request), slug=slug)
    if program is None:
        raise Http404
    _require_author(request)
    return program


def _place(program: Program, day_index: int, slot_id: int, track_slug: str) -> MatrixCell:
    day = LearningDay.objects.filter(program=program, index=day_index).first()
    slot = Slot.objects.filter(program=program, pk=slot_id).first()
    track = Track.objects.filter(program=program, slug=track_slug).first()
    if day is None or slot is None or track is None:
        raise Http404
    return queries.authoring_cell(track=track, day=day, slot=slot)


def _material(request: HttpRequest, material_id: int) -> Material:
    material = queries.material_for_authoring(
        organization=request_organization(request), material_id=material_id
    )
    if material is None:
        raise Http404
    _require_author(request)
    return material


def _task(request: HttpRequest, task_id: int) -> Task:
    task = queries.task_for_authoring(organization=request_organization(request), task_id=task_id)
    if task is None:
        raise Http404
    _require_author(request)
    return task


def _cell_of(item: Material | Task) -> MatrixCell:
    return queries.authoring_cell(track=item.track, day=item.day, slot=item.slot)


def _matrix_url(program: Program, cell: MatrixCell | None = None) -> str:
    url = reverse("programs:author_matrix", kwargs={"slug": program.slug})
    return f"{url}#{cell.dom_id}" if cell is not None else url


def _cell_response(
    request: HttpRequest, cell: MatrixCell, *, close_editor: bool, saved: str = ""
) -> HttpResponse:
    """After a change: htmx gets the fresh cell in place; a plain browser goes back to the grid."""
    program = cell.track.program
    if not request.htmx:  # type: ignore[attr-defined]
        if saved:
            messages.success(request, saved)
        return redirect(_matrix_url(program, cell))
    response = render(
        request,
        TEMPLATES + "matrix.html#cell_swap",
        {"cell": cell, "program": program, "close_editor": close_editor},
    )
    # Forms post into the editor panel; a success replaces the cell they belong to instead.
    retarget(response, f"#{cell.dom_id}")
    reswap(response, "outerHTML")
    return response


def _form_response(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, TEMPLATES + template + "#form", {**context, "in_editor": True})
    return render(request, TEMPLATES + template, {**context, "in_editor": False})


def _preview(text: str) -> str:
    return mark_safe(render_markdown(text))  # noqa: S308 - render_markdown sanitises with nh3


def _preview_form[FormT: AuthoringForm](form_class: type[FormT], request: HttpRequest) -> FormT:
    """An unbound form carrying what was typed: previewing must not flag half-typed fields."""
    initial = {
        name: request.POST.getlist(name) if name == "answer_kinds" else request.POST.get(name, "")
        for name in form_class.base_fields
    }
    return form_class(initial=initial)


# --- Pages -------------------------------------------------------------------------------


@login_required
@require_GET
def program_list(request: HttpRequest) -> HttpResponse:
    organization = _author_organization(request)
    programs = queries.programs_for_authoring(organization=organization)
    return render(request, TEMPLATES + "program_list.html", {"programs": programs})


@login_required
@require_GET
def matrix(request: HttpRequest, slug: str) -> HttpResponse:
    program = _program(request, slug)
    grid = queries.authoring_matrix(program=program)
    return render(request, TEMPLATES + "matrix.html", {"program": program, "matrix": grid})


@login_required
@require_GET
def cell(
    request: HttpRequest, slug: str, day_index: int, slot_id: int, track_slug: str
) -> HttpResponse:
    """One cell; htmx asks for it when an author cancels an edit."""
    place = _place(_program(request, slug), day_index, slot_id, track_slug)
    return _cell_response(request, place, close_editor=True)


# --- Materials ---------------------------------------------------------------------------


def _material_context(
    form: AuthoringForm, cell: MatrixCell, material: Material | None, preview: str | None
) -> dict[str, Any]:
    if material is None:
        action = reverse(
            "programs:author_material_create",
            kwargs={
                "slug": cell.track.program.slug,
                "day_index": cell.day.index,
                "slot_id": cell.slot.pk,
                "track_slug": cell.track.slug,
            },
        )
    else:
        action = reverse("programs:author_material", kwargs={"material_id": material.pk})
    return {
        "form": form,
        "cell": cell,
        "program": cell.track.program,
        "material": material,
        "preview": preview,
        "action_url": action,
        "matrix_url": _matrix_url(cell.track.program, cell),
    }


def _material_form_page(
    request: HttpRequest, cell: MatrixCell, material: Material | None
) -> HttpResponse:
    if request.method == "GET":
        if material is None:
            form = MaterialForm()
            preview = None
        else:
            form = MaterialForm(
                initial={
                    "title": material.title,
                    "minutes": material.minutes,
                    "body": material.body,
                    "version": queries.material_version(material),
                }
            )
            preview = _preview(material.body)
        return _form_response(
            request, "material_form.html", _material_context(form, cell, material, preview)
        )
    if request.POST.get("action") == "preview":
        form = _preview_form(MaterialForm, request)
        context = _material_context(form, cell, material, _preview(request.POST.get("body", "")))
        return _form_response(request, "material_form.html", context)
    form = MaterialForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if material is None:
                services.material_create(
                    track=cell.track,
                    day=cell.day,
                    slot=cell.slot,
                    title=data["title"],
                    body=data["body"],
                    minutes=data["minutes"],
                )
            else:
                services.material_update(
                    material=material,
                    title=data["title"],
                    body=data["body"],
                    minutes=data["minutes"],
                    expected_version=data["version"] or None,
                )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            return _cell_response(
                request,
                queries.authoring_cell(track=cell.track, day=cell.day, slot=cell.slot),
                close_editor=True,
                saved=_("Material “%(title)s” saved.") % {"title": data["title"]},
            )
    context = _material_context(form, cell, material, _preview(request.POST.get("body", "")))
    return _form_response(request, "material_form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def material_create(
    request: HttpRequest, slug: str, day_index: int, slot_id: int, track_slug: str
) -> HttpResponse:
    place = _place(_program(request, slug), day_index, slot_id, track_slug)
    return _material_form_page(request, place, None)


@login_required
@require_http_methods(["GET", "POST"])
def material_edit(request: HttpRequest, material_id: int) -> HttpResponse:
    material = _material(request, material_id)
    return _material_form_page(request, _cell_of(material), material)


@login_required
@require_http_methods(["GET", "POST"])
def material_delete(request: HttpRequest, material_id: int) -> HttpResponse:
    material = _material(request, material_id)
    cell = _cell_of(material)
    if request.method == "POST":
        title = material.title
        services.material_delete(material=material)
        return _cell_response(
            request,
            _cell_of(material),
            close_editor=True,
            saved=_("Material “%(title)s” deleted.") % {"title": title},
        )
    context = {
        "item": material,
        "matrix_url": _matrix_url(cell.track.program, cell),
        "cell": cell,
        "program": cell.track.program,
        "question": _("Delete the material “%(title)s”? This cannot be undone.")
        % {"title": material.title},
        "action_url": reverse(
            "programs:author_material_delete", kwargs={"material_id": material.pk}
        ),
        "back_url": reverse("programs:author_material", kwargs={"material_id": material.pk}),
    }
    return _form_response(request, "confirm_delete.html", context)


@login_required
@require_POST
def material_move(request: HttpRequest, material_id: int) -> HttpResponse:
    material = _material(request, material_id)
    form = MoveForm(request.POST)
    if not form.is_valid():
        return HttpResponse(_("Move up or down."), status=400)
    services.material_move(material=material, direction=form.cleaned_data["direction"])
    return _cell_response(request, _cell_of(material), close_editor=False)


# --- Tasks -------------------------------------------------------------------------------


def _task_context(
    form: AuthoringForm, cell: MatrixCell, task: Task | None, preview: str | None
) -> dict[str, Any]:
    if task is None:
        action = reverse(
            "programs:author_task_create",
            kwargs={
                "slug": cell.track.program.slug,
                "day_index": cell.day.index,
                "slot_id": cell.slot.pk,
                "track_slug": cell.track.slug,
            },
        )
    else:
        action = reverse("programs:author_task", kwargs={"task_id": task.pk})
    return {
        "form": form,
        "cell": cell,
        "program": cell.track.program,
        "task": task,
        "preview": preview,
        "action_url": action,
        "matrix_url": _matrix_url(cell.track.program, cell),
    }


def _task_form_page(request: HttpRequest, cell: MatrixCell, task: Task | None) -> HttpResponse:
    if request.method == "GET":
        if task is None:
            form = TaskForm()
            preview = None
        else:
            form = TaskForm(
                initial={
                    "title": task.title,
                    "prompt": task.prompt,
                    "answer_kinds": task.answer_kind_list,
                    "grade_max": task.grade_max,
                    "version": queries.task_version(task),
                }
            )
            preview = _preview(task.prompt)
        return _form_response(request, "task_form.html", _task_context(form, cell, task, preview))
    if request.POST.get("action") == "preview":
        form = _preview_form(TaskForm, request)
        context = _task_context(form, cell, task, _preview(request.POST.get("prompt", "")))
        return _form_response(request, "task_form.html", context)
    form = TaskForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if task is None:
                services.task_create(
                    track=cell.track,
                    day=cell.day,
                    slot=cell.slot,
                    title=data["title"],
                    prompt=data["prompt"],
                    answer_kinds=data["answer_kinds"],
                    grade_max=data["grade_max"],
                )
            else:
                services.task_update(
                    task=task,
                    title=data["title"],
                    prompt=data["prompt"],
                    answer_kinds=data["answer_kinds"],
                    grade_max=data["grade_max"],
                    expected_version=data["version"] or None,
                )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            return _cell_response(
                request,
                queries.authoring_cell(track=cell.track, day=cell.day, slot=cell.slot),
                close_editor=True,
                saved=_("Task “%(title)s” saved.") % {"title": data["title"]},
            )
    context = _task_context(form, cell, task, _preview(request.POST.get("prompt", "")))
    return _form_response(request, "task_form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def task_create(
    request: HttpRequest, slug: str, day_index: int, slot_id: int, track_slug: str
) -> HttpResponse:
    place = _place(_program(request, slug), day_index, slot_id, track_slug)
    return _task_form_page(request, place, None)


@login_required
@require_http_methods(["GET", "POST"])
def task_edit(request: HttpRequest, task_id: int) -> HttpResponse:
    task = _task(request, task_id)
    return _task_form_page(request, _cell_of(task), task)


@login_required
@require_http_methods(["GET", "POST"])
def task_delete(request: HttpRequest, task_id: int) -> HttpResponse:
    task = _task(request, task_id)
    cell = _cell_of(task)
    if request.method == "POST":
        title = task.title
        services.task_delete(task=task)
        return _cell_response(
            request,
            _cell_of(task),
            close_editor=True,
            saved=_("Task “%(title)s” deleted.") % {"title": title},
        )
    context = {
        "item": task,
        "matrix_url": _matrix_url(cell.track.program, cell),
        "cell": cell,
        "program": cell.track.program,
        "question": _("Delete the task “%(title)s”? This cannot be undone.")
        % {"title": task.title},
        "action_url": reverse("programs:author_task_delete", kwargs={"task_id": task.pk}),
        "back_url": reverse("programs:author_task", kwargs={"task_id": task.pk}),
    }
    return _form_response(request, "confirm_delete.html", context)


@login_required
@require_POST
def task_move(request: HttpRequest, task_id: int) -> HttpResponse:
    task = _task(request, task_id)
    form = MoveForm(request.POST)
    if not form.is_valid():
        return HttpResponse(_("Move up or down."), status=400)
    services.task_move(task=task, direction=form.cleaned_data["direction"])
    return _cell_response(request, _cell_of(task), close_editor=False)
