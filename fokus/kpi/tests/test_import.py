"""The KPI import on the sample export and its variants (service and CLI)."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum
from openpyxl import Workbook

from fokus.core.models import Organization
from fokus.kpi.models import ImportStatus, KpiImport, KpiRecord, RecordKind
from fokus.kpi.tests.factories import SALES_CSV, KpiWorld, build_kpi_world, run_import, sales_bytes
from fokus.scoring.models import PointsEntry

CANCELLED_VIN = "XTA00000000000006"  # sold by 1001 on 05.11 (row 7), cancelled in row 992


@pytest.fixture
def world(org_a: Organization) -> KpiWorld:
    return build_kpi_world(org_a)


def _records(world: KpiWorld) -> list[tuple[Any, ...]]:
    return sorted(
        KpiRecord.objects.filter(organization=world.organization).values_list(
            "person__employee_number", "sale_key", "kind", "occurred_on", "quantity", "amount",
            "kpi_import_id",
        )
    )


def _ledger(world: KpiWorld) -> list[tuple[Any, ...]]:
    return sorted(
        PointsEntry.objects.filter(program=world.program).values_list(
            "person_id", "source", "amount", "idempotency_key", "reverses_id"
        ),
        key=repr,
    )


def _points(world: KpiWorld, vin: str) -> Decimal:
    total = PointsEntry.objects.filter(
        program=world.program, reference=f"cars_sold:{vin}"
    ).aggregate(s=Sum("amount"))["s"]
    return total or Decimal(0)


def _without_row(data: bytes, needle: bytes) -> bytes:
    return b"".join(line for line in data.splitlines(keepends=True) if needle not in line)


def test_sample_file_counts_and_problems_with_row_numbers(world: KpiWorld) -> None:
    result = run_import(world)
    report = result.report
    assert result.status == ImportStatus.PARTIAL
    assert report["summary"].startswith("PARTIAL")
    assert report["counts"] | {} == {
        "rows": 995, "valid": 990, "sales": 989, "cancellations": 1, "new": 990,
        "already_imported": 0, "duplicates": 1, "rejected": 3, "empty": 1,
        "points_recorded": report["counts"]["points_recorded"],
        "points_reversed": 1,
        "without_points": report["counts"]["without_points"],
    }
    rejected = {r["row"]: r for r in report["rejected"]}
    assert sorted(rejected) == [993, 994, 995]
    assert rejected[993]["employee_number"] == "99999"
    assert "99999" in rejected[993]["reasons"][0]
    assert "31.11.2026" in rejected[994]["reasons"][0]
    assert "один" in rejected[995]["reasons"][0]
    assert report["duplicates"] == [
        {"row": 991, "first_row": 5, "sale_key": "XTA00000000000004"}
    ]
    assert report["empty_rows"] == [996]
    assert report["encoding"] == "cp1251" and report["delimiter"] == ";"
    assert KpiRecord.objects.filter(organization=world.organization).count() == 990
    # Stored for everybody in the roster; points only for the enrolled (1001–1003).
    stored_people = set(
        KpiRecord.objects.values_list("employee_number", flat=True).distinct()
    )
    assert len(stored_people) == 48
    entries = PointsEntry.objects.filter(program=world.program, source="kpi")
    assert set(entries.values_list("person__employee_number", flat=True)) <= {
        "1001", "1002", "1003"
    }
    sales_of_enrolled = KpiRecord.objects.filter(
        employee_number__in=["1001", "1002", "1003"], kind=RecordKind.SALE
    ).count()
    assert report["counts"]["points_recorded"] == sales_of_enrolled
    assert _points(world, CANCELLED_VIN) == 0


def test_reimport_changes_nothing(world: KpiWorld) -> None:
    run_import(world)
    records, ledger = _records(world), _ledger(world)
    again = run_import(world)
    assert again.report["counts"]["new"] == 0
    assert again.report["counts"]["already_imported"] == 990
    assert again.report["counts"]["points_recorded"] == 0
    assert again.report["counts"]["points_reversed"] == 0
    assert _records(world) == records
    assert _ledger(world) == ledger
    assert KpiImport.objects.filter(source=world.source).count() == 2


def test_cancellation_in_a_later_file_reverses_the_sales_points(world: KpiWorld) -> None:
    without_cancellation = _without_row(sales_bytes(), b";-1;")
    first = run_import(world, without_cancellation, file_name="sales-day1.csv")
    assert first.report["counts"]["cancellations"] == 0
    earned = _points(world, CANCELLED_VIN)
    assert earned > 0
    second = run_import(world, file_name="sales-day2.csv")
    assert second.report["counts"]["new"] == 1
    assert second.report["counts"]["points_reversed"] == 1
    assert _points(world, CANCELLED_VIN) == 0
    reversal = PointsEntry.objects.get(program=world.program, reverses__isnull=False)
    assert reversal.amount == -earned
    assert KpiRecord.objects.filter(sale_key=CANCELLED_VIN).count() == 2


def test_dry_run_writes_nothing(world: KpiWorld) -> None:
    result = run_import(world, dry_run=True)
    assert result.report["summary"].startswith("DRY RUN")
    assert result.report["counts"]["new"] == 990
    assert result.report["counts"]["rejected"] == 3
    assert not KpiRecord.objects.exists()
    assert not PointsEntry.objects.exists()
    run_import(world)
    assert run_import(world, dry_run=True).report["counts"]["new"] == 0


def test_strict_writes_nothing_when_a_row_is_rejected(world: KpiWorld) -> None:
    result = run_import(world, strict=True)
    assert result.status == ImportStatus.REJECTED
    assert "nothing was written" in result.report["summary"]
    assert not KpiRecord.objects.exists() and not PointsEntry.objects.exists()
    clean = _without_row(_without_row(_without_row(sales_bytes(), b"99999;"), b"31.11"),
                         "один".encode("cp1251"))
    assert run_import(world, clean, strict=True).status == ImportStatus.OK


def _utf8_comma_variant(bom: bool) -> bytes:
    text = sales_bytes().decode("cp1251")
    lines = []
    for line in text.splitlines():
        cells = line.split(";")
        cells[-1] = f'"{cells[-1]}"' if "," in cells[-1] else cells[-1]
        lines.append(",".join(cells))
    data = "\n".join(lines).encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data


@pytest.mark.parametrize("variant", ["utf-8", "utf-8-bom", "koi8-r"])
def test_encodings_and_comma_delimiter(world: KpiWorld, variant: str) -> None:
    if variant == "koi8-r":
        data = sales_bytes().decode("cp1251").encode("koi8-r")
    else:
        data = _utf8_comma_variant(bom=variant == "utf-8-bom")
    report = run_import(world, data).report
    assert report["counts"]["new"] == 990
    assert report["counts"]["rejected"] == 3
    assert report["delimiter"] == ("," if variant != "koi8-r" else ";")
    amount = KpiRecord.objects.get(sale_key="XTA00000000000001").amount
    assert amount == Decimal("2346000.00")


def test_english_headers_iso_dates_and_xlsx(world: KpiWorld) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["employee_number", "date", "model", "VIN", "quantity", "amount"])
    import datetime as dt

    sheet.append([1001, dt.datetime(2026, 11, 24), "Vesta", "XLS0000000000001", 1, 2100000.5])
    sheet.append([1002, "2026-11-25", "XRAY", "XLS0000000000002", 1, 1500000])
    sheet.append([])
    sheet.append([1002, "30.02.2026", "XRAY", "XLS0000000000003", 1, 1500000])
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = run_import(world, buffer.getvalue(), file_name="sales.xlsx").report
    assert report["format"] == "xlsx"
    assert report["counts"]["new"] == 2
    assert report["empty_rows"] == [4]
    assert [r["row"] for r in report["rejected"]] == [5]
    first = KpiRecord.objects.get(sale_key="XLS0000000000001")
    assert first.occurred_on == dt.date(2026, 11, 24)
    assert first.amount == Decimal("2100000.50")
    assert first.person == world.people["1001"]
    assert report["counts"]["points_recorded"] == 2


def test_missing_columns_and_unreadable_files_write_nothing(world: KpiWorld) -> None:
    result = run_import(world, "Таб;Дата\n1001;02.11.2026\n".encode("cp1251"))
    assert result.status == ImportStatus.FAILED
    assert "row 1 (header)" in result.report["errors"][0] or "строка 1" in (
        result.report["errors"][0]
    )
    assert run_import(world, b"\xd0\xcf\x11\xe0old excel").status == ImportStatus.FAILED
    assert not KpiRecord.objects.exists()


def test_same_vin_with_other_values_is_rejected(world: KpiWorld) -> None:
    data = (
        "Табельный номер;Дата продажи;VIN;Количество\n"
        "1001;02.11.2026;VIN1;1\n"
        "1002;02.11.2026;VIN1;1\n"
    ).encode("cp1251")
    report = run_import(world, data).report
    assert report["counts"]["new"] == 1
    assert report["rejected"][0]["row"] == 3
    assert "2" in report["rejected"][0]["reasons"][0]


# --- CLI ------------------------------------------------------------------------------


def _cli(*args: str) -> tuple[str, int]:
    out = io.StringIO()
    try:
        call_command("kpi", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue() + f"\nERROR: {exc}", exc.returncode
    return out.getvalue(), 0


def test_cli_import_says_partial_loudly_and_exits_2(world: KpiWorld) -> None:
    output, code = _cli("import", SALES_CSV, "--org", "alpha", "--source", "sales")
    assert code == 2
    assert "PARTIAL" in output
    assert "993" in output and "994" in output and "995" in output
    assert "996" in output  # the empty row, skipped
    history, code = _cli("history", "--org", "alpha")
    assert code == 0 and "sales.csv" in history and "PARTIAL" in history


def test_cli_strict_dry_run_json_and_unknown_source(world: KpiWorld) -> None:
    output, code = _cli("import", SALES_CSV, "--org", "alpha", "--source", "sales", "--strict")
    assert code == 1 and "REJECTED" in output
    output, code = _cli("import", SALES_CSV, "--org", "alpha", "--source", "sales",
                        "--dry-run", "--format", "json")
    report = json.loads(output.split("\nERROR:")[0])
    assert report["dry_run"] is True and report["counts"]["new"] == 990
    assert not KpiRecord.objects.exists()
    output, code = _cli("import", SALES_CSV, "--org", "alpha", "--source", "crm")
    assert code == 1 and "crm" in output and "sales" in output
    output, code = _cli("import", SALES_CSV, "--org", "nobody", "--source", "sales")
    assert code == 1


def test_cli_source_create_with_a_mapping(org_a: Organization) -> None:
    output, code = _cli(
        "source", "create", "crm", "--org", "alpha", "--name", "CRM",
        "--column", "employee_number=Сотрудник|Таб. №", "--column", "sale_key=Номер сделки",
        "--decimal-point",
    )
    assert code == 0, output
    listing, _code = _cli("source", "list", "--org", "alpha")
    assert "crm" in listing and "Номер сделки" in listing
    output, code = _cli("source", "create", "bad", "--org", "alpha", "--name", "X",
                        "--column", "colour=Цвет")
    assert code == 1 and "colour" in output


def test_organisations_do_not_see_each_others_people_or_sources(
    world: KpiWorld, org_b: Organization
) -> None:
    other = build_kpi_world(org_b, enrolled=())
    run_import(world)
    # B has the same roster numbers but its own people: A's import touched none of them.
    assert not KpiRecord.objects.filter(organization=org_b).exists()
    assert not KpiRecord.objects.filter(
        organization=world.organization, person__organization=org_b
    ).exists()
    with pytest.raises(ValueError):
        run_import(KpiWorld(world.organization, other.source, world.program, world.track, {}))
