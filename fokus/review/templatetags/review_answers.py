"""`{% answer_link task %}`: the "Answer" link with the person's answer state, for pages of
other apps that show a task (Today, a material) without importing the review app."""

from __future__ import annotations

from typing import Any

from django import template

from fokus.programs.models import Task
from fokus.review.queries import answer_badges

register = template.Library()


@register.inclusion_tag("review/participant/_answer_link.html", takes_context=True)
def answer_link(context: dict[str, Any], task: Task) -> dict[str, Any]:
    request = context.get("request")
    person = getattr(request, "person", None)
    badge = None
    if person is not None:
        # One small query per task: a page shows a handful of tasks at most.
        badge = answer_badges(person=person, task_ids=[task.pk]).get(task.pk)
    return {"task": task, "badge": badge}
