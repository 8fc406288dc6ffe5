"""Writes for Telegram: the bot of an organisation, bind tokens, chats, received updates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from fokus.core import clock
from fokus.core.models import Organization
from fokus.people.models import Person
from fokus.telegram.models import (
    TelegramBindToken,
    TelegramBot,
    TelegramChat,
    TelegramUpdate,
    UpdateKind,
)


@transaction.atomic
def telegram_bot_resolve(*, organization: Organization | None) -> TelegramBot | None:
    """The organisation's own bot, else the installation's default bot
    (TELEGRAM_BOT_TOKEN, kept in step with the setting), else None."""
    if organization is not None:
        own = TelegramBot.objects.filter(organization=organization).first()
        if own is not None:
            return own
    token = settings.TELEGRAM_BOT_TOKEN
    if not token:
        return None
    default = TelegramBot.objects.filter(organization=None).order_by("pk").first()
    secret = settings.TELEGRAM_WEBHOOK_SECRET
    if default is None:
        default = TelegramBot(organization=None, token=token)
        if secret:
            default.webhook_secret = secret
        default.save()
    elif default.token != token or (secret and default.webhook_secret != secret):
        if default.token != token:
            default.username = ""
        default.token = token
        if secret:
            default.webhook_secret = secret
        default.save(update_fields=["token", "username", "webhook_secret"])
    return default


@transaction.atomic
def telegram_bot_set_username(*, bot: TelegramBot, username: str) -> TelegramBot:
    if bot.username != username:
        bot.username = username
        bot.save(update_fields=["username"])
    return bot


def _token_lifetime() -> dt.timedelta:
    return dt.timedelta(days=settings.TELEGRAM_BIND_TOKEN_DAYS)


@transaction.atomic
def telegram_bind_token_issue(*, person: Person) -> TelegramBindToken:
    """The person's current deep-link token: a fresh unused one is reused (the link in
    the announcement e-mail, on the poster and on the profile page stays the same),
    otherwise a new one."""
    now = clock.now()
    # Reuse only while at least half the lifetime is left, so a link never dies soon
    # after it was handed out.
    fresh_since = now - _token_lifetime() / 2
    existing = (
        TelegramBindToken.objects.filter(person=person, used_at=None, created_at__gte=fresh_since)
        .order_by("-created_at")
        .first()
    )
    if existing is not None:
        return existing
    return TelegramBindToken.objects.create(person=person, created_at=now)


@transaction.atomic
def telegram_chat_bind(
    *, person: Person, bot: TelegramBot, chat_id: int, username: str = ""
) -> TelegramChat:
    """Messages for `person` go to `chat_id` from now on (a new binding replaces the old)."""
    chat, _created = TelegramChat.objects.update_or_create(
        person=person,
        defaults={
            "bot": bot, "chat_id": chat_id, "username": username[:64],
            "bound_at": clock.now(), "unreachable_at": None,
        },
    )
    return chat


@transaction.atomic
def telegram_chat_mark_unreachable(*, bot: TelegramBot, chat_id: int) -> int:
    """Telegram answered 403: the person blocked the bot. Returns the chats marked."""
    return TelegramChat.objects.filter(bot=bot, chat_id=chat_id, unreachable_at=None).update(
        unreachable_at=clock.now()
    )


class BindStatus(StrEnum):
    BOUND = "bound"
    ALREADY_BOUND = "already_bound"
    USED = "used"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    NO_TOKEN = "no_token"


@dataclass(frozen=True)
class BindOutcome:
    status: BindStatus
    person: Person | None = None


@transaction.atomic
def telegram_start_bind(
    *, bot: TelegramBot, chat_id: int, token: str, username: str = ""
) -> BindOutcome:
    """`/start <token>` from `chat_id`: bind the chat to the token's person, once."""
    token = token.strip()
    if not token:
        return BindOutcome(BindStatus.NO_TOKEN)
    bind_token = (
        TelegramBindToken.objects.select_for_update()
        .select_related("person__organization")
        .filter(token=token[:64])
        .first()
    )
    if bind_token is None:
        return BindOutcome(BindStatus.UNKNOWN)
    person = bind_token.person
    if not person.is_active:
        return BindOutcome(BindStatus.UNKNOWN)
    # A link works only with the bot that serves the person's organisation.
    serving = telegram_bot_resolve(organization=person.organization)
    if serving is None or serving.pk != bot.pk:
        return BindOutcome(BindStatus.UNKNOWN)
    if bind_token.used_at is not None:
        current = TelegramChat.objects.filter(person=person).first()
        if current is not None and current.bot_id == bot.pk and current.chat_id == chat_id:
            if current.unreachable_at is not None:
                telegram_chat_bind(person=person, bot=bot, chat_id=chat_id, username=username)
            return BindOutcome(BindStatus.ALREADY_BOUND, person)
        return BindOutcome(BindStatus.USED)
    if bind_token.created_at < clock.now() - _token_lifetime():
        return BindOutcome(BindStatus.EXPIRED, person)
    bind_token.used_at = clock.now()
    bind_token.save(update_fields=["used_at"])
    telegram_chat_bind(person=person, bot=bot, chat_id=chat_id, username=username)
    return BindOutcome(BindStatus.BOUND, person)


def _kind_and_chat(payload: dict[str, Any]) -> tuple[str, int | None]:
    if "message" in payload:
        return UpdateKind.MESSAGE, (payload["message"].get("chat") or {}).get("id")
    if "callback_query" in payload:
        query = payload["callback_query"]
        chat = (query.get("message") or {}).get("chat") or {}
        return UpdateKind.CALLBACK_QUERY, chat.get("id") or (query.get("from") or {}).get("id")
    return UpdateKind.OTHER, None


def telegram_update_receive(*, bot: TelegramBot, payload: dict[str, Any]) -> TelegramUpdate | None:
    """Store an update as received; None when this update_id was seen already."""
    update_id = payload.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise ValueError("update_id is missing or not an integer")
    kind, chat_id = _kind_and_chat(payload)
    if TelegramUpdate.objects.filter(bot=bot, update_id=update_id).exists():
        return None
    try:
        with transaction.atomic():
            return TelegramUpdate.objects.create(
                bot=bot, update_id=update_id, kind=kind,
                chat_id=chat_id if isinstance(chat_id, int) else None,
                payload=payload, received_at=clock.now(),
            )
    except IntegrityError:  # the same update arrived twice at the same moment
        return None


@transaction.atomic
def telegram_update_mark_processed(*, update: TelegramUpdate, outcome: str) -> TelegramUpdate:
    update.processed_at = clock.now()
    update.outcome = outcome[:40]
    update.save(update_fields=["processed_at", "outcome"])
    return update


@dataclass(frozen=True)
class BindRow:
    line: int
    employee_number: str
    chat_id: str


def telegram_chats_bind_bulk(
    *, organization: Organization, bot: TelegramBot, rows: list[BindRow]
) -> tuple[int, list[str]]:
    """Bind many people at once (migration from another bot): every row is checked
    first, and a single bad row means nothing is written. Returns (bound, errors)."""
    errors: list[str] = []
    numbers = {row.employee_number for row in rows}
    people = {
        p.employee_number: p
        for p in Person.objects.filter(organization=organization, employee_number__in=numbers)
    }
    seen: dict[str, int] = {}
    checked: list[tuple[Person, int]] = []
    for row in rows:
        where = f"line {row.line}"
        person = people.get(row.employee_number)
        if person is None:
            errors.append(
                f"{where}: no person with employee number {row.employee_number!r} "
                f"in {organization.slug}"
            )
        try:
            chat_id = int(row.chat_id)
        except ValueError:
            errors.append(f"{where}: chat id {row.chat_id!r} is not a number")
            continue
        if chat_id <= 0:
            errors.append(f"{where}: chat id {chat_id} is a group; a person's chat id is positive")
        if row.employee_number in seen:
            errors.append(
                f"{where}: employee number {row.employee_number!r} is on line "
                f"{seen[row.employee_number]} already"
            )
        seen.setdefault(row.employee_number, row.line)
        if person is not None:
            checked.append((person, chat_id))
    if errors:
        return 0, errors
    with transaction.atomic():
        for person, chat_id in checked:
            telegram_chat_bind(person=person, bot=bot, chat_id=chat_id)
    return len(checked), []
