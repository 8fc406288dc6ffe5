"""/team through the fake Bot API: the router hands it to the supervision handler."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from fokus.core import clock
from fokus.scoring.tests.factories import Seed
from fokus.supervision import services
from fokus.supervision.telegram_team import telegram_team_handler
from fokus.supervision.tests.factories import DAY1_AFTERNOON, answer, day_tasks, team
from fokus.telegram import services as telegram
from fokus.telegram.models import TelegramBot, TelegramChat, TelegramUpdate
from fokus.telegram.testing.fake_bot_api import FakeBotApi
from fokus.telegram.testing.fixtures import fake_bot_api
from fokus.telegram.updates import update_process

__all__ = ["fake_bot_api", "team"]
HANDLER = "fokus.supervision.telegram_team.telegram_team_handler"


@pytest.fixture
def bot(db: None, fake_bot_api: FakeBotApi) -> TelegramBot:
    bot = telegram.telegram_bot_resolve(organization=None)
    assert bot is not None
    return telegram.telegram_bot_set_username(bot=bot, username="fokus_test_bot")


def _update(bot: TelegramBot, chat_id: int, text: str, update_id: int) -> TelegramUpdate:
    payload: dict[str, Any] = {
        "update_id": update_id,
        "message": {"message_id": update_id, "date": 1_790_000_000, "text": text,
                    "chat": {"id": chat_id, "type": "private"},
                    "from": {"id": chat_id, "is_bot": False, "first_name": "С"}},
    }
    update = telegram.telegram_update_receive(bot=bot, payload=payload)
    assert update is not None
    return update


def test_team_in_telegram(team: Seed, bot: TelegramBot, fake_bot_api: FakeBotApi) -> None:
    TelegramChat.objects.create(person=team["senior"], bot=bot, chat_id=7001,
                                bound_at=timezone.now())
    answer(team, "c1", day_tasks(team, 1)[0], DAY1_AFTERNOON)
    answer(team, "c1", day_tasks(team, 1)[1], DAY1_AFTERNOON)
    with clock.frozen_at(DAY1_AFTERNOON):
        services.support_tasks_generate(program=team.program, day=day_tasks(team, 1)[0].day,
                                        now=DAY1_AFTERNOON)
        # Through the configured handlers (settings.FOKUS_TELEGRAM_HANDLERS), in order.
        outcome = update_process(_update(bot, 7001, "/team", 1))
    assert outcome == "team"
    (sent,) = fake_bot_api.sent_to(7001)
    assert "Not answered today: 2 of 3" in sent.text
    assert "✅ Консультант Иван: 2/2" in sent.text
    assert "Консультант Ольга: 0/2 (not started)" in sent.text
    assert "2 of your 3 reports have not answered today's task" in sent.text
    assert "Консультант Дарья" not in sent.text


def test_other_messages_are_not_taken(team: Seed, bot: TelegramBot) -> None:
    update = _update(bot, 7002, "hello", 2)
    assert telegram_team_handler(update, update.payload, bot, None) is None  # type: ignore[arg-type]


def test_team_from_an_unbound_chat_asks_to_link_first(
    bot: TelegramBot, fake_bot_api: FakeBotApi
) -> None:
    with override_settings(FOKUS_TELEGRAM_HANDLERS=[HANDLER]):
        assert update_process(_update(bot, 7003, "/team", 3)) == "team:unbound"
    (sent,) = fake_bot_api.sent_to(7003)
    assert "Link this chat" in sent.text
