"""The authors' matrix editor: days × lesson slots × tracks, edited in place.

Every page works as plain forms with POST/redirect; htmx (when the browser runs it)
swaps fragments instead: the editor panel for forms, one cell after a save. Objects
are looked up inside the caller's organisation first (a foreign id is a 404), then
the role is checked (a participant of the same organisation gets a 403).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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


# --- Materials and tasks -----------------------------------------------------------------
# Both are items in a cell edited the same way; _ItemKind holds what differs.


@dataclass(frozen=True)
class _ItemKind[ItemT: (Material, Task)]:
    name: str  # the template's context key and the URL names' stem
    form_class: type[AuthoringForm]
    body_field: str  # the Markdown field the preview renders
    initial: Callable[[ItemT], dict[str, Any]]
    create: Callable[[MatrixCell, dict[str, Any]], object]
    update: Callable[[ItemT, dict[str, Any]], object]
    delete: Callable[[ItemT], object]
    move: Callable[[ItemT, str], object]
    saved: Callable[[str], str]
    deleted: Callable[[str], str]
    question: Callable[[str], str]

    @property
    def template(self) -> str:
        return f"{self.name}_form.html"

    def url(self, suffix: str, item: ItemT) -> str:
        return reverse(f"programs:author_{self.name}{suffix}", kwargs={f"{self.name}_id": item.pk})


MATERIAL = _ItemKind[Material](
    name="material",
    form_class=MaterialForm,
    body_field="body",
    initial=lambda m: {
        "title": m.title, "minutes": m.minutes, "body": m.body,
        "version": queries.material_version(m),
    },
    create=lambda cell, d: services.material_create(
        track=cell.track, day=cell.day, slot=cell.slot,
        title=d["title"], body=d["body"], minutes=d["minutes"],
    ),
    update=lambda m, d: services.material_update(
        material=m, title=d["title"], body=d["body"], minutes=d["minutes"],
        expected_version=d["version"] or None,
    ),
    delete=lambda m: services.material_delete(material=m),
    move=lambda m, direction: services.material_move(material=m, direction=direction),
    saved=lambda title: _("Material “%(title)s” saved.") % {"title": title},
    deleted=lambda title: _("Material “%(title)s” deleted.") % {"title": title},
    question=lambda title: _("Delete the material “%(title)s”? This cannot be undone.")
    % {"title": title},
)

TASK = _ItemKind[Task](
    name="task",
    form_class=TaskForm,
    body_field="prompt",
    initial=lambda t: {
        "title": t.title, "prompt": t.prompt, "answer_kinds": t.answer_kind_list,
        "grade_max": t.grade_max, "version": queries.task_version(t),
    },
    create=lambda cell, d: services.task_create(
        track=cell.track, day=cell.day, slot=cell.slot, title=d["title"],
        prompt=d["prompt"], answer_kinds=d["answer_kinds"], grade_max=d["grade_max"],
    ),
    update=lambda t, d: services.task_update(
        task=t, title=d["title"], prompt=d["prompt"], answer_kinds=d["answer_kinds"],
        grade_max=d["grade_max"], expected_version=d["version"] or None,
    ),
    delete=lambda t: services.task_delete(task=t),
    move=lambda t, direction: services.task_move(task=t, direction=direction),
    saved=lambda title: _("Task “%(title)s” saved.") % {"title": title},
    deleted=lambda title: _("Task “%(title)s” deleted.") % {"title": title},
    question=lambda title: _("Delete the task “%(title)s”? This cannot be undone.")
    % {"title": title},
)


def _item_context[ItemT: (Material, Task)](
    kind: _ItemKind[ItemT], form: AuthoringForm, cell: MatrixCell, item: ItemT | None,
    preview: str | None,
) -> dict[str, Any]:
    if item is None:
        action = reverse(
            f"programs:author_{kind.name}_create",
            kwargs={
                "slug": cell.track.program.slug,
                "day_index": cell.day.index,
                "slot_id": cell.slot.pk,
                "track_slug": cell.track.slug,
            },
        )
    else:
        action = kind.url("", item)
    return {
        "form": form,
        "cell": cell,
        "program": cell.track.program,
        kind.name: item,
        "preview": preview,
        "action_url": action,
        "matrix_url": _matrix_url(cell.track.program, cell),
    }


def _item_form_page[ItemT: (Material, Task)](
    request: HttpRequest, kind: _ItemKind[ItemT], cell: MatrixCell, item: ItemT | None
) -> HttpResponse:
    if request.method == "GET":
        if item is None:
            form, preview = kind.form_class(), None
        else:
            initial = kind.initial(item)
            form, preview = kind.form_class(initial=initial), _preview(initial[kind.body_field])
        context = _item_context(kind, form, cell, item, preview)
        return _form_response(request, kind.template, context)
    typed_preview = _preview(request.POST.get(kind.body_field, ""))
    if request.POST.get("action") == "preview":
        form = _preview_form(kind.form_class, request)
        return _form_response(
            request, kind.template, _item_context(kind, form, cell, item, typed_preview)
        )
    form = kind.form_class(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if item is None:
                kind.create(cell, data)
            else:
                kind.update(item, data)
        except ValidationError as error:
            form.add_service_error(error)
        else:
            return _cell_response(
                request,
                queries.authoring_cell(track=cell.track, day=cell.day, slot=cell.slot),
                close_editor=True,
                saved=kind.saved(data["title"]),
            )
    return _form_response(
        request, kind.template, _item_context(kind, form, cell, item, typed_preview)
    )


def _item_delete_page[ItemT: (Material, Task)](
    request: HttpRequest, kind: _ItemKind[ItemT], item: ItemT
) -> HttpResponse:
    cell = _cell_of(item)
    if request.method == "POST":
        title = item.title
        kind.delete(item)
        return _cell_response(request, _cell_of(item), close_editor=True, saved=kind.deleted(title))
    context = {
        "item": item,
        "matrix_url": _matrix_url(cell.track.program, cell),
        "cell": cell,
        "program": cell.track.program,
        "question": kind.question(item.title),
        "action_url": kind.url("_delete", item),
        "back_url": kind.url("", item),
    }
    return _form_response(request, "confirm_delete.html", context)


def _item_move[ItemT: (Material, Task)](
    request: HttpRequest, kind: _ItemKind[ItemT], item: ItemT
) -> HttpResponse:
    form = MoveForm(request.POST)
    if not form.is_valid():
        return HttpResponse(_("Move up or down."), status=400)
    kind.move(item, form.cleaned_data["direction"])
    return _cell_response(request, _cell_of(item), close_editor=False)


@login_required
@require_http_methods(["GET", "POST"])
def material_create(
    request: HttpRequest, slug: str, day_index: int, slot_id: int, track_slug: str
) -> HttpResponse:
    place = _place(_program(request, slug), day_index, slot_id, track_slug)
    return _item_form_page(request, MATERIAL, place, None)


@login_required
@require_http_methods(["GET", "POST"])
def material_edit(request: HttpRequest, material_id: int) -> HttpResponse:
    material = _material(request, material_id)
    return _item_form_page(request, MATERIAL, _cell_of(material), material)


@login_required
@require_http_methods(["GET", "POST"])
def material_delete(request: HttpRequest, material_id: int) -> HttpResponse:
    return _item_delete_page(request, MATERIAL, _material(request, material_id))


@login_required
@require_POST
def material_move(request: HttpRequest, material_id: int) -> HttpResponse:
    return _item_move(request, MATERIAL, _material(request, material_id))


@login_required
@require_http_methods(["GET", "POST"])
def task_create(
    request: HttpRequest, slug: str, day_index: int, slot_id: int, track_slug: str
) -> HttpResponse:
    place = _place(_program(request, slug), day_index, slot_id, track_slug)
    return _item_form_page(request, TASK, place, None)


@login_required
@require_http_methods(["GET", "POST"])
def task_edit(request: HttpRequest, task_id: int) -> HttpResponse:
    task = _task(request, task_id)
    return _item_form_page(request, TASK, _cell_of(task), task)


@login_required
@require_http_methods(["GET", "POST"])
def task_delete(request: HttpRequest, task_id: int) -> HttpResponse:
    return _item_delete_page(request, TASK, _task(request, task_id))


@login_required
@require_POST
def task_move(request: HttpRequest, task_id: int) -> HttpResponse:
    return _item_move(request, TASK, _task(request, task_id))
