"""A team of teams on seed 001 for the supervisors' tests.

boss (regional manager)
├── senior (enrolled in the seniors' track) → c1, c2, c3 (consultants)
└── peer (enrolled in the seniors' track)   → c4 (consultant)
outsider_boss (no one below in the program) and a second organisation elsewhere.
People live in Vladivostok (UTC+10); day 1 is Monday 23 November 2026.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from fokus.core import clock
from fokus.core.models import Organization
from fokus.programs.models import Enrollment
from fokus.review import services as review
from fokus.review.models import Attempt
from fokus.scoring.tests.factories import Seed, person, seed_program

# 15:00 in Vladivostok on day 1 (after the not-answered rule's default 14:00).
DAY1_AFTERNOON = dt.datetime(2026, 11, 23, 5, 0, tzinfo=dt.UTC)
DAY1_MORNING = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)  # 11:00 local
DAY2_AFTERNOON = dt.datetime(2026, 11, 25, 5, 0, tzinfo=dt.UTC)
DAY3_AFTERNOON = dt.datetime(2026, 11, 27, 5, 0, tzinfo=dt.UTC)


def make_team(org: Organization, slug: str = "sales-marathon") -> Seed:
    s = seed_program(org, slug, login=True)
    now = timezone.now()
    s.people["c3"] = person(org, "C-3", "Консультант Ольга", "participant", s["senior"], True)
    s.people["c4"] = person(org, "C-4", "Консультант Дарья", "participant", s["peer"], True)
    s.people["other_boss"] = person(org, "B-2", "Директор Глеб", "supervisor", login=True)
    s["peer"].manager = s["boss"]
    s["peer"].save(update_fields=["manager"])
    for name in ("c3", "c4"):
        Enrollment.objects.create(person=s[name], track=s.consultants, enrolled_at=now)
    Enrollment.objects.create(person=s["peer"], track=s.seniors, enrolled_at=now)
    for key in ("c1", "c2", "c3", "c4"):
        s[key].email = f"{key}@example.com"
        s[key].language = "en"
        s[key].save(update_fields=["email", "language"])
    for key in ("senior", "peer", "boss"):
        s[key].language = "en"
        s[key].save(update_fields=["language"])
    s.users = {k: p.user for k, p in s.people.items() if p.user is not None}
    return s


@pytest.fixture
def team(org_a: Organization) -> Seed:
    return make_team(org_a)


def day_tasks(seed: Seed, index: int) -> list[Any]:
    return [t for t in seed.tasks if t.day.index == index]


def answer(seed: Seed, who: str, task: Any, at: dt.datetime) -> Attempt:
    with clock.frozen_at(at):
        return review.attempt_submit(person=seed[who], task=task, text="Ответ", link="", files=[])


def give_back(seed: Seed, attempt: Attempt, at: dt.datetime) -> Attempt:
    with clock.frozen_at(at):
        return review.attempt_return_for_revision(
            attempt=attempt, curator=seed["curator"], feedback="Доработайте"
        )


def grade(seed: Seed, attempt: Attempt, value: int, at: dt.datetime) -> Attempt:
    with clock.frozen_at(at):
        return review.attempt_grade(
            attempt=attempt, curator=seed["curator"], grade=value, feedback="Хорошо"
        )


def client_for(user: Any) -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE="en")
    c.force_login(user)
    return c
