"""Wording of the digest: DigestContent → Telegram text, e-mail HTML and subject.

Plain string building (no template engine): rendering runs 100,000 times in a batch.
Every sentence goes through gettext in the person's language (Russian by default);
times are on the person's wall clock.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import get_language, gettext
from django.utils.translation import ngettext as django_ngettext

from fokus.digest.queries import (
    DigestContent,
    ParticipantPart,
    ProgramPart,
    QueuePart,
    TeamPart,
    TomorrowPart,
)

DEFAULT_LANGUAGE = "ru"
# Telegram refuses longer messages; our texts stay far below, this is the last guard.
TELEGRAM_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class DigestMessage:
    subject: str
    text: str
    html: str
    buttons: list[list[dict[str, str]]]

    def as_payload(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "buttons": self.buttons,
        }


# gettext walks a chain of catalogues per call; a batch asks the same ~30 messages
# 100,000 times, so translations are remembered per (language, message).
_TRANSLATED: dict[tuple[str | None, str], str] = {}
_TRANSLATED_PLURAL: dict[tuple[str | None, str, int], str] = {}
# Sections that are the same for many people, worded once per language.
_SHOWCASE_LINES: dict[tuple[str | None, tuple[Any, ...]], list[str]] = {}
_TOMORROW: dict[tuple[str | None, Any], tuple[str, list[str]]] = {}
_BUTTONS: dict[tuple[Any, ...], list[list[dict[str, str]]]] = {}


# The language being rendered: get_language() costs more than the lookup it keys.
_rendering: ContextVar[str | None] = ContextVar("digest_rendering_language", default=None)


def _(message: str) -> str:
    key = (_rendering.get() or get_language(), message)
    found = _TRANSLATED.get(key)
    if found is None:
        found = _TRANSLATED[key] = gettext(message)
    return found


def ngettext(singular: str, plural: str, number: int) -> str:
    key = (_rendering.get() or get_language(), singular, number)
    found = _TRANSLATED_PLURAL.get(key)
    if found is None:
        if len(_TRANSLATED_PLURAL) > 10_000:  # numbers are unbounded; keep the memo small
            _TRANSLATED_PLURAL.clear()
        found = _TRANSLATED_PLURAL[key] = django_ngettext(singular, plural, number)
    return found


def language_of(content: DigestContent) -> str:
    return content.language or DEFAULT_LANGUAGE


def points(value: Decimal) -> str:
    """12, 4.5 or -1 (no trailing zeros)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def signed(value: Decimal) -> str:
    return ("+" if value > 0 else "") + points(value)


def rank_change_text(change: int | None) -> str:
    if not change:
        return ""
    return f" (▲{change})" if change > 0 else f" (▼{-change})"


def waiting_text(age: timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    if hours >= 48:
        days = hours // 24
        return ngettext("%(n)d day", "%(n)d days", days) % {"n": days}
    if hours >= 1:
        return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}
    minutes = max(int(age.total_seconds() // 60), 0)
    return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}


def names_text(names: tuple[str, ...], total: int) -> str:
    text = ", ".join(names)
    if total > len(names):
        more = total - len(names)
        text += " " + ngettext("and %(n)d more", "and %(n)d more", more) % {"n": more}
    return text


# --- sections: each returns (heading or "", lines) --------------------------------------


def _participant_lines(p: ParticipantPart) -> list[str]:
    lines = [
        _("Materials opened today: %(n)d") % {"n": p.opened_today},
        _("Tasks answered today: %(n)d; still open: %(open)d")
        % {"n": p.answered_today, "open": p.tasks_open},
    ]
    if p.returned:
        lines.append(
            ngettext(
                "%(n)d answer is back with you for revision",
                "%(n)d answers are back with you for revision",
                p.returned,
            )
            % {"n": p.returned}
        )
    score = _("Points today: %(today)s, total: %(total)s") % {
        "today": signed(p.points_today), "total": points(p.points_total),
    }
    if p.rank is not None:
        score += "; " + _("place %(rank)d") % {"rank": p.rank} + rank_change_text(p.rank_change)
    lines.append(score)
    if p.unit is not None and p.unit.members:
        unit = _("%(unit)s: %(n)d of %(members)d colleagues answered today (%(percent)d%%)") % {
            "unit": p.unit.name, "n": p.unit.answered_today, "members": p.unit.members,
            "percent": p.unit.percent,
        }
        if p.unit.rank is not None:
            unit += "; " + _("team place %(rank)d of %(units)d") % {
                "rank": p.unit.rank, "units": p.unit.units,
            }
        lines.append(unit)
    return lines


def _showcase_lines(content: DigestContent) -> list[str]:
    # Most people of a zone see the same answers: word them once per language.
    key = (_rendering.get() or get_language(), content.showcase)
    found = _SHOWCASE_LINES.get(key)
    if found is None:
        if len(_SHOWCASE_LINES) > 1000:
            _SHOWCASE_LINES.clear()
        found = _SHOWCASE_LINES[key] = _showcase_lines_of(content)
    return found


def _showcase_lines_of(content: DigestContent) -> list[str]:
    return [
        _("“%(task)s” — %(author)s (%(grade)d/%(max)d): %(excerpt)s")
        % {
            "task": a.task_title, "author": a.author_first_name, "grade": a.grade,
            "max": a.grade_max, "excerpt": a.excerpt,
        }
        for a in content.showcase
    ]


def _team_lines(t: TeamPart) -> list[str]:
    lines = [
        _("Answered today: %(n)d of %(members)d") % {"n": t.answered_today, "members": t.members}
    ]
    if t.answered_names:
        lines[0] += ": " + names_text(t.answered_names, t.answered_today)
    if t.idle_count:
        lines.append(
            _("No activity today: %(names)s") % {"names": names_text(t.idle_names, t.idle_count)}
        )
    if t.returned_count:
        lines.append(
            _("Returned for revision: %(names)s")
            % {"names": names_text(t.returned_names, t.returned_count)}
        )
    lines.append(
        _("Team points today: %(today)s, total: %(total)s")
        % {"today": signed(t.points_today), "total": points(t.points_total)}
    )
    return lines


def _queue_lines(q: QueuePart) -> list[str]:
    if not q.waiting:
        return [_("No answers are waiting for review.")]
    lines = [
        _("Answers waiting for review: %(n)d; assigned to you: %(mine)d")
        % {"n": q.waiting, "mine": q.assigned_to_me}
    ]
    if q.oldest_waiting is not None:
        lines.append(_("The oldest has waited %(age)s") % {"age": waiting_text(q.oldest_waiting)})
    lines.append(
        _("Overdue (over %(hours)d working hours): %(n)d")
        % {"hours": q.target_hours, "n": q.overdue}
    )
    return lines


def _summary_lines(s: ProgramPart) -> list[str]:
    return [
        _("Active today: %(n)d of %(total)d participants")
        % {"n": s.active_today, "total": s.participants},
        _("Answers today: %(n)d; graded today: %(graded)d")
        % {"n": s.answers_today, "graded": s.graded_today},
    ]


def _tomorrow_section(t: TomorrowPart) -> tuple[str, list[str]]:
    key = (_rendering.get() or get_language(), t)
    found = _TOMORROW.get(key)
    if found is None:
        if len(_TOMORROW) > 1000:
            _TOMORROW.clear()
        found = _TOMORROW[key] = (_tomorrow_heading(t), _tomorrow_lines(t))
    return found


def _tomorrow_heading(t: TomorrowPart) -> str:
    heading = _("Next: day %(index)d, %(date)s") % {
        "index": t.day_index, "date": t.date.strftime("%d.%m"),
    }
    if t.first_at is not None:
        heading += ", " + _("first lesson at %(time)s") % {"time": t.first_at.strftime("%H:%M")}
    return heading


def _tomorrow_lines(t: TomorrowPart) -> list[str]:
    lines = list(t.titles)
    if t.more:
        lines.append(ngettext("and %(n)d more", "and %(n)d more", t.more) % {"n": t.more})
    return lines


def _sections(content: DigestContent) -> list[tuple[str, list[str]]]:
    sections: list[tuple[str, list[str]]] = []
    if content.participant is not None:
        sections.append((_("Your day"), _participant_lines(content.participant)))
        if content.showcase:
            sections.append((_("Best answers of the day"), _showcase_lines(content)))
    if content.team is not None:
        sections.append((_("Your team"), _team_lines(content.team)))
    if content.support_tasks:
        sections.append((_("To do for your team"), list(content.support_tasks)))
    if content.queue is not None:
        sections.append((_("Your review queue"), _queue_lines(content.queue)))
    if content.summary is not None:
        sections.append((_("The program today"), _summary_lines(content.summary)))
    if content.tomorrow is not None and (content.tomorrow.titles or content.participant):
        sections.append(_tomorrow_section(content.tomorrow))
    return sections


def _buttons(content: DigestContent) -> list[list[dict[str, str]]]:
    key = (
        _rendering.get() or get_language(), content.program_slug,
        content.participant is not None, content.queue is not None and content.queue.waiting > 0,
    )
    found = _BUTTONS.get(key)
    if found is None:
        found = _BUTTONS[key] = _buttons_of(content)
    # A copy: payloads must not share mutable rows.
    return [list(row) for row in found]


def _buttons_of(content: DigestContent) -> list[list[dict[str, str]]]:
    base = settings.FOKUS_PUBLIC_URL.rstrip("/")
    row: list[dict[str, str]] = []
    if content.participant is not None:
        row.append({"text": _("Open today"), "url": f"{base}/"})
        board = f"{base}/leaderboards/{content.program_slug}/"
        row.append({"text": _("Leaderboard"), "url": board})
    if content.queue is not None and content.queue.waiting:
        row.append({"text": _("Review queue"), "url": f"{base}/review/"})
    return [row] if row else []


@contextmanager
def rendering_in(language: str) -> Iterator[None]:
    """Activate `language` for a run of renders (and key the translation memo by it)."""
    with translation.override(language):
        token = _rendering.set(language)
        try:
            yield
        finally:
            _rendering.reset(token)


def digest_render(content: DigestContent) -> DigestMessage:
    """The message in the person's language."""
    with rendering_in(language_of(content)):
        return digest_render_active(content)


def digest_render_active(content: DigestContent) -> DigestMessage:
    """The message in the active language (batches enter `rendering_in` once per language)."""
    subject = _("%(program)s: day %(index)d digest") % {
        "program": content.program_title, "index": content.day_index,
    }
    greeting = (
        _("Good evening, %(name)s!") % {"name": content.first_name}
        if content.first_name
        else _("Good evening!")
    )
    sections = _sections(content)
    text_parts = [f"{subject}\n{greeting}"]
    html_parts = [f"<p>{html.escape(greeting)}</p>"]
    for heading, lines in sections:
        text_parts.append(heading + "\n• " + "\n• ".join(lines) if lines else heading)
        # One escape per section: lines never contain a newline (texts are flattened).
        items = html.escape("\n".join(lines)).replace("\n", "</li><li>")
        html_parts.append(f"<h3>{html.escape(heading)}</h3><ul><li>{items}</li></ul>")
    if not sections:
        nothing = _("Nothing to report for this day.")
        text_parts.append(nothing)
        html_parts.append(f"<p>{html.escape(nothing)}</p>")
    text = "\n\n".join(text_parts)
    if len(text) > TELEGRAM_LIMIT:
        text = text[: TELEGRAM_LIMIT - 1] + "…"
    return DigestMessage(
        subject=subject, text=text, html="".join(html_parts), buttons=_buttons(content)
    )
