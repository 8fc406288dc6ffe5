"""`{% supervisor_tasks %}`: a supervisor's support tasks for today, for the Today page of
the programs app (which must not import this app: the tag is loaded by the template)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from fokus.core import clock
from fokus.supervision.queries import programs_with_team, support_tasks_today

register = template.Library()


@register.inclusion_tag("supervision/_support_tasks.html", takes_context=True)
def supervisor_tasks(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    person = getattr(request, "person", None)
    if person is None:
        return {"support_tasks": [], "request": request}
    tasks = support_tasks_today(person, clock.now())
    team_url = ""
    if tasks or person.reports.exists():
        programs = programs_with_team(person)
        if programs:
            team_url = reverse("supervision:team_index")
    return {"support_tasks": tasks, "team_url": team_url, "request": request,
            "csrf_token": context.get("csrf_token")}
