"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.db import connection
from django.utils import translation

from fokus.core.models import Organization
from fokus.core.services import organization_create

SHARED_DIR = os.path.join(os.path.dirname(__file__), "..", "shared")


def services_required() -> bool:
    """In the README test command, missing PostgreSQL or Chromium fail instead of skip."""
    return os.environ.get("FOKUS_REQUIRE_SERVICES") == "1"


@pytest.fixture(autouse=True)
def english_messages() -> Iterator[None]:
    """Direct calls and commands speak the English msgids in tests.

    Requests still pick their language in LocaleMiddleware (Russian by default), and
    tests/test_language.py checks that default; this only keeps assertions on
    messages independent of the translation's wording.
    """
    with translation.override("en"):
        yield


@pytest.fixture
def org_a(db: None) -> Organization:
    return organization_create(slug="alpha", name="Альфа Авто")


@pytest.fixture
def org_b(db: None) -> Organization:
    return organization_create(slug="beta", name="Бета Моторс")


@pytest.fixture
def shared_data_dir() -> str:
    path = os.path.abspath(os.path.join(SHARED_DIR, "data"))
    if not os.path.isdir(path):
        pytest.fail(f"../shared/data is missing next to the repository: {path}")
    return path


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"
