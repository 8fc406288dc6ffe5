"""Reading a roster file (CSV or XLSX) into rows of plain strings.

This module knows about files only: encodings, delimiters, header aliases and how a
spreadsheet numbers its rows. What the values mean (e-mails, zones, managers) is
checked by `fokus.people.services.roster_import`. The format is documented in
docs/roster-format.md.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from charset_normalizer import from_bytes
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


class Column(StrEnum):
    EMPLOYEE_NUMBER = "employee_number"
    FULL_NAME = "full_name"
    EMAIL = "email"
    UNIT = "unit"
    CITY = "city"
    TIME_ZONE = "time_zone"
    POSITION = "position"
    MANAGER = "manager"
    ROLES = "roles"


# Order of values in every RosterRow.values tuple.
COLUMNS: tuple[Column, ...] = tuple(Column)
REQUIRED_COLUMNS: tuple[Column, ...] = (Column.EMPLOYEE_NUMBER, Column.FULL_NAME, Column.TIME_ZONE)

COLUMN_LABELS: dict[Column, Promise] = {
    Column.EMPLOYEE_NUMBER: gettext_lazy("employee number"),
    Column.FULL_NAME: gettext_lazy("full name"),
    Column.EMAIL: gettext_lazy("e-mail"),
    Column.UNIT: gettext_lazy("unit"),
    Column.CITY: gettext_lazy("city"),
    Column.TIME_ZONE: gettext_lazy("time zone"),
    Column.POSITION: gettext_lazy("position"),
    Column.MANAGER: gettext_lazy("manager"),
    Column.ROLES: gettext_lazy("roles"),
}

# The header a user is told to add, in both languages, when a column is missing.
COLUMN_HEADERS: dict[Column, tuple[str, str]] = {
    Column.EMPLOYEE_NUMBER: ("Табельный номер", "employee_number"),
    Column.FULL_NAME: ("ФИО", "full_name"),
    Column.EMAIL: ("E-mail", "email"),
    Column.UNIT: ("Подразделение", "unit"),
    Column.CITY: ("Город", "city"),
    Column.TIME_ZONE: ("Часовой пояс", "time_zone"),
    Column.POSITION: ("Должность", "position"),
    Column.MANAGER: ("Руководитель (таб. номер)", "manager_employee_number"),
    Column.ROLES: ("Роли", "roles"),
}

# Written as a person would type them; compared after `normalise_header`.
_ALIASES: dict[Column, tuple[str, ...]] = {
    Column.EMPLOYEE_NUMBER: (
        "Табельный номер", "Таб. номер", "Таб. №", "Табельный №", "Табельный", "Таб номер",
        "Номер сотрудника", "employee_number", "employee number", "employee no", "employee id",
        "employee_id", "personnel number", "staff number", "tab number", "number",
    ),
    Column.FULL_NAME: (
        "ФИО", "Ф.И.О.", "Фамилия Имя Отчество", "Сотрудник", "Имя", "full_name", "full name",
        "name", "employee name", "employee",
    ),
    Column.EMAIL: (
        "E-mail", "Email", "Эл. почта", "Электронная почта", "Почта", "Е-мейл", "Емейл",
        "e-mail address", "email address", "mail",
    ),
    Column.UNIT: (
        "Подразделение", "Дилерский центр", "ДЦ", "Дилер", "Отдел", "Филиал", "Команда",
        "Салон", "unit", "dealership", "dealer", "department", "team", "branch", "division",
    ),
    Column.CITY: ("Город", "Населённый пункт", "city", "town", "location"),
    Column.TIME_ZONE: (
        "Часовой пояс", "Таймзона", "Тайм-зона", "Временная зона", "Пояс", "time_zone",
        "time zone", "timezone", "tz", "zone",
    ),
    Column.POSITION: ("Должность", "Позиция", "position", "job title", "title", "job"),
    Column.MANAGER: (
        "Руководитель (таб. номер)", "Руководитель", "Таб. номер руководителя",
        "Табельный номер руководителя", "Руководитель (табельный номер)",
        "Непосредственный руководитель",
        "Начальник", "manager", "manager_employee_number", "manager employee number",
        "manager number", "manager id", "manager_id", "line manager", "reports to",
    ),
    Column.ROLES: ("Роли", "Роль", "roles", "role"),
}

_NOT_ALNUM = re.compile(r"[\W_]+")


def normalise_header(text: str) -> str:
    """'Руководитель (таб. номер)' -> 'руководительтабномер': case, spaces, punctuation, ё."""
    return _NOT_ALNUM.sub("", text.casefold().replace("ё", "е"))


HEADER_ALIASES: dict[str, Column] = {
    normalise_header(alias): column for column, aliases in _ALIASES.items() for alias in aliases
}

# Encodings a roster may come in; anything else is refused with a clear message.
_LEGACY_ENCODINGS = ["cp1251", "koi8_r"]
_SAMPLE_BYTES = 64 * 1024


class RosterFileError(ValueError):
    """The file cannot be read as a roster at all (format, encoding, header)."""


class RosterRow(NamedTuple):
    number: int  # as a spreadsheet shows it: the header is row 1
    values: tuple[str, ...]  # in COLUMNS order; "" where the file has no such column

    def get(self, column: Column) -> str:
        return self.values[_INDEX[column]]


_INDEX: dict[Column, int] = {column: i for i, column in enumerate(COLUMNS)}


@dataclass(frozen=True, slots=True)
class RosterTable:
    name: str
    file_format: str  # "csv" or "xlsx"
    encoding: str | None
    delimiter: str | None
    columns: frozenset[Column]
    rows: list[RosterRow]


def read_roster(source: str | Path | bytes, *, name: str | None = None) -> RosterTable:
    """Read a roster from a path or the file's bytes; raises RosterFileError."""
    if isinstance(source, bytes):
        data = source
        name = name or "roster"
    else:
        path = Path(source)
        name = name or path.name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RosterFileError(
                _("%(file)s: cannot read the file: %(error)s")
                % {"file": name, "error": exc.strerror or exc}
            ) from exc
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data, name)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise RosterFileError(
            _("%(file)s: the old Excel format (.xls) is not supported; save it as .xlsx or CSV.")
            % {"file": name}
        )
    return _read_csv(data, name)


def detect_encoding(data: bytes) -> str | None:
    """utf-8 (with or without BOM) when it decodes; otherwise cp1251 or koi8-r."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    # Only lines with non-ASCII bytes tell the legacy encodings apart; a sample of them
    # keeps detection fast on a 100,000-row file.
    sample = bytearray()
    for line in data.splitlines():
        if not line.isascii():
            sample += line + b"\n"
            if len(sample) >= _SAMPLE_BYTES:
                break
    best = from_bytes(bytes(sample), cp_isolation=_LEGACY_ENCODINGS).best()
    return None if best is None else str(best.encoding)


def _read_csv(data: bytes, name: str) -> RosterTable:
    encoding = detect_encoding(data)
    try:
        if encoding is None:
            raise UnicodeError(encoding)
        text = data.decode(encoding)
    except UnicodeError as exc:
        raise RosterFileError(
            _("%(file)s: the text encoding is not UTF-8, cp1251 or KOI8-R; "
              "save the file as UTF-8 or cp1251 (Windows Cyrillic).") % {"file": name}
        ) from exc
    if "\x00" in text:
        raise RosterFileError(
            _("%(file)s: this is not a CSV or XLSX file.") % {"file": name}
        )
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    records = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        _header_row, index_of, rows = _parse_records(name, enumerate(records, start=1))
    except csv.Error as exc:
        raise RosterFileError(
            _("%(file)s: row %(row)s: %(error)s")
            % {"file": name, "row": records.line_num, "error": exc}
        ) from exc
    return RosterTable(
        name=name, file_format="csv", encoding=encoding.replace("_", "-"), delimiter=delimiter,
        columns=frozenset(index_of), rows=rows,
    )


def _read_xlsx(data: bytes, name: str) -> RosterTable:
    from openpyxl import load_workbook  # imported here: only XLSX uploads pay for it

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged archive
        raise RosterFileError(
            _("%(file)s: cannot open the XLSX workbook: %(error)s") % {"file": name, "error": exc}
        ) from exc
    try:
        sheet = workbook.worksheets[0]
        cells = (
            (number, [_cell_text(v) for v in values])
            # Read-only sheets yield empty rows for gaps too, so enumeration gives the
            # numbers a spreadsheet shows.
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
        )
        _header, index_of, rows = _parse_records(name, cells)
    finally:
        workbook.close()
    return RosterTable(
        name=name, file_format="xlsx", encoding=None, delimiter=None,
        columns=frozenset(index_of), rows=rows,
    )


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a number typed into a cell: 1001.0 means "1001"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _parse_records(
    name: str, records: Iterable[tuple[int, list[str]]]
) -> tuple[int, dict[Column, int], list[RosterRow]]:
    iterator = iter(records)
    header_number = 0
    header: list[str] = []
    for number, cells in iterator:
        if any(c.strip() for c in cells):
            header_number, header = number, cells
            break
    if not header:
        raise RosterFileError(_("%(file)s: the file is empty.") % {"file": name})
    index_of = _match_header(name, header_number, header)
    # Hot loop (100,000 rows): C-level itemgetter and map. Each row gets one "" appended,
    # which columns the file lacks point at (index -1).
    width = max(index_of.values()) + 1
    pick = itemgetter(*(index_of.get(column, -1) for column in COLUMNS))
    strip = str.strip
    rows: list[RosterRow] = []
    append = rows.append
    for number, cells in iterator:
        if len(cells) < width:
            if not cells:
                continue  # an empty line
            cells = cells + [""] * (width - len(cells))
        cells.append("")
        values = tuple(map(strip, pick(cells)))
        if any(values) or any(map(strip, cells)):
            append(RosterRow(number, values))
    return header_number, index_of, rows


def _match_header(name: str, number: int, header: list[str]) -> dict[Column, int]:
    index_of: dict[Column, int] = {}
    problems: list[str] = []
    for i, title in enumerate(header):
        column = HEADER_ALIASES.get(normalise_header(title))
        if column is None:
            continue  # extra columns are allowed and ignored
        if column in index_of:
            problems.append(
                _("columns “%(first)s” and “%(second)s” both mean %(column)s")
                % {"first": header[index_of[column]].strip(), "second": title.strip(),
                   "column": COLUMN_LABELS[column]}
            )
            continue
        index_of[column] = i
    missing = [c for c in REQUIRED_COLUMNS if c not in index_of]
    if missing:
        problems.insert(
            0,
            _("required columns are missing: %(columns)s")
            % {"columns": ", ".join(
                # The quotes are in the msgid so that Russian can use «…».
                _("%(column)s (“%(russian)s” / “%(english)s”)")
                % {"column": COLUMN_LABELS[c], "russian": COLUMN_HEADERS[c][0],
                   "english": COLUMN_HEADERS[c][1]}
                for c in missing
            )},
        )
    if problems:
        raise RosterFileError(
            _("%(file)s: row %(row)s (header): %(problems)s")
            % {"file": name, "row": number, "problems": "; ".join(problems)}
        )
    return index_of
