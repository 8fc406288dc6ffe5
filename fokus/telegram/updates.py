"""The update router: what Fokus does with each update Telegram sends.

Webhook and long polling both end here, with the update already stored (and so
de-duplicated). `/start <token>` binds the chat; a button press is answered with
answerCallbackQuery (Telegram shows a spinner until then); anything else is kept for
later features (answering tasks in Telegram).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from fokus.telegram import services
from fokus.telegram.client import Button, TelegramClient, TelegramError
from fokus.telegram.models import TelegramBot, TelegramUpdate
from fokus.telegram.services import BindOutcome, BindStatus

logger = logging.getLogger(__name__)

# handler(update, payload, bot, client) -> outcome, or None for "not mine".
UpdateHandler = Callable[[TelegramUpdate, dict[str, Any], TelegramBot, TelegramClient], str | None]


@cache
def _handlers_for(paths: tuple[str, ...]) -> tuple[UpdateHandler, ...]:
    return tuple(import_string(path) for path in paths)


def update_handlers() -> tuple[UpdateHandler, ...]:
    """The configured handlers, imported once per list of paths."""
    return _handlers_for(tuple(getattr(settings, "FOKUS_TELEGRAM_HANDLERS", ())))


def _language(outcome: BindOutcome | None, from_user: dict[str, Any]) -> str:
    known = {code for code, _name in settings.LANGUAGES}
    if outcome is not None and outcome.person is not None and outcome.person.language in known:
        return outcome.person.language
    code = str(from_user.get("language_code") or "")[:2]
    return code if code in known else settings.LANGUAGE_CODE


def start_reply(outcome: BindOutcome) -> str:
    """The bot's answer to /start, in the active language."""
    if outcome.status == BindStatus.BOUND and outcome.person is not None:
        return _(
            "Hello, %(name)s! Your Telegram is now linked to Fokus: lessons, tasks and "
            "the evening digest will come here."
        ) % {"name": outcome.person.full_name}
    if outcome.status == BindStatus.ALREADY_BOUND:
        return _("This chat is already linked to your Fokus profile. Nothing else to do.")
    if outcome.status == BindStatus.USED:
        return _(
            "This link has already been used. Open your Fokus profile for a new personal link."
        )
    if outcome.status == BindStatus.EXPIRED:
        return _(
            "This link has expired. Open your Fokus profile (Telegram page) for a new one."
        )
    if outcome.status == BindStatus.NO_TOKEN:
        return _(
            "Hello! To receive Fokus messages here, open your personal link from the "
            "invitation e-mail, the poster or your Fokus profile."
        )
    return _(
        "This link is not valid. Please use the personal link from your invitation or "
        "your Fokus profile."
    )


def update_process(update: TelegramUpdate, *, client: TelegramClient | None = None) -> str:
    """Act on one stored update once; returns the outcome recorded on it."""
    if update.processed_at is not None:
        return update.outcome
    bot = update.bot
    payload = update.payload
    try:
        outcome = _start(bot, payload["message"], client) if "message" in payload else None
        if outcome is None:
            outcome = _handled(update, payload, bot, client)
    except TelegramError as error:
        # Telegram did not take our answer: the update is handled, the reply is lost.
        logger.warning("telegram: answering update %s failed: %s", update.update_id, error)
        outcome = "reply_failed"
    services.telegram_update_mark_processed(update=update, outcome=outcome)
    return outcome


def _handled(
    update: TelegramUpdate, payload: dict[str, Any], bot: TelegramBot,
    client: TelegramClient | None,
) -> str:
    query = payload.get("callback_query")
    with _client(bot, client) as active:
        for handler in update_handlers():
            try:
                outcome = handler(update, payload, bot, active)
            except TelegramError:
                raise
            except Exception:
                # One broken handler must not lose the update for good, nor leave the
                # user's button spinning: logged, acknowledged, recorded.
                logger.exception("telegram: handler %r failed on update %s",
                                 handler, update.update_id)
                if query is not None:
                    active.answer_callback_query(str(query.get("id", "")))
                return "handler_failed"
            if outcome is not None:
                return outcome
        if query is not None:
            active.answer_callback_query(str(query.get("id", "")))
            return "callback:answered"
    return "stored" if "message" in payload else "ignored"


def _start(bot: TelegramBot, message: dict[str, Any], client: TelegramClient | None) -> str | None:
    """/start in a private chat binds it; None for any other message."""
    text = str(message.get("text") or "")
    chat = message.get("chat") or {}
    from_user = message.get("from") or {}
    if not text.startswith("/start") or chat.get("type") != "private":
        return None
    command, _sep, argument = text.partition(" ")
    if command not in {"/start", f"/start@{bot.username}"}:
        return None
    outcome = services.telegram_start_bind(
        bot=bot, chat_id=int(chat["id"]), token=argument,
        username=str(from_user.get("username") or ""),
    )
    with translation.override(_language(outcome, from_user)):
        reply = start_reply(outcome)
    _reply(bot, int(chat["id"]), reply, client)
    return f"start:{outcome.status}"


def reply(
    bot: TelegramBot, chat_id: int, text: str, client: TelegramClient | None, *,
    buttons: Sequence[Sequence[Button]] = (),
) -> int | None:
    """Send one conversational answer now (not through the outbox); its message id, or
    None when Telegram did not take it. For handlers: the person is waiting for it."""
    from fokus.telegram.sender import OutgoingMessage, send_messages

    results = list(send_messages(
        bot, [OutgoingMessage(chat_id=chat_id, text=text, buttons=buttons)], client=client
    ))
    if not results or not results[0].ok:
        logger.warning("telegram: reply to %s failed: %s", chat_id,
                       results[0].description if results else "no result")
        return None
    return results[0].message_id


def answer_callback(
    client: TelegramClient, query: dict[str, Any], text: str | None = None
) -> None:
    """Stop the button's spinner (with a short toast when `text` is given)."""
    client.answer_callback_query(str(query.get("id", "")), text=(text or None) and text[:200])


def _reply(bot: TelegramBot, chat_id: int, text: str, client: TelegramClient | None) -> None:
    from fokus.telegram.sender import OutgoingMessage, send_messages

    results = list(
        send_messages(bot, [OutgoingMessage(chat_id=chat_id, text=text)], client=client)
    )
    if results and not results[0].ok:
        logger.warning("telegram: reply to %s failed: %s", chat_id, results[0].description)


class _client:
    """The caller's client, or a short-lived one."""

    def __init__(self, bot: TelegramBot, client: TelegramClient | None) -> None:
        self.bot = bot
        self.given = client
        self.own: TelegramClient | None = None

    def __enter__(self) -> TelegramClient:
        if self.given is not None:
            return self.given
        self.own = TelegramClient(self.bot.token)
        return self.own

    def __exit__(self, *exc: object) -> None:
        if self.own is not None:
            self.own.close()
