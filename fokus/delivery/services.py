"""Writes of delivery: putting messages into the outbox.

Every part of Fokus that wants to tell a person something (a lesson, a reminder, the
digest, an announcement, a curator's feedback, a nudge) calls `delivery_enqueue`; the
dispatcher (fokus.delivery.dispatch) sends due rows. Callers never talk to Telegram or
SMTP themselves, so quiet hours, the daily budget, preferences and the fallback from
Telegram to e-mail apply to everything.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from django.db import transaction

from fokus.delivery.models import (
    PRIORITY,
    Channel,
    Delivery,
    DeliveryBlob,
    DeliveryKind,
    DeliveryPreference,
    DeliveryStatus,
)
from fokus.people.models import Person
from fokus.programs.models import Program
from fokus.telegram.models import TelegramChat

__all__ = ["delivery_blob_store", "delivery_channels_for", "delivery_enqueue"]


def delivery_blob_store(*, data: bytes, mime: str) -> str:
    """Keep bytes many payloads share; returns the key payloads use (`{"blob": key}`)."""
    key = hashlib.sha256(data).hexdigest()
    DeliveryBlob.objects.get_or_create(sha256=key, defaults={"mime": mime, "data": data})
    return key


def delivery_channels_for(
    person: Person, preference: DeliveryPreference | None = None
) -> list[str]:
    """The channels that reach `person` now, in their order of preference."""
    if preference is None:
        preference = DeliveryPreference.objects.filter(person=person).first()
    order = preference.channels if preference is not None else [Channel.TELEGRAM, Channel.EMAIL]
    reachable: list[str] = []
    for channel in order:
        if channel == Channel.TELEGRAM:
            chat = TelegramChat.objects.filter(person=person).only("unreachable_at").first()
            if chat is not None and chat.is_reachable:
                reachable.append(channel)
        elif channel == Channel.EMAIL and person.email and not (
            preference is not None and preference.email_unsubscribed
        ):
            reachable.append(channel)
    return reachable


@transaction.atomic
def delivery_enqueue(
    *,
    person: Person,
    kind: DeliveryKind | str,
    contact_point: str,
    due_at: datetime,
    payload: dict[str, Any],
    program: Program | None = None,
    channel: str | None = None,
) -> Delivery | None:
    """Put one message for `person` into the outbox on their first reachable channel.

    Idempotent: the same person, contact point and channel return the existing row.
    `channel` forces one (the e-mail fallback after Telegram's 403). Returns None when
    no channel reaches the person; the caller decides whether that matters.
    """
    if program is not None and program.organization_id != person.organization_id:
        raise ValueError("a delivery's program must belong to the person's organisation")
    if channel is None:
        channels = delivery_channels_for(person)
        if not channels:
            return None
        channel = channels[0]
    delivery, _created = Delivery.objects.get_or_create(
        person=person,
        contact_point=contact_point,
        channel=channel,
        defaults={
            "organization_id": person.organization_id,
            "program": program,
            "kind": kind,
            "due_at": due_at,
            "priority": PRIORITY.get(DeliveryKind(kind), 50),
            "status": DeliveryStatus.PLANNED,
            "payload": payload,
        },
    )
    return delivery
