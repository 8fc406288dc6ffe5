"""The Telegram channel: rendered deliveries as messages through each bot's sender.

Messages go to the chat the person bound (TelegramChat) through the bot that chat
belongs to, in one batch per bot, so the bot's rate limiter (30 messages/s, 1/s per
chat, 429 pauses) paces a whole drop. fokus.telegram.sender does the pacing, the
splitting of long texts and the sorting of failures.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fokus.delivery.rendering import RenderedMessage
from fokus.telegram.client import Button
from fokus.telegram.models import TelegramBot, TelegramChat
from fokus.telegram.sender import OutgoingMessage, SendResult, send_messages

__all__ = ["chats_of", "outgoing_message", "send_telegram"]


def chats_of(person_ids: Iterable[int]) -> dict[int, TelegramChat]:
    """The bound chat of each person (with its bot), by person id."""
    return {
        chat.person_id: chat
        for chat in TelegramChat.objects.select_related("bot").filter(person_id__in=person_ids)
    }


def outgoing_message(
    *, delivery_id: int, rendered: RenderedMessage, chat: TelegramChat
) -> OutgoingMessage:
    photo = rendered.inline_images[0].data if rendered.inline_images else None
    return OutgoingMessage(
        chat_id=chat.chat_id,
        text=rendered.telegram_html,
        buttons=[[Button(text=b.text, url=b.url) for b in row] for row in rendered.buttons]
        + [[Button(text=b.text, callback_data=b.callback_data) for b in row]
           for row in rendered.telegram_actions],
        parse_mode="HTML",
        photo=photo,
        # The buttons open the lesson; a preview of the first link only adds noise.
        disable_preview=True,
        reference=delivery_id,
    )


def send_telegram(
    bot: TelegramBot, messages: Iterable[OutgoingMessage], **sender_options: Any
) -> Iterator[SendResult]:
    """Results as each message finishes; `reference` is the delivery id."""
    yield from send_messages(bot, messages, **sender_options)
