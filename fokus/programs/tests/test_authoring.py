"""The authors' matrix editor: the grid, editing in place, permissions, ordering."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fokus.core.models import Organization
from fokus.people.models import Person
from fokus.programs import queries, services
from fokus.programs.models import (
    LearningDay,
    Material,
    Program,
    Slot,
    SlotKind,
    Task,
    Track,
)


@dataclass
class SmallProgram:
    program: Program
    consultants: Track
    seniors: Track
    day1: LearningDay
    day2: LearningDay
    at10: Slot
    at14: Slot
    at18: Slot
    intro: Material
    checklist: Material
    call_task: Task


def build_program(organization: Organization, slug: str = "sales") -> SmallProgram:
    program = Program.objects.create(
        organization=organization,
        slug=slug,
        title="Марафон продаж",
        starts_on=dt.date(2026, 5, 4),
        ends_on=dt.date(2026, 5, 8),
        learning_weekdays="mon,wed",
    )
    consultants = Track.objects.create(program=program, slug="consultants", title="Консультанты")
    seniors = Track.objects.create(
        program=program, slug="seniors", title="Старшие", follows=consultants, position=1
    )
    day1 = LearningDay.objects.create(program=program, index=1, date=dt.date(2026, 5, 4))
    day2 = LearningDay.objects.create(program=program, index=2, date=dt.date(2026, 5, 6))
    at10 = Slot.objects.create(program=program, local_time=dt.time(10), kind=SlotKind.LESSON)
    at14 = Slot.objects.create(program=program, local_time=dt.time(14), kind=SlotKind.LESSON)
    at18 = Slot.objects.create(program=program, local_time=dt.time(18), kind=SlotKind.DIGEST)
    intro = Material.objects.create(
        track=consultants,
        day=day1,
        slot=at10,
        position=0,
        title="Знакомство с клиентом",
        body="Поздоровайтесь первым.\n",
        minutes=12,
    )
    checklist = Material.objects.create(
        track=consultants,
        day=day1,
        slot=at10,
        position=1,
        title="Чек-лист встречи",
        body="1. Имя\n",
        minutes=8,
    )
    call_task = Task.objects.create(
        track=seniors,
        day=day2,
        slot=at14,
        title="Разбор звонка",
        prompt="Послушайте звонок.\n",
        answer_kinds="text,link",
        grade_max=3,
    )
    return SmallProgram(
        program, consultants, seniors, day1, day2, at10, at14, at18, intro, checklist, call_task
    )


def login_as(organization: Organization, number: str, roles: str) -> Client:
    user = User.objects.create_user(username=f"{organization.slug}-{number}", password="x" * 12)
    Person.objects.create(
        organization=organization,
        employee_number=number,
        full_name=f"Person {number}",
        time_zone="Europe/Moscow",
        roles=roles,
        user=user,
    )
    # English, so assertions on messages hold after the translator fills the Russian catalogue.
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


@pytest.fixture
def small(org_a: Organization) -> SmallProgram:
    return build_program(org_a)


@pytest.fixture
def author(org_a: Organization) -> Client:
    return login_as(org_a, "A-1", "author")


def material_url(material: Material) -> str:
    return reverse("programs:author_material", kwargs={"material_id": material.pk})


def material_post(material: Material, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "title": material.title,
        "minutes": material.minutes,
        "body": material.body,
        "version": queries.material_version(material),
    }
    data.update(changes)
    return data


def test_the_grid_shows_days_slots_tracks_and_the_cells_content(
    author: Client, small: SmallProgram
) -> None:
    matrix = queries.authoring_matrix(program=small.program)
    assert [row.day.index for row in matrix.rows] == [1, 2]
    assert [s.local_time for s in matrix.lesson_slots] == [dt.time(10), dt.time(14)]
    assert [s.kind for s in matrix.other_slots] == [SlotKind.DIGEST]
    # Columns grouped by track, then slot time: 2 tracks × 2 lesson slots.
    first_row = [(c.track.slug, c.slot.local_time.hour) for c in matrix.rows[0].cells]
    assert first_row == [("consultants", 10), ("consultants", 14), ("seniors", 10), ("seniors", 14)]
    cell = matrix.rows[0].cells[0]
    assert [m.title for m in cell.materials] == ["Знакомство с клиентом", "Чек-лист встречи"]
    assert matrix.rows[1].cells[3].tasks == (small.call_task,)
    assert all(c.is_empty for c in matrix.rows[1].cells[:3])

    response = author.get(reverse("programs:author_matrix", kwargs={"slug": "sales"}))
    assert response.status_code == 200
    html = response.content.decode()
    cell_html = html.split(f'id="cell-d1-s{small.at10.pk}-consultants"')[1].split("</td>")[0]
    assert "Знакомство с клиентом" in cell_html and "Чек-лист встречи" in cell_html
    assert "Разбор звонка" not in cell_html
    task_cell = html.split(f'id="cell-d2-s{small.at14.pk}-seniors"')[1].split("</td>")[0]
    assert "Разбор звонка" in task_cell
    assert "1–3" in task_cell
    # The digest slot is a note, not a column; the seniors' track links to the one it follows.
    assert f'id="cell-d1-s{small.at18.pk}-' not in html
    assert "18:00" in html
    assert 'href="#track-consultants"' in html
    assert html.count('class="slot-head"') == 4


def test_the_grid_costs_the_same_queries_however_big_the_program(
    author: Client, small: SmallProgram
) -> None:
    url = reverse("programs:author_matrix", kwargs={"slug": "sales"})
    with CaptureQueriesContext(connection) as small_grid:
        assert author.get(url).status_code == 200
    for index in range(3, 10):
        day = LearningDay.objects.create(
            program=small.program, index=index, date=dt.date(2026, 5, index + 4)
        )
        for track in (small.consultants, small.seniors):
            services.material_create(
                track=track, day=day, slot=small.at14, title=f"М{index}", body="…", minutes=10
            )
            services.task_create(
                track=track, day=day, slot=small.at10, title=f"З{index}", prompt="?"
            )
    with CaptureQueriesContext(connection) as big_grid:
        assert author.get(url).status_code == 200
    assert len(big_grid.captured_queries) == len(small_grid.captured_queries)


def test_the_program_list_shows_only_the_callers_organisation(
    author: Client, small: SmallProgram, org_b: Organization
) -> None:
    build_program(org_b, slug="foreign")
    Program.objects.filter(organization=org_b).update(title="Чужая программа")
    response = author.get(reverse("programs:author_programs"))
    assert response.status_code == 200
    assert "Марафон продаж" in response.content.decode()
    assert "Чужая программа" not in response.content.decode()
    nav = response.content.decode().split('class="nav"')[1].split("</nav>")[0]
    assert 'href="/author/"' in nav  # the header leads authors here


def test_htmx_edit_returns_fragments_and_saves(author: Client, small: SmallProgram) -> None:
    url = material_url(small.intro)
    opened = author.get(url, headers={"HX-Request": "true"})
    assert opened.status_code == 200
    assert "<html" not in opened.content.decode()
    assert 'name="title"' in opened.content.decode()

    response = author.post(
        url,
        material_post(small.intro, title="Первый контакт", body="Сначала **слушайте**."),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    fragment = response.content.decode()
    assert "<html" not in fragment
    assert "Первый контакт" in fragment
    assert response["HX-Retarget"] == f"#cell-d1-s{small.at10.pk}-consultants"
    small.intro.refresh_from_db()
    assert (small.intro.title, small.intro.body) == ("Первый контакт", "Сначала **слушайте**.\n")

    again = author.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<strong>слушайте</strong>" in again  # the preview, rendered


def test_plain_post_redirects_back_to_the_cell(author: Client, small: SmallProgram) -> None:
    response = author.post(
        material_url(small.intro), material_post(small.intro, title="Новый заголовок", body="Текст")
    )
    matrix_url = reverse("programs:author_matrix", kwargs={"slug": "sales"})
    assert response.status_code == 302
    assert response["Location"] == f"{matrix_url}#cell-d1-s{small.at10.pk}-consultants"
    page = author.get(matrix_url).content.decode()
    assert "Новый заголовок" in page
    small.intro.refresh_from_db()
    assert small.intro.body == "Текст\n"


def test_preview_renders_markdown_safely_and_saves_nothing(
    author: Client, small: SmallProgram
) -> None:
    response = author.post(
        material_url(small.intro),
        material_post(
            small.intro, title="", body="# Заголовок\n\n<script>alert(1)</script>", action="preview"
        ),
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert "<h1>Заголовок</h1>" in html
    assert "<script>alert(1)</script>" not in html
    small.intro.refresh_from_db()
    assert small.intro.title == "Знакомство с клиентом"


@pytest.mark.parametrize("minutes", ["0", "121", "abc"])
def test_invalid_minutes_are_refused_per_field_and_nothing_is_saved(
    author: Client, small: SmallProgram, minutes: str
) -> None:
    response = author.post(
        material_url(small.intro),
        material_post(small.intro, title="Другое", minutes=minutes),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"minutes"}
    assert 'class="errorlist' in response.content.decode()
    small.intro.refresh_from_db()
    assert (small.intro.title, small.intro.minutes) == ("Знакомство с клиентом", 12)


def test_task_fields_are_validated(author: Client, small: SmallProgram) -> None:
    url = reverse("programs:author_task", kwargs={"task_id": small.call_task.pk})
    response = author.post(
        url,
        {
            "title": " ",
            "prompt": "Новый текст",
            "answer_kinds": ["text", "video"],
            "grade_max": "11",
            "version": queries.task_version(small.call_task),
        },
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"title", "answer_kinds", "grade_max"}
    small.call_task.refresh_from_db()
    assert small.call_task.prompt == "Послушайте звонок.\n"


def test_a_stale_form_is_refused(author: Client, small: SmallProgram) -> None:
    opened_version = queries.material_version(small.intro)
    services.material_update(material=small.intro, title="Чужая правка", body="Б", minutes=12)
    response = author.post(
        material_url(small.intro),
        {"title": "Моя правка", "minutes": 12, "body": "Б", "version": opened_version},
    )
    assert response.status_code == 200
    assert "Someone else saved a change" in str(response.context["form"].non_field_errors())
    small.intro.refresh_from_db()
    assert small.intro.title == "Чужая правка"


def test_adding_a_material_and_a_task_to_a_cell(author: Client, small: SmallProgram) -> None:
    place = {"slug": "sales", "day_index": 2, "slot_id": small.at10.pk, "track_slug": "seniors"}
    response = author.post(
        reverse("programs:author_material_create", kwargs=place),
        {"title": "Как поддержать консультанта", "minutes": "15", "body": "…"},
    )
    assert response.status_code == 302
    response = author.post(
        reverse("programs:author_task_create", kwargs=place),
        {
            "title": "Проверьте отчёт",
            "prompt": "Опишите",
            "answer_kinds": ["photo", "text"],
            "grade_max": "3",
        },
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "Проверьте отчёт" in response.content.decode()
    material = Material.objects.get(title="Как поддержать консультанта")
    task = Task.objects.get(title="Проверьте отчёт")
    assert (material.track, material.day, material.slot) == (small.seniors, small.day2, small.at10)
    assert task.answer_kinds == "text,photo"  # stored in declaration order


def test_deleting_asks_first_then_deletes(author: Client, small: SmallProgram) -> None:
    url = reverse("programs:author_material_delete", kwargs={"material_id": small.checklist.pk})
    confirm = author.get(url)
    assert confirm.status_code == 200
    assert "Чек-лист встречи" in confirm.content.decode()
    assert Material.objects.filter(pk=small.checklist.pk).exists()
    assert author.post(url).status_code == 302
    assert not Material.objects.filter(pk=small.checklist.pk).exists()


def test_deleting_closes_the_gap_so_a_reimport_keeps_rows(small: SmallProgram) -> None:
    third = services.material_create(
        track=small.consultants, day=small.day1, slot=small.at10, title="Третий", body="…"
    )
    services.material_delete(material=small.intro)
    third.refresh_from_db()
    small.checklist.refresh_from_db()
    assert (small.checklist.position, third.position) == (0, 1)


def test_text_is_stored_as_the_matrix_file_stores_it(author: Client, small: SmallProgram) -> None:
    # Browsers send CRLF; trailing spaces would push the exporter out of a `|` block.
    author.post(material_url(small.intro), material_post(small.intro, body="\r\nА  \r\nБ\r\n\r\n"))
    small.intro.refresh_from_db()
    assert small.intro.body == "А\nБ\n"
    response = author.post(material_url(small.intro), material_post(small.intro, body=" \r\n "))
    assert set(response.context["form"].errors) == {"body"}


def test_moving_reorders_positions(author: Client, small: SmallProgram) -> None:
    third = services.material_create(
        track=small.consultants, day=small.day1, slot=small.at10, title="Третий", body="…"
    )

    def order() -> list[str]:
        cell = queries.authoring_cell(track=small.consultants, day=small.day1, slot=small.at10)
        return [m.title for m in cell.materials]

    assert order() == ["Знакомство с клиентом", "Чек-лист встречи", "Третий"]
    move = reverse("programs:author_material_move", kwargs={"material_id": third.pk})
    response = author.post(move, {"direction": "up"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert order() == ["Знакомство с клиентом", "Третий", "Чек-лист встречи"]
    author.post(move, {"direction": "up"})
    assert order() == ["Третий", "Знакомство с клиентом", "Чек-лист встречи"]
    author.post(move, {"direction": "up"})  # already first: nothing changes
    assert order() == ["Третий", "Знакомство с клиентом", "Чек-лист встречи"]
    services.material_move(material=small.intro, direction="down")
    assert order() == ["Третий", "Чек-лист встречи", "Знакомство с клиентом"]


def test_a_task_in_a_digest_slot_is_refused(author: Client, small: SmallProgram) -> None:
    with pytest.raises(ValidationError) as refused:
        services.task_create(
            track=small.consultants,
            day=small.day1,
            slot=small.at18,
            title="Итог дня",
            prompt="Что получилось?",
        )
    assert "slot" in refused.value.message_dict
    place = {"slug": "sales", "day_index": 1, "slot_id": small.at18.pk, "track_slug": "consultants"}
    response = author.post(
        reverse("programs:author_task_create", kwargs=place),
        {
            "title": "Итог дня",
            "prompt": "Что получилось?",
            "answer_kinds": ["text"],
            "grade_max": "3",
        },
    )
    assert response.status_code == 200
    assert "lesson slots" in response.content.decode()
    assert not Task.objects.filter(title="Итог дня").exists()


def test_content_from_another_program_cannot_be_mixed(
    small: SmallProgram, org_a: Organization
) -> None:
    other = build_program(org_a, slug="other")
    with pytest.raises(ValidationError):
        services.material_create(
            track=small.consultants, day=other.day1, slot=small.at10, title="Смесь", body="…"
        )
    assert not Material.objects.filter(title="Смесь").exists()


def test_a_participant_gets_403(small: SmallProgram, org_a: Organization) -> None:
    participant = login_as(org_a, "P-1", "participant")
    urls = [
        reverse("programs:author_programs"),
        reverse("programs:author_matrix", kwargs={"slug": "sales"}),
        material_url(small.intro),
    ]
    for url in urls:
        assert participant.get(url).status_code == 403, url
    assert (
        participant.post(
            material_url(small.intro), material_post(small.intro, title="X")
        ).status_code
        == 403
    )
    small.intro.refresh_from_db()
    assert small.intro.title == "Знакомство с клиентом"


def test_an_admin_may_edit(small: SmallProgram, org_a: Organization) -> None:
    admin = login_as(org_a, "ADM", "admin,participant")
    assert admin.get(reverse("programs:author_matrix", kwargs={"slug": "sales"})).status_code == 200


def test_an_author_of_another_organisation_gets_404(
    small: SmallProgram, org_b: Organization
) -> None:
    stranger = login_as(org_b, "B-1", "author")
    urls = [
        reverse("programs:author_matrix", kwargs={"slug": "sales"}),
        material_url(small.intro),
        reverse("programs:author_material_delete", kwargs={"material_id": small.intro.pk}),
        reverse("programs:author_task", kwargs={"task_id": small.call_task.pk}),
        reverse(
            "programs:author_material_create",
            kwargs={
                "slug": "sales",
                "day_index": 1,
                "slot_id": small.at10.pk,
                "track_slug": "consultants",
            },
        ),
    ]
    for url in urls:
        assert stranger.get(url).status_code == 404, url
    move = reverse("programs:author_material_move", kwargs={"material_id": small.intro.pk})
    assert stranger.post(move, {"direction": "down"}).status_code == 404
    assert (
        stranger.post(material_url(small.intro), material_post(small.intro, title="X")).status_code
        == 404
    )
    small.intro.refresh_from_db()
    assert (small.intro.title, small.intro.position) == ("Знакомство с клиентом", 0)


# --- In a real browser: htmx swaps under the CSP, and the phone layout ------------------

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


def _screenshot(page: Any, name: str) -> None:
    folder = os.environ.get("FOKUS_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, name), full_page=True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_author_edits_in_place_in_chromium(
    live_server: object, org_a: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from conftest import services_required

    chromium = shutil.which("chromium")
    if chromium is None:
        if services_required():
            pytest.fail("Debian's Chromium is not installed (apt-get install chromium)")
        pytest.skip("Debian's Chromium is not installed")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; our ORM calls are plain.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    small = build_program(org_a)
    user = User.objects.create_user(username="metodist", password="p" * 12)
    Person.objects.create(
        organization=org_a,
        employee_number="M-1",
        full_name="Методист",
        roles="author",
        time_zone="Europe/Moscow",
        user=user,
    )
    base = str(getattr(live_server, "url", ""))
    matrix_url = base + reverse("programs:author_matrix", kwargs={"slug": "sales"})
    cell = f"#cell-d1-s{small.at10.pk}-consultants"

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{base}/login/?next={matrix_url.removeprefix(base)}")
            page.fill("input[name=username]", "metodist")
            page.fill("input[name=password]", "p" * 12)
            page.click("button.primary[type=submit]")
            page.wait_for_url(matrix_url)
            assert page.locator("#editor").is_hidden()  # empty until an item is opened

            page.click(f"{cell} >> text=Знакомство с клиентом")
            page.wait_for_selector("#editor input[name=title]")
            _screenshot(page, "authoring-editor.png")
            assert page.url == matrix_url  # edited in place, no navigation
            page.fill("#editor input[name=title]", "Первый контакт")
            page.fill("#editor textarea[name=body]", "Сначала **слушайте** клиента.")
            page.wait_for_selector("#editor-preview strong")  # live preview, rendered
            page.click("#editor button.primary")
            page.wait_for_selector(f"{cell} >> text=Первый контакт")
            assert page.locator("#editor").is_hidden()
            small.intro.refresh_from_db()
            assert (small.intro.title, small.intro.body) == (
                "Первый контакт",
                "Сначала **слушайте** клиента.\n",
            )

            page.click(f"{cell} >> text=Первый контакт")
            page.fill("#editor input[name=minutes]", "500")
            page.click("#editor button.primary")
            page.wait_for_selector("#editor input[name=minutes]:invalid")  # the browser refuses
            page.click("#editor a.button:not(.danger)")  # cancel
            page.wait_for_selector("#editor", state="hidden")

            page.click(f"{cell} button[name=direction][value=down] >> nth=0")
            page.wait_for_selector(f"{cell} li:first-child >> text=Чек-лист встречи")
            assert not [e for e in errors if "Content Security Policy" in e], errors
            _screenshot(page, "authoring-matrix.png")

            # A phone: the grid becomes a list by day, with no horizontal scroll.
            page.set_viewport_size({"width": 360, "height": 800})
            assert page.locator(".matrix thead").is_hidden()
            assert page.locator(f"{cell} .cell-label").is_visible()
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"horizontal scroll of {overflow}px on a phone"
            _screenshot(page, "authoring-phone.png")
        finally:
            browser.close()


def test_what_authors_save_survives_export_and_reimport(
    author: Client, small: SmallProgram, org_a: Organization
) -> None:
    author.post(
        material_url(small.intro),
        material_post(small.intro, title="Первый контакт", body="# План\r\n\r\n- слушать  \r\n"),
    )
    place = {"slug": "sales", "day_index": 2, "slot_id": small.at10.pk, "track_slug": "seniors"}
    author.post(
        reverse("programs:author_task_create", kwargs=place),
        {"title": "Проверьте", "prompt": "Опишите\r\n", "answer_kinds": ["link"], "grade_max": "5"},
    )
    services.material_delete(material=small.checklist)
    program = Program.objects.get(pk=small.program.pk)
    exported = queries.program_matrix_text(program)
    ids = sorted(Material.objects.values_list("pk", flat=True))

    services.program_import(organization=org_a, text=exported, source_name="sales.yaml")

    assert queries.program_matrix_text(program) == exported
    assert sorted(Material.objects.values_list("pk", flat=True)) == ids  # rows kept, not replaced
