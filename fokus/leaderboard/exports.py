"""Board rows as plain values, CSV and XLSX (for the CLI, the API and the pages)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook

from fokus.leaderboard.queries import BoardRow, TeamRow

PERSON_KEYS = ("employee_number", "name", "learning", "kpi", "total", "rank")
TEAM_KEYS = (
    "rank", "unit", "members", "learners", "learner_share", "learning", "kpi", "total", "average"
)


def number(value: Decimal) -> int | float:
    """3.00 -> 3, 2.50 -> 2.5: points as JSON numbers, without trailing zeros."""
    return int(value) if value == value.to_integral_value() else float(value)


def person_dict(row: BoardRow, *, track: bool = False, unit: bool = False) -> dict[str, object]:
    data: dict[str, object] = {
        "employee_number": row.employee_number,
        "name": row.name,
        "learning": number(row.learning),
        "kpi": number(row.kpi),
        "total": number(row.total),
        "rank": row.rank,
    }
    if track:
        data["track"] = row.track
    if unit:
        data["unit"] = row.unit
    return data


def team_dict(row: TeamRow) -> dict[str, object]:
    return {
        "rank": row.rank,
        "unit": row.unit,
        "members": row.members,
        "learners": row.learners,
        "learner_share": number(row.learner_share),
        "learning": number(row.learning),
        "kpi": number(row.kpi),
        "total": number(row.total),
        "average": number(row.average),
    }


def _headers(keys: Sequence[str]) -> list[str]:
    names = {
        "employee_number": _("Employee number"), "name": _("Name"), "unit": _("Unit"),
        "track": _("Track"), "learning": _("Learning"), "kpi": _("KPI"), "bonus": _("Bonus"),
        "total": _("Total"), "rank": _("Rank"), "members": _("Members"),
        "learners": _("Members with learning points"), "learner_share": _("Share learning"),
        "average": _("Points per member"),
    }
    return [names.get(k, k) for k in keys]


def table(
    rows: Sequence[BoardRow] | Sequence[TeamRow], *, teams: bool
) -> tuple[list[str], list[list[Any]]]:
    """Header keys and values for a spreadsheet: people with unit and bonus too."""
    if teams:
        keys = list(TEAM_KEYS)
        return keys, [[team_dict(r)[k] for k in keys] for r in rows]  # type: ignore[arg-type]
    keys = ["rank", "employee_number", "name", "unit", "learning", "kpi", "bonus", "total"]
    values = []
    for r in rows:
        assert isinstance(r, BoardRow)
        values.append([r.rank, r.employee_number, r.name, r.unit, number(r.learning),
                       number(r.kpi), number(r.bonus + r.other), number(r.total)])
    return keys, values


def to_csv(rows: Sequence[BoardRow] | Sequence[TeamRow], *, teams: bool = False) -> str:
    keys, values = table(rows, teams=teams)
    out = io.StringIO()
    # ';' and a BOM: what Excel with Russian regional settings opens without a wizard.
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(_headers(keys))
    for line in values:
        # Decimal comma: the Russian Excel reads "2.5" as a date or text.
        writer.writerow(
            ["" if v is None else str(v).replace(".", ",") if isinstance(v, float) else v
             for v in line]
        )
    return "\ufeff" + out.getvalue()


def to_xlsx(
    rows: Sequence[BoardRow] | Sequence[TeamRow], *, title: str, teams: bool = False
) -> bytes:
    keys, values = table(rows, teams=teams)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31] or "Board"
    sheet.append(_headers(keys))
    for line in values:
        sheet.append(line)
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
