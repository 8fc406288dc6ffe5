"""The team view: numbers per report, who sees which team, the rollup, nudges."""

from __future__ import annotations

from decimal import Decimal

from django.urls import reverse

from fokus.core import clock
from fokus.delivery.models import Delivery, DeliveryKind
from fokus.programs.models import Material, MaterialView
from fokus.scoring.tests.factories import Seed
from fokus.supervision import queries, services
from fokus.supervision.tests.factories import (
    DAY1_AFTERNOON,
    DAY2_AFTERNOON,
    answer,
    client_for,
    day_tasks,
    give_back,
    grade,
    team,
)

__all__ = ["team"]


def _state(seed: Seed) -> None:
    t1, t2 = day_tasks(seed, 1)
    material = Material.objects.create(
        track=seed.consultants, day=t1.day, slot=t1.slot, title="Лонгрид", body="…"
    )
    MaterialView.objects.create(person=seed["c1"], material=material, opened_at=DAY1_AFTERNOON)
    first = answer(seed, "c1", t1, DAY1_AFTERNOON)
    answer(seed, "c1", t2, DAY1_AFTERNOON)
    grade(seed, first, 2, DAY1_AFTERNOON)
    back = answer(seed, "c2", t1, DAY1_AFTERNOON)
    give_back(seed, back, DAY1_AFTERNOON)


def test_team_summary_counts_today_and_overall(team: Seed) -> None:
    _state(team)
    summary = queries.team_summary(supervisor=team["senior"], program=team.program,
                                   now=DAY1_AFTERNOON)
    rows = {r.person.employee_number: r for r in summary.rows}
    assert set(rows) == {"C-1", "C-2", "C-3"}  # the peer's Daria is not in this team
    ivan, maria, olga = rows["C-1"], rows["C-2"], rows["C-3"]
    assert (ivan.opened, ivan.answered_today, ivan.tasks_today, ivan.graded) == (1, 2, 2, 1)
    assert ivan.average_grade_percent == 67
    assert ivan.points == Decimal(2)
    assert (maria.answered_today, maria.returned, maria.state) == (1, 1, "stuck")
    assert olga.state == "not_started"
    assert [r.person for r in summary.not_answered_today] == [team["c2"], team["c3"]]


def test_a_supervisor_sees_only_their_reports(team: Seed) -> None:
    _state(team)
    senior = client_for(team.users["senior"])
    with clock.frozen_at(DAY1_AFTERNOON):
        page = senior.get(reverse("supervision:team", args=[team.program.slug]))
        assert page.status_code == 200
        body = page.content.decode()
        assert "Консультант Иван" in body and "Консультант Ольга" in body
        assert "Консультант Дарья" not in body
        # Another supervisor's team, and a peer's report, are not found.
        assert senior.get(reverse("supervision:team_of",
                                  args=[team.program.slug, "P-1"])).status_code == 404
        assert senior.post(reverse("supervision:nudge",
                                   args=[team.program.slug, "C-4"])).status_code == 404
        assert senior.get(reverse("supervision:confirm",
                                  args=[team.program.slug, "C-4"])).status_code == 404
        # A consultant has no team: an empty page, nobody's data.
        own = client_for(team.users["c1"]).get(
            reverse("supervision:team", args=[team.program.slug])
        ).content.decode()
        assert "Консультант Мария" not in own
        peer_page = client_for(team.users["peer"]).get(
            reverse("supervision:team", args=[team.program.slug])
        ).content.decode()
        assert "Консультант Дарья" in peer_page and "Консультант Иван" not in peer_page


def test_a_higher_manager_sees_the_whole_subtree_rolled_up(team: Seed) -> None:
    _state(team)
    rows = queries.team_rollup(manager=team["boss"], program=team.program, now=DAY1_AFTERNOON)
    by_head = {r.manager.employee_number: r for r in rows}
    assert by_head["S-1"].people == 3 and by_head["P-1"].people == 1
    total = rows[-1]
    assert total.manager == team["boss"]
    assert (total.people, total.returned, total.not_started) == (4, 1, 2)
    assert total.answered_today == 1  # only Ivan answered both of day 1's tasks
    boss = client_for(team.users["boss"])
    with clock.frozen_at(DAY1_AFTERNOON):
        body = boss.get(reverse("supervision:team", args=[team.program.slug])).content.decode()
        assert "Старший Семён" in body and "Соседний Пётр" in body
        drill = boss.get(reverse("supervision:team_of", args=[team.program.slug, "S-1"]))
        assert drill.status_code == 200
        assert "Консультант Мария" in drill.content.decode()
        # Nobody else's subtree: a director of another branch sees no team of Boris.
        other = client_for(team.users["other_boss"])
        assert other.get(reverse("supervision:team_of",
                                 args=[team.program.slug, "S-1"])).status_code == 404
    # A manager two levels up may nudge and confirm for people below, too.
    assert queries.manages(team["boss"], team["c1"])
    assert not queries.manages(team["peer"], team["c1"])


def test_a_nudge_goes_through_the_outbox_once_a_day(team: Seed) -> None:
    url = reverse("supervision:nudge", args=[team.program.slug, "C-3"])
    senior = client_for(team.users["senior"])
    with clock.frozen_at(DAY1_AFTERNOON):
        assert senior.post(url).status_code == 302
        again = senior.post(url, follow=True)
        assert "has already been reminded today" in again.content.decode()
    nudges = Delivery.objects.filter(person=team["c3"], kind=DeliveryKind.NUDGE)
    assert nudges.count() == 1
    payload = nudges.get().payload
    assert "Старший Семён reminds you" in payload["text"]
    assert payload["buttons"][0][0]["url"].endswith(reverse("programs:today"))
    with clock.frozen_at(DAY2_AFTERNOON):
        senior.post(url)
    assert nudges.count() == 2  # a new day, a new reminder


def test_nudging_someone_fokus_cannot_reach_says_so(team: Seed) -> None:
    team["c3"].email = ""
    team["c3"].save(update_fields=["email"])
    try:
        services.nudge_send(supervisor=team["senior"], report=team["c3"], program=team.program,
                            now=DAY1_AFTERNOON)
    except services.SupervisionError as error:
        assert "cannot reach Консультант Ольга" in str(error)
    else:
        raise AssertionError("an unreachable person was nudged")


def test_support_tasks_show_on_the_supervisors_today_page(team: Seed) -> None:
    with clock.frozen_at(DAY1_AFTERNOON):
        services.support_tasks_generate(program=team.program, day=day_tasks(team, 1)[0].day,
                                        now=DAY1_AFTERNOON)
        senior = client_for(team.users["senior"])
        body = senior.get(reverse("programs:today")).content.decode()
        assert "3 of your 3 reports have not answered today" in body
        assert reverse("supervision:team_index") in body
        task_id = queries.support_tasks_today(team["senior"], DAY1_AFTERNOON)[0].pk
        response = senior.post(
            reverse("supervision:support_task_resolve", args=[team.program.slug, task_id]),
            {"decision": "done", "note": "Провёл летучку", "next": reverse("programs:today")},
        )
        assert response.status_code == 302 and response["Location"] == reverse("programs:today")
        body = senior.get(reverse("programs:today")).content.decode()
        assert "Провёл летучку" in body
        # A consultant's Today page carries no supervisor block.
        c1 = client_for(team.users["c1"]).get(reverse("programs:today")).content.decode()
        assert "Your tasks for the team" not in c1
