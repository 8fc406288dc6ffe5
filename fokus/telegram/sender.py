"""One rate-limited sender per bot: Telegram's limits kept, failures sorted for the caller.

`send_messages(bot, messages)` sends a batch and yields one `SendResult` per message
as each finishes (not necessarily in input order). It paces every send through the
bot's limiter (30/s per bot, 1/s per chat, 20/min per group or channel; shared across
processes with Redis), keeps a few requests in flight, and while one chat waits for
its next second it sends to others. What can go wrong:

* 429: the whole bot pauses for `retry_after` (in every process), then the message is
  sent again; after `max_floods` of them it is given back as `rate_limited`.
* 403 (the user blocked the bot): the chat is marked unreachable and the result says
  `blocked`, which means "fall back to e-mail"; later messages to that chat in the
  batch are not attempted.
* 5xx and timeouts: tried again with exponential backoff, at most `max_attempts`
  times, then given back as `retryable`.
* Anything else (400, a bad token): `fatal`, never retried.

A text longer than Telegram's 4096 characters (1024 for a photo caption) goes as
several messages, cut at paragraph or line breaks; the buttons go with the last one.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import random
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fokus.telegram import services
from fokus.telegram.client import (
    BadRequest,
    Button,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramClient,
    TelegramError,
    retry_after_seconds,
)
from fokus.telegram.limiter import Limiter, bot_key, limiter_from_settings
from fokus.telegram.models import TelegramBot
from fokus.telegram.text import CAPTION_LIMIT, TEXT_LIMIT, split_text

logger = logging.getLogger(__name__)

__all__ = ["Button", "ErrorKind", "OutgoingMessage", "SendResult", "send_messages"]


class ErrorKind(StrEnum):
    BLOCKED = "blocked"
    RATE_LIMITED = "rate_limited"
    RETRYABLE = "retryable"
    FATAL = "fatal"


@dataclass(frozen=True)
class OutgoingMessage:
    chat_id: int
    text: str
    buttons: Sequence[Sequence[Button]] = ()
    parse_mode: str | None = None
    # A URL, a Telegram file_id or the bytes of an image; the text becomes its caption.
    photo: str | bytes | None = None
    disable_preview: bool = False
    # The caller's own key (an outbox row id, say), handed back in the result.
    reference: Any = None


@dataclass(frozen=True)
class SendResult:
    message: OutgoingMessage
    ok: bool
    message_id: int | None = None
    message_ids: tuple[int, ...] = ()
    error: ErrorKind | None = None
    description: str = ""
    retry_after: float | None = None
    attempts: int = 0

    @property
    def fall_back_to_email(self) -> bool:
        return self.error == ErrorKind.BLOCKED


@dataclass
class _Pending:
    message: OutgoingMessage
    parts: list[str]
    sent_ids: list[int] = field(default_factory=list)
    attempts: int = 0  # of the current part, for 5xx/timeouts
    floods: int = 0
    requests: int = 0
    not_before: float = 0.0

    @property
    def is_last_part(self) -> bool:
        return len(self.sent_ids) == len(self.parts) - 1


def message_parts(message: OutgoingMessage) -> list[str]:
    if message.photo is not None:
        return split_text(message.text, TEXT_LIMIT, first_limit=CAPTION_LIMIT)
    return split_text(message.text, TEXT_LIMIT)


def send_messages(
    bot: TelegramBot,
    messages: Iterable[OutgoingMessage],
    *,
    client: TelegramClient | None = None,
    limiter: Limiter | None = None,
    max_in_flight: int = 8,
    lookahead: int = 1000,
    max_attempts: int = 5,
    backoff_base: float = 0.5,
    backoff_max: float = 30.0,
    max_floods: int = 5,
) -> Iterator[SendResult]:
    own_client = client is None
    active = client or TelegramClient(bot.token)
    try:
        yield from _Batch(
            bot=bot, client=active, limiter=limiter or limiter_from_settings(),
            max_in_flight=max_in_flight, lookahead=lookahead, max_attempts=max_attempts,
            backoff_base=backoff_base, backoff_max=backoff_max, max_floods=max_floods,
        ).run(iter(messages))
    finally:
        if own_client:
            active.close()


class _Batch:
    def __init__(self, *, bot: TelegramBot, client: TelegramClient, limiter: Limiter,
                 max_in_flight: int, lookahead: int, max_attempts: int, backoff_base: float,
                 backoff_max: float, max_floods: int) -> None:
        self.bot = bot
        self.client = client
        self.limiter = limiter
        self.key = bot_key(bot.token)
        self.max_in_flight = max_in_flight
        self.lookahead = lookahead
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_floods = max_floods
        # Per chat, its messages in order; a chat has at most one request in flight.
        self.chats: OrderedDict[int, deque[_Pending]] = OrderedDict()
        self.chat_ready_at: dict[int, float] = {}
        self.blocked: set[int] = set()
        self.in_flight: dict[concurrent.futures.Future[int], _Pending] = {}
        self.busy: set[int] = set()
        self.pending = 0
        self.exhausted = False
        self.done: deque[SendResult] = deque()
        # One request alone until the first answer: a cold client's first request waits
        # for its connection, and sends paced behind it would arrive all at once.
        self.warm = False

    def run(self, source: Iterator[OutgoingMessage]) -> Iterator[SendResult]:
        # Trouble here meets the sends too, and they sort it.
        with contextlib.suppress(TelegramError):
            self.client.warm_up()
        while True:
            self._refill(source)
            while self.done:
                yield self.done.popleft()
            if self.exhausted and not self.pending and not self.in_flight:
                return
            wait = self._dispatch()
            while self.done:
                yield self.done.popleft()
            self._collect(timeout=wait)

    def _refill(self, source: Iterator[OutgoingMessage]) -> None:
        while not self.exhausted and self.pending < self.lookahead:
            try:
                message = next(source)
            except StopIteration:
                self.exhausted = True
                return
            if message.chat_id in self.blocked:
                self.done.append(self._blocked_result(message, attempts=0))
                continue
            self.chats.setdefault(message.chat_id, deque()).append(
                _Pending(message=message, parts=message_parts(message))
            )
            self.pending += 1

    def _dispatch(self) -> float:
        """Start every send the limits allow now; return how long to wait for more."""
        next_wake = 0.5
        while len(self.in_flight) < (self.max_in_flight if self.warm else 1):
            now = time.monotonic()
            started = False
            for chat_id, queue in self.chats.items():
                if chat_id in self.busy:
                    continue
                head = queue[0]
                ready_at = max(head.not_before, self.chat_ready_at.get(chat_id, 0.0))
                if ready_at > now:
                    next_wake = min(next_wake, ready_at - now)
                    continue
                wait, chat_only = self.limiter.acquire(self.key, chat_id)
                if wait > 0:
                    # The chat's own interval: try another chat. The bot's (or a pause):
                    # nobody may send; wait.
                    if not chat_only:
                        return min(next_wake, wait)
                    self.chat_ready_at[chat_id] = now + wait
                    next_wake = min(next_wake, wait)
                    continue
                self._start(chat_id, head)
                # Round robin: a chat with many messages must not hold back the others,
                # which could use the bot's pace while it waits for its next second.
                self.chats.move_to_end(chat_id)
                started = True
                break
            if not started:
                return next_wake
        return next_wake

    def _start(self, chat_id: int, item: _Pending) -> None:
        message = item.message
        index = len(item.sent_ids)
        text = item.parts[index]
        buttons = message.buttons if item.is_last_part else ()
        if index == 0 and message.photo is not None:
            coroutine: Any = self.client._send_photo(
                chat_id, message.photo, caption=text, buttons=buttons,
                parse_mode=message.parse_mode,
            )
        else:
            coroutine = self.client._send_message(
                chat_id, text, buttons=buttons, parse_mode=message.parse_mode,
                disable_preview=message.disable_preview,
            )
        item.requests += 1
        self.busy.add(chat_id)
        self.in_flight[self.client.submit(coroutine)] = item

    def _collect(self, timeout: float) -> None:
        if not self.in_flight:
            if timeout > 0 and (self.pending or not self.exhausted):
                time.sleep(timeout)
            return
        finished, _ = concurrent.futures.wait(
            list(self.in_flight), timeout=max(timeout, 0.0),
            return_when=concurrent.futures.FIRST_COMPLETED,
        )
        for future in finished:
            self.warm = True
            item = self.in_flight.pop(future)
            chat_id = item.message.chat_id
            self.busy.discard(chat_id)
            try:
                message_id = future.result()
            except Exception as error:  # sorted below; a bug must not lose the batch
                self._failed(item, error)
            else:
                item.sent_ids.append(message_id)
                item.attempts = 0
                if len(item.sent_ids) == len(item.parts):
                    self._finish(item, SendResult(
                        message=item.message, ok=True, message_id=item.sent_ids[0],
                        message_ids=tuple(item.sent_ids), attempts=item.requests,
                    ))

    def _failed(self, item: _Pending, error: BaseException) -> None:
        message = item.message
        if isinstance(error, RetryAfter):
            seconds = retry_after_seconds(error)
            self.limiter.pause(self.key, seconds)
            item.floods += 1
            logger.warning("telegram: 429, bot paused for %ss", seconds)
            if item.floods >= self.max_floods:
                self._finish(item, self._failure(item, ErrorKind.RATE_LIMITED, error, seconds))
            return
        if isinstance(error, Forbidden):
            self.blocked.add(message.chat_id)
            services.telegram_chat_mark_unreachable(bot=self.bot, chat_id=message.chat_id)
            self._finish(item, self._failure(item, ErrorKind.BLOCKED, error))
            # Everything else queued for the chat would get 403 as well.
            for other in list(self.chats.get(message.chat_id, ())):
                self._finish(other, self._blocked_result(other.message, other.requests))
            return
        # PTB's BadRequest (400) is a NetworkError subclass, but no retry fixes a 400.
        if isinstance(error, NetworkError) and not isinstance(error, BadRequest):
            # 5xx, timeouts, connection errors
            item.attempts += 1
            if item.attempts >= self.max_attempts:
                self._finish(item, self._failure(item, ErrorKind.RETRYABLE, error))
                return
            backoff = min(self.backoff_max, self.backoff_base * 2 ** (item.attempts - 1))
            item.not_before = time.monotonic() + backoff * random.uniform(0.8, 1.2)
            return
        if not isinstance(error, TelegramError):
            logger.exception("telegram: unexpected error while sending", exc_info=error)
        self._finish(item, self._failure(item, ErrorKind.FATAL, error))

    def _failure(self, item: _Pending, kind: ErrorKind, error: BaseException,
                 retry_after: float | None = None) -> SendResult:
        description = str(error)
        if len(item.parts) > 1:
            description += f" (part {len(item.sent_ids) + 1} of {len(item.parts)})"
        return SendResult(
            message=item.message, ok=False, error=kind, description=description,
            retry_after=retry_after, message_ids=tuple(item.sent_ids),
            message_id=item.sent_ids[0] if item.sent_ids else None, attempts=item.requests,
        )

    def _blocked_result(self, message: OutgoingMessage, attempts: int) -> SendResult:
        return SendResult(message=message, ok=False, error=ErrorKind.BLOCKED,
                          description="Forbidden: bot was blocked by the user",
                          attempts=attempts)

    def _finish(self, item: _Pending, result: SendResult) -> None:
        chat_id = item.message.chat_id
        queue = self.chats.get(chat_id)
        if queue is not None:
            try:
                queue.remove(item)
            except ValueError:
                pass
            else:
                self.pending -= 1
            if not queue:
                del self.chats[chat_id]
                self.chat_ready_at.pop(chat_id, None)
        self.done.append(result)
