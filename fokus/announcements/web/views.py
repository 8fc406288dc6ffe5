"""Announcement pages: list, editor with preview, send with confirmation, posters.

For the organisation's admins and L&D team (authors); times in the editor's zone.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from fokus.announcements import queries, services
from fokus.announcements.models import Announcement
from fokus.announcements.qr import qr_svg_data_uri
from fokus.announcements.tasks import announcement_plan_task
from fokus.announcements.web.forms import AnnouncementForm
from fokus.core import clock
from fokus.core.models import Organization
from fokus.people.models import Person
from fokus.programs.markdown import render_markdown
from fokus.programs.web.access import staff_view
from fokus.scheduler.background import enqueue_on_commit
from fokus.telegram.client import TelegramClient, TelegramError
from fokus.telegram.services import telegram_bot_resolve, telegram_bot_set_username

logger = logging.getLogger(__name__)
T = "announcements/"
View = Callable[..., HttpResponseBase]


editor_view = staff_view(
    queries.person_may_edit_announcements,
    gettext_lazy("Announcements are for admins and the L&D team."),
)


def _announcement(organization: Organization, announcement_id: int) -> Announcement:
    announcement = queries.announcement_get(
        organization=organization, announcement_id=announcement_id
    )
    if announcement is None:
        raise Http404
    return announcement


def _image_uri(announcement: Announcement) -> str:
    if not announcement.image:
        return ""
    data = base64.b64encode(bytes(announcement.image)).decode("ascii")
    return f"data:{announcement.image_type};base64,{data}"


def _bot_username(organization: Organization) -> str:
    """The bot's @username, asked from Telegram once if it is not known yet."""
    bot = telegram_bot_resolve(organization=organization)
    if bot is None:
        return ""
    if not bot.username:
        try:
            with TelegramClient(bot.token) as client:
                me = client.get_me()
            telegram_bot_set_username(bot=bot, username=str(me.get("username") or ""))
        except TelegramError as error:
            logger.warning("announcements: getMe failed for %s: %s", bot, error)
    return bot.username


@require_GET
@editor_view
def announcement_list(
    request: HttpRequest, organization: Organization, person: Person
) -> HttpResponse:
    return render(request, T + "list.html", {
        "announcements": queries.announcements_list(organization=organization)[:200],
    })


def _edit(
    request: HttpRequest, organization: Organization, person: Person,
    announcement: Announcement | None,
) -> HttpResponse:
    if announcement is not None and announcement.sent_at is not None:
        messages.warning(request, _("This announcement has been sent; it cannot be changed."))
        return redirect("announcements:detail", announcement_id=announcement.pk)
    initial: dict[str, Any] = {}
    if announcement is not None:
        initial = {
            "title": announcement.title, "text": announcement.text,
            "program": announcement.program.slug if announcement.program else None,
            "unit": announcement.unit_id,
        }
    form = AnnouncementForm(
        request.POST or None, request.FILES or None, organization=organization, initial=initial
    )
    preview = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if request.POST.get("action") == "preview":
            preview = mark_safe(render_markdown(data["text"]))  # noqa: S308 - sanitised by nh3
        else:
            stored = form.stored_image
            saved = services.announcement_save(
                organization=organization, by=person, title=data["title"], text=data["text"],
                program=data["program"], unit=data["unit"],
                image=(stored.data, stored.mime) if stored is not None else None,
                remove_image=bool(data["remove_image"]), now=clock.now(),
                announcement=announcement,
            )
            messages.success(request, _("The announcement is saved. Check it, then send it."))
            return redirect("announcements:detail", announcement_id=saved.pk)
    return render(request, T + "edit.html", {
        "form": form, "announcement": announcement, "preview": preview,
        "preview_title": form.cleaned_data.get("title", "") if preview else "",
        "image_uri": _image_uri(announcement) if announcement is not None else "",
    })


@require_http_methods(["GET", "POST"])
@editor_view
def announcement_create(
    request: HttpRequest, organization: Organization, person: Person
) -> HttpResponse:
    return _edit(request, organization, person, None)


@require_http_methods(["GET", "POST"])
@editor_view
def announcement_edit(
    request: HttpRequest, organization: Organization, person: Person, announcement_id: int
) -> HttpResponse:
    return _edit(request, organization, person, _announcement(organization, announcement_id))


@require_GET
@editor_view
def announcement_detail(
    request: HttpRequest, organization: Organization, person: Person, announcement_id: int
) -> HttpResponse:
    announcement = _announcement(organization, announcement_id)
    return render(request, T + "detail.html", {
        "announcement": announcement,
        "body": mark_safe(render_markdown(announcement.text)),  # noqa: S308 - sanitised by nh3
        "image_uri": _image_uri(announcement),
        "audience": queries.announcement_audience(announcement).count(),
        "progress": queries.announcement_progress(announcement),
    })


@require_http_methods(["GET", "POST"])
@editor_view
def announcement_send(
    request: HttpRequest, organization: Organization, person: Person, announcement_id: int
) -> HttpResponse:
    """GET asks for confirmation; POST (with `confirm`) sends, once."""
    announcement = _announcement(organization, announcement_id)
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        if announcement.sent_at is None:
            _bot_username(organization)
        if services.announcement_send_request(announcement, clock.now(), by=person):
            enqueue_on_commit(announcement_plan_task, announcement.pk)
            messages.success(request, _(
                "Sending: the messages are being put into the outbox; the progress is below."
            ))
        else:
            messages.info(request, _("This announcement was already sent; nothing was sent again."))
        return redirect("announcements:detail", announcement_id=announcement.pk)
    if announcement.sent_at is not None:
        return redirect("announcements:detail", announcement_id=announcement.pk)
    return render(request, T + "send.html", {
        "announcement": announcement,
        "audience": queries.announcement_audience(announcement).count(),
        "problem": request.method == "POST",
    })


@require_GET
@editor_view
def poster_list(request: HttpRequest, organization: Organization, person: Person) -> HttpResponse:
    return render(request, T + "posters.html", {
        "units": queries.units_for_audience(organization=organization),
    })


def profile_link() -> str:
    """Where the poster's QR code leads: the profile page with the personal deep link."""
    return settings.FOKUS_PUBLIC_URL.rstrip("/") + reverse("telegram:profile")


@require_GET
@editor_view
def poster(
    request: HttpRequest, organization: Organization, person: Person, unit_id: int
) -> HttpResponse:
    """An A4 poster for a unit's wall: a QR code of the profile page (docs/announcements.md)."""
    unit = queries.unit_get(organization=organization, unit_id=unit_id)
    if unit is None:
        raise Http404
    link = profile_link()
    return render(request, T + "poster.html", {
        "organization": organization, "unit": unit, "link": link,
        "qr": qr_svg_data_uri(link), "bot_username": _bot_username(organization),
    })
