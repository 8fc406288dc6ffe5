"""Writes of the digest: preparing a day's digests into the delivery outbox, and consent.

`digest_prepare` builds and renders the digests of everyone due in a time window from
one set-based load of the day (queries.DigestDay) and inserts the outbox rows in bulk.
Rows are keyed by (person, "digest:<program>:<date>", channel), so preparing twice,
two beats or a retried task never make a second digest.
"""

from __future__ import annotations

import json
import time as timer
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction

from fokus.core import clock
from fokus.delivery.models import (
    PRIORITY,
    Channel,
    Delivery,
    DeliveryKind,
    DeliveryPreference,
    DeliveryStatus,
)
from fokus.digest.models import ShowcaseConsent
from fokus.digest.queries import (
    DigestDay,
    Recipient,
    digest_audience,
    digest_contact_point,
    digest_slot_time,
)
from fokus.digest.render import (
    DigestMessage,
    digest_render_active,
    language_of,
    rendering_in,
)
from fokus.people.models import Person
from fokus.programs.models import LearningDay, Program, SlotKind
from fokus.programs.schedule import contact_instant
from fokus.telegram.models import TelegramChat

# The job prepares digests due within this horizon: late enough that "today" is
# nearly over when the data is read, early enough to be in the outbox on time.
PREPARE_AHEAD = timedelta(minutes=15)
# After downtime, a digest whose slot passed longer ago than this is not sent any more.
LATE_LIMIT = timedelta(hours=2)
BATCH = 2000


@dataclass
class PrepareResult:
    due: int = 0  # people whose digest falls in the window and had none yet
    prepared: int = 0  # outbox rows written
    unreachable: int = 0  # due, but no channel reaches them
    build_seconds: float = 0.0  # loading the day and building + rendering every digest
    enqueue_seconds: float = 0.0  # choosing channels and inserting the rows


def digest_channels(organization_id: int, people: dict[int, Recipient]) -> dict[int, str]:
    """Each person's first reachable channel, as delivery_channels_for decides it.

    Two queries for the whole organisation instead of two per person.
    """
    preferences = {
        pid: (order, unsubscribed)
        for pid, order, unsubscribed in DeliveryPreference.objects.filter(
            person__organization_id=organization_id
        ).values_list("person_id", "channel_order", "email_unsubscribed")
    }
    chats = set(
        TelegramChat.objects.filter(
            person__organization_id=organization_id, unreachable_at__isnull=True
        ).values_list("person_id", flat=True)
    )
    default_order = [Channel.TELEGRAM.value, Channel.EMAIL.value]
    result: dict[int, str] = {}
    for pid, r in people.items():
        found = preferences.get(pid)
        if found is None:
            order, unsubscribed = default_order, False
        else:
            order = [c for c in found[0].split(",") if c in Channel.values]
            unsubscribed = found[1]
        for channel in order:
            if channel == Channel.TELEGRAM and pid in chats:
                result[pid] = channel
                break
            if channel == Channel.EMAIL and r.email and not unsubscribed:
                result[pid] = channel
                break
    return result


def digest_messages(
    data: DigestDay, recipients: list[Recipient]
) -> dict[int, DigestMessage]:
    """Build and render every recipient's digest; one language switch per language."""
    by_language: dict[str, list[Recipient]] = {}
    for r in recipients:
        by_language.setdefault(r.language or "ru", []).append(r)
    messages: dict[int, DigestMessage] = {}
    for language, group in by_language.items():
        with rendering_in(language):
            for r in group:
                content = data.content_for(r)
                assert language_of(content) == language
                messages[r.person_id] = digest_render_active(content)
    return messages


def digest_prepare(
    program: Program,
    day: date,
    now: datetime,
    *,
    due_from: datetime | None = None,
    due_until: datetime | None = None,
) -> PrepareResult:
    """Prepare the digests of `day` whose slot (on each person's clock) is in the window.

    Without bounds everyone is prepared. People who already have the day's digest are
    left alone. Idempotent.
    """
    result = PrepareResult()
    slot_time = digest_slot_time(program)
    if slot_time is None:
        return result
    started = timer.perf_counter()
    audience = digest_audience(program)
    contact_point = digest_contact_point(program.pk, day)
    already = set(
        Delivery.objects.filter(program=program, contact_point=contact_point).values_list(
            "person_id", flat=True
        )
    )
    due_at_by_zone: dict[str, datetime] = {}
    due: list[Recipient] = []
    for r in audience.recipients.values():
        if r.person_id in already:
            continue
        due_at = due_at_by_zone.get(r.time_zone)
        if due_at is None:
            due_at = due_at_by_zone[r.time_zone] = contact_instant(day, slot_time, r.time_zone)
        if (due_from is not None and due_at < due_from) or (
            due_until is not None and due_at > due_until
        ):
            continue
        due.append(r)
    result.due = len(due)
    if not due:
        return result
    data = DigestDay.load(program, day, now, audience)
    if data is None:
        return result
    messages = digest_messages(data, due)
    result.build_seconds = timer.perf_counter() - started

    started = timer.perf_counter()
    channels = digest_channels(program.organization_id, {r.person_id: r for r in due})
    priority = PRIORITY[DeliveryKind.DIGEST]
    rows = [
        Delivery(
            organization_id=r.organization_id,
            person_id=r.person_id,
            program_id=program.pk,
            kind=DeliveryKind.DIGEST,
            contact_point=contact_point,
            channel=channels[r.person_id],
            due_at=due_at_by_zone[r.time_zone],
            priority=priority,
            status=DeliveryStatus.PLANNED,
            payload=messages[r.person_id].as_payload(),
        )
        for r in due
        if r.person_id in channels
    ]
    result.unreachable = len(due) - len(rows)
    outbox_insert(rows)
    result.prepared = len(rows)
    result.enqueue_seconds = timer.perf_counter() - started
    return result


def outbox_insert(rows: list[Delivery]) -> None:
    """Insert outbox rows, skipping any that exist (same person, contact point, channel).

    PostgreSQL gets them by COPY into a temporary table and one INSERT ... ON CONFLICT DO
    NOTHING: 100,000 rows of ~2 kB payloads in seconds, where bulk_create spends most
    of its time quoting JSON into arrays. Other databases use bulk_create.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        with transaction.atomic():
            for start in range(0, len(rows), BATCH):
                Delivery.objects.bulk_create(rows[start : start + BATCH], ignore_conflicts=True)
        return
    fields = [f for f in Delivery._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    table = quote(Delivery._meta.db_table)
    columns = ", ".join(quote(f.column or f.attname) for f in fields)
    with transaction.atomic(), connection.cursor() as cursor:
        # Dropped at the end, not only on commit: an outer transaction (a test, a task
        # preparing several programs) may insert again before it commits.
        cursor.execute("DROP TABLE IF EXISTS digest_outbox")
        cursor.execute(
            f"CREATE TEMP TABLE digest_outbox ON COMMIT DROP AS "  # noqa: S608 (names only)
            f"SELECT {columns} FROM {table} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY digest_outbox ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_copy_value(f, row) for f in fields])
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM digest_outbox "  # noqa: S608
            f"ON CONFLICT DO NOTHING"
        )
        cursor.execute("DROP TABLE digest_outbox")


def _copy_value(field: Any, row: Delivery) -> Any:
    value = field.pre_save(row, True)  # fills created_at (auto_now_add)
    if field.attname == "payload":
        return json.dumps(value, ensure_ascii=False)
    return value


def digest_prepare_due(now: datetime) -> dict[str, PrepareResult]:
    """Every program's digests due in [now - LATE_LIMIT, now + PREPARE_AHEAD] (the job).

    A learning date is a date on someone's clock: around midnight UTC it is still
    yesterday in the west and already tomorrow in the east, so three dates are tried.
    """
    today = now.date()
    candidates = [today - timedelta(days=1), today, today + timedelta(days=1)]
    results: dict[str, PrepareResult] = {}
    days = LearningDay.objects.filter(
        date__in=candidates, program__slots__kind=SlotKind.DIGEST
    ).select_related("program").distinct()
    for learning_day in days:
        program = learning_day.program
        result = digest_prepare(
            program, learning_day.date, now,
            due_from=now - LATE_LIMIT, due_until=now + PREPARE_AHEAD,
        )
        if result.due:
            results[f"{program.pk}:{learning_day.date.isoformat()}"] = result
    return results


def digest_slot_instant(program: Program, day: date, person: Person) -> datetime | None:
    """When `person` gets the digest of `day`: the digest slot on their clock (UTC)."""
    slot_time: time | None = digest_slot_time(program)
    if slot_time is None:
        return None
    return contact_instant(day, slot_time, person.time_zone)


@transaction.atomic
def showcase_consent_give(*, person: Person) -> ShowcaseConsent:
    """The person agrees that their well-graded answers may be quoted in digests."""
    consent, _created = ShowcaseConsent.objects.get_or_create(
        person=person,
        defaults={"organization_id": person.organization_id, "given_at": clock.now()},
    )
    return consent


@transaction.atomic
def showcase_consent_withdraw(*, person: Person) -> bool:
    """No more quotes from the next prepared digest on; True if there was a consent."""
    deleted, _by_model = ShowcaseConsent.objects.filter(person=person).delete()
    return deleted > 0
