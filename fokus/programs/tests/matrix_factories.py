"""Shared helpers for the matrix, enrollment, schedule, CLI and API tests."""

from __future__ import annotations

from pathlib import Path

from fokus.core.models import Organization
from fokus.people.models import Person
from fokus.programs.models import Enrollment, LearningDay, Material, Program, Slot, Task, Track

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sales-marathon.yaml"

# A small valid matrix; tests break it one way at a time. Line numbers matter.
SMALL = """\
slug: sprint
title: Спринт
kind: sprint
starts_on: 2026-03-02
ends_on: 2026-03-08
learning_weekdays: [mon, wed, fri]
slots:
- at: '10:00'
  kind: lesson
- at: '18:00'
  kind: digest
tracks:
- slug: consultants
  title: Консультанты
  days:
  - day: 1
    slots:
    - at: '10:00'
      materials:
      - title: Приветствие
        minutes: 12
        body: |
          Текст урока.
      tasks:
      - title: Задание
        prompt: |
          Опишите разговор.
        answer_kinds: [text, photo]
        grade_max: 3
- slug: seniors
  title: Старшие
  follows: consultants
"""


def row_counts() -> dict[str, int]:
    return {
        m.__name__: m.objects.count()
        for m in (Program, Track, Slot, LearningDay, Material, Task, Enrollment)
    }


def make_person(
    organization: Organization,
    number: str,
    *,
    zone: str = "Europe/Moscow",
    manager: Person | None = None,
    roles: str = "participant",
) -> Person:
    return Person.objects.create(
        organization=organization,
        employee_number=number,
        full_name=f"Сотрудник {number}",
        time_zone=zone,
        manager=manager,
        roles=roles,
    )
