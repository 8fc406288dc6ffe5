"""Russian is the default language everywhere a user looks; English is one switch away."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import translation

from fokus.core.tests.factories import build_two_worlds


@pytest.mark.django_db
def test_login_page_is_russian_by_default_and_english_on_request() -> None:
    russian = Client().get("/login/")
    assert russian["Content-Language"] == "ru"
    assert "Войти" in russian.content.decode()
    client = Client()
    client.cookies["django_language"] = "en"
    english = client.get("/login/")
    assert english["Content-Language"] == "en"
    assert "Sign in" in english.content.decode()


@pytest.mark.django_db
def test_error_pages_speak_the_users_language() -> None:
    world_a, _world_b = build_two_worlds()
    client = Client()
    client.force_login(world_a.users["participant"])
    missing = client.get("/materials/999999999/")
    assert missing.status_code == 404
    assert "Страница не найдена" in missing.content.decode()
    client.cookies["django_language"] = "en"
    assert "Page not found" in client.get("/materials/999999999/").content.decode()


@pytest.mark.django_db
def test_commands_speak_russian_when_nothing_else_is_chosen() -> None:
    # A `fokus` process activates no language, so Django falls back to LANGUAGE_CODE.
    translation.deactivate()
    with pytest.raises(CommandError) as error:
        call_command("people", "import", "/nonexistent.csv", "--org", "nope")
    assert any("\u0400" <= ch <= "\u04ff" for ch in str(error.value)), error.value
