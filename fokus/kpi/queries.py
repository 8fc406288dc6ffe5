"""Reads for KPI: sources, the import history, uploads awaiting confirmation, previews."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import signing
from django.db.models import QuerySet

from fokus.core.models import Organization
from fokus.kpi.kpi_file import FIELDS, KpiFileError, read_kpi_file
from fokus.kpi.models import KpiImport, KpiSource
from fokus.people.models import Person, Role

PREVIEW_ROWS = 10
UPLOAD_SALT = "fokus.kpi.upload"


def upload_folder() -> Path:
    """Where previewed uploads wait for their confirmation (FOKUS_KPI_UPLOAD_DIR)."""
    return Path(
        getattr(settings, "FOKUS_KPI_UPLOAD_DIR", None) or Path(settings.DATA_DIR) / "kpi-uploads"
    )


def kpi_sources(*, organization: Organization) -> QuerySet[KpiSource]:
    return KpiSource.objects.filter(organization=organization).order_by("slug")


def kpi_source_by_slug(*, organization: Organization, slug: str) -> KpiSource | None:
    return KpiSource.objects.filter(organization=organization, slug=slug).first()


def kpi_imports(
    *, organization: Organization, source: KpiSource | None = None
) -> QuerySet[KpiImport]:
    imports = KpiImport.objects.filter(organization=organization).select_related(
        "source", "started_by"
    )
    if source is not None:
        imports = imports.filter(source=source)
    return imports.order_by("-created_at", "-pk")


def kpi_import_by_id(*, organization: Organization, import_id: int) -> KpiImport | None:
    return (
        KpiImport.objects.filter(organization=organization, pk=import_id)
        .select_related("source", "started_by")
        .first()
    )


def person_can_import_kpi(user: Any, person: Person | None) -> bool:
    """KPI imports are for the organisation's admins (and Django staff)."""
    if getattr(user, "is_staff", False):
        return True
    return person is not None and person.has_role(Role.ADMIN)


@dataclass(frozen=True, slots=True)
class PendingUpload:
    source: KpiSource
    path: Path
    file_name: str


def kpi_upload_open(
    *, organization: Organization, token: str, max_age: int = 3600
) -> PendingUpload | None:
    """The upload a token names, if it is this organisation's, fresh and still there."""
    try:
        payload = signing.loads(token, salt=UPLOAD_SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("o") != organization.pk:
        return None
    source_id = payload.get("s")
    source = (
        KpiSource.objects.filter(organization=organization, pk=source_id).first()
        if isinstance(source_id, int) else None
    )
    stored = str(payload.get("f", ""))
    if source is None or not stored.endswith(".bin") or "/" in stored or "\\" in stored:
        return None
    path = upload_folder() / stored
    if not path.is_file():
        return None
    return PendingUpload(source=source, path=path, file_name=str(payload.get("n", "")))


@dataclass(frozen=True, slots=True)
class FilePreview:
    headers: list[str]  # the mapped columns in FIELDS order, as the file names them
    rows: list[tuple[int, tuple[str, ...] | None]]
    error: str


def kpi_file_preview(*, source: KpiSource, data: bytes, file_name: str) -> FilePreview:
    """The first rows as the source's mapping reads them (before any validation)."""
    try:
        table = read_kpi_file(data, name=file_name, columns=source.columns,
                              encoding=source.encoding)
        rows = list(islice(table.rows, PREVIEW_ROWS))
    except KpiFileError as exc:
        return FilePreview([], [], str(exc))
    headers = [table.mapped.get(f, "") for f in FIELDS]
    return FilePreview(headers, rows, "")
