"""The program matrix as a YAML file: parse with located errors, emit a canonical form.

Pure (no database): `parse_matrix` turns text into a `ProgramSpec` or raises
`MatrixError` listing every problem as `file:line key.path: message`;
`dump_matrix` writes the canonical text. services.program_import writes a spec,
queries.program_matrix_spec reads one back. The format is described in
docs/matrix-format.md.

Validation walks the YAML node graph (`yaml.compose`) instead of constructed
Python objects: nodes keep their line numbers, duplicate keys stay visible, and
an unquoted `10:00` is still the text "10:00" (YAML 1.1 would make it 600).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from typing import Any

import yaml
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from fokus.programs.schedule import learning_dates

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_ALIASES = {
    **{name: n for n, name in enumerate(WEEKDAYS)},
    **{name: n for n, name in enumerate(("пн", "вт", "ср", "чт", "пт", "сб", "вс"))},
}
PROGRAM_KINDS = ("marathon", "sprint")
SLOT_KINDS = ("lesson", "digest", "reminder")
ANSWER_KINDS = ("text", "photo", "file", "link")
MINUTES_RANGE = (1, 120)
GRADE_MAX_RANGE = (1, 10)  # as in services.TASK_GRADE_MAX_LIMIT
DEFAULT_GRADE_MAX = 3
TITLE_MAX = 300
SLUG_MAX = 64

_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_TIME_RE = re.compile(r"^(\d{2}):(\d{2})$")
_INT_RE = re.compile(r"^[0-9]+$")
_NULL_TAG = "tag:yaml.org,2002:null"


# --- the parsed program ------------------------------------------------------


@dataclass(frozen=True)
class MaterialSpec:
    title: str
    minutes: int
    body: str


@dataclass(frozen=True)
class TaskSpec:
    title: str
    prompt: str
    answer_kinds: tuple[str, ...]
    grade_max: int = DEFAULT_GRADE_MAX


@dataclass(frozen=True)
class SlotContentSpec:
    at: time
    materials: tuple[MaterialSpec, ...] = ()
    tasks: tuple[TaskSpec, ...] = ()


@dataclass(frozen=True)
class DaySpec:
    index: int
    slots: tuple[SlotContentSpec, ...] = ()


@dataclass(frozen=True)
class TrackSpec:
    slug: str
    title: str
    description: str = ""
    follows: str | None = None
    days: tuple[DaySpec, ...] = ()


@dataclass(frozen=True)
class SlotSpec:
    at: time
    kind: str


@dataclass(frozen=True)
class ProgramSpec:
    slug: str
    title: str
    kind: str
    description: str
    starts_on: date
    ends_on: date
    weekdays: tuple[int, ...]  # date.weekday() numbers, ascending
    slots: tuple[SlotSpec, ...]
    tracks: tuple[TrackSpec, ...]

    @property
    def learning_dates(self) -> list[date]:
        return learning_dates(self.starts_on, self.ends_on, self.weekdays)

    def counts(self) -> dict[str, int]:
        days = [d for t in self.tracks for d in t.days]
        slots = [s for d in days for s in d.slots]
        return {
            "tracks": len(self.tracks),
            "learning_days": len(self.learning_dates),
            "slots": len(self.slots),
            "materials": sum(len(s.materials) for s in slots),
            "tasks": sum(len(s.tasks) for s in slots),
        }


# --- errors ------------------------------------------------------------------


@dataclass(frozen=True)
class MatrixIssue:
    source: str
    line: int
    path: str
    message: str
    column: int | None = None

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}"
        if self.column is not None:
            where += f":{self.column}"
        if self.path:
            where += f" {self.path}"
        return f"{where}: {self.message}"


class MatrixError(ValueError):
    """Every problem found in one matrix file; nothing may be written when raised."""

    def __init__(self, issues: list[MatrixIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


# --- parsing -----------------------------------------------------------------


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source
        self.issues: list[MatrixIssue] = []

    def error(self, node: yaml.Node, path: str, message: str) -> None:
        self.issues.append(MatrixIssue(self.source, node.start_mark.line + 1, path, message))

    def mapping(
        self, node: yaml.Node, path: str, *, allowed: tuple[str, ...], required: tuple[str, ...]
    ) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.error(node, path, _("expected a mapping of keys (key: value)"))
            return None
        found: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                self.error(key_node, path, _("a key must be a plain word"))
                continue
            if key not in allowed:
                self.error(
                    key_node,
                    _join(path, key),
                    _("unknown key; expected one of: %(keys)s") % {"keys": ", ".join(allowed)},
                )
                continue
            if key in found:
                self.error(key_node, _join(path, key), _("duplicate key"))
                continue
            found[key] = value_node
        for key in required:
            if key not in found:
                self.error(node, _join(path, key), _("required key is missing"))
        return found

    def sequence(self, node: yaml.Node, path: str) -> list[yaml.Node] | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG:
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, path, _("expected a list (items starting with “- ”)"))
            return None
        return list(node.value)

    def text(self, node: yaml.Node, path: str, *, max_length: int | None = None) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag == _NULL_TAG:
            self.error(node, path, _("expected text"))
            return None
        value = str(node.value).strip()
        if not value:
            self.error(node, path, _("must not be empty"))
            return None
        if max_length is not None and len(value) > max_length:
            self.error(node, path, ngettext("longer than %(n)d character",
                                            "longer than %(n)d characters", max_length)
                       % {"n": max_length})
            return None
        return value

    def markdown(self, node: yaml.Node, path: str, *, required: bool) -> str | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG and not required:
            return ""
        if not isinstance(node, yaml.ScalarNode) or node.tag == _NULL_TAG:
            self.error(node, path, _("expected Markdown text"))
            return None
        value = normalize_markdown(str(node.value))
        if required and not value:
            self.error(node, path, _("must not be empty"))
            return None
        return value

    def slug(self, node: yaml.Node, path: str) -> str | None:
        value = self.text(node, path, max_length=SLUG_MAX)
        if value is not None and not _SLUG_RE.match(value):
            self.error(
                node,
                path,
                _('"%(value)s" is not a slug: use lowercase Latin letters, digits and hyphens')
                % {"value": value},
            )
            return None
        return value

    def integer(self, node: yaml.Node, path: str, *, low: int, high: int) -> int | None:
        raw = node.value if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(raw, str) or not _INT_RE.match(raw.strip()):
            self.error(node, path, _("expected a whole number"))
            return None
        value = int(raw)
        if not low <= value <= high:
            self.error(
                node,
                path,
                _("%(value)d is outside %(low)d..%(high)d")
                % {"value": value, "low": low, "high": high},
            )
            return None
        return value

    def choice(self, node: yaml.Node, path: str, choices: tuple[str, ...], what: str) -> str | None:
        value = self.text(node, path)
        if value is not None and value not in choices:
            self.error(
                node,
                path,
                _('unknown %(what)s "%(value)s"; expected one of: %(choices)s')
                % {"what": what, "value": value, "choices": ", ".join(choices)},
            )
            return None
        return value

    def date(self, node: yaml.Node, path: str) -> date | None:
        raw = node.value if isinstance(node, yaml.ScalarNode) else None
        try:
            if not isinstance(raw, str):
                raise ValueError
            return date.fromisoformat(raw.strip())
        except ValueError:
            self.error(node, path, _("expected a date as YYYY-MM-DD"))
            return None

    def time(self, node: yaml.Node, path: str) -> time | None:
        raw = node.value if isinstance(node, yaml.ScalarNode) else None
        match = _TIME_RE.match(raw.strip()) if isinstance(raw, str) else None
        if match is None:
            self.error(node, path, _('expected a local time as "HH:MM", e.g. "10:00"'))
            return None
        hours, minutes = int(match[1]), int(match[2])
        if hours > 23 or minutes > 59:
            self.error(node, path, _('"%(value)s" is outside 00:00–23:59') % {"value": raw})
            return None
        return time(hours, minutes)

    def word_list(self, node: yaml.Node, path: str) -> list[tuple[yaml.Node, str, str]] | None:
        """A list of words, or the same written as one comma-separated line."""
        if isinstance(node, yaml.ScalarNode) and node.tag != _NULL_TAG:
            words = [w.strip() for w in str(node.value).split(",")]
            return [(node, path, w) for w in words if w]
        items = self.sequence(node, path)
        if items is None:
            return None
        result = []
        for i, item in enumerate(items):
            value = self.text(item, f"{path}[{i}]")
            if value is not None:
                result.append((item, f"{path}[{i}]", value))
        return result


def normalize_markdown(text: str) -> str:
    """Line ends trimmed, no blank lines around, one final newline (or empty).

    Trailing spaces would force the exporter out of a readable `|` block into a
    quoted string, so they are dropped on the way in.
    """
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


_PROGRAM_KEYS = (
    "slug",
    "title",
    "kind",
    "description",
    "starts_on",
    "ends_on",
    "learning_weekdays",
    "slots",
    "tracks",
)
_PROGRAM_REQUIRED = (
    "slug",
    "title",
    "starts_on",
    "ends_on",
    "learning_weekdays",
    "slots",
    "tracks",
)
_SLOT_KEYS = ("at", "kind")
_TRACK_KEYS = ("slug", "title", "description", "follows", "days")
_DAY_KEYS = ("day", "slots")
_DAY_SLOT_KEYS = ("at", "materials", "tasks")
_MATERIAL_KEYS = ("title", "minutes", "body")
_TASK_KEYS = ("title", "prompt", "answer_kinds", "grade_max")


def parse_matrix(text: str, source_name: str) -> ProgramSpec:
    """The program described by `text`, or MatrixError naming every problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, None)
        raise MatrixError(
            [
                MatrixIssue(
                    source_name,
                    line,
                    "",
                    _("malformed YAML: %(problem)s") % {"problem": problem},
                    column,
                )
            ]
        ) from exc
    except yaml.YAMLError as exc:
        raise MatrixError(
            [MatrixIssue(source_name, 1, "", _("malformed YAML: %(problem)s") % {"problem": exc})]
        ) from exc
    if root is None:
        raise MatrixError([MatrixIssue(source_name, 1, "", _("the file is empty"))])

    c = _Checker(source_name)
    top = c.mapping(root, "", allowed=_PROGRAM_KEYS, required=_PROGRAM_REQUIRED)
    if top is None:
        raise MatrixError(c.issues)

    def opt(key: str, fn: Callable[[yaml.Node, str], Any]) -> Any:
        return fn(top[key], key) if key in top else None

    slug = opt("slug", c.slug)
    title = opt("title", lambda n, p: c.text(n, p, max_length=TITLE_MAX))
    kind = (
        opt("kind", lambda n, p: c.choice(n, p, PROGRAM_KINDS, _("program kind")))
        if "kind" in top
        else "marathon"
    )
    description = (
        opt("description", lambda n, p: c.markdown(n, p, required=False))
        if "description" in top
        else ""
    )
    starts_on = opt("starts_on", c.date)
    ends_on = opt("ends_on", c.date)
    if starts_on and ends_on and ends_on < starts_on:
        c.error(
            top["ends_on"],
            "ends_on",
            _("ends_on %(end)s is before starts_on %(start)s")
            % {"end": ends_on.isoformat(), "start": starts_on.isoformat()},
        )
        ends_on = None

    weekdays: list[int] | None = None
    if "learning_weekdays" in top:
        words = c.word_list(top["learning_weekdays"], "learning_weekdays")
        if words is not None:
            weekdays = []
            weekdays_ok = True
            for node, path, word in words:
                number = _WEEKDAY_ALIASES.get(word.lower())
                if number is None:
                    weekdays_ok = False
                    c.error(
                        node,
                        path,
                        _(
                            'unknown weekday "%(value)s"; use mon, tue, wed, thu, fri, sat, sun '
                            "(or пн, вт, ср, чт, пт, сб, вс)"
                        )
                        % {"value": word},
                    )
                elif number in weekdays:
                    c.error(node, path, _('weekday "%(value)s" is listed twice') % {"value": word})
                else:
                    weekdays.append(number)
            if not words:
                c.error(
                    top["learning_weekdays"], "learning_weekdays", _("name at least one weekday")
                )
            if not words or not weekdays_ok:
                weekdays = None

    day_count: int | None = None
    if starts_on and ends_on and weekdays:
        day_count = len(learning_dates(starts_on, ends_on, weekdays))
        if day_count == 0:
            c.error(
                top["learning_weekdays"],
                "learning_weekdays",
                _("no learning day falls between starts_on and ends_on on these weekdays"),
            )

    slots: dict[time, SlotSpec] = {}
    slots_ok = "slots" in top
    for i, node in enumerate((c.sequence(top["slots"], "slots") or []) if "slots" in top else []):
        path = f"slots[{i}]"
        fields = c.mapping(node, path, allowed=_SLOT_KEYS, required=_SLOT_KEYS)
        if fields is None or "at" not in fields or "kind" not in fields:
            slots_ok = False
            continue
        at = c.time(fields["at"], _join(path, "at"))
        slot_kind = c.choice(fields["kind"], _join(path, "kind"), SLOT_KINDS, _("slot kind"))
        if at is None or slot_kind is None:
            slots_ok = False
            continue
        if at in slots:
            c.error(
                fields["at"],
                _join(path, "at"),
                _('slot time "%(value)s" is listed twice') % {"value": f"{at:%H:%M}"},
            )
            continue
        slots[at] = SlotSpec(at, slot_kind)
    if "slots" in top and not slots and slots_ok:
        c.error(top["slots"], "slots", _("name at least one slot"))

    tracks: list[TrackSpec] = []
    track_nodes: dict[str, tuple[yaml.Node, int]] = {}
    follows_nodes: dict[str, tuple[yaml.Node, str, str]] = {}
    for i, node in enumerate(
        (c.sequence(top["tracks"], "tracks") or []) if "tracks" in top else []
    ):
        path = f"tracks[{i}]"
        fields = c.mapping(node, path, allowed=_TRACK_KEYS, required=("slug", "title"))
        if fields is None:
            continue
        t_slug = c.slug(fields["slug"], _join(path, "slug")) if "slug" in fields else None
        t_title = (
            c.text(fields["title"], _join(path, "title"), max_length=TITLE_MAX)
            if "title" in fields
            else None
        )
        t_description = (
            c.markdown(fields["description"], _join(path, "description"), required=False)
            if "description" in fields
            else ""
        )
        follows: str | None = None
        if "follows" in fields and not (
            isinstance(fields["follows"], yaml.ScalarNode) and fields["follows"].tag == _NULL_TAG
        ):
            follows = c.text(fields["follows"], _join(path, "follows"))
        if t_slug is not None:
            if t_slug in track_nodes:
                c.error(
                    fields["slug"],
                    _join(path, "slug"),
                    _('track slug "%(value)s" is used twice') % {"value": t_slug},
                )
                t_slug = None
            else:
                track_nodes[t_slug] = (fields["slug"], i)
                if follows is not None:
                    follows_nodes[t_slug] = (fields["follows"], _join(path, "follows"), follows)
        days = _parse_days(
            c, fields.get("days"), _join(path, "days"), slots if slots_ok else None, day_count
        )
        if t_slug and t_title is not None and t_description is not None:
            tracks.append(TrackSpec(t_slug, t_title, t_description, follows, days))
    if "tracks" in top and not track_nodes and not c.issues:
        c.error(top["tracks"], "tracks", _("name at least one track"))

    _check_follows(c, follows_nodes, track_nodes)

    if c.issues:
        raise MatrixError(c.issues)
    assert (
        slug
        and title
        and kind
        and starts_on
        and ends_on
        and weekdays is not None
        and description is not None
    )
    return ProgramSpec(
        slug=slug,
        title=title,
        kind=kind,
        description=description,
        starts_on=starts_on,
        ends_on=ends_on,
        weekdays=tuple(sorted(weekdays)),
        slots=tuple(slots[t] for t in sorted(slots)),
        tracks=tuple(tracks),
    )


def _check_follows(
    c: _Checker,
    follows_nodes: dict[str, tuple[yaml.Node, str, str]],
    track_nodes: dict[str, tuple[yaml.Node, int]],
) -> None:
    links: dict[str, str] = {}
    for slug, (node, path, target) in follows_nodes.items():
        if target == slug:
            c.error(node, path, _('track "%(slug)s" cannot follow itself') % {"slug": slug})
        elif target not in track_nodes:
            c.error(
                node,
                path,
                _('unknown track "%(value)s"; tracks in this file: %(known)s')
                % {"value": target, "known": ", ".join(track_nodes)},
            )
        else:
            links[slug] = target
    reported: set[str] = set()
    for start in links:
        chain = [start]
        while chain[-1] in links and links[chain[-1]] not in chain:
            chain.append(links[chain[-1]])
        if chain[-1] in links and links[chain[-1]] == start and start not in reported:
            reported.update(chain)
            node, path, _target = follows_nodes[start]
            c.error(
                node,
                path,
                _("tracks follow each other in a cycle: %(cycle)s")
                % {"cycle": " → ".join([*chain, start])},
            )


def _parse_days(
    c: _Checker,
    node: yaml.Node | None,
    path: str,
    slots: dict[time, SlotSpec] | None,
    day_count: int | None,
) -> tuple[DaySpec, ...]:
    if node is None:
        return ()
    days: dict[int, DaySpec] = {}
    for i, day_node in enumerate(c.sequence(node, path) or []):
        dpath = f"{path}[{i}]"
        fields = c.mapping(day_node, dpath, allowed=_DAY_KEYS, required=("day",))
        if fields is None or "day" not in fields:
            continue
        index = c.integer(fields["day"], _join(dpath, "day"), low=1, high=10_000)
        if index is not None and day_count is not None and index > day_count:
            c.error(
                fields["day"],
                _join(dpath, "day"),
                ngettext(
                    "day %(index)d does not exist: the program has %(count)d learning day",
                    "day %(index)d does not exist: the program has %(count)d learning days",
                    day_count,
                )
                % {"index": index, "count": day_count},
            )
            index = None
        if index is not None and index in days:
            c.error(
                fields["day"],
                _join(dpath, "day"),
                _("day %(index)d is listed twice in this track") % {"index": index},
            )
            index = None
        contents: dict[time, SlotContentSpec] = {}
        spath = _join(dpath, "slots")
        for j, slot_node in enumerate(
            (c.sequence(fields["slots"], spath) or []) if "slots" in fields else []
        ):
            content = _parse_slot_content(c, slot_node, f"{spath}[{j}]", slots)
            if content is None:
                continue
            if content.at in contents:
                c.error(
                    slot_node,
                    f"{spath}[{j}].at",
                    _('slot "%(value)s" is listed twice on this day')
                    % {"value": f"{content.at:%H:%M}"},
                )
                continue
            contents[content.at] = content
        if index is not None:
            days[index] = DaySpec(index, tuple(contents[t] for t in sorted(contents)))
    return tuple(days[i] for i in sorted(days))


def _parse_slot_content(
    c: _Checker, node: yaml.Node, path: str, slots: dict[time, SlotSpec] | None
) -> SlotContentSpec | None:
    fields = c.mapping(node, path, allowed=_DAY_SLOT_KEYS, required=("at",))
    if fields is None or "at" not in fields:
        return None
    at = c.time(fields["at"], _join(path, "at"))
    if at is not None and slots is not None:
        slot = slots.get(at)
        if slot is None:
            c.error(
                fields["at"],
                _join(path, "at"),
                _('no slot at "%(value)s"; slots: %(known)s')
                % {"value": f"{at:%H:%M}", "known": ", ".join(f"{t:%H:%M}" for t in sorted(slots))},
            )
            at = None
        elif slot.kind != "lesson":
            c.error(
                fields["at"],
                _join(path, "at"),
                _('slot "%(value)s" is a %(kind)s slot; only lesson slots hold materials and tasks')
                % {"value": f"{at:%H:%M}", "kind": slot.kind},
            )
            at = None
    materials: list[MaterialSpec] = []
    mpath = _join(path, "materials")
    for i, m_node in enumerate(
        (c.sequence(fields["materials"], mpath) or []) if "materials" in fields else []
    ):
        material = _parse_material(c, m_node, f"{mpath}[{i}]")
        if material is not None:
            materials.append(material)
    tasks: list[TaskSpec] = []
    tpath = _join(path, "tasks")
    for i, t_node in enumerate(
        (c.sequence(fields["tasks"], tpath) or []) if "tasks" in fields else []
    ):
        task = _parse_task(c, t_node, f"{tpath}[{i}]")
        if task is not None:
            tasks.append(task)
    if at is None:
        return None
    return SlotContentSpec(at, tuple(materials), tuple(tasks))


def _parse_material(c: _Checker, node: yaml.Node, path: str) -> MaterialSpec | None:
    fields = c.mapping(node, path, allowed=_MATERIAL_KEYS, required=_MATERIAL_KEYS)
    if fields is None or len(fields) != len(_MATERIAL_KEYS):
        return None
    title = c.text(fields["title"], _join(path, "title"), max_length=TITLE_MAX)
    minutes = c.integer(
        fields["minutes"], _join(path, "minutes"), low=MINUTES_RANGE[0], high=MINUTES_RANGE[1]
    )
    body = c.markdown(fields["body"], _join(path, "body"), required=True)
    if title is None or minutes is None or body is None:
        return None
    return MaterialSpec(title, minutes, body)


def _parse_task(c: _Checker, node: yaml.Node, path: str) -> TaskSpec | None:
    fields = c.mapping(node, path, allowed=_TASK_KEYS, required=("title", "prompt"))
    if fields is None or "title" not in fields or "prompt" not in fields:
        return None
    title = c.text(fields["title"], _join(path, "title"), max_length=TITLE_MAX)
    prompt = c.markdown(fields["prompt"], _join(path, "prompt"), required=True)
    kinds: list[str] | None = ["text"]
    if "answer_kinds" in fields:
        words = c.word_list(fields["answer_kinds"], _join(path, "answer_kinds"))
        kinds = None if words is None else []
        for w_node, w_path, word in words or []:
            assert kinds is not None
            if word not in ANSWER_KINDS:
                c.error(
                    w_node,
                    w_path,
                    _('unknown answer kind "%(value)s"; expected one of: %(choices)s')
                    % {"value": word, "choices": ", ".join(ANSWER_KINDS)},
                )
                kinds = None
                break
            if word in kinds:
                c.error(
                    w_node, w_path, _('answer kind "%(value)s" is listed twice') % {"value": word}
                )
                kinds = None
                break
            kinds.append(word)
        if kinds == []:
            c.error(
                fields["answer_kinds"],
                _join(path, "answer_kinds"),
                _("name at least one answer kind"),
            )
            kinds = None
    grade_max: int | None = DEFAULT_GRADE_MAX
    if "grade_max" in fields:
        grade_max = c.integer(
            fields["grade_max"],
            _join(path, "grade_max"),
            low=GRADE_MAX_RANGE[0],
            high=GRADE_MAX_RANGE[1],
        )
    if title is None or prompt is None or kinds is None or grade_max is None:
        return None
    # Canonical order is the declaration order of ANSWER_KINDS.
    return TaskSpec(title, prompt, tuple(k for k in ANSWER_KINDS if k in kinds), grade_max)


# --- emitting ----------------------------------------------------------------


class _Markdown(str):
    """Emitted as a literal block scalar (`|`)."""


class _Flow(list[str]):
    """Emitted on one line: `[mon, wed, fri]`."""


class _CanonicalDumper(yaml.SafeDumper):
    pass


def _represent_markdown(dumper: yaml.SafeDumper, data: _Markdown) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style="|")


def _represent_flow(dumper: yaml.SafeDumper, data: _Flow) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", list(data), flow_style=True)


_CanonicalDumper.add_representer(_Markdown, _represent_markdown)
_CanonicalDumper.add_representer(_Flow, _represent_flow)


def _spec_to_data(spec: ProgramSpec) -> dict[str, Any]:
    def hhmm(t: time) -> str:
        return f"{t:%H:%M}"

    data: dict[str, Any] = {"slug": spec.slug, "title": spec.title, "kind": spec.kind}
    if spec.description:
        data["description"] = _Markdown(spec.description)
    data["starts_on"] = spec.starts_on
    data["ends_on"] = spec.ends_on
    data["learning_weekdays"] = _Flow(WEEKDAYS[n] for n in sorted(spec.weekdays))
    data["slots"] = [
        {"at": hhmm(s.at), "kind": s.kind} for s in sorted(spec.slots, key=lambda s: s.at)
    ]
    tracks = []
    for track in spec.tracks:
        t: dict[str, Any] = {"slug": track.slug, "title": track.title}
        if track.description:
            t["description"] = _Markdown(track.description)
        if track.follows:
            t["follows"] = track.follows
        days = []
        for day in sorted(track.days, key=lambda d: d.index):
            slot_items = []
            for content in sorted(day.slots, key=lambda s: s.at):
                item: dict[str, Any] = {"at": hhmm(content.at)}
                if content.materials:
                    item["materials"] = [
                        {"title": m.title, "minutes": m.minutes, "body": _Markdown(m.body)}
                        for m in content.materials
                    ]
                if content.tasks:
                    item["tasks"] = [
                        {
                            "title": k.title,
                            "prompt": _Markdown(k.prompt),
                            "answer_kinds": _Flow(k.answer_kinds),
                            "grade_max": k.grade_max,
                        }
                        for k in content.tasks
                    ]
                if len(item) > 1:
                    slot_items.append(item)
            if slot_items:
                days.append({"day": day.index, "slots": slot_items})
        if days:
            t["days"] = days
        tracks.append(t)
    data["tracks"] = tracks
    return data


def dump_matrix(spec: ProgramSpec) -> str:
    """The canonical text: fixed key order, `|` blocks for Markdown, UTF-8 unescaped."""
    return yaml.dump(
        _spec_to_data(spec),
        Dumper=_CanonicalDumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=1_000_000,
        indent=2,
    )
