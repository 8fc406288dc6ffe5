"""The webhook Telegram posts updates to, and the person's Telegram page."""

from __future__ import annotations

import hmac
import json
import logging

import segno
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from fokus.telegram import queries, services
from fokus.telegram.client import TelegramClient, TelegramError
from fokus.telegram.models import TelegramBot
from fokus.telegram.tasks import process_update

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Compared against when the bot does not exist, so the answer takes as long either way.
_NO_SECRET = "-" * 43


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, bot_id: int) -> HttpResponse:
    """Store the update and answer at once; the work runs as a task after commit."""
    bot = TelegramBot.objects.filter(pk=bot_id).first()
    expected = bot.webhook_secret if bot is not None and bot.webhook_secret else _NO_SECRET
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), expected.encode()) or bot is None:
        return JsonResponse({"ok": False, "description": "Forbidden"}, status=403)
    try:
        payload = json.loads(request.body)
        if not isinstance(payload, dict):
            raise ValueError("not an object")
        with transaction.atomic():
            update = services.telegram_update_receive(bot=bot, payload=payload)
            if update is not None:
                pk = update.pk
                transaction.on_commit(lambda: process_update.enqueue(pk))
    except ValueError:
        return JsonResponse({"ok": False, "description": "Bad Request"}, status=400)
    return JsonResponse({"ok": True, "duplicate": update is None})


@login_required
def profile_telegram(request: HttpRequest) -> HttpResponse:
    """The person's personal deep link and its QR code; only their own."""
    person = getattr(request, "person", None)
    if person is None:
        raise Http404
    bot = services.telegram_bot_resolve(organization=person.organization)
    context: dict[str, object] = {
        "chat": queries.telegram_chat_for_person(person=person), "bot": bot,
        "link": None, "qr": None, "problem": None,
    }
    if bot is not None and not bot.username:
        try:
            with TelegramClient(bot.token) as client:
                me = client.get_me()
            services.telegram_bot_set_username(bot=bot, username=str(me.get("username") or ""))
        except TelegramError as error:
            logger.warning("telegram: getMe failed for %s: %s", bot, error)
            context["problem"] = "unreachable"
    if bot is None:
        context["problem"] = "not_configured"
    elif bot.username:
        token = services.telegram_bind_token_issue(person=person)
        link = queries.deep_link(bot_username=bot.username, token=token.token)
        context["link"] = link
        context["qr"] = segno.make(link, error="m").svg_data_uri(scale=5, border=2)
    return render(request, "telegram/profile.html", context)
