"""/api/v1/kpi: push an export into a KPI source, and follow the import it started.

The push answers 202 at once with the import's id; the import runs as a task
(fokus.kpi.tasks) after the request's transaction commits. Pushing the same bytes
again answers the first import: a retry never imports twice. A source or an import
of another organisation is a 404 like an unknown one.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from fokus.core import clock
from fokus.core.api.errors import ERROR_RESPONSES
from fokus.core.tenancy import request_organization
from fokus.kpi import queries, services
from fokus.kpi.models import ImportChannel, KpiImport
from fokus.kpi.tasks import kpi_import_task
from fokus.scheduler.background import enqueue_on_commit

router = Router(tags=["kpi"])

# Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) is for forms; an export is read here as
# a stream with its own limit.
DEFAULT_MAX_PUSH_BYTES = 256 * 1024 * 1024


class PushOut(Schema):
    id: int
    status: str
    already_imported: bool
    url: str


class ImportOut(Schema):
    id: int
    source: str
    file: str
    sha256: str
    channel: str
    status: str
    dry_run: bool
    created_at: str
    finished_at: str | None
    summary: str
    report: dict[str, Any]


def _import_out(item: KpiImport) -> ImportOut:
    return ImportOut(
        id=item.pk, source=item.source.slug, file=item.file_name, sha256=item.sha256,
        channel=item.channel, status=item.status, dry_run=item.dry_run,
        created_at=item.created_at.isoformat(),
        finished_at=item.finished_at.isoformat() if item.finished_at else None,
        summary=str(item.report.get("summary", "")), report=item.report,
    )


def _require_importer(request: HttpRequest) -> None:
    if not queries.person_can_import_kpi(request.user, getattr(request, "person", None)):
        raise PermissionDenied


def _read_body(request: HttpRequest) -> tuple[bytes, str]:
    limit = int(getattr(settings, "FOKUS_KPI_PUSH_MAX_BYTES", DEFAULT_MAX_PUSH_BYTES))
    content_type = request.content_type or ""
    if content_type.startswith("multipart/"):
        upload = request.FILES.get("file")
        if upload is None:
            raise HttpError(400, _("Send the export as the multipart field “file”."))
        if upload.size is not None and upload.size > limit:
            raise HttpError(413, _("The file is larger than %(limit)s bytes.") % {"limit": limit})
        return upload.read(), upload.name or ""
    data = request.read(limit + 1)
    if len(data) > limit:
        raise HttpError(413, _("The file is larger than %(limit)s bytes.") % {"limit": limit})
    return data, request.headers.get("X-File-Name", "")


@router.post(
    "/sources/{source}/push",
    response={202: PushOut, **ERROR_RESPONSES, 413: ERROR_RESPONSES[400]},
    operation_id="kpi_push",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The export file itself (CSV or XLSX), or a multipart form with "
            "the field “file”. Optional header X-File-Name names it in the history.",
            "content": {
                "text/csv": {"schema": {"type": "string", "format": "binary"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        }
    },
)
def push(request: HttpRequest, source: str) -> Status[PushOut]:
    """Push an export into a KPI source (admins; a token of the organisation).

    202 with the import's id; poll GET /api/v1/kpi/imports/{import_id} for its report.
    The same bytes pushed again answer the first import (`already_imported`).
    """
    organization = request_organization(request)
    kpi_source = queries.kpi_source_by_slug(organization=organization, slug=source)
    if kpi_source is None:
        raise Http404
    _require_importer(request)
    data, file_name = _read_body(request)
    if not data:
        raise HttpError(400, _("The request body is empty: send the export file."))
    queued = services.kpi_import_queue(
        organization=organization, source=kpi_source, data=data,
        file_name=file_name or f"push-{clock.now():%Y%m%d-%H%M%S}.csv",
        channel=ImportChannel.PUSH, started_by=getattr(request, "person", None),
    )
    if queued.created:
        enqueue_on_commit(kpi_import_task, queued.kpi_import.pk, queued.path)
    item = queued.kpi_import
    item.refresh_from_db(fields=["status"])  # an immediate backend has run it already
    return Status(202, PushOut(
        id=item.pk, status=item.status, already_imported=not queued.created,
        url=reverse("api:kpi_import", kwargs={"import_id": item.pk}),
    ))


@router.get(
    "/imports/{import_id}",
    response={200: ImportOut, **ERROR_RESPONSES},
    operation_id="kpi_import",
    url_name="kpi_import",
)
def import_detail(request: HttpRequest, import_id: int) -> ImportOut:
    """One import of the caller's organisation with its full report."""
    organization = request_organization(request)
    item = queries.kpi_import_by_id(organization=organization, import_id=import_id)
    if item is None:
        raise Http404
    _require_importer(request)
    return _import_out(item)
