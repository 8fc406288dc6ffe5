"""/api/v1/review: the queue with a keyset cursor, next, claim, release, return, grade, stats."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from fokus.core import clock
from fokus.core.models import Organization
from fokus.core.services import api_token_create, organization_create
from fokus.people.models import Person
from fokus.review.models import Attempt, AttemptStatus
from fokus.review.tests.test_queue import NOW, World, answer, make_world, msk
from fokus.scoring.models import PointsEntry

BASE = "/api/v1/review"


@pytest.fixture
def w(org_a: Organization) -> World:
    return make_world(org_a)


def api(p: Person) -> Client:
    assert p.user is not None
    _token, key = api_token_create(organization=p.organization, user=p.user, name="t")
    return Client(headers={"Authorization": f"Bearer {key}", "Accept-Language": "en"})


def post(p: Person, path: str, body: dict[str, Any] | None = None) -> Any:
    with clock.frozen_at(NOW):
        return api(p).post(BASE + path, data=json.dumps(body or {}),
                           content_type="application/json")


def get(p: Person, path: str, **params: Any) -> Any:
    with clock.frozen_at(NOW):
        return api(p).get(BASE + path, params)


def test_queue_pages_with_a_cursor_and_filters(w: World) -> None:
    made = [answer(w, "c1", t, msk(23, 10, i)) for i, t in enumerate(w.tasks[:5])]
    first = get(w.curator, "/queue", limit=2)
    assert first.status_code == 200
    body = first.json()
    assert body["counts"] == {"total": 5, "overdue": 5, "claimed": 0, "unclaimed": 5}
    assert [i["attempt_id"] for i in body["items"]] == [made[0].pk, made[1].pk]
    item = body["items"][0]
    assert item["participant"]["full_name"] == "Консультант Иван"
    assert item["unit"] == "Автомир Север" and item["overdue"] is True
    assert item["program"] == "sales-marathon" and item["day_index"] == 1
    ids: list[int] = []
    cursor = body["next_cursor"]
    ids += [i["attempt_id"] for i in body["items"]]
    while cursor:
        page = get(w.curator, "/queue", limit=2, cursor=cursor).json()
        ids += [i["attempt_id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert ids == [a.pk for a in made]
    assert [i["attempt_id"] for i in get(w.curator, "/queue", day_index=2).json()["items"]] == [
        made[2].pk, made[3].pk
    ]
    assert get(w.curator, "/queue", program="nope").status_code == 404


def test_claim_conflict_release_and_decisions(w: World) -> None:
    a1 = answer(w, "c1", w.tasks[0], msk(23, 10))
    claimed = post(w.curator, f"/attempts/{a1.pk}/claim")
    assert claimed.status_code == 200
    assert claimed.json()["claimed_by"]["full_name"] == "Куратор Ксения"
    conflict = post(w.curator2, f"/attempts/{a1.pk}/grade", {"grade": 3, "feedback": "Ок"})
    assert conflict.status_code == 409 and conflict.json()["code"] == "conflict"
    assert "Куратор Ксения is reviewing this answer" in conflict.json()["detail"]
    assert post(w.curator, f"/attempts/{a1.pk}/release").json()["claimed_by"] is None
    empty = post(w.curator2, f"/attempts/{a1.pk}/grade", {"grade": 3, "feedback": " "})
    assert empty.status_code == 400 and empty.json()["errors"][0]["field"] == "feedback"
    too_high = post(w.curator2, f"/attempts/{a1.pk}/grade", {"grade": 4, "feedback": "Ок"})
    assert too_high.status_code == 400 and too_high.json()["errors"][0]["field"] == "grade"
    graded = post(w.curator2, f"/attempts/{a1.pk}/grade",
                  {"grade": 3, "feedback": "Отлично", "rubric": {"Структура": 3}})
    assert graded.status_code == 200 and graded.json()["status"] == "graded"
    assert PointsEntry.objects.filter(person=w.seed["c1"]).count() == 1
    a2 = answer(w, "c2", w.tasks[0], msk(23, 11))
    returned = post(w.curator, f"/attempts/{a2.pk}/return", {"feedback": "Добавьте пример"})
    assert returned.status_code == 200 and returned.json()["status"] == "returned"


def test_next_gives_two_curators_different_answers_then_204(w: World) -> None:
    a1 = answer(w, "c1", w.tasks[0], msk(23, 10))
    a2 = answer(w, "c2", w.tasks[0], msk(23, 11))
    assert post(w.curator, "/next").json()["attempt_id"] == a1.pk
    assert post(w.curator2, "/next").json()["attempt_id"] == a2.pk
    assert post(w.lead, "/next").status_code == 204


def test_roles_and_organisations(w: World) -> None:
    a1 = answer(w, "c1", w.tasks[0], msk(23, 10))
    assert get(w.seed["c1"], "/queue").status_code == 403
    assert post(w.seed["c1"], f"/attempts/{a1.pk}/claim").status_code == 403
    assert get(w.curator, "/stats").status_code == 403
    stats = get(w.lead, "/stats")
    assert stats.status_code == 200
    assert stats.json()["programs"][0]["pending_overdue"] == 1
    other = make_world(organization_create(slug="other", name="Другая"), slug="other")
    assert post(other.curator, f"/attempts/{a1.pk}/claim").status_code == 404
    assert post(other.curator, f"/attempts/{a1.pk}/grade",
                {"grade": 3, "feedback": "x"}).status_code == 404
    assert get(other.curator, "/queue").json()["items"] == []
    assert Attempt.objects.get(pk=a1.pk).status == AttemptStatus.SUBMITTED
