"""PostgreSQL's fast path (COPY + set-based checks) gives the general path's results.

Each file is imported twice, rolled back in between: once as it is, once with the fast
path switched off. Reports (counts, row numbers, reasons, warnings), records and ledger
entries must be identical, whether the fast path took the file or handed it over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from fokus.core.models import Organization
from fokus.kpi import pg_import
from fokus.kpi.models import KpiRecord
from fokus.kpi.tests.factories import KpiWorld, build_kpi_world, run_import, sales_bytes
from fokus.scoring.models import PointsEntry

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the fast path is PostgreSQL's"
)

HEADER = "Табельный номер;Дата продажи;Модель;VIN;Количество;Сумма, руб.\r\n"


@pytest.fixture
def world(org_a: Organization) -> KpiWorld:
    return build_kpi_world(org_a)


class _Rollback(Exception):
    pass


def _outcome(world: KpiWorld, data: bytes, **kwargs: Any) -> dict[str, Any]:
    captured: dict[str, Any] = {}
    try:
        with transaction.atomic():
            done = run_import(world, data, **kwargs)
            captured["status"] = done.status
            captured["report"] = done.report
            captured["records"] = sorted(
                KpiRecord.objects.filter(source=world.source).values_list(
                    "person_id", "employee_number", "sale_key", "kind", "occurred_on",
                    "quantity", "amount", "row",
                )
            )
            captured["ledger"] = sorted(
                PointsEntry.objects.filter(program=world.program).values_list(
                    "person_id", "source", "amount", "idempotency_key", "reverses__idempotency_key"
                ),
                key=repr,
            )
            raise _Rollback
    except _Rollback:
        pass
    return captured


def _both(world: KpiWorld, data: bytes, monkeypatch: pytest.MonkeyPatch,
          **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any], bool]:
    used: list[bool] = []
    original: Callable[..., Any] = pg_import.import_plain_csv

    def spy(*args: Any, **kw: Any) -> Any:
        result = original(*args, **kw)
        used.append(result is not None)
        return result

    monkeypatch.setattr(pg_import, "import_plain_csv", spy)
    fast = _outcome(world, data, **kwargs)
    monkeypatch.setattr(pg_import, "plain_csv", lambda *a, **k: None)
    general = _outcome(world, data, **kwargs)
    monkeypatch.undo()
    return fast, general, bool(used and used[0])


def _odd_file() -> bytes:
    rows = [
        "1001;02.11.2026;Vesta;VIN1;1;2346000,00",
        "",  # an empty line right after a row
        "",
        " 1002 ;\t03.11.2026\xa0;XRAY; VIN2 ;1;1 671 000,50",  # padding, spaced amount
        "1003;2026-11-04;Granta;VIN3;+1;2034000",  # ISO date, "+1"
        "99999;04.11.2026;Vesta;VIN4;1;1",  # unknown person
        "1001;31.11.2026;Vesta;VIN5;1;1",  # impossible date
        "1001;04.11.2026;Vesta;VIN6;один;1",  # not a number
        "1001;04.11.2026;Vesta;VIN7;0;1",  # quantity 0
        ";04.11.2026;Vesta;VIN8;1;1",  # empty employee number
        "1001;04.11.2026;Vesta;;1;1",  # empty VIN
        "1001;04.11.2026;Vesta;" + "X" * 65 + ";1;1",
        "1001;02.11.2026;Vesta;VIN1;1;2346000,00",  # duplicate of the first row
        "1002;02.11.2026;Vesta;VIN1;1;2346000,00",  # same VIN, other seller
        "1002;03.11.2026;XRAY;VIN2;1;1671000,50",  # the padded row's values: a duplicate
        "1002;03.11.2026;XRAY;VIN2;1;1671000,51",  # other amount: rejected
        "1001;05.11.2026;Vesta;VIN1;-1;2346000,00",  # cancellation
        "1001;05.11.2026;Vesta;VIN9;-1;",  # cancellation of a sale never imported
        "1002;06.11.2026;Vesta;VIN10;1;abc",  # bad amount
        "1003;07.11.2026;Vesta;VIN11;1,0;1000,00",  # quantity with a decimal comma
        ";;;;;",  # a line of empty cells
        "1003;08.11.2026;Vesta;VIN12;1;",  # no amount
        "",
    ]
    return (HEADER + "\r\n".join(rows) + "\r\n").encode("cp1251")


VARIANTS: dict[str, Callable[[], bytes]] = {
    "sample": sales_bytes,
    "odd rows": _odd_file,
    "empty first and last lines": lambda: (
        HEADER + "\r\n1001;02.11.2026;Vesta;A1;1;1,00\r\n\r\n\r\n"
    ).encode("cp1251"),
    "LF, utf-8 with BOM, no amount column": lambda: (
        "\ufeffТабельный номер;Дата продажи;VIN;Количество\n1001;02.11.2026;B1;1\n\n"
        "1002;03.11.2026;B2;-1\n1001;02.11.2026;B1;1"
    ).encode("utf-8"),
    "comma delimiter, no quantity column": lambda: (
        b"employee_number,date,VIN,amount\n1001,02.11.2026,C1,100\n1002,02.11.2026,C2,1.5\n"
    ),
    "koi8-r": lambda: sales_bytes().decode("cp1251").encode("koi8-r"),
    # Handed over to the general path: quotes, a ragged row, a "\." line, mixed endings.
    "quotes": lambda: (HEADER + '1001;02.11.2026;"Ves""ta";D1;1;"1,00"\r\n').encode("cp1251"),
    "ragged": lambda: (HEADER + "1001;02.11.2026;Vesta;E1;1\r\n1001;02.11.2026;Vesta;E2;1;1;x\r\n"
                       ).encode("cp1251"),
    "backslash dot": lambda: (HEADER + "1001;02.11.2026;Vesta;F1;1;1\r\n\\.\r\n"
                              "1001;02.11.2026;Vesta;F2;1;1\r\n").encode("cp1251"),
    "mixed line ends": lambda: (HEADER + "1001;02.11.2026;Vesta;G1;1;1\n"
                                "1001;02.11.2026;Vesta;G2;1;1\r\n").encode("cp1251"),
}
HANDED_OVER = {"quotes", "ragged", "backslash dot", "mixed line ends"}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_fast_path_matches_the_general_path(
    world: KpiWorld, monkeypatch: pytest.MonkeyPatch, variant: str
) -> None:
    data = VARIANTS[variant]()
    fast, general, used = _both(world, data, monkeypatch)
    assert used == (variant not in HANDED_OVER)
    assert fast == general
    assert fast["records"], "the file imports something"


def test_odd_rows_report_every_reason_with_its_row(
    world: KpiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, _general, used = _both(world, _odd_file(), monkeypatch)
    assert used
    report = fast["report"]
    assert [r["row"] for r in report["rejected"]] == [7, 8, 9, 10, 11, 12, 13, 15, 17, 20]
    assert report["duplicates"] == [
        {"row": 14, "first_row": 2, "sale_key": "VIN1"},
        {"row": 16, "first_row": 5, "sale_key": "VIN2"},
    ]
    assert report["empty_rows"] == [3, 4, 22, 24]
    assert report["counts"]["cancellations"] == 2
    assert any("VIN9" in w for w in report["warnings"])


@pytest.mark.parametrize("mode", ["dry_run", "strict"])
def test_dry_run_and_strict_match_too(
    world: KpiWorld, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    fast, general, used = _both(world, _odd_file(), monkeypatch, **{mode: True})
    assert used
    assert fast == general
    assert fast["records"] == []


def test_reimport_and_a_second_file_match(
    world: KpiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_import(world)  # the sample, already stored
    fast, general, used = _both(world, _odd_file(), monkeypatch)
    assert used
    assert fast == general
    again, general_again, _used = _both(world, sales_bytes(), monkeypatch)
    assert again == general_again
    assert again["report"]["counts"]["new"] == 0
