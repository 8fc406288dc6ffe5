"""/api/v1/programs: scoped by organisation, roles, the same shapes as the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation

from fokus.core.models import Organization
from fokus.core.services import api_token_create
from fokus.people.models import Person
from fokus.programs.models import Enrollment, Program
from fokus.programs.services import program_enroll, program_import
from fokus.programs.tests.matrix_factories import EXAMPLE, SMALL, make_person, row_counts

BASE = "/api/v1/programs"


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


def client_for(person: Person) -> Client:
    user = person.user
    if user is None:
        username = f"u-{person.organization.slug}-{person.employee_number}"
        user = get_user_model().objects.create_user(username=username)
        person.user = user
        person.save()
    _token, key = api_token_create(organization=person.organization, user=user, name="test")
    # Messages are asserted in English; without the header the API answers in Russian.
    return Client(headers={"authorization": f"Bearer {key}", "accept-language": "en"})


@pytest.fixture
def program(org_a: Organization) -> Program:
    return program_import(
        organization=org_a, text=EXAMPLE.read_text(encoding="utf-8"), source_name="x"
    )


@pytest.fixture
def people(org_a: Organization, program: Program) -> dict[str, Person]:
    head = make_person(org_a, "H1", roles="supervisor")
    senior = make_person(org_a, "S1", manager=head, roles="supervisor")
    consultant = make_person(org_a, "C1", zone="Asia/Vladivostok", manager=senior)
    other = make_person(org_a, "C2")
    program_enroll(
        program=program, track=program.tracks.get(slug="consultants"), people=[consultant, other]
    )
    return {
        "head": head,
        "senior": senior,
        "consultant": consultant,
        "other": other,
        "admin": make_person(org_a, "A1", roles="admin"),
        "author": make_person(org_a, "M1", roles="author"),
        "viewer": make_person(org_a, "V1", roles="viewer"),
    }


def test_list_show_and_matrix(people: dict[str, Person]) -> None:
    client = client_for(people["other"])
    listed = client.get(BASE).json()
    assert [p["slug"] for p in listed] == ["sales-marathon"]
    shown = client.get(f"{BASE}/sales-marathon").json()
    assert [(t["slug"], t["follows"]) for t in shown["tracks"]] == [
        ("consultants", None),
        ("seniors", "consultants"),
    ]
    assert len(shown["tracks"][0]["days"]) == 7
    matrix = client.get(f"{BASE}/sales-marathon/matrix")
    assert matrix.status_code == 200
    assert matrix["content-type"].startswith("application/yaml")
    assert matrix.content == EXAMPLE.read_bytes()


def test_import_by_authors_only_with_located_errors(people: dict[str, Person]) -> None:
    author = client_for(people["author"])
    response = author.post(f"{BASE}/import", SMALL, content_type="application/yaml")
    assert response.status_code == 200, response.content
    assert response.json()["slug"] == "sprint"

    before = row_counts()
    bad = SMALL.replace("follows: consultants", "follows: senior")
    response = author.post(f"{BASE}/import", bad, content_type="application/yaml")
    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == [
        {
            "field": "tracks[1].follows",
            "message": 'matrix.yaml:32 tracks[1].follows: unknown track "senior"; '
            "tracks in this file: consultants, seniors",
        }
    ]
    assert row_counts() == before

    upload = SimpleUploadedFile("sprint.yaml", bad.encode(), content_type="application/yaml")
    response = author.post(f"{BASE}/import", {"file": upload})
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("sprint.yaml:32 ")

    participant = client_for(people["other"])
    assert (
        participant.post(f"{BASE}/import", SMALL, content_type="application/yaml").status_code
        == 403
    )


def test_enrollments_by_admins(people: dict[str, Person], org_a: Organization) -> None:
    make_person(org_a, "C3", manager=people["senior"])
    admin = client_for(people["admin"])
    url = f"{BASE}/sales-marathon/enrollments"
    payload: dict[str, Any] = {
        "track": "consultants",
        "employee_numbers": ["C3", "C1"],
        "with_supervisors": True,
    }
    response = admin.post(url, payload, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "program": "sales-marathon",
        "track": "consultants",
        "enrolled": ["C3"],
        "already_enrolled": ["C1"],
        "supervisors": {"seniors": {"enrolled": ["S1"], "already_enrolled": []}},
    }
    before = Enrollment.objects.count()
    response = admin.post(
        url,
        {"track": "consultants", "employee_numbers": ["C3", "NOPE"]},
        content_type="application/json",
    )
    assert response.status_code == 400 and "NOPE" in response.json()["detail"]
    response = admin.post(
        url,
        {"track": "consultants", "employee_numbers": ["C3"], "extra": 1},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert Enrollment.objects.count() == before
    author = client_for(people["author"])
    assert author.post(url, payload, content_type="application/json").status_code == 403


def test_schedule_visible_to_self_manager_chain_and_staff(people: dict[str, Person]) -> None:
    url = f"{BASE}/sales-marathon/schedule/C1"
    for who in ("consultant", "senior", "head", "admin", "viewer"):
        response = client_for(people[who]).get(url)
        assert response.status_code == 200, who
    rows = response.json()
    assert rows[0] == {
        "day": 1,
        "kind": "lesson",
        "local": "2026-11-23T10:00:00+10:00",
        "utc": "2026-11-23T00:00:00Z",
    }
    assert client_for(people["other"]).get(url).status_code == 403
    assert client_for(people["author"]).get(url).status_code == 403
    assert (
        client_for(people["admin"]).get(f"{BASE}/sales-marathon/schedule/NOBODY").status_code == 404
    )


def test_another_organisations_programs_are_not_found(
    people: dict[str, Person], org_b: Organization
) -> None:
    outsider_admin = make_person(org_b, "A1", roles="admin,author")
    client = client_for(outsider_admin)
    assert client.get(BASE).json() == []
    for path in ("/sales-marathon", "/sales-marathon/matrix", "/sales-marathon/schedule/C1"):
        assert client.get(BASE + path).status_code == 404, path
    response = client.post(
        f"{BASE}/sales-marathon/enrollments",
        {"track": "consultants", "employee_numbers": ["A1"]},
        content_type="application/json",
    )
    assert response.status_code == 404
    # Importing the same slug creates org_b's own program and leaves org_a's alone.
    response = client.post(
        f"{BASE}/import", EXAMPLE.read_text(encoding="utf-8"), content_type="application/yaml"
    )
    assert response.status_code == 200
    assert Program.objects.filter(slug="sales-marathon").count() == 2


def test_anonymous_is_refused() -> None:
    assert Client().get(BASE).status_code == 401
