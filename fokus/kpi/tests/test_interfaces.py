"""The upload page, the history pages, the HTTP push and the drop folder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from fokus.core.models import Organization
from fokus.core.services import api_token_create
from fokus.kpi import services
from fokus.kpi.models import ImportChannel, ImportStatus, KpiImport, KpiRecord
from fokus.kpi.tasks import kpi_drop_folders_nightly
from fokus.kpi.tests.factories import KpiWorld, build_kpi_world, sales_bytes
from fokus.people.models import Person, Role
from fokus.scheduler.background import run_pending_tasks
from fokus.scoring.models import PointsEntry


@pytest.fixture
def world(org_a: Organization) -> KpiWorld:
    return build_kpi_world(org_a)


def _login(world: KpiWorld, role: Role, number: str) -> tuple[Client, User]:
    user = User.objects.create_user(username=f"{world.organization.slug}-{number}")
    Person.objects.create(
        organization=world.organization, employee_number=number, full_name=f"{role} {number}",
        time_zone="Europe/Moscow", roles=role.value, user=user,
    )
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client, user


@pytest.fixture
def admin_client(world: KpiWorld) -> Client:
    return _login(world, Role.ADMIN, "ADM-1")[0]


def test_upload_preview_then_confirm_imports_the_same_file(
    world: KpiWorld, admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    page = admin_client.get("/kpi/upload/")
    assert page.status_code == 200 and "Продажи (ERP)" in page.content.decode()
    preview = admin_client.post("/kpi/upload/", {
        "source": world.source.pk,
        "file": SimpleUploadedFile("sales.csv", sales_bytes(), content_type="text/csv"),
    })
    html = preview.content.decode()
    assert preview.status_code == 200
    assert "XTA00000000000001" in html  # the first rows
    assert "would be PARTIAL" in html and "993" in html and "99999" in html  # the full report
    assert not KpiRecord.objects.exists() and not KpiImport.objects.exists()
    token = re.search(r'name="token" value="([^"]+)"', html)
    assert token is not None
    with django_capture_on_commit_callbacks(execute=True):
        done = admin_client.post("/kpi/upload/confirm/", {"token": token.group(1)})
    run_pending_tasks()  # the worker's part (the default backend keeps tasks in the database)
    item = KpiImport.objects.get()
    assert done.status_code == 302 and done["Location"] == f"/kpi/imports/{item.pk}/"
    assert item.channel == ImportChannel.UPLOAD and item.status == ImportStatus.PARTIAL
    assert item.started_by is not None and item.started_by.employee_number == "ADM-1"
    assert KpiRecord.objects.count() == 990
    detail = admin_client.get(done["Location"]).content.decode()
    assert "PARTIAL" in detail and "995" in detail
    assert "sales.csv" in admin_client.get("/kpi/").content.decode()
    # The token named a file that is gone now: confirming again imports nothing new.
    again = admin_client.post("/kpi/upload/confirm/", {"token": token.group(1)})
    assert again.status_code == 302 and again["Location"] == "/kpi/upload/"
    assert KpiImport.objects.count() == 1


def test_upload_confirm_refuses_a_forged_or_foreign_token(
    world: KpiWorld, admin_client: Client, org_b: Organization
) -> None:
    other = build_kpi_world(org_b, enrolled=())
    foreign = services.kpi_upload_store(
        organization=org_b, source=other.source, data=sales_bytes(), file_name="b.csv"
    )
    for token in (foreign, "forged:token", foreign[:-2] + "xx"):
        response = admin_client.post("/kpi/upload/confirm/", {"token": token})
        assert response.status_code == 302 and response["Location"] == "/kpi/upload/"
    assert not KpiImport.objects.exists()


def test_strict_upload_and_pages_are_for_admins_only(
    world: KpiWorld, admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    participant, _user = _login(world, Role.PARTICIPANT, "P-1")
    for url in ("/kpi/", "/kpi/upload/"):
        assert participant.get(url).status_code == 403
    token = services.kpi_upload_store(
        organization=world.organization, source=world.source, data=sales_bytes(),
        file_name="sales.csv",
    )
    assert participant.post("/kpi/upload/confirm/", {"token": token}).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/kpi/upload/confirm/", {"token": token, "strict": "on"})
    run_pending_tasks()
    item = KpiImport.objects.get()
    assert item.status == ImportStatus.REJECTED and not KpiRecord.objects.exists()
    assert participant.get(f"/kpi/imports/{item.pk}/").status_code == 403


# --- HTTP push --------------------------------------------------------------------------


def _token(world: KpiWorld, role: Role = Role.ADMIN) -> str:
    _client, user = _login(world, role, f"T-{role.value}")
    _token_row, key = api_token_create(organization=world.organization, user=user, name="ERP")
    return key


def test_push_answers_202_and_is_idempotent_by_content(
    world: KpiWorld, django_capture_on_commit_callbacks: Any, settings: Any, tmp_path: Path
) -> None:
    settings.FOKUS_KPI_INBOX_DIR = tmp_path
    auth: dict[str, Any] = {
        "HTTP_AUTHORIZATION": f"Bearer {_token(world)}", "HTTP_X_FILE_NAME": "erp.csv"
    }
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post("/api/v1/kpi/sources/sales/push", data=sales_bytes(),
                            content_type="text/csv", **auth)
    assert first.status_code == 202, first.content
    body = first.json()
    assert body["already_imported"] is False
    assert body["status"] in (ImportStatus.QUEUED, ImportStatus.PARTIAL)
    run_pending_tasks()
    item = KpiImport.objects.get(pk=body["id"])
    assert item.file_name == "erp.csv" and item.channel == ImportChannel.PUSH
    assert KpiRecord.objects.count() == 990
    ledger = PointsEntry.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        again = Client().post(
            "/api/v1/kpi/sources/sales/push",
            data={"file": SimpleUploadedFile("erp.csv", sales_bytes())}, **auth,
        )
    assert again.status_code == 202
    assert again.json() == {**body, "status": ImportStatus.PARTIAL, "already_imported": True}
    assert KpiImport.objects.count() == 1 and PointsEntry.objects.count() == ledger
    report = Client().get(body["url"], **auth)
    assert report.status_code == 200 and report.json()["report"]["counts"]["rejected"] == 3
    assert not list(tmp_path.iterdir()), "the stored copy is removed after the import"


def test_push_with_a_token_of_another_organisation_is_404(
    world: KpiWorld, org_b: Organization
) -> None:
    other = build_kpi_world(org_b, enrolled=())
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {_token(other)}"}
    response = Client().post("/api/v1/kpi/sources/sales/push", data=sales_bytes(),
                             content_type="text/csv", **auth)
    # B has a source called "sales" too, so this one lands in B, never in A.
    assert response.status_code in (202, 200)
    assert not KpiImport.objects.filter(organization=world.organization).exists()
    world.source.slug = "erp-alpha"
    world.source.save()
    response = Client().post("/api/v1/kpi/sources/erp-alpha/push", data=sales_bytes(),
                             content_type="text/csv", **auth)
    assert response.status_code == 404
    a_import = services.kpi_import(
        organization=world.organization, source=world.source, data=b"x", file_name="a.csv"
    )
    assert Client().get(f"/api/v1/kpi/imports/{a_import.pk}", **auth).status_code == 404


def test_push_needs_an_admin_and_a_body(world: KpiWorld) -> None:
    participant: dict[str, Any] = {
        "HTTP_AUTHORIZATION": f"Bearer {_token(world, Role.PARTICIPANT)}"
    }
    response = Client().post("/api/v1/kpi/sources/sales/push", data=sales_bytes(),
                             content_type="text/csv", **participant)
    assert response.status_code == 403
    admin: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {_token(world)}"}
    response = Client().post("/api/v1/kpi/sources/sales/push", data=b"",
                             content_type="text/csv", **admin)
    assert response.status_code == 400
    assert not KpiImport.objects.exists()


# --- drop folder ------------------------------------------------------------------------


def test_drop_folder_imports_each_file_once_and_moves_it(
    world: KpiWorld, tmp_path: Path, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.FOKUS_KPI_DROP_DIR = tmp_path
    folder = tmp_path / "alpha" / "sales"
    folder.mkdir(parents=True)
    (folder / "2026-11-30.csv").write_bytes(sales_bytes())
    (folder / "copy-of-the-same.csv").write_bytes(sales_bytes())
    (folder / "broken.csv").write_bytes(b"no header here\n")
    (folder / "still-copying.csv.part").write_bytes(b"...")
    with django_capture_on_commit_callbacks(execute=True):
        kpi_drop_folders_nightly(slot=None)  # type: ignore[arg-type]
    run_pending_tasks()
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == ["still-copying.csv.part"]
    processed = sorted(p.name.split("-", 1)[1] for p in (folder / "processed").iterdir())
    assert processed == ["2026-11-30.csv", "copy-of-the-same.csv"]
    assert [p.name.split("-", 1)[1] for p in (folder / "failed").iterdir()] == ["broken.csv"]
    imports = KpiImport.objects.filter(channel=ImportChannel.DROP)
    assert sorted(imports.values_list("status", flat=True)) == [
        ImportStatus.FAILED, ImportStatus.PARTIAL
    ]
    assert KpiRecord.objects.count() == 990
    # The next night: nothing new, nothing imported.
    assert services.kpi_drop_folder_import(
        organization=world.organization, source=world.source
    ) == []
    (folder / "again.csv").write_bytes(sales_bytes())
    results = services.kpi_drop_folder_import(organization=world.organization,
                                              source=world.source)
    assert [r.already_imported for r in results] == [True]
    assert KpiImport.objects.count() == 2
