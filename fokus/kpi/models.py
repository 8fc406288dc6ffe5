"""KPI sources (how an ERP/CRM export is laid out), KPI records and the import history.

A KPI record is one sale (or one cancellation of a sale) from an export. The sale key
(the VIN for cars) identifies it: the unique (source, sale key, kind) constraint is
what makes re-importing a file change nothing. Records are stored for everybody in
the roster, enrolled or not, because the uplift comparison needs both groups; points
come from the scoring ledger, not from here.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from fokus.core.models import Organization, slug_validator
from fokus.people.models import Person


class KpiField(models.TextChoices):
    """What a file column means; a source maps each to header names."""

    EMPLOYEE_NUMBER = "employee_number", _("employee number")
    OCCURRED_ON = "occurred_on", _("date")
    SALE_KEY = "sale_key", _("sale id (VIN)")
    QUANTITY = "quantity", _("quantity")
    AMOUNT = "amount", _("amount")


REQUIRED_FIELDS = (KpiField.EMPLOYEE_NUMBER, KpiField.OCCURRED_ON, KpiField.SALE_KEY)

# Fits ../shared/data/sales.csv and its English twin; a source can name other headers.
DEFAULT_COLUMNS: dict[str, list[str]] = {
    KpiField.EMPLOYEE_NUMBER: ["Табельный номер", "employee_number", "employee number"],
    KpiField.OCCURRED_ON: ["Дата продажи", "Дата", "date", "sale date", "sold on"],
    KpiField.SALE_KEY: ["VIN", "sale_id", "sale id"],
    KpiField.QUANTITY: ["Количество", "Кол-во", "quantity", "qty"],
    KpiField.AMOUNT: ["Сумма, руб.", "Сумма", "amount"],
}


def default_columns() -> dict[str, list[str]]:
    return {key: list(names) for key, names in DEFAULT_COLUMNS.items()}


class Encoding(models.TextChoices):
    AUTO = "auto", _("detect (UTF-8, cp1251, KOI8-R)")
    UTF8 = "utf-8", "UTF-8"
    CP1251 = "cp1251", "cp1251 (Windows)"
    KOI8R = "koi8-r", "KOI8-R"


class KpiSource(models.Model):
    """One export a company sends (the dealer ERP's sales, a CRM report), with its layout."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="kpi_sources",
        verbose_name=_("organisation"),
    )
    slug = models.CharField(_("slug"), max_length=64, validators=[slug_validator])
    name = models.CharField(_("name"), max_length=200)
    metric = models.CharField(_("metric"), max_length=64, default="cars_sold")
    # KpiField value -> header names that mean it (compared ignoring case and punctuation).
    columns = models.JSONField(_("column mapping"), default=default_columns)
    # strptime format tried first; ISO dates (2026-11-02) are always accepted too.
    date_format = models.CharField(_("date format"), max_length=32, default="%d.%m.%Y")
    decimal_comma = models.BooleanField(_("decimal comma"), default=True)
    encoding = models.CharField(
        _("encoding"), max_length=16, choices=Encoding.choices, default=Encoding.AUTO
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("KPI source")
        verbose_name_plural = _("KPI sources")
        ordering = ["slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "slug"], name="kpi_source_unique_slug_per_org"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    OK = "ok", _("imported")
    PARTIAL = "partial", _("partial: rows rejected")
    REJECTED = "rejected", _("rejected: nothing written")
    FAILED = "failed", _("failed: file unreadable")


class ImportChannel(models.TextChoices):
    CLI = "cli", _("command line")
    UPLOAD = "upload", _("upload page")
    PUSH = "push", _("HTTP push")
    DROP = "drop", _("drop folder")


class KpiImport(models.Model):
    """One run of an import: the history page shows these with their reports."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="kpi_imports",
        verbose_name=_("organisation"),
    )
    source = models.ForeignKey(
        KpiSource, on_delete=models.CASCADE, related_name="imports", verbose_name=_("source")
    )
    file_name = models.CharField(_("file"), max_length=300)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    channel = models.CharField(_("channel"), max_length=16, choices=ImportChannel.choices)
    started_by = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("started by"),
    )
    dry_run = models.BooleanField(_("dry run"), default=False)
    strict = models.BooleanField(_("strict"), default=False)
    status = models.CharField(
        _("status"), max_length=16, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    created_at = models.DateTimeField(_("created at"))
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    created_records = models.PositiveIntegerField(_("new records"), default=0)
    rejected_rows = models.PositiveIntegerField(_("rejected rows"), default=0)
    report = models.JSONField(_("report"), default=dict)

    class Meta:
        verbose_name = _("KPI import")
        verbose_name_plural = _("KPI imports")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["source", "sha256"]),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status})"

    @property
    def counts(self) -> dict[str, Any]:
        counts = self.report.get("counts", {})
        return counts if isinstance(counts, dict) else {}


class RecordKind(models.TextChoices):
    SALE = "sale", _("sale")
    CANCELLATION = "cancel", _("cancellation")


class KpiRecord(models.Model):
    """A sale or a cancellation from an export, for anyone in the roster.

    Written in bulk (COPY on PostgreSQL), so it carries two indexes only: the unique
    key and the person. References have no database constraint: per-row foreign-key
    triggers cost more than the rest of the insert (bench/bench_kpi_import.py), the
    importer writes ids it has just read in the same transaction, and deletes cascade
    (or set NULL) through Django's collector, not the database. Reports by organisation
    and date (the uplift comparison) can add their index when they exist.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False,
        db_constraint=False, verbose_name=_("organisation"),
    )
    source = models.ForeignKey(
        KpiSource, on_delete=models.CASCADE, related_name="records", db_index=False,
        db_constraint=False, verbose_name=_("source"),
    )
    kpi_import = models.ForeignKey(
        KpiImport, on_delete=models.CASCADE, related_name="records", db_index=False,
        db_constraint=False, verbose_name=_("import"),
    )
    # Kept when the person leaves the roster: the employee number still says whose it was.
    person = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="kpi_records",
        db_constraint=False, verbose_name=_("person"),
    )
    employee_number = models.CharField(_("employee number"), max_length=64)
    metric = models.CharField(_("metric"), max_length=64)
    sale_key = models.CharField(_("sale id"), max_length=64)
    kind = models.CharField(_("kind"), max_length=8, choices=RecordKind.choices)
    occurred_on = models.DateField(_("date"))
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3)
    amount = models.DecimalField(
        _("amount"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    row = models.PositiveIntegerField(_("row in the file"))

    class Meta:
        verbose_name = _("KPI record")
        verbose_name_plural = _("KPI records")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "sale_key", "kind"], name="kpi_record_unique_sale"
            )
        ]

    def __str__(self) -> str:
        return f"{self.sale_key} {self.kind} {self.quantity}"
