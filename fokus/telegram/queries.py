"""Reads for Telegram."""

from __future__ import annotations

from urllib.parse import quote

from django.db.models import Max

from fokus.people.models import Person
from fokus.telegram.models import TelegramBot, TelegramChat, TelegramUpdate


def deep_link(*, bot_username: str, token: str) -> str:
    return f"https://t.me/{quote(bot_username)}?start={quote(token)}"


def telegram_chat_for_person(*, person: Person) -> TelegramChat | None:
    return TelegramChat.objects.select_related("bot").filter(person=person).first()


def telegram_bots_all() -> list[TelegramBot]:
    return list(TelegramBot.objects.order_by("pk"))


def telegram_next_update_offset(*, bot: TelegramBot) -> int | None:
    """getUpdates' offset: one past the newest update stored (None: take all pending)."""
    newest = TelegramUpdate.objects.filter(bot=bot).aggregate(m=Max("update_id"))["m"]
    return None if newest is None else newest + 1
