from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from fokus.telegram.testing.fixtures import fake_bot_api  # noqa: F401

IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def _immediate_tasks() -> Iterator[None]:
    """Webhook updates are processed by a task; here it runs inline after commit."""
    with override_settings(TASKS=IMMEDIATE):
        yield
