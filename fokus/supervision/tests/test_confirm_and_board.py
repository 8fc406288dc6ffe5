"""Confirming application at work (bonus points within limits) and the supervisors' board."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from fokus.core import clock
from fokus.programs.models import Enrollment, LearningDay
from fokus.review.tests.answer_factories import png_bytes, upload
from fokus.scoring.models import PointsEntry, PointsSource
from fokus.scoring.tests.factories import Seed, person
from fokus.supervision import services
from fokus.supervision.models import ApplicationConfirmation, SupervisorStanding
from fokus.supervision.scores import score_of, shrunk, supervisor_standings_refresh
from fokus.supervision.tests.factories import (
    DAY1_AFTERNOON,
    DAY2_AFTERNOON,
    answer,
    client_for,
    day_tasks,
    grade,
    team,
)

__all__ = ["team"]
YES = {"used_with_client": True, "followed_steps": True, "client_responded": False}


@pytest.fixture
def media(tmp_path: Path, settings: Any) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


def _day(seed: Seed, index: int) -> LearningDay:
    return LearningDay.objects.get(program=seed.program, index=index)


def _bonus(seed: Seed, who: str) -> list[Decimal]:
    return list(PointsEntry.objects.filter(person=seed[who], source=PointsSource.BONUS)
                .values_list("amount", flat=True))


def test_a_confirmation_gives_bonus_points_once(team: Seed, media: Path) -> None:
    with clock.frozen_at(DAY1_AFTERNOON):
        confirmation = services.application_confirm(
            supervisor=team["senior"], report=team["c1"], program=team.program,
            day=_day(team, 1), checklist=YES, note="Клиент купил",
            photo=upload("shot.png", png_bytes()),
        )
        assert confirmation.points == Decimal(1)
        assert confirmation.task == day_tasks(team, 1)[0]
        assert confirmation.photo_content_type == "image/png"
        assert (media / "answers" / confirmation.photo_storage_name).exists()
        entry = confirmation.points_entry
        assert entry is not None
        assert entry.idempotency_key == f"bonus:{team.program.pk}:confirmation:{confirmation.pk}"
        assert "confirmed by Старший Семён" in entry.reason
        with pytest.raises(services.SupervisionError) as again:
            services.application_confirm(
                supervisor=team["senior"], report=team["c1"], program=team.program,
                day=_day(team, 1), checklist=YES,
            )
        assert again.value.field == "day"
    assert _bonus(team, "c1") == [Decimal(1)]


def test_the_bonus_limit_stops_points_not_the_confirmation(team: Seed, media: Path) -> None:
    # The default limit is 6 bonus points per person per program: 6 confirmations give
    # points, the 7th is recorded with the reason it gave none.
    dates = [DAY2_AFTERNOON + dt.timedelta(days=d) for d in range(0, 14)]
    made = []
    for index in range(1, 8):
        day = _day(team, index)
        at = max(DAY1_AFTERNOON, next(d for d in dates if d.date() >= day.date))
        with clock.frozen_at(at + dt.timedelta(days=1)):
            made.append(services.application_confirm(
                supervisor=team["senior"], report=team["c2"], program=team.program, day=day,
                checklist=YES,
            ))
    assert [c.points for c in made] == [Decimal(1)] * 6 + [Decimal(0)]
    assert "already has 6 bonus points" in made[-1].points_refused
    assert sum(_bonus(team, "c2")) == Decimal(6)


def test_confirmation_input_errors_name_the_field(team: Seed, media: Path) -> None:
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"checklist": {"used_with_client": False}}, "checklist", "real client"),
        ({"checklist": {"used_with_client": True, "danced": True}}, "checklist", "danced"),
        ({"checklist": YES, "note": "x" * 1001}, "note", "longer than 1000"),
        ({"checklist": YES, "photo": upload("a.txt", b"hello")}, "photo", "a.txt"),
        ({"checklist": YES, "day": _day(team, 3)}, "day", "has not come yet"),
    ]
    for extra, field, message in cases:
        kwargs: dict[str, Any] = {
            "supervisor": team["senior"], "report": team["c1"], "program": team.program,
            "day": _day(team, 1),
        }
        kwargs.update(extra)
        with clock.frozen_at(DAY1_AFTERNOON), pytest.raises(services.SupervisionError) as error:
            services.application_confirm(**kwargs)
        assert error.value.field == field, extra
        assert message in str(error.value)
    with clock.frozen_at(DAY1_AFTERNOON), pytest.raises(services.SupervisionError) as refused:
        services.application_confirm(supervisor=team["peer"], report=team["c1"],
                                     program=team.program, day=_day(team, 1), checklist=YES)
    assert refused.value.permission
    assert not ApplicationConfirmation.objects.exists()
    assert not list((media / "answers").glob("*")) if (media / "answers").exists() else True


def test_the_confirmation_form_and_its_photo(team: Seed, media: Path) -> None:
    senior = client_for(team.users["senior"])
    url = reverse("supervision:confirm", args=[team.program.slug, "C-1"])
    with clock.frozen_at(DAY1_AFTERNOON):
        assert senior.get(url).status_code == 200
        bad = senior.post(url, {"day": _day(team, 1).pk, "used_with_client": "no"})
        assert bad.status_code == 400
        assert "real client" in bad.content.decode()
        ok = senior.post(url, {"day": _day(team, 1).pk, "used_with_client": "yes",
                               "note": "Отлично", "photo": upload("p.png", png_bytes())})
        assert ok.status_code == 302
        confirmation = ApplicationConfirmation.objects.get()
        photo_url = reverse("supervision:confirmation_photo", args=[confirmation.pk])
        assert senior.get(photo_url).status_code == 200
        assert client_for(team.users["c1"]).get(photo_url).status_code == 200
        assert client_for(team.users["boss"]).get(photo_url).status_code == 200
        assert client_for(team.users["c2"]).get(photo_url).status_code == 404
        assert client_for(team.users["peer"]).get(photo_url).status_code == 404


def test_score_parts_are_shares_and_small_teams_are_shrunk() -> None:
    assert score_of(Decimal(1), Decimal(1), Decimal(1)) == Decimal("100.00")
    assert score_of(None, Decimal("0.5"), Decimal("0.5")) == Decimal("50.00")
    # One report of one who answered everything, program average 50%: not a perfect 100%.
    assert shrunk(Decimal(4), Decimal(4), Decimal("0.5"), Decimal(8)) == Decimal(4 + 4) / 12
    # Twelve of twelve against the same average stays closer to the truth.
    assert shrunk(Decimal(48), Decimal(48), Decimal("0.5"), Decimal(8)) > Decimal("0.9")


def test_the_board_is_fair_across_team_sizes(team: Seed) -> None:
    # A big team (senior: 3 + 6 more) where everyone answered day 1 vs the peer's team of
    # one who answered too: the same adoption, so team size alone does not rank them.
    for n in range(5, 11):
        extra = person(team.organization, f"C-{n}", f"Консультант {n}", "participant",
                       team["senior"])
        Enrollment.objects.create(person=extra, track=team.consultants,
                                  enrolled_at=DAY1_AFTERNOON)
        team.people[f"c{n}"] = extra
    for who in ["c1", "c2", "c3", "c4"] + [f"c{n}" for n in range(5, 11)]:
        for task in day_tasks(team, 1):
            attempt = answer(team, who, task, DAY1_AFTERNOON)
            grade(team, attempt, 3, DAY1_AFTERNOON)
    standings = supervisor_standings_refresh(team.program, DAY1_AFTERNOON)
    by_person = {s.supervisor_id: s for s in standings}
    senior, peer = by_person[team["senior"].pk], by_person[team["peer"].pk]
    assert (senior.team_size, peer.team_size) == (9, 1)
    assert senior.adoption_share == peer.adoption_share == Decimal(1)
    assert senior.score == peer.score and senior.rank == peer.rank == 1
    # The peer's one report does not answer day 2: the peer falls behind, but less than a
    # raw 50% would say (shrunk towards the program's average).
    for who in ["c1", "c2", "c3"] + [f"c{n}" for n in range(5, 11)]:
        for task in day_tasks(team, 2):
            answer(team, who, task, DAY2_AFTERNOON)
    supervisor_standings_refresh(team.program, DAY2_AFTERNOON)
    senior_row = SupervisorStanding.objects.get(supervisor=team["senior"])
    peer_row = SupervisorStanding.objects.get(supervisor=team["peer"])
    assert senior_row.rank == 1 and peer_row.rank == 2
    assert Decimal("0.5") < peer_row.adoption_share < Decimal(1)
    with clock.frozen_at(DAY2_AFTERNOON):
        page = client_for(team.users["boss"]).get(
            reverse("supervision:board", args=[team.program.slug])
        ).content.decode()
    assert page.index("Старший Семён") < page.index("Соседний Пётр")


def test_authors_edit_templates_on_a_page(team: Seed) -> None:
    url = reverse("supervision:support_templates", args=[team.program.slug])
    assert client_for(team.users["senior"]).get(url).status_code == 403
    admin = client_for(team.users["admin"])
    page = admin.get(url)
    assert page.status_code == 200 and "летучку" in page.content.decode()
    template = services.support_templates_ensure(team.program)[("returned", "en")]
    bad = admin.post(url, {"template": template.pk, "text": "Help {who}", "is_active": "on"})
    assert bad.status_code == 400 and "Unknown placeholder {who}" in bad.content.decode()
    ok = admin.post(url, {"template": template.pk, "text": "Call {name} about {task}",
                          "is_active": "on"})
    assert ok.status_code == 302
    template.refresh_from_db()
    assert template.text == "Call {name} about {task}" and template.updated_by == team["admin"]
