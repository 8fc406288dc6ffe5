"""Telegram's text limits and splitting long texts at natural boundaries."""

from __future__ import annotations

import html
import re

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

_TAG = re.compile(r"<[^>]*>")


def telegram_length(text: str, parse_mode: str | None = None) -> int:
    """Length as Telegram counts it: UTF-16 code units after entity parsing.

    Counting UTF-16 units (an emoji is two) never undercounts; for HTML the tags do not
    count, only the visible text.
    """
    if parse_mode and parse_mode.upper() == "HTML":
        text = html.unescape(_TAG.sub("", text))
    return len(text.encode("utf-16-le")) // 2


def _fitting_prefix(text: str, limit: int) -> int:
    """The largest i such that text[:i] is at most `limit` UTF-16 units long."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = TEXT_LIMIT, *, first_limit: int | None = None) -> list[str]:
    """Cut `text` into parts within the limits: at a paragraph break if one is in reach,
    else at a line break, else between words, else anywhere.

    `first_limit` is for a photo's caption (1024) followed by messages (4096). Raw text
    lengths are used, so an HTML text's tags only make parts shorter than needed; keep
    each tag within one line so a cut never falls inside one.
    """
    parts: list[str] = []
    rest = text.strip()
    current = first_limit if first_limit is not None else limit
    while telegram_length(rest) > current:
        end = _fitting_prefix(rest, current)
        window = rest[:end]
        cut = -1
        for separator in ("\n\n", "\n", " "):
            position = window.rfind(separator)
            # A break in the first quarter would leave a tiny part; cut harder instead.
            if position > end // 4:
                cut = position
                break
        if cut <= 0:
            cut = end
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
        current = limit
    if rest or not parts:
        parts.append(rest)
    return parts
