"""Background work for KPI imports (django.tasks; backends are chosen in settings).

Thin on purpose: ids and paths in, one service call. Enqueue after the commit that
created the queued import (`transaction.on_commit`), so a worker never looks for a row
that is not there yet. Both tasks are idempotent: a queued import is claimed once, and
the drop folder skips bytes it has imported before.
"""

from __future__ import annotations

from datetime import datetime

from django.tasks import task  # type: ignore[import-not-found,unused-ignore]

from fokus.kpi import services
from fokus.scheduler.background import enqueue_on_commit


@task()
def kpi_import_task(import_id: int, path: str) -> None:
    """Run a queued import (pushed over HTTP or confirmed on the upload page)."""
    services.kpi_import_run_queued(import_id=import_id, path=path)


@task()
def kpi_drop_folders_task() -> int:
    """The nightly job: import new files from every source's drop folder."""
    return len(services.kpi_drop_folders_import_all())


def kpi_drop_folders_nightly(slot: datetime) -> None:
    """Schedule-table job (fokus/config/schedule.py): enqueue the drop-folder import."""
    enqueue_on_commit(kpi_drop_folders_task)
