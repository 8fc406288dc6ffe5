"""A seed-001-shaped program for scoring tests, and scoring rows for the isolation test."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from fokus.core.models import Organization
from fokus.people.models import Person
from fokus.programs.models import (
    Enrollment,
    LearningDay,
    Program,
    Slot,
    SlotKind,
    Task,
    Track,
)
from fokus.scoring import queries, services
from fokus.scoring.models import PointsEntry, ScoringRules

# Monday 23 November 2026 to Tuesday 8 December: 16 days, 7 of them Mon/Wed/Fri.
STARTS_ON = dt.date(2026, 11, 23)
ENDS_ON = dt.date(2026, 12, 8)
LEARNING_DATES = [STARTS_ON + dt.timedelta(days=d) for d in (0, 2, 4, 7, 9, 11, 14)]


@dataclass
class Seed:
    organization: Organization
    program: Program
    consultants: Track
    seniors: Track
    tasks: list[Task]
    senior_tasks: list[Task]
    people: dict[str, Person]
    users: dict[str, User] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Person:
        return self.people[name]


def person(org: Organization, number: str, name: str, roles: str = "participant",
           manager: Person | None = None, login: bool = False) -> Person:
    user = User.objects.create_user(username=f"{org.slug}-{number}") if login else None
    return Person.objects.create(
        organization=org, employee_number=number, full_name=name, time_zone="Asia/Vladivostok",
        roles=roles, manager=manager, user=user,
    )


def seed_program(org: Organization, slug: str = "sales-marathon", *, login: bool = False) -> Seed:
    """Seed 001: consultants 7 days × 2 tasks (42 points at most), seniors 4 tasks (12)."""
    program = Program.objects.create(
        organization=org, slug=slug, title="Марафон продаж", starts_on=STARTS_ON,
        ends_on=ENDS_ON, learning_weekdays="mon,wed,fri",
    )
    consultants = Track.objects.create(program=program, slug="consultants", title="Консультанты")
    seniors = Track.objects.create(
        program=program, slug="seniors", title="Старшие", follows=consultants, position=1
    )
    morning = Slot.objects.create(program=program, local_time=dt.time(10), kind=SlotKind.LESSON)
    afternoon = Slot.objects.create(program=program, local_time=dt.time(14), kind=SlotKind.LESSON)
    Slot.objects.create(program=program, local_time=dt.time(18), kind=SlotKind.DIGEST)
    tasks: list[Task] = []
    senior_tasks: list[Task] = []
    for index, date in enumerate(LEARNING_DATES, start=1):
        day = LearningDay.objects.create(program=program, index=index, date=date)
        for slot in (morning, afternoon):
            tasks.append(Task.objects.create(
                track=consultants, day=day, slot=slot, prompt="…",
                title=f"Задание {index}.{slot.local_time:%H}",
            ))
        if index <= 4:
            senior_tasks.append(Task.objects.create(
                track=seniors, day=day, slot=afternoon, title=f"Старшим {index}", prompt="…",
            ))
    people: dict[str, Person] = {}
    people["admin"] = person(org, "A-1", "Админ Анна", "admin", login=login)
    people["boss"] = person(org, "B-1", "Директор Борис", "supervisor", login=login)
    people["senior"] = person(org, "S-1", "Старший Семён", "supervisor", people["boss"], login)
    people["c1"] = person(org, "C-1", "Консультант Иван", "participant", people["senior"], login)
    people["c2"] = person(org, "C-2", "Консультант Мария", "participant", people["senior"], login)
    people["peer"] = person(org, "P-1", "Соседний Пётр", "supervisor", login=login)
    people["outsider"] = person(org, "O-1", "Не участник Олег", "participant", login=login)
    people["viewer"] = person(org, "V-1", "Наблюдатель Вера", "viewer", login=login)
    people["curator"] = person(org, "K-1", "Куратор Ксения", "curator", login=login)
    now = timezone.now()
    for name in ("c1", "c2"):
        Enrollment.objects.create(person=people[name], track=consultants, enrolled_at=now)
    Enrollment.objects.create(person=people["senior"], track=seniors, enrolled_at=now)
    seed = Seed(org, program, consultants, seniors, tasks, senior_tasks, people)
    if login:
        seed.users = {k: p.user for k, p in people.items() if p.user is not None}
    return seed


def add_scoring_examples(world: Any) -> None:
    """Scoring rules and a ledger entry for a core.tests.factories.World (isolation test)."""
    rules = queries.scoring_rules_for(world.program)
    participant = world.people["participant"]
    entry = services.grade_points_record(
        program=world.program, person=participant, task=world.task,
        attempt_key=f"{world.mark}-attempt", grade=2, graded_by=world.people["curator"],
        occurred_on=world.day.date,
    )
    services.points_append(
        program=world.program, person=participant, source="bonus", amount=Decimal(1),
        reason=f"Bonus {world.mark}", reference="", idempotency_key=f"{world.mark}-bonus",
        occurred_on=world.day.date,
    )
    world.objects[ScoringRules] = rules
    world.objects[PointsEntry] = entry
