"""When contact points happen: per person's zone, DST gaps and folds, bulk == single."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fokus.core.models import Organization
from fokus.programs.models import Program, Track
from fokus.programs.queries import person_contact_points, program_contact_points, schedule_rows
from fokus.programs.schedule import contact_instant
from fokus.programs.services import program_enroll, program_import
from fokus.programs.tests.matrix_factories import EXAMPLE, make_person


@pytest.fixture
def program(org_a: Organization) -> Program:
    return program_import(
        organization=org_a, text=EXAMPLE.read_text(encoding="utf-8"), source_name="x"
    )


def test_ten_oclock_in_vladivostok_is_not_ten_oclock_in_kaliningrad(
    org_a: Organization, program: Program
) -> None:
    consultants = Track.objects.get(program=program, slug="consultants")
    east = make_person(org_a, "V1", zone="Asia/Vladivostok")
    west = make_person(org_a, "K1", zone="Europe/Kaliningrad")
    program_enroll(program=program, track=consultants, people=[east, west])
    east_rows = schedule_rows(person_contact_points(program=program, person=east))
    west_rows = schedule_rows(person_contact_points(program=program, person=west))
    assert east_rows[0] == {
        "day": 1,
        "kind": "lesson",
        "local": "2026-11-23T10:00:00+10:00",
        "utc": "2026-11-23T00:00:00Z",
    }
    assert west_rows[0] == {
        "day": 1,
        "kind": "lesson",
        "local": "2026-11-23T10:00:00+02:00",
        "utc": "2026-11-23T08:00:00Z",
    }
    # 7 learning days × (10:00, 14:00, 18:00) for a consultant.
    assert len(east_rows) == len(west_rows) == 21
    assert [r["local"][11:16] for r in east_rows[:3]] == ["10:00", "14:00", "18:00"]
    assert [r["kind"] for r in east_rows[:3]] == ["lesson", "lesson", "digest"]


def test_seniors_get_lessons_only_where_their_track_has_content(
    org_a: Organization, program: Program
) -> None:
    senior = make_person(org_a, "S1", zone="Asia/Yekaterinburg")
    program_enroll(
        program=program, track=Track.objects.get(program=program, slug="seniors"), people=[senior]
    )
    points = person_contact_points(program=program, person=senior)
    lessons = [(p.day_index, f"{p.slot_time:%H:%M}") for p in points if p.kind == "lesson"]
    assert lessons == [(1, "10:00"), (3, "10:00"), (5, "10:00"), (7, "10:00")]
    assert [p.day_index for p in points if p.kind == "digest"] == [1, 2, 3, 4, 5, 6, 7]


def test_someone_in_both_tracks_gets_each_slot_once(org_a: Organization, program: Program) -> None:
    person = make_person(org_a, "B1")
    for slug in ("consultants", "seniors"):
        program_enroll(
            program=program, track=Track.objects.get(program=program, slug=slug), people=[person]
        )
    points = person_contact_points(program=program, person=person)
    assert len(points) == 21
    assert program_contact_points(program=program)[person.pk] == points


def test_bulk_query_matches_the_single_person_query(org_a: Organization, program: Program) -> None:
    consultants = Track.objects.get(program=program, slug="consultants")
    zones = [
        "Europe/Kaliningrad",
        "Europe/Moscow",
        "Asia/Kamchatka",
        "America/New_York",
        "Europe/London",
    ]
    people = [make_person(org_a, f"P{i}", zone=z) for i, z in enumerate(zones)]
    senior = make_person(org_a, "S1", zone="Asia/Magadan")
    for p in people:
        p.manager = senior
        p.save()
    program_enroll(program=program, track=consultants, people=people, with_supervisors=True)
    bulk = program_contact_points(program=program)
    assert set(bulk) == {p.pk for p in [*people, senior]}
    for person in [*people, senior]:
        assert bulk[person.pk] == person_contact_points(program=program, person=person)
    assert len(bulk[senior.pk]) == 4 + 7


# --- clocks that jump ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "slot", "expected_local", "expected_utc"),
    [
        # Spring forward: 02:00 → 03:00. 02:30 does not exist; it becomes 03:30.
        (
            "America/New_York",
            date(2026, 3, 8),
            time(2, 30),
            "2026-03-08T03:30:00-04:00",
            "2026-03-08T07:30:00Z",
        ),
        # Autumn fold: 01:30 happens twice; the first (EDT) one counts.
        (
            "America/New_York",
            date(2026, 11, 1),
            time(1, 30),
            "2026-11-01T01:30:00-04:00",
            "2026-11-01T05:30:00Z",
        ),
        (
            "America/New_York",
            date(2026, 3, 8),
            time(10, 0),
            "2026-03-08T10:00:00-04:00",
            "2026-03-08T14:00:00Z",
        ),
        (
            "Europe/London",
            date(2026, 3, 29),
            time(1, 15),
            "2026-03-29T02:15:00+01:00",
            "2026-03-29T01:15:00Z",
        ),
        (
            "Europe/London",
            date(2026, 10, 25),
            time(1, 15),
            "2026-10-25T01:15:00+01:00",
            "2026-10-25T00:15:00Z",
        ),
        # Lord Howe moves its clocks by 30 minutes: 02:00 → 02:30 in October.
        (
            "Australia/Lord_Howe",
            date(2026, 10, 4),
            time(2, 10),
            "2026-10-04T02:40:00+11:00",
            "2026-10-03T15:40:00Z",
        ),
        # ...and back from 02:00 to 01:30 in April: 01:45 happens twice, the first counts.
        (
            "Australia/Lord_Howe",
            date(2026, 4, 5),
            time(1, 45),
            "2026-04-05T01:45:00+11:00",
            "2026-04-04T14:45:00Z",
        ),
    ],
)
def test_gaps_move_forward_and_folds_take_the_first_occurrence(
    zone: str, day: date, slot: time, expected_local: str, expected_utc: str
) -> None:
    instant = contact_instant(day, slot, zone)
    assert instant.strftime("%Y-%m-%dT%H:%M:%SZ") == expected_utc
    assert instant.astimezone(ZoneInfo(zone)).isoformat() == expected_local


ZONES = sorted(available_timezones())


@lru_cache(maxsize=4096)
def _transitions(zone: str, year: int) -> tuple[datetime, ...]:
    """UTC instants in `year` where the zone's offset changes (to the minute)."""
    tz = ZoneInfo(zone)
    start = datetime(year, 1, 1, tzinfo=UTC)
    found = []
    step = timedelta(days=1)
    t = start
    while t.year == year:
        nxt = t + step
        if t.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            lo, hi = t, nxt
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(tz).utcoffset() == lo.astimezone(tz).utcoffset():
                    lo = mid
                else:
                    hi = mid
            found.append(hi.replace(second=0, microsecond=0))
        t = nxt
    return tuple(found)


@st.composite
def wall_clock_cases(draw: st.DrawFn) -> tuple[str, date, time]:
    zone = draw(st.sampled_from(ZONES))
    year = draw(st.integers(1970, 2037))
    transitions = _transitions(zone, year)
    aim: bool = draw(st.booleans())
    if transitions and aim:
        # Aim at the interesting minutes: right around a change of offset.
        at = draw(st.sampled_from(transitions)).astimezone(ZoneInfo(zone))
        around = at + timedelta(minutes=draw(st.integers(-150, 150)))
        return zone, around.date(), time(around.hour, around.minute)
    day = date(year, 1, 1) + timedelta(days=draw(st.integers(0, 364)))
    return zone, day, time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 45, 59])))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wall_clock_cases())
def test_every_zone_shows_the_slot_time_unless_it_falls_in_a_gap(
    case: tuple[str, date, time],
) -> None:
    zone, day, slot = case
    tz = ZoneInfo(zone)
    instant = contact_instant(day, slot, zone)
    assert instant.tzinfo is UTC
    shown = instant.astimezone(tz).replace(tzinfo=None)
    wall = datetime.combine(day, slot)
    # Every UTC instant whose wall clock reads `wall`, found by brute force over the
    # offsets the zone uses around then.
    offsets = {(wall - timedelta(hours=h)).replace(tzinfo=tz).utcoffset() for h in (-26, 0, 26)}
    offsets |= {wall.replace(tzinfo=tz, fold=f).utcoffset() for f in (0, 1)}
    readings = sorted(
        u
        for u in ((wall - o).replace(tzinfo=UTC) for o in offsets if o is not None)
        if u.astimezone(tz).replace(tzinfo=None) == wall
    )
    if readings:
        # It exists (once, or twice in a fold): the first occurrence.
        assert shown == wall
        assert instant == readings[0]
    else:
        # A gap: later by exactly the length of the gap.
        before = (instant - timedelta(hours=30)).astimezone(tz).utcoffset()
        after = instant.astimezone(tz).utcoffset()
        assert before is not None and after is not None
        gap = after - before
        assert gap > timedelta(0)
        assert shown - wall == gap
