"""Background tasks of delivery (Django's task API; thin: the work is in dispatch.py)."""

from __future__ import annotations

from django.tasks import task

from fokus.delivery.dispatch import delivery_dispatch_all
from fokus.scheduler.background import worker_name


@task
def delivery_dispatch_task() -> dict[str, int]:
    """Send everything due, batch after batch, until nothing is left. Safe to run in
    several workers at once and twice: claims never overlap."""
    return delivery_dispatch_all(worker=worker_name("dispatch")).as_json()
