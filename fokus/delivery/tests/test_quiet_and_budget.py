"""Quiet hours (the organisation's, a person's own) and the daily message budget."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from fokus.core.models import Organization
from fokus.delivery.models import (
    Channel,
    Delivery,
    DeliveryKind,
    DeliveryPreference,
    DeliverySettings,
    DeliveryStatus,
)
from fokus.delivery.planning import (
    SKIP_BUDGET,
    SKIP_QUIET,
    Quiet,
    delivery_plan_day,
    delivery_plan_reminders,
    quiet_adjust,
)
from fokus.delivery.tests.test_planning import (
    BEFORE,
    DAY1,
    enroll,
    import_marathon,
    lessons_of,
    local,
    participant,
)
from fokus.programs.models import Program


@pytest.fixture
def marathon(org_a: Organization) -> Program:
    return import_marathon(org_a)


def test_quiet_adjust_moves_within_the_day_and_skips_past_midnight() -> None:
    moscow = "Europe/Moscow"
    at_8 = datetime(2026, 11, 23, 5, tzinfo=UTC)  # 08:00 in Moscow
    assert quiet_adjust(at_8, moscow, Quiet(time(7), time(9))) == at_8 + timedelta(hours=1)
    assert quiet_adjust(at_8, moscow, Quiet(time(9), time(18))) == at_8
    # Overnight 22:00–08:30: the morning part moves to 08:30, the evening part is skipped.
    assert quiet_adjust(at_8, moscow, Quiet(time(22), time(8, 30))) == at_8 + timedelta(minutes=30)
    at_23 = datetime(2026, 11, 23, 20, tzinfo=UTC)
    assert quiet_adjust(at_23, moscow, Quiet(time(22), time(8, 30))) is None
    assert quiet_adjust(at_23, moscow, Quiet(None, None)) == at_23


def test_organisation_quiet_hours_move_a_lesson_to_their_end(
    org_a: Organization, marathon: Program
) -> None:
    DeliverySettings.objects.create(organization=org_a, quiet_from=time(9), quiet_until=time(11))
    moscow, vladivostok = participant(org_a, "M1"), participant(org_a, "V1", "Asia/Vladivostok")
    enroll(marathon, [moscow, vladivostok])

    delivery_plan_day(marathon, DAY1, BEFORE)

    for person, zone in ((moscow, "Europe/Moscow"), (vladivostok, "Asia/Vladivostok")):
        assert [local(r, zone) for r in lessons_of(person)] == [
            "2026-11-23 11:00", "2026-11-23 14:00",
        ]


def test_a_person_s_quiet_hours_override_the_organisation_s(
    org_a: Organization, marathon: Program
) -> None:
    DeliverySettings.objects.create(organization=org_a, quiet_from=time(9), quiet_until=time(11))
    own = participant(org_a, "P1")
    DeliveryPreference.objects.create(person=own, quiet_from=time(13), quiet_until=time(15))
    night_owl = participant(org_a, "P2")
    # Quiet from 13:30 to 08:00 next morning: the 14:00 lesson cannot be sent that day.
    DeliveryPreference.objects.create(person=night_owl, quiet_from=time(13, 30),
                                      quiet_until=time(8))
    enroll(marathon, [own, night_owl])

    report = delivery_plan_day(marathon, DAY1, BEFORE)

    assert [local(r, "Europe/Moscow") for r in lessons_of(own)] == [
        "2026-11-23 10:00", "2026-11-23 15:00",
    ]
    rows = lessons_of(night_owl)
    assert [(local(r, "Europe/Moscow"), r.status) for r in rows] == [
        ("2026-11-23 10:00", DeliveryStatus.PLANNED),
        ("2026-11-23 14:00", DeliveryStatus.SKIPPED),
    ]
    assert rows[1].error == SKIP_QUIET
    assert report.skipped_quiet == 1


def test_the_budget_keeps_lessons_and_skips_the_less_important_messages(
    org_a: Organization, marathon: Program
) -> None:
    DeliverySettings.objects.create(organization=org_a, daily_budget=2)
    person = participant(org_a, "P1")
    enroll(marathon, [person])
    # An announcement planned earlier for 12:00 that day: a lesson beats it.
    announcement = Delivery.objects.create(
        organization=org_a, person=person, kind=DeliveryKind.ANNOUNCEMENT,
        contact_point="announcement:1", channel=Channel.EMAIL,
        due_at=datetime(2026, 11, 23, 9, tzinfo=UTC), priority=30,
    )

    report = delivery_plan_day(marathon, DAY1, BEFORE)

    announcement.refresh_from_db()
    assert announcement.status == DeliveryStatus.SKIPPED and announcement.error == SKIP_BUDGET
    assert {r.status for r in lessons_of(person)} == {DeliveryStatus.PLANNED}
    assert report.skipped_budget == 1


def test_a_task_beats_a_reminder_when_the_budget_is_spent(
    org_a: Organization, marathon: Program
) -> None:
    DeliverySettings.objects.create(organization=org_a, daily_budget=2, reminder_offsets="60")
    person = participant(org_a, "P1")
    enroll(marathon, [person])
    delivery_plan_day(marathon, DAY1, BEFORE)

    # 11:00 Moscow: the reminder of the 10:00 task would be the third message that day.
    delivery_plan_reminders(datetime(2026, 11, 23, 7, 55, tzinfo=UTC))

    reminder = Delivery.objects.get(person=person, kind=DeliveryKind.REMINDER)
    assert reminder.status == DeliveryStatus.SKIPPED and reminder.error == SKIP_BUDGET
    assert {r.status for r in lessons_of(person)} == {DeliveryStatus.PLANNED}


def test_messages_already_sent_count_against_the_budget(
    org_a: Organization, marathon: Program
) -> None:
    DeliverySettings.objects.create(organization=org_a, daily_budget=2)
    person = participant(org_a, "P1")
    enroll(marathon, [person])
    Delivery.objects.create(
        organization=org_a, person=person, kind=DeliveryKind.REMINDER,
        contact_point="reminder:earlier", channel=Channel.EMAIL,
        due_at=datetime(2026, 11, 23, 4, tzinfo=UTC), priority=50,
        status=DeliveryStatus.SENT,
    )

    delivery_plan_day(marathon, DAY1, BEFORE)

    statuses = [r.status for r in lessons_of(person)]
    assert statuses == [DeliveryStatus.PLANNED, DeliveryStatus.SKIPPED]


def test_the_budget_counts_the_person_s_own_local_day(
    org_a: Organization, marathon: Program
) -> None:
    DeliverySettings.objects.create(organization=org_a, daily_budget=2)
    person = participant(org_a, "P1", "Asia/Magadan")
    enroll(marathon, [person])
    # 22:00 UTC on the 22nd is already 09:00 of the 23rd in Magadan: the same local day.
    Delivery.objects.create(
        organization=org_a, person=person, kind=DeliveryKind.ANNOUNCEMENT,
        contact_point="announcement:2", channel=Channel.EMAIL,
        due_at=datetime(2026, 11, 22, 22, tzinfo=UTC), priority=30,
    )
    # ... and 12:00 UTC on the 22nd is the evening before (23:00): not counted.
    Delivery.objects.create(
        organization=org_a, person=person, kind=DeliveryKind.ANNOUNCEMENT,
        contact_point="announcement:3", channel=Channel.EMAIL,
        due_at=datetime(2026, 11, 22, 12, tzinfo=UTC), priority=30,
    )

    delivery_plan_day(marathon, DAY1, BEFORE)

    skipped = set(
        Delivery.objects.filter(status=DeliveryStatus.SKIPPED).values_list(
            "contact_point", flat=True
        )
    )
    assert skipped == {"announcement:2"}
