"""Working hours: nights, weekends, time zones and the overdue cutoff."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from fokus.review.turnaround import (
    WorkingHours,
    add_working_time,
    is_overdue,
    overdue_cutoff,
    working_hours_between,
)

MSK = ZoneInfo("Europe/Moscow")
MOSCOW_9_18 = WorkingHours(start=time(9), end=time(18), zone=MSK)


def msk(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=MSK)


def test_within_one_working_day() -> None:
    # Monday 24 Nov 2025, 10:00 → 13:30 Moscow.
    assert working_hours_between(msk(2025, 11, 24, 10), msk(2025, 11, 24, 13, 30),
                                 MOSCOW_9_18) == 3.5


def test_night_is_not_counted() -> None:
    # Monday 17:00 → Tuesday 10:00: one hour on Monday, one on Tuesday.
    assert working_hours_between(msk(2025, 11, 24, 17), msk(2025, 11, 25, 10), MOSCOW_9_18) == 2


def test_weekend_is_not_counted() -> None:
    # Friday 28 Nov 17:00 → Monday 1 Dec 10:00.
    assert working_hours_between(msk(2025, 11, 28, 17), msk(2025, 12, 1, 10), MOSCOW_9_18) == 2
    # Submitted on Saturday, looked at on Sunday: no working time at all.
    assert working_hours_between(msk(2025, 11, 29, 12), msk(2025, 11, 30, 12), MOSCOW_9_18) == 0


def test_before_opening_counts_from_opening() -> None:
    assert working_hours_between(msk(2025, 11, 24, 6), msk(2025, 11, 24, 9, 45),
                                 MOSCOW_9_18) == 0.75


def test_working_hours_are_in_the_curators_zone_not_the_participants() -> None:
    # A participant in Vladivostok answers at 16:00 their time (09:00 Moscow, Monday).
    vladivostok = ZoneInfo("Asia/Vladivostok")
    answered = datetime(2025, 11, 24, 16, 0, tzinfo=vladivostok)
    graded = msk(2025, 11, 24, 11)
    assert working_hours_between(answered, graded, MOSCOW_9_18) == 2
    # The same instants measured by curators working 9–18 in Vladivostok: 16:00 → 18:00.
    vlad_hours = WorkingHours(start=time(9), end=time(18), zone=vladivostok)
    assert working_hours_between(answered, graded, vlad_hours) == 2
    # ...but a later look (Moscow 15:00 = 22:00 Vladivostok) adds nothing there.
    later = msk(2025, 11, 24, 15)
    assert working_hours_between(answered, later, vlad_hours) == 2
    assert working_hours_between(answered, later, MOSCOW_9_18) == 6


def test_daylight_saving_change_keeps_the_wall_clock_window() -> None:
    berlin = WorkingHours(start=time(9), end=time(18), zone=ZoneInfo("Europe/Berlin"))
    # Friday 27 Mar 2026 17:00 CET → Monday 30 Mar 10:00 CEST (clocks moved on Sunday).
    start = datetime(2026, 3, 27, 17, tzinfo=ZoneInfo("Europe/Berlin"))
    end = datetime(2026, 3, 30, 10, tzinfo=ZoneInfo("Europe/Berlin"))
    assert working_hours_between(start, end, berlin) == 2


def test_reversed_interval_is_zero() -> None:
    assert working_hours_between(msk(2025, 11, 25, 10), msk(2025, 11, 24, 10), MOSCOW_9_18) == 0


def test_deadline_of_four_working_hours_crosses_the_weekend() -> None:
    submitted = msk(2025, 11, 28, 16)  # Friday 16:00
    deadline = add_working_time(submitted, 4 * 3600, MOSCOW_9_18)
    assert deadline == msk(2025, 12, 1, 11)  # Monday 11:00


def test_deadline_of_an_answer_sent_at_night_starts_at_opening() -> None:
    deadline = add_working_time(msk(2025, 11, 24, 23), 4 * 3600, MOSCOW_9_18)
    assert deadline == msk(2025, 11, 25, 13)


def test_overdue_cutoff_examples() -> None:
    now = msk(2025, 12, 1, 11)  # Monday 11:00, target 4 h
    cutoff = overdue_cutoff(now, 4 * 3600, MOSCOW_9_18)
    assert cutoff == msk(2025, 11, 28, 16)  # Friday 16:00
    assert not is_overdue(msk(2025, 11, 28, 16), now, 4, MOSCOW_9_18)
    assert is_overdue(msk(2025, 11, 28, 15, 59), now, 4, MOSCOW_9_18)


def test_overdue_cutoff_at_an_opening_skips_back_over_the_night() -> None:
    # Tuesday 11:00 with a 2-hour target: used up exactly at Tuesday 09:00, so answers
    # that arrived overnight (after Monday 18:00) have waited exactly 2 h: not overdue.
    now = msk(2025, 11, 25, 11)
    cutoff = overdue_cutoff(now, 2 * 3600, MOSCOW_9_18)
    assert cutoff == msk(2025, 11, 24, 18)
    assert not is_overdue(msk(2025, 11, 24, 22), now, 2, MOSCOW_9_18)
    assert is_overdue(msk(2025, 11, 24, 17, 59), now, 2, MOSCOW_9_18)


_instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31),
    timezones=st.just(UTC),
)
_zones = st.sampled_from(["Europe/Moscow", "Asia/Vladivostok", "Europe/Berlin", "America/New_York"])


@settings(max_examples=300, deadline=None)
@given(
    submitted=_instants,
    gap=st.integers(min_value=0, max_value=20 * 24 * 3600),
    target=st.integers(min_value=0, max_value=40),
    zone=_zones,
    start_hour=st.integers(min_value=6, max_value=11),
    length=st.integers(min_value=1, max_value=12),
)
def test_cutoff_agrees_with_counting(
    submitted: datetime, gap: int, target: int, zone: str, start_hour: int, length: int
) -> None:
    hours = WorkingHours(start=time(start_hour), end=time(start_hour + length), zone=ZoneInfo(zone))
    now = submitted + timedelta(seconds=gap)
    cutoff = overdue_cutoff(now, target * 3600, hours)
    assert is_overdue(submitted, now, target, hours) == (submitted < cutoff)
    deadline = add_working_time(submitted, target * 3600, hours)
    # Overdue exactly after the deadline has passed (and there was working time since).
    if now > deadline:
        assert is_overdue(submitted, now, target, hours) or working_hours_between(
            deadline, now, hours
        ) == 0
    else:
        assert not is_overdue(submitted, now, target, hours)
