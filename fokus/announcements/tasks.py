"""Background work for announcements: planning a sent one into the outbox.

Thin on purpose: an id in, one service call. Enqueued after the commit that marked the
announcement sent; idempotent, so a retry after a crash completes the rest.
"""

from __future__ import annotations

from django.tasks import task  # type: ignore[import-not-found,unused-ignore]

from fokus.announcements import services


@task()
def announcement_plan_task(announcement_id: int) -> int:
    """Put every message of a sent announcement into the outbox; returns their count."""
    return services.announcement_plan(announcement_id).deliveries
