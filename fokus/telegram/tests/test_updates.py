"""Updates from Telegram: the webhook's secret and de-duplication, /start binding,
button presses, and long polling."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from fokus.core import clock
from fokus.core.models import Organization
from fokus.telegram import services
from fokus.telegram.client import TelegramClient
from fokus.telegram.models import TelegramBindToken, TelegramBot, TelegramChat, TelegramUpdate
from fokus.telegram.polling import poll_once
from fokus.telegram.testing.fake_bot_api import FakeBotApi
from fokus.telegram.tests.factories import person
from fokus.telegram.web.views import SECRET_HEADER

SECRET = "test-webhook-secret"  # the fake_bot_api fixture's TELEGRAM_WEBHOOK_SECRET


@pytest.fixture
def bot(db: None, fake_bot_api: FakeBotApi) -> TelegramBot:
    bot = services.telegram_bot_resolve(organization=None)
    assert bot is not None and bot.webhook_secret == SECRET
    return services.telegram_bot_set_username(bot=bot, username="fokus_test_bot")


def post_update(client: Client, bot: TelegramBot, update: dict[str, Any],
                secret: str | None = SECRET, capture: Any = None) -> Any:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    url = reverse("telegram:webhook", kwargs={"bot_id": bot.pk})
    return client.post(url, json.dumps(update), content_type="application/json", headers=headers)


def start_update(chat_id: int, text: str, update_id: int, language: str = "ru") -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": 1_790_000_000, "text": text,
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Анна",
                     "username": "anna", "language_code": language},
        },
    }


def test_a_wrong_or_missing_secret_is_refused_without_details(
    bot: TelegramBot, client: Client
) -> None:
    for secret in (None, "", "test-webhook-secreT", SECRET + "x"):
        response = post_update(client, bot, start_update(1, "/start", 1), secret=secret)
        assert response.status_code == 403
        assert b"Traceback" not in response.content
    assert TelegramUpdate.objects.count() == 0
    other = reverse("telegram:webhook", kwargs={"bot_id": bot.pk + 1000})
    response = client.post(other, "{}", content_type="application/json",
                           headers={SECRET_HEADER: SECRET})
    assert response.status_code == 403
    assert client.get(reverse("telegram:webhook", kwargs={"bot_id": bot.pk})).status_code == 405


def test_the_secret_is_compared_in_constant_time(
    bot: TelegramBot, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hmac

    from fokus.telegram.web import views

    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(views.hmac, "compare_digest", spy)
    post_update(client, bot, start_update(1, "/start", 1), secret="guess")
    assert calls == [(b"guess", SECRET.encode())]


def test_bad_json_is_a_400_and_nothing_is_stored(bot: TelegramBot, client: Client) -> None:
    url = reverse("telegram:webhook", kwargs={"bot_id": bot.pk})
    for body in ("not json", "[]", '{"message": {}}'):
        response = client.post(url, body, content_type="application/json",
                               headers={SECRET_HEADER: SECRET})
        assert response.status_code == 400
    assert TelegramUpdate.objects.count() == 0


def test_start_with_a_valid_token_binds_once_and_a_repeat_is_ignored(
    bot: TelegramBot, client: Client, org_a: Organization, fake_bot_api: FakeBotApi,
    django_capture_on_commit_callbacks: Any,
) -> None:
    anna = person(org_a, "001", language="ru")
    token = services.telegram_bind_token_issue(person=anna)
    update = start_update(4242, f"/start {token.token}", 10)
    with django_capture_on_commit_callbacks(execute=True):
        first = post_update(client, bot, update)
    with django_capture_on_commit_callbacks(execute=True):
        again = post_update(client, bot, update)  # Telegram retries: the same update_id
    assert first.status_code == again.status_code == 200
    assert json.loads(again.content)["duplicate"] is True
    chat = TelegramChat.objects.get(person=anna)
    assert (chat.chat_id, chat.bot_id, chat.username) == (4242, bot.pk, "anna")
    assert TelegramUpdate.objects.get().outcome == "start:bound"
    (reply,) = fake_bot_api.sent_to(4242)  # one reply, although the update came twice
    assert "Анна Петрова" in reply.text  # greeted by name, in Russian (her language)
    token.refresh_from_db()
    assert token.used_at is not None


def test_a_used_token_from_another_chat_and_an_unknown_one_get_clear_replies(
    bot: TelegramBot, client: Client, org_a: Organization, fake_bot_api: FakeBotApi,
    django_capture_on_commit_callbacks: Any,
) -> None:
    anna = person(org_a, "001", language="en")
    token = services.telegram_bind_token_issue(person=anna)
    with django_capture_on_commit_callbacks(execute=True):
        post_update(client, bot, start_update(1, f"/start {token.token}", 1))
        post_update(client, bot, start_update(1, f"/start {token.token}", 2))  # same chat
        post_update(client, bot, start_update(2, f"/start {token.token}", 3, language="en"))
        post_update(client, bot, start_update(3, "/start nonsense", 4, language="en"))
        post_update(client, bot, start_update(4, "/start", 5, language="ru"))
    outcomes = list(TelegramUpdate.objects.order_by("update_id").values_list("outcome", flat=True))
    assert outcomes == ["start:bound", "start:already_bound", "start:used", "start:unknown",
                        "start:no_token"]
    assert TelegramChat.objects.get(person=anna).chat_id == 1  # the stranger did not take it
    assert "already linked" in fake_bot_api.sent_to(1)[1].text  # in English, her language
    assert "already been used" in fake_bot_api.sent_to(2)[0].text
    assert "not valid" in fake_bot_api.sent_to(3)[0].text
    (hint,) = fake_bot_api.sent_to(4)  # a bare /start gets a hint, in Russian
    assert hint.text != fake_bot_api.sent_to(3)[0].text


def test_an_expired_token_does_not_bind(
    bot: TelegramBot, org_a: Organization, fake_bot_api: FakeBotApi
) -> None:
    anna = person(org_a, "001")
    token = services.telegram_bind_token_issue(person=anna)
    later = clock.now() + dt.timedelta(days=31)
    with clock.frozen_at(later):
        outcome = services.telegram_start_bind(bot=bot, chat_id=5, token=token.token)
        assert outcome.status == "expired"
        fresh = services.telegram_bind_token_issue(person=anna)
    assert fresh.token != token.token and not TelegramChat.objects.exists()


def test_a_token_works_only_with_the_bot_of_the_persons_organisation(
    bot: TelegramBot, org_a: Organization
) -> None:
    own = TelegramBot.objects.create(organization=org_a, token="999:own", username="own_bot")
    anna = person(org_a, "001")
    token = services.telegram_bind_token_issue(person=anna)
    assert services.telegram_start_bind(bot=bot, chat_id=5, token=token.token).status == "unknown"
    assert services.telegram_start_bind(bot=own, chat_id=5, token=token.token).status == "bound"


def test_a_new_start_after_blocking_makes_the_chat_reachable_again(
    bot: TelegramBot, org_a: Organization
) -> None:
    anna = person(org_a, "001")
    token = services.telegram_bind_token_issue(person=anna)
    services.telegram_start_bind(bot=bot, chat_id=5, token=token.token)
    services.telegram_chat_mark_unreachable(bot=bot, chat_id=5)
    assert TelegramChat.objects.get().unreachable_at is not None
    services.telegram_start_bind(bot=bot, chat_id=5, token=token.token)
    assert TelegramChat.objects.get().unreachable_at is None


def test_button_presses_are_answered_and_other_messages_kept(
    bot: TelegramBot, client: Client, fake_bot_api: FakeBotApi,
    django_capture_on_commit_callbacks: Any,
) -> None:
    press = {"update_id": 70, "callback_query": {
        "id": "cb-1", "from": {"id": 9, "is_bot": False, "first_name": "A"},
        "chat_instance": "1", "data": "answer:12",
        "message": {"message_id": 3, "date": 1, "chat": {"id": 9, "type": "private"}},
    }}
    with django_capture_on_commit_callbacks(execute=True):
        post_update(client, bot, press)
        post_update(client, bot, start_update(9, "мой ответ на задание", 71))
    assert [c["callback_query_id"] for c in fake_bot_api.answered_callbacks] == ["cb-1"]
    kept = TelegramUpdate.objects.get(update_id=71)
    assert (kept.kind, kept.chat_id, kept.outcome) == ("message", 9, "stored")
    assert kept.payload["message"]["text"] == "мой ответ на задание"


def test_long_polling_binds_and_never_repeats_an_update(
    bot: TelegramBot, org_a: Organization, fake_bot_api: FakeBotApi
) -> None:
    anna = person(org_a, "001")
    token = services.telegram_bind_token_issue(person=anna)
    fake_bot_api.user_message(bot.token, 31337, f"/start {token.token}", username="anna_tg")
    fake_bot_api.user_message(bot.token, 31337, "hello")
    with TelegramClient(bot.token) as client:
        assert poll_once(bot, client, timeout=1) == 2
        assert poll_once(bot, client, timeout=0) == 0  # the offset confirmed both
    chat = TelegramChat.objects.get(person=anna)
    assert (chat.chat_id, chat.username) == (31337, "anna_tg")
    assert len(fake_bot_api.sent_to(31337)) == 1
    assert TelegramBindToken.objects.get().used_at is not None


def test_the_fake_server_delivers_to_the_webhook_like_telegram(
    bot: TelegramBot, client: Client, org_a: Organization, fake_bot_api: FakeBotApi,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with TelegramClient(bot.token) as telegram:
        url = "https://fokus.example" + reverse("telegram:webhook", kwargs={"bot_id": bot.pk})
        telegram.set_webhook(url, secret_token=bot.webhook_secret)
    anna = person(org_a, "001")
    token = services.telegram_bind_token_issue(person=anna)
    fake_bot_api.user_message(bot.token, 777, f"/start {token.token}")

    def via_django(target: str, body: bytes, headers: dict[str, str]) -> int:
        path = target.removeprefix("https://fokus.example")
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(path, body, content_type="application/json",
                                   headers={k: v for k, v in headers.items()
                                            if k != "Content-Type"})
        return int(response.status_code)

    assert fake_bot_api.deliver_to_webhook(bot.token, post=via_django) == [200]
    assert fake_bot_api.pending_updates(bot.token) == []
    assert TelegramChat.objects.get(person=anna).chat_id == 777


@pytest.mark.django_db(transaction=True)
def test_the_polling_service_of_fokus_run_binds_and_stops(
    fake_bot_api: FakeBotApi, org_a: Organization
) -> None:
    import threading

    from fokus.telegram.polling import polling_service

    anna = person(org_a, "001")
    token = services.telegram_bind_token_issue(person=anna)
    stop = threading.Event()
    service = threading.Thread(target=polling_service, args=(stop,), kwargs={"timeout": 1})
    service.start()
    fake_bot_api.user_message(fake_bot_api.token, 8080, f"/start {token.token}")
    deadline = time.monotonic() + 10
    while not TelegramChat.objects.filter(person=anna).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    service.join(timeout=5)
    assert not service.is_alive()
    assert TelegramChat.objects.get(person=anna).chat_id == 8080
    assert len(fake_bot_api.sent_to(8080)) == 1
