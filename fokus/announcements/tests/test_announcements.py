"""Announcements: who may write them, the editor's errors, sending once, the e-mail, posters."""

from __future__ import annotations

import base64
import datetime as dt
import io
import re
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from fokus.announcements.images import ImageRefused, image_normalise
from fokus.announcements.models import Announcement
from fokus.announcements.qr import PNG_SIGNATURE
from fokus.announcements.services import announcement_save, announcement_send
from fokus.core.tests.factories import World, build_world
from fokus.delivery.models import (
    Channel,
    Delivery,
    DeliveryBlob,
    DeliveryKind,
    DeliveryPreference,
)
from fokus.delivery.rendering import render_delivery
from fokus.people.models import Person, Role
from fokus.programs.models import Enrollment
from fokus.scheduler.background import run_pending_tasks
from fokus.telegram.models import TelegramBindToken, TelegramBot, TelegramChat

NOW = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)


@pytest.fixture
def world(db: None) -> World:
    return build_world("anw", starts_on=dt.date(2026, 3, 2))


@pytest.fixture
def bot(world: World) -> TelegramBot:
    return TelegramBot.objects.create(
        organization=world.organization, token="123:abc", username="fokus_test_bot"
    )


def _client(world: World, role: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(world.users[role])
    return client


def _png(size: tuple[int, int] = (40, 30), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 10, 10) if mode == "RGB" else (200, 10, 10, 128)).save(
        out, format="PNG"
    )
    return out.getvalue()


def _send(client: Client, announcement_id: int, capture: Any) -> int:
    """POST the confirmed send, then do the worker's part (the planning task)."""
    with capture(execute=True):
        response = client.post(f"/announcements/{announcement_id}/send/", {"confirm": "yes"})
    run_pending_tasks()
    return int(response.status_code)


def _draft(world: World, **fields: Any) -> Announcement:
    values: dict[str, Any] = {
        "organization": world.organization, "by": world.people[Role.ADMIN],
        "title": "New season", "text": "The **marathon** starts on Monday.",
        "program": None, "unit": None, "now": NOW,
    }
    values.update(fields)
    return announcement_save(**values)


# --- permissions ----------------------------------------------------------------------


@pytest.mark.parametrize(("role", "allowed"), [
    (Role.ADMIN, True), (Role.AUTHOR, True), (Role.PARTICIPANT, False),
    (Role.CURATOR, False), (Role.SUPERVISOR, False), (Role.VIEWER, False),
])
def test_only_admins_and_the_ld_team_edit_announcements(
    world: World, role: str, allowed: bool, django_capture_on_commit_callbacks: Any
) -> None:
    draft = _draft(world)
    client = _client(world, role)
    urls = ["/announcements/", "/announcements/new/", f"/announcements/{draft.pk}/",
            f"/announcements/{draft.pk}/edit/", f"/announcements/{draft.pk}/send/"]
    for url in urls:
        assert client.get(url).status_code == (200 if allowed else 403), url
    status = _send(client, draft.pk, django_capture_on_commit_callbacks)
    assert status == (302 if allowed else 403)
    assert Delivery.objects.exists() is allowed


def test_another_organisations_announcement_is_404(world: World) -> None:
    other = build_world("anx", starts_on=dt.date(2026, 3, 2))
    foreign = _draft(other)
    client = _client(world, Role.ADMIN)
    for suffix in ("", "edit/", "send/"):
        assert client.get(f"/announcements/{foreign.pk}/{suffix}").status_code == 404
    assert client.post(f"/announcements/{foreign.pk}/send/", {"confirm": "yes"}).status_code == 404
    assert not Delivery.objects.exists()


# --- the editor -----------------------------------------------------------------------


def test_validation_errors_name_the_field(world: World) -> None:
    client = _client(world, Role.ADMIN)
    response = client.post("/announcements/new/", {"title": "  ", "text": "", "action": "save"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Title: This field is required." in body or "Title: Enter a title." in body
    assert "Text: This field is required." in body
    assert not Announcement.objects.exists()


def test_an_image_is_checked_by_content(world: World) -> None:
    client = _client(world, Role.ADMIN)
    fake = io.BytesIO(b"MZ\x90\x00 this is a program, not a photo")
    fake.name = "photo.jpg"
    response = client.post(
        "/announcements/new/", {"title": "T", "text": "x", "image": fake, "action": "save"}
    )
    assert "Image: This file is not an image Fokus accepts" in response.content.decode()
    assert not Announcement.objects.exists()


def test_an_image_is_shrunk_and_reencoded(world: World) -> None:
    stored = image_normalise(_png((3000, 1500)))
    with Image.open(io.BytesIO(stored.data)) as image:
        assert max(image.size) == 1024
    assert stored.mime == "image/jpeg"
    assert image_normalise(_png(mode="RGBA")).mime == "image/png"
    with pytest.raises(ImageRefused):
        image_normalise(b"")


def test_preview_renders_markdown_safely_without_saving(world: World) -> None:
    client = _client(world, Role.AUTHOR)
    response = client.post("/announcements/new/", {
        "title": "Hello", "text": "**Bold** <script>alert(1)</script>", "action": "preview",
    })
    body = response.content.decode()
    assert "<strong>Bold</strong>" in body
    assert "<script>alert(1)</script>" not in body
    assert not Announcement.objects.exists()


def test_create_edit_and_no_edit_after_sending(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    client = _client(world, Role.ADMIN)
    image = io.BytesIO(_png())
    image.name = "a.png"
    response = client.post("/announcements/new/", {
        "title": "Kick-off", "text": "Hello *all*", "program": world.program.slug,
        "unit": world.unit.pk, "image": image, "action": "save",
    })
    announcement = Announcement.objects.get()
    assert response["Location"] == f"/announcements/{announcement.pk}/"
    assert announcement.program == world.program and announcement.unit == world.unit
    assert announcement.image and announcement.image_type == "image/jpeg"
    assert announcement.created_by == world.people[Role.ADMIN]
    client.post(f"/announcements/{announcement.pk}/edit/", {
        "title": "Kick-off!", "text": "Hello", "program": "", "unit": "", "action": "save",
    })
    announcement.refresh_from_db()
    assert announcement.title == "Kick-off!" and announcement.program is None
    assert announcement.image  # kept unless removed
    _send(client, announcement.pk, django_capture_on_commit_callbacks)
    response = client.post(f"/announcements/{announcement.pk}/edit/", {
        "title": "Changed", "text": "x", "action": "save",
    })
    assert response.status_code == 302
    announcement.refresh_from_db()
    assert announcement.title == "Kick-off!"


# --- sending --------------------------------------------------------------------------


def test_send_needs_confirmation(world: World) -> None:
    draft = _draft(world)
    client = _client(world, Role.ADMIN)
    body = client.get(f"/announcements/{draft.pk}/send/").content.decode()
    assert f"to {Person.objects.filter(organization=world.organization).count()} people" in body
    response = client.post(f"/announcements/{draft.pk}/send/", {})
    assert response.status_code == 200
    assert "Confirm: tick the box to send." in response.content.decode()
    assert not Delivery.objects.exists()


def test_send_creates_one_delivery_per_person_and_channel_once(
    world: World, bot: TelegramBot, django_capture_on_commit_callbacks: Any
) -> None:
    participant = world.people[Role.PARTICIPANT]
    TelegramChat.objects.create(person=participant, bot=bot, chat_id=777, bound_at=NOW)
    no_email = world.people[Role.CURATOR]
    no_email.email = ""
    no_email.save(update_fields=["email"])
    draft = _draft(world)
    client = _client(world, Role.ADMIN)
    # A double click: two POSTs.
    assert _send(client, draft.pk, django_capture_on_commit_callbacks) == 302
    assert _send(client, draft.pk, django_capture_on_commit_callbacks) == 302
    rows = Delivery.objects.filter(contact_point=f"announcement:{draft.pk}")
    pairs = sorted((r.person.employee_number, r.channel) for r in rows)
    everyone = Person.objects.filter(organization=world.organization).order_by("employee_number")
    expected = sorted(
        [(p.employee_number, Channel.EMAIL.value) for p in everyone if p.email]
        + [(participant.employee_number, Channel.TELEGRAM.value)]
    )
    assert pairs == expected
    assert {r.kind for r in rows} == {DeliveryKind.ANNOUNCEMENT}
    assert all(r.due_at is not None for r in rows)
    draft.refresh_from_db()
    assert draft.sent_at is not None and draft.sent_by == world.people[Role.ADMIN]
    assert draft.planned_at is not None
    assert {r.due_at for r in rows} == {draft.sent_at}
    # The service itself refuses a second send too.
    again = announcement_send(draft, NOW)
    assert again.already_sent and again.deliveries == 0
    assert rows.count() == len(expected)


def test_the_audience_is_a_programs_enrolled_people_of_a_unit(world: World) -> None:
    outsider = Person.objects.create(
        organization=world.organization, employee_number="OUT", full_name="Out Sider",
        email="out@example.com", time_zone="Europe/Moscow",
    )
    Enrollment.objects.create(person=outsider, track=world.track, enrolled_at=NOW)
    draft = _draft(world, program=world.program, unit=world.unit)
    result = announcement_send(draft, NOW)
    # Only the world's participant is enrolled and in the unit; the outsider has no unit.
    assert result.people == 1
    assert list(Delivery.objects.values_list("person__employee_number", flat=True)) == [
        world.people[Role.PARTICIPANT].employee_number
    ]


def test_unreachable_people_are_counted_not_sent(world: World) -> None:
    participant = world.people[Role.PARTICIPANT]
    DeliveryPreference.objects.create(person=participant, email_unsubscribed=True)
    result = announcement_send(_draft(world), NOW)
    assert result.unreachable == 1
    assert not Delivery.objects.filter(person=participant).exists()


def test_the_email_carries_the_persons_own_deep_link_and_qr(
    world: World, bot: TelegramBot
) -> None:
    image = image_normalise(_png())
    draft = _draft(world, image=(image.data, image.mime))
    english = world.people[Role.PARTICIPANT]
    english.language = "en"
    english.save(update_fields=["language"])
    announcement_send(draft, NOW)
    links = {}
    russian = world.people[Role.SUPERVISOR]
    button = {english.pk: "Connect Telegram", russian.pk: "Подключить Telegram"}
    for person in (english, russian):
        row = Delivery.objects.get(person=person, channel=Channel.EMAIL)
        token = TelegramBindToken.objects.get(person=person, used_at=None)
        link = f"https://t.me/fokus_test_bot?start={token.token}"
        payload = row.payload
        assert link in payload["text"]
        assert link in payload["html"]
        # In the person's language (the organisation's default, Russian, when unset).
        assert payload["buttons"] == [[{"text": button[person.pk], "url": link}]]
        assert payload["subject"] == "New season"
        assert "<strong>marathon</strong>" in payload["html"]
        images = {i["cid"]: i for i in payload["inline_images"]}
        qr = base64.b64decode(images["telegram-qr"]["data_b64"])
        assert qr.startswith(PNG_SIGNATURE) and images["telegram-qr"]["mime"] == "image/png"
        assert 'src="cid:telegram-qr"' in payload["html"]
        # The picture is stored once and named by every payload, not copied into each.
        assert "data_b64" not in images["announcement-image"]
        blob = DeliveryBlob.objects.get(sha256=images["announcement-image"]["blob"])
        assert bytes(blob.data) == image.data
        assert 'src="cid:announcement-image"' in payload["html"]
        rendered = render_delivery(row)
        assert {i.cid: i.data for i in rendered.inline_images}["announcement-image"] == image.data
        links[person.pk] = link
    assert len(set(links.values())) == 2  # each person's own link


def test_people_linked_to_telegram_get_the_text_and_image_there_and_no_link(
    world: World, bot: TelegramBot
) -> None:
    participant = world.people[Role.PARTICIPANT]
    TelegramChat.objects.create(person=participant, bot=bot, chat_id=777, bound_at=NOW)
    image = image_normalise(_png())
    draft = _draft(world, image=(image.data, image.mime))
    announcement_send(draft, NOW)
    telegram = Delivery.objects.get(person=participant, channel=Channel.TELEGRAM).payload
    # Plain text: the Markdown is rendered, not shown as asterisks.
    assert telegram["text"] == "New season\n\nThe marathon starts on Monday."
    photo = DeliveryBlob.objects.get(sha256=telegram["photo"]["blob"])
    assert bytes(photo.data) == image.data and DeliveryBlob.objects.count() == 1
    telegram_row = Delivery.objects.get(person=participant, channel=Channel.TELEGRAM)
    # The channel sends the first inline image as the photo above the text.
    assert render_delivery(telegram_row, for_email=False).inline_images[0].data == image.data
    email = Delivery.objects.get(person=participant, channel=Channel.EMAIL).payload
    assert "t.me/" not in email["html"] and email["buttons"] == []
    assert not TelegramBindToken.objects.filter(person=participant).exists()


def test_without_a_bot_the_email_has_no_link(world: World) -> None:
    announcement_send(_draft(world), NOW)
    payload = Delivery.objects.filter(channel=Channel.EMAIL).first()
    assert payload is not None
    assert "t.me/" not in payload.payload["html"] and payload.payload["inline_images"] == []


def test_the_detail_page_shows_delivery_progress(world: World) -> None:
    draft = _draft(world)
    announcement_send(draft, NOW)
    total = Delivery.objects.count()
    body = _client(world, Role.ADMIN).get(f"/announcements/{draft.pk}/").content.decode()
    assert f"0 of {total} sent" in body


def test_pages_speak_russian_by_default(world: World) -> None:
    draft = _draft(world)
    client = Client()  # no Accept-Language: the organisation's default, Russian
    client.force_login(world.users[Role.ADMIN])
    body = client.get(f"/announcements/{draft.pk}/send/").content.decode()
    assert "Отправить «New season»" in body and "сейчас по e-mail и в Telegram?" in body
    announcement_send(draft, NOW)
    body = client.get(f"/announcements/{draft.pk}/").content.decode()
    assert f"отправлено 0 из {Delivery.objects.count()}" in body


def test_planning_runs_in_chunks_and_again_completes_the_rest(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fokus.announcements import services

    monkeypatch.setattr(services, "PLAN_CHUNK", 2)
    draft = _draft(world)
    assert services.announcement_send_request(draft, NOW)
    first = services.announcement_plan(draft.pk)
    Delivery.objects.filter(person=world.people[Role.ADMIN]).delete()  # as if it crashed
    again = services.announcement_plan(draft.pk)
    assert again.deliveries == first.deliveries == Delivery.objects.count() == len(Role)


# --- posters --------------------------------------------------------------------------


def test_the_poster_shows_a_qr_code_of_the_profile_page(world: World, bot: TelegramBot) -> None:
    client = _client(world, Role.ADMIN)
    assert world.unit.name in client.get("/announcements/posters/").content.decode()
    body = client.get(f"/announcements/posters/{world.unit.pk}/").content.decode()
    assert world.unit.name in body
    assert re.search(r'<img class="poster-qr" src="data:image/svg\+xml[^"]+"', body)
    assert "/profile/telegram/" in body
    assert "@fokus_test_bot" in body
    other = build_world("any", starts_on=dt.date(2026, 3, 2))
    assert client.get(f"/announcements/posters/{other.unit.pk}/").status_code == 404
