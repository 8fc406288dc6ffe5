"""Planning a learning day: who gets which lesson, when, on which channel."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from fokus.core.clock import frozen_at
from fokus.core.models import Organization
from fokus.delivery.models import (
    Channel,
    Delivery,
    DeliveryKind,
    DeliveryPreference,
    DeliveryStatus,
)
from fokus.delivery.planning import delivery_plan_day, delivery_planning_job, lesson_contact_point
from fokus.people.models import Person
from fokus.programs.models import LearningDay, Material, Program, Task, Track
from fokus.programs.services import program_enroll, program_import
from fokus.programs.tests.matrix_factories import EXAMPLE
from fokus.scheduler.background import run_pending_tasks
from fokus.telegram.models import TelegramBot, TelegramChat

DAY1 = date(2026, 11, 23)  # the example marathon's first learning day (a Monday)
BEFORE = datetime(2026, 11, 22, 12, tzinfo=UTC)


def import_marathon(organization: Organization, text: str | None = None) -> Program:
    return program_import(
        organization=organization,
        text=text if text is not None else EXAMPLE.read_text(encoding="utf-8"),
        source_name="sales-marathon.yaml",
    )


def participant(
    organization: Organization, number: str, zone: str = "Europe/Moscow", *,
    email: bool = True,
) -> Person:
    return Person.objects.create(
        organization=organization, employee_number=number, full_name=f"Участник {number}",
        email=f"{number.lower()}@example.com" if email else "", time_zone=zone,
    )


def enroll(program: Program, people: list[Person], track: str = "consultants") -> None:
    with frozen_at(BEFORE):
        program_enroll(
            program=program, track=Track.objects.get(program=program, slug=track), people=people
        )


def bind_telegram(person: Person, *, reachable: bool = True) -> None:
    bot, _ = TelegramBot.objects.get_or_create(
        organization_id=person.organization_id, defaults={"token": "1:x"}
    )
    TelegramChat.objects.create(
        person=person, bot=bot, chat_id=1000 + person.pk, bound_at=BEFORE,
        unreachable_at=None if reachable else BEFORE,
    )


def lessons_of(person: Person) -> list[Delivery]:
    return list(
        Delivery.objects.filter(person=person, kind=DeliveryKind.LESSON).order_by("due_at")
    )


def local(delivery: Delivery, zone: str) -> str:
    from zoneinfo import ZoneInfo

    return f"{delivery.due_at.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M}"


@pytest.fixture
def marathon(org_a: Organization) -> Program:
    return import_marathon(org_a)


def test_each_participant_gets_lessons_at_their_own_local_time(
    org_a: Organization, marathon: Program
) -> None:
    zones = ["Europe/Kaliningrad", "Europe/Moscow", "Asia/Vladivostok", "Asia/Magadan"]
    people = [participant(org_a, f"P{i}", z) for i, z in enumerate(zones)]
    enroll(marathon, people)

    report = delivery_plan_day(marathon, DAY1, BEFORE)

    assert report.people == 4 and report.created == 8
    for person, zone in zip(people, zones, strict=True):
        rows = lessons_of(person)
        assert [local(r, zone) for r in rows] == ["2026-11-23 10:00", "2026-11-23 14:00"]
        assert {r.status for r in rows} == {DeliveryStatus.PLANNED}
        assert [r.contact_point for r in rows] == [
            lesson_contact_point(marathon.pk, DAY1, time(10)),
            lesson_contact_point(marathon.pk, DAY1, time(14)),
        ]
    # Vladivostok's 10:00 is Moscow's 03:00: the instants really differ.
    assert lessons_of(people[2])[0].due_at == datetime(2026, 11, 23, 0, tzinfo=UTC)


def test_the_payload_names_the_track_s_materials_and_tasks_of_that_slot(
    org_a: Organization, marathon: Program
) -> None:
    consultant, senior = participant(org_a, "C1"), participant(org_a, "S1")
    enroll(marathon, [consultant])
    enroll(marathon, [senior], track="seniors")

    delivery_plan_day(marathon, DAY1, BEFORE)

    morning = lessons_of(consultant)[0]
    day = LearningDay.objects.get(program=marathon, index=1)
    expected_materials = list(
        Material.objects.filter(
            day=day, track__slug="consultants", slot__local_time=time(10)
        ).order_by("position").values_list("pk", flat=True)
    )
    expected_tasks = list(
        Task.objects.filter(
            day=day, track__slug="consultants", slot__local_time=time(10)
        ).order_by("position").values_list("pk", flat=True)
    )
    assert expected_materials and expected_tasks
    assert morning.payload == {
        "materials": expected_materials, "tasks": expected_tasks, "day_index": 1,
        "slot": "10:00",
    }
    senior_tasks = lessons_of(senior)[0].payload["tasks"]
    assert senior_tasks and not set(senior_tasks) & set(expected_tasks)


def test_planning_again_adds_only_what_is_new(org_a: Organization, marathon: Program) -> None:
    first = participant(org_a, "P1")
    enroll(marathon, [first])
    assert delivery_plan_day(marathon, DAY1, BEFORE).created == 2
    assert delivery_plan_day(marathon, DAY1, BEFORE).created == 0

    late = participant(org_a, "P2")
    enroll(marathon, [late])
    report = delivery_plan_day(marathon, DAY1, BEFORE)

    assert report.created == 2
    assert Delivery.objects.filter(person=first).count() == 2


def test_channel_follows_the_person_s_order_and_reachability(
    org_a: Organization, marathon: Program
) -> None:
    telegram_person = participant(org_a, "T1")
    bind_telegram(telegram_person)
    blocked = participant(org_a, "T2")
    bind_telegram(blocked, reachable=False)
    prefers_email = participant(org_a, "T3")
    bind_telegram(prefers_email)
    DeliveryPreference.objects.create(person=prefers_email, channel_order="email,telegram")
    unsubscribed = participant(org_a, "E1")
    DeliveryPreference.objects.create(person=unsubscribed, email_unsubscribed=True)
    nobody = participant(org_a, "N1", email=False)
    enroll(marathon, [telegram_person, blocked, prefers_email, unsubscribed, nobody])

    report = delivery_plan_day(marathon, DAY1, BEFORE)

    assert {r.channel for r in lessons_of(telegram_person)} == {Channel.TELEGRAM}
    assert {r.channel for r in lessons_of(blocked)} == {Channel.EMAIL}
    assert {r.channel for r in lessons_of(prefers_email)} == {Channel.EMAIL}
    assert lessons_of(unsubscribed) == [] and lessons_of(nobody) == []
    assert report.unreachable == 2


def test_withdrawn_inactive_and_past_points_are_not_planned(
    org_a: Organization, marathon: Program
) -> None:
    gone, inactive, noon = (participant(org_a, n) for n in ("G1", "I1", "M1"))
    enroll(marathon, [gone, inactive, noon])
    marathon.tracks.get(slug="consultants").enrollments.filter(person=gone).update(
        status="withdrawn"
    )
    Person.objects.filter(pk=inactive.pk).update(is_active=False)

    # Planned at 12:30 Moscow: the 10:00 lesson is long gone, the 14:00 one is not.
    delivery_plan_day(marathon, DAY1, datetime(2026, 11, 23, 9, 30, tzinfo=UTC))

    assert lessons_of(gone) == [] and lessons_of(inactive) == []
    assert [local(r, "Europe/Moscow") for r in lessons_of(noon)] == ["2026-11-23 14:00"]


def test_a_day_that_is_not_a_learning_day_plans_nothing(
    org_a: Organization, marathon: Program
) -> None:
    enroll(marathon, [participant(org_a, "P1")])
    assert delivery_plan_day(marathon, date(2026, 11, 24), BEFORE).created == 0
    assert not Delivery.objects.exists()


def test_other_organisations_people_are_never_planned(
    org_a: Organization, org_b: Organization, marathon: Program
) -> None:
    other = import_marathon(org_b)
    enroll(other, [participant(org_b, "B1")])
    enroll(marathon, [participant(org_a, "A1")])

    delivery_plan_day(marathon, DAY1, BEFORE)

    assert set(Delivery.objects.values_list("organization_id", "person__organization_id")) == {
        (org_a.pk, org_a.pk)
    }


@pytest.mark.django_db(transaction=True)
def test_the_minute_job_plans_tomorrow_at_once_through_the_task_runner(
    org_a: Organization,
) -> None:
    marathon = import_marathon(org_a)
    person = participant(org_a, "P1", "Asia/Magadan")
    enroll(marathon, [person])
    slot = datetime(2026, 11, 22, 10, 17, tzinfo=UTC)  # the day before, not on the hour

    with frozen_at(slot):
        from django.db import transaction

        with transaction.atomic():
            delivery_planning_job(slot)
        run_pending_tasks(now=slot)

    assert [local(r, "Asia/Magadan") for r in lessons_of(person)] == [
        "2026-11-23 10:00", "2026-11-23 14:00",
    ]
