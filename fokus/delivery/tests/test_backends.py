"""End to end through each task backend: the minute job enqueues the dispatch task,
a worker (or `fokus tick`) runs it, the message arrives.

The database backend runs here on whichever database the suite runs on (SQLite, or
PostgreSQL with DATABASE_URL); huey runs on the real Redis at REDIS_URL.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO

import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from huey import PriorityRedisHuey
from huey.contrib import djhuey
from huey.contrib.djhuey import tasks_backend

from conftest import services_required
from fokus.config.schedule import SCHEDULE
from fokus.core import clock
from fokus.delivery.models import DeliveryStatus
from fokus.delivery.tests.conftest import Drop
from fokus.scheduler.background import backend_kind
from fokus.scheduler.runner import Background
from fokus.telegram.testing.fake_bot_api import FakeBotApi

# The dispatch job alone, so other apps' jobs play no part in these tests.
DISPATCH_ONLY = [job for job in SCHEDULE if job.name == "delivery.dispatch"]
HUEY_TASKS = {"default": {"BACKEND": "huey.contrib.djhuey.tasks_backend.HueyBackend", "QUEUES": []}}
THIS = "fokus.delivery.tests.test_backends"


def tick(now: str, *extra: str) -> dict:
    out = StringIO()
    call_command("tick", "--now", now, *extra, stdout=out)
    return json.loads(out.getvalue())


def test_the_schedule_table_dispatches_every_minute() -> None:
    [job] = DISPATCH_ONLY
    assert (job.func, job.cadence) == ("fokus.delivery.jobs.delivery_dispatch_job", "every minute")


@pytest.mark.django_db(transaction=True)
@override_settings(FOKUS_SCHEDULE=f"{THIS}.DISPATCH_ONLY")
def test_tick_on_the_database_backend_delivers_what_is_due(
    drop: Drop, fake_bot_api: FakeBotApi
) -> None:
    assert backend_kind() == "db"
    anna = drop.person("P1")
    boris = drop.person("P2", chat=False)
    telegram, email = drop.lesson(anna), drop.lesson(boris)

    early = tick((drop.lesson_at - timedelta(minutes=1)).isoformat())
    assert early["tasks"] == {"succeeded": 0, "failed": 0}  # nothing due: no task at all
    assert fake_bot_api.sent == []

    report = tick(drop.lesson_at.isoformat())
    assert report["fired"] == [{"job": "delivery.dispatch", "slot": drop.lesson_at.isoformat()}]
    assert report["tasks"] == {"succeeded": 1, "failed": 0}
    telegram.refresh_from_db()
    email.refresh_from_db()
    assert (telegram.status, email.status) == (DeliveryStatus.SENT, DeliveryStatus.SENT)
    assert telegram.sent_at == drop.lesson_at
    assert len(fake_bot_api.sent_to(drop.chat_id(anna))) == 1

    again = tick((drop.lesson_at + timedelta(minutes=1)).isoformat())
    assert again["tasks"] == {"succeeded": 0, "failed": 0}
    assert len(fake_bot_api.sent) == 1


@pytest.fixture
def huey_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[PriorityRedisHuey]:
    """huey on the real Redis, on a queue of its own (as fokus/scheduler/tests do)."""
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        message = f"Redis at {settings.REDIS_URL} is not reachable: {exc}"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    huey = PriorityRedisHuey(f"fokus-test-delivery-{uuid.uuid4().hex}", url=settings.REDIS_URL,
                             utc=True)
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
@override_settings(FOKUS_SCHEDULE=f"{THIS}.DISPATCH_ONLY")
def test_a_huey_consumer_on_redis_delivers_what_the_beat_found_due(
    drop: Drop, fake_bot_api: FakeBotApi, huey_backend: PriorityRedisHuey
) -> None:
    anna = drop.person("P1")
    # The consumer's tasks run on the real clock: the lesson is due a minute ago.
    delivery = drop.lesson(anna, due_at=clock.now() - timedelta(minutes=1))

    report = tick(clock.now().isoformat(), "--no-tasks")
    assert [f["job"] for f in report["fired"]] == ["delivery.dispatch"]
    assert huey_backend.pending_count() == 1

    consumer = Background(workers=1, beat=False)
    consumer.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            delivery.refresh_from_db()
            if delivery.status == DeliveryStatus.SENT:
                break
            time.sleep(0.2)
    finally:
        consumer.stop()
    assert delivery.status == DeliveryStatus.SENT
    assert len(fake_bot_api.sent_to(drop.chat_id(anna))) == 1
    assert huey_backend.pending_count() == 0
