"""A Delivery's payload turned into what a channel sends: a Telegram text with buttons,
an e-mail's subject, plain text, HTML body and attachments.

The payload contract (docs/delivery.md, "Payload"): a lesson names its materials and
tasks by id ({"materials": [...], "tasks": [...], "day_index": n}); any kind may carry
a prepared message ({"subject", "text", "html", "buttons", "inline_images",
"attachments"}), which wins over what would be rendered. A button is a link
{"text", "url"} or, for Telegram only, an action {"text", "callback_data"} (at most 64
bytes, acted on by a Telegram handler, e.g. review's grade buttons); e-mail leaves
actions out. Texts are rendered in the
person's language, times on their wall clock.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import strip_tags
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from icalendar import Calendar, Event

from fokus.core import clock
from fokus.delivery.links import LinkTarget, link_url
from fokus.delivery.models import Delivery, DeliveryBlob, DeliveryKind
from fokus.people.models import Person
from fokus.programs.markdown import render_markdown
from fokus.programs.models import Material, Program, Task
from fokus.programs.schedule import contact_instant, zone

__all__ = [
    "Attachment",
    "CallbackButton",
    "InlineImage",
    "LinkButton",
    "RenderCache",
    "RenderedMessage",
    "person_language",
    "render_delivery",
]


# A Telegram lesson message's "Answer here" button; the review app's Telegram flow
# (fokus.review.telegram_flows) starts a draft for the task when it is pressed.
TASK_ANSWER_CALLBACK = "rv:a:"


@dataclass(frozen=True)
class LinkButton:
    text: str
    url: str


@dataclass(frozen=True)
class CallbackButton:
    """A Telegram-only button whose press comes back as a callback query."""

    text: str
    callback_data: str


@dataclass(frozen=True)
class Attachment:
    filename: str
    mime: str
    data: bytes


@dataclass(frozen=True)
class InlineImage:
    """An image the HTML shows with <img src="cid:…">, carried inside the e-mail."""

    cid: str
    mime: str
    data: bytes


@dataclass
class RenderedMessage:
    subject: str
    # Plain text: the e-mail's text part.
    text: str
    # Telegram's text, with parse_mode HTML (tags kept within a line).
    telegram_html: str
    # The e-mail's body fragment, placed inside the program's branded layout.
    html: SafeString
    buttons: list[list[LinkButton]] = field(default_factory=list)
    # Rows of Telegram-only action buttons, shown after the link buttons.
    telegram_actions: list[list[CallbackButton]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    inline_images: list[InlineImage] = field(default_factory=list)


class PayloadError(ValueError):
    """A payload that breaks the contract; the delivery fails with this text."""


class RenderCache:
    """Materials and tasks by id, shared by the deliveries of one dispatch batch (a drop
    sends the same lesson to thousands of people)."""

    def __init__(self) -> None:
        self.materials: dict[int, Material | None] = {}
        self.tasks: dict[int, Task | None] = {}

    def load(self, deliveries: Iterable[Delivery]) -> None:
        material_ids: set[int] = set()
        task_ids: set[int] = set()
        for delivery in deliveries:
            if delivery.kind == DeliveryKind.LESSON:
                material_ids.update(_ids(delivery.payload, "materials"))
                task_ids.update(_ids(delivery.payload, "tasks"))
        material_ids -= self.materials.keys()
        task_ids -= self.tasks.keys()
        if material_ids:
            found = Material.objects.select_related("track__program", "day", "slot").in_bulk(
                material_ids
            )
            for pk in material_ids:
                self.materials[pk] = found.get(pk)
        if task_ids:
            found_tasks = Task.objects.select_related("track__program", "day", "slot").in_bulk(
                task_ids
            )
            for pk in task_ids:
                self.tasks[pk] = found_tasks.get(pk)

    def materials_of(self, delivery: Delivery) -> list[Material]:
        return self._scoped(delivery, self.materials, _ids(delivery.payload, "materials"))

    def tasks_of(self, delivery: Delivery) -> list[Task]:
        return self._scoped(delivery, self.tasks, _ids(delivery.payload, "tasks"))

    def _scoped[T: (Material, Task)](
        self, delivery: Delivery, rows: dict[int, T | None], ids: list[int]
    ) -> list[T]:
        missing = [pk for pk in ids if pk not in rows]
        if missing:
            self.load([delivery])
        # Only the delivery's own organisation's content, whatever the payload says.
        return [
            row for pk in ids
            if (row := rows.get(pk)) is not None
            and row.track.program.organization_id == delivery.organization_id
        ]


def _ids(payload: dict[str, Any], key: str) -> list[int]:
    value = payload.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
        raise PayloadError(f"payload “{key}” must be a list of ids")
    return value


def person_language(person: Person) -> str:
    return person.language or settings.LANGUAGE_CODE


def render_delivery(
    delivery: Delivery, cache: RenderCache | None = None, *, for_email: bool = True
) -> RenderedMessage:
    """What `delivery` says, in its person's language and time zone.

    `for_email=False` leaves out what only an e-mail carries (the HTML body, the .ics):
    a Telegram drop renders thousands of messages while the rate limit waits.
    """
    person = delivery.person
    with translation.override(person_language(person)), timezone.override(
        zone(person.time_zone)
    ):
        if delivery.kind == DeliveryKind.LESSON:
            rendered = _render_lesson(delivery, cache or RenderCache(), for_email=for_email)
        else:
            rendered = _render_prepared_only(delivery)
        _apply_prepared(rendered, delivery.payload)
    if not rendered.text.strip() and not rendered.telegram_html.strip():
        raise PayloadError("the payload has nothing to say: no text, no html, no lesson")
    return rendered


# -- lessons -------------------------------------------------------------------------


def _minutes(count: int) -> str:
    return ngettext("%(count)d minute", "%(count)d minutes", count) % {"count": count}


def _render_lesson(delivery: Delivery, cache: RenderCache, *, for_email: bool) -> RenderedMessage:
    person = delivery.person
    materials = cache.materials_of(delivery)
    tasks = cache.tasks_of(delivery)
    if not materials and not tasks:
        raise PayloadError("the lesson's materials and tasks no longer exist")
    program: Program = (materials or tasks)[0].track.program
    day_index = delivery.payload.get("day_index") or (materials or tasks)[0].day.index
    heading = _("%(program)s · day %(index)s") % {"program": program.title, "index": day_index}
    total_minutes = sum(m.minutes for m in materials)

    material_links = [
        (m, link_url(person_id=person.pk, target=LinkTarget.MATERIAL, object_id=m.pk))
        for m in materials
    ]
    task_links = [
        (t, link_url(person_id=person.pk, target=LinkTarget.TASK, object_id=t.pk))
        for t in tasks
    ]
    buttons: list[list[LinkButton]] = []
    actions = [
        [CallbackButton(
            _("Answer here") if len(tasks) == 1 else _("Answer here: %(title)s") % {
                "title": _shorten(t.title, 30)},
            f"{TASK_ANSWER_CALLBACK}{t.pk}",
        )]
        for t in tasks
    ]
    for m, url in material_links:
        label = _("Open the lesson") if len(materials) == 1 else _("Open: %(title)s") % {
            "title": _shorten(m.title, 40)}
        buttons.append([LinkButton(label, url)])
    for t, url in task_links:
        label = _("Answer the task") if len(tasks) == 1 else _("Answer: %(title)s") % {
            "title": _shorten(t.title, 40)}
        buttons.append([LinkButton(label, url)])

    lines = [f"<b>{html.escape(heading)}</b>", ""]
    text_lines = [heading, ""]
    for m in materials:
        lines.append(f"📖 <b>{html.escape(m.title)}</b> · {html.escape(_minutes(m.minutes))}")
        text_lines.append(f"{m.title} ({_minutes(m.minutes)})")
    for t in tasks:
        label = _("Task: %(title)s") % {"title": t.title}
        lines.append(f"✍️ {html.escape(label)}")
        text_lines.append(label)
    if total_minutes:
        about = _("About %(minutes)s in total.") % {"minutes": _minutes(total_minutes)}
        lines += ["", html.escape(about)]
        text_lines += ["", about]

    subject = _("%(program)s, day %(index)s: %(title)s") % {
        "program": program.title, "index": day_index,
        "title": (materials or tasks)[0].title,
    }
    rendered = RenderedMessage(
        subject=subject,
        text="\n".join(text_lines).strip() + "\n",
        telegram_html="\n".join(lines).strip(),
        html=mark_safe(""),
        buttons=buttons,
        telegram_actions=[] if for_email else actions,
    )
    if for_email:
        rendered.html = mark_safe(render_to_string(  # noqa: S308 - our template, autoescaped
            "delivery/email/lesson.html", {
                "heading": heading,
                "materials": [
                    {"title": m.title, "minutes": _minutes(m.minutes), "url": url,
                     "intro": mark_safe(  # noqa: S308 - sanitised by nh3
                         render_markdown(_first_paragraph(m.body)))}
                    for m, url in material_links
                ],
                "tasks": [{"title": t.title, "url": url} for t, url in task_links],
                "total_minutes": _minutes(total_minutes) if total_minutes else "",
            },
        ))
        rendered.attachments.append(_lesson_ics(delivery, program, materials, tasks, day_index))
    return rendered


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _first_paragraph(markdown_text: str) -> str:
    paragraph = markdown_text.strip().split("\n\n", 1)[0]
    if paragraph.lstrip().startswith(("#", "!", "|", "```")):
        return ""
    return _shorten(paragraph, 400)


def _lesson_ics(
    delivery: Delivery, program: Program, materials: Sequence[Material], tasks: Sequence[Task],
    day_index: int,
) -> Attachment:
    """The contact point as one VEVENT. Its UID is the one the program's calendar export
    (/programs/<slug>/calendar.ics) gives the same slot, so a calendar that has both
    shows one event."""
    person = delivery.person
    first = (materials or tasks)[0]
    start = contact_instant(first.day.date, first.slot.local_time, person.time_zone)
    minutes = sum(m.minutes for m in materials) or 15
    cal = Calendar()
    cal.add("prodid", "-//Fokus//Learning marathons//EN")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add(
        "uid",
        f"fokus-{program.organization_id}-{program.slug}-p{person.pk}"
        f"-d{first.day.index}-{first.slot.local_time:%H%M}@fokus",
    )
    event.add("dtstamp", clock.now())
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=minutes))
    titles = [m.title for m in materials] or [t.title for t in tasks]
    event.add("summary", f"{program.title}: {'; '.join(titles)}")
    description = [_("Day %(index)s") % {"index": day_index}]
    description += [
        f"{m.title}: {link_url(person_id=person.pk, target=LinkTarget.MATERIAL, object_id=m.pk)}"
        for m in materials
    ]
    description += [_("Task: %(title)s") % {"title": t.title} for t in tasks]
    event.add("description", "\n".join(description))
    if materials:
        event.add(
            "url",
            link_url(person_id=person.pk, target=LinkTarget.MATERIAL, object_id=materials[0].pk),
        )
    cal.add_component(event)
    return Attachment(f"{program.slug}-day-{day_index}.ics", "text/calendar", cal.to_ical())


# -- prepared messages ---------------------------------------------------------------


def _render_prepared_only(delivery: Delivery) -> RenderedMessage:
    payload = delivery.payload
    subject = str(payload.get("subject") or "")
    return RenderedMessage(
        subject=subject or _("A message from Fokus"),
        text="",
        telegram_html="",
        html=mark_safe(""),
    )


def _apply_prepared(rendered: RenderedMessage, payload: dict[str, Any]) -> None:
    """A prepared subject, text, html, buttons, images and attachments win."""
    if payload.get("subject"):
        rendered.subject = str(payload["subject"])
    if payload.get("text"):
        text = str(payload["text"])
        rendered.text = text
        rendered.telegram_html = html.escape(text, quote=False)
    if payload.get("html"):
        # Prepared by Fokus itself (digest, announcement), never by a participant.
        rendered.html = mark_safe(str(payload["html"]))  # noqa: S308
    elif payload.get("text") and not rendered.html:
        paragraphs = [p for p in str(payload["text"]).split("\n\n") if p.strip()]
        rendered.html = mark_safe("".join(  # noqa: S308 - every part escaped
            "<p>" + html.escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs
        ))
    if not rendered.text.strip() and rendered.html.strip():
        rendered.text = _html_to_text(rendered.html)
        rendered.telegram_html = html.escape(rendered.text, quote=False)
    if "buttons" in payload:
        rendered.buttons, rendered.telegram_actions = _buttons(payload["buttons"])
    photo = payload.get("photo")
    if photo:
        # Telegram's picture above the text (the channel sends the first inline image).
        if not isinstance(photo, dict):
            raise PayloadError("payload “photo” must be an object with “blob” or “data_b64”")
        rendered.inline_images.insert(0, InlineImage(
            "photo", str(photo.get("mime") or "image/jpeg"), _decode(photo, "photo")))
    rendered.inline_images += [
        InlineImage(str(item["cid"]), str(item.get("mime") or "image/png"),
                    _decode(item, "inline_images"))
        for item in _items(payload, "inline_images", ("cid",))
    ]
    rendered.attachments += [
        Attachment(str(item["filename"]), str(item.get("mime") or "application/octet-stream"),
                   _decode(item, "attachments"))
        for item in _items(payload, "attachments", ("filename",))
    ]


def _html_to_text(fragment: str) -> str:
    spaced = re.sub(r"(?i)<br\s*/?>|</p>|</h[1-6]>|</li>|</div>", "\n", fragment)
    text = html.unescape(strip_tags(spaced))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _buttons(value: Any) -> tuple[list[list[LinkButton]], list[list[CallbackButton]]]:
    """Link rows and Telegram action rows (a row mixing both is split in two)."""
    if not isinstance(value, list):
        raise PayloadError("payload “buttons” must be a list of rows")
    rows: list[list[LinkButton]] = []
    actions: list[list[CallbackButton]] = []
    for row in value:
        if not isinstance(row, list):
            raise PayloadError("payload “buttons” must be a list of rows")
        links: list[LinkButton] = []
        presses: list[CallbackButton] = []
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise PayloadError("every button needs “text” and “url” or “callback_data”")
            if button.get("url"):
                links.append(LinkButton(str(button["text"]), str(button["url"])))
            elif button.get("callback_data") and len(
                str(button["callback_data"]).encode()
            ) <= 64:
                presses.append(CallbackButton(str(button["text"]), str(button["callback_data"])))
            else:
                raise PayloadError("every button needs “text” and “url” or “callback_data” "
                                   "(at most 64 bytes)")
        if links:
            rows.append(links)
        if presses:
            actions.append(presses)
    return rows, actions


def _items(payload: dict[str, Any], key: str, required: tuple[str, ...]) -> list[dict[str, Any]]:
    value = payload.get(key) or []
    if not isinstance(value, list) or not all(
        isinstance(item, dict) and all(item.get(name) for name in required) for item in value
    ):
        raise PayloadError(f"payload “{key}”: each item needs {', '.join(required)}")
    return value


# Blobs never change (the key is their hash), so a few recent ones stay in memory: a
# drop renders the same announcement picture for every recipient.
_BLOBS: dict[str, bytes] = {}


def _blob(key: str, where: str) -> bytes:
    data = _BLOBS.get(key)
    if data is None:
        found = DeliveryBlob.objects.filter(sha256=key).values_list("data", flat=True).first()
        if found is None:
            raise PayloadError(f"payload “{where}”: the stored file {key[:12]}… is gone")
        if len(_BLOBS) >= 16:
            _BLOBS.pop(next(iter(_BLOBS)))
        data = _BLOBS[key] = bytes(found)
    return data


def _decode(item: dict[str, Any], key: str) -> bytes:
    """An item's bytes: a stored blob by its key, or inline base64."""
    if item.get("blob"):
        return _blob(str(item["blob"]), key)
    if not item.get("data_b64"):
        raise PayloadError(f"payload “{key}”: each item needs “blob” or “data_b64”")
    try:
        return base64.b64decode(str(item["data_b64"]), validate=True)
    except (binascii.Error, ValueError) as error:
        raise PayloadError(f"payload “{key}”: data_b64 is not base64") from error
