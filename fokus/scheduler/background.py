"""Enqueueing Django tasks safely, and running the pending ones in-process.

Every task goes through Django's task API (`django.tasks`); which backend stores and
runs it is a setting (`FOKUS_TASKS`, see docs/background-work.md).
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from django.db import transaction
from django.db.models import Q
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, Task, TaskResultStatus, task_backends

from fokus.core import clock

logger = logging.getLogger(__name__)

BackendKind = Literal["db", "huey", "immediate", "other"]


def enqueue_on_commit(
    task: Task, *args: Any, run_after: datetime | None = None, **kwargs: Any
) -> None:
    """Enqueue `task(*args, **kwargs)` once the current transaction commits.

    A rolled-back transaction enqueues nothing, and a worker never picks up a task
    whose rows it cannot see yet. Pass ids, not objects: the task reads fresh rows
    when it runs, and must be idempotent (it may run again after a crash).
    """
    bound = task.using(run_after=run_after) if run_after is not None else task

    def _enqueue() -> None:
        bound.enqueue(*args, **kwargs)

    transaction.on_commit(_enqueue)


def backend_kind(alias: str = DEFAULT_TASK_BACKEND_ALIAS) -> BackendKind:
    backend = task_backends[alias]
    from django.tasks.backends.immediate import ImmediateBackend
    from django_tasks_db.backend import DatabaseBackend

    if isinstance(backend, DatabaseBackend):
        return "db"
    if isinstance(backend, ImmediateBackend):
        return "immediate"
    if type(backend).__module__.startswith("huey."):
        return "huey"
    return "other"


def worker_name(role: str) -> str:
    return f"{role}:{socket.gethostname()}:{os.getpid()}"[:64]


@dataclass
class TaskRun:
    """Tasks run by `run_pending_tasks`."""

    succeeded: int = 0
    failed: int = 0

    def as_json(self) -> dict[str, int]:
        return {"succeeded": self.succeeded, "failed": self.failed}


def run_pending_tasks(
    *, now: datetime | None = None, alias: str = DEFAULT_TASK_BACKEND_ALIAS, limit: int = 100_000
) -> TaskRun:
    """Run every task due as of `now` (default `clock.now()`) here, until none is left.

    Tasks enqueued by the tasks themselves run too. This is `fokus tick`'s half that a
    worker would otherwise do; the immediate backend has already run everything.
    """
    as_of = now or clock.now()
    kind = backend_kind(alias)
    if kind == "db":
        return _run_db_tasks(as_of, alias, limit)
    if kind == "huey":
        return _run_huey_tasks(as_of, limit)
    return TaskRun()


def _run_db_tasks(as_of: datetime, alias: str, limit: int) -> TaskRun:
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult, get_date_max
    from django_tasks_db.utils import exclusive_transaction

    worker_id = worker_name("tick")
    worker = Worker(
        queue_names=["*"], interval=0, batch=True, backend_name=alias, startup_delay=False,
        max_tasks=None, worker_id=worker_id, excluded_queue_names=[],
    )
    run = TaskRun()
    for _ in range(limit):
        # The library's own `ready()` compares run_after with the wall clock; a tick
        # runs "as of" its instant, so the same filter is spelled with `as_of`.
        due = DBTaskResult.objects.filter(
            status=TaskResultStatus.READY, backend_name=alias
        ).filter(Q(run_after=get_date_max()) | Q(run_after__lte=as_of))
        with exclusive_transaction(due.db):
            result = due.get_locked()
            if result is None:
                break
            result.claim(worker_id)
        worker.run_task(result)
        result.refresh_from_db(fields=["status"])
        if result.status == TaskResultStatus.SUCCESSFUL:
            run.succeeded += 1
        else:
            run.failed += 1
    return run


def _run_huey_tasks(as_of: datetime, limit: int) -> TaskRun:
    from huey.contrib.djhuey import tasks_backend

    huey = tasks_backend.HUEY
    stamp = as_of.astimezone(UTC).replace(tzinfo=None)  # huey keeps naive UTC
    for scheduled in huey.read_schedule(stamp):
        huey.enqueue(scheduled)
    run = TaskRun()
    for _ in range(limit):
        message = huey.dequeue()
        if message is None:
            break
        if not huey.ready_to_run(message, stamp):
            huey.add_schedule(message)
            continue
        huey.execute(message, timestamp=stamp)  # logs and records a failure, never raises
        record = huey.get(tasks_backend.KEY % message.id, peek=True)
        if record is not None and record["status"] == TaskResultStatus.SUCCESSFUL.value:
            run.succeeded += 1
        else:
            run.failed += 1
    return run
