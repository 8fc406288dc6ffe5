"""Jobs and tasks the scheduler tests put in their own schedule tables."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from django.tasks import task

from fokus.core import clock
from fokus.scheduler.background import enqueue_on_commit
from fokus.scheduler.jobs import Job
from fokus.scheduler.models import BeatFiring

CALLS: list[tuple[str, datetime]] = []
_calls_lock = threading.Lock()


@task
def mark(label: str, slot_iso: str) -> str:
    """Leaves a visible trace that the task ran (idempotent: one row per label and slot)."""
    BeatFiring.objects.get_or_create(
        job=f"ran:{label}", slot=datetime.fromisoformat(slot_iso),
        defaults={"fired_at": clock.now()},
    )
    return label


@task
def explode(label: str) -> None:
    raise RuntimeError(f"task {label} fails on purpose")


def minute_job(slot: datetime) -> None:
    enqueue_on_commit(mark, "test.minute", slot.isoformat())


def nightly_job(slot: datetime) -> None:
    # Deferred half an hour, so a tick shows it runs tasks only "as of" its instant.
    enqueue_on_commit(
        mark, "test.nightly", slot.isoformat(), run_after=slot + timedelta(minutes=30)
    )


def failing_job(slot: datetime) -> None:
    raise RuntimeError("job fails on purpose")


def failing_task_job(slot: datetime) -> None:
    enqueue_on_commit(explode, "test.explode")


def noop_job(slot: datetime) -> None:
    return None


def _count(name: str, slot: datetime) -> None:
    # Slow on purpose: the other beat checks the slot while this one still holds it, so
    # the race is decided by the unique row, not by who happened to look first.
    time.sleep(0.05)
    with _calls_lock:
        CALLS.append((name, slot))
    enqueue_on_commit(mark, name, slot.isoformat())


def count_minute(slot: datetime) -> None:
    _count("race.minute", slot)


def count_nightly(slot: datetime) -> None:
    _count("race.nightly", slot)


TICK_SCHEDULE = [
    Job("test.minute", f"{__name__}.minute_job", "every minute", grace=timedelta(minutes=5)),
    Job("test.nightly", f"{__name__}.nightly_job", "nightly 02:00 Europe/Moscow",
        grace=timedelta(hours=6)),
]
FAILING_SCHEDULE = [
    Job("test.failing", f"{__name__}.failing_job", "every minute", grace=timedelta(minutes=5)),
    Job("test.failing-task", f"{__name__}.failing_task_job", "every minute",
        grace=timedelta(minutes=5)),
]
HOUSEKEEPING_SCHEDULE = [
    Job("scheduler.housekeeping", "fokus.scheduler.tasks.housekeeping", "daily 03:30 UTC",
        grace=timedelta(hours=12)),
]
