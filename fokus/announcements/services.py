"""Writes for announcements: save a draft, send it through the outbox.

Sending calls `delivery_enqueue` once per person and reachable channel (contact point
`announcement:<id>`), so quiet hours, the budget and the sender's rate limits apply as
to every other message. The e-mail carries the person's own Telegram deep link and its
QR code (an inline PNG) while their Telegram is not linked yet; the Telegram message
carries the text and the image.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.html import escape, strip_tags
from django.utils.translation import gettext as _

from fokus.announcements.models import Announcement
from fokus.announcements.qr import qr_png
from fokus.announcements.queries import announcement_audience
from fokus.core import clock
from fokus.core.models import Organization
from fokus.delivery.models import Channel, DeliveryKind
from fokus.delivery.services import delivery_blob_store, delivery_channels_for, delivery_enqueue
from fokus.people.models import Person, Unit
from fokus.programs.markdown import render_markdown
from fokus.programs.models import Program
from fokus.telegram.models import TelegramChat
from fokus.telegram.queries import deep_link
from fokus.telegram.services import telegram_bind_token_issue, telegram_bot_resolve

IMAGE_CID = "announcement-image"
QR_CID = "telegram-qr"


class AnnouncementError(ValueError):
    """A write the announcement does not allow (e.g. editing after sending)."""


@transaction.atomic
def announcement_save(
    *,
    organization: Organization,
    by: Person,
    title: str,
    text: str,
    program: Program | None,
    unit: Unit | None,
    image: tuple[bytes, str] | None = None,
    remove_image: bool = False,
    now: dt.datetime,
    announcement: Announcement | None = None,
) -> Announcement:
    """Create or update a draft. `image` is already normalised (fokus.announcements.images)."""
    if by.organization_id != organization.pk:
        raise AnnouncementError("the author belongs to another organisation")
    if program is not None and program.organization_id != organization.pk:
        raise AnnouncementError("the program belongs to another organisation")
    if unit is not None and unit.organization_id != organization.pk:
        raise AnnouncementError("the unit belongs to another organisation")
    if announcement is None:
        announcement = Announcement(organization=organization, created_by=by, created_at=now)
    else:
        announcement = Announcement.objects.select_for_update().get(pk=announcement.pk)
        if announcement.organization_id != organization.pk:
            raise AnnouncementError("the announcement belongs to another organisation")
        if announcement.sent_at is not None:
            raise AnnouncementError(_("This announcement has been sent; it cannot be changed."))
    announcement.title = title.strip()
    announcement.text = text
    announcement.program = program
    announcement.unit = unit
    announcement.updated_at = now
    if image is not None:
        announcement.image, announcement.image_type = image
    elif remove_image:
        announcement.image, announcement.image_type = None, ""
    announcement.save()
    return announcement


@dataclass(frozen=True)
class SendResult:
    people: int  # in the audience
    deliveries: int  # outbox rows created (one per person and reachable channel)
    unreachable: int  # people no channel reaches
    already_sent: bool = False


_LINK = re.compile(r'<a href="([^"]*)"[^>]*>(.*?)</a>', re.DOTALL)
_BLANK_LINES = re.compile(r"\n{3,}")


def plain_text(body_html: str) -> str:
    """The sanitised HTML as plain text for Telegram and the e-mail's text part:
    no Markdown asterisks, links as "label (URL)"."""
    with_links = _LINK.sub(
        lambda m: m.group(2) if html.unescape(m.group(1)) == html.unescape(m.group(2)) else
        f"{m.group(2)} ({m.group(1)})",
        body_html,
    )
    text = html.unescape(strip_tags(with_links.replace("<li>", "<li>• ")))
    return _BLANK_LINES.sub("\n\n", text).strip()


def _image_blob(announcement: Announcement) -> str | None:
    """The picture stored once for every recipient's payload to name (not copy)."""
    if not announcement.image:
        return None
    return delivery_blob_store(data=bytes(announcement.image), mime=announcement.image_type)


def _email_payload(
    announcement: Announcement, body_html: str, image: str | None, link: str
) -> dict[str, Any]:
    inline: list[dict[str, str]] = []
    html = [f"<h1>{escape(announcement.title)}</h1>"]
    if image is not None:
        inline.append({"cid": IMAGE_CID, "mime": announcement.image_type, "blob": image})
        html.append(f'<p><img src="cid:{IMAGE_CID}" alt="" style="max-width:100%"></p>')
    html.append(body_html)
    text = [announcement.title, "", plain_text(body_html)]
    buttons: list[list[dict[str, str]]] = []
    if link:
        invite = _("Get Fokus lessons in Telegram: open your personal link or scan the QR code.")
        personal = _("The link is personal: do not forward this e-mail.")
        inline.append({
            "cid": QR_CID, "mime": "image/png",
            "data_b64": base64.b64encode(qr_png(link)).decode("ascii"),
        })
        html.append(
            f"<p>{escape(invite)}</p>"
            f'<p><a href="{escape(link)}">{escape(link)}</a></p>'
            f'<p><img src="cid:{QR_CID}" alt="{escape(_("QR code of your Telegram link"))}" '
            'width="200" height="200"></p>'
            f"<p><small>{escape(personal)}</small></p>"
        )
        text += ["", invite, link, personal]
        buttons = [[{"text": _("Connect Telegram"), "url": link}]]
    return {
        "subject": announcement.title,
        "text": "\n".join(text),
        "html": "\n".join(html),
        "buttons": buttons,
        "inline_images": inline,
        "attachments": [],
        "announcement_id": announcement.pk,
    }


def _telegram_payload(
    announcement: Announcement, body_html: str, image: str | None
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "subject": announcement.title,
        "text": f"{announcement.title}\n\n{plain_text(body_html)}",
        "buttons": [],
        "announcement_id": announcement.pk,
    }
    if image is not None:
        payload["photo"] = {"mime": announcement.image_type, "blob": image}
    return payload


def _bound_to_telegram(person_ids: list[int]) -> set[int]:
    return set(
        TelegramChat.objects.filter(person_id__in=person_ids, unreachable_at=None)
        .values_list("person_id", flat=True)
    )


@transaction.atomic
def announcement_send_request(
    announcement: Announcement, now: dt.datetime, *, by: Person | None = None
) -> bool:
    """Mark the announcement sent, once: a conditional UPDATE, so a double click or two
    editors claim it only once. Returns whether this call did; the caller then runs
    `announcement_plan` (as a task, fokus.announcements.tasks)."""
    claimed = Announcement.objects.filter(pk=announcement.pk, sent_at=None).update(
        sent_at=now, sent_by=by
    )
    announcement.refresh_from_db(fields=["sent_at", "sent_by", "planned_at"])
    return bool(claimed)


PLAN_CHUNK = 500


def announcement_plan(announcement_id: int) -> SendResult:
    """Put a sent announcement into the outbox for its whole audience, due `sent_at`.

    Chunks of PLAN_CHUNK people, each in its own transaction, so a large audience never
    holds the database's write lock for long. Idempotent: the outbox's unique key
    (person, contact point, channel) returns rows that exist, so running it again after
    a crash completes the rest. Sets `planned_at` at the end.
    """
    announcement = Announcement.objects.select_related("organization", "program").get(
        pk=announcement_id
    )
    if announcement.sent_at is None:
        raise AnnouncementError("the announcement has not been sent")
    due_at = announcement.sent_at
    bot = telegram_bot_resolve(organization=announcement.organization)
    bot_username = bot.username if bot is not None else ""
    image = _image_blob(announcement)
    body_html = render_markdown(announcement.text)
    person_ids = list(announcement_audience(announcement).values_list("pk", flat=True))
    deliveries = unreachable = 0
    for start in range(0, len(person_ids), PLAN_CHUNK):
        chunk = person_ids[start:start + PLAN_CHUNK]
        with transaction.atomic():
            people = list(Person.objects.filter(pk__in=chunk).order_by("pk"))
            bound = _bound_to_telegram(chunk)
            for person in people:
                count = _plan_person(
                    announcement, person, due_at=due_at, body_html=body_html, image=image,
                    bot_username=bot_username if person.pk not in bound else "",
                )
                deliveries += count
                unreachable += count == 0
    Announcement.objects.filter(pk=announcement.pk).update(planned_at=clock.now())
    return SendResult(people=len(person_ids), deliveries=deliveries, unreachable=unreachable)


def _plan_person(
    announcement: Announcement, person: Person, *, due_at: dt.datetime, body_html: str,
    image: str | None, bot_username: str,
) -> int:
    """The person's outbox rows (one per reachable channel); how many there are."""
    count = 0
    with translation.override(person.language or settings.LANGUAGE_CODE):
        for channel in delivery_channels_for(person):
            if channel == Channel.EMAIL:
                link = ""
                if bot_username:
                    token = telegram_bind_token_issue(person=person)
                    link = deep_link(bot_username=bot_username, token=token.token)
                payload = _email_payload(announcement, body_html, image, link)
            else:
                payload = _telegram_payload(announcement, body_html, image)
            delivery = delivery_enqueue(
                person=person, kind=DeliveryKind.ANNOUNCEMENT,
                contact_point=announcement.contact_point, due_at=due_at, payload=payload,
                program=announcement.program, channel=channel,
            )
            count += delivery is not None
    return count


def announcement_send(
    announcement: Announcement, now: dt.datetime, *, by: Person | None = None
) -> SendResult:
    """Send and plan in this process (tests, scripts); the page plans in a task."""
    if not announcement_send_request(announcement, now, by=by):
        people = announcement_audience(announcement).count()
        return SendResult(people=people, deliveries=0, unreachable=0, already_sent=True)
    result = announcement_plan(announcement.pk)
    announcement.refresh_from_db(fields=["planned_at"])
    return result
