"""The beat fires every slot exactly once, catches up within grace, and only then."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from django_tasks_db.models import DBTaskResult

from fokus.scheduler.jobs import Job
from fokus.scheduler.models import BeatFiring
from fokus.scheduler.services import Firing, beat_fire_due
from fokus.scheduler.tests import jobs_for_tests

T = "fokus.scheduler.tests.jobs_for_tests"


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def fired(firings: list[Firing]) -> list[tuple[str, datetime]]:
    return [(f.job, f.slot) for f in firings if f.outcome == "fired"]


MINUTE = Job("minute", f"{T}.noop_job", "every minute", grace=timedelta(minutes=10))
NIGHTLY = Job("nightly", f"{T}.noop_job", "nightly 02:00 Europe/Moscow", grace=timedelta(hours=6))


@pytest.mark.django_db(transaction=True)
def test_two_beats_racing_fire_each_slot_exactly_once() -> None:
    jobs = [
        Job("race.minute", f"{T}.count_minute", "every minute", grace=timedelta(minutes=5)),
        Job("race.nightly", f"{T}.count_nightly", "nightly 02:00 Europe/Moscow",
            grace=timedelta(hours=6)),
    ]
    instants = [utc(2031, 3, 4, 22, 50) + timedelta(minutes=i, seconds=1) for i in range(20)]
    jobs_for_tests.CALLS.clear()
    barrier = threading.Barrier(2)
    results: list[list[Firing]] = [[], []]
    errors: list[BaseException] = []

    def beat(number: int) -> None:
        try:
            for now in instants:
                barrier.wait(timeout=60)
                results[number] += beat_fire_due(now=now, jobs=jobs, beat=f"beat-{number}")
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=beat, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors

    expected = [("race.minute", now.replace(second=0)) for now in instants]
    expected.append(("race.nightly", utc(2031, 3, 4, 23, 0)))
    everything = results[0] + results[1]
    assert not [f for f in everything if f.outcome == "failed"]
    assert sorted(fired(everything)) == sorted(expected)
    # The job ran once per slot, and so did what it enqueued on commit.
    assert Counter(jobs_for_tests.CALLS) == Counter(expected)
    assert DBTaskResult.objects.filter(task_path=f"{T}.mark").count() == len(expected)
    assert BeatFiring.objects.count() == len(expected)
    # Both beats really tried the same slots: the loser hit the unique row and skipped.
    assert [f for f in everything if f.outcome == "skipped"]
    assert {f.job for f in results[0] if f.outcome == "fired"} and results[1]


@pytest.mark.django_db
def test_after_three_hours_down_the_minute_job_fires_once_and_the_missed_night_once() -> None:
    # Running normally in the evening (Moscow is UTC+3)...
    for minute in (28, 29):
        beat_fire_due(now=utc(2031, 3, 4, 21, minute, 5), jobs=[MINUTE, NIGHTLY])
    # ...then down from 21:30 to 00:30 UTC: 02:00 Moscow (23:00 UTC) was missed.
    firings = beat_fire_due(now=utc(2031, 3, 5, 0, 30, 5), jobs=[MINUTE, NIGHTLY])
    assert fired(firings) == [
        ("minute", utc(2031, 3, 5, 0, 30)), ("nightly", utc(2031, 3, 4, 23, 0)),
    ]
    # Older nights (outside the 6-hour grace) were never fired, then or now.
    assert list(BeatFiring.objects.filter(job="nightly").values_list("slot", flat=True)) == [
        utc(2031, 3, 4, 23, 0)
    ]
    assert fired(beat_fire_due(now=utc(2031, 3, 5, 0, 31, 5), jobs=[MINUTE, NIGHTLY])) == [
        ("minute", utc(2031, 3, 5, 0, 31))
    ]


@pytest.mark.django_db
def test_a_long_outage_fires_each_missed_night_inside_grace_and_no_older_one() -> None:
    nightly = Job("nightly", f"{T}.noop_job", "nightly 02:00 Europe/Moscow",
                  grace=timedelta(hours=48))
    beat_fire_due(now=utc(2031, 3, 4, 22, 0), jobs=[nightly])
    firings = beat_fire_due(now=utc(2031, 3, 7, 0, 30), jobs=[nightly])
    assert fired(firings) == [
        ("nightly", utc(2031, 3, 5, 23, 0)), ("nightly", utc(2031, 3, 6, 23, 0)),
    ]


@pytest.mark.django_db
def test_a_nightly_0200_moscow_job_fires_at_2300_utc() -> None:
    assert fired(beat_fire_due(now=utc(2031, 3, 4, 22, 59, 59), jobs=[NIGHTLY])) == []
    assert fired(beat_fire_due(now=utc(2031, 3, 4, 23, 0, 0), jobs=[NIGHTLY])) == [
        ("nightly", utc(2031, 3, 4, 23, 0))
    ]
    assert fired(beat_fire_due(now=utc(2031, 3, 4, 23, 1, 0), jobs=[NIGHTLY])) == []


@pytest.mark.django_db
def test_a_failing_job_leaves_no_firing_so_the_next_minute_retries_it() -> None:
    failing = Job("nightly", f"{T}.failing_job", "nightly 02:00 Europe/Moscow",
                  grace=timedelta(hours=6))
    first = beat_fire_due(now=utc(2031, 3, 4, 23, 0), jobs=[failing])
    assert [(f.outcome, f.error) for f in first] == [
        ("failed", "RuntimeError: job fails on purpose")
    ]
    assert not BeatFiring.objects.exists()
    again = beat_fire_due(now=utc(2031, 3, 4, 23, 1), jobs=[NIGHTLY])
    assert fired(again) == [("nightly", utc(2031, 3, 4, 23, 0))]
