"""Cadences and the schedule table: when each job is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fokus.scheduler.cadence import CadenceError, cadence_parse
from fokus.scheduler.jobs import Job, ScheduleError, schedule_load, schedule_validate

T = "fokus.scheduler.tests.jobs_for_tests"


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_nightly_0200_moscow_is_2300_utc_the_day_before() -> None:
    cadence = cadence_parse("nightly 02:00 Europe/Moscow")
    assert cadence.slots(utc(2031, 3, 4, 0, 0), utc(2031, 3, 6, 0, 0)) == [
        utc(2031, 3, 4, 23, 0), utc(2031, 3, 5, 23, 0),
    ]


def test_daily_follows_the_zone_across_a_dst_change() -> None:
    # Berlin moves to summer time on 2031-03-30: 10:00 local is 09:00 UTC before, 08:00 after.
    cadence = cadence_parse("daily 10:00 Europe/Berlin")
    assert cadence.slots(utc(2031, 3, 29, 0, 0), utc(2031, 3, 31, 0, 0)) == [
        utc(2031, 3, 29, 9, 0), utc(2031, 3, 30, 8, 0),
    ]


def test_a_local_time_inside_the_dst_gap_still_fires_once_that_day() -> None:
    cadence = cadence_parse("daily 02:30 Europe/Berlin")
    assert len(cadence.slots(utc(2031, 3, 29, 12, 0), utc(2031, 3, 30, 12, 0))) == 1


def test_every_minutes_are_aligned_to_the_clock() -> None:
    cadence = cadence_parse("every 15 minutes")
    assert cadence.slots(utc(2031, 3, 4, 10, 0), utc(2031, 3, 4, 10, 44, 59)) == [
        utc(2031, 3, 4, 10, 15), utc(2031, 3, 4, 10, 30),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hourly", "is not a cadence"),
        ("daily 25:00 Europe/Moscow", "is not a time of day"),
        ("daily 02:00 Europe/Mordor", "is not an IANA time zone"),
        ("every 0 minutes", "1 to 1440"),
    ],
)
def test_bad_cadences_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(CadenceError, match=message):
        cadence_parse(text)


def test_a_minute_job_is_due_only_for_its_latest_slot() -> None:
    job = Job("m", f"{T}.noop_job", "every minute", grace=timedelta(hours=1))
    assert job.due_slots(utc(2031, 3, 4, 10, 7, 30)) == [utc(2031, 3, 4, 10, 7)]


def test_the_table_is_validated_as_a_whole() -> None:
    jobs = [
        Job("a", f"{T}.noop_job", "every minute", grace=timedelta(minutes=5)),
        Job("a", f"{T}.missing_job", "daily 02:00 Nowhere/Land", grace=timedelta(hours=1)),
        Job("b", f"{T}.noop_job", "nightly 03:00 UTC", grace=timedelta(days=30)),
    ]
    with pytest.raises(ScheduleError) as caught:
        schedule_validate(jobs)
    message = str(caught.value)
    assert "job 2 (a): the name is used twice" in message
    assert "cannot import" in message and "missing_job" in message
    assert "Nowhere/Land" in message
    assert "job 3 (b): grace must be more than 0 and at most 7 days" in message


def test_the_shipped_schedule_table_is_valid() -> None:
    names = [job.name for job in schedule_load()]
    assert "scheduler.housekeeping" in names
