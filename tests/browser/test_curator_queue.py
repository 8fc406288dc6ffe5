"""A curator works the review queue from the keyboard in a real browser.

Logs in, opens the queue, presses Next, types feedback, grades with the keyboard
("3", then Ctrl+Enter) and lands on the next answer. Drives Debian's Chromium through
Playwright against pytest-django's live server; skips without Chromium unless
FOKUS_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from pytest_django.live_server_helper import LiveServer

from conftest import services_required
from fokus.core.clock import frozen_at
from fokus.core.services import organization_create
from fokus.review.models import AttemptStatus, ReviewEvent, ReviewEventKind
from fokus.review.tests.test_queue import NOW, answer, make_world, msk
from fokus.scoring.models import PointsEntry

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PASSWORD = "correct-horse-battery"


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
    with frozen_at(NOW):
        yield


def test_curator_grades_from_the_keyboard_and_lands_on_the_next_answer(
    live_server: LiveServer, chromium_path: str, frozen_clock: None
) -> None:
    from playwright.sync_api import sync_playwright

    w = make_world(organization_create(slug="alpha", name="Альфа Авто"))
    first = answer(w, "c1", w.tasks[0], msk(23, 10), text="Три открытых вопроса клиенту")
    second = answer(w, "c2", w.tasks[0], msk(23, 11), text="Ответ Марии")
    user = w.curator.user
    assert user is not None
    user.username = "ksenia"
    user.set_password(PASSWORD)
    user.save()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS,
                                     headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900},
                                          locale="ru-RU")
            page = context.new_page()
            console_errors: list[str] = []
            page.on("console",
                    lambda m: console_errors.append(m.text) if m.type == "error" else None)

            page.goto(f"{live_server.url}/login/")
            page.fill("input[name=username]", "ksenia")
            page.fill("input[name=password]", PASSWORD)
            page.click("button.primary[type=submit]")
            page.wait_for_url(f"{live_server.url}/")

            page.goto(f"{live_server.url}/review/")
            rows = page.locator("#queue .queue-row")
            assert rows.count() == 2
            assert "Консультант Иван" in rows.nth(0).inner_text()  # oldest first
            assert "is-overdue" in (rows.nth(0).get_attribute("class") or "")

            page.click("#next-button")
            page.wait_for_url(f"{live_server.url}/review/attempts/{first.pk}/")
            assert "Три открытых вопроса клиенту" in page.locator("#answer").inner_text()
            # Focus starts in the feedback field: typing goes straight in.
            assert page.evaluate("document.activeElement.id") == "feedback"
            page.keyboard.type("Отлично: все три вопроса открытые.")
            page.keyboard.press("Escape")  # leave the text field; now keys choose
            page.keyboard.press("3")
            assert page.locator("input[name=decision][value='3']").is_checked()
            if os.environ.get("FOKUS_SCREENSHOTS"):
                page.screenshot(path=os.path.join(os.environ["FOKUS_SCREENSHOTS"],
                                                  "review.png"), full_page=True)
            page.keyboard.press("Control+Enter")
            page.wait_for_url(f"{live_server.url}/review/attempts/{second.pk}/")
            assert "Ответ Марии" in page.locator("#answer").inner_text()
            assert page.locator(".message").count() == 1  # "Graded 3: …"
            assert page.evaluate("document.activeElement.id") == "feedback"

            # Inside the text field Alt+R chooses "return"; the plain key types.
            page.keyboard.type("Нужен пример из практики")
            page.keyboard.press("Alt+r")
            assert page.locator("input[name=decision][value='return']").is_checked()
            assert page.input_value("#feedback") == "Нужен пример из практики"
            page.keyboard.press("Control+Enter")
            page.wait_for_url(f"{live_server.url}/review/")  # nothing left: the queue
            assert not [e for e in console_errors if "Content Security Policy" in e], (
                console_errors
            )
        finally:
            browser.close()

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.grade, first.feedback) == (
        AttemptStatus.GRADED, 3, "Отлично: все три вопроса открытые."
    )
    assert second.status == AttemptStatus.RETURNED
    assert PointsEntry.objects.filter(person=w.seed["c1"]).count() == 1
    assert ReviewEvent.objects.filter(kind=ReviewEventKind.GRADED, actor=w.curator).exists()
