"""A participant on a phone logs in and sees today's lesson at their local time.

Drives Debian's Chromium through Playwright against pytest-django's live server.
Without Chromium the test skips, except under FOKUS_REQUIRE_SERVICES=1 (the README
test command and CI), where it fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pytest_django.live_server_helper import LiveServer

from conftest import services_required
from fokus.core.clock import frozen_at
from fokus.core.services import organization_create
from fokus.programs.tests.test_participant_pages import (
    PASSWORD,
    build_sprint,
    enroll,
    make_person,
)

# Playwright's sync API runs an event loop in this thread; the ORM calls made here
# (creating data) are plain synchronous calls, which Django would otherwise refuse.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
# 05:00 UTC on Monday 24 Nov 2025 is 15:00 in Vladivostok: both lessons of day 1 are open.
NOW = datetime(2025, 11, 24, 5, 0, tzinfo=UTC)


@pytest.fixture
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = "Debian's Chromium is not installed (apt-get install chromium)"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def frozen_clock() -> Iterator[None]:
    # The clock is process-wide, so the live server's thread sees the same instant.
    with frozen_at(NOW):
        yield


def test_participant_logs_in_on_a_phone_and_sees_today(
    live_server: LiveServer, chromium_path: str, frozen_clock: None
) -> None:
    from playwright.sync_api import sync_playwright

    org = organization_create(slug="alpha", name="Альфа Авто")
    sprint = build_sprint(org)
    person = make_person(org, "100", "Ирина Владивостокская", "Asia/Vladivostok", username="irina")
    enroll(person, sprint.track)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
        )
        try:
            # A Russian phone: the default language, whatever the translations hold today.
            context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                          has_touch=True, locale="ru-RU")
            page = context.new_page()
            console_errors: list[str] = []
            page.on(
                "console",
                lambda m: console_errors.append(m.text) if m.type == "error" else None,
            )

            page.goto(f"{live_server.url}/")
            assert "/login/" in page.url  # not signed in yet
            page.fill("input[name=username]", "irina")
            page.fill("input[name=password]", PASSWORD)
            page.click("button.primary[type=submit]")
            page.wait_for_url(f"{live_server.url}/")

            if os.environ.get("FOKUS_SCREENSHOTS"):
                page.screenshot(path=os.path.join(os.environ["FOKUS_SCREENSHOTS"], "today.png"),
                                full_page=True)
            body = page.locator("main").inner_text()
            assert sprint.morning.title in body
            assert sprint.afternoon.title in body
            times = page.locator(".slot-time time").all_inner_texts()
            assert times == ["10:00", "14:00", "18:00"]  # her wall clock, not UTC or Moscow
            assert "15:00" in body  # it is 15:00 where she is
            link = page.locator(f"a[href='/materials/{sprint.morning.pk}/']")
            assert link.is_visible()
            box = link.bounding_box()
            assert box is not None and box["height"] >= 44  # a thumb-sized tap target

            # Mobile-first: nothing wider than the phone, at 390 px and at 360 px.
            for width in (390, 360):
                page.set_viewport_size({"width": width, "height": 844})
                overflow = page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                assert overflow <= 0, f"horizontal scroll of {overflow}px at {width}px"

            # The stylesheet loaded (served locally) and the CSP blocked nothing.
            assert page.evaluate("getComputedStyle(document.body).marginTop") == "0px"
            assert not [e for e in console_errors if "Content Security Policy" in e], console_errors

            link.click()
            page.wait_for_url(f"{live_server.url}/materials/{sprint.morning.pk}/")
            assert page.locator("h1").inner_text() == sprint.morning.title
            if os.environ.get("FOKUS_SCREENSHOTS"):
                page.screenshot(path=os.path.join(os.environ["FOKUS_SCREENSHOTS"], "material.png"),
                                full_page=True)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0
        finally:
            browser.close()
