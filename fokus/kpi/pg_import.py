"""The KPI import on PostgreSQL for plain CSV exports: the server parses, SQL checks.

The general path (`fokus.kpi.services._Scan`) reads every row in Python, 5-10 µs a row
at best. For the common export (no quotes, the header in row 1, one line per row) this
module lets PostgreSQL do the bulk work instead:

1. `COPY … FROM STDIN (FORMAT csv)` streams the file's bytes as they are (1 MB chunks,
   the server converts the encoding) into a temporary table of text columns; an
   identity column numbers the rows in file order, so row = number + 1 (the header).
   Empty lines, which COPY refuses, are turned into lines of empty cells first (a
   byte replace; no line moves), and the checks report them as empty rows as before.
2. The few distinct dates and quantities are parsed in Python by the same parsers as
   the general path; the rows whose values all have a known good shape (a person of
   the organisation, a parsed date and quantity, an amount like `2346000,00`, a sale
   id of 1-64 characters) are selected in one set-based statement.
3. Every other row (unknown employee numbers, unusual dates or numbers, empty lines)
   is read back and checked by `_Scan` itself, so reasons, row numbers and the
   partial/strict rules are the general path's. Valid ones join the good rows.
4. Repeated sale ids are found by one GROUP BY; only the repeated ones are read back
   and judged in file order as before (identical = duplicate, other values = rejected).
5. Under a lock on the source (imports of one source run one at a time), one
   `INSERT … SELECT` of the rows whose key is not stored yet (an anti-join) writes the
   records; a re-import only runs the anti-join.

What COPY would read differently from Python's csv module (quotes, a `\\.` line) or
refuses (ragged rows, mixed line endings, bytes the encoding lacks) goes to the general
path before anything is written: COPY runs in a savepoint and any error rolls it back.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.utils.translation import gettext as _

from fokus.kpi import services
from fokus.kpi.kpi_file import (
    DateParser,
    KpiFileError,
    KpiTable,
    NumberParser,
    _match_header,
    _pick_rows,
)
from fokus.kpi.models import ImportStatus, KpiField, KpiImport, KpiRecord, RecordKind
from fokus.people.models import Person
from fokus.people.roster_file import detect_encoding

_PG_ENCODINGS = {"utf-8": "UTF8", "utf-8-sig": "UTF8", "cp1251": "WIN1251", "koi8-r": "KOI8R"}
_CHUNK = 1 << 20


@functools.cache
def python_whitespace() -> str:
    """The characters str.strip() removes: btrim() with these trims exactly as Python."""
    return "".join(ch for ch in map(chr, range(0x110000)) if ch.isspace())


@dataclass(slots=True)
class PlainCsv:
    encoding: str  # Python's name, for the report
    pg_encoding: str
    delimiter: str
    headers: list[str]
    index_of: dict[str, int]
    body: bytes  # the rows after the header, empty lines filled with delimiters
    # No cell can start or end with whitespace (no whitespace next to a delimiter or a
    # line end, no other whitespace at all): SQL may then skip the padding checks.
    tidy: bool


def plain_csv(data: bytes, *, name: str, columns: Any, encoding: str) -> PlainCsv | None:
    """The file's layout when COPY reads it exactly as the csv module would; else None.

    Cheap byte-level checks only (no per-row work); whatever they cannot vouch for goes
    to the general path, which also produces every error message about the file.
    """
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")) or b"\x00" in data:
        return None
    # Quotes: PostgreSQL honours a quote inside an unquoted field, the csv module does not.
    if b'"' in data:
        return None
    chosen = detect_encoding(data) if encoding == "auto" else encoding
    if chosen is None:
        return None
    chosen = chosen.lower().replace("_", "-")
    pg_encoding = _PG_ENCODINGS.get(chosen)
    if pg_encoding is None:
        return None
    try:
        if chosen == "cp1251":
            if b"\x98" in data:  # the one byte Python's cp1251 cannot decode
                return None
        elif chosen.startswith("utf-8") and encoding != "auto":
            data.decode(chosen)  # detection has decoded it already otherwise
    except UnicodeDecodeError:
        return None
    end = data.find(b"\n")
    if end < 0:
        return None
    eol = b"\r\n" if data[:end + 1].endswith(b"\r\n") else b"\n"
    header_bytes = data[:end + 1 - len(eol)]
    if b"\r" in header_bytes:
        return None
    header = header_bytes.decode(chosen)
    if not header.strip():
        return None  # the header is not in row 1
    delimiter = ";" if header.count(";") >= header.count(",") else ","
    headers = header.split(delimiter)
    try:
        index_of = _match_header(name, 1, headers, columns)
    except KpiFileError:
        return None
    body = data[end + 1:]
    if b"\\." in body:  # COPY would end the data at a line "\."
        return None
    if len(headers) > 1:
        empty, filled = eol + eol, eol + delimiter.encode() * (len(headers) - 1) + eol
        if empty in body or body.startswith(eol):
            body = eol + body
            while empty in body:
                body = body.replace(empty, filled)
            body = body[len(eol):]
    return PlainCsv(
        encoding=chosen, pg_encoding=pg_encoding, delimiter=delimiter, headers=headers,
        index_of=index_of, body=body, tidy=_tidy(body, chosen, delimiter.encode(), eol),
    )


def _tidy(body: bytes, encoding: str, delimiter: bytes, eol: bytes) -> bool:
    if body.startswith(b" ") or body.endswith(b" "):
        return False
    for pattern in (b" " + delimiter, delimiter + b" ", b" " + eol, eol + b" "):
        if pattern in body:
            return False
    # Other whitespace anywhere: the ASCII controls str.strip() removes besides the line
    # ends, and the encoding's bytes for the non-ASCII ones (no-break space …).
    others = [bytes([c]) for c in (9, 11, 12, 28, 29, 30, 31)]
    if eol == b"\n":
        others.append(b"\r")
    if encoding.startswith("utf-8"):
        if not body.isascii():
            return False
    else:
        others += [ch.encode(encoding) for ch in python_whitespace()
                   if ord(ch) > 127 and _encodable(ch, encoding)]
    return not any(byte in body for byte in others)


def _encodable(ch: str, encoding: str) -> bool:
    try:
        ch.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


@dataclass(slots=True)
class _Rows:
    """What `services._award_points` needs to know about the valid rows."""

    enrolled: dict[int, list[tuple[int, str, str]]]
    candidates: list[services._Candidate] = field(default_factory=list)
    cancellations: list[services._Candidate] = field(default_factory=list)


class _Collector(services._Writer):
    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []

    def add(self, row: tuple[Any, ...]) -> None:
        self.rows.append(row)


def import_plain_csv(
    kpi_import_row: KpiImport,
    plain: PlainCsv,
    report: services.KpiImportReport,
    progress: services.Progress | None,
) -> KpiImport | None:
    """Run the import; None when COPY refused the file (nothing written, use the general
    path)."""
    report.file_format, report.encoding, report.delimiter = "csv", plain.encoding, plain.delimiter
    report.columns = {f: plain.headers[i].strip() for f, i in plain.index_of.items()}
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            rows = _import(cursor, kpi_import_row, plain, report, progress)
            if rows is None:
                return None
            if not kpi_import_row.dry_run:
                touched = services._award_points(kpi_import_row, rows, report)
                services._refresh_standings(touched)
    except services._StrictRollback:
        report.new = 0
        return services._finish(kpi_import_row, report, ImportStatus.REJECTED)
    report.already_imported = report.valid - report.new
    status = ImportStatus.PARTIAL if report.rejected else ImportStatus.OK
    return services._finish(kpi_import_row, report, status)


def _import(
    cursor: Any,
    kpi_import_row: KpiImport,
    plain: PlainCsv,
    report: services.KpiImportReport,
    progress: services.Progress | None,
) -> _Rows | None:
    source = kpi_import_row.source
    width = len(plain.headers)
    cells = [f"c{i}" for i in range(width)]
    raw_count = _copy_raw(cursor, plain, cells)
    if raw_count is None:
        return None
    report.rows = raw_count
    if progress is not None:
        progress(0, raw_count)

    index_of = plain.index_of

    def cell(f: str) -> str:
        return f"coalesce(c{index_of[f]}, '')"  # an empty cell is NULL in COPY's CSV

    def unpadded(expr: str) -> str:
        # Neither the first nor the last character is one str.strip() removes (ascii()
        # gives the code point of the first character, 0 for an empty text).
        ends = (f"ascii({expr})", f"ascii(right({expr}, 1))")
        return " AND ".join(
            f"({code} BETWEEN 33 AND 127 OR ({code} > 127 AND {code} <> ALL(%(ws)s)))"
            for code in ends
        )

    has_quantity = KpiField.QUANTITY in index_of
    has_amount = KpiField.AMOUNT in index_of
    # Dates and quantities repeat: parse each distinct text once, with the general parsers
    # (on the stripped text, as the general path does).
    parse_date = DateParser(source.date_format)
    parse_quantity = NumberParser(
        decimal_comma=source.decimal_comma, integer_digits=9, decimal_places=3,
        what=_("quantity"), cache=True,
    )
    quantity_cell = cell(KpiField.QUANTITY) if has_quantity else "''"
    cursor.execute(
        f"SELECT DISTINCT {cell(KpiField.OCCURRED_ON)}, {quantity_cell} FROM kpi_raw"  # noqa: S608
    )
    dates: dict[str, tuple[str, str]] = {}
    quantities: dict[str, tuple[str, str, str, bool]] = {}
    for date_text, quantity_text in cursor.fetchall():
        iso, problem = parse_date(date_text.strip())
        if not problem:
            dates[date_text] = (iso, iso)
        value, problem = parse_quantity(quantity_text.strip()) if has_quantity else ("1", "")
        if not problem and value.strip("-0."):
            cancel = value[0] == "-"
            quantities[quantity_text] = (
                value, value, RecordKind.CANCELLATION if cancel else RecordKind.SALE, cancel
            )
    _temp_table(cursor, "kpi_dates", "raw text, iso text, day date",
                [(raw, *parsed) for raw, parsed in dates.items()])
    _temp_table(cursor, "kpi_quantities", "raw text, value text, num numeric, kind text, "
                "cancel boolean", [(raw, *parsed) for raw, parsed in quantities.items()])

    # The rows SQL can vouch for; whatever fails a join or a shape is checked in Python.
    person_table = Person._meta.db_table
    e, k = f"r.c{index_of[KpiField.EMPLOYEE_NUMBER]}", f"r.c{index_of[KpiField.SALE_KEY]}"
    conditions = [f"{k} IS NOT NULL", f"length({k}) <= 64"]
    if not plain.tidy:
        conditions += [unpadded(k), unpadded(e)]
    amount = "NULL::text"
    if has_amount:
        a = f"r.c{index_of[KpiField.AMOUNT]}"
        # Stricter than the general parser (at most 14 characters), never looser: longer
        # amounts are checked in Python.
        if source.decimal_comma:
            shape, amount = r"^-?[0-9]+(,[0-9][0-9]?)?$", f"replace({a}, ',', '.')"
        else:
            shape, amount = r"^-?[0-9]+(\.[0-9][0-9]?)?$", a
        conditions.append(f"({a} IS NULL OR (octet_length({a}) <= 14 AND {a} ~ '{shape}'))")
    cursor.execute("DROP TABLE IF EXISTS kpi_rows")
    # The planner cannot estimate the shape filters and would pick nested loops over a
    # million rows; hash joins over the small tables are what this statement wants.
    cursor.execute("SET LOCAL enable_nestloop = off")
    cursor.execute("SET LOCAL work_mem = '256MB'")
    cursor.execute(
        "CREATE TEMPORARY TABLE kpi_rows ON COMMIT DROP AS "  # noqa: S608 (names from the model)
        f"SELECT r.n + 1 AS row, p.id AS person_id, {e} AS employee_number, "
        f"{k} AS sale_key, d.iso AS occurred_on, d.day, q.value AS quantity, q.num, q.kind, "
        f"q.cancel, {amount} AS amount "
        "FROM kpi_raw r "
        f'JOIN "{person_table}" p ON p.organization_id = %(org)s AND p.employee_number = {e} '
        f"JOIN kpi_dates d ON d.raw = {cell(KpiField.OCCURRED_ON)} "
        f"JOIN kpi_quantities q ON q.raw = {quantity_cell} "
        f"WHERE {' AND '.join(conditions)}",
        {"ws": [ord(ch) for ch in python_whitespace() if ord(ch) > 127],
         "org": kpi_import_row.organization_id},
    )
    clean = cursor.rowcount
    if clean < raw_count:
        _check_odd_rows(cursor, kpi_import_row, plain, report, cells)
    _judge_repeated_sale_ids(cursor, report)
    cursor.execute("SELECT count(*), count(*) FILTER (WHERE cancel) FROM kpi_rows")
    report.valid, report.cancellations = cursor.fetchone()
    report.sales = report.valid - report.cancellations
    if kpi_import_row.strict and report.rejected:
        raise services._StrictRollback
    record_table = KpiRecord._meta.db_table
    # An anti-join first: a re-import then probes no index row by row.
    new_rows = (
        f'FROM kpi_rows r WHERE NOT EXISTS (SELECT 1 FROM "{record_table}" k '  # noqa: S608
        "WHERE k.source_id = %s AND k.sale_key = r.sale_key AND k.kind = r.kind)"
    )
    if kpi_import_row.dry_run:
        cursor.execute(f"SELECT count(*) {new_rows}", [source.pk])
        report.new = cursor.fetchone()[0]
    else:
        # Under the source's lock, taken before the anti-join: no record of this source
        # can appear meanwhile, so a plain INSERT (no per-row speculative insertion).
        services.source_write_lock(cursor, source.pk)
        cursor.execute(
            f'INSERT INTO "{record_table}" (organization_id, source_id, kpi_import_id, '
            "metric, person_id, employee_number, sale_key, kind, occurred_on, quantity, "
            "amount, row) SELECT %s, %s, %s, %s, r.person_id, r.employee_number, r.sale_key, "
            f"r.kind, r.day, r.num, r.amount::numeric, r.row {new_rows}",
            [kpi_import_row.organization_id, source.pk, kpi_import_row.pk, source.metric,
             source.pk],
        )
        report.new = cursor.rowcount
    cursor.execute("RESET enable_nestloop")
    cursor.execute("RESET work_mem")
    if progress is not None:
        progress(raw_count, raw_count)
    return _point_rows(cursor, kpi_import_row)


def _copy_raw(cursor: Any, plain: PlainCsv, cells: list[str]) -> int | None:
    """COPY the file into kpi_raw; None (and nothing left behind) when COPY refuses it."""
    cursor.execute("DROP TABLE IF EXISTS kpi_raw")
    try:
        with transaction.atomic():  # a savepoint: a refused COPY leaves nothing behind
            cursor.execute(
                "CREATE TEMPORARY TABLE kpi_raw (n bigint GENERATED ALWAYS AS IDENTITY, "
                + ", ".join(f"{c} text" for c in cells) + ") ON COMMIT DROP"
            )
            body = memoryview(plain.body)
            with cursor.cursor.copy(
                f"COPY kpi_raw ({', '.join(cells)}) FROM STDIN WITH (FORMAT csv, "
                f"DELIMITER '{plain.delimiter}', ENCODING '{plain.pg_encoding}')"
            ) as copy:
                for offset in range(0, len(body), _CHUNK):
                    copy.write(body[offset:offset + _CHUNK])
            return int(cursor.cursor.rowcount)
    except (DatabaseError, psycopg.Error):
        return None


def _temp_table(cursor: Any, name: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    cursor.execute(f"CREATE TEMPORARY TABLE {name} ({columns}) ON COMMIT DROP")
    if rows:
        with cursor.cursor.copy(f"COPY {name} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    cursor.execute(f"ANALYZE {name}")


def _check_odd_rows(
    cursor: Any,
    kpi_import_row: KpiImport,
    plain: PlainCsv,
    report: services.KpiImportReport,
    cells: list[str],
) -> None:
    """The rows SQL did not accept, checked by the general path's code, in file order."""
    cursor.execute(
        f"SELECT r.n + 1, {', '.join('r.' + c for c in cells)} FROM kpi_raw r "  # noqa: S608
        "WHERE NOT EXISTS (SELECT 1 FROM kpi_rows c WHERE c.row = r.n + 1) ORDER BY r.n"
    )

    def numbered() -> Iterator[tuple[int, list[str]]]:
        while batch := cursor.fetchmany(5000):
            for number, *values in batch:
                yield number, [v or "" for v in values]

    rows = _pick_rows(numbered(), plain.index_of)
    table = KpiTable(
        name=report.file, file_format="csv", encoding=plain.encoding,
        delimiter=plain.delimiter, header_row=1, headers=plain.headers,
        mapped={f: plain.headers[i].strip() for f, i in plain.index_of.items()},
        rows=rows, line_estimate=0,
    )
    rows_total = report.rows
    scan = services._Scan(kpi_import_row, table, report, None)
    collector = _Collector()
    scan.run(collector, dedupe=False)
    report.rows = rows_total
    if collector.rows:
        with connection.cursor() as writer, writer.cursor.copy(
            "COPY kpi_rows (row, person_id, employee_number, sale_key, occurred_on, day, "
            "quantity, num, kind, cancel, amount) FROM STDIN"
        ) as copy:
            for (person_id, employee_number, sale_key, kind, occurred_on, quantity, amount,
                 number) in collector.rows:
                copy.write_row((number, person_id, employee_number, sale_key, occurred_on,
                                occurred_on, quantity, quantity, kind,
                                kind == RecordKind.CANCELLATION, amount))


def _judge_repeated_sale_ids(cursor: Any, report: services.KpiImportReport) -> None:
    """Rows whose sale id came earlier in the file: an identical row is a duplicate, other
    values reject the row; the first row stays (the general path's rule)."""
    cursor.execute(
        "SELECT r.row, r.cancel, r.sale_key, r.employee_number, r.occurred_on, r.quantity, "
        "r.amount FROM kpi_rows r JOIN (SELECT cancel, sale_key FROM kpi_rows "
        "GROUP BY cancel, sale_key HAVING count(*) > 1) d USING (cancel, sale_key) "
        "ORDER BY r.row"
    )
    first: dict[tuple[bool, str], tuple[int, tuple[Any, ...]]] = {}
    dropped: list[int] = []
    rejected: list[dict[str, Any]] = []
    limit = services.REPORT_LIST_LIMIT
    for row, cancel, sale_key, employee_number, occurred_on, quantity, amount in cursor:
        values = (employee_number, occurred_on, quantity, amount)
        earlier = first.get((cancel, sale_key))
        if earlier is None:
            first[cancel, sale_key] = (row, values)
            continue
        dropped.append(row)
        if earlier[1] == values:
            report.duplicates += 1
            if len(report.duplicate_rows) < limit:
                report.duplicate_rows.append(
                    {"row": row, "first_row": earlier[0], "sale_key": sale_key}
                )
        else:
            report.rejected += 1
            if len(rejected) < limit:
                rejected.append(
                    {"row": row, "employee_number": employee_number, "sale_key": sale_key,
                     "reasons": [
                         _("sale id %(key)s is already in row %(row)s with other values")
                         % {"key": sale_key, "row": earlier[0]}
                     ]}
                )
    if rejected:
        report.rejected_rows = sorted(
            report.rejected_rows + rejected, key=lambda r: int(r["row"])
        )[:limit]
    if dropped:
        cursor.execute("DELETE FROM kpi_rows WHERE row = ANY(%s)", [dropped])


def _point_rows(cursor: Any, kpi_import_row: KpiImport) -> _Rows:
    """Sales of people enrolled in a program running that day, and every cancellation."""
    rows = _Rows(enrolled=services.enrolled_programs(kpi_import_row.organization_id))
    columns = "row, person_id, sale_key, occurred_on, quantity"
    if rows.enrolled:
        _temp_table(
            cursor, "kpi_enrolled", "person_id bigint, first_day date, last_day date",
            [(person_id, first, last) for person_id, programs in rows.enrolled.items()
             for _program, first, last in programs],
        )
        cursor.execute(
            f"SELECT {columns} FROM kpi_rows r WHERE NOT cancel AND EXISTS (SELECT 1 "  # noqa: S608
            "FROM kpi_enrolled e WHERE e.person_id = r.person_id "
            "AND r.occurred_on::date BETWEEN e.first_day AND e.last_day) ORDER BY row"
        )
        rows.candidates = [
            services._Candidate(row, person_id, sale_key, RecordKind.SALE, occurred_on, quantity)
            for row, person_id, sale_key, occurred_on, quantity in cursor.fetchall()
        ]
    cursor.execute(f"SELECT {columns} FROM kpi_rows WHERE cancel ORDER BY row")  # noqa: S608
    rows.cancellations = [
        services._Candidate(row, person_id, sale_key, RecordKind.CANCELLATION, occurred_on,
                            quantity)
        for row, person_id, sale_key, occurred_on, quantity in cursor.fetchall()
    ]
    return rows
