"""`kill -9` of a worker in the middle of a drop: after a restart every delivery is
sent, and only what the killed worker had in flight may arrive twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from django.db import connection

from fokus.delivery.models import Delivery, DeliveryStatus
from fokus.delivery.tests.conftest import Drop
from fokus.telegram.testing.fake_bot_api import FakeBotApi

# A worker process: the dispatch loop of the `delivery.dispatch` task, as a script.
WORKER = """
import json, os, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fokus.config.settings")
django.setup()
from django.conf import settings
settings.FOKUS_DELIVERY_STALE_CLAIM_SECONDS = float(sys.argv[1])
from fokus.delivery.dispatch import delivery_dispatch_all
run = delivery_dispatch_all(worker=sys.argv[2], limit=int(sys.argv[3]))
print(json.dumps(run.as_json()))
"""
STALE_SECONDS = 2.0
PEOPLE = 120
# The sender keeps up to this many requests in flight per bot (its default).
IN_FLIGHT = 8


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


def worker(fake: FakeBotApi, name: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "FOKUS_TASKS": "db",
    }
    env.pop("REDIS_URL", None)  # the in-process rate limiter, as in the embedded run
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(STALE_SECONDS), name, "20"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_drop_loses_nothing_and_repeats_at_most_its_in_flight_sends(
    drop: Drop, fake_bot_api: FakeBotApi
) -> None:
    people = [drop.person(f"P{n:03d}") for n in range(PEOPLE)]
    for person in people:
        # Due now on the real clock: the worker processes run on it.
        drop.lesson(person, due_at=drop.lesson_at.replace(year=2000))

    first = worker(fake_bot_api, "first")
    deadline = time.monotonic() + 120
    # Kill it a third of the way in, at a moment it holds a claim (between two batches
    # it holds none, and there would be nothing left behind to reclaim).
    sending = Delivery.objects.filter(status=DeliveryStatus.SENDING)
    while (
        len(fake_bot_api.sent) < PEOPLE // 3 or not sending.exists()
    ) and time.monotonic() < deadline:
        assert first.poll() is None, first.communicate()
        time.sleep(0.01)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(30)
    sent_before_restart = len(fake_bot_api.sent)
    assert PEOPLE // 3 <= sent_before_restart < PEOPLE, "the kill came mid-drop"
    stuck = Delivery.objects.filter(status=DeliveryStatus.SENDING).count()
    assert stuck > 0  # the killed worker's claim is left behind

    time.sleep(STALE_SECONDS + 0.5)  # the claim goes stale
    second = worker(fake_bot_api, "second")
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["sent"] >= PEOPLE - sent_before_restart

    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    per_chat = Counter(message.chat_id for message in fake_bot_api.sent)
    assert set(per_chat) == {drop.chat_id(p) for p in people}  # nobody lost
    duplicated = sum(count - 1 for count in per_chat.values())
    assert duplicated <= IN_FLIGHT
    print(f"killed after {sent_before_restart} of {PEOPLE}; {stuck} claims left SENDING; "
          f"{duplicated} message(s) arrived twice")
