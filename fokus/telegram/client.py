"""A small synchronous facade over python-telegram-bot's async Bot.

Django code is synchronous, so each client owns an event loop on a thread of its own
and hands coroutines to it: `call()` waits for one answer, `submit()` returns a
concurrent.futures.Future so the sender can keep several requests in flight. One
client per bot token and batch; close it (or use it as a context manager) when done.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import threading
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

T = TypeVar("T")

__all__ = [
    "BadRequest",
    "Button",
    "ChatMigrated",
    "Conflict",
    "Forbidden",
    "InvalidToken",
    "NetworkError",
    "RetryAfter",
    "TelegramClient",
    "TelegramError",
    "TimedOut",
    "retry_after_seconds",
]


@dataclass(frozen=True)
class Button:
    """An inline button: a link (open the lesson) or a callback (answer the task)."""

    text: str
    url: str | None = None
    callback_data: str | None = None


def keyboard(rows: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b.text, url=b.url)
                if b.url
                else InlineKeyboardButton(b.text, callback_data=b.callback_data or b.text)
                for b in row
            ]
            for row in rows
        ]
    )


def retry_after_seconds(error: RetryAfter) -> float:
    value = getattr(error, "_retry_after", None)
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(error.retry_after if not isinstance(error.retry_after, timedelta)
                 else error.retry_after.total_seconds())


class TelegramClient:
    def __init__(
        self,
        token: str,
        *,
        base_url: str | None = None,
        read_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        pool_size: int = 32,
    ) -> None:
        if base_url is None:
            from django.conf import settings

            base_url = settings.TELEGRAM_API_BASE_URL
        base = base_url.rstrip("/")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="telegram-client", daemon=True
        )
        self._thread.start()
        request = HTTPXRequest(
            connection_pool_size=pool_size,
            read_timeout=read_timeout,
            write_timeout=read_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=read_timeout,
        )
        # getUpdates holds its connection for the long-poll timeout: a pool of its own.
        updates_request = HTTPXRequest(
            connection_pool_size=1, read_timeout=read_timeout, connect_timeout=connect_timeout
        )
        self.read_timeout = read_timeout
        self.bot = Bot(
            token,
            base_url=f"{base}/bot",
            base_file_url=f"{base}/file/bot",
            request=request,
            get_updates_request=updates_request,
        )
        self._closed = False
        self._warm = False

    # -- plumbing --

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.submit(coroutine).result()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Closing a client whose connections already broke may raise; it is closed anyway.
        with contextlib.suppress(Exception):
            self.call(self.bot.shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> TelegramClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- Bot API methods, as coroutines for submit() --

    async def _send_message(
        self, chat_id: int, text: str, *, buttons: Sequence[Sequence[Button]] = (),
        parse_mode: str | None = None, disable_preview: bool = False,
    ) -> int:
        message = await self.bot.send_message(
            chat_id=chat_id,
            text=text,
            parse_mode=parse_mode,
            reply_markup=keyboard(buttons),
            link_preview_options=LinkPreviewOptions(is_disabled=True) if disable_preview else None,
        )
        return message.message_id

    async def _send_photo(
        self, chat_id: int, photo: str | bytes, *, caption: str | None = None,
        buttons: Sequence[Sequence[Button]] = (), parse_mode: str | None = None,
    ) -> int:
        message = await self.bot.send_photo(
            chat_id=chat_id, photo=photo, caption=caption or None, parse_mode=parse_mode,
            reply_markup=keyboard(buttons),
        )
        return message.message_id

    # -- synchronous conveniences --

    def warm_up(self) -> None:
        """Open the connection with a getMe (not a send, so no limit counts it): the
        first request of a cold client waits for its connection, and sends paced behind
        it would reach Telegram bunched together."""
        if not self._warm:
            self.get_me()
            self._warm = True

    def send_message(self, chat_id: int, text: str, **kwargs: Any) -> int:
        return self.call(self._send_message(chat_id, text, **kwargs))

    def send_photo(self, chat_id: int, photo: str | bytes, **kwargs: Any) -> int:
        return self.call(self._send_photo(chat_id, photo, **kwargs))

    def get_me(self) -> dict[str, Any]:
        return self.call(self.bot.get_me()).to_dict()

    def set_webhook(self, url: str, *, secret_token: str) -> bool:
        return self.call(self.bot.set_webhook(url=url, secret_token=secret_token))

    def delete_webhook(self) -> bool:
        return self.call(self.bot.delete_webhook())

    def get_updates(self, *, offset: int | None = None, timeout: int = 0) -> list[dict[str, Any]]:
        """Raw update dicts (the webhook receives the same JSON), oldest first."""
        updates = self.call(
            self.bot.get_updates(
                offset=offset, timeout=timeout, read_timeout=timeout + self.read_timeout
            )
        )
        return [json.loads(u.to_json()) for u in updates]

    def answer_callback_query(self, callback_query_id: str, text: str | None = None) -> bool:
        return self.call(self.bot.answer_callback_query(callback_query_id, text=text))
