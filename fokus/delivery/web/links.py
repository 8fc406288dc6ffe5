"""The page behind a signed link: one material or task, read-only, for one person.

No session is created: the signature names the person, and the page shows only what
that person may see of that one object (their organisation, their enrollment, and not
before the slot opens on their clock). Someone signed in as that person goes to the
full page instead; someone signed in as anybody else gets 404, so a session never
sees another person's (or organisation's) link. docs/delivery.md, "Signed links".
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from fokus.core import clock
from fokus.delivery.links import LinkExpired, LinkInvalid, LinkTarget, link_resolve
from fokus.delivery.rendering import person_language
from fokus.people.models import Person
from fokus.programs.markdown import render_markdown
from fokus.programs.models import Enrollment, EnrollmentStatus, Task
from fokus.programs.queries import participant_material
from fokus.programs.schedule import contact_instant, zone
from fokus.programs.services import material_view_record


def _html(markdown_text: str) -> str:
    return mark_safe(render_markdown(markdown_text))  # noqa: S308 - sanitised by nh3


def _task_url(task_id: int) -> str:
    try:
        return reverse("review:task", args=[task_id])
    except NoReverseMatch:
        return ""


@require_safe
@never_cache
def open_link(request: HttpRequest, link_token: str) -> HttpResponseBase:
    try:
        link = link_resolve(link_token)
    except LinkExpired:
        return render(request, "delivery/links/expired.html", status=410)
    except LinkInvalid as error:
        raise Http404 from error
    person = Person.objects.select_related("organization").filter(
        pk=link.person_id, is_active=True
    ).first()
    if person is None:
        raise Http404
    if request.user.is_authenticated:
        if getattr(request, "person", None) != person:
            raise Http404
        # Signed in as this very person: the full page, where they can answer.
        if link.target == LinkTarget.MATERIAL:
            return redirect("programs:material", material_id=link.object_id)
        if url := _task_url(link.object_id):
            return redirect(url)
    # The page speaks the person's language unless the browser chose one in Fokus.
    language = request.COOKIES.get("django_language") or person_language(person)
    with translation.override(language), timezone.override(zone(person.time_zone)):
        if link.target == LinkTarget.MATERIAL:
            return _material_page(request, person, link.object_id)
        return _task_page(request, person, link.object_id)


def _material_page(request: HttpRequest, person: Person, material_id: int) -> HttpResponse:
    access = participant_material(person=person, material_id=material_id)
    if access is None:
        raise Http404
    now = clock.now()
    material = access.material
    if access.opens_at > now and not access.may_preview:
        return render(request, "delivery/links/locked.html", {
            "title": material.title, "opens_at": access.opens_at,
            "program": material.track.program,
        })
    if access.enrolled and access.opens_at <= now:
        material_view_record(person=person, material=material)
    return render(request, "delivery/links/material.html", {
        "person": person,
        "material": material,
        "program": material.track.program,
        "opens_at": access.opens_at,
        "body_html": _html(material.body),
        "tasks": [
            {"task": t, "prompt_html": _html(t.prompt), "answer_url": _answer_url(person, t.pk)}
            for t in access.tasks
        ],
    })


def _task_page(request: HttpRequest, person: Person, task_id: int) -> HttpResponse:
    task = (
        Task.objects.select_related("track__program", "day", "slot")
        .filter(pk=task_id, track__program__organization_id=person.organization_id)
        .first()
    )
    if task is None or not Enrollment.objects.filter(
        person=person, track=task.track, status=EnrollmentStatus.ACTIVE
    ).exists():
        raise Http404
    opens_at = contact_instant(task.day.date, task.slot.local_time, person.time_zone)
    if opens_at > clock.now():
        return render(request, "delivery/links/locked.html", {
            "title": task.title, "opens_at": opens_at, "program": task.track.program,
        })
    return render(request, "delivery/links/task.html", {
        "person": person,
        "task": task,
        "program": task.track.program,
        "opens_at": opens_at,
        "prompt_html": _html(task.prompt),
        "answer_url": _answer_url(person, task.pk),
    })


def _answer_url(person: Person, task_id: int) -> str:
    """Answering needs a sign-in (it writes); the sign-in page brings them back here."""
    target = _task_url(task_id)
    if not target or person.user_id is None:
        return ""
    return f"{reverse('core:login')}?next={target}"
