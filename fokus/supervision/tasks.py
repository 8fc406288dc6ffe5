"""Background work of the supervisors' side (thin: ids in, one service call)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.tasks import task  # type: ignore[import-not-found,unused-ignore]

from fokus.core import clock
from fokus.programs.models import LearningDay, Program
from fokus.scheduler.background import enqueue_on_commit
from fokus.supervision.scores import supervisor_standings_refresh
from fokus.supervision.services import support_tasks_generate


def support_run(*, now: datetime) -> int:
    """Generate support tasks for the learning days around `now` and refresh the boards.

    Days from yesterday to tomorrow (UTC) cover every zone's "today"; generation skips
    supervisors whose own date has not reached the day, and is idempotent.
    """
    created = 0
    today = now.date()
    programs = Program.objects.filter(
        starts_on__lte=today + timedelta(days=1), ends_on__gte=today - timedelta(days=1)
    )
    for program in programs:
        days = LearningDay.objects.filter(
            program=program,
            date__gte=today - timedelta(days=1),
            date__lte=today + timedelta(days=1),
        ).order_by("index")
        for day in days:
            created += len(support_tasks_generate(program=program, day=day, now=now))
        supervisor_standings_refresh(program, now)
    return created


@task()
def support_run_task() -> int:
    return support_run(now=clock.now())


def support_tasks_job(slot: datetime) -> None:
    """Schedule-table job (fokus/config/schedule.py): enqueue one generation run."""
    enqueue_on_commit(support_run_task)
