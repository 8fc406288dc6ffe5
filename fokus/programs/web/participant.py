"""Participant pages: today, the program calendar and its .ics, a material.

Every date and time here is on the person's own wall clock: the views render
inside `timezone.override(person's zone)` so Django's date filters convert UTC
instants for them, and "now" comes from `fokus.core.clock` so tests can move it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from icalendar import Calendar, Event

from fokus.core import clock
from fokus.people.models import Person
from fokus.programs.markdown import render_markdown
from fokus.programs.models import AnswerKind, SlotKind
from fokus.programs.queries import (
    ParticipantSchedule,
    ParticipantSlot,
    participant_enrollments,
    participant_material,
    participant_program,
    participant_schedule,
    participant_today,
)
from fokus.programs.schedule import zone
from fokus.programs.services import material_view_record

View = Callable[..., HttpResponseBase]


def participant_view(view: View) -> View:
    """Login required; a login without a person gets a friendly page, not an error."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        person: Person | None = getattr(request, "person", None)
        if person is None:
            return render(request, "programs/participant/no_person.html")
        with timezone.override(zone(person.time_zone)):
            return view(request, person, *args, **kwargs)

    return wrapper


def _render_markdown(text: str) -> str:
    return mark_safe(render_markdown(text))  # noqa: S308 - sanitised by nh3 just above


@participant_view
def today(request: HttpRequest, person: Person) -> HttpResponse:
    now = clock.now()
    programs = participant_today(person=person, now=now)
    for item in programs:
        for entry in item.today_slots:
            # Tasks of a slot without a material have no page of their own yet.
            if entry.is_open and not entry.materials:
                for task in entry.tasks:
                    task.prompt_html = _render_markdown(task.prompt)  # type: ignore[attr-defined]
    context = {"programs": programs, "local_now": now, "person": person}
    template = "programs/participant/today.html"
    if getattr(request, "htmx", False):
        # The page polls itself so a slot opens without a reload; send the body only.
        template += "#today-body"
    return render(request, template, context)


@participant_view
def calendar_index(request: HttpRequest, person: Person) -> HttpResponse:
    programs = []
    for enrollment in participant_enrollments(person=person):
        if enrollment.track.program not in programs:
            programs.append(enrollment.track.program)
    if len(programs) == 1:
        return redirect("programs:calendar", slug=programs[0].slug)
    return render(request, "programs/participant/calendar_index.html", {"programs": programs})


def _schedule_or_404(person: Person, slug: str) -> ParticipantSchedule:
    program = participant_program(person=person, slug=slug)
    if program is None:
        raise Http404
    return participant_schedule(person=person, program=program, now=clock.now())


@participant_view
def calendar(request: HttpRequest, person: Person, slug: str) -> HttpResponse:
    sched = _schedule_or_404(person, slug)
    return render(
        request,
        "programs/participant/calendar.html",
        {"schedule": sched, "program": sched.program, "days": sched.days(), "person": person},
    )


def _event_summary(program_title: str, entry: ParticipantSlot) -> str:
    titles = [m.title for m in entry.materials] or [t.title for t in entry.tasks]
    if entry.kind == SlotKind.LESSON and titles:
        return f"{program_title}: {'; '.join(titles)}"
    return f"{program_title}: {capfirst(entry.slot.get_kind_display())}"


def _event_description(entry: ParticipantSlot) -> str:
    base = settings.FOKUS_PUBLIC_URL.rstrip("/")
    lines = [
        _("Day %(index)s — %(kind)s")
        % {"index": entry.day.index, "kind": entry.slot.get_kind_display()}
    ]
    for m in entry.materials:
        count = m.minutes
        minutes = ngettext("%(count)d minute", "%(count)d minutes", count) % {"count": count}
        url = base + reverse("programs:material", args=[m.pk])
        lines.append(_("Material: %(title)s (%(minutes)s) %(url)s") % {
            "title": m.title, "minutes": minutes, "url": url,
        })
    for t in entry.tasks:
        lines.append(_("Task: %(title)s") % {"title": t.title})
    return "\n".join(lines)


@participant_view
def calendar_ics(request: HttpRequest, person: Person, slug: str) -> HttpResponse:
    sched = _schedule_or_404(person, slug)
    program = sched.program
    cal = Calendar()
    cal.add("prodid", "-//Fokus//Learning marathons//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", program.title)
    stamp = clock.now()
    for entry in sched.slots:
        event = Event()
        # Built from the day number and the slot time, not row ids, so re-importing the
        # matrix updates the events already in people's calendars instead of doubling them.
        event.add(
            "uid",
            f"fokus-{program.organization_id}-{program.slug}-p{person.pk}"
            f"-d{entry.day.index}-{entry.slot.local_time:%H%M}@fokus",
        )
        event.add("dtstamp", stamp)
        event.add("dtstart", entry.point.utc)
        minutes = sum(m.minutes for m in entry.materials) or 15
        event.add("dtend", entry.point.utc + timedelta(minutes=minutes))
        event.add("summary", _event_summary(program.title, entry))
        event.add("description", _event_description(entry))
        if entry.materials:
            path = reverse("programs:material", args=[entry.materials[0].pk])
            event.add("url", settings.FOKUS_PUBLIC_URL.rstrip("/") + path)
        cal.add_component(event)
    response = HttpResponse(cal.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{program.slug}.ics"'
    return response


@participant_view
def material(request: HttpRequest, person: Person, material_id: int) -> HttpResponse:
    access = participant_material(person=person, material_id=material_id)
    if access is None:
        raise Http404
    now = clock.now()
    m = access.material
    # A material opens at its slot time on the person's own clock; before that the
    # participant gets a friendly "opens at" page (its title is in the calendar
    # anyway), while authors, admins and curators preview it.
    if access.opens_at > now and not access.may_preview:
        return render(
            request,
            "programs/participant/material_locked.html",
            {"material": m, "opens_at": access.opens_at, "program": m.track.program},
        )
    if access.enrolled and access.opens_at <= now:
        material_view_record(person=person, material=m)
    labels = dict(AnswerKind.choices)
    tasks = [
        {
            "task": t,
            "prompt_html": _render_markdown(t.prompt),
            "answer_kinds": [labels.get(k, k) for k in t.answer_kind_list],
        }
        for t in access.tasks
    ]
    return render(
        request,
        "programs/participant/material.html",
        {
            "material": m,
            "program": m.track.program,
            "body_html": _render_markdown(m.body),
            "tasks": tasks,
            "opens_at": access.opens_at,
            "is_preview": access.opens_at > now or not access.enrolled,
        },
    )
