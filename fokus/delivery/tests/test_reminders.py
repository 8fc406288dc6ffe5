"""Reminders: only for tasks not answered yet, never for who muted them, and cancelled
when the answer comes in before the reminder is sent."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from django.apps import apps

from fokus.core.models import Organization
from fokus.delivery.models import (
    Delivery,
    DeliveryKind,
    DeliveryPreference,
    DeliverySettings,
    DeliveryStatus,
)
from fokus.delivery.planning import (
    SKIP_ANSWERED,
    SKIP_QUIET,
    delivery_plan_day,
    delivery_plan_reminders,
    delivery_planning_job,
    delivery_reminders_cancel,
    delivery_reminders_cancel_answered,
    reminder_contact_point,
)
from fokus.delivery.tests.test_planning import (
    BEFORE,
    DAY1,
    enroll,
    import_marathon,
    local,
    participant,
)
from fokus.people.models import Person
from fokus.programs.models import Program, Task

# 14:00 in Moscow: four hours (the default offset) after the 10:00 lesson.
REMINDER_AT = datetime(2026, 11, 23, 11, tzinfo=UTC)
SHORTLY_BEFORE = datetime(2026, 11, 23, 10, 50, tzinfo=UTC)


@pytest.fixture
def marathon(org_a: Organization) -> Program:
    return import_marathon(org_a)


def morning_tasks(program: Program) -> list[Task]:
    return list(
        Task.objects.filter(
            track__program=program, track__slug="consultants", day__index=1,
            slot__local_time=time(10),
        ).order_by("position")
    )


def answer(person: Person, task: Task, status: str = "submitted") -> None:
    # Answers belong to fokus.review (a layer above); tests write the row directly.
    submission = apps.get_model("review", "Submission")
    submission.objects.create(
        organization_id=person.organization_id, program_id=task.track.program_id,
        track_id=task.track_id, task=task, person=person, status=status,
        created_at=BEFORE, updated_at=BEFORE,
    )


def reminders_of(person: Person) -> list[Delivery]:
    return list(Delivery.objects.filter(person=person, kind=DeliveryKind.REMINDER))


def test_a_reminder_comes_four_hours_later_for_unanswered_tasks_only(
    org_a: Organization, marathon: Program
) -> None:
    lazy, diligent, drafting = (participant(org_a, n) for n in ("L1", "D1", "R1"))
    enroll(marathon, [lazy, diligent, drafting])
    tasks = morning_tasks(marathon)
    for task in tasks:
        answer(diligent, task)
    answer(drafting, tasks[0], status="draft")  # a draft is not an answer

    report = delivery_plan_reminders(SHORTLY_BEFORE)

    assert report.planned == 2
    assert reminders_of(diligent) == []
    for person in (lazy, drafting):
        (reminder,) = reminders_of(person)
        assert local(reminder, "Europe/Moscow") == "2026-11-23 14:00"
        assert reminder.status == DeliveryStatus.PLANNED
        assert reminder.payload["tasks"] == [t.pk for t in tasks]
        assert reminder.contact_point == reminder_contact_point(marathon.pk, DAY1, time(10), 240)
        # A prepared message the dispatcher sends as it is, with a link to each task.
        assert tasks[0].title in reminder.payload["text"]
        assert [len(row) for row in reminder.payload["buttons"]] == [1] * len(tasks)
        assert "/l/" in reminder.payload["buttons"][0][0]["url"]
    # Planning again (the next minute) adds nothing.
    assert delivery_plan_reminders(SHORTLY_BEFORE).planned == 0


def test_reminders_are_planned_per_zone_at_local_offsets(
    org_a: Organization, marathon: Program
) -> None:
    DeliverySettings.objects.create(organization=org_a, reminder_offsets="120, 300")
    far_east = participant(org_a, "V1", "Asia/Vladivostok")
    enroll(marathon, [far_east])

    # Vladivostok's 12:00 is 02:00 UTC; its 15:00 is 05:00 UTC.
    delivery_plan_reminders(datetime(2026, 11, 23, 1, 50, tzinfo=UTC))
    delivery_plan_reminders(datetime(2026, 11, 23, 4, 50, tzinfo=UTC))

    assert sorted(local(r, "Asia/Vladivostok") for r in reminders_of(far_east)) == [
        "2026-11-23 12:00", "2026-11-23 15:00",
    ]


def test_muted_reminders_are_not_planned(org_a: Organization, marathon: Program) -> None:
    muted = participant(org_a, "M1")
    DeliveryPreference.objects.create(person=muted, mute_reminders=True)
    enroll(marathon, [muted])

    delivery_plan_reminders(SHORTLY_BEFORE)

    assert reminders_of(muted) == []


def test_a_reminder_is_cancelled_when_the_task_is_answered_before_it_is_due(
    org_a: Organization, marathon: Program
) -> None:
    person, other = participant(org_a, "P1"), participant(org_a, "P2")
    enroll(marathon, [person, other])
    delivery_plan_reminders(SHORTLY_BEFORE)
    for task in morning_tasks(marathon):
        answer(person, task)

    # Far ahead of time nothing is cancelled yet ...
    assert delivery_reminders_cancel_answered(datetime(2026, 11, 23, 10, 30, tzinfo=UTC)) == 0
    # ... the minute job shortly before sending is.
    delivery_planning_job(datetime(2026, 11, 23, 10, 55, tzinfo=UTC))

    (cancelled,) = reminders_of(person)
    assert cancelled.status == DeliveryStatus.SKIPPED and cancelled.error == SKIP_ANSWERED
    assert [r.status for r in reminders_of(other)] == [DeliveryStatus.PLANNED]


def test_answering_only_one_of_two_tasks_keeps_the_reminder(
    org_a: Organization, marathon: Program
) -> None:
    person = participant(org_a, "P1")
    enroll(marathon, [person])
    tasks = morning_tasks(marathon)
    delivery_plan_reminders(SHORTLY_BEFORE)
    answer(person, tasks[0])
    if len(tasks) > 1:
        delivery_reminders_cancel_answered(REMINDER_AT)
        assert [r.status for r in reminders_of(person)] == [DeliveryStatus.PLANNED]
    # The answer service's direct call cancels as soon as everything is answered.
    assert delivery_reminders_cancel(person_id=person.pk, task_ids=[t.pk for t in tasks]) == 1
    assert [r.status for r in reminders_of(person)] == [DeliveryStatus.SKIPPED]


def test_a_reminder_never_falls_in_quiet_hours(org_a: Organization, marathon: Program) -> None:
    DeliverySettings.objects.create(
        organization=org_a, quiet_from=time(13, 30), quiet_until=time(15),
        reminder_offsets="240,600",
    )
    person = participant(org_a, "P1")
    enroll(marathon, [person])
    delivery_plan_day(marathon, DAY1, BEFORE)

    delivery_plan_reminders(SHORTLY_BEFORE)  # 14:00 → end of quiet hours, 15:00
    (moved,) = reminders_of(person)
    assert local(moved, "Europe/Moscow") == "2026-11-23 15:00"
    assert moved.status == DeliveryStatus.PLANNED

    # 20:00 is fine (quiet hours are over); with quiet until the next morning it is skipped.
    DeliverySettings.objects.filter(organization=org_a).update(
        quiet_from=time(19), quiet_until=time(8)
    )
    delivery_plan_reminders(datetime(2026, 11, 23, 16, 50, tzinfo=UTC))
    late = Delivery.objects.get(person=person, contact_point__endswith=":+600")
    assert late.status == DeliveryStatus.SKIPPED and late.error == SKIP_QUIET
