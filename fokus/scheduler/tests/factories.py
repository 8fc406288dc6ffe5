"""Example background-task rows for the cross-organisation isolation test."""

from __future__ import annotations

import datetime as dt

from django_tasks_db.models import DBTaskResult

from fokus.core.tests.factories import World
from fokus.scheduler.tests.jobs_for_tests import mark


def add_scheduler_examples(world: World) -> None:
    """A queued task whose arguments carry the world's mark (superusers only may see it)."""
    result = mark.enqueue(f"task {world.mark}", dt.datetime(2026, 4, 6, tzinfo=dt.UTC).isoformat())
    world.objects[DBTaskResult] = DBTaskResult.objects.get(id=result.id)
