"""The e-mail channel: a rendered delivery as a branded HTML + text message over SMTP.

Django's mail API (EmailMultiAlternatives) with the configured backend: SMTP from the
EMAIL_* settings, files for the embedded run. One connection serves a whole batch;
each message's outcome is reported on its own, so a refused address fails only
that delivery.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.utils import formataddr, make_msgid
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.translation import gettext as _

from fokus.delivery.models import Delivery, DeliveryPreference, ProgramBranding
from fokus.delivery.rendering import InlineImage, RenderedMessage, person_language

__all__ = ["EmailOutcome", "build_email", "preferences_url", "send_emails"]

_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
DEFAULT_PRIMARY = "#1f5eff"
DEFAULT_TEXT = "#1b1b1b"


@dataclass(frozen=True)
class EmailOutcome:
    delivery: Delivery
    ok: bool
    message_id: str = ""
    # Worth trying again later (the server or the network), or not (a refused address).
    retryable: bool = False
    error: str = ""


class BrandedEmail(EmailMultiAlternatives):
    """EmailMultiAlternatives whose HTML part carries inline images (multipart/related),
    shown by `<img src="cid:…">`."""

    def __init__(self, *args: Any, inline_images: Iterable[InlineImage] = (), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.inline_images = list(inline_images)

    def message(self, *args: Any, **kwargs: Any) -> Any:
        msg = super().message(*args, **kwargs)
        html_part = msg.get_body(preferencelist=("html",)) if self.inline_images else None
        if html_part is not None:
            for image in self.inline_images:
                maintype, _slash, subtype = image.mime.partition("/")
                html_part.add_related(
                    image.data, maintype=maintype, subtype=subtype or "png",
                    cid=f"<{image.cid}>", disposition="inline",
                )
        return msg


def preferences_url(delivery: Delivery) -> str:
    """The person's sign-in-free preferences/unsubscribe page, or "" while no such page
    exists in this installation (the footer then goes without a link)."""
    preference = DeliveryPreference.objects.filter(person_id=delivery.person_id).first()
    if preference is None:
        try:
            with transaction.atomic():
                preference = DeliveryPreference.objects.create(person_id=delivery.person_id)
        except IntegrityError:  # created by someone else meanwhile
            preference = DeliveryPreference.objects.get(person_id=delivery.person_id)
    try:
        path = reverse("delivery:preferences", args=[preference.token])
    except NoReverseMatch:
        return ""
    return settings.FOKUS_PUBLIC_URL.rstrip("/") + path


def _branding(delivery: Delivery) -> dict[str, str]:
    branding = None
    if delivery.program_id is not None:
        branding = ProgramBranding.objects.filter(program_id=delivery.program_id).first()
    program_title = delivery.program.title if delivery.program is not None else ""
    primary = branding.primary_colour if branding else DEFAULT_PRIMARY
    text = branding.text_colour if branding else DEFAULT_TEXT
    logo = branding.logo_url.strip() if branding else ""
    # Only an image a mail client may load; anything else is dropped, not escaped.
    if not logo.startswith(("https://", "data:image/")):
        logo = ""
    return {
        "primary_colour": primary if _COLOUR.match(primary) else DEFAULT_PRIMARY,
        "text_colour": text if _COLOUR.match(text) else DEFAULT_TEXT,
        "logo_url": logo,
        "sender_name": (branding.sender_name if branding and branding.sender_name
                        else program_title or _("Fokus")),
    }


def build_email(delivery: Delivery, rendered: RenderedMessage) -> BrandedEmail:
    person = delivery.person
    unsubscribe = preferences_url(delivery)
    with translation.override(person_language(person)):
        brand = _branding(delivery)
        context = {
            **brand,
            "language": person_language(person),
            "subject": rendered.subject,
            "body": rendered.html,
            "text": rendered.text,
            "buttons": rendered.buttons,
            "person_name": person.full_name,
            "preferences_url": unsubscribe,
        }
        html_body = render_to_string("delivery/email/base.html", context)
        text_body = render_to_string("delivery/email/base.txt", context)
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "fokus.local"
    headers = {
        "Message-ID": make_msgid(f"delivery{delivery.pk}", domain=domain),
        "Auto-Submitted": "auto-generated",
        "X-Fokus-Delivery": str(delivery.pk),
    }
    if unsubscribe:
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
    message = BrandedEmail(
        subject=rendered.subject,
        body=text_body,
        from_email=formataddr((brand["sender_name"], settings.DEFAULT_FROM_EMAIL)),
        to=[person.email],
        headers=headers,
        inline_images=rendered.inline_images,
    )
    message.attach_alternative(html_body, "text/html")
    for attachment in rendered.attachments:
        message.attach(attachment.filename, attachment.data, attachment.mime)
    return message


def _is_retryable(error: BaseException) -> bool:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in error.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    # Disconnects, refused connections, timeouts, DNS trouble: the server may come back.
    return isinstance(error, (smtplib.SMTPException, OSError, socket.timeout))


def send_emails(
    items: Iterable[tuple[Delivery, RenderedMessage]],
) -> Iterator[EmailOutcome]:
    """Send each message over one connection; yield every outcome as it is known."""
    connection = mailers.default
    opened = False
    try:
        for delivery, rendered in items:
            message = build_email(delivery, rendered)
            message_id = str(message.extra_headers["Message-ID"])
            try:
                if not opened:
                    connection.open()
                    opened = True
                sent = connection.send_messages([message])
            except Exception as error:  # every failure ends in the delivery's row
                retryable = _is_retryable(error)
                if retryable and opened:
                    # A broken connection is not reused for the next message.
                    _close_quietly(connection)
                    opened = False
                yield EmailOutcome(delivery, ok=False, retryable=retryable,
                                   error=f"{type(error).__name__}: {error}"[:1000])
                continue
            if not sent:
                yield EmailOutcome(delivery, ok=False, retryable=True,
                                   error="the mail backend did not accept the message")
                continue
            yield EmailOutcome(delivery, ok=True, message_id=message_id)
    finally:
        if opened:
            _close_quietly(connection)


def _close_quietly(connection: Any) -> None:
    # Closing a broken connection: nothing to recover.
    with contextlib.suppress(Exception):
        connection.close()
