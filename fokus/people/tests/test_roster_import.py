"""Roster import: the shared sample, its re-shaped twins, re-imports and bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings
from hypothesis import strategies as st

from fokus.core.models import Organization
from fokus.core.timezones import canonical_time_zone
from fokus.people.models import Person, Unit
from fokus.people.services import _PLAIN_EMAIL, _is_email, roster_import
from fokus.people.tests.roster_helpers import (
    reshaped,
    shared_rows,
    snapshot,
    write_csv,
    write_xlsx,
)

SENIORS = {"1001", "1005", "1009", "1013", "1017", "1021", "1025", "1029", "1033", "1037",
           "1041", "1045"}


def _roster(shared_data_dir: str) -> str:
    return os.path.join(shared_data_dir, "roster.csv")


def _writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"] for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "COPY"))
    ]


def test_shared_roster_creates_people_units_managers_and_zones(
    org_a: Organization, shared_data_dir: str
) -> None:
    report = roster_import(organization=org_a, source=_roster(shared_data_dir))

    assert report.ok and report.written
    assert len(report.created) == 48 and report.unchanged == 0 and not report.updated
    assert Person.objects.filter(organization=org_a).count() == 48
    assert Unit.objects.filter(organization=org_a).count() == 12
    people = {p.employee_number: p for p in Person.objects.filter(organization=org_a)
              .select_related("manager", "unit")}
    assert people["1002"].manager == people["1001"]
    assert people["1001"].manager is None
    assert people["1001"].time_zone == "Europe/Kaliningrad"
    assert people["1001"].unit is not None and people["1001"].unit.city == "Калининград"
    assert people["1002"].full_name == "Николаев Павел"
    assert people["1002"].position == "Продавец-консультант"
    assert {p.time_zone for p in people.values()} >= {"Asia/Magadan", "Europe/Moscow"}
    supervisors = {n for n, p in people.items() if p.has_role("supervisor")}
    assert supervisors == SENIORS
    assert all(p.has_role("participant") for p in people.values())
    # Every senior manages the consultants of their own dealership.
    for person in people.values():
        if person.manager is not None:
            assert person.manager.unit == person.unit


def test_reimport_changes_nothing(org_a: Organization, shared_data_dir: str) -> None:
    roster_import(organization=org_a, source=_roster(shared_data_dir))
    before = snapshot(org_a)

    with CaptureQueriesContext(connection) as queries:
        report = roster_import(organization=org_a, source=_roster(shared_data_dir))

    assert report.ok and not report.written
    assert report.unchanged == 48 and not report.created and not report.updated
    assert not report.units_created
    assert _writes(queries) == []
    assert snapshot(org_a) == before


def test_dry_run_reports_and_writes_nothing(org_a: Organization, shared_data_dir: str) -> None:
    with CaptureQueriesContext(connection) as queries:
        report = roster_import(organization=org_a, source=_roster(shared_data_dir), dry_run=True)

    assert report.ok and report.dry_run and not report.written
    assert len(report.created) == 48 and len(report.units_created) == 12
    assert _writes(queries) == []
    assert not Person.objects.filter(organization=org_a).exists()


@pytest.mark.parametrize("variant", ["utf8-bom-comma-english", "utf8-lf", "koi8r", "xlsx"])
def test_reshaped_rosters_give_the_same_result(
    variant: str, org_a: Organization, org_b: Organization, shared_data_dir: str, tmp_path: Path
) -> None:
    roster_import(organization=org_a, source=_roster(shared_data_dir))
    header, rows = shared_rows(shared_data_dir)
    new_header, new_rows = reshaped(header, rows)
    if variant == "utf8-bom-comma-english":
        path = write_csv(tmp_path / "roster.csv", new_header, new_rows, encoding="utf-8-sig",
                         delimiter=",")
    elif variant == "utf8-lf":
        path = write_csv(tmp_path / "roster.csv", header, rows, encoding="utf-8", newline="\n")
    elif variant == "koi8r":
        path = write_csv(tmp_path / "roster.csv", new_header, new_rows, encoding="koi8_r")
    else:
        path = write_xlsx(tmp_path / "roster.xlsx", new_header, new_rows)

    report = roster_import(organization=org_b, source=path)

    assert report.ok, (report.errors, report.rejected)
    assert snapshot(org_b) == snapshot(org_a)
    # The twin is the same roster: importing it over the original changes nothing.
    again = roster_import(organization=org_a, source=path)
    assert again.ok and again.unchanged == 48 and not again.updated and not again.written


def test_blank_lines_are_skipped_and_rows_keep_spreadsheet_numbers(
    org_a: Organization, shared_data_dir: str, tmp_path: Path
) -> None:
    header, rows = shared_rows(shared_data_dir)
    rows = [*rows[:3], [], ["", "", "", "", "", "", "", ""], *rows[3:]]
    rows[7][2] = "broken@"  # spreadsheet row 9: header, 3 rows, 2 blank, then 3 more
    path = write_csv(tmp_path / "roster.csv", header, rows)

    report = roster_import(organization=org_a, source=path)

    assert [r.row for r in report.rejected] == [9]
    assert report.rows == 48


def test_changed_rows_are_updated_field_by_field(
    org_a: Organization, shared_data_dir: str, tmp_path: Path
) -> None:
    roster_import(organization=org_a, source=_roster(shared_data_dir))
    header, rows = shared_rows(shared_data_dir)
    rows[1][6] = "Старший продавец-консультант"  # 1002 promoted...
    rows[1][7] = ""  # ...reports to nobody now
    rows[2][7] = "1002"  # 1003 reports to 1002
    rows[4][5] = "Europe/Volgograd"  # 1005 moved
    path = write_csv(tmp_path / "roster.csv", header, rows)

    report = roster_import(organization=org_a, source=path)

    assert report.ok
    updated = {u.employee_number: u.fields for u in report.updated}
    assert updated == {
        "1002": ["position", "manager", "roles"],
        "1003": ["manager"],
        "1005": ["time_zone"],
    }
    assert report.unchanged == 45
    p1002 = Person.objects.get(organization=org_a, employee_number="1002")
    p1003 = Person.objects.get(organization=org_a, employee_number="1003")
    assert p1002.manager is None and p1002.has_role("supervisor")
    assert p1003.manager == p1002
    # 1001 keeps the supervisor role it had: roles are only added without a roles column.
    assert Person.objects.get(organization=org_a, employee_number="1001").has_role("supervisor")


def test_roles_column_sets_roles(org_a: Organization, tmp_path: Path) -> None:
    header = ["Табельный номер", "ФИО", "Часовой пояс", "Роли", "Руководитель"]
    rows = [
        ["1", "Админ Анна", "Europe/Moscow", "администратор, участник", ""],
        ["2", "Куратор Кирилл", "Asia/Omsk", "curator", "1"],
        ["3", "Методист Мария", "Asia/Omsk", "методист наблюдатель", ""],
        ["4", "Новый Никита", "asia/omsk", "", "2"],
    ]
    path = write_csv(tmp_path / "roles.csv", header, rows, encoding="utf-8")

    report = roster_import(organization=org_a, source=path)

    assert report.ok, report.rejected
    roles = {p.employee_number: p.roles for p in Person.objects.filter(organization=org_a)}
    # Set by the file: exactly what it says, even for the admin who manages someone.
    assert roles["1"] == "admin,participant"
    assert roles["2"] == "curator"
    assert roles["3"] == "author,viewer"
    # An empty cell derives roles as if there were no column.
    assert roles["4"] == "participant"
    zone = Person.objects.get(organization=org_a, employee_number="4").time_zone
    assert zone == "Asia/Omsk"


def _bad(rows: list[list[str]], case: str) -> tuple[list[list[str]], int, str]:
    """Break the shared rows one way; returns the rows, the broken row number, a message."""
    if case == "email":
        rows[5][2] = "ivan.example.com"
        return rows, 7, "e-mail “ivan.example.com” is not an e-mail address"
    if case == "time_zone":
        rows[5][5] = "Europe/Atlantis"
        return rows, 7, "time zone “Europe/Atlantis” is not an IANA time zone"
    if case == "duplicate":
        rows[8][0] = "1003"
        return rows, 10, "employee number 1003 is already in row 4"
    if case == "unknown_manager":
        rows[5][7] = "9999"
        return rows, 7, "manager 9999 is neither in this file nor in the organisation"
    if case == "cycle":
        rows[0][7] = "1003"  # 1001 -> 1003 -> 1001
        rows[2][7] = "1001"
        return rows, 2, "the manager chain is a cycle: 1001 → 1003 → 1001"
    if case == "self_manager":
        rows[5][7] = rows[5][0]
        return rows, 7, "a person cannot be their own manager"
    if case == "empty_name":
        rows[5][1] = " "
        return rows, 7, "the full name is empty"
    if case == "long_name":
        rows[5][1] = "Я" * 301
        return rows, 7, "full name is longer than 300 characters"
    if case == "unit_in_two_cities":
        rows[5][4] = "Тверь"
        return rows, 7, "unit “ДЦ Москва Юг” is in city “Москва” in row 6, not “Тверь”"
    raise AssertionError(case)


BAD_CASES = ["email", "time_zone", "duplicate", "unknown_manager", "cycle", "self_manager",
             "empty_name", "long_name", "unit_in_two_cities"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_row_is_rejected_with_its_number_and_nothing_is_written(
    case: str, org_a: Organization, shared_data_dir: str, tmp_path: Path
) -> None:
    header, rows = shared_rows(shared_data_dir)
    rows, row_number, message = _bad(rows, case)
    path = write_csv(tmp_path / "roster.csv", header, rows)

    with CaptureQueriesContext(connection) as queries:
        report = roster_import(organization=org_a, source=path)

    assert not report.ok and not report.written
    reasons = {r.row: r.reasons for r in report.rejected}
    assert row_number in reasons
    assert any(message in reason for reason in reasons[row_number]), reasons
    assert _writes(queries) == []
    assert not Person.objects.filter(organization=org_a).exists()
    assert not Unit.objects.filter(organization=org_a).exists()


def test_cycle_rejects_every_row_on_it(
    org_a: Organization, shared_data_dir: str, tmp_path: Path
) -> None:
    header, rows = shared_rows(shared_data_dir)
    rows[0][7] = "1003"
    rows[2][7] = "1001"
    path = write_csv(tmp_path / "roster.csv", header, rows)

    report = roster_import(organization=org_a, source=path)

    assert [r.row for r in report.rejected] == [2, 4]
    assert [r.employee_number for r in report.rejected] == ["1001", "1003"]


def test_cycle_through_people_already_in_the_organisation(
    org_a: Organization, shared_data_dir: str, tmp_path: Path
) -> None:
    roster_import(organization=org_a, source=_roster(shared_data_dir))
    # 1002 reports to 1001 in the database; now 1001 is to report to 1002.
    header = ["Табельный номер", "ФИО", "Часовой пояс", "Руководитель"]
    path = write_csv(tmp_path / "one.csv", header,
                     [["1001", "Козлова Валерия", "Europe/Kaliningrad", "1002"]])

    report = roster_import(organization=org_a, source=path)

    assert [r.row for r in report.rejected] == [2]
    assert "1001 → 1002 → 1001" in report.rejected[0].reasons[0]
    assert Person.objects.get(organization=org_a, employee_number="1001").manager is None


def test_rejected_file_leaves_an_existing_roster_untouched(
    org_a: Organization, shared_data_dir: str, tmp_path: Path
) -> None:
    roster_import(organization=org_a, source=_roster(shared_data_dir))
    before = snapshot(org_a)
    header, rows = shared_rows(shared_data_dir)
    rows[0][1] = "Козлова-Петрова Валерия"  # a valid change...
    rows[47][2] = "no-at-sign"  # ...in a file with one bad row (row 49)
    path = write_csv(tmp_path / "roster.csv", header, rows)

    report = roster_import(organization=org_a, source=path)

    assert [r.row for r in report.rejected] == [49]
    assert snapshot(org_a) == before


def test_manager_already_in_the_organisation_is_found_and_made_supervisor(
    org_a: Organization, tmp_path: Path
) -> None:
    header = ["Табельный номер", "ФИО", "Часовой пояс", "Руководитель"]
    write_csv(tmp_path / "a.csv", header, [["1", "Босс", "Europe/Moscow", ""]])
    roster_import(organization=org_a, source=tmp_path / "a.csv")
    write_csv(tmp_path / "b.csv", header, [["2", "Подчинённый", "Europe/Moscow", "1"]])

    report = roster_import(organization=org_a, source=tmp_path / "b.csv")

    assert report.ok and report.created == ["2"]
    updated = [(u.employee_number, u.row, u.fields) for u in report.updated]
    assert updated == [("1", None, ["roles"])]
    boss = Person.objects.get(organization=org_a, employee_number="1")
    assert boss.roles == "participant,supervisor"
    assert Person.objects.get(organization=org_a, employee_number="2").manager == boss


def test_missing_required_columns_are_named_and_nothing_is_written(
    org_a: Organization, shared_data_dir: str, tmp_path: Path
) -> None:
    header, rows = shared_rows(shared_data_dir)
    drop = {header.index("Часовой пояс"), header.index("ФИО")}
    path = write_csv(
        tmp_path / "roster.csv",
        [h for i, h in enumerate(header) if i not in drop],
        [[v for i, v in enumerate(r) if i not in drop] for r in rows],
    )

    report = roster_import(organization=org_a, source=path)

    assert not report.ok and len(report.errors) == 1
    error = report.errors[0]
    assert error.startswith("roster.csv: row 1 (header): required columns are missing:")
    assert "full name" in error and "time zone" in error and "employee number" not in error
    assert not Person.objects.filter(organization=org_a).exists()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "the file is empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "old Excel format"),
        (b"PK\x03\x04garbage", "cannot open the XLSX workbook"),
        ("Табельный номер;ФИО;Часовой пояс\n1;Иванов Иван;Europe/Moscow\n".encode("utf-16"),
         "the text encoding is not UTF-8, cp1251 or KOI8-R"),
    ],
)
def test_unreadable_files_get_one_clear_error(
    content: bytes, fragment: str, org_a: Organization
) -> None:
    report = roster_import(organization=org_a, source=content, filename="upload.csv")

    assert not report.ok and report.errors and fragment in report.errors[0]
    assert report.errors[0].startswith("upload.csv: ")


def test_header_aliases_ignore_case_spaces_punctuation_and_yo(
    org_a: Organization, tmp_path: Path
) -> None:
    header = ["  ТАБЕЛЬНЫЙ  НОМЕР ", "ф.и.о.", "E_MAIL", "Часовой-пояс", "Руководитель (таб. №)",
              "Примечание"]
    path = write_csv(tmp_path / "r.csv", header,
                     [["7", "Ёлкин Пётр", "petr@example.org", "Europe/Moscow", "", "x"]])

    report = roster_import(organization=org_a, source=path)

    assert report.ok, (report.errors, report.rejected)
    person = Person.objects.get(organization=org_a, employee_number="7")
    assert (person.full_name, person.email) == ("Ёлкин Пётр", "petr@example.org")


def test_the_same_employee_number_lives_in_two_organisations(
    org_a: Organization, org_b: Organization, shared_data_dir: str
) -> None:
    roster_import(organization=org_a, source=_roster(shared_data_dir))
    report = roster_import(organization=org_b, source=_roster(shared_data_dir))

    assert report.ok and len(report.created) == 48
    manager = Person.objects.get(organization=org_b, employee_number="1002").manager
    assert manager is not None and manager.organization == org_b


@settings(max_examples=200, deadline=None)
@given(st.from_regex(_PLAIN_EMAIL, fullmatch=True).filter(lambda a: len(a) <= 254))
def test_fast_email_check_accepts_only_what_django_accepts(address: str) -> None:
    from django.core.validators import validate_email

    assert _is_email(address)
    validate_email(address)  # raises if the fast path were wider than Django's rule


@pytest.mark.parametrize("address", ["a@b", "a@@b.ru", "a b@c.ru", "@c.ru", "a@c.r", "a@-c.ru"])
def test_not_an_email(address: str) -> None:
    assert not _is_email(address)


def test_time_zone_names_are_matched_without_case() -> None:
    assert canonical_time_zone("asia/VLADIVOSTOK") == "Asia/Vladivostok"
    assert canonical_time_zone("Europe/Atlantis") is None
    assert canonical_time_zone("MSK") is None
