"""Answering a task: drafts, submitting, returns and resubmission, attempts, late answers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from fokus.core import clock
from fokus.programs.models import Enrollment, Task
from fokus.review import services
from fokus.review.errors import AnswerRefused, ReviewForbidden
from fokus.review.models import Attempt, AttemptStatus, ReviewEvent, ReviewSettings
from fokus.review.tests.answer_factories import (
    AFTER_PROGRAM,
    DAY1_AFTERNOON,
    submit,
)
from fokus.scoring.tests.factories import Seed

pytestmark = pytest.mark.usefixtures("media", "english")


def _draft(seed: Seed, text: str = "", link: str = "", who: str = "c1", task: int = 0) -> Attempt:
    with clock.frozen_at(DAY1_AFTERNOON):
        return services.attempt_save_draft(
            person=seed[who], task=seed.tasks[task], text=text, link=link, files=[]
        )


def test_submit_records_an_attempt_awaiting_review(seed: Seed) -> None:
    attempt = submit(seed, text="  Три открытых вопроса клиенту  ")
    assert attempt.number == 1
    assert attempt.status == AttemptStatus.SUBMITTED
    assert attempt.text == "Три открытых вопроса клиенту"
    assert attempt.submitted_at == DAY1_AFTERNOON
    assert not attempt.is_late
    assert attempt.submission.status == AttemptStatus.SUBMITTED
    event = ReviewEvent.objects.get(attempt=attempt)
    assert event.kind == "submitted" and event.actor == seed["c1"]


def test_a_draft_is_kept_and_becomes_the_submitted_attempt(seed: Seed) -> None:
    draft = _draft(seed, text="Начало ответа")
    assert draft.status == AttemptStatus.DRAFT and draft.submitted_at is None
    again = _draft(seed, text="Начало ответа, продолжение", link="https://example.com/x")
    assert again.pk == draft.pk and again.link == "https://example.com/x"
    assert not ReviewEvent.objects.exists(), "a draft is nobody's business yet"
    sent = submit(seed, text="Готовый ответ")
    assert sent.pk == draft.pk and sent.number == 1 and sent.status == AttemptStatus.SUBMITTED


def test_an_empty_answer_is_refused(seed: Seed) -> None:
    with pytest.raises(AnswerRefused, match="empty"):
        submit(seed, text="   ")
    assert not Attempt.objects.exists()


def test_only_kinds_the_task_accepts(seed: Seed) -> None:
    Task.objects.filter(pk=seed.tasks[0].pk).update(answer_kinds="text")
    with clock.frozen_at(DAY1_AFTERNOON), pytest.raises(AnswerRefused) as refused:
        services.attempt_submit(person=seed["c1"], task=seed.tasks[0], text="",
                                link="https://example.com", files=[])
    assert refused.value.field == "link"
    assert "does not take a link" in refused.value.message
    with clock.frozen_at(DAY1_AFTERNOON), pytest.raises(AnswerRefused) as bad_link:
        services.attempt_submit(person=seed["c1"], task=seed.tasks[1], text="",
                                link="javascript:alert(1)", files=[])
    assert bad_link.value.field == "link"
    assert not Attempt.objects.exists()


def test_only_enrolled_participants_answer_and_only_after_the_slot(seed: Seed) -> None:
    with pytest.raises(ReviewForbidden, match="not enrolled"):
        submit(seed, who="outsider")
    Enrollment.objects.filter(person=seed["c1"]).update(status="withdrawn")
    with pytest.raises(ReviewForbidden):
        submit(seed)
    Enrollment.objects.filter(person=seed["c1"]).update(status="active")
    # 23:30 UTC on 22 Nov is 09:30 on 23 Nov in Vladivostok: the 10:00 task is not open.
    with clock.frozen_at(dt.datetime(2026, 11, 22, 23, 30, tzinfo=dt.UTC)), pytest.raises(
        AnswerRefused, match=r"opens on Nov\. 23, 2026, 10 a\.m\."
    ):
        services.attempt_submit(person=seed["c1"], task=seed.tasks[0], text="x", link="",
                                files=[])
    # The date is written the way the reader's language writes dates.
    with clock.frozen_at(dt.datetime(2026, 11, 22, 23, 30, tzinfo=dt.UTC)), translation.override(
        "ru"
    ), pytest.raises(AnswerRefused, match=r"23 ноября 2026 г\. 10:00"):
        services.attempt_submit(person=seed["c1"], task=seed.tasks[0], text="x", link="",
                                files=[])


def test_returned_answer_is_resubmitted_as_a_new_attempt_and_history_kept(seed: Seed) -> None:
    first = submit(seed, text="Первая версия")
    with clock.frozen_at(DAY1_AFTERNOON):
        services.attempt_return_for_revision(
            attempt=first, curator=seed["curator"], feedback="Добавьте пример из практики"
        )
    second = submit(seed, text="Вторая версия с примером")
    assert second.number == 2 and second.pk != first.pk
    first.refresh_from_db()
    assert first.status == AttemptStatus.RETURNED
    assert first.text == "Первая версия" and first.feedback == "Добавьте пример из практики"
    assert second.submission.status == AttemptStatus.SUBMITTED


def test_no_second_answer_while_one_awaits_review_or_after_a_grade(seed: Seed) -> None:
    attempt = submit(seed)
    with pytest.raises(AnswerRefused, match="awaiting review"):
        submit(seed, text="ещё")
    with clock.frozen_at(DAY1_AFTERNOON):
        services.attempt_grade(attempt=attempt, curator=seed["curator"], grade=3, feedback="Ок")
    with pytest.raises(AnswerRefused, match="already graded"):
        submit(seed, text="ещё")


def test_maximum_attempts(seed: Seed) -> None:
    first = submit(seed)
    with clock.frozen_at(DAY1_AFTERNOON):
        services.attempt_return_for_revision(attempt=first, curator=seed["curator"],
                                             feedback="Ещё раз")
    ReviewSettings.objects.filter(program=seed.program).update(max_attempts=1)
    with pytest.raises(AnswerRefused, match="used the only attempt"):
        submit(seed, text="вторая")
    ReviewSettings.objects.filter(program=seed.program).update(max_attempts=2)
    second = submit(seed, text="вторая")
    # The last attempt cannot be returned: it must end with a grade.
    with clock.frozen_at(DAY1_AFTERNOON), pytest.raises(services.ReviewError) as last:
        services.attempt_return_for_revision(attempt=second, curator=seed["curator"],
                                             feedback="Ещё раз")
    assert last.value.field == "decision" and "last attempt (2 of 2)" in last.value.message


def test_late_answers_are_marked_or_refused_per_program_setting(seed: Seed) -> None:
    with clock.frozen_at(AFTER_PROGRAM):
        late = services.attempt_submit(person=seed["c1"], task=seed.tasks[0], text="Поздно",
                                       link="", files=[])
    assert late.is_late
    ReviewSettings.objects.filter(program=seed.program).update(accept_late=False)
    with clock.frozen_at(AFTER_PROGRAM), pytest.raises(AnswerRefused) as refused:
        services.attempt_submit(person=seed["c2"], task=seed.tasks[0], text="Поздно",
                                link="", files=[])
    # Due at the end of 8 December on the participant's clock (Vladivostok).
    assert "due by Dec. 9, 2026, midnight your time" in refused.value.message
    assert not Attempt.objects.filter(submission__person=seed["c2"]).exists()


def test_answer_days_make_a_task_due_soon_after_its_day(seed: Seed) -> None:
    ReviewSettings.objects.filter(program=seed.program).update(answer_days=1)
    # Day 1 + 1 day ends at midnight starting 25 Nov in Vladivostok = 14:00 UTC on 24 Nov.
    with clock.frozen_at(dt.datetime(2026, 11, 24, 13, 59, tzinfo=dt.UTC)):
        on_time = services.attempt_submit(person=seed["c1"], task=seed.tasks[0], text="a",
                                          link="", files=[])
    with clock.frozen_at(dt.datetime(2026, 11, 24, 14, 0, tzinfo=dt.UTC)):
        late = services.attempt_submit(person=seed["c2"], task=seed.tasks[0], text="a",
                                       link="", files=[])
    assert not on_time.is_late and late.is_late


def test_auto_assignment_to_the_least_loaded_curator(seed: Seed) -> None:
    ReviewSettings.objects.filter(program=seed.program).update(auto_assign=True)
    first = submit(seed, who="c1", task_index=0)
    second = submit(seed, who="c1", task_index=1)
    third = submit(seed, who="c2", task_index=0)
    curators = {seed["curator"].pk, seed["curator2"].pk, seed["lead"].pk}
    assigned = [a.submission.assigned_curator_id for a in (first, second, third)]
    assert set(assigned) == curators, "each new answer goes to a curator with fewer pending"
    assert ReviewEvent.objects.filter(kind="assigned").count() == 3
