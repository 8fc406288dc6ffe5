"""The dashboard and the uplift report as tables: CSV (one section), XLSX (every section),
and xAPI statements for a learning record store."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook

from fokus.insights.estimator import Estimate
from fokus.insights.queries import Dashboard, UpliftReport

Table = tuple[list[str], list[list[Any]]]
SECTIONS = ("funnel", "activity", "units", "regions", "kpi", "board")


def _round(value: float | Decimal | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def dashboard_tables(data: Dashboard) -> dict[str, Table]:
    funnel = data.funnel
    tables: dict[str, Table] = {
        "funnel": (
            ["step", "people"],
            [["enrolled", funnel.enrolled], ["started", funnel.started],
             [f"completed (>= {funnel.completion_percent}% tasks graded)", funnel.completed]],
        ),
        "activity": (
            ["day", "slot", "opened", "answered", "graded", "turnaround_hours"],
            [[r.day.isoformat(), r.slot, r.opened, r.answered, r.graded,
              _round(r.turnaround_hours, 2)] for r in data.activity],
        ),
        "kpi": (
            ["day", "per_participant", "per_other"],
            [[p.day.isoformat(), _round(p.participants), _round(p.others)] for p in data.kpi],
        ),
        "board": (
            ["rank", "employee_number", "name", "unit", "learning", "kpi", "total"],
            [[r.rank, r.employee_number, r.name, r.unit, float(r.learning), float(r.kpi),
              float(r.total)] for r in data.board],
        ),
    }
    for name, groups in (("units", data.units), ("regions", data.regions)):
        tables[name] = (
            ["name", "city", "enrolled", "started", "completed", "completion_share",
             "answered", "graded"],
            [[g.name, g.city, g.enrolled, g.started, g.completed,
              round(g.completion_share, 4), g.answered, g.graded] for g in groups],
        )
    return {name: tables[name] for name in SECTIONS}


def _estimate_row(label: str, e: Estimate) -> list[Any]:
    return [label, _round(e.effect, 4), _round(e.low, 4), _round(e.high, 4),
            _round(e.std_error, 4), e.n_treated, e.n_control, e.n_clusters,
            _round(e.treated_mean, 4), _round(e.control_mean, 4), e.n_unmatched]


def uplift_tables(report: UpliftReport) -> dict[str, Table]:
    p = report.periods
    estimates: Table = (
        ["method", "effect_per_participant_per_30_days", "ci95_low", "ci95_high", "std_error",
         "participants", "comparison", "dealerships", "participants_mean", "comparison_mean",
         "unmatched"],
        [_estimate_row(e.method, e) for e in report.estimates],
    )
    summary: list[list[Any]] = [
        ["program", report.program.slug], ["metric", report.metric],
        ["baseline_from", p.baseline_start.isoformat()],
        ["program_from", p.program_start.isoformat()], ["program_to", p.program_end.isoformat()],
        ["participants", report.participants], ["comparison", report.others],
        ["enrolled_without_baseline_kpi", report.left_out],
        ["cost", float(report.cost)],
    ]
    if report.roi is not None:
        r = report.roi
        summary += [["gain", _round(r.gain, 2)], ["gain_low", _round(r.gain_low, 2)],
                    ["gain_high", _round(r.gain_high, 2)], ["roi", _round(r.roi, 4)],
                    ["roi_low", _round(r.roi_low, 4)], ["roi_high", _round(r.roi_high, 4)]]
    return {"estimates": estimates, "summary": (["field", "value"], summary)}


def to_csv(table: Table) -> str:
    buffer = io.StringIO()
    # A BOM so that Excel opens UTF-8 Cyrillic correctly; Google Sheets ignores it.
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(table[0])
    writer.writerows(table[1])
    return buffer.getvalue()


def to_xlsx(tables: dict[str, Table]) -> bytes:
    workbook = Workbook(write_only=True)
    for name, (headers, rows) in tables.items():
        sheet = workbook.create_sheet(title=name[:31])
        sheet.append(headers)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- xAPI -------------------------------------------------------------------------------

VERBS = {
    "opened": ("http://adlnet.gov/expapi/verbs/experienced", "experienced"),
    "answered": ("http://adlnet.gov/expapi/verbs/answered", "answered"),
    "graded": ("http://adlnet.gov/expapi/verbs/scored", "scored"),
    "completed": ("http://adlnet.gov/expapi/verbs/completed", "completed"),
}
_NAMESPACE = uuid.UUID("6f1c1d52-6a57-4e0e-9a55-2f8f3b7c9e10")


def xapi_statement(*, base_url: str, organization_slug: str, verb: str, employee_number: str,
                   name: str, email: str, object_path: str, object_name: str,
                   timestamp: datetime, score: tuple[int, int] | None = None) -> dict[str, Any]:
    """One xAPI 1.0.3 statement; its id is derived from its content, so re-exporting
    gives the same ids and a learning record store can deduplicate."""
    verb_id, verb_name = VERBS[verb]
    object_id = f"{base_url.rstrip('/')}{object_path}"
    actor: dict[str, Any] = {"objectType": "Agent", "name": name,
                             "account": {"homePage": base_url, "name":
                                         f"{organization_slug}:{employee_number}"}}
    if email:
        actor = {"objectType": "Agent", "name": name, "mbox": f"mailto:{email}"}
    statement: dict[str, Any] = {
        "id": str(uuid.uuid5(_NAMESPACE, f"{organization_slug}|{verb}|{employee_number}|"
                                         f"{object_path}|{timestamp.isoformat()}")),
        "actor": actor,
        "verb": {"id": verb_id, "display": {"en-US": verb_name}},
        "object": {"objectType": "Activity", "id": object_id,
                   "definition": {"name": {"ru-RU": object_name}}},
        "timestamp": timestamp.isoformat(),
    }
    if score is not None:
        raw, maximum = score
        statement["result"] = {"score": {"raw": raw, "min": 0, "max": maximum,
                                         "scaled": round(raw / maximum, 4) if maximum else 0},
                               "success": raw > 0}
    return statement


def section_title(section: str) -> str:
    titles = {
        "funnel": _("Funnel"), "activity": _("Activity by day and slot"),
        "units": _("Dealerships"), "regions": _("Regions"), "kpi": _("KPI trend"),
        "board": _("Top of the board"), "estimates": _("Uplift estimates"),
        "summary": _("Summary"),
    }
    return titles.get(section, section)
