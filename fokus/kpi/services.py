"""Writes for KPI: sources, the import of an export file, the drop folder, uploads.

The partial-import rule (docs/kpi-import.md): every row is checked; valid rows are
imported and rejected rows are listed with their row numbers and reasons, and the
import's status, report and the CLI's exit code say "partial" whenever a row was
rejected. With `strict` one rejected row means nothing is written. A file that
cannot be read at all (encoding, header) writes nothing.

Idempotency: a sale is (source, sale key, kind); the unique constraint drops a sale
that is already stored, so re-importing a file adds no record and, because points are
only given for records this import created, no points either. An exact duplicate row
inside a file is reported as a duplicate; the same sale key with other values is a
rejected row.

Speed (bench/bench_kpi_import.py): on PostgreSQL a plain CSV file is parsed by the
server and checked set-based (fokus/kpi/pg_import.py, same report). Otherwise one pass
over the rows with cached value parsers and one dict of employee numbers; rows go to
PostgreSQL by COPY into a temporary table and one INSERT … ON CONFLICT DO NOTHING, to
SQLite by executemany in batches.

`kpi_import` is deliberately not one transaction from end to end: the history row
(KpiImport) is written first and kept even when the import fails, so a failed
nightly run is visible on the history page. The records and points are written in
one transaction.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from fokus.core import clock
from fokus.core.models import Organization
from fokus.kpi.kpi_file import DateParser, KpiFileError, KpiTable, NumberParser, read_kpi_file
from fokus.kpi.models import (
    REQUIRED_FIELDS,
    Encoding,
    ImportChannel,
    ImportStatus,
    KpiField,
    KpiImport,
    KpiRecord,
    KpiSource,
    RecordKind,
    default_columns,
)
from fokus.kpi.queries import UPLOAD_SALT, upload_folder
from fokus.leaderboard.services import standings_refresh
from fokus.people.models import Person
from fokus.programs.models import Enrollment, EnrollmentStatus, Program
from fokus.scoring.services import kpi_points_record, kpi_points_reverse

logger = logging.getLogger(__name__)

# Lists in a stored report are cut here (counts stay exact): a file of a million bad
# rows must not make a million-entry JSON.
REPORT_LIST_LIMIT = 1000
_SQLITE_CACHE_KIB = 256 * 1024
_PROGRESS_EVERY = 20_000
# Statuses that make the same bytes "already imported" for the push and the drop folder.
SETTLED = (ImportStatus.QUEUED, ImportStatus.RUNNING, ImportStatus.OK, ImportStatus.PARTIAL)

Progress = Callable[[int, int], None]  # (rows done, estimated total)


# --- sources ----------------------------------------------------------------------------


@transaction.atomic
def kpi_source_create(
    *,
    organization: Organization,
    slug: str,
    name: str,
    metric: str = "cars_sold",
    columns: dict[str, list[str]] | None = None,
    date_format: str = "%d.%m.%Y",
    decimal_comma: bool = True,
    encoding: str = Encoding.AUTO,
) -> KpiSource:
    """A source with its column mapping; raises ValidationError naming the field."""
    mapping = default_columns()
    for key, names in (columns or {}).items():
        if key not in KpiField.values:
            raise ValidationError(
                {"columns": _("unknown column “%(key)s”; known: %(known)s")
                 % {"key": key, "known": ", ".join(KpiField.values)}}
            )
        cleaned = [n.strip() for n in names if n.strip()]
        if not cleaned and key in REQUIRED_FIELDS:
            raise ValidationError(
                {"columns": _("column “%(key)s” needs a header name") % {"key": key}}
            )
        mapping[key] = cleaned
    source = KpiSource(
        organization=organization, slug=slug, name=name, metric=metric, columns=mapping,
        date_format=date_format, decimal_comma=decimal_comma, encoding=encoding,
    )
    source.full_clean()
    source.save()
    return source


# --- the report -------------------------------------------------------------------------


@dataclass(slots=True)
class KpiImportReport:
    file: str
    sha256: str
    source: str
    dry_run: bool
    strict: bool
    status: str = ImportStatus.RUNNING
    file_format: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    valid: int = 0
    sales: int = 0
    cancellations: int = 0
    new: int = 0
    already_imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    empty: int = 0
    points_recorded: int = 0
    points_reversed: int = 0
    without_points: int = 0
    errors: list[str] = field(default_factory=list)
    rejected_rows: list[dict[str, Any]] = field(default_factory=list)
    duplicate_rows: list[dict[str, Any]] = field(default_factory=list)
    empty_rows: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "source": self.source,
            "status": str(self.status),
            "summary": report_summary(self),
            "dry_run": self.dry_run,
            "strict": self.strict,
            "format": self.file_format,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "columns": self.columns,
            "counts": {
                "rows": self.rows,
                "valid": self.valid,
                "sales": self.sales,
                "cancellations": self.cancellations,
                "new": self.new,
                "already_imported": self.already_imported,
                "duplicates": self.duplicates,
                "rejected": self.rejected,
                "empty": self.empty,
                "points_recorded": self.points_recorded,
                "points_reversed": self.points_reversed,
                "without_points": self.without_points,
            },
            "errors": self.errors,
            "rejected": self.rejected_rows,
            "duplicates": self.duplicate_rows,
            "empty_rows": self.empty_rows,
            "warnings": self.warnings,
            "programs": self.programs,
        }


def report_summary(report: KpiImportReport) -> str:
    """One loud sentence: never lets a partial import look like a complete one."""
    status = report.status
    if status == ImportStatus.FAILED:
        return _("FAILED: the file cannot be imported; nothing was written.")
    rejected = ngettext(
        "%(count)s row rejected", "%(count)s rows rejected", report.rejected
    ) % {"count": report.rejected}
    if status == ImportStatus.REJECTED:
        return _("REJECTED (strict): %(rejected)s; nothing was written.") % {"rejected": rejected}
    new = ngettext("%(count)s new record", "%(count)s new records", report.new) % {
        "count": report.new
    }
    counts = _("%(new)s, %(old)s already imported, %(dups)s duplicate rows, %(empty)s empty") % {
        "new": new, "old": report.already_imported, "dups": report.duplicates,
        "empty": report.empty,
    }
    if report.dry_run:
        prefix = (
            _("DRY RUN, would be PARTIAL: %(rejected)s") % {"rejected": rejected}
            if report.rejected else _("DRY RUN")
        )
        return _("%(prefix)s; %(counts)s; nothing was written.") % {
            "prefix": prefix, "counts": counts
        }
    if status == ImportStatus.PARTIAL:
        return _("PARTIAL: %(rejected)s; the valid rows were imported: %(counts)s.") % {
            "rejected": rejected, "counts": counts
        }
    return _("Imported: %(counts)s.") % {"counts": counts}


# --- importing --------------------------------------------------------------------------


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def kpi_import(
    *,
    organization: Organization,
    source: KpiSource,
    data: bytes,
    file_name: str,
    dry_run: bool = False,
    strict: bool = False,
    channel: str = ImportChannel.CLI,
    started_by: Person | None = None,
    progress: Progress | None = None,
) -> KpiImport:
    """Import an export file of `source` now; returns the history row with its report."""
    if source.organization_id != organization.pk:
        raise ValueError("the source belongs to another organisation")
    moment = clock.now()
    kpi_import_row = KpiImport.objects.create(
        organization=organization, source=source, file_name=file_name[:300],
        sha256=file_sha256(data), channel=channel, started_by=started_by, dry_run=dry_run,
        strict=strict, status=ImportStatus.RUNNING, created_at=moment, started_at=moment,
    )
    return _execute(kpi_import_row, data, progress)


def kpi_import_check(
    *, organization: Organization, source: KpiSource, data: bytes, file_name: str
) -> dict[str, Any]:
    """The full validation report of a dry run, without a history row (the upload preview)."""
    if source.organization_id != organization.pk:
        raise ValueError("the source belongs to another organisation")
    unsaved = KpiImport(
        organization=organization, source=source, file_name=file_name[:300],
        sha256=file_sha256(data), channel=ImportChannel.UPLOAD, dry_run=True,
        created_at=clock.now(),
    )
    return _execute(unsaved, data, None).report


@dataclass(frozen=True, slots=True)
class QueuedImport:
    kpi_import: KpiImport
    path: str  # the stored copy the task reads; "" when nothing new was queued
    created: bool  # False: the same bytes were already imported (or are queued)


@transaction.atomic
def kpi_import_queue(
    *,
    organization: Organization,
    source: KpiSource,
    data: bytes,
    file_name: str,
    channel: str,
    started_by: Person | None = None,
    strict: bool = False,
) -> QueuedImport:
    """Keep the file and create a queued import; the caller enqueues the task on commit.

    The same bytes for the same source answer the existing import: pushing a file twice
    (a retry after a timeout) imports it once.
    """
    if source.organization_id != organization.pk:
        raise ValueError("the source belongs to another organisation")
    digest = file_sha256(data)
    existing = (
        KpiImport.objects.filter(source=source, sha256=digest, dry_run=False, status__in=SETTLED)
        .order_by("created_at", "pk")
        .first()
    )
    if existing is not None:
        return QueuedImport(existing, "", False)
    kpi_import_row = KpiImport.objects.create(
        organization=organization, source=source, file_name=file_name[:300], sha256=digest,
        channel=channel, started_by=started_by, strict=strict, status=ImportStatus.QUEUED,
        created_at=clock.now(),
    )
    inbox = _folder("FOKUS_KPI_INBOX_DIR", "kpi-inbox")
    path = inbox / f"{kpi_import_row.pk}-{secrets.token_hex(8)}.bin"
    path.write_bytes(data)
    return QueuedImport(kpi_import_row, str(path), True)


def kpi_import_run_queued(*, import_id: int, path: str) -> KpiImport | None:
    """Run a queued import (the task's body). Running it twice does nothing more."""
    with transaction.atomic():
        claimed = KpiImport.objects.filter(pk=import_id, status=ImportStatus.QUEUED).update(
            status=ImportStatus.RUNNING, started_at=clock.now()
        )
    kpi_import_row = KpiImport.objects.select_related("source", "organization").filter(
        pk=import_id
    ).first()
    if not claimed or kpi_import_row is None:
        return kpi_import_row
    stored = Path(path)
    try:
        data = stored.read_bytes()
    except OSError as exc:
        report = _new_report(kpi_import_row)
        report.errors.append(
            _("%(file)s: the stored copy is gone: %(error)s")
            % {"file": kpi_import_row.file_name, "error": exc.strerror or exc}
        )
        return _finish(kpi_import_row, report, ImportStatus.FAILED)
    result = _execute(kpi_import_row, data, None)
    stored.unlink(missing_ok=True)
    return result


def _new_report(kpi_import_row: KpiImport) -> KpiImportReport:
    return KpiImportReport(
        file=kpi_import_row.file_name, sha256=kpi_import_row.sha256,
        source=kpi_import_row.source.slug, dry_run=kpi_import_row.dry_run,
        strict=kpi_import_row.strict,
    )


def _finish(kpi_import_row: KpiImport, report: KpiImportReport, status: str) -> KpiImport:
    report.status = status
    kpi_import_row.status = status
    kpi_import_row.finished_at = clock.now()
    kpi_import_row.rows = report.rows
    kpi_import_row.created_records = report.new
    kpi_import_row.rejected_rows = report.rejected
    kpi_import_row.report = report.as_dict()
    if kpi_import_row.pk is None:
        return kpi_import_row  # a check (the upload preview): nothing is stored
    kpi_import_row.save(
        update_fields=["status", "finished_at", "rows", "created_records", "rejected_rows",
                       "report"]
    )
    return kpi_import_row


class _StrictRollback(Exception):
    """Leaves the write transaction when `strict` meets a rejected row."""


def _execute(kpi_import_row: KpiImport, data: bytes, progress: Progress | None) -> KpiImport:
    source = kpi_import_row.source
    report = _new_report(kpi_import_row)
    if connection.vendor == "postgresql":
        # The server parses plain CSV files and checks them set-based (pg_import.py).
        from fokus.kpi import pg_import

        plain = pg_import.plain_csv(
            data, name=kpi_import_row.file_name, columns=source.columns, encoding=source.encoding
        )
        if plain is not None:
            done = pg_import.import_plain_csv(kpi_import_row, plain, report, progress)
            if done is not None:
                return done
            report = _new_report(kpi_import_row)
    try:
        table = read_kpi_file(
            data, name=kpi_import_row.file_name, columns=source.columns, encoding=source.encoding
        )
    except KpiFileError as exc:
        report.errors.append(str(exc))
        return _finish(kpi_import_row, report, ImportStatus.FAILED)
    del data
    report.file_format, report.encoding, report.delimiter = (
        table.file_format, table.encoding, table.delimiter
    )
    report.columns = table.mapped
    scan = _Scan(kpi_import_row, table, report, progress)
    # A million rows leave a million small objects alive (the seen-keys dict): the cyclic
    # collector would rescan them again and again; reference counting frees everything.
    collecting = gc.isenabled()
    gc.disable()
    try:
        if kpi_import_row.dry_run:
            scan.run(None)
            existing = scan.existing_keys()
            report.new = len(scan.seen.keys() - existing)
        else:
            with transaction.atomic():
                writer = _PostgresWriter(kpi_import_row) if connection.vendor == "postgresql" \
                    else _SqliteWriter(kpi_import_row)
                try:
                    scan.run(writer)
                    if kpi_import_row.strict and report.rejected:
                        raise _StrictRollback
                except BaseException as exc:
                    writer.abort(exc)
                    raise
                report.new = writer.finish()
                touched = _award_points(kpi_import_row, scan, report)
                _refresh_standings(touched)
    except _StrictRollback:
        report.new = 0
        return _finish(kpi_import_row, report, ImportStatus.REJECTED)
    except KpiFileError as exc:
        report.new = 0
        report.errors.append(str(exc))
        return _finish(kpi_import_row, report, ImportStatus.FAILED)
    finally:
        if collecting:
            gc.enable()
    report.already_imported = report.valid - report.new
    status = ImportStatus.PARTIAL if report.rejected else ImportStatus.OK
    return _finish(kpi_import_row, report, status)


def _refresh_standings(program_ids: set[int]) -> None:
    """Boards are precomputed (fokus.leaderboard): refresh the ones this import changed,
    in the import's transaction, so no reader sees a board behind the ledger."""
    for program in Program.objects.filter(pk__in=program_ids):
        standings_refresh(program=program)


def enrolled_programs(organization_id: int) -> dict[int, list[tuple[int, str, str]]]:
    """person -> programs with an active enrollment, as (program id, first, last day)."""
    enrolled: dict[int, list[tuple[int, str, str]]] = {}
    rows = (
        Enrollment.objects.filter(
            track__program__organization_id=organization_id,
            status=EnrollmentStatus.ACTIVE,
        )
        .values_list(
            "person_id", "track__program_id", "track__program__starts_on",
            "track__program__ends_on",
        )
        .distinct()
    )
    for person_id, program_id, starts_on, ends_on in rows:
        enrolled.setdefault(person_id, []).append(
            (program_id, starts_on.isoformat(), ends_on.isoformat())
        )
    return enrolled


@dataclass(slots=True)
class _Candidate:
    """A valid row of a person enrolled somewhere: it may earn or reverse points."""

    row: int
    person_id: int
    sale_key: str
    kind: str
    occurred_on: str
    quantity: str


class _Scan:
    """One pass over the rows: validation, duplicates, and rows handed to a writer."""

    def __init__(
        self,
        kpi_import_row: KpiImport,
        table: KpiTable,
        report: KpiImportReport,
        progress: Progress | None,
    ) -> None:
        self.kpi_import = kpi_import_row
        self.source = kpi_import_row.source
        self.table = table
        self.report = report
        self.progress = progress
        # sale key (cancellations prefixed with NUL) -> row << 32 | hash of the values
        self.seen: dict[str, int] = {}
        self.candidates: list[_Candidate] = []
        self.cancellations: list[_Candidate] = []
        organization_id = kpi_import_row.organization_id
        self.people: dict[str, int] = dict(
            Person.objects.filter(organization_id=organization_id).values_list(
                "employee_number", "id"
            )
        )
        self.enrolled = enrolled_programs(organization_id)

    def existing_keys(self) -> set[str]:
        return {
            key if kind == RecordKind.SALE else "\x00" + key
            for key, kind in KpiRecord.objects.filter(source=self.source).values_list(
                "sale_key", "kind"
            )
        }

    def _reject(self, row: int, employee_number: str, sale_key: str, reasons: list[str]) -> None:
        report = self.report
        report.rejected += 1
        if len(report.rejected_rows) < REPORT_LIST_LIMIT:
            report.rejected_rows.append(
                {"row": row, "employee_number": employee_number, "sale_key": sale_key,
                 "reasons": reasons}
            )

    def run(self, writer: _Writer | None, *, dedupe: bool = True) -> None:
        """Check every row; valid rows go to `writer`. Without `dedupe` the caller finds
        repeated sale ids itself (the PostgreSQL path, over the whole file)."""
        report = self.report
        source = self.source
        people_get = self.people.get
        enrolled = self.enrolled
        seen = self.seen
        parse_date = DateParser(source.date_format)
        parse_quantity = NumberParser(
            decimal_comma=source.decimal_comma, integer_digits=9, decimal_places=3,
            what=_("quantity"), cache=True,
        )
        parse_amount = NumberParser(
            decimal_comma=source.decimal_comma, integer_digits=14, decimal_places=2,
            what=_("amount"), cache=False,
        )
        date_cache = parse_date.cache
        quantity_cache: dict[str, tuple[str, str]] = {}
        has_quantity = KpiField.QUANTITY in self.table.mapped
        has_amount = KpiField.AMOUNT in self.table.mapped
        add = writer.add if writer is not None else None
        flush = writer.flush if writer is not None else None
        progress = self.progress
        total = self.table.line_estimate
        done = 0
        for number, values in self.table.rows:
            done += 1
            if not done % _PROGRESS_EVERY:
                if progress is not None:
                    progress(done, total)
                if flush is not None:
                    flush()
            if values is None:
                report.empty += 1
                if len(report.empty_rows) < REPORT_LIST_LIMIT:
                    report.empty_rows.append(number)
                continue
            employee_number, date_text, sale_key, quantity_text, amount_text = values
            reasons: list[str] = []
            person_id = people_get(employee_number)
            if person_id is None:
                reasons.append(
                    _("employee number %(number)s is not in the roster")
                    % {"number": employee_number}
                    if employee_number else _("the employee number is empty")
                )
            date_hit = date_cache.get(date_text)
            if date_hit is None:
                date_hit = parse_date(date_text)
            occurred_on, problem = date_hit
            if problem:
                reasons.append(problem)
            if not sale_key:
                reasons.append(_("the sale id (VIN) is empty"))
            elif len(sale_key) > 64:
                reasons.append(_("the sale id is longer than 64 characters"))
            if has_quantity:
                quantity_hit = quantity_cache.get(quantity_text)
                if quantity_hit is None:
                    quantity_hit = quantity_cache[quantity_text] = parse_quantity(quantity_text)
                quantity, problem = quantity_hit
                if problem:
                    reasons.append(problem)
                elif not quantity.strip("-0."):
                    reasons.append(_("quantity 0 is neither a sale nor a cancellation"))
            else:
                quantity = "1"
            amount: str | None = None
            if has_amount and amount_text:
                amount, problem = parse_amount(amount_text)
                if problem:
                    reasons.append(problem)
            if reasons:
                self._reject(number, employee_number, sale_key, reasons)
                continue
            cancellation = quantity[0] == "-"
            key = "\x00" + sale_key if cancellation else sale_key
            signature = hash((employee_number, occurred_on, quantity, amount)) & 0xFFFFFFFF
            previous = seen.get(key) if dedupe else None
            if previous is not None:
                if previous & 0xFFFFFFFF == signature:
                    report.duplicates += 1
                    if len(report.duplicate_rows) < REPORT_LIST_LIMIT:
                        report.duplicate_rows.append(
                            {"row": number, "first_row": previous >> 32, "sale_key": sale_key}
                        )
                else:
                    self._reject(number, employee_number, sale_key, [
                        _("sale id %(key)s is already in row %(row)s with other values")
                        % {"key": sale_key, "row": previous >> 32}
                    ])
                continue
            if dedupe:
                seen[key] = number << 32 | signature
            report.valid += 1
            kind = RecordKind.CANCELLATION if cancellation else RecordKind.SALE
            if cancellation:
                report.cancellations += 1
                self.cancellations.append(
                    _Candidate(number, person_id, sale_key, kind, occurred_on, quantity)  # type: ignore[arg-type]
                )
            else:
                report.sales += 1
                programs = enrolled.get(person_id)  # type: ignore[arg-type]
                if programs is not None and any(
                    first <= occurred_on <= last for _p, first, last in programs
                ):
                    self.candidates.append(
                        _Candidate(number, person_id, sale_key, kind, occurred_on, quantity)  # type: ignore[arg-type]
                    )
            if add is not None:
                add((person_id, employee_number, sale_key, kind, occurred_on, quantity, amount,
                     number))
        report.rows = done
        if progress is not None:
            progress(done, done)


# --- writers ----------------------------------------------------------------------------

_COLUMNS = ("person_id", "employee_number", "sale_key", "kind", "occurred_on", "quantity",
            "amount", "row")
_CONSTANT_COLUMNS = ("organization_id", "source_id", "kpi_import_id", "metric")


class _Writer:
    def add(self, row: tuple[Any, ...]) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Called every _PROGRESS_EVERY rows: a writer that batches may write now."""

    def finish(self) -> int:
        """Store what was added; returns how many records are new."""
        raise NotImplementedError

    def abort(self, exc: BaseException) -> None:
        """Give up (the transaction is rolled back right after)."""


def _constants(kpi_import_row: KpiImport) -> tuple[Any, ...]:
    return (kpi_import_row.organization_id, kpi_import_row.source_id, kpi_import_row.pk,
            kpi_import_row.source.metric)


class _SqliteWriter(_Writer):
    """Batches of executemany INSERT … ON CONFLICT DO NOTHING on the sqlite3 connection.

    The per-import values are literals in the statement (a row binds 8 values, not 12),
    and the page cache is raised for the import: three B-trees of a million entries do
    not fit the default 2 MB, and every insert would read index pages back. The cache
    size is memory only (no durability setting changes) and is restored afterwards.
    """

    def __init__(self, kpi_import_row: KpiImport) -> None:
        organization_id, source_id, import_id, metric = _constants(kpi_import_row)
        table = KpiRecord._meta.db_table
        metric_literal = "'" + str(metric).replace("'", "''") + "'"
        literals = (f"{int(organization_id)}, {int(source_id)}, {int(import_id)}, "
                    f"{metric_literal}")
        self.sql = (
            f'INSERT INTO "{table}" ({", ".join(_CONSTANT_COLUMNS + _COLUMNS)}) '  # noqa: S608
            f"VALUES ({literals}, {', '.join(['?'] * len(_COLUMNS))}) "
            "ON CONFLICT (source_id, sale_key, kind) DO NOTHING"
        )
        connection.ensure_connection()
        self.db = connection.connection
        self.cache_size = self.db.execute("PRAGMA cache_size").fetchone()[0]
        self.db.execute(f"PRAGMA cache_size = {-_SQLITE_CACHE_KIB}")
        self.batch: list[tuple[Any, ...]] = []
        self.add = self.batch.append  # type: ignore[method-assign,assignment]
        self.inserted = 0

    def add(self, row: tuple[Any, ...]) -> None:
        self.batch.append(row)

    def flush(self) -> None:
        if self.batch:
            self.inserted += max(self.db.executemany(self.sql, self.batch).rowcount, 0)
            self.batch.clear()

    def _restore(self) -> None:
        self.db.execute(f"PRAGMA cache_size = {int(self.cache_size)}")

    def abort(self, exc: BaseException) -> None:
        self._restore()

    def finish(self) -> int:
        try:
            self.flush()
        finally:
            self._restore()
        return self.inserted


_COPY_CHUNK = 1 << 20


def _copy_text(value: str) -> str:
    return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def source_write_lock(cursor: Any, source_id: int) -> None:
    """Serialise the imports of one source on PostgreSQL (until the transaction ends).

    The fast path's new-records-only INSERT then needs no ON CONFLICT: nobody else can
    add a record of this source between its anti-join and its insert (a speculative
    insertion per row costs a quarter of the whole INSERT).
    """
    cursor.execute(
        f'SELECT id FROM "{KpiSource._meta.db_table}" WHERE id = %s FOR UPDATE',  # noqa: S608
        [source_id],
    )


class _PostgresWriter(_Writer):
    """COPY into a temporary table, then one INSERT … SELECT … ON CONFLICT DO NOTHING.

    COPY text is built here in 1 MB chunks: psycopg's write_row formats each value in
    Python and costs more than the whole rest of the row's work.
    """

    def __init__(self, kpi_import_row: KpiImport) -> None:
        self.kpi_import = kpi_import_row
        self.cursor = connection.cursor()
        source_write_lock(self.cursor, kpi_import_row.source_id)
        self.cursor.execute("DROP TABLE IF EXISTS kpi_staging")
        self.cursor.execute(
            "CREATE TEMPORARY TABLE kpi_staging (person_id bigint, employee_number text, "
            "sale_key text, kind text, occurred_on date, quantity numeric, amount numeric, "
            "row integer) ON COMMIT DROP"
        )
        self.copy_context = self.cursor.cursor.copy(
            f"COPY kpi_staging ({', '.join(_COLUMNS)}) FROM STDIN"
        )
        self.copy = self.copy_context.__enter__()
        self.parts: list[str] = []
        self.size = 0

    def add(self, row: tuple[Any, ...]) -> None:
        person_id, employee_number, sale_key, kind, occurred_on, quantity, amount, number = row
        if not (employee_number.isprintable() and "\\" not in employee_number):
            employee_number = _copy_text(employee_number)
        if not (sale_key.isprintable() and "\\" not in sale_key):
            sale_key = _copy_text(sale_key)
        line = (
            f"{person_id}\t{employee_number}\t{sale_key}\t{kind}\t{occurred_on}\t{quantity}\t"
            f"{'\\N' if amount is None else amount}\t{number}\n"
        )
        self.parts.append(line)
        self.size += len(line)
        if self.size >= _COPY_CHUNK:
            self.copy.write("".join(self.parts))
            self.parts = []
            self.size = 0

    def abort(self, exc: BaseException) -> None:
        # Ends the COPY with CopyFail; a connection left inside COPY would hang the rollback.
        self.copy_context.__exit__(type(exc), exc, exc.__traceback__)
        self.cursor.close()

    def finish(self) -> int:
        if self.parts:
            self.copy.write("".join(self.parts))
            self.parts = []
        self.copy_context.__exit__(None, None, None)
        table = KpiRecord._meta.db_table
        columns = ", ".join(_CONSTANT_COLUMNS + _COLUMNS)
        try:
            self.cursor.execute(
                f'INSERT INTO "{table}" ({columns}) '  # noqa: S608 (names from the model)
                f"SELECT %s, %s, %s, %s, {', '.join(_COLUMNS)} FROM kpi_staging "
                "ON CONFLICT (source_id, sale_key, kind) DO NOTHING",
                list(_constants(self.kpi_import)),
            )
            inserted = self.cursor.rowcount
            self.cursor.execute("DROP TABLE kpi_staging")
        finally:
            self.cursor.close()
        return inserted


# --- points -----------------------------------------------------------------------------


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _created_here(kpi_import_row: KpiImport, keys: Iterable[str], kind: str) -> set[str]:
    """Sale keys of `kind` whose record this import created (not an older one)."""
    found: set[str] = set()
    for chunk in _chunks(sorted(set(keys))):
        found.update(
            KpiRecord.objects.filter(
                source_id=kpi_import_row.source_id, kind=kind, sale_key__in=chunk,
                kpi_import=kpi_import_row,
            ).values_list("sale_key", flat=True)
        )
    return found


class _PointRows(Protocol):
    @property
    def candidates(self) -> list[_Candidate]: ...
    @property
    def cancellations(self) -> list[_Candidate]: ...
    @property
    def enrolled(self) -> dict[int, list[tuple[int, str, str]]]: ...


def _award_points(
    kpi_import_row: KpiImport, scan: _PointRows, report: KpiImportReport
) -> set[int]:
    """Points for this import's new sales of enrolled people; reversals for cancellations.

    For every program of the organisation running on the sale's date (starts_on ≤ date
    ≤ ends_on) in which the person has an active enrollment, the scoring ledger gets
    `kpi_points_record`; a cancelled sale gets `kpi_points_reverse` in every program the
    seller was ever enrolled in. The ledger's idempotency keys make both safe to repeat.
    """
    source = kpi_import_row.source
    touched: set[int] = set()
    new_sales = _created_here(kpi_import_row, (c.sale_key for c in scan.candidates),
                              RecordKind.SALE)
    sales = [c for c in scan.candidates if c.sale_key in new_sales]
    new_cancellations = _created_here(
        kpi_import_row, (c.sale_key for c in scan.cancellations), RecordKind.CANCELLATION
    )
    # A sale that arrives after its cancellation is reversed right after it is recorded.
    cancelled = set(new_cancellations)
    for chunk in _chunks([c.sale_key for c in sales]):
        cancelled.update(
            KpiRecord.objects.filter(
                source=source, kind=RecordKind.CANCELLATION, sale_key__in=chunk
            ).values_list("sale_key", flat=True)
        )
    person_ids = {c.person_id for c in sales}
    seller_of: dict[str, int] = {}
    for chunk in _chunks(sorted(cancelled)):
        for key, person_id in KpiRecord.objects.filter(
            source=source, kind=RecordKind.SALE, sale_key__in=chunk
        ).exclude(person=None).values_list("sale_key", "person_id"):
            seller_of[key] = person_id
    person_ids.update(seller_of.values())
    people = Person.objects.in_bulk(person_ids)
    programs = Program.objects.filter(organization_id=kpi_import_row.organization_id).in_bulk()
    metric = source.metric
    enrolled = scan.enrolled
    for sale in sales:
        person = people[sale.person_id]
        occurred_on = date.fromisoformat(sale.occurred_on)
        for program_id, first, last in enrolled.get(sale.person_id, ()):
            if not first <= sale.occurred_on <= last:
                continue
            entry = kpi_points_record(
                program=programs[program_id], person=person, metric=metric,
                quantity=Decimal(sale.quantity), sale_key=sale.sale_key,
                occurred_on=occurred_on,
            )
            if entry is not None:
                report.points_recorded += 1
                touched.add(program_id)
    report.without_points = max(report.new - len(sales) - len(new_cancellations), 0)
    if cancelled:
        ever_enrolled: dict[int, set[int]] = {}
        for person_id, program_id in Enrollment.objects.filter(
            person_id__in=set(seller_of.values()),
            track__program__organization_id=kpi_import_row.organization_id,
        ).values_list("person_id", "track__program_id"):
            ever_enrolled.setdefault(person_id, set()).add(program_id)
        for key in sorted(cancelled):
            seller = seller_of.get(key)
            if seller is None:
                if key in new_cancellations and len(report.warnings) < REPORT_LIST_LIMIT:
                    report.warnings.append(
                        _("cancellation of %(key)s: no sale with this id has been imported, "
                          "so there are no points to reverse") % {"key": key}
                    )
                continue
            for program_id in sorted(ever_enrolled.get(seller, ())):
                entry = kpi_points_reverse(
                    program=programs[program_id], person=people[seller], sale_key=key,
                    reason=_("sale %(key)s cancelled (%(file)s)")
                    % {"key": key, "file": kpi_import_row.file_name},
                )
                if entry is not None:
                    report.points_reversed += 1
                    touched.add(program_id)
    report.programs = sorted(programs[p].slug for p in touched)
    return touched


# --- drop folder ------------------------------------------------------------------------


def _folder(setting: str, default: str) -> Path:
    root = getattr(settings, setting, None) or Path(settings.DATA_DIR) / default
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def drop_folder(organization: Organization, source: KpiSource) -> Path:
    """FOKUS_KPI_DROP_DIR/<organisation slug>/<source slug>/"""
    root = getattr(settings, "FOKUS_KPI_DROP_DIR", None) or Path(settings.DATA_DIR) / "kpi-drop"
    return Path(root) / organization.slug / source.slug


@dataclass(frozen=True, slots=True)
class DropResult:
    file_name: str
    kpi_import: KpiImport
    moved_to: str
    already_imported: bool


def _is_waiting_file(path: Path) -> bool:
    # A file still being copied is named .part/.tmp or hidden; it is picked up once renamed.
    return (path.is_file() and not path.name.startswith((".", "~"))
            and path.suffix.lower() not in {".part", ".tmp", ".partial"})


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    target = folder / f"{stamp}-{path.name}"
    counter = 1
    while target.exists():
        target = folder / f"{stamp}-{counter}-{path.name}"
        counter += 1
    shutil.move(str(path), target)
    return target


def kpi_drop_folder_import(*, organization: Organization, source: KpiSource) -> list[DropResult]:
    """Import each new file of the source's drop folder once, then move it away.

    Imported (fully or partially) files go to processed/, unreadable or strictly
    rejected ones to failed/. A file whose bytes were already imported for this source
    is not imported again; it is moved to processed/ and its result names that import.
    """
    folder = drop_folder(organization, source)
    if not folder.is_dir():
        return []
    results: list[DropResult] = []
    for path in sorted(p for p in folder.iterdir() if _is_waiting_file(p)):
        try:
            data = path.read_bytes()
        except OSError:
            logger.warning("KPI drop folder: cannot read %s; left for the next run", path)
            continue
        earlier = (
            KpiImport.objects.filter(
                source=source, sha256=file_sha256(data), dry_run=False, status__in=SETTLED
            )
            .order_by("created_at", "pk")
            .first()
        )
        if earlier is not None:
            moved = _move(path, folder / "processed")
            results.append(DropResult(path.name, earlier, str(moved), True))
            continue
        done = kpi_import(
            organization=organization, source=source, data=data, file_name=path.name,
            channel=ImportChannel.DROP,
        )
        ok = done.status in (ImportStatus.OK, ImportStatus.PARTIAL)
        moved = _move(path, folder / ("processed" if ok else "failed"))
        results.append(DropResult(path.name, done, str(moved), False))
    return results


def kpi_drop_folders_import_all() -> list[DropResult]:
    """The nightly job: every source of every organisation that has a drop folder."""
    results: list[DropResult] = []
    for source in KpiSource.objects.select_related("organization").order_by("pk"):
        if drop_folder(source.organization, source).is_dir():
            results.extend(
                kpi_drop_folder_import(organization=source.organization, source=source)
            )
    return results


# --- uploads awaiting confirmation --------------------------------------------------------


def kpi_upload_store(
    *, organization: Organization, source: KpiSource, data: bytes, file_name: str
) -> str:
    """Keep an uploaded file until it is confirmed; returns the signed token naming it.

    The token (not the session) carries the file's name, so a preview in one tab and a
    confirmation in another cannot mix files up; files older than a day are removed.
    """
    if source.organization_id != organization.pk:
        raise ValueError("the source belongs to another organisation")
    folder = upload_folder()
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = clock.now().timestamp() - 86400
    for old in folder.glob("*.bin"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink(missing_ok=True)
        except OSError:
            continue
    stored = f"{secrets.token_hex(16)}.bin"
    (folder / stored).write_bytes(data)
    return signing.dumps(
        {"o": organization.pk, "s": source.pk, "f": stored, "n": file_name[:300]},
        salt=UPLOAD_SALT,
    )


def kpi_upload_discard(*, path: Path) -> None:
    path.unlink(missing_ok=True)
