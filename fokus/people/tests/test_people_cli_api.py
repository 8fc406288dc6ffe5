"""`fokus org create`, `fokus people import` and /api/v1/people, as users call them."""

from __future__ import annotations

import json
import os
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import translation

from fokus.core.models import Organization
from fokus.core.services import api_token_create
from fokus.people.models import Person
from fokus.people.services import person_grant_login, roster_import
from fokus.people.tests.roster_helpers import shared_rows, write_csv

PEOPLE = "/api/v1/people"


def _roster(shared_data_dir: str) -> str:
    return os.path.join(shared_data_dir, "roster.csv")


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# --- fokus org create -------------------------------------------------------------------

def test_org_create_prints_json(db: None) -> None:
    data = json.loads(_run("org", "create", "north", "--name", "Север Авто",
                           "--time-zone", "asia/novosibirsk"))

    assert data["slug"] == "north" and data["name"] == "Север Авто"
    assert data["default_time_zone"] == "Asia/Novosibirsk"
    assert Organization.objects.filter(slug="north").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["alpha", "--name", "Ещё одна"], "already exists"),
        (["Bad Slug", "--name", "X"], "slug: Use lowercase Latin letters"),
        (["gamma", "--name", "X", "--time-zone", "Mars/Olympus"], "not an IANA time zone"),
        (["gamma", "--name", "  "], "--name must not be empty"),
    ],
)
def test_org_create_refuses_bad_input(args: list[str], message: str, org_a: Organization) -> None:
    with pytest.raises(CommandError, match=message):
        _run("org", "create", *args)
    assert Organization.objects.count() == 1


# --- fokus people import ----------------------------------------------------------------

def test_people_import_prints_counts_then_unchanged_on_reimport(
    org_a: Organization, shared_data_dir: str
) -> None:
    first = _run("people", "import", _roster(shared_data_dir), "--org", "alpha")
    assert "roster.csv: 48 rows: created 48, updated 0, unchanged 0, rejected 0" in first
    assert "units: created 12" in first

    again = _run("people", "import", _roster(shared_data_dir), "--org", "alpha")
    assert "created 0, updated 0, unchanged 48, rejected 0" in again


def test_people_import_names_changed_fields_in_the_readers_language(
    org_a: Organization, shared_data_dir: str, tmp_path: Path
) -> None:
    header, rows = shared_rows(shared_data_dir)
    _run("people", "import", str(write_csv(tmp_path / "r.csv", header, rows)), "--org", "alpha")
    rows[0][5] = "Asia/Vladivostok"
    changed = str(write_csv(tmp_path / "r.csv", header, rows))

    with translation.override("ru"):
        russian = _run("people", "import", changed, "--org", "alpha", "--dry-run")
    english = _run("people", "import", changed, "--org", "alpha", "--dry-run")

    assert "(строка 2): часовой пояс" in russian and "time_zone" not in russian
    assert "(row 2): time zone" in english


def test_people_import_dry_run_json(org_a: Organization, shared_data_dir: str) -> None:
    data = json.loads(_run("people", "import", _roster(shared_data_dir), "--org", "alpha",
                           "--dry-run", "--format", "json"))

    assert data["ok"] and data["dry_run"] and not data["written"]
    assert data["counts"]["created"] == 48 and len(data["created"]) == 48
    assert not Person.objects.exists()


def test_people_import_rejected_rows_exit_non_zero_and_write_nothing(
    org_a: Organization, shared_data_dir: str, tmp_path: Path
) -> None:
    header, rows = shared_rows(shared_data_dir)
    rows[5][2] = "x"
    rows[9][5] = "Moscow"
    path = write_csv(tmp_path / "bad.csv", header, rows)
    out = StringIO()

    with pytest.raises(CommandError, match=r"2 rows of bad\.csv were rejected; nothing was"):
        call_command("people", "import", str(path), "--org", "alpha", stdout=out)

    text = out.getvalue()
    assert "row 7: e-mail “x” is not an e-mail address" in text
    assert "row 11: time zone “Moscow” is not an IANA time zone name" in text
    assert not Person.objects.exists()


def test_people_import_json_lists_rejected_rows(
    org_a: Organization, shared_data_dir: str, tmp_path: Path
) -> None:
    header, rows = shared_rows(shared_data_dir)
    rows[3][7] = "7777"
    path = write_csv(tmp_path / "bad.csv", header, rows)
    out = StringIO()

    with pytest.raises(CommandError):
        call_command("people", "import", str(path), "--org", "alpha", "--format", "json",
                     stdout=out)

    data = json.loads(out.getvalue())
    assert not data["ok"]
    assert data["rejected"] == [{
        "row": 5, "employee_number": "1004",
        "reasons": ["manager 7777 is neither in this file nor in the organisation"],
    }]


@pytest.mark.parametrize(
    ("file_name", "org", "message"),
    [
        ("roster.csv", "nobody", "No organisation with slug “nobody”"),
        ("missing.csv", "alpha", "missing.csv cannot be imported"),
    ],
)
def test_people_import_unknown_org_or_file(
    file_name: str, org: str, message: str, org_a: Organization, shared_data_dir: str
) -> None:
    with pytest.raises(CommandError, match=message):
        _run("people", "import", os.path.join(shared_data_dir, file_name), "--org", org)


# --- logins -------------------------------------------------------------------------------

def test_person_grant_login_creates_then_updates_the_user(
    org_a: Organization, shared_data_dir: str
) -> None:
    roster_import(organization=org_a, source=_roster(shared_data_dir))
    person = Person.objects.get(organization=org_a, employee_number="1001")

    user = person_grant_login(person=person, username="senior", password="first-pass-1")
    again = person_grant_login(person=person, username="senior2", password="second-pass-2")

    assert again.pk == user.pk and again.username == "senior2"
    assert again.check_password("second-pass-2") and again.email == person.email
    person.refresh_from_db()
    assert person.user_id == user.pk
    other = Person.objects.get(organization=org_a, employee_number="1002")
    with pytest.raises(ValidationError):
        person_grant_login(person=other, username="senior2", password="x-pass-123")


# --- /api/v1/people -----------------------------------------------------------------------

@pytest.fixture
def roster_a(org_a: Organization, shared_data_dir: str) -> Organization:
    roster_import(organization=org_a, source=_roster(shared_data_dir))
    return org_a


def _token(organization: Organization, employee_number: str, roles: str | None = None) -> str:
    person = Person.objects.get(organization=organization, employee_number=employee_number)
    if roles is not None:
        person.roles = roles
        person.save(update_fields=["roles"])
    user = person_grant_login(person=person, username=f"u{organization.slug}{employee_number}",
                              password="pass-word-1")
    return api_token_create(organization=organization, user=user, name="test")[1]


def _client(key: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_ACCEPT_LANGUAGE="en")


def test_api_lists_people_a_page_at_a_time(roster_a: Organization) -> None:
    client = _client(_token(roster_a, "1002"))

    page = client.get(PEOPLE, {"limit": 10, "offset": 0}).json()
    assert page["count"] == 48 and len(page["items"]) == 10
    assert page["items"][1] == {
        "employee_number": "1002", "full_name": "Николаев Павел",
        "email": "pavel.nikolaev.1002@dealer.example", "time_zone": "Europe/Kaliningrad",
        "position": "Продавец-консультант", "unit": "ДЦ Калининград Север", "manager": "1001",
        "roles": ["participant"],
    }
    seniors = client.get(PEOPLE, {"role": "supervisor", "limit": "100"}).json()
    assert seniors["count"] == 12
    unit = client.get(PEOPLE, {"unit": "ДЦ Магадан"}).json()
    assert unit["count"] == 4 and {p["time_zone"] for p in unit["items"]} == {"Asia/Magadan"}


@pytest.mark.parametrize("query", [{"role": "boss"}, {"limit": 0}, {"limit": 5000}])
def test_api_list_rejects_bad_filters(query: dict[str, str | int], roster_a: Organization) -> None:
    response = _client(_token(roster_a, "1002")).get(PEOPLE, query)
    assert response.status_code == 422


def test_api_person_detail_and_organisation_scoping(
    roster_a: Organization, org_b: Organization, tmp_path: Path
) -> None:
    write_csv(tmp_path / "b.csv", ["Табельный номер", "ФИО", "Часовой пояс"],
              [["B-1", "Чужой Человек", "Europe/Moscow"]])
    roster_import(organization=org_b, source=tmp_path / "b.csv")
    client = _client(_token(roster_a, "1002"))

    detail = client.get(f"{PEOPLE}/1003")
    assert detail.status_code == 200 and detail.json()["manager"] == "1001"
    assert client.get(f"{PEOPLE}/B-1").status_code == 404
    assert client.get(f"{PEOPLE}/9999").status_code == 404
    assert "Чужой" not in client.get(PEOPLE, {"limit": 1000}).content.decode()
    assert Client().get(PEOPLE).status_code == 401


def test_api_import_needs_the_admin_role(roster_a: Organization, shared_data_dir: str) -> None:
    participant = _client(_token(roster_a, "1002"))
    with open(_roster(shared_data_dir), "rb") as f:
        response = participant.post(f"{PEOPLE}/import", {"file": f})
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_api_import_as_admin_dry_run_then_real(
    org_a: Organization, org_b: Organization, shared_data_dir: str, tmp_path: Path
) -> None:
    # An admin of B imports into B only, whatever A holds.
    write_csv(tmp_path / "admin.csv", ["Табельный номер", "ФИО", "Часовой пояс", "Роли"],
              [["A-1", "Админ", "Europe/Moscow", "admin"]])
    roster_import(organization=org_b, source=tmp_path / "admin.csv")
    admin = _client(_token(org_b, "A-1"))

    with open(_roster(shared_data_dir), "rb") as f:
        dry = admin.post(f"{PEOPLE}/import", {"file": f, "dry_run": "true"})
    assert dry.status_code == 200
    assert dry.json()["counts"]["created"] == 48 and dry.json()["dry_run"]
    assert Person.objects.filter(organization=org_b).count() == 1

    with open(_roster(shared_data_dir), "rb") as f:
        real = admin.post(f"{PEOPLE}/import", {"file": f})
    assert real.status_code == 200 and real.json()["written"]
    assert Person.objects.filter(organization=org_b).count() == 49
    assert not Person.objects.filter(organization=org_a).exists()


def test_api_import_with_rejected_rows_answers_400_with_the_report(
    roster_a: Organization, shared_data_dir: str, tmp_path: Path
) -> None:
    key = _token(roster_a, "1001", roles="admin,participant,supervisor")
    header, rows = shared_rows(shared_data_dir)
    rows[0][1] = "Новое Имя"
    rows[2][0] = "1002"
    path = write_csv(tmp_path / "bad.csv", header, rows)

    with open(path, "rb") as f:
        response = _client(key).post(f"{PEOPLE}/import", {"file": f})

    assert response.status_code == 400
    body = response.json()
    assert not body["ok"] and not body["written"]
    assert body["rejected"][0]["row"] == 4
    assert "already in row 3" in body["rejected"][0]["reasons"][0]
    senior = Person.objects.get(organization=roster_a, employee_number="1001")
    assert senior.full_name != "Новое Имя"


def test_api_import_of_an_unreadable_file_answers_400(roster_a: Organization) -> None:
    key = _token(roster_a, "1001", roles="admin")
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("people.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 64)
    response = _client(key).post(f"{PEOPLE}/import", {"file": upload})

    assert response.status_code == 400
    assert "old Excel format" in response.json()["errors"][0]


def test_staff_without_admin_role_may_import(roster_a: Organization, tmp_path: Path) -> None:
    key = _token(roster_a, "1002")
    User.objects.filter(username="ualpha1002").update(is_staff=True)
    path = write_csv(tmp_path / "one.csv", ["Табельный номер", "ФИО", "Часовой пояс"],
                     [["5000", "Новенький", "Asia/Omsk"]])

    with open(path, "rb") as f:
        response = _client(key).post(f"{PEOPLE}/import", {"file": f})

    assert response.status_code == 200 and response.json()["created"] == ["5000"]
