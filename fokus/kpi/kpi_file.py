"""Reading a KPI export (CSV or XLSX) as a stream of rows, and parsing its values.

Files only: encodings, delimiters, the header matched through a source's column
mapping, dates and numbers. Whose sale a row is and whether it is new is decided by
`fokus.kpi.services`. The format is described in docs/kpi-import.md.

Built for million-row files: CSV is decoded once and read by the csv module as a
stream; values are parsed through small caches (an export has a few hundred distinct
dates and quantities), so the per-row cost stays around a microsecond.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.utils.translation import gettext as _

from fokus.kpi.models import REQUIRED_FIELDS, KpiField
from fokus.people.roster_file import detect_encoding, normalise_header

# The order of values in every row `KpiTable.rows` yields.
FIELDS: tuple[KpiField, ...] = (
    KpiField.EMPLOYEE_NUMBER,
    KpiField.OCCURRED_ON,
    KpiField.SALE_KEY,
    KpiField.QUANTITY,
    KpiField.AMOUNT,
)


class KpiFileError(ValueError):
    """The file cannot be read as this source's export at all."""


@dataclass(slots=True)
class KpiTable:
    name: str
    file_format: str  # "csv" or "xlsx"
    encoding: str | None
    delimiter: str | None
    header_row: int
    headers: list[str]  # the file's header, as written
    mapped: dict[str, str]  # KpiField value -> the header it was found under
    # (row number as a spreadsheet shows it, values in FIELDS order; None = empty row)
    rows: Iterator[tuple[int, tuple[str, ...] | None]]
    line_estimate: int  # for a progress bar's total


def field_label(field: str) -> str:
    return str(KpiField(field).label)


def read_kpi_file(
    data: bytes,
    *,
    name: str,
    columns: Mapping[str, Sequence[str]],
    encoding: str = "auto",
) -> KpiTable:
    """Open an export; raises KpiFileError. Rows are produced lazily, in file order."""
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data, name, columns)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise KpiFileError(
            _("%(file)s: the old Excel format (.xls) is not supported; save it as .xlsx or CSV.")
            % {"file": name}
        )
    return _read_csv(data, name, columns, encoding)


def _read_csv(
    data: bytes, name: str, columns: Mapping[str, Sequence[str]], encoding: str
) -> KpiTable:
    chosen = detect_encoding(data) if encoding == "auto" else encoding
    try:
        if chosen is None:
            raise UnicodeError
        text = data.decode(chosen)
    except (UnicodeError, LookupError) as exc:
        raise KpiFileError(
            _("%(file)s: the text encoding is not UTF-8, cp1251 or KOI8-R; "
              "save the file as UTF-8 or cp1251 (Windows Cyrillic).") % {"file": name}
        ) from exc
    if "\x00" in text:
        raise KpiFileError(_("%(file)s: this is not a CSV or XLSX file.") % {"file": name})
    del data
    first_line = next((line for line in text.split("\n", 50) if line.strip()), "")
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    records = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    numbered = enumerate(records, start=1)
    header_row, headers, index_of = _find_header(name, numbered, columns)
    return KpiTable(
        name=name, file_format="csv", encoding=chosen.replace("_", "-"), delimiter=delimiter,
        header_row=header_row, headers=headers,
        mapped={f: headers[i].strip() for f, i in index_of.items()},
        rows=_csv_rows(name, numbered, records, index_of),
        line_estimate=text.count("\n"),
    )


def _csv_rows(
    name: str,
    numbered: Iterator[tuple[int, list[str]]],
    records: Any,
    index_of: dict[str, int],
) -> Iterator[tuple[int, tuple[str, ...] | None]]:
    try:
        yield from _pick_rows(numbered, index_of)
    except csv.Error as exc:
        raise KpiFileError(
            _("%(file)s: row %(row)s: %(error)s")
            % {"file": name, "row": records.line_num, "error": exc}
        ) from exc


def _pick_rows(
    numbered: Iterator[tuple[int, list[str]]], index_of: dict[str, int]
) -> Iterator[tuple[int, tuple[str, ...] | None]]:
    # Hot loop: columns the file lacks point at one "" appended to each short row.
    width = max(index_of.values()) + 1
    indexes = [index_of.get(f, -1) for f in FIELDS]
    pad_always = -1 in indexes
    strip = str.strip
    for number, cells in numbered:
        if pad_always or len(cells) < width:
            if not cells:
                yield number, None
                continue
            cells = [*cells, *([""] * (width - len(cells))), ""]
        values = (
            strip(cells[indexes[0]]), strip(cells[indexes[1]]), strip(cells[indexes[2]]),
            strip(cells[indexes[3]]), strip(cells[indexes[4]]),
        )
        if not (values[0] or values[1] or values[2]) and not any(map(strip, cells)):
            yield number, None
        else:
            yield number, values


def _read_xlsx(data: bytes, name: str, columns: Mapping[str, Sequence[str]]) -> KpiTable:
    from openpyxl import load_workbook  # imported here: only XLSX files pay for it

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged archive
        raise KpiFileError(
            _("%(file)s: cannot open the XLSX workbook: %(error)s") % {"file": name, "error": exc}
        ) from exc
    sheet = workbook.worksheets[0]
    # Read-only sheets yield empty rows for gaps too, so enumeration gives the numbers a
    # spreadsheet shows.
    numbered = (
        (number, [_cell_text(v) for v in values])
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
    )
    header_row, headers, index_of = _find_header(name, numbered, columns)

    def rows() -> Iterator[tuple[int, tuple[str, ...] | None]]:
        try:
            yield from _pick_rows(numbered, index_of)
        finally:
            workbook.close()

    return KpiTable(
        name=name, file_format="xlsx", encoding=None, delimiter=None, header_row=header_row,
        headers=headers, mapped={f: headers[i].strip() for f, i in index_of.items()},
        rows=rows(), line_estimate=sheet.max_row or 0,
    )


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 1001.0 typed into a cell means "1001"
    if isinstance(value, int | float):
        # Numbers leave a workbook with a decimal point; the value parser accepts it
        # whatever the source's decimal mark.
        return repr(value)
    return str(value)


def _find_header(
    name: str,
    numbered: Iterator[tuple[int, list[str]]],
    columns: Mapping[str, Sequence[str]],
) -> tuple[int, list[str], dict[str, int]]:
    for number, cells in numbered:
        if any(c.strip() for c in cells):
            return number, cells, _match_header(name, number, cells, columns)
    raise KpiFileError(_("%(file)s: the file is empty.") % {"file": name})


def _match_header(
    name: str, number: int, header: list[str], columns: Mapping[str, Sequence[str]]
) -> dict[str, int]:
    wanted = {
        normalise_header(alias): field for field, aliases in columns.items() for alias in aliases
    }
    index_of: dict[str, int] = {}
    problems: list[str] = []
    for i, title in enumerate(header):
        field = wanted.get(normalise_header(title))
        if field is None:
            continue  # extra columns (the car model, a dealer code) are ignored
        if field in index_of:
            problems.append(
                _("columns “%(first)s” and “%(second)s” both mean %(column)s")
                % {"first": header[index_of[field]].strip(), "second": title.strip(),
                   "column": field_label(field)}
            )
            continue
        index_of[field] = i
    missing = [f for f in REQUIRED_FIELDS if f not in index_of]
    if missing:
        problems.insert(
            0,
            _("required columns are missing: %(columns)s (the source expects %(expected)s)")
            % {
                "columns": ", ".join(field_label(f) for f in missing),
                "expected": "; ".join(
                    f"{field_label(f)}: " + " / ".join(f"“{a}”" for a in columns.get(f, []))
                    for f in missing
                ),
            },
        )
    if problems:
        raise KpiFileError(
            _("%(file)s: row %(row)s (header): %(problems)s")
            % {"file": name, "row": number, "problems": "; ".join(problems)}
        )
    return index_of


# --- values -----------------------------------------------------------------------------

_DMY = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


class DateParser:
    """Text -> ISO date text, or an error message. Cached: exports repeat their dates."""

    def __init__(self, date_format: str) -> None:
        self.date_format = date_format
        self.cache: dict[str, tuple[str, str]] = {}

    def __call__(self, text: str) -> tuple[str, str]:
        """(ISO date, "") or ("", message)."""
        hit = self.cache.get(text)
        if hit is None:
            hit = self.cache[text] = self._parse(text)
        return hit

    def _parse(self, text: str) -> tuple[str, str]:
        if not text:
            return "", _("the date is empty")
        for candidate in (text, text.split(" ", 1)[0], text.split("T", 1)[0]):
            match = _DMY.fullmatch(candidate)
            if match and self.date_format in ("%d.%m.%Y", "%d.%m.%y"):
                day, month, year = (int(g) for g in match.groups())
                try:
                    return date(year, month, day).isoformat(), ""
                except ValueError:
                    return "", _("date “%(value)s” does not exist") % {"value": text}
            try:
                return datetime.strptime(candidate, self.date_format).date().isoformat(), ""
            except ValueError:
                pass
            try:
                return date.fromisoformat(candidate).isoformat(), ""
            except ValueError:
                pass
        if re.fullmatch(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}", text):
            return "", _("date “%(value)s” does not exist") % {"value": text}
        return "", (
            _("“%(value)s” is not a date (expected %(format)s or YYYY-MM-DD)")
            % {"value": text, "format": _human_format(self.date_format)}
        )


def _human_format(fmt: str) -> str:
    return fmt.replace("%d", "dd").replace("%m", "mm").replace("%Y", "yyyy").replace("%y", "yy")


class NumberParser:
    """Text -> a plain decimal text ("-1", "2346000.00"), or an error message."""

    def __init__(self, *, decimal_comma: bool, integer_digits: int, decimal_places: int,
                 what: str, cache: bool) -> None:
        self.decimal_comma = decimal_comma
        self.integer_digits = integer_digits
        self.decimal_places = decimal_places
        self.what = what
        self.cache: dict[str, tuple[str, str]] | None = {} if cache else None
        # The plain shapes ("2346000,00", "-1") skip the general parser.
        mark = "," if decimal_comma else r"\."
        self.plain = re.compile(
            rf"-?\d{{1,{integer_digits}}}(?:{mark}\d{{1,{decimal_places}}})?"
        ).fullmatch

    def __call__(self, text: str) -> tuple[str, str]:
        if self.plain(text):
            return (text.replace(",", ".") if self.decimal_comma else text), ""
        cache = self.cache
        if cache is not None:
            hit = cache.get(text)
            if hit is None:
                hit = cache[text] = self._parse(text)
            return hit
        return self._parse(text)

    def _parse(self, text: str) -> tuple[str, str]:
        plain = text.replace("\xa0", "").replace(" ", "").replace("\u202f", "")
        if self.decimal_comma:
            if "," in plain:
                plain = plain.replace(".", "").replace(",", ".")
        else:
            plain = plain.replace(",", "")
        if not _NUMBER.fullmatch(plain):
            return "", (
                _("%(what)s “%(value)s” is not a number") % {"what": self.what, "value": text}
            )
        whole, _dot, fraction = plain.lstrip("+-").partition(".")
        fraction = fraction.rstrip("0")
        if len(whole.lstrip("0")) > self.integer_digits or len(fraction) > self.decimal_places:
            return "", (
                _("%(what)s “%(value)s” is too large or has too many decimal places")
                % {"what": self.what, "value": text}
            )
        return plain.lstrip("+"), ""
