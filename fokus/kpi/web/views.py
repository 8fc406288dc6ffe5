"""KPI pages for admins: upload with a preview and a confirmation, and the history.

The upload is checked completely before anything is written: the preview shows the
first rows as the source's mapping reads them and the full validation report of a dry
run. The file waits on disk under a random name; the page carries a signed token that
names it (not the session, so two tabs cannot mix files up). Confirming queues the
import as a task, like the HTTP push, and leads to its history page.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fokus.core.models import Organization
from fokus.core.tenancy import request_organization
from fokus.kpi import queries, services
from fokus.kpi.kpi_file import FIELDS, field_label
from fokus.kpi.models import ImportChannel, KpiSource
from fokus.kpi.tasks import kpi_import_task
from fokus.scheduler.background import enqueue_on_commit

MAX_UPLOAD_BYTES = 256 * 1024 * 1024
HISTORY_LIMIT = 100


def _importer_organization(request: HttpRequest) -> Organization:
    organization = request_organization(request)
    if not queries.person_can_import_kpi(request.user, getattr(request, "person", None)):
        raise PermissionDenied(_("Only admins of this organisation import KPI."))
    return organization


class UploadForm(forms.Form):
    source = forms.ModelChoiceField(
        queryset=KpiSource.objects.none(), label=gettext_lazy("Source"), empty_label=None
    )
    file = forms.FileField(label=gettext_lazy("Export file (CSV or XLSX)"))

    def __init__(self, *args: object, organization: Organization, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["source"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = queries.kpi_sources(organization=organization)

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(mb)s MB.") % {"mb": MAX_UPLOAD_BYTES // 2**20}
            )
        return upload


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    organization = _importer_organization(request)
    form = UploadForm(request.POST or None, request.FILES or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        source: KpiSource = form.cleaned_data["source"]
        file = form.cleaned_data["file"]
        data = file.read()
        name = file.name or "upload"
        token = services.kpi_upload_store(
            organization=organization, source=source, data=data, file_name=name
        )
        preview = queries.kpi_file_preview(source=source, data=data, file_name=name)
        report = services.kpi_import_check(
            organization=organization, source=source, data=data, file_name=name
        )
        return render(request, "kpi/preview.html", {
            "source": source, "file_name": name, "token": token, "preview": preview,
            "labels": [field_label(f) for f in FIELDS], "report": report,
            "can_confirm": not report.get("errors") and report["counts"]["valid"] > 0,
        })
    return render(request, "kpi/upload.html", {
        "form": form, "has_sources": form.fields["source"].queryset.exists(),  # type: ignore[attr-defined]
    })


@login_required
@require_POST
def upload_confirm(request: HttpRequest) -> HttpResponse:
    organization = _importer_organization(request)
    pending = queries.kpi_upload_open(
        organization=organization, token=request.POST.get("token", "")
    )
    if pending is None:
        messages.error(
            request, _("This upload has expired or is unknown; please upload the file again.")
        )
        return redirect("kpi:upload")
    strict = request.POST.get("strict") == "on"
    data = pending.path.read_bytes()
    queued = services.kpi_import_queue(
        organization=organization, source=pending.source, data=data,
        file_name=pending.file_name, channel=ImportChannel.UPLOAD,
        started_by=getattr(request, "person", None), strict=strict,
    )
    services.kpi_upload_discard(path=pending.path)
    if queued.created:
        enqueue_on_commit(kpi_import_task, queued.kpi_import.pk, queued.path)
    else:
        messages.info(request, _("This file was already imported; here is that import."))
    return redirect("kpi:import_detail", import_id=queued.kpi_import.pk)


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    organization = _importer_organization(request)
    imports = queries.kpi_imports(organization=organization)[:HISTORY_LIMIT]
    return render(request, "kpi/history.html", {
        "imports": imports, "sources": queries.kpi_sources(organization=organization),
    })


@login_required
@require_GET
def import_detail(request: HttpRequest, import_id: int) -> HttpResponse:
    organization = request_organization(request)
    item = queries.kpi_import_by_id(organization=organization, import_id=import_id)
    if item is None:
        raise Http404
    _importer_organization(request)
    return render(request, "kpi/import_detail.html", {"item": item, "report": item.report})
