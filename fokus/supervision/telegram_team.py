"""`/team` in Telegram: the supervisor's team today and their support tasks.

A handler of the update router (settings.FOKUS_TELEGRAM_HANDLERS): it answers `/team`
from a chat bound to a person and returns None for anything else, so other handlers
get their turn. The reply goes out at once (the person is waiting), not via the outbox.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from fokus.core import clock
from fokus.people.models import Person
from fokus.supervision import queries
from fokus.telegram.client import Button, TelegramClient
from fokus.telegram.models import TelegramBot, TelegramChat, TelegramUpdate
from fokus.telegram.sender import OutgoingMessage, send_messages

logger = logging.getLogger(__name__)
MAX_PEOPLE = 30  # a message has 4096 characters; the web page has everyone


def _command(text: str, bot: TelegramBot) -> bool:
    command = text.strip().split(" ", 1)[0]
    return command == "/team" or (bool(bot.username) and command == f"/team@{bot.username}")


def team_text(person: Person) -> str:
    """The /team reply in the active language: per program, each report today."""
    now = clock.now()
    lines: list[str] = []
    programs = queries.programs_with_team(person)
    if not programs:
        return _("Nobody you manage takes part in a program yet.")
    for program in programs:
        summary = queries.team_summary(supervisor=person, program=program, now=now)
        lines.append(f"<b>{_escape(program.title)}</b>")
        if summary.rows:
            lines.append(
                _("Not answered today: %(missing)s of %(total)s. Not started: %(not_started)s. "
                  "Stuck: %(stuck)s.")
                % {"missing": len(summary.not_answered_today), "total": summary.size,
                   "not_started": len(summary.not_started), "stuck": len(summary.stuck)}
            )
            for row in summary.rows[:MAX_PEOPLE]:
                mark = "✅" if row.tasks_today and not row.has_not_answered_today else (
                    "⏳" if row.tasks_today else "·"
                )
                state = {"not_started": _("not started"), "stuck": _("stuck")}.get(row.state, "")
                today = f"{row.answered_today}/{row.tasks_today}" if row.tasks_today else "—"
                lines.append(
                    f"{mark} {_escape(row.person.full_name)}: {today}"
                    + (_(", returned: %(n)s") % {"n": row.returned} if row.returned else "")
                    + (f" ({state})" if state else "")
                )
            if summary.size > MAX_PEOPLE:
                lines.append(_("…and %(n)s more on the team page.")
                             % {"n": summary.size - MAX_PEOPLE})
        for head in queries.team_rollup(manager=person, program=program, now=now)[:-1]:
            lines.append(
                _("Team of %(name)s: %(people)s people, answered today %(done)s of %(with_task)s")
                % {"name": _escape(head.manager.full_name), "people": head.people,
                   "done": head.answered_today, "with_task": head.with_task_today}
            )
        lines.append("")
    tasks = [t for t in queries.support_tasks_today(person, now) if t.status == "open"]
    if tasks:
        lines.append("<b>" + _("Your tasks for the team") + "</b>")
        lines.extend(f"• {_escape(t.text)}" for t in tasks)
    return "\n".join(lines).strip()[:4000]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def telegram_team_handler(
    update: TelegramUpdate, payload: dict[str, Any], bot: TelegramBot, client: TelegramClient
) -> str | None:
    message = payload.get("message")
    if not isinstance(message, dict) or not _command(str(message.get("text") or ""), bot):
        return None
    chat_id = int((message.get("chat") or {}).get("id", 0))
    chat = TelegramChat.objects.filter(bot=bot, chat_id=chat_id).select_related("person").first()
    if chat is None:
        text = _("Link this chat to your Fokus profile first: open your personal link.")
        button_url = ""
    else:
        person = chat.person
        known = {code for code, _name in settings.LANGUAGES}
        language = person.language if person.language in known else settings.LANGUAGE_CODE
        with translation.override(language):
            text = team_text(person)
            button_url = settings.FOKUS_PUBLIC_URL.rstrip("/") + reverse("supervision:team_index")
            button_text = _("Open the team page")
    buttons = [[Button(text=button_text, url=button_url)]] if button_url else []
    results = list(send_messages(
        bot, [OutgoingMessage(chat_id=chat_id, text=text, parse_mode="HTML", buttons=buttons)],
        client=client,
    ))
    if results and not results[0].ok:
        logger.warning("telegram: /team reply to %s failed: %s", chat_id, results[0].description)
    return "team" if chat is not None else "team:unbound"
