"""`fokus telegram bind|link|poll` and the person's Telegram page."""

from __future__ import annotations

import re
import urllib.parse
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from fokus.core.models import Organization
from fokus.telegram import services
from fokus.telegram.models import TelegramBindToken, TelegramBot, TelegramChat
from fokus.telegram.testing.fake_bot_api import FakeBotApi
from fokus.telegram.tests.factories import person


def run(*args: str) -> str:
    out = StringIO()
    call_command("telegram", *args, stdout=out)
    return out.getvalue()


def test_bind_one_person(db: None, org_a: Organization, fake_bot_api: FakeBotApi) -> None:
    anna = person(org_a, "001")
    assert "Bound 1 chat" in run("bind", "001", "123456", "--org", "alpha")
    assert TelegramChat.objects.get(person=anna).chat_id == 123456
    run("bind", "001", "654321", "--org", "alpha")  # a new phone: the binding moves
    assert TelegramChat.objects.get(person=anna).chat_id == 654321


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("bind", "404", "1", "--org", "alpha"), "no person with employee number '404' in alpha"),
        (("bind", "001", "abc", "--org", "alpha"), "chat id 'abc' is not a number"),
        (("bind", "001", "-100", "--org", "alpha"), "is a group"),
        (("bind", "001", "1", "--org", "nope"), "No organisation with slug “nope”"),
        (("bind", "001", "--org", "alpha"), "Give EMPLOYEE_NUMBER CHAT_ID"),
        (("link", "404", "--org", "alpha"), "No person with employee number “404”"),
    ],
)
def test_cli_errors_are_readable(
    db: None, org_a: Organization, fake_bot_api: FakeBotApi, args: tuple[str, ...], message: str
) -> None:
    person(org_a, "001")
    with pytest.raises(CommandError, match=re.escape(message)):
        run(*args)
    assert not TelegramChat.objects.exists()


def test_bind_from_a_file_is_all_or_nothing(
    db: None, org_a: Organization, org_b: Organization, fake_bot_api: FakeBotApi, tmp_path: Path
) -> None:
    for number in ("001", "002", "003"):
        person(org_a, number)
    person(org_b, "009")
    bad = tmp_path / "bad.csv"
    bad.write_text("employee_number,chat_id\n001,111\n009,222\n002,x\n", encoding="utf-8")
    with pytest.raises(CommandError) as error:
        run("bind", "--file", str(bad), "--org", "alpha")
    text = str(error.value)
    assert "line 3: no person with employee number '009' in alpha" in text  # B's person
    assert "line 4: chat id 'x' is not a number" in text and "Nothing was written" in text
    assert not TelegramChat.objects.exists()
    good = tmp_path / "good.csv"
    good.write_text("001,111\n002,222\n003,333\n", encoding="utf-8")
    assert "Bound 3 chats" in run("bind", "--file", str(good), "--org", "alpha")
    assert sorted(TelegramChat.objects.values_list("chat_id", flat=True)) == [111, 222, 333]


def test_link_prints_the_personal_deep_link_and_it_binds(
    db: None, org_a: Organization, fake_bot_api: FakeBotApi
) -> None:
    anna = person(org_a, "001")
    link = run("link", "001", "--org", "alpha").strip()
    assert link.startswith("https://t.me/fokus_test_bot?start=")
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["start"][0]
    assert run("link", "001", "--org", "alpha").strip() == link  # stable until used
    fake_bot_api.user_message(fake_bot_api.token, 5005, f"/start {token}")
    assert "1 new update" in run("poll", "--once", "--timeout", "1")
    assert TelegramChat.objects.get(person=anna).chat_id == 5005
    assert run("link", "001", "--org", "alpha").strip() != link  # used: a new one


def test_poll_explains_a_webhook_conflict(db: None, fake_bot_api: FakeBotApi) -> None:
    bot = services.telegram_bot_resolve(organization=None)
    assert bot is not None
    with pytest.raises(CommandError, match="https://"):
        run("webhook", "set", "http://insecure.example")
    run("webhook", "set", "https://fokus.example")
    assert fake_bot_api.webhook(bot.token) == (
        f"https://fokus.example/telegram/webhook/{bot.pk}/", bot.webhook_secret
    )
    with pytest.raises(CommandError, match="webhook delete"):
        run("poll", "--once", "--timeout", "0")
    run("webhook", "delete")
    assert "0 new update" in run("poll", "--once", "--timeout", "0")


@override_settings(TELEGRAM_BOT_TOKEN="")
def test_without_a_bot_the_commands_say_so(db: None, org_a: Organization) -> None:
    person(org_a, "001")
    with pytest.raises(CommandError, match="TELEGRAM_BOT_TOKEN"):
        run("link", "001", "--org", "alpha")


# -- the profile page --


def login(client: Client, org: Organization, number: str) -> None:
    from django.contrib.auth.models import User

    someone = person(org, number)
    someone.user = User.objects.create_user(username=f"{org.slug}-{number}")
    someone.save(update_fields=["user"])
    client.force_login(someone.user)


def test_profile_shows_the_own_deep_link_and_its_qr_code(
    db: None, client: Client, org_a: Organization, org_b: Organization,
    fake_bot_api: FakeBotApi,
) -> None:
    login(client, org_a, "001")
    other = person(org_a, "002")
    services.telegram_bind_token_issue(person=other)
    response = client.get("/profile/telegram/")
    assert response.status_code == 200
    body = response.content.decode()
    own = TelegramBindToken.objects.get(person__employee_number="001",
                                        person__organization=org_a)
    link = f"https://t.me/fokus_test_bot?start={own.token}"
    assert link in body
    other_token = TelegramBindToken.objects.get(person=other).token
    assert other_token not in body  # only the signed-in person's own link
    svg = re.search(r'src="data:image/svg\+xml;charset=utf-8,([^"]+)"', body)
    assert svg is not None  # an inline SVG the strict CSP (img-src data:) allows
    assert "<svg" in urllib.parse.unquote(svg.group(1))
    # Organisation B's own bot is not offered to A.
    TelegramBot.objects.create(organization=org_b, token="77:b", username="beta_bot")
    assert "beta_bot" not in client.get("/profile/telegram/").content.decode()


def test_profile_after_binding_and_without_a_person(
    db: None, client: Client, org_a: Organization, fake_bot_api: FakeBotApi
) -> None:
    login(client, org_a, "001")
    run("bind", "001", "42", "--org", "alpha")
    assert client.get("/profile/telegram/").status_code == 200
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_user(username="nobody"))
    assert client.get("/profile/telegram/").status_code == 404
    client.logout()
    assert client.get("/profile/telegram/").status_code == 302  # to the sign-in page


def test_profile_says_when_telegram_is_not_set_up(
    db: None, client: Client, org_a: Organization
) -> None:
    with override_settings(TELEGRAM_BOT_TOKEN=""):
        login(client, org_a, "001")
        response = client.get("/profile/telegram/")
    assert response.status_code == 200 and "t.me" not in response.content.decode()
