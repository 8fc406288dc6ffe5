"""Sending the outbox: claim due deliveries, send them, record what happened.

`delivery_dispatch_due` claims one batch and sends it; `delivery_dispatch_all` repeats
that until nothing is due (what the minute job's task runs). How it stays correct with
many workers and crashes (docs/delivery.md, "Sending"):

* **Claiming** happens in one short transaction: due PLANNED rows (and SENDING rows
  whose claim went stale) are selected in priority, then due order, with
  `SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL (on SQLite the IMMEDIATE
  transaction holds the write lock, so claims serialise), and set to SENDING with the
  worker's name, the time and one more attempt before the transaction commits. Two
  workers never claim the same row.
* **Sending** happens outside any transaction, and each outcome is written as soon as
  it is known (one small UPDATE), so a worker killed mid-batch has recorded every
  message it finished; what it had in flight stays SENDING, is reclaimed after
  STALE_CLAIM_AFTER and sent again: at most the messages that were in flight repeat.
* **Outcomes**: sent → SENT (sent_at, provider message id); a temporary failure →
  PLANNED again with exponential backoff (next_attempt_at), FAILED after
  MAX_ATTEMPTS; a permanent one → FAILED with the reason; Telegram's 403 (the person
  blocked the bot) → FAILED on Telegram and the same contact point enqueued on e-mail;
  429 after the sender's own waiting → PLANNED after `retry_after`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q

from fokus.core import clock
from fokus.delivery.channels.email import EmailOutcome, send_emails
from fokus.delivery.channels.telegram import chats_of, outgoing_message, send_telegram
from fokus.delivery.models import Channel, Delivery, DeliveryStatus
from fokus.delivery.rendering import PayloadError, RenderCache, RenderedMessage, render_delivery
from fokus.delivery.services import delivery_channels_for, delivery_enqueue
from fokus.telegram.client import TelegramClient
from fokus.telegram.models import TelegramBot, TelegramChat
from fokus.telegram.sender import ErrorKind, OutgoingMessage, SendResult

logger = logging.getLogger(__name__)

__all__ = [
    "CLAIM_BATCH",
    "MAX_ATTEMPTS",
    "STALE_CLAIM_AFTER",
    "DispatchRun",
    "TelegramClients",
    "delivery_claim_due",
    "delivery_dispatch_all",
    "delivery_dispatch_due",
    "delivery_due_exists",
    "retry_delay",
]

# A batch is sent within seconds (600 Telegram messages take 20 s at 30/s), far inside
# the stale timeout, so a live worker's claim is never taken from it.
CLAIM_BATCH = 600
STALE_CLAIM_AFTER = timedelta(minutes=2)
MAX_ATTEMPTS = 6
RETRY_BASE = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=1)


def _stale_after() -> timedelta:
    seconds = getattr(settings, "FOKUS_DELIVERY_STALE_CLAIM_SECONDS", None)
    return timedelta(seconds=float(seconds)) if seconds else STALE_CLAIM_AFTER


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, 8 … minutes after the attempt that failed, at most an hour."""
    return min(RETRY_MAX, RETRY_BASE * 2 ** max(0, attempts - 1))


@dataclass
class DispatchRun:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    fell_back: int = 0
    skipped: int = 0

    def add(self, other: DispatchRun) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def as_json(self) -> dict[str, int]:
        return asdict(self)


def _due(now: datetime, stale_before: datetime) -> Q:
    planned = Q(status=DeliveryStatus.PLANNED, due_at__lte=now) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    stale = Q(status=DeliveryStatus.SENDING, claimed_at__lt=stale_before)
    return planned | stale


def delivery_due_exists(*, now: datetime) -> bool:
    return Delivery.objects.filter(_due(now, now - _stale_after())).exists()


def delivery_claim_due(*, now: datetime, limit: int, worker: str) -> list[Delivery]:
    """Claim up to `limit` due deliveries for `worker` (SENDING, one more attempt)."""
    stale_before = now - _stale_after()
    with transaction.atomic():
        # A message whose sending killed its worker again and again is given up.
        Delivery.objects.filter(
            status=DeliveryStatus.SENDING, claimed_at__lt=stale_before,
            attempts__gte=MAX_ATTEMPTS,
        ).update(
            status=DeliveryStatus.FAILED,
            error="the worker stopped while sending it, too many times",
        )
        due = Delivery.objects.filter(_due(now, stale_before)).order_by(
            "priority", "due_at", "pk"
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        Delivery.objects.filter(pk__in=ids).update(
            status=DeliveryStatus.SENDING, claimed_at=now, claimed_by=worker[:100],
            attempts=F("attempts") + 1,
        )
    return list(
        Delivery.objects.select_related("person", "program")
        .filter(pk__in=ids)
        .order_by("priority", "due_at", "pk")
    )


def delivery_dispatch_due(
    *,
    now: datetime | None = None,
    limit: int = CLAIM_BATCH,
    worker: str = "",
    sender_options: dict[str, Any] | None = None,
    clients: TelegramClients | None = None,
) -> DispatchRun:
    """Claim one batch of due deliveries and send it; return what happened.

    `clients`: Telegram connections kept across batches (delivery_dispatch_all); one is
    opened and closed here otherwise.
    """
    as_of = now or clock.now()
    worker = worker or "dispatch"
    claimed = delivery_claim_due(now=as_of, limit=limit, worker=worker)
    run = DispatchRun(claimed=len(claimed))
    if not claimed:
        return run
    batch = _Batch(run=run, worker=worker, cache=RenderCache())
    batch.cache.load(claimed)
    telegram = [d for d in claimed if d.channel == Channel.TELEGRAM]
    email = [d for d in claimed if d.channel != Channel.TELEGRAM]
    own = clients is None
    active = clients if clients is not None else TelegramClients()
    try:
        if telegram:
            batch.send_telegram(telegram, sender_options or {}, active)
        if email:
            batch.send_email(email)
    finally:
        if own:
            active.close()
    return run


def delivery_dispatch_all(
    *, worker: str = "", limit: int = CLAIM_BATCH, max_batches: int = 100_000,
    sender_options: dict[str, Any] | None = None,
) -> DispatchRun:
    """Dispatch batch after batch until nothing is due (as of each batch's start)."""
    total = DispatchRun()
    clients = TelegramClients()
    try:
        for _ in range(max_batches):
            run = delivery_dispatch_due(
                now=clock.now(), limit=limit, worker=worker, sender_options=sender_options,
                clients=clients,
            )
            total.add(run)
            if not run.claimed:
                break
    finally:
        clients.close()
    return total


class TelegramClients:
    """One open Bot API connection per bot token, reused batch after batch: a new
    client would open its connection (and warm up) again for every batch."""

    def __init__(self) -> None:
        self._clients: dict[str, TelegramClient] = {}

    def for_bot(self, bot: TelegramBot) -> TelegramClient:
        client = self._clients.get(bot.token)
        if client is None:
            client = self._clients[bot.token] = TelegramClient(bot.token)
        return client

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


class _Batch:
    """Records the outcomes of one claimed batch, each as soon as it is known."""

    def __init__(self, *, run: DispatchRun, worker: str, cache: RenderCache) -> None:
        self.run = run
        self.worker = worker
        self.cache = cache

    def render(self, delivery: Delivery) -> RenderedMessage | None:
        try:
            return render_delivery(
                delivery, self.cache, for_email=delivery.channel == Channel.EMAIL
            )
        except PayloadError as error:
            self.failed(delivery, f"cannot render: {error}")
            return None

    # -- recording --

    def _mine(self, delivery_id: int) -> Any:
        # Only while the claim is still ours: a row reclaimed after a stall is the new
        # claimant's to record.
        return Delivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.SENDING, claimed_by=self.worker
        )

    def sent(self, delivery_id: int, provider_message_id: str) -> None:
        # Recorded even if the claim went stale meanwhile: the message did go out.
        Delivery.objects.filter(pk=delivery_id).update(
            status=DeliveryStatus.SENT, sent_at=clock.now(),
            provider_message_id=provider_message_id[:200], error="", next_attempt_at=None,
        )
        self.run.sent += 1

    def failed(self, delivery: Delivery, error: str) -> None:
        self._mine(delivery.pk).update(status=DeliveryStatus.FAILED, error=error[:2000])
        self.run.failed += 1

    def skipped(self, delivery: Delivery, reason: str) -> None:
        self._mine(delivery.pk).update(status=DeliveryStatus.SKIPPED, error=reason[:2000])
        self.run.skipped += 1

    def retry(self, delivery: Delivery, error: str, *, after: timedelta | None = None,
              counts: bool = True) -> None:
        """Back to PLANNED for later; FAILED once a counted retry is out of attempts."""
        # `attempts` already counts this one (the claim added it).
        if counts and delivery.attempts >= MAX_ATTEMPTS:
            self.failed(delivery, f"{error} (gave up after {delivery.attempts} attempts)")
            return
        delay = after if after is not None else retry_delay(delivery.attempts)
        self._mine(delivery.pk).update(
            status=DeliveryStatus.PLANNED, next_attempt_at=clock.now() + delay,
            error=error[:2000], claimed_at=None, claimed_by="",
        )
        self.run.retried += 1

    def fall_back_to_email(self, delivery: Delivery, reason: str) -> None:
        """Telegram cannot reach the person: the same contact point goes by e-mail."""
        person = delivery.person
        fallback: Delivery | None = None
        if Channel.EMAIL in delivery_channels_for(person):
            fallback = delivery_enqueue(
                person=person, kind=delivery.kind, contact_point=delivery.contact_point,
                due_at=delivery.due_at, payload=delivery.payload, program=delivery.program,
                channel=Channel.EMAIL,
            )
        if fallback is None:
            self.failed(delivery, f"{reason}; no e-mail address to fall back to")
            return
        self.failed(delivery, f"{reason}; sent by e-mail instead")
        self.run.fell_back += 1

    # -- channels --

    def send_telegram(
        self, deliveries: list[Delivery], sender_options: dict[str, Any],
        clients: TelegramClients,
    ) -> None:
        chats = chats_of(delivery.person_id for delivery in deliveries)
        by_id = {delivery.pk: delivery for delivery in deliveries}
        per_bot: dict[int, list[tuple[Delivery, TelegramChat]]] = defaultdict(list)
        bots: dict[int, TelegramBot] = {}
        for delivery in deliveries:
            chat: TelegramChat | None = chats.get(delivery.person_id)
            if chat is None or not chat.is_reachable:
                self.fall_back_to_email(
                    delivery, "Telegram: no chat bound" if chat is None
                    else "Telegram: the person blocked the bot"
                )
                continue
            bots[chat.bot_id] = chat.bot
            per_bot[chat.bot_id].append((delivery, chat))
        for bot_id, items in per_bot.items():
            bot = bots[bot_id]
            options = {"lookahead": 64, "client": clients.for_bot(bot), **sender_options}
            for result in self._results(bot, self._messages(items), options):
                self._telegram_outcome(by_id[result.message.reference], result)

    def _messages(self, items: list[tuple[Delivery, TelegramChat]]) -> Iterator[OutgoingMessage]:
        # Rendered as the sender asks for them (it looks `lookahead` messages ahead), so
        # sending starts at once and rendering fills the waits of the rate limit.
        for delivery, chat in items:
            rendered = self.render(delivery)
            if rendered is not None:
                yield outgoing_message(delivery_id=delivery.pk, rendered=rendered, chat=chat)

    def _results(
        self, bot: TelegramBot, messages: Iterator[OutgoingMessage], options: dict[str, Any]
    ) -> Iterator[SendResult]:
        try:
            yield from send_telegram(bot, messages, **options)
        except Exception:
            # The sender sorts every Telegram error itself; this is a bug or a broken
            # event loop. Its unfinished messages stay SENDING and are reclaimed.
            logger.exception("delivery: the Telegram sender stopped")

    def _telegram_outcome(self, delivery: Delivery, result: SendResult) -> None:
        if result.ok:
            ids = result.message_ids or ((result.message_id,) if result.message_id else ())
            self.sent(delivery.pk, ",".join(str(i) for i in ids))
            return
        error = f"Telegram: {result.description}"
        if result.error == ErrorKind.BLOCKED:
            self.fall_back_to_email(delivery, "Telegram: the person blocked the bot")
        elif result.error == ErrorKind.RATE_LIMITED:
            wait = timedelta(seconds=max(1.0, result.retry_after or 1.0))
            self.retry(delivery, error, after=wait, counts=False)
        elif result.error == ErrorKind.RETRYABLE:
            self.retry(delivery, error)
        else:
            self.failed(delivery, error)

    def send_email(self, deliveries: list[Delivery]) -> None:
        try:
            for outcome in send_emails(self._emails(deliveries)):
                self._email_outcome(outcome)
        except Exception:
            # Building a message failed (a template bug): the rest stay SENDING and are
            # reclaimed after the stale timeout rather than lost.
            logger.exception("delivery: sending e-mail stopped")

    def _emails(self, deliveries: list[Delivery]) -> Iterator[tuple[Delivery, RenderedMessage]]:
        for delivery in deliveries:
            if Channel.EMAIL not in delivery_channels_for(delivery.person):
                self.skipped(delivery, "e-mail: no address, or the person unsubscribed")
                continue
            rendered = self.render(delivery)
            if rendered is not None:
                yield delivery, rendered

    def _email_outcome(self, outcome: EmailOutcome) -> None:
        if outcome.ok:
            self.sent(outcome.delivery.pk, outcome.message_id)
        elif outcome.retryable:
            self.retry(outcome.delivery, f"e-mail: {outcome.error}")
        else:
            self.failed(outcome.delivery, f"e-mail: {outcome.error}")
