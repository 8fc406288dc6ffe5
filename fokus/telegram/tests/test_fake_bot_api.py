"""The fake Bot API keeps Telegram's limits, so senders tested against it are honest."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from fokus.telegram.client import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramClient
from fokus.telegram.testing.fake_bot_api import FakeBotApi


def raw(api: FakeBotApi, method: str, body: bytes, content_type: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{api.base_url}/bot{api.token}/{method}", data=body,
        headers={"Content-Type": content_type}, method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as error:
        return dict(json.loads(error.read()))


@pytest.fixture
def client(fake_bot_api: FakeBotApi) -> Any:
    with TelegramClient(fake_bot_api.token, base_url=fake_bot_api.base_url,
                        read_timeout=0.5) as c:
        yield c


def test_protocol_json_form_and_errors(fake_bot_api: FakeBotApi) -> None:
    ok = raw(fake_bot_api, "sendMessage", json.dumps({"chat_id": 1, "text": "hi"}).encode(),
             "application/json")
    assert ok["ok"] is True and ok["result"]["text"] == "hi"
    form = raw(fake_bot_api, "sendMessage", b"chat_id=2&text=%D0%BF%D1%80%D0%B8",
               "application/x-www-form-urlencoded")
    assert form["result"]["text"] == "при"
    bad = raw(fake_bot_api, "sendMessage", b'{"chat_id": 3, "text": ""}', "application/json")
    assert bad == {
        "ok": False, "error_code": 400, "description": "Bad Request: message text is empty"
    }


def test_limits_per_chat_per_bot_and_per_group(fake_bot_api: FakeBotApi, client: Any) -> None:
    # Time steps by hand: 30 HTTP sends on a busy machine may take longer than a second.
    moment = [1_000.0]
    fake_bot_api.clock = lambda: moment[0]
    client.send_message(10, "one")
    with pytest.raises(RetryAfter):
        client.send_message(10, "two, within the same second")
    answer = fake_bot_api.requests[-1]
    assert answer.status == 429
    moment[0] += 1.05  # the 429 held the whole bot for retry_after = 1 s
    for chat in range(100, 130):  # 30 chats: 30 messages within one second
        client.send_message(chat, "x")
    with pytest.raises(RetryAfter):
        client.send_message(200, "the 31st message in a second")
    moment[0] += 1.05
    fake_bot_api.group_per_minute = 2
    client.send_message(-500, "group 1")
    moment[0] += 1.05  # past the bot's and the chat's one-second windows...
    client.send_message(-500, "group 2")
    moment[0] += 1.05  # ...but the third message within a minute is refused
    with pytest.raises(RetryAfter):
        client.send_message(-500, "group 3 in the same minute")


def test_text_limits_blocked_chats_and_injected_failures(
    fake_bot_api: FakeBotApi, client: Any
) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        client.send_message(1, "я" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        client.send_photo(2, b"png", caption="я" * 1025)
    fake_bot_api.block_chat(3)
    with pytest.raises(Forbidden, match=r"(?i)blocked by the user"):
        client.send_message(3, "hi")
    fake_bot_api.fail_next(1, status=500)
    with pytest.raises(NetworkError):
        client.send_message(4, "hi")
    fake_bot_api.timeout_next(1, delay=1.0)
    with pytest.raises(NetworkError):  # TimedOut is a NetworkError
        client.send_message(5, "hi")
    assert [m.chat_id for m in fake_bot_api.sent] == []
    client.send_message(6, "hi")
    assert [m.chat_id for m in fake_bot_api.sent] == [6]


def test_files_and_callback_answers(fake_bot_api: FakeBotApi, client: Any) -> None:
    client.send_photo(1, b"\x89PNG picture", caption="Урок 1")
    sent = fake_bot_api.sent[-1]
    assert (sent.method, sent.text) == ("sendPhoto", "Урок 1")
    file = client.call(client.bot.get_file("photo-1"))
    assert file.file_size == len(b"\x89PNG picture")
    assert client.answer_callback_query("42") is True
    assert fake_bot_api.answered_callbacks[0]["callback_query_id"] == "42"


def test_long_polling_waits_for_an_update(fake_bot_api: FakeBotApi, client: Any) -> None:
    start = time.monotonic()
    assert client.get_updates(timeout=1) == []
    assert time.monotonic() - start >= 0.9
    fake_bot_api.user_message(fake_bot_api.token, 77, "/start abc")
    (update,) = client.get_updates(timeout=5)
    assert update["message"]["text"] == "/start abc"
    assert client.get_updates(offset=update["update_id"] + 1, timeout=0) == []
