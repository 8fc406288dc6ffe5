"""E-mail through a real SMTP server (aiosmtpd on loopback): branded HTML and text,
the preferences link, List-Unsubscribe, the lesson's .ics, retries and refusals."""

from __future__ import annotations

import base64
from datetime import timedelta
from email.message import EmailMessage

import pytest
from django.test import override_settings
from django.urls import reverse
from icalendar import Calendar

from fokus.core.clock import frozen_at
from fokus.delivery.dispatch import delivery_dispatch_all
from fokus.delivery.models import (
    Channel,
    Delivery,
    DeliveryKind,
    DeliveryPreference,
    DeliveryStatus,
    ProgramBranding,
)
from fokus.delivery.services import delivery_enqueue
from fokus.delivery.tests.conftest import Drop, Mailbox

pytestmark = pytest.mark.django_db

PIXEL = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def test_a_lesson_email_is_branded_with_text_html_unsubscribe_link_and_calendar_event(
    email_drop: Drop, smtp_server: Mailbox
) -> None:
    ProgramBranding.objects.create(
        program=email_drop.program, primary_colour="#c8102e", text_colour="#222222",
        logo_url="https://cdn.example.com/logo.png", sender_name="Sales Academy",
    )
    anna = email_drop.person("P1", chat=False)
    delivery = email_drop.lesson(anna)
    assert delivery.channel == Channel.EMAIL

    with frozen_at(email_drop.lesson_at):
        assert delivery_dispatch_all().sent == 1

    [message] = smtp_server.to("p1@example.com")
    material, task = email_drop.materials[0], email_drop.tasks[0]
    assert str(message["From"]) == "Sales Academy <fokus@example.com>"
    assert material.title in str(message["Subject"])
    html = html_of(message)
    assert "#c8102e" in html and "https://cdn.example.com/logo.png" in html
    assert material.title in html and task.title in html
    assert "Open the lesson" in html and "Answer the task" in html
    text = text_of(message)
    assert material.title in text and "Open the lesson: http" in text

    preference = DeliveryPreference.objects.get(person=anna)  # created for the link
    preferences_path = reverse("delivery:preferences", args=[preference.token])
    assert preferences_path in html and preferences_path in text
    assert str(message["List-Unsubscribe"]).endswith(f"{preferences_path}>")

    [ics] = [part for part in message.iter_attachments() if part.get_content_type()
             == "text/calendar"]
    assert str(ics.get_filename()).endswith(".ics")
    event = next(iter(Calendar.from_ical(ics.get_content()).walk("VEVENT")))
    assert event.decoded("dtstart") == email_drop.lesson_at
    assert material.title in str(event.get("summary"))
    assert str(event.get("uid")).endswith(f"-p{anna.pk}-d1-1000@fokus")

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.provider_message_id == str(message["Message-ID"])


def test_without_branding_the_program_title_signs_the_email(
    email_drop: Drop, smtp_server: Mailbox
) -> None:
    anna = email_drop.person("P1", chat=False)
    email_drop.lesson(anna)
    with frozen_at(email_drop.lesson_at):
        delivery_dispatch_all()
    [message] = smtp_server.to("p1@example.com")
    assert email_drop.program.title in str(message["From"])
    assert "#1f5eff" in html_of(message)


def test_a_prepared_message_keeps_its_inline_image_and_attachment(
    email_drop: Drop, smtp_server: Mailbox
) -> None:
    anna = email_drop.person("P1", chat=False)
    delivery_enqueue(
        person=anna, kind=DeliveryKind.ANNOUNCEMENT, contact_point="announcement:9",
        due_at=email_drop.lesson_at, program=email_drop.program,
        payload={
            "subject": "The marathon starts",
            "text": "Join the bot.",
            "html": '<p>Join the bot.</p><img src="cid:qr" alt="QR">',
            "inline_images": [{"cid": "qr", "mime": "image/png", "data_b64": PIXEL}],
            "attachments": [{"filename": "poster.txt", "mime": "text/plain",
                             "data_b64": base64.b64encode(b"poster").decode()}],
        },
    )
    with frozen_at(email_drop.lesson_at):
        assert delivery_dispatch_all().sent == 1
    [message] = smtp_server.to("p1@example.com")
    assert str(message["Subject"]) == "The marathon starts"
    html_part = message.get_body(preferencelist=("related",))
    assert html_part is not None
    [image] = [p for p in html_part.iter_parts() if p.get_content_type() == "image/png"]
    assert image["Content-ID"] == "<qr>"
    assert 'src="cid:qr"' in html_of(message)
    [poster] = list(message.iter_attachments())
    assert poster.get_filename() == "poster.txt"


def test_a_refused_address_fails_and_a_temporary_refusal_is_retried(
    email_drop: Drop, smtp_server: Mailbox
) -> None:
    gone = email_drop.person("GONE", chat=False)
    busy = email_drop.person("BUSY", chat=False)
    fine = email_drop.person("FINE", chat=False)
    smtp_server.refuse["gone@example.com"] = "550 5.1.1 no such mailbox"
    smtp_server.refuse["busy@example.com"] = "451 4.3.0 try again later"
    gone_row, busy_row, fine_row = (email_drop.lesson(p) for p in (gone, busy, fine))

    with frozen_at(email_drop.lesson_at):
        run = delivery_dispatch_all()
    assert (run.sent, run.failed, run.retried) == (1, 1, 1)
    gone_row.refresh_from_db()
    busy_row.refresh_from_db()
    assert gone_row.status == DeliveryStatus.FAILED and "no such mailbox" in gone_row.error
    assert busy_row.status == DeliveryStatus.PLANNED
    assert busy_row.next_attempt_at == email_drop.lesson_at + timedelta(minutes=1)
    assert len(smtp_server.to("fine@example.com")) == 1

    del smtp_server.refuse["busy@example.com"]
    with frozen_at(email_drop.lesson_at + timedelta(minutes=1)):
        assert delivery_dispatch_all().sent == 1
    assert len(smtp_server.to("busy@example.com")) == 1
    assert Delivery.objects.get(pk=fine_row.pk).status == DeliveryStatus.SENT


def test_an_unreachable_server_is_retried_later(email_drop: Drop) -> None:
    anna = email_drop.person("P1", chat=False)
    delivery = email_drop.lesson(anna)
    nowhere = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                           "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 5}}}
    with override_settings(MAILERS=nowhere), frozen_at(email_drop.lesson_at):
        assert delivery_dispatch_all().retried == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PLANNED
    assert "e-mail:" in delivery.error


def test_someone_who_unsubscribed_gets_no_email(
    email_drop: Drop, smtp_server: Mailbox
) -> None:
    anna = email_drop.person("P1", chat=False)
    delivery = email_drop.lesson(anna)
    DeliveryPreference.objects.create(person=anna, email_unsubscribed=True)
    with frozen_at(email_drop.lesson_at):
        assert delivery_dispatch_all().skipped == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SKIPPED
    assert smtp_server.messages == []
