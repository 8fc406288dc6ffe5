"""The CLI, the API and the board page, and isolation between organisations."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import translation
from openpyxl import load_workbook

from fokus.core.services import api_token_create
from fokus.leaderboard.models import BoardMode, BoardSettings
from fokus.leaderboard.tests.factories import Marathon, award, marathon
from fokus.people.models import Person, Role

pytestmark = pytest.mark.django_db


def _login(person: Person) -> Client:
    user = User.objects.create_user(username=f"u-{person.pk}")
    person.user = user
    person.save(update_fields=["user"])
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def m(org_a) -> Marathon:
    m = marathon(org_a)
    anna = m.person("A1", "Анна", tracks=("consultants",))
    boris = m.person("B2", "Борис", unit="South", tracks=("consultants", "seniors"))
    m.person("C3", "Admin", roles=Role.ADMIN, tracks=())
    award(m, anna, 3)
    award(m, anna, 2, source="kpi")
    award(m, boris, "2.5")
    return m


def _cli(*args: str) -> str:
    out = io.StringIO()
    with translation.override("en"):
        call_command("leaderboard", *args, stdout=out)
    return out.getvalue()


def test_cli_json_has_exactly_the_documented_keys(m: Marathon) -> None:
    rows = json.loads(_cli("spring", "--org", "alpha", "--format", "json"))
    assert rows == [
        {"employee_number": "A1", "name": "Анна", "learning": 3, "kpi": 2, "total": 5, "rank": 1},
        {"employee_number": "B2", "name": "Борис", "learning": 2.5, "kpi": 0, "total": 2.5,
         "rank": 2},
    ]
    seniors = json.loads(_cli("spring", "--org", "alpha", "--track", "seniors", "--format", "json"))
    assert [(r["name"], r["track"], r["rank"]) for r in seniors] == [("Борис", "seniors", 1)]
    teams = json.loads(_cli("spring", "--org", "alpha", "--teams", "--format", "json"))
    assert [(t["unit"], t["rank"]) for t in teams] == [("North", 1), ("South", 2)]


def test_cli_text_csv_and_errors(m: Marathon) -> None:
    text = _cli("spring", "--org", "alpha", "--period", "day:2026-03-02")
    assert "Анна" in text and "Борис" in text
    csv_text = _cli("spring", "--org", "alpha", "--format", "csv")
    assert csv_text.splitlines()[1].startswith("1;A1;Анна;North;3;2;0;5")
    with pytest.raises(CommandError, match="no program"):
        _cli("autumn", "--org", "alpha")
    with pytest.raises(CommandError, match="Unknown organisation"):
        _cli("spring", "--org", "nowhere")
    with pytest.raises(CommandError, match="period"):
        _cli("spring", "--org", "alpha", "--period", "month:3")
    with pytest.raises(CommandError, match="no track"):
        _cli("spring", "--org", "alpha", "--track", "drivers")


def test_cli_does_not_reach_another_organisations_program(m: Marathon, org_b) -> None:
    with pytest.raises(CommandError):
        _cli("spring", "--org", "beta")


def test_api_board_me_teams_and_modes(m: Marathon) -> None:
    anna = _login(m.people["A1"])
    board = anna.get("/api/v1/leaderboards/spring").json()
    assert [
        (r["name"], r["learning"], r["kpi"], r["total"], r["rank"], r["is_me"])
        for r in board["rows"]
    ] == [("Анна", 3, 2, 5, 1, True), ("Борис", 2.5, 0, 2.5, 2, False)]
    me = anna.get("/api/v1/leaderboards/spring/me?neighbours=1").json()
    assert me["row"]["rank"] == 1 and [r["name"] for r in me["below"]] == ["Борис"]
    teams = anna.get("/api/v1/leaderboards/spring/teams").json()
    assert teams["rows"][0]["unit"] == "North"
    assert anna.get("/api/v1/leaderboards/spring?period=week:2026-W99").status_code == 400
    assert anna.get("/api/v1/leaderboards/spring?track=drivers").status_code == 404

    BoardSettings.objects.create(program=m.program, mode=BoardMode.ANONYMOUS)
    board = anna.get("/api/v1/leaderboards/spring").json()
    assert board["mode"] == "anonymous"
    assert [r["name"] for r in board["rows"]] == ["Анна", None]
    assert "Борис" not in anna.get("/api/v1/leaderboards/spring").content.decode()
    # Admins see names whatever the mode.
    admin = _login(m.people["C3"])
    assert [r["name"] for r in admin.get("/api/v1/leaderboards/spring").json()["rows"]] == [
        "Анна", "Борис"
    ]


def test_exports_for_managers_not_for_participants(m: Marathon) -> None:
    BoardSettings.objects.create(program=m.program, mode=BoardMode.ANONYMOUS)
    assert _login(m.people["A1"]).get("/api/v1/leaderboards/spring/export.csv").status_code == 403
    admin = _login(m.people["C3"])
    response = admin.get("/api/v1/leaderboards/spring/export.csv")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[2].startswith("2;B2;Борис;South;2,5;0;0;2,5")
    response = admin.get("/api/v1/leaderboards/spring/export.xlsx?teams=true")
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    assert [c.value for c in sheet[2]][:2] == [1, "North"]


def test_api_token_of_another_organisation_gets_404(m: Marathon, org_b) -> None:
    outsider = Person.objects.create(
        organization=org_b, employee_number="X", full_name="Outsider", time_zone="UTC",
        roles=Role.ADMIN,
    )
    user = User.objects.create_user(username="outsider")
    outsider.user = user
    outsider.save()
    _token, key = api_token_create(organization=org_b, user=user, name="t")
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    for path in ("", "/me", "/teams", "/export.csv", "/export.xlsx"):
        response = Client().get(f"/api/v1/leaderboards/spring{path}", **auth)
        assert response.status_code == 404, path
    page = _login(outsider).get("/leaderboards/spring/")
    assert page.status_code == 404


def test_board_page_highlights_my_place_and_offers_downloads_to_admins(m: Marathon) -> None:
    anna = _login(m.people["B2"])
    page = anna.get("/leaderboards/spring/").content.decode()
    assert 'class="me"' in page and "Борис" in page and "Анна" in page
    assert "export.csv" not in page
    assert anna.get("/leaderboards/spring/?view=teams").status_code == 200
    assert anna.get("/leaderboards/spring/?track=seniors&period=week:2026-W10").status_code == 200
    assert anna.get("/leaderboards/").status_code == 302
    BoardSettings.objects.create(program=m.program, mode=BoardMode.NEIGHBOURS_ONLY, neighbours=0)
    page = anna.get("/leaderboards/spring/").content.decode()
    assert "Анна" not in page
    admin_page = _login(m.people["C3"]).get("/leaderboards/spring/").content.decode()
    assert "Анна" in admin_page and "export.xlsx" in admin_page
