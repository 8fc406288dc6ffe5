"""Time travel through a whole 16-day marathon: every lesson arrives at its local time.

The example marathon (examples/sales-marathon.yaml, imported through the real matrix
import) is moved to 19 October – 3 November 2026, so Europe/Berlin leaves summer time
(25 October) in the middle of it. Participants in Kaliningrad, Moscow, Yekaterinburg,
Vladivostok, Magadan and Berlin get their messages in Telegram (the fake Bot API) or
by e-mail (Django's locmem outbox).

The fake clock jumps from one due instant to the next (and ten minutes before each,
when reminders are planned); at every stop the beat fires the real schedule table's
delivery jobs (`beat_fire_due`) and the task runner runs what they enqueued, as
`fokus tick --now` does. Nothing is created by the test except people, enrollments,
chats and one answer: planning, reminders and sending are the jobs' own work.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.core import mail

from fokus.core.clock import frozen_at
from fokus.core.models import Organization
from fokus.delivery.models import Channel, Delivery, DeliveryKind, DeliveryStatus
from fokus.delivery.tests.test_planning import enroll, import_marathon, participant
from fokus.people.models import Person
from fokus.programs.models import LearningDay, Program, Task
from fokus.programs.schedule import contact_instant
from fokus.programs.tests.matrix_factories import EXAMPLE
from fokus.scheduler.background import run_pending_tasks
from fokus.scheduler.jobs import schedule_load
from fokus.scheduler.services import beat_fire_due
from fokus.telegram.models import TelegramChat
from fokus.telegram.services import telegram_bot_resolve
from fokus.telegram.testing.fake_bot_api import FakeBotApi

ZONES = [
    "Europe/Kaliningrad", "Europe/Moscow", "Asia/Yekaterinburg", "Asia/Vladivostok",
    "Asia/Magadan", "Europe/Berlin",
]
LESSON_TIMES = (time(10), time(14))
REMINDER_TIMES = (time(14), time(18))  # the default offset: four hours after each lesson
JOBS = {"delivery.planning", "delivery.dispatch"}
START, END = date(2026, 10, 19), date(2026, 11, 3)
ANSWERED_AT = datetime(2026, 10, 22, 23, 30, tzinfo=UTC)


def october_marathon(organization: Organization) -> Program:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^starts_on: .*$", f"starts_on: {START.isoformat()}", text)
    text = re.sub(r"(?m)^ends_on: .*$", f"ends_on: {END.isoformat()}", text)
    return import_marathon(organization, text)


def tick(instant: datetime) -> None:
    """What `fokus tick --now INSTANT` does, limited to the delivery jobs."""
    jobs = [job for job in schedule_load() if job.name in JOBS]
    assert {job.name for job in jobs} == JOBS
    with frozen_at(instant):
        firings = beat_fire_due(now=instant, jobs=jobs, beat="time-travel")
        assert not [f for f in firings if f.outcome == "failed"], firings
        run = run_pending_tasks(now=instant)
        assert run.failed == 0


@pytest.mark.django_db(transaction=True)
def test_a_whole_marathon_arrives_at_local_times_in_every_zone(
    org_a: Organization, fake_bot_api: FakeBotApi, mailoutbox: list[mail.EmailMessage]
) -> None:
    marathon = october_marathon(org_a)
    days = list(LearningDay.objects.filter(program=marathon).order_by("index"))
    assert days[0].date == START and len(days) == 7
    bot = telegram_bot_resolve(organization=org_a)
    assert bot is not None
    people: dict[Person, str] = {}
    for number, zone in enumerate(ZONES):
        on_telegram = participant(org_a, f"T{number}", zone)
        TelegramChat.objects.create(
            person=on_telegram, bot=bot, chat_id=900_000 + on_telegram.pk,
            bound_at=datetime(2026, 10, 1, tzinfo=UTC),
        )
        people[on_telegram] = Channel.TELEGRAM
        people[participant(org_a, f"E{number}", zone)] = Channel.EMAIL
    enroll(marathon, list(people))
    # Someone in Magadan answers day 3's morning tasks right after the lesson: no reminder.
    diligent = next(p for p in people if p.time_zone == "Asia/Magadan")
    answers_at = contact_instant(days[2].date, time(10), "Asia/Magadan")

    instants: set[datetime] = set()
    for zone in ZONES:
        for day in days:
            for at in {*LESSON_TIMES, *REMINDER_TIMES}:
                instant = contact_instant(day.date, at, zone)
                instants |= {instant, instant - timedelta(minutes=10)}
    midnights = {
        datetime.combine(START + timedelta(n), time(0), tzinfo=UTC)
        for n in range(-2, (END - START).days + 2)
    }
    for instant in sorted(instants | midnights):
        tick(instant)
        if instant == answers_at:
            answer_all(diligent, days[2], time(10))

    lessons = list(Delivery.objects.filter(kind=DeliveryKind.LESSON))
    assert len(lessons) == len(people) * len(days) * len(LESSON_TIMES)
    for person, channel in people.items():
        tz = ZoneInfo(person.time_zone)
        rows = sorted((d for d in lessons if d.person_id == person.pk), key=lambda d: d.due_at)
        expected = [(day.date, at) for day in days for at in LESSON_TIMES]
        got = [(r.sent_at.astimezone(tz).date(), r.sent_at.astimezone(tz).time())
               for r in rows if r.sent_at is not None]
        assert got == expected, person.time_zone
        assert {(r.status, r.channel) for r in rows} == {(DeliveryStatus.SENT, channel)}
        # Sent within one tick: at the very instant it was due.
        assert all(r.sent_at == r.due_at for r in rows)

    # Berlin's 10:00 is 08:00 UTC in summer time and 09:00 UTC after 25 October.
    berlin = next(p for p in people if p.time_zone == "Europe/Berlin")
    berlin_mornings = sorted(
        d.sent_at for d in lessons
        if d.person_id == berlin.pk and d.sent_at is not None and d.sent_at.hour in (8, 9)
    )
    assert [s.hour for s in berlin_mornings] == [8, 8, 8, 9, 9, 9, 9]

    # Every message really left: Telegram chats got theirs, the others their e-mail.
    sent = Delivery.objects.filter(status=DeliveryStatus.SENT)
    for person, channel in people.items():
        count = sent.filter(person=person).count()
        if channel == Channel.TELEGRAM:
            chat_id = 900_000 + person.pk
            assert len(fake_bot_api.sent_to(chat_id)) == count
        else:
            assert sum(person.email in m.to for m in mailoutbox) == count

    # Reminders came four hours after each lesson, except for the answered tasks.
    reminders = Delivery.objects.filter(kind=DeliveryKind.REMINDER)
    assert reminders.filter(status=DeliveryStatus.SENT).exclude(
        person=diligent
    ).count() == (len(people) - 1) * len(days) * 2
    skipped = reminders.filter(person=diligent).exclude(status=DeliveryStatus.SENT)
    assert [r.contact_point.split(":")[2:4] for r in skipped] in (
        [], [[days[2].date.isoformat(), "10"]],
    )
    diligent_sent = reminders.filter(person=diligent, status=DeliveryStatus.SENT)
    assert diligent_sent.count() == len(days) * 2 - 1
    for reminder in reminders.filter(status=DeliveryStatus.SENT):
        assert reminder.sent_at is not None
        local = reminder.sent_at.astimezone(ZoneInfo(reminder.person.time_zone))
        assert local.time() in REMINDER_TIMES


def answer_all(person: Person, day: LearningDay, at: time) -> None:
    # Answers belong to fokus.review (a layer above); the test writes the rows directly.
    submission = apps.get_model("review", "Submission")
    for task in Task.objects.filter(
        day=day, slot__local_time=at, track__enrollments__person=person
    ):
        submission.objects.create(
            organization_id=person.organization_id, program_id=day.program_id,
            track_id=task.track_id, task=task, person=person, status="submitted",
            created_at=ANSWERED_AT, updated_at=ANSWERED_AT,
        )
