"""Background work for Telegram: act on an update the webhook stored."""

from __future__ import annotations

from django.tasks import task

from fokus.telegram.models import TelegramUpdate
from fokus.telegram.updates import update_process


@task
def process_update(update_pk: int) -> str:
    """Idempotent: an update already processed is not processed again."""
    update = TelegramUpdate.objects.select_related("bot").filter(pk=update_pk).first()
    if update is None:
        return "missing"
    return update_process(update)
