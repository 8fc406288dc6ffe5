"""The scheduler's own job and task: forget old firings and finished task results."""

from __future__ import annotations

from datetime import datetime

from django.tasks import task

from fokus.scheduler.background import backend_kind, enqueue_on_commit
from fokus.scheduler.jobs import FIRING_RETENTION
from fokus.scheduler.services import beat_firings_prune


def housekeeping(slot: datetime) -> None:
    """Schedule-table job: prune in the background, as of the slot (not the wall clock)."""
    enqueue_on_commit(prune_old_rows, slot.isoformat())


@task
def prune_old_rows(slot_iso: str) -> dict[str, int]:
    """Idempotent: deleting what is older than a fixed cutoff twice deletes nothing more."""
    cutoff = datetime.fromisoformat(slot_iso) - FIRING_RETENTION
    firings = beat_firings_prune(before=cutoff)
    results = 0
    if backend_kind() == "db":
        from django_tasks_db.models import DBTaskResult

        results, _ = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).delete()
    return {"beat_firings": firings, "task_results": results}
