"""Tasks through the database backend: `fokus tick`, on_commit, the in-process worker."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.tasks import TaskResultStatus
from django.test import override_settings
from django_tasks_db.models import DBTaskResult

from fokus.scheduler.background import enqueue_on_commit, run_pending_tasks
from fokus.scheduler.models import BeatFiring
from fokus.scheduler.runner import Background
from fokus.scheduler.tests.jobs_for_tests import mark

T = "fokus.scheduler.tests.jobs_for_tests"


def ran(label: str) -> list[datetime]:
    return list(BeatFiring.objects.filter(job=f"ran:{label}").values_list("slot", flat=True))


def tick(now: str) -> dict:
    out = StringIO()
    call_command("tick", "--now", now, stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db(transaction=True)
@override_settings(FOKUS_SCHEDULE=f"{T}.TICK_SCHEDULE")
def test_tick_fires_due_jobs_and_runs_their_tasks_as_of_its_instant() -> None:
    report = tick("2031-03-05T02:00:00+03:00")
    assert report["now"] == "2031-03-04T23:00:00+00:00"
    assert report["fired"] == [
        {"job": "test.minute", "slot": "2031-03-04T23:00:00+00:00"},
        {"job": "test.nightly", "slot": "2031-03-04T23:00:00+00:00"},
    ]
    # The nightly task is deferred to 23:30: not yet due as of 23:00.
    assert report["tasks"] == {"succeeded": 1, "failed": 0}
    assert ran("test.minute") == [datetime(2031, 3, 4, 23, 0, tzinfo=UTC)]
    assert ran("test.nightly") == []
    assert DBTaskResult.objects.filter(status=TaskResultStatus.SUCCESSFUL).count() == 1

    again = tick("2031-03-04T23:00:30Z")
    assert again["fired"] == [] and again["tasks"] == {"succeeded": 0, "failed": 0}

    later = tick("2031-03-04T23:30:00Z")
    assert later["fired"] == [{"job": "test.minute", "slot": "2031-03-04T23:30:00+00:00"}]
    assert later["tasks"] == {"succeeded": 2, "failed": 0}
    assert ran("test.nightly") == [datetime(2031, 3, 4, 23, 0, tzinfo=UTC)]


@pytest.mark.django_db(transaction=True)
@override_settings(FOKUS_SCHEDULE=f"{T}.FAILING_SCHEDULE")
def test_tick_reports_failed_jobs_and_tasks_and_exits_with_an_error() -> None:
    out = StringIO()
    with pytest.raises(CommandError, match=r"1 job\(s\) and 1 task\(s\) failed"):
        call_command("tick", "--now", "2031-03-04T10:00:00Z", stdout=out)
    report = json.loads(out.getvalue())
    assert report["failed"] == [{
        "job": "test.failing", "slot": "2031-03-04T10:00:00+00:00",
        "error": "RuntimeError: job fails on purpose",
    }]
    assert report["fired"] == [{"job": "test.failing-task", "slot": "2031-03-04T10:00:00+00:00"}]
    failed = DBTaskResult.objects.get()
    assert failed.status == TaskResultStatus.FAILED
    assert "task test.explode fails on purpose" in failed.traceback


@pytest.mark.parametrize(
    ("value", "message"),
    [("yesterday", "is not an ISO 8601 instant"), ("2031-03-04T10:00", "has no UTC offset")],
)
def test_tick_rejects_an_unclear_instant(value: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("tick", "--now", value, stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_a_task_enqueued_on_commit_is_not_enqueued_when_the_transaction_rolls_back() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_on_commit(mark, "rolled-back", "2031-03-04T10:00:00+00:00")
        raise RuntimeError("the write failed")
    assert not DBTaskResult.objects.exists()

    with transaction.atomic():
        enqueue_on_commit(mark, "committed", "2031-03-04T10:00:00+00:00")
        assert not DBTaskResult.objects.exists()  # not before the commit
    assert DBTaskResult.objects.get().args_kwargs == {
        "args": ["committed", "2031-03-04T10:00:00+00:00"], "kwargs": {},
    }
    assert run_pending_tasks().succeeded == 1
    assert ran("committed") and not ran("rolled-back")


@pytest.mark.django_db(transaction=True)
def test_the_worker_of_fokus_run_picks_up_tasks_in_the_background() -> None:
    background = Background(workers=2, beat=False)
    background.start()
    try:
        for n in range(5):
            with transaction.atomic():
                enqueue_on_commit(mark, "worker", f"2031-03-04T10:0{n}:00+00:00")
        deadline = time.monotonic() + 20
        while len(ran("worker")) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        background.stop()
    assert len(ran("worker")) == 5
    assert DBTaskResult.objects.filter(status=TaskResultStatus.SUCCESSFUL).count() == 5


@pytest.mark.django_db(transaction=True)
@override_settings(FOKUS_SCHEDULE=f"{T}.HOUSEKEEPING_SCHEDULE")
def test_housekeeping_forgets_firings_older_than_two_weeks() -> None:
    for slot in ("2031-02-01T03:30:00+00:00", "2031-03-01T03:30:00+00:00"):
        BeatFiring.objects.create(
            job="old", slot=datetime.fromisoformat(slot), fired_at=datetime.now(UTC)
        )
    report = tick("2031-03-04T03:30:00Z")
    assert report["fired"] == [
        {"job": "scheduler.housekeeping", "slot": "2031-03-04T03:30:00+00:00"}
    ]
    assert report["tasks"] == {"succeeded": 1, "failed": 0}
    jobs = sorted(BeatFiring.objects.values_list("job", flat=True))
    assert jobs == ["old", "scheduler.housekeeping"]


def test_worker_refuses_a_backend_without_workers() -> None:
    with override_settings(
        TASKS={"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    ), pytest.raises(CommandError, match="there is no worker to start"):
        call_command("worker")
