"""CLI, pages, API and admin of scoring, including isolation between organisations."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from fokus.core.models import Organization
from fokus.core.services import api_token_create
from fokus.scoring import queries, services
from fokus.scoring.models import PointsEntry
from fokus.scoring.tests.factories import STARTS_ON, Seed, seed_program

D = Decimal


@pytest.fixture
def seed(org_a: Organization) -> Seed:
    return seed_program(org_a, login=True)


@pytest.fixture
def other(org_b: Organization) -> Seed:
    return seed_program(org_b, slug="other-marathon", login=True)


def _cli(*args: str) -> str:
    out = StringIO()
    call_command("scoring", *args, stdout=out)
    return out.getvalue()


def _grade(seed: Seed, who: str = "c1", grade: int = 3, attempt: str = "a1") -> PointsEntry:
    return services.grade_points_record(
        program=seed.program, person=seed[who], task=seed.tasks[0], attempt_key=attempt,
        grade=grade, graded_by=seed["curator"], occurred_on=STARTS_ON,
    )


# --- CLI ---------------------------------------------------------------------------------


def test_cli_rules_shows_the_rules_and_the_share_report(seed: Seed) -> None:
    data = json.loads(_cli("rules", "sales-marathon", "--org", "alpha", "--format", "json"))
    assert data["rules"]["grade_points"] == {"1": "1", "2": "2", "3": "3"}
    assert data["rules"]["kpi"][0] == {
        "metric": "cars_sold", "points_per_unit": "1", "cap_per_day": None,
        "cap_per_program": "22",
    }
    report = data["share_report"]
    assert report["holds"] and report["max_learning"] == "42" and report["max_kpi"] == "22"
    assert report["binding_track"] == "consultants"
    text = _cli("rules", "sales-marathon", "--org", "alpha")
    assert "The learning-first guarantee holds." in text
    assert "consultants: 14 tasks, 2 participants; learning up to 42" in text


def test_cli_set_rules_refuses_a_breaking_file_and_saves_a_fitting_one(
    seed: Seed, tmp_path: Path
) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("kpi:\n- metric: cars_sold\n  points_per_unit: 1\n  cap_per_day: 3\n")
    with pytest.raises(CommandError) as caught:
        _cli("set-rules", "sales-marathon", "--org", "alpha", "--file", str(bad))
    message = str(caught.value)
    assert "not saved" in message
    assert "KPI up to 48 and bonus up to 6: learning would be 43.7% < 60%" in message
    assert "or 22 for the program (points per person)" in message
    good = tmp_path / "good.yaml"
    good.write_text("min_learning_share: 50%\nkpi:\n- metric: cars_sold\n  points_per_unit: 1\n"
                    "  cap_per_day: 2\n")
    out = _cli("set-rules", "sales-marathon", "--org", "alpha", "--file", str(good))
    assert "Saved" in out
    rules = queries.scoring_rules_for(seed.program)
    assert rules.min_learning_share == D("0.5")
    assert rules.kpi_rules.get().cap_per_person_per_day == D(2)
    # A field error names the file and line.
    typo = tmp_path / "typo.yaml"
    typo.write_text("bonus:\n  max_per_entry: 3\n  max_per_person: lots\n")
    with pytest.raises(CommandError, match=r"typo.yaml, line 3: bonus.max_per_person"):
        _cli("set-rules", "sales-marathon", "--org", "alpha", "--file", str(typo))


def test_cli_bonus_and_ledger(seed: Seed) -> None:
    _grade(seed)
    out = _cli("bonus", "sales-marathon", "--org", "alpha", "--to", "C-1", "--points", "2",
               "--reason", "Лучший отзыв клиента", "--by", "S-1", "--key", "k1")
    assert "+2 bonus points" in out
    _cli("bonus", "sales-marathon", "--org", "alpha", "--to", "C-1", "--points", "2",
         "--reason", "Лучший отзыв клиента", "--by", "S-1", "--key", "k1")
    assert PointsEntry.objects.filter(source="bonus").count() == 1
    with pytest.raises(CommandError, match="Only a manager"):
        _cli("bonus", "sales-marathon", "--org", "alpha", "--to", "C-1", "--points", "1",
             "--reason", "x", "--by", "P-1")
    with pytest.raises(CommandError, match="no employee number"):
        _cli("bonus", "sales-marathon", "--org", "alpha", "--to", "NOPE", "--points", "1",
             "--reason", "x", "--by", "S-1")
    data = json.loads(_cli("ledger", "sales-marathon", "--org", "alpha", "--person", "C-1",
                           "--format", "json"))
    assert [e["running_total"] for e in data["entries"]] == ["3.00", "5.00"]
    assert data["totals"]["total"] == "5.00"
    everyone = json.loads(_cli("ledger", "sales-marathon", "--org", "alpha", "--format", "json"))
    assert everyone["people"] == [{
        "employee_number": "C-1", "full_name": "Консультант Иван", "learning": "3.00",
        "kpi": "0.00", "bonus": "2.00", "other": "0.00", "total": "5.00",
    }]


def test_cli_does_not_reach_another_organisation(seed: Seed, other: Seed) -> None:
    services.grade_points_record(
        program=other.program, person=other["c1"], task=other.tasks[0], attempt_key="b1",
        grade=3, graded_by=None, occurred_on=STARTS_ON,
    )
    with pytest.raises(CommandError, match="no program"):
        _cli("rules", "other-marathon", "--org", "alpha")
    with pytest.raises(CommandError, match="no program"):
        _cli("ledger", "other-marathon", "--org", "alpha", "--person", "C-1")
    # Employee numbers repeat between organisations: alpha's C-1 has no entries.
    data = json.loads(_cli("ledger", "sales-marathon", "--org", "alpha", "--person", "C-1",
                           "--format", "json"))
    assert data["entries"] == [] and data["totals"]["total"] == "0.00"


# --- pages -------------------------------------------------------------------------------


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _rules_post(**overrides: str) -> dict[str, str]:
    data = {
        "grade_1": "1", "grade_2": "2", "grade_3": "3", "min_learning_share": "60",
        "bonus_max_per_entry": "3", "bonus_max_per_person": "6",
        "kpi-TOTAL_FORMS": "1", "kpi-INITIAL_FORMS": "0", "kpi-MIN_NUM_FORMS": "0",
        "kpi-MAX_NUM_FORMS": "20",
        "kpi-0-metric": "cars_sold", "kpi-0-points_per_unit": "1", "kpi-0-cap_per_day": "",
        "kpi-0-cap_per_program": "20",
    }
    data.update(overrides)
    return data


def test_rules_page_shows_the_report_refuses_with_the_reason_and_saves(seed: Seed) -> None:
    client = _client(seed.users["admin"])
    url = reverse("scoring:rules", kwargs={"slug": "sales-marathon"})
    page = client.get(url)
    assert page.status_code == 200
    assert "The learning-first guarantee holds." in page.content.decode()
    refused = client.post(url, _rules_post(**{"kpi-0-cap_per_program": "40"}))
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "The rules were not saved." in body
    assert "KPI up to 40 and bonus up to 6: learning would be 47.7% &lt; 60%" in body
    assert queries.scoring_rules_for(seed.program).kpi_rules.get().cap_per_person_per_program \
        == D(22)
    saved = client.post(url, _rules_post())
    assert saved.status_code == 302
    assert queries.scoring_rules_for(seed.program).kpi_rules.get().cap_per_person_per_program \
        == D(20)


@pytest.mark.parametrize("who", ["c1", "senior", "viewer", "curator"])
def test_rules_page_is_for_admins_only(seed: Seed, who: str) -> None:
    url = reverse("scoring:rules", kwargs={"slug": "sales-marathon"})
    assert _client(seed.users[who]).get(url).status_code == 403


def test_bonus_page_awards_once_per_form_and_shows_refusals(seed: Seed) -> None:
    client = _client(seed.users["senior"])
    url = reverse("scoring:bonus", kwargs={"slug": "sales-marathon"})
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Консультант Иван" in body and "Соседний Пётр" not in body
    form = {"person": str(seed["c1"].pk), "points": "2", "reason": "Закрыл сложную сделку",
            "request_key": "abc"}
    assert client.post(url, form).status_code == 302
    assert client.post(url, form).status_code == 302
    assert PointsEntry.objects.filter(source="bonus").count() == 1
    too_much = client.post(url, {**form, "points": "5", "request_key": "def"})
    assert too_much.status_code == 400
    assert PointsEntry.objects.filter(source="bonus").count() == 1
    not_mine = client.post(url, {**form, "person": str(seed["peer"].pk), "request_key": "x"})
    assert not_mine.status_code == 400
    assert _client(seed.users["c1"]).get(url).status_code == 403


def test_pages_answer_404_for_another_organisations_program(seed: Seed, other: Seed) -> None:
    for name in ("rules", "bonus"):
        url = reverse(f"scoring:{name}", kwargs={"slug": "other-marathon"})
        assert _client(seed.users["admin"]).get(url).status_code == 404
        assert _client(seed.users["admin"]).post(url, {}).status_code == 404
    # A person id of the other organisation in the bonus form selects nobody.
    url = reverse("scoring:bonus", kwargs={"slug": "sales-marathon"})
    response = _client(seed.users["admin"]).post(url, {
        "person": str(other["c1"].pk), "points": "1", "reason": "x", "request_key": "y",
    })
    assert response.status_code == 400
    assert not PointsEntry.objects.exists()


def test_index_lists_programs_with_own_points(seed: Seed, other: Seed) -> None:
    _grade(seed)
    body = _client(seed.users["c1"]).get(reverse("scoring:index")).content.decode()
    assert "Марафон продаж" in body
    assert "learning 3, KPI 0, bonus 0; total 3." in " ".join(body.split())
    assert "other-marathon" not in body


# --- API ---------------------------------------------------------------------------------


def _api(seed: Seed, who: str) -> dict[str, Any]:
    user = seed.users[who]
    _token, key = api_token_create(organization=seed.organization, user=user, name=who)
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_api_rules_get_and_put(seed: Seed) -> None:
    url = "/api/v1/scoring/programs/sales-marathon/rules"
    got = Client().get(url, **_api(seed, "c1"))
    assert got.status_code == 200
    assert got.json()["share_report"]["holds"] is True
    body: dict[str, Any] = {
        "grade_points": {"1": 1, "2": 2, "3": 3}, "min_learning_share": 0.6,
        "kpi": [{"metric": "cars_sold", "points_per_unit": 1, "cap_per_day": 3}],
        "bonus": {"max_per_entry": 3, "max_per_person": 6},
    }
    forbidden = Client().put(url, json.dumps(body), content_type="application/json",
                             **_api(seed, "c1"))
    assert forbidden.status_code == 403
    admin = _api(seed, "admin")
    refused = Client().put(url, json.dumps(body), content_type="application/json",
                           HTTP_ACCEPT_LANGUAGE="en", **admin)
    assert refused.status_code == 400
    assert "learning would be 43.7% < 60%" in refused.json()["detail"]
    body["kpi"][0]["cap_per_day"] = 1
    ok = Client().put(url, json.dumps(body), content_type="application/json", **admin)
    assert ok.status_code == 200, ok.content
    assert ok.json()["rules"]["kpi"][0]["cap_per_day"] == "1"


def test_api_bonus_and_ledger_permissions(seed: Seed) -> None:
    _grade(seed)
    url = "/api/v1/scoring/programs/sales-marathon/bonuses"
    body = {"employee_number": "C-1", "points": "1.5", "reason": "Помог новичку",
            "request_id": "r1"}
    ok = Client().post(url, json.dumps(body), content_type="application/json",
                       **_api(seed, "boss"))
    assert ok.status_code == 201 and ok.json()["amount"] == "1.50"
    again = Client().post(url, json.dumps(body), content_type="application/json",
                          **_api(seed, "boss"))
    assert again.json()["id"] == ok.json()["id"]
    denied = Client().post(url, json.dumps({**body, "request_id": "r2"}),
                           content_type="application/json", **_api(seed, "peer"))
    assert denied.status_code == 403
    ledger = "/api/v1/scoring/programs/sales-marathon/ledger/C-1"
    for who in ("c1", "senior", "boss", "admin", "viewer", "curator"):
        response = Client().get(ledger, **_api(seed, who))
        assert response.status_code == 200, who
        assert response.json()["totals"]["total"] == "4.50"
    for who in ("c2", "peer", "outsider"):
        assert Client().get(ledger, **_api(seed, who)).status_code == 403, who


def test_api_answers_404_for_another_organisation(seed: Seed, other: Seed) -> None:
    services.grade_points_record(
        program=other.program, person=other["c1"], task=other.tasks[0], attempt_key="b1",
        grade=3, graded_by=None, occurred_on=STARTS_ON,
    )
    admin = _api(seed, "admin")
    base = "/api/v1/scoring/programs"
    assert Client().get(f"{base}/other-marathon/rules", **admin).status_code == 404
    assert Client().get(f"{base}/other-marathon/ledger/C-1", **admin).status_code == 404
    # Employee numbers repeat between organisations: A's C-1 is not B's C-1.
    mine = Client().get(f"{base}/sales-marathon/ledger/C-1", **admin).json()
    assert mine["entries"] == []
    body = {"employee_number": "C-1", "points": 1, "reason": "x"}
    response = Client().post(f"{base}/other-marathon/bonuses", json.dumps(body),
                             content_type="application/json", **admin)
    assert response.status_code == 404
    assert PointsEntry.objects.filter(source="bonus").count() == 0


def test_admin_ledger_is_read_only(seed: Seed) -> None:
    _grade(seed)
    superuser = User.objects.create_superuser("root", "root@example.com", "x")
    client = _client(superuser)
    entry = PointsEntry.objects.get()
    assert client.get(reverse("admin:scoring_pointsentry_changelist")).status_code == 200
    assert client.get(reverse("admin:scoring_pointsentry_add")).status_code == 403
    change = client.post(reverse("admin:scoring_pointsentry_change", args=[entry.pk]),
                         {"amount": "100"})
    assert change.status_code == 403
    client.post(reverse("admin:scoring_pointsentry_delete", args=[entry.pk]), {"post": "yes"})
    entry.refresh_from_db()
    assert entry.amount == D(3)


def test_rules_page_shows_the_current_values(seed: Seed) -> None:
    body = _client(seed.users["admin"]).get(
        reverse("scoring:rules", kwargs={"slug": "sales-marathon"})
    ).content.decode()
    assert 'name="min_learning_share" value="60"' in body
    assert 'name="kpi-0-metric" value="cars_sold"' in body
    assert 'name="kpi-0-cap_per_program" value="22' in body
