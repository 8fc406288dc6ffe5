"""The rules that turn a team's state into support tasks: defaults, parameters, texts.

Pure functions and constants: no database. A template's text has placeholders in
braces; `placeholder_problems` says which are unknown for a rule, `render` fills them
(a placeholder without a value stays visible rather than failing a whole run).
"""

from __future__ import annotations

import string
from typing import Any

from django.utils.translation import gettext as _

from fokus.supervision.models import RuleKind

LANGUAGES = ("ru", "en")

# Placeholders each rule offers.
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    RuleKind.NOT_ANSWERED: ("missing", "total", "names", "task"),
    RuleKind.RETURNED: ("name", "task"),
    RuleKind.TOP_GRADE: ("name", "task", "grade", "grade_max"),
}

DEFAULT_TEXTS: dict[str, dict[str, str]] = {
    RuleKind.NOT_ANSWERED: {
        "ru": "{missing} из {total} ваших сотрудников ещё не ответили на задание «{task}»: "
              "проведите 10-минутную летучку ({names}).",
        "en": "{missing} of your {total} reports have not answered today's task “{task}”: "
              "hold a 10-minute huddle ({names}).",
    },
    RuleKind.RETURNED: {
        "ru": "Ответ сотрудника {name} на задание «{task}» вернули на доработку: "
              "помогите доработать.",
        "en": "{name}'s answer to “{task}” was returned for revision: help them rework it.",
    },
    RuleKind.TOP_GRADE: {
        "ru": "{name} получил(а) {grade} из {grade_max} за «{task}»: попросите поделиться "
              "на утренней планёрке.",
        "en": "{name} got {grade} of {grade_max} on “{task}”: ask them to share it at the "
              "morning meeting.",
    },
}

# Parameters and their defaults. not_answered: fire once at least `min_missing` reports
# are behind, and not before `after` on the supervisor's clock (the task needs time).
DEFAULT_PARAMETERS: dict[str, dict[str, Any]] = {
    RuleKind.NOT_ANSWERED: {"min_missing": 1, "after": "14:00"},
    RuleKind.RETURNED: {},
    RuleKind.TOP_GRADE: {},
}


def placeholders_in(text: str) -> list[str]:
    """Field names used in `text`; raises ValueError on unbalanced braces."""
    return [name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None]


def placeholder_problems(rule: str, text: str) -> list[str]:
    allowed = PLACEHOLDERS.get(rule, ())
    try:
        used = placeholders_in(text)
    except ValueError:
        return [_("Unbalanced braces: write a placeholder as {name}.")]
    problems = []
    for name in used:
        if name not in allowed:
            problems.append(
                _("Unknown placeholder {%(name)s}; this rule offers: %(allowed)s.")
                % {"name": name, "allowed": ", ".join("{" + a + "}" for a in allowed)}
            )
    return problems


class _Keep(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(text: str, values: dict[str, Any]) -> str:
    try:
        return string.Formatter().vformat(text, (), _Keep(values))
    except (ValueError, IndexError, KeyError):
        return text


def parameters_with_defaults(rule: str, parameters: dict[str, Any] | None) -> dict[str, Any]:
    merged = dict(DEFAULT_PARAMETERS.get(rule, {}))
    merged.update(parameters or {})
    return merged


def parameter_problems(rule: str, parameters: dict[str, Any]) -> list[str]:
    problems = []
    known = set(DEFAULT_PARAMETERS.get(rule, {}))
    for name in parameters:
        if name not in known:
            problems.append(_("Unknown parameter “%(name)s”.") % {"name": name})
    if rule == RuleKind.NOT_ANSWERED:
        minimum = parameters.get("min_missing", 1)
        if not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 1:
            problems.append(_("min_missing: a whole number of 1 or more."))
        after = parameters.get("after", "00:00")
        if not _is_hhmm(after):
            problems.append(_("after: a time of day as HH:MM, e.g. 14:00."))
    return problems


def _is_hhmm(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        return False
    hours, minutes = value[:2], value[3:]
    return hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60


def minutes_of(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])
