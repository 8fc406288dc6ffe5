"""Telegram rows for tests, and for the cross-organisation isolation test."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from fokus.core.models import Organization
from fokus.people.models import Person, Role
from fokus.telegram.models import TelegramBot, TelegramChat


def person(org: Organization, number: str, *, name: str = "Анна Петрова", language: str = "",
           login: bool = False) -> Person:
    user = User.objects.create_user(username=f"{org.slug}-{number}") if login else None
    return Person.objects.create(
        organization=org, employee_number=number, full_name=name, time_zone="Europe/Moscow",
        language=language, user=user,
    )


def add_telegram_examples(world: Any) -> None:
    """An own bot and a bound chat per organisation, named with the world's marker."""
    digits = sum(ord(c) for c in world.mark)
    bot = TelegramBot.objects.create(
        organization=world.organization, token=f"{digits}:{world.mark}-token",
        username=f"bot_{world.mark}",
    )
    chat = TelegramChat.objects.create(
        person=world.people[Role.PARTICIPANT], bot=bot, chat_id=700_000 + digits,
        username=f"tg_{world.mark}", bound_at=timezone.now(),
    )
    world.objects[TelegramBot] = bot
    world.objects[TelegramChat] = chat
