"""The audit page: every claim, decision and grade change with who, when, before → after."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from fokus.core import clock
from fokus.core.models import Organization
from fokus.review import services
from fokus.review.models import ReviewEventKind
from fokus.review.tests.test_queue import World, answer, client_for, make_world, msk


@pytest.fixture
def w(org_a: Organization) -> World:
    return make_world(org_a)


def _history(w: World) -> None:
    a1 = answer(w, "c1", w.tasks[0], msk(23, 10))
    a2 = answer(w, "c2", w.tasks[0], msk(23, 10))
    with clock.frozen_at(msk(23, 11)):
        services.attempt_claim(attempt=a1, curator=w.curator)
        services.attempt_grade(attempt=a1, curator=w.curator, grade=2, feedback="Неплохо")
    with clock.frozen_at(msk(24, 11)):
        services.attempt_grade_change(
            attempt=a1, curator=w.lead, grade=3, feedback="Пересмотрел: отлично",
            reason="Апелляция",
        )
        services.attempt_return_for_revision(attempt=a2, curator=w.curator2, feedback="Ещё раз")


def test_admin_sees_who_did_what_and_the_grade_before_and_after(w: World) -> None:
    _history(w)
    response = client_for(w.admin).get(reverse("curator:audit"))
    assert response.status_code == 200
    rows = response.context["rows"]
    kinds = [r["event"].kind for r in rows]
    # Newest first (a decision on an unclaimed answer claims it first).
    assert kinds[:3] == [ReviewEventKind.RETURNED, ReviewEventKind.CLAIMED,
                         ReviewEventKind.GRADE_CHANGED]
    change = rows[2]
    assert change["event"].actor == w.lead
    assert ("grade", "2") in change["before"] and ("grade", "3") in change["after"]
    assert ("reason", "Апелляция") in change["after"]
    claims = [r["after"] for r in rows if r["event"].kind == ReviewEventKind.CLAIMED]
    # People in before/after are shown by name, instants on the viewer's clock
    # (the admin lives in Vladivostok: 11:20 in Moscow is 18:20 there).
    assert [("claimed_by", "Куратор Ксения"), ("claimed_until", "23.11.2026 18:20")] in claims
    html = response.content.decode()
    assert "Grade changed" in html and "Старший куратор Лев" in html
    assert "grade: 2" in html and "grade: 3" in html


def test_filters_by_curator_kind_program_and_dates(w: World) -> None:
    _history(w)
    c = client_for(w.admin)
    url = reverse("curator:audit")

    def kinds(**params: Any) -> list[str]:
        return [r["event"].kind for r in c.get(url, params).context["rows"]]

    assert set(kinds(curator=w.curator2.pk)) == {ReviewEventKind.CLAIMED,
                                                 ReviewEventKind.RETURNED}
    assert kinds(kind="grade_changed") == [ReviewEventKind.GRADE_CHANGED]
    assert len(kinds(program=w.seed.program.slug)) == len(kinds())
    # Dates are days on the viewer's clock (Vladivostok: 23 Nov 11:00 MSK is 18:00 there).
    assert ReviewEventKind.GRADED in kinds(since="2026-11-23", until="2026-11-23")
    assert ReviewEventKind.GRADED not in kinds(since="2026-11-24")
    assert c.get(url, {"program": "someone-elses"}).status_code == 404


def test_only_admins_see_the_audit_and_only_their_organisation(w: World) -> None:
    _history(w)
    assert client_for(w.lead).get(reverse("curator:audit")).status_code == 403
    from fokus.core.services import organization_create

    other = make_world(organization_create(slug="other", name="Другая"), slug="other")
    response = client_for(other.admin).get(reverse("curator:audit"))
    assert response.status_code == 200 and response.context["rows"] == []
