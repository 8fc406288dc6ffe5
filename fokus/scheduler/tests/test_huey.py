"""FOKUS_TASKS=huey: Django tasks through huey and the real Redis at REDIS_URL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from django.conf import settings
from django.db import transaction
from django.test import override_settings
from huey import PriorityRedisHuey
from huey.contrib import djhuey
from huey.contrib.djhuey import tasks_backend

from conftest import services_required
from fokus.scheduler.background import backend_kind, enqueue_on_commit, run_pending_tasks
from fokus.scheduler.models import BeatFiring
from fokus.scheduler.runner import Background
from fokus.scheduler.tests.jobs_for_tests import mark

HUEY_TASKS = {"default": {"BACKEND": "huey.contrib.djhuey.tasks_backend.HueyBackend", "QUEUES": []}}


def ran(label: str) -> int:
    return BeatFiring.objects.filter(job=f"ran:{label}").count()


@pytest.fixture
def huey_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[PriorityRedisHuey]:
    """The huey backend on a queue of its own, so the test never touches real queues."""
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        message = f"Redis at {settings.REDIS_URL} is not reachable: {exc}"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    huey = PriorityRedisHuey(f"fokus-test-{uuid.uuid4().hex}", url=settings.REDIS_URL, utc=True)
    # djhuey builds one HUEY at import and registers the django.tasks shim on it; the
    # test gives the backend the same shim on its private queue.
    shim = huey.task(name="djtasks.run", context=True)(
        djhuey.close_db(tasks_backend._execute_django_task)
    )
    monkeypatch.setattr(djhuey, "HUEY", huey)
    monkeypatch.setattr(tasks_backend, "HUEY", huey)
    monkeypatch.setattr(tasks_backend, "_shim", shim)
    with override_settings(TASKS=HUEY_TASKS):
        assert backend_kind() == "huey"
        yield huey
    huey.flush()


@pytest.mark.django_db(transaction=True)
def test_a_real_huey_consumer_runs_a_task_enqueued_on_commit(
    huey_backend: PriorityRedisHuey,
) -> None:
    consumer = Background(workers=2, beat=False)
    consumer.start()
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            enqueue_on_commit(mark, "huey-rolled-back", "2031-03-04T10:00:00+00:00")
            raise RuntimeError("the write failed")
        with transaction.atomic():
            enqueue_on_commit(mark, "huey", "2031-03-04T10:00:00+00:00")
        deadline = time.monotonic() + 20
        while not ran("huey") and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        consumer.stop()
    assert ran("huey") == 1
    assert ran("huey-rolled-back") == 0
    assert huey_backend.pending_count() == 0


@pytest.mark.django_db(transaction=True)
def test_tick_runs_huey_tasks_in_process_as_of_its_instant(huey_backend: PriorityRedisHuey) -> None:
    as_of = datetime(2031, 3, 4, 10, 0, tzinfo=UTC)
    with transaction.atomic():
        enqueue_on_commit(mark, "now", as_of.isoformat())
        enqueue_on_commit(mark, "later", as_of.isoformat(), run_after=as_of + timedelta(hours=1))
    first = run_pending_tasks(now=as_of)
    assert (first.succeeded, first.failed) == (1, 0)
    assert (ran("now"), ran("later")) == (1, 0)
    second = run_pending_tasks(now=as_of + timedelta(hours=1))
    assert (second.succeeded, second.failed) == (1, 0)
    assert ran("later") == 1
