"""Jobs of the schedule table (fokus/config/schedule.py) for delivery."""

from __future__ import annotations

from datetime import datetime

from fokus.core import clock
from fokus.delivery.dispatch import delivery_due_exists
from fokus.delivery.tasks import delivery_dispatch_task
from fokus.scheduler.background import enqueue_on_commit


def delivery_dispatch_job(slot: datetime) -> None:
    """Every minute: when something is due, a task sends it (after the beat's commit).

    `clock.now()`, not `slot`: a late beat still sends what is due by now.
    """
    if delivery_due_exists(now=max(slot, clock.now())):
        enqueue_on_commit(delivery_dispatch_task)
