"""What people see on the boards: ties, periods, tracks, teams, modes, rank history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from fokus.leaderboard import queries, services
from fokus.leaderboard.models import BoardMode, BoardSettings, RankHistory
from fokus.leaderboard.tests.factories import START, award, marathon, reverse
from fokus.people.models import Role

pytestmark = pytest.mark.django_db


def ranks(rows):
    return [(r.name, r.rank) for r in rows]


def test_ties_share_a_rank_and_the_next_rank_skips(org_a) -> None:
    m = marathon(org_a)
    people = {n: m.person(n, n) for n in ("Яна", "Борис", "Анна", "Вера")}
    for name, points in (("Яна", 9), ("Борис", 5), ("Анна", 5), ("Вера", 1)):
        award(m, people[name], points)
    # Ties are listed by name, both on rank 2; the next is 4.
    assert ranks(queries.board(m.program)) == [("Яна", 1), ("Анна", 2), ("Борис", 2), ("Вера", 4)]


def test_rows_show_learning_and_kpi_and_the_total(org_a) -> None:
    m = marathon(org_a)
    seller = m.person("7", "Продавец")
    award(m, seller, 3)
    award(m, seller, 2, source="kpi")
    award(m, seller, 1, source="bonus")
    (row,) = queries.board(m.program)
    assert (row.learning, row.kpi, row.bonus, row.total) == (3, 2, 1, 6)
    assert row.as_dict() == {
        "employee_number": "7", "name": "Продавец", "learning": "3.00", "kpi": "2.00",
        "total": "6.00", "rank": 1,
    }


def test_a_reversal_takes_the_points_back(org_a) -> None:
    m = marathon(org_a)
    a, b = m.person("1", "A"), m.person("2", "B")
    sale = award(m, a, 5, source="kpi")
    award(m, b, 3)
    assert ranks(queries.board(m.program)) == [("A", 1), ("B", 2)]
    reverse(m, sale)
    assert [(r.name, r.total, r.rank) for r in queries.board(m.program)] == [
        ("B", Decimal("3"), 1), ("A", Decimal("0"), 2)
    ]


def test_periods_day_week_and_program(org_a) -> None:
    m = marathon(org_a)
    a, b = m.person("1", "A"), m.person("2", "B")
    award(m, a, 3, on=START)  # Monday, week 10
    award(m, b, 2, on=START + dt.timedelta(days=2))  # Wednesday, week 10
    award(m, b, 2, on=START + dt.timedelta(days=7))  # next Monday, week 11
    assert ranks(queries.board(m.program, "program")) == [("B", 1), ("A", 2)]
    assert ranks(queries.board(m.program, "week:2026-W10")) == [("A", 1), ("B", 2)]
    assert ranks(queries.board(m.program, "week:2026-W11")) == [("B", 1)]
    assert ranks(queries.board(m.program, "day:2026-03-04")) == [("B", 1)]
    assert queries.board(m.program, "day:2026-03-03") == []
    assert queries.parse_period("week:2026-W10") == "week:2026-W10"
    with pytest.raises(queries.PeriodError):
        queries.parse_period("week:2026-W60")
    with pytest.raises(queries.PeriodError):
        queries.parse_period("month:3")


def test_track_boards_rank_within_the_track_and_show_people_of_two_tracks_in_both(org_a) -> None:
    m = marathon(org_a)
    senior = m.person("1", "Senior", tracks=("consultants", "seniors"))
    consultant = m.person("2", "Consultant")
    other_senior = m.person("3", "Other senior", tracks=("seniors",))
    award(m, consultant, 9)
    award(m, senior, 5)
    award(m, other_senior, 1)
    assert ranks(queries.board(m.program, track=m.tracks["consultants"])) == [
        ("Consultant", 1), ("Senior", 2)
    ]
    assert ranks(queries.board(m.program, track=m.tracks["seniors"])) == [
        ("Senior", 1), ("Other senior", 2)
    ]


def test_team_board_is_fair_to_team_size(org_a) -> None:
    m = marathon(org_a)
    small = [m.person(f"s{i}", f"Small {i}", unit="South") for i in range(2)]
    big = [m.person(f"b{i}", f"Big {i}", unit="North") for i in range(10)]
    # Average 5 per member in both: the small team ties with the big one.
    award(m, small[0], 10)
    for person in big[:5]:
        award(m, person, 10)
    # Two enrolled members of East, one of them without points: average 4, not 8.
    east = [m.person(f"e{i}", f"East {i}", unit="East") for i in range(2)]
    award(m, east[0], 8, source="kpi")
    teams = {t.unit: t for t in queries.team_board(m.program)}
    assert (teams["South"].rank, teams["North"].rank, teams["East"].rank) == (1, 1, 3)
    assert teams["South"].average == teams["North"].average == Decimal("5")
    assert teams["East"].members == 2 and teams["East"].average == Decimal("4")
    # Share of members who earned learning points: 1 of 2, 5 of 10, none in East.
    assert teams["South"].learner_share == Decimal("0.50")
    assert teams["North"].learner_share == Decimal("0.50")
    assert teams["East"].learner_share == Decimal("0")


def test_my_place_shows_neighbours_above_and_below(org_a) -> None:
    m = marathon(org_a)
    people = [m.person(str(i), f"P{i:02d}") for i in range(10)]
    for i, person in enumerate(people):
        award(m, person, 20 - i)
    place = queries.my_place(m.program, people[5], neighbours=2)
    assert place is not None
    assert [r.name for r in place.rows] == ["P03", "P04", "P05", "P06", "P07"]
    assert place.row.is_me and place.row.rank == 6
    top = queries.my_place(m.program, people[0], neighbours=2)
    assert top is not None and [r.name for r in top.rows] == ["P00", "P01", "P02"]
    assert queries.my_place(m.program, m.person("x", "No points"), neighbours=2) is None


def test_anonymous_mode_hides_other_names_for_participants_not_for_admins(org_a) -> None:
    m = marathon(org_a)
    me, other = m.person("1", "Me"), m.person("2", "Other")
    award(m, me, 1)
    award(m, other, 2)
    BoardSettings.objects.create(program=m.program, mode=BoardMode.ANONYMOUS)
    rows = queries.visible_board(program=m.program, viewer=me, full_access=False)
    assert [(r.name, r.employee_number, r.rank) for r in rows] == [(None, None, 1), ("Me", "1", 2)]
    admin = m.person("9", "Admin", roles=Role.ADMIN, tracks=())
    assert queries.has_full_access(admin)
    rows = queries.visible_board(program=m.program, viewer=admin, full_access=True)
    assert [r.name for r in rows] == ["Other", "Me"]


def test_neighbours_only_mode_shows_only_my_place(org_a) -> None:
    m = marathon(org_a)
    people = [m.person(str(i), f"P{i}") for i in range(8)]
    for i, person in enumerate(people):
        award(m, person, 10 - i)
    BoardSettings.objects.create(program=m.program, mode=BoardMode.NEIGHBOURS_ONLY, neighbours=1)
    rows = queries.visible_board(program=m.program, viewer=people[4], full_access=False)
    assert [r.name for r in rows] == ["P3", "P4", "P5"]
    assert queries.visible_board(program=m.program, viewer=None, full_access=False) == []
    assert len(queries.visible_board(program=m.program, viewer=None, full_access=True)) == 8


def test_rank_history_and_rank_change(org_a) -> None:
    m = marathon(org_a)
    a, b = m.person("1", "A"), m.person("2", "B")
    award(m, a, 5)
    award(m, b, 3)
    assert services.rank_history_snapshot(program=m.program, on=START) == 2
    # Snapshotting the same day again keeps one row per person and date.
    assert services.rank_history_snapshot(program=m.program, on=START) == 2
    assert RankHistory.objects.filter(program=m.program).count() == 2
    award(m, b, 4, on=START + dt.timedelta(days=1))
    change = queries.rank_change(m.program, b, since=START)
    assert (change.rank_then, change.rank, change.places_gained) == (2, 1, 1)
    assert (change.total_then, change.total) == (Decimal("3"), Decimal("7"))
    rows = {r.name: r for r in queries.board(m.program)}
    # "Rank change" on the board counts from the last snapshot.
    assert rows["B"].rank_change == 1 and rows["A"].rank_change == -1
    assert queries.rank_change(m.program, a, since=START).places_gained == -1


def test_refresh_is_idempotent_and_incremental_equals_rebuild(org_a) -> None:
    m = marathon(org_a)
    people = [m.person(str(i), f"P{i}", unit=("North", "South")[i % 2]) for i in range(30)]
    for i, person in enumerate(people):
        award(m, person, i % 4, on=START + dt.timedelta(days=i % 5))
        services.standings_refresh(program=m.program)
    services.standings_refresh(program=m.program)
    before = [(r.person_id, r.total, r.rank) for r in queries.board(m.program, limit=100)]
    teams = [(t.unit, t.average, t.rank) for t in queries.team_board(m.program)]
    services.standings_rebuild(program=m.program)
    assert [(r.person_id, r.total, r.rank) for r in queries.board(m.program, limit=100)] == before
    assert [(t.unit, t.average, t.rank) for t in queries.team_board(m.program)] == teams


def test_a_read_catches_up_a_board_nobody_refreshed(org_a) -> None:
    m = marathon(org_a)
    a = m.person("1", "A")
    award(m, a, 2)
    assert queries.board_is_behind(m.program)
    assert [r.total for r in queries.board(m.program)] == [Decimal("2")]
    assert not queries.board_is_behind(m.program)
