"""pytest fixtures for anything that talks to Telegram: a running fake Bot API.

Use from any test package's conftest.py:

    from fokus.telegram.testing.fixtures import fake_bot_api  # noqa: F401
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from django.test import override_settings

from fokus.telegram.testing.fake_bot_api import FakeBotApi


@pytest.fixture
def fake_bot_api() -> Iterator[FakeBotApi]:
    """A fake Bot API on a free port, with one bot whose token is TELEGRAM_BOT_TOKEN
    (`fake_bot_api.token`); TELEGRAM_API_BASE_URL points at it. A fresh token per test
    keeps the in-process rate limiter's state of one test out of the next."""
    api = FakeBotApi().start()
    token = f"{secrets.randbelow(10**9) + 10**9}:{secrets.token_urlsafe(12)}"
    api.add_bot(token, username="fokus_test_bot")
    try:
        with override_settings(
            TELEGRAM_API_BASE_URL=api.base_url,
            TELEGRAM_BOT_TOKEN=token,
            TELEGRAM_WEBHOOK_SECRET="test-webhook-secret",
            TELEGRAM_LIMITER_REDIS_URL="",
        ):
            yield api
    finally:
        api.stop()
