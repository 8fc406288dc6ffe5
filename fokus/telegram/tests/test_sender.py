"""The sender against the fake Bot API: the limits are used fully and never exceeded,
and each failure ends where the outbox can act on it."""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict

import pytest
import redis
from django.conf import settings

from conftest import services_required
from fokus.core.models import Organization
from fokus.telegram import services
from fokus.telegram.client import Button, TelegramClient
from fokus.telegram.limiter import MemoryLimiter, RedisLimiter, bot_key
from fokus.telegram.models import TelegramBot, TelegramChat
from fokus.telegram.sender import ErrorKind, OutgoingMessage, SendResult, send_messages
from fokus.telegram.testing.fake_bot_api import FakeBotApi
from fokus.telegram.tests.factories import person
from fokus.telegram.text import CAPTION_LIMIT, TEXT_LIMIT, telegram_length


@pytest.fixture
def bot(db: None, fake_bot_api: FakeBotApi) -> TelegramBot:
    return TelegramBot.objects.create(token=fake_bot_api.token, username="fokus_test_bot")


def max_in_window(times: list[float], span: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= span:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_a_burst_uses_the_limit_and_never_gets_429(
    bot: TelegramBot, fake_bot_api: FakeBotApi
) -> None:
    # Chat by chat, four each: the sender has to interleave chats to keep the pace.
    messages = [
        OutgoingMessage(chat_id=1000 + chat, text=f"chat {chat} message {n}")
        for chat in range(50) for n in range(4)
    ]
    results = list(send_messages(bot, messages))
    assert all(r.ok for r in results) and len(results) == 200
    assert fake_bot_api.count_status(429) == 0
    times = [m.at for m in fake_bot_api.sent]
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert rate >= 0.9 * 30, f"only {rate:.1f} messages/s of 30"
    assert max_in_window(times, 1.0) <= 30
    by_chat: dict[int | str, list[str]] = defaultdict(list)
    for m in fake_bot_api.sent:
        by_chat[m.chat_id].append(m.text)
    chat = 1007
    assert by_chat[chat] == [f"chat 7 message {n}" for n in range(4)]  # order kept per chat


def test_a_429_pauses_the_whole_bot_for_retry_after(
    bot: TelegramBot, fake_bot_api: FakeBotApi
) -> None:
    fake_bot_api.flood_next(2)
    messages = [OutgoingMessage(chat_id=chat, text="hi") for chat in range(1, 11)]
    limiter = MemoryLimiter()
    results = list(send_messages(bot, messages, limiter=limiter))
    assert all(r.ok for r in results) and len(results) == 10
    floods = [r for r in fake_bot_api.requests if r.status == 429]
    assert len(floods) == 1
    after = [r.at - floods[0].at for r in fake_bot_api.requests if r.at > floods[0].at]
    # Nothing at all was sent to any chat during the pause.
    assert after and min(after) >= 2.0


def test_repeated_429s_give_the_message_back_as_rate_limited(
    bot: TelegramBot, fake_bot_api: FakeBotApi
) -> None:
    fake_bot_api.flood_next(1)
    (result,) = send_messages(bot, [OutgoingMessage(chat_id=5, text="hi")], max_floods=1)
    assert (result.ok, result.error, result.retry_after) == (False, ErrorKind.RATE_LIMITED, 1.0)


def test_403_marks_the_chat_unreachable_and_asks_for_email(
    bot: TelegramBot, fake_bot_api: FakeBotApi, org_a: Organization
) -> None:
    blocked = person(org_a, "001")
    services.telegram_chat_bind(person=blocked, bot=bot, chat_id=555)
    fake_bot_api.block_chat(555)
    messages = [
        OutgoingMessage(chat_id=555, text="lesson", reference="outbox-1"),
        OutgoingMessage(chat_id=556, text="lesson", reference="outbox-2"),
        OutgoingMessage(chat_id=555, text="task", reference="outbox-3"),
    ]
    results = {r.message.reference: r for r in send_messages(bot, messages)}
    assert results["outbox-2"].ok
    for key in ("outbox-1", "outbox-3"):
        assert results[key].error == ErrorKind.BLOCKED and results[key].fall_back_to_email
    assert [r.status for r in fake_bot_api.requests if r.chat_id == "555"] == [403]
    assert TelegramChat.objects.get(person=blocked).unreachable_at is not None


def test_5xx_and_timeouts_are_retried_then_delivered_once(
    bot: TelegramBot, fake_bot_api: FakeBotApi
) -> None:
    fake_bot_api.fail_next(2, status=502, method="sendMessage")
    fake_bot_api.timeout_next(1, delay=1.0, method="sendMessage")
    fake_bot_api.fail_next(1, status=500, method="sendMessage")
    messages = [OutgoingMessage(chat_id=chat, text=f"to {chat}") for chat in (1, 2, 3)]
    with TelegramClient(bot.token, read_timeout=0.3) as client:
        results = list(send_messages(bot, messages, client=client, backoff_base=0.05))
    assert all(r.ok for r in results)
    assert sorted(m.text for m in fake_bot_api.sent) == ["to 1", "to 2", "to 3"]
    assert sum(r.attempts for r in results) == 3 + 4


def test_retries_are_bounded(bot: TelegramBot, fake_bot_api: FakeBotApi) -> None:
    fake_bot_api.fail_next(10, status=500, method="sendMessage")
    (result,) = send_messages(
        bot, [OutgoingMessage(chat_id=9, text="hi")], max_attempts=3, backoff_base=0.01
    )
    assert (result.ok, result.error, result.attempts) == (False, ErrorKind.RETRYABLE, 3)


def test_bad_requests_are_fatal_at_once(bot: TelegramBot, fake_bot_api: FakeBotApi) -> None:
    (result,) = send_messages(bot, [OutgoingMessage(chat_id=9, text="hi", parse_mode="nope")])
    assert (result.error, result.attempts) == (ErrorKind.FATAL, 1)
    assert "parse_mode" in result.description
    (empty,) = send_messages(bot, [OutgoingMessage(chat_id=10, text="   ")])
    assert (empty.error, empty.attempts) == (ErrorKind.FATAL, 1)


def test_long_texts_are_split_and_the_buttons_go_last(
    bot: TelegramBot, fake_bot_api: FakeBotApi
) -> None:
    text = "\n\n".join(f"Абзац {i}. " + "текст " * 120 for i in range(12))
    buttons = [[Button("Открыть урок", url="https://fokus.example/l/1"),
                Button("Ответить", callback_data="answer:1")]]
    (result,) = send_messages(bot, [OutgoingMessage(chat_id=42, text=text, buttons=buttons)])
    sent = fake_bot_api.sent_to(42)
    assert result.ok and len(result.message_ids) == len(sent) >= 3
    assert all(telegram_length(m.text) <= TEXT_LIMIT for m in sent)
    assert [m.reply_markup is not None for m in sent] == [False] * (len(sent) - 1) + [True]
    assert sent[-1].reply_markup == {"inline_keyboard": [[
        {"text": "Открыть урок", "url": "https://fokus.example/l/1"},
        {"text": "Ответить", "callback_data": "answer:1"},
    ]]}
    (photo,) = send_messages(
        bot, [OutgoingMessage(chat_id=43, text="слово " * 400, photo=b"\x89PNG")]
    )
    first, second = fake_bot_api.sent_to(43)
    assert photo.ok and first.method == "sendPhoto" and second.method == "sendMessage"
    assert telegram_length(first.text) <= CAPTION_LIMIT


def _redis_url() -> str:
    url = settings.REDIS_URL
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        message = f"Redis at {url} is not reachable: {error}"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.mark.django_db(transaction=True)
def test_two_senders_share_the_limits_through_redis(fake_bot_api: FakeBotApi) -> None:
    url = _redis_url()
    bot = TelegramBot.objects.create(token=fake_bot_api.token)
    prefix = f"fokus-test:{uuid.uuid4().hex}"
    results: dict[str, list[SendResult]] = {}

    def sender(name: str, first_chat: int) -> None:
        limiter = RedisLimiter(url, prefix=prefix)  # a connection of its own, like a process
        messages = [OutgoingMessage(chat_id=first_chat + i, text=name) for i in range(60)]
        results[name] = list(send_messages(bot, messages, limiter=limiter))

    threads = [threading.Thread(target=sender, args=(name, chat))
               for name, chat in (("a", 10_000), ("b", 20_000))]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    elapsed = time.monotonic() - started
    assert all(r.ok for name in "ab" for r in results[name])
    assert fake_bot_api.count_status(429) == 0
    times = [m.at for m in fake_bot_api.sent]
    assert len(times) == 120 and max_in_window(times, 1.0) <= 30
    # Together they keep the pace of one bot, not two: 120 messages take about 4 s.
    assert elapsed >= 119 / 30
    assert {m.text for m in fake_bot_api.sent} == {"a", "b"}
    RedisLimiter(url, prefix=prefix).reset(bot_key(bot.token))
