"""Sending the outbox through the fake Bot API: buttons, 403 → e-mail, 5xx, 429,
claims, stale claims and idempotency."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connections

from fokus.core.clock import frozen_at
from fokus.delivery.dispatch import (
    MAX_ATTEMPTS,
    delivery_claim_due,
    delivery_dispatch_all,
    delivery_dispatch_due,
)
from fokus.delivery.links import LinkTarget, link_resolve
from fokus.delivery.models import Channel, Delivery, DeliveryKind, DeliveryStatus
from fokus.delivery.services import delivery_enqueue
from fokus.delivery.tests.conftest import Drop
from fokus.telegram.models import TelegramChat
from fokus.telegram.testing.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.django_db


def status_of(delivery: Delivery) -> str:
    delivery.refresh_from_db()
    return delivery.status


def test_a_due_lesson_arrives_in_telegram_with_buttons_to_the_lesson_and_the_task(
    drop: Drop, fake_bot_api: FakeBotApi
) -> None:
    anna = drop.person("P1")
    delivery = drop.lesson(anna)
    assert delivery.channel == Channel.TELEGRAM

    with frozen_at(drop.lesson_at - timedelta(minutes=1)):
        assert delivery_dispatch_all(worker="w1").claimed == 0  # not due yet
    assert fake_bot_api.sent_to(drop.chat_id(anna)) == []

    with frozen_at(drop.lesson_at):
        run = delivery_dispatch_all(worker="w1")
    assert run.sent == 1
    [message] = fake_bot_api.sent_to(drop.chat_id(anna))
    assert drop.materials[0].title in message.text
    assert "minutes" in message.text
    rows = message.reply_markup["inline_keyboard"] if message.reply_markup else []
    buttons = {b["text"]: b["url"] for row in rows for b in row if "url" in b}
    assert set(buttons) == {"Open the lesson", "Answer the task"}
    # ...and one to answer right here in Telegram (the review app's flow takes it up).
    presses = [b["callback_data"] for row in rows for b in row if "callback_data" in b]
    assert presses == [f"rv:a:{drop.tasks[0].pk}"]
    opened = link_resolve(buttons["Open the lesson"].rsplit("/l/", 1)[1].rstrip("/"))
    assert (opened.person_id, opened.target) == (anna.pk, LinkTarget.MATERIAL)
    answer = link_resolve(buttons["Answer the task"].rsplit("/l/", 1)[1].rstrip("/"))
    assert (answer.target, answer.object_id) == (LinkTarget.TASK, drop.tasks[0].pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.sent_at == drop.lesson_at
    assert delivery.provider_message_id == str(message.message_id)
    assert delivery.attempts == 1


def test_the_lesson_speaks_the_persons_language(drop: Drop, fake_bot_api: FakeBotApi) -> None:
    ivan = drop.person("P1", language="ru")
    drop.lesson(ivan)
    with frozen_at(drop.lesson_at):
        delivery_dispatch_all()
    [message] = fake_bot_api.sent_to(drop.chat_id(ivan))
    rows = message.reply_markup["inline_keyboard"] if message.reply_markup else []
    labels = [b["text"] for row in rows for b in row]
    assert labels == ["Открыть урок", "Ответить на задание", "Ответить здесь"]
    assert "минут" in message.text


def test_a_blocked_bot_marks_the_chat_unreachable_and_the_lesson_goes_by_email(
    drop: Drop, fake_bot_api: FakeBotApi, mailoutbox: list[mail.EmailMessage]
) -> None:
    anna = drop.person("P1")
    boris = drop.person("P2", email=False)
    telegram_anna, telegram_boris = drop.lesson(anna), drop.lesson(boris)
    fake_bot_api.block_chat(drop.chat_id(anna))
    fake_bot_api.block_chat(drop.chat_id(boris))

    with frozen_at(drop.lesson_at):
        run = delivery_dispatch_all(worker="w1")

    assert TelegramChat.objects.get(person=anna).unreachable_at == drop.lesson_at
    telegram_anna.refresh_from_db()
    assert telegram_anna.status == DeliveryStatus.FAILED
    assert "blocked" in telegram_anna.error and "e-mail instead" in telegram_anna.error
    by_email = Delivery.objects.get(person=anna, channel=Channel.EMAIL)
    assert by_email.contact_point == telegram_anna.contact_point
    assert by_email.status == DeliveryStatus.SENT
    [message] = mailoutbox
    assert message.to == ["p1@example.com"]
    assert drop.materials[0].title in message.subject
    # Boris has no address: nothing to fall back to, and the reason says so.
    telegram_boris.refresh_from_db()
    assert telegram_boris.status == DeliveryStatus.FAILED
    assert "no e-mail address" in telegram_boris.error
    assert run.fell_back == 1

    # The next lesson for Anna goes straight to e-mail: the chat is unreachable.
    later = delivery_enqueue(
        person=anna, kind=DeliveryKind.LESSON, contact_point="lesson:next",
        due_at=drop.lesson_at, payload=telegram_anna.payload, program=drop.program,
    )
    assert later is not None and later.channel == Channel.EMAIL


def test_a_server_error_is_retried_later_and_then_sent(
    drop: Drop, fake_bot_api: FakeBotApi
) -> None:
    anna = drop.person("P1")
    delivery = drop.lesson(anna)
    fake_bot_api.fail_next(1, status=502, method="sendMessage")
    once = {"max_attempts": 1}  # the sender gives up at once: the outbox retries

    with frozen_at(drop.lesson_at):
        run = delivery_dispatch_all(sender_options=once)
    assert run.retried == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PLANNED
    assert delivery.next_attempt_at == drop.lesson_at + timedelta(minutes=1)
    assert "Telegram" in delivery.error
    assert fake_bot_api.sent_to(drop.chat_id(anna)) == []

    with frozen_at(drop.lesson_at + timedelta(seconds=30)):
        assert delivery_dispatch_all(sender_options=once).claimed == 0  # backing off
    with frozen_at(drop.lesson_at + timedelta(minutes=1)):
        assert delivery_dispatch_all(sender_options=once).sent == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.error) == (DeliveryStatus.SENT, 2, "")
    assert len(fake_bot_api.sent_to(drop.chat_id(anna))) == 1


def test_server_errors_that_never_end_fail_the_delivery_after_the_last_attempt(
    drop: Drop, fake_bot_api: FakeBotApi
) -> None:
    anna = drop.person("P1")
    delivery = drop.lesson(anna)
    fake_bot_api.fail_next(MAX_ATTEMPTS, status=503, method="sendMessage")
    at = drop.lesson_at
    for _attempt in range(MAX_ATTEMPTS):
        with frozen_at(at):
            delivery_dispatch_all(sender_options={"max_attempts": 1})
        delivery.refresh_from_db()
        at = delivery.next_attempt_at or at
    assert delivery.status == DeliveryStatus.FAILED
    assert f"gave up after {MAX_ATTEMPTS} attempts" in delivery.error
    # The waits doubled: 1 + 2 + 4 + 8 + 16 minutes.
    assert at == drop.lesson_at + timedelta(minutes=31)


def test_a_429_pauses_the_bot_for_retry_after_and_the_drop_continues(
    drop: Drop, fake_bot_api: FakeBotApi
) -> None:
    people = [drop.person(f"P{n}") for n in range(1, 6)]
    for person in people:
        drop.lesson(person)
    fake_bot_api.flood_next(2)

    with frozen_at(drop.lesson_at):
        run = delivery_dispatch_all()

    assert run.sent == 5
    assert fake_bot_api.count_status(429) == 1
    flood = next(r for r in fake_bot_api.requests if r.status == 429)
    after = [r.at for r in fake_bot_api.requests if r.status == 200 and r.at > flood.at
             and r.method == "sendMessage"]
    assert after and min(after) - flood.at >= 1.9  # nothing went out during the pause
    assert {m.chat_id for m in fake_bot_api.sent} == {drop.chat_id(p) for p in people}


def test_a_flood_that_outlasts_the_sender_puts_the_lesson_back_for_after_the_pause(
    drop: Drop, fake_bot_api: FakeBotApi
) -> None:
    anna = drop.person("P1")
    delivery = drop.lesson(anna)
    fake_bot_api.flood_next(1)
    with frozen_at(drop.lesson_at):
        run = delivery_dispatch_all(sender_options={"max_floods": 1})
    assert run.retried == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PLANNED
    assert delivery.next_attempt_at == drop.lesson_at + timedelta(seconds=1)
    with frozen_at(drop.lesson_at + timedelta(seconds=1)):
        assert delivery_dispatch_all().sent == 1
    assert len(fake_bot_api.sent_to(drop.chat_id(anna))) == 1


def test_claims_go_by_priority_then_due_time_and_are_not_claimed_twice(drop: Drop) -> None:
    anna, boris = drop.person("P1"), drop.person("P2")
    lesson = drop.lesson(anna)
    feedback = delivery_enqueue(
        person=boris, kind=DeliveryKind.FEEDBACK, contact_point="feedback:1",
        due_at=drop.lesson_at, payload={"text": "Your answer was graded."},
    )
    reminder = delivery_enqueue(
        person=boris, kind=DeliveryKind.REMINDER, contact_point="reminder:1",
        due_at=drop.lesson_at - timedelta(hours=1), payload={"text": "Answer the task"},
    )
    assert feedback is not None and reminder is not None
    with frozen_at(drop.lesson_at):
        first = delivery_claim_due(now=drop.lesson_at, limit=2, worker="w1")
        second = delivery_claim_due(now=drop.lesson_at, limit=5, worker="w2")
    assert [d.pk for d in first] == [feedback.pk, lesson.pk]
    assert [d.pk for d in second] == [reminder.pk]
    assert {(d.status, d.claimed_by, d.attempts) for d in first} == {
        (DeliveryStatus.SENDING, "w1", 1)
    }
    assert delivery_claim_due(now=drop.lesson_at, limit=5, worker="w3") == []


def test_a_stale_claim_is_taken_again_and_a_live_one_is_left_alone(
    drop: Drop, fake_bot_api: FakeBotApi
) -> None:
    anna, boris = drop.person("P1"), drop.person("P2")
    stale, live = drop.lesson(anna), drop.lesson(boris)
    Delivery.objects.filter(pk=stale.pk).update(
        status=DeliveryStatus.SENDING, claimed_by="dead", attempts=1,
        claimed_at=drop.lesson_at - timedelta(minutes=3),
    )
    Delivery.objects.filter(pk=live.pk).update(
        status=DeliveryStatus.SENDING, claimed_by="busy", attempts=1,
        claimed_at=drop.lesson_at - timedelta(seconds=30),
    )
    with frozen_at(drop.lesson_at):
        run = delivery_dispatch_all(worker="w2")
    assert run.sent == 1
    stale.refresh_from_db()
    assert (stale.status, stale.claimed_by, stale.attempts) == (DeliveryStatus.SENT, "w2", 2)
    assert status_of(live) == DeliveryStatus.SENDING
    assert len(fake_bot_api.sent_to(drop.chat_id(anna))) == 1
    assert fake_bot_api.sent_to(drop.chat_id(boris)) == []


def test_a_lesson_whose_content_is_gone_fails_with_the_reason(
    drop: Drop, fake_bot_api: FakeBotApi
) -> None:
    anna = drop.person("P1")
    delivery = drop.lesson(anna)
    Delivery.objects.filter(pk=delivery.pk).update(payload={"materials": [10**9], "tasks": []})
    with frozen_at(drop.lesson_at):
        assert delivery_dispatch_all().failed == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert "no longer exist" in delivery.error
    assert fake_bot_api.sent == []


def test_a_prepared_message_goes_as_it_was_written(drop: Drop, fake_bot_api: FakeBotApi) -> None:
    anna = drop.person("P1")
    delivery_enqueue(
        person=anna, kind=DeliveryKind.ANNOUNCEMENT, contact_point="announcement:1",
        due_at=drop.lesson_at,
        payload={"subject": "Kick-off", "text": "The marathon starts on Monday <3",
                 "buttons": [[{"text": "Read more", "url": "https://example.com/a"}]]},
    )
    with frozen_at(drop.lesson_at):
        delivery_dispatch_all()
    [message] = fake_bot_api.sent_to(drop.chat_id(anna))
    # Sent as HTML, so Telegram shows the "<" the author wrote.
    assert (message.text, message.parse_mode) == ("The marathon starts on Monday &lt;3", "HTML")
    assert message.reply_markup == {
        "inline_keyboard": [[{"text": "Read more", "url": "https://example.com/a"}]]
    }


def test_dispatching_again_sends_nothing_twice(drop: Drop, fake_bot_api: FakeBotApi) -> None:
    people = [drop.person(f"P{n}") for n in range(1, 8)]
    for person in people:
        drop.lesson(person)
        drop.lesson(person)  # planning twice lands on the same row
    assert Delivery.objects.count() == 7
    with frozen_at(drop.lesson_at):
        assert delivery_dispatch_all(limit=3).sent == 7
        assert delivery_dispatch_all().claimed == 0
    with frozen_at(drop.lesson_at + timedelta(hours=1)):
        assert delivery_dispatch_all().claimed == 0
    assert len(fake_bot_api.sent) == 7


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_each_message_once(
    drop: Drop, fake_bot_api: FakeBotApi
) -> None:
    # PostgreSQL: SKIP LOCKED; SQLite: the IMMEDIATE claim transactions take turns.
    people = [drop.person(f"P{n:02d}") for n in range(1, 41)]
    for person in people:
        drop.lesson(person)
    runs: dict[str, int] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(name: str) -> None:
        try:
            start.wait()
            with frozen_at(drop.lesson_at):
                runs[name] = delivery_dispatch_all(worker=name, limit=5).sent
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(n,)) for n in ("w1", "w2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert runs["w1"] + runs["w2"] == 40
    assert runs["w1"] > 0 and runs["w2"] > 0  # both worked on the drop
    per_chat = [len(fake_bot_api.sent_to(drop.chat_id(p))) for p in people]
    assert per_chat == [1] * 40
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_dispatch_due_claims_one_batch_only(drop: Drop, fake_bot_api: FakeBotApi) -> None:
    for n in range(1, 5):
        drop.lesson(drop.person(f"P{n}"))
    with frozen_at(drop.lesson_at):
        run = delivery_dispatch_due(now=drop.lesson_at, limit=3, worker="w1")
    assert (run.claimed, run.sent) == (3, 3)
    assert Delivery.objects.filter(status=DeliveryStatus.PLANNED).count() == 1
