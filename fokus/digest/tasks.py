"""Background work of the digest: the schedule-table job and the task it enqueues.

The job fires every 5 minutes (fokus/config/schedule.py) and only enqueues; the task
prepares every digest due within the next PREPARE_AHEAD (services.digest_prepare_due),
reading the clock when it runs, so a late worker still reads the freshest data.
Idempotent: digests already in the outbox are skipped.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.tasks import task  # type: ignore[import-not-found,unused-ignore]

from fokus.core import clock
from fokus.digest import services
from fokus.scheduler.background import enqueue_on_commit

logger = logging.getLogger("fokus.digest")


@task()
def digest_prepare_due_task() -> int:
    """Prepare the digests due soon; returns how many outbox rows were written."""
    results = services.digest_prepare_due(clock.now())
    for key, result in results.items():
        logger.info(
            "digest %s: %d due, %d prepared, %d unreachable (build %.1f s, enqueue %.1f s)",
            key, result.due, result.prepared, result.unreachable,
            result.build_seconds, result.enqueue_seconds,
        )
    return sum(r.prepared for r in results.values())


def digest_prepare_job(slot: datetime) -> None:
    """Schedule-table job: enqueue the preparation after the firing commits."""
    enqueue_on_commit(digest_prepare_due_task)
