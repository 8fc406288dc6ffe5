"""Notices of review into the outbox: feedback for the participant (once per decision),
new answers for the curator in Telegram, overdue answers for the lead curator (once per
answer, however often the window is scanned)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from fokus.core import clock
from fokus.core.models import Organization
from fokus.delivery.models import Channel, Delivery, DeliveryKind
from fokus.people.models import Person
from fokus.review import services
from fokus.review.jobs import review_overdue_job
from fokus.review.models import ReviewSettings
from fokus.review.tests.answer_factories import DAY1_AFTERNOON, make_seed, submit
from fokus.review.tests.test_queue import World, answer, make_world, msk
from fokus.scoring.tests.factories import Seed
from fokus.telegram.models import TelegramBot, TelegramChat

pytestmark = pytest.mark.usefixtures("media")
LATER = DAY1_AFTERNOON + dt.timedelta(minutes=10)


def bind(person: Person, chat_id: int) -> None:
    bot, _created = TelegramBot.objects.get_or_create(organization=None, token="1:notices")
    TelegramChat.objects.create(person=person, bot=bot, chat_id=chat_id, bound_at=timezone.now())


def with_email(person: Person, language: str = "en") -> None:
    Person.objects.filter(pk=person.pk).update(email=f"{person.employee_number}@example.com",
                                               language=language)
    person.refresh_from_db()


@pytest.fixture
def s(org_a: Organization) -> Seed:
    return make_seed(org_a)


def test_each_decision_tells_the_participant_once_in_their_channel(s: Seed) -> None:
    with_email(s["c1"], language="ru")
    attempt = submit(s)
    with clock.frozen_at(LATER):
        graded = services.attempt_grade(attempt=attempt, curator=s["curator"], grade=2,
                                        feedback="Хорошо")
        services.review_notice_for_participant(attempt=graded)  # a repeated call: no twin
        services.attempt_grade_change(attempt=attempt, curator=s["lead"], grade=3,
                                      feedback="Пересмотрел: отлично", reason="Апелляция")
    notices = list(Delivery.objects.filter(person=s["c1"], kind=DeliveryKind.FEEDBACK)
                   .order_by("pk"))
    assert len(notices) == 2  # the grade and the changed grade
    first, second = notices
    assert first.channel == Channel.EMAIL  # no Telegram: e-mail
    assert first.due_at == LATER and first.program_id == s.program.pk
    # In the participant's language (Russian), with the task page as a link.
    assert first.payload["subject"] != "" and "Хорошо" in first.payload["text"]
    assert first.payload["buttons"][0][0]["url"].endswith(f"/tasks/{s.tasks[0].pk}/")
    assert "3" in second.payload["subject"] and "Пересмотрел" in second.payload["text"]


def test_a_decision_without_any_channel_still_stands(s: Seed) -> None:
    attempt = submit(s)  # c1 has neither Telegram nor e-mail
    with clock.frozen_at(LATER):
        services.attempt_return_for_revision(attempt=attempt, curator=s["curator"],
                                             feedback="Добавьте фото")
    attempt.refresh_from_db()
    assert attempt.status == "returned"
    assert not Delivery.objects.filter(person=s["c1"]).exists()


def test_the_new_answer_goes_to_the_assigned_curator_else_the_lead(s: Seed) -> None:
    bind(s["lead"], 1)
    bind(s["curator"], 2)
    first = submit(s)
    assert Delivery.objects.get(contact_point=f"review-new:{first.pk}").person == s["lead"]
    ReviewSettings.objects.filter(program=s.program).update(auto_assign=True)
    second = submit(s, who="c2")
    second.submission.refresh_from_db()
    # Auto-assigned to the least loaded curator (Ксения): the notice is hers, not the lead's.
    assert second.submission.assigned_curator == s["curator"]
    notices = Delivery.objects.filter(contact_point=f"review-new:{second.pk}")
    assert [(d.person, d.channel) for d in notices] == [(s["curator"], Channel.TELEGRAM)]


@pytest.fixture
def w(org_a: Organization) -> World:
    return make_world(org_a)


def test_an_overdue_answer_is_told_to_the_lead_curator_once_across_scans(w: World) -> None:
    with_email(w.lead)
    a1 = answer(w, "c1", w.tasks[0], msk(23, 10))  # due 14:00 (4 working hours)
    a2 = answer(w, "c2", w.tasks[0], msk(23, 11))  # due 15:00
    review_overdue_job(msk(23, 14, 15))
    review_overdue_job(msk(23, 14, 15))  # the same window fired again
    review_overdue_job(msk(23, 14, 30))
    review_overdue_job(msk(23, 15, 15))
    review_overdue_job(msk(23, 15, 15))
    rows = list(Delivery.objects.filter(kind=DeliveryKind.CURATOR).order_by("pk"))
    assert [(d.person_id, d.contact_point) for d in rows] == [
        (w.lead.pk, f"review-overdue:{a1.pk}"), (w.lead.pk, f"review-overdue:{a2.pk}")]
    assert rows[0].channel == Channel.EMAIL and rows[0].due_at == msk(23, 14, 15)
    assert "Консультант Иван" in rows[0].payload["text"]
    assert rows[0].payload["buttons"][0][0]["url"].endswith(f"/review/attempts/{a1.pk}/")


def test_overdue_notices_go_to_the_admins_when_there_is_no_lead(w: World) -> None:
    ReviewSettings.objects.filter(program=w.seed.program).update(lead_curator=None)
    with_email(w.admin)
    with_email(w.lead)
    a1 = answer(w, "c1", w.tasks[0], msk(23, 10))
    review_overdue_job(msk(23, 14, 15))
    assert [(d.person_id, d.contact_point) for d in Delivery.objects.all()] == [
        (w.admin.pk, f"review-overdue:{a1.pk}")]
