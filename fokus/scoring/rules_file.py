"""The scoring rules as a YAML file (`fokus scoring set-rules`, `fokus scoring rules
--format yaml`). The format is described in docs/scoring.md.

Every top-level key is optional: a missing key keeps what the program has now; `kpi`,
when present, is the whole list of KPI rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from django.utils.translation import gettext as _

from fokus.scoring.guarantee import KpiRuleSpec
from fokus.scoring.models import ScoringRules
from fokus.scoring.queries import grade_points_of, kpi_specs_of, rules_as_data

TOP_KEYS = ("grade_points", "min_learning_share", "kpi", "bonus")
KPI_KEYS = ("metric", "points_per_unit", "cap_per_day", "cap_per_program")
BONUS_KEYS = ("max_per_entry", "max_per_person")


class RulesFileError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class RulesFile:
    source: str
    data: dict[str, Any]
    # Dotted key path ("kpi[0].cap_per_day") -> line number, for messages.
    lines: dict[str, int] = field(default_factory=dict)

    def where(self, path: str) -> str:
        """"rules.yaml, line 7" for the path or its closest parent."""
        probe = path
        while probe:
            if probe in self.lines:
                return _("%(file)s, line %(line)s") % {"file": self.source,
                                                       "line": self.lines[probe]}
            if "." in probe:
                probe = probe.rsplit(".", 1)[0]
            elif "[" in probe:
                probe = probe.rsplit("[", 1)[0]
            else:
                break
        return self.source


def _line_map(node: yaml.Node, path: str, lines: dict[str, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = f"{path}.{key_node.value}" if path else str(key_node.value)
            lines[key] = key_node.start_mark.line + 1
            _line_map(value_node, key, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            key = f"{path}[{index}]"
            lines[key] = item.start_mark.line + 1
            _line_map(item, key, lines)


def parse_rules_text(text: str, source: str) -> RulesFile:
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", exc)
        message = (
            _("%(file)s, line %(line)s: not valid YAML: %(error)s")
            % {"file": source, "line": mark.line + 1, "error": problem}
            if mark is not None
            else _("%(file)s: not valid YAML: %(error)s") % {"file": source, "error": problem}
        )
        raise RulesFileError([message]) from exc
    if not isinstance(data, dict):
        raise RulesFileError(
            [_("%(file)s: expected keys %(keys)s at the top.")
             % {"file": source, "keys": ", ".join(TOP_KEYS)}]
        )
    lines: dict[str, int] = {}
    if root is not None:
        _line_map(root, "", lines)
    parsed = RulesFile(source=source, data=data, lines=lines)
    problems: list[str] = []
    for key in data:
        if key not in TOP_KEYS:
            problems.append(_("%(where)s: unknown key “%(key)s” (expected %(keys)s).")
                            % {"where": parsed.where(str(key)), "key": key,
                               "keys": ", ".join(TOP_KEYS)})
    if "grade_points" in data and not isinstance(data["grade_points"], dict):
        problems.append(_("%(where)s: grade_points maps each grade to its points, e.g. 1: 1.")
                        % {"where": parsed.where("grade_points")})
    if "kpi" in data:
        if not isinstance(data["kpi"], list) and data["kpi"] is not None:
            problems.append(_("%(where)s: kpi is a list of rules (- metric: …).")
                            % {"where": parsed.where("kpi")})
        for index, rule in enumerate(data["kpi"] or []):
            path = f"kpi[{index}]"
            if not isinstance(rule, dict):
                problems.append(_("%(where)s: %(path)s is not a rule (metric, points_per_unit, "
                                  "cap_per_day, cap_per_program).")
                                % {"where": parsed.where(path), "path": path})
                continue
            for key in rule:
                if key not in KPI_KEYS:
                    problems.append(_("%(where)s: %(path)s: unknown key “%(key)s” (expected "
                                      "%(keys)s).")
                                    % {"where": parsed.where(f"{path}.{key}"), "path": path,
                                       "key": key, "keys": ", ".join(KPI_KEYS)})
            for key in ("metric", "points_per_unit"):
                if key not in rule:
                    problems.append(_("%(where)s: %(path)s needs “%(key)s”.")
                                    % {"where": parsed.where(path), "path": path, "key": key})
    if "bonus" in data:
        bonus = data["bonus"]
        if not isinstance(bonus, dict):
            problems.append(_("%(where)s: bonus has max_per_entry and max_per_person.")
                            % {"where": parsed.where("bonus")})
        else:
            for key in bonus:
                if key not in BONUS_KEYS:
                    problems.append(_("%(where)s: bonus: unknown key “%(key)s” (expected "
                                      "%(keys)s).")
                                    % {"where": parsed.where(f"bonus.{key}"), "key": key,
                                       "keys": ", ".join(BONUS_KEYS)})
    if "min_learning_share" in data:
        try:
            data["min_learning_share"] = share_value(data["min_learning_share"])
        except ValueError as exc:
            problems.append(f"{parsed.where('min_learning_share')}: {exc}")
    if problems:
        raise RulesFileError(problems)
    return parsed


def share_value(raw: object) -> Decimal:
    """"60%", 60 % or 0.6 -> Decimal("0.6")."""
    text = str(raw).strip()
    try:
        if text.endswith("%"):
            return Decimal(text[:-1].strip().replace(",", ".")) / 100
        value = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise ValueError(
            _("min_learning_share: “%(value)s” is not a share; write 60%% or 0.6.")
            % {"value": raw}
        ) from None
    if value > 1:
        raise ValueError(
            _("min_learning_share: %(value)s is more than 1; write 60%% or 0.6.")
            % {"value": raw}
        )
    return value


def save_arguments(parsed: RulesFile, current: ScoringRules) -> dict[str, Any]:
    """Keyword arguments for services.scoring_rules_save: the file over the current rules."""
    data = parsed.data
    bonus = data.get("bonus") or {}
    kpi: list[KpiRuleSpec]
    if "kpi" in data:
        kpi = [
            KpiRuleSpec(
                metric=str(rule.get("metric") or ""),
                points_per_unit=rule.get("points_per_unit"),
                cap_per_person_per_day=rule.get("cap_per_day"),
                cap_per_person_per_program=rule.get("cap_per_program"),
            )
            for rule in data["kpi"] or []
        ]
    else:
        kpi = kpi_specs_of(current)
    return {
        "grade_points": data["grade_points"] if "grade_points" in data
        else grade_points_of(current),
        "min_learning_share": data.get("min_learning_share", current.min_learning_share),
        "kpi_rules": kpi,
        "bonus_max_per_entry": bonus.get("max_per_entry", current.bonus_max_per_entry),
        "bonus_max_per_person": bonus.get("max_per_person", current.bonus_max_per_person),
    }


def dump_rules(rules: ScoringRules) -> str:
    """The rules as a file `set-rules` reads back unchanged."""
    data = rules_as_data(rules)

    def number(text: str | None) -> int | float | str | None:
        if text is None:
            return None
        value = Decimal(text)
        return int(value) if value == value.to_integral_value() else float(value)

    out: dict[str, Any] = {
        "grade_points": {int(g): number(p) for g, p in data["grade_points"].items()},
        "min_learning_share": f"{Decimal(data['min_learning_share']) * 100:f}".rstrip("0")
        .rstrip(".") + "%",
        "kpi": [
            {k: number(v) if k != "metric" else v for k, v in rule.items() if v is not None}
            for rule in data["kpi"]
        ],
        "bonus": {k: number(v) for k, v in data["bonus"].items()},
    }
    return yaml.safe_dump(out, allow_unicode=True, sort_keys=False)
