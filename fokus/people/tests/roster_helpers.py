"""Roster files for tests: the shared sample, re-shaped the ways real exports differ."""

from __future__ import annotations

import csv
import io
import os
import random
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from fokus.core.models import Organization
from fokus.people.models import Person

RU_HEADER = [
    "Табельный номер", "ФИО", "E-mail", "Подразделение", "Город", "Часовой пояс", "Должность",
    "Руководитель (таб. номер)",
]
EN_HEADER = [
    "employee_number", "Full Name", "email", "Dealership", "city", "time_zone", "position",
    "manager_employee_number",
]


def shared_rows(shared_data_dir: str) -> tuple[list[str], list[list[str]]]:
    """The header and data rows of ../shared/data/roster.csv."""
    with open(os.path.join(shared_data_dir, "roster.csv"), encoding="cp1251", newline="") as f:
        rows = [r for r in csv.reader(f, delimiter=";") if r]
    return rows[0], rows[1:]


def write_csv(
    path: Path, header: list[str], rows: list[list[str]], *, encoding: str = "cp1251",
    delimiter: str = ";", newline: str = "\r\n",
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        # Employee numbers typed into a spreadsheet become numbers.
        sheet.append([int(v) if isinstance(v, str) and v.isdigit() else v for v in row])
    workbook.save(path)
    return path


def reshaped(
    header: list[str], rows: list[list[str]], *, seed: int = 7
) -> tuple[list[str], list[list[str]]]:
    """English headers, shuffled columns plus an extra one, rows reversed (reports first)."""
    rng = random.Random(seed)
    order = list(range(len(header)))
    rng.shuffle(order)
    new_header = [EN_HEADER[i] for i in order] + ["Comment"]
    new_rows = [[row[i] for i in order] + ["ignored"] for row in reversed(rows)]
    return new_header, new_rows


def snapshot(organization: Organization) -> dict[str, tuple[str, ...]]:
    """What a user sees of each person, keyed by employee number."""
    return {
        p.employee_number: (
            p.full_name, p.email, p.time_zone, p.position,
            p.unit.name if p.unit else "", p.unit.city if p.unit else "",
            p.manager.employee_number if p.manager else "", p.roles,
        )
        for p in Person.objects.filter(organization=organization).select_related("unit", "manager")
    }
