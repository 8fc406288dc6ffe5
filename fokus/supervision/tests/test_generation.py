"""Support tasks generated from scripted team states over several learning days."""

from __future__ import annotations

import datetime as dt

from django.utils import translation

from fokus.core import clock
from fokus.people.models import Person
from fokus.programs.models import LearningDay
from fokus.scoring.tests.factories import Seed
from fokus.supervision import services
from fokus.supervision.models import RuleKind, SupportTask, SupportTaskStatus
from fokus.supervision.tasks import support_run
from fokus.supervision.tests.factories import (
    DAY1_AFTERNOON,
    DAY1_MORNING,
    DAY2_AFTERNOON,
    DAY3_AFTERNOON,
    answer,
    day_tasks,
    give_back,
    grade,
    team,
)

__all__ = ["team"]


def _day(seed: Seed, index: int) -> LearningDay:
    return LearningDay.objects.get(program=seed.program, index=index)


def _generate(seed: Seed, index: int, now: dt.datetime) -> list[SupportTask]:
    with clock.frozen_at(now):
        return services.support_tasks_generate(program=seed.program, day=_day(seed, index), now=now)


def _texts(supervisor: Person, index: int) -> list[str]:
    return sorted(
        SupportTask.objects.filter(supervisor=supervisor, day__index=index).values_list(
            "text", flat=True
        )
    )


def test_three_days_of_a_team(team: Seed) -> None:
    # Day 1: Ivan answers both tasks; Maria one of two; Olga nothing.
    t1, t2 = day_tasks(team, 1)
    first = answer(team, "c1", t1, DAY1_AFTERNOON)
    answer(team, "c1", t2, DAY1_AFTERNOON)
    maria = answer(team, "c2", t1, DAY1_AFTERNOON)

    # Before 14:00 local the huddle waits: people still have time.
    assert _generate(team, 1, DAY1_MORNING) == []
    created = _generate(team, 1, DAY1_AFTERNOON)
    assert [t.rule for t in created if t.supervisor == team["senior"]] == [RuleKind.NOT_ANSWERED]
    (huddle,) = _texts(team["senior"], 1)
    assert huddle.startswith("2 of your 3 reports have not answered today's task")
    assert "Консультант Мария" in huddle and "Консультант Ольга" in huddle
    assert "Консультант Иван" not in huddle
    assert "10-minute huddle" in huddle
    # The peer's only report has not answered either: a task of their own, not the senior's.
    assert _texts(team["peer"], 1) == [
        "1 of your 1 reports have not answered today's task “Задание 1.10; Задание 1.14”: "
        "hold a 10-minute huddle (Консультант Дарья)."
    ]
    # Generating again the same day changes nothing.
    assert _generate(team, 1, DAY1_AFTERNOON + dt.timedelta(hours=3)) == []

    # Day 2: Maria's day-1 answer comes back for revision, Ivan gets the top grade.
    give_back(team, maria, DAY2_AFTERNOON - dt.timedelta(hours=2))
    grade(team, first, 3, DAY2_AFTERNOON - dt.timedelta(hours=1))
    for who in ("c1", "c2", "c3"):
        for task in day_tasks(team, 2):
            answer(team, who, task, DAY2_AFTERNOON)
    created = _generate(team, 2, DAY2_AFTERNOON)
    rules = sorted(t.rule for t in created if t.supervisor == team["senior"])
    # Everyone answered day 2: no huddle; one task per answer event.
    assert rules == [RuleKind.RETURNED, RuleKind.TOP_GRADE]
    texts = _texts(team["senior"], 2)
    assert "Консультант Мария's answer to “Задание 1.10” was returned for revision: " \
           "help them rework it." in texts
    assert "Консультант Иван got 3 of 3 on “Задание 1.10”: ask them to share it at the " \
           "morning meeting." in texts
    returned = SupportTask.objects.get(supervisor=team["senior"], rule=RuleKind.RETURNED)
    assert returned.report == team["c2"]

    # Day 3: Maria's answer is still returned and nobody answered: the huddle fires
    # again (a new day), but the same returned answer does not make a second task.
    created = _generate(team, 3, DAY3_AFTERNOON)
    assert sorted(t.rule for t in created if t.supervisor == team["senior"]) == [
        RuleKind.NOT_ANSWERED
    ]
    assert _texts(team["senior"], 3)[0].startswith("3 of your 3 reports")
    assert _generate(team, 3, DAY3_AFTERNOON) == []
    # The boss supervises no consultants directly and is not in the seniors' track.
    assert not SupportTask.objects.filter(supervisor=team["boss"]).exists()


def test_a_later_return_of_a_second_attempt_is_a_new_subject(team: Seed) -> None:
    t1 = day_tasks(team, 1)[0]
    attempt = answer(team, "c2", t1, DAY1_AFTERNOON)
    give_back(team, attempt, DAY1_AFTERNOON)
    _generate(team, 1, DAY1_AFTERNOON)
    with clock.frozen_at(DAY2_AFTERNOON):
        from fokus.review import services as review

        second = review.attempt_submit(person=team["c2"], task=t1, text="v2", link="", files=[])
    give_back(team, second, DAY2_AFTERNOON)
    _generate(team, 2, DAY2_AFTERNOON)
    returned = SupportTask.objects.filter(supervisor=team["senior"], rule=RuleKind.RETURNED)
    assert sorted(t.day.index for t in returned) == [1, 2]


def test_an_edited_template_is_used_in_the_supervisors_language(team: Seed) -> None:
    templates = services.support_templates_ensure(team.program)
    ru = templates[(RuleKind.NOT_ANSWERED, "ru")]
    services.support_template_save(
        template=ru, author=team["admin"], text="Не ответили {missing} из {total}: {names}",
        parameters={"min_missing": 2, "after": "12:00"}, is_active=True,
    )
    team["senior"].language = "ru"
    team["senior"].save(update_fields=["language"])
    _generate(team, 1, DAY1_AFTERNOON)
    assert _texts(team["senior"], 1) == [
        "Не ответили 3 из 3: Консультант Иван, Консультант Мария, Консультант Ольга"
    ]
    # min_missing 2 does not apply to the peer (English template, min 1) ...
    assert len(_texts(team["peer"], 1)) == 1


def test_min_missing_and_switched_off_rules(team: Seed) -> None:
    templates = services.support_templates_ensure(team.program)
    en = templates[(RuleKind.NOT_ANSWERED, "en")]
    services.support_template_save(
        template=en, author=team["admin"], text=en.text,
        parameters={"min_missing": 2, "after": "14:00"}, is_active=True,
    )
    peer_task = day_tasks(team, 1)
    assert peer_task
    _generate(team, 1, DAY1_AFTERNOON)
    # The peer has one report behind: below the threshold of two.
    assert _texts(team["peer"], 1) == []
    assert len(_texts(team["senior"], 1)) == 1
    services.support_template_save(
        template=en, author=team["admin"], text=en.text, parameters={}, is_active=False,
    )
    _generate(team, 2, DAY2_AFTERNOON)
    assert _texts(team["senior"], 2) == []


def test_template_validation_names_the_problem(team: Seed) -> None:
    templates = services.support_templates_ensure(team.program)
    template = templates[(RuleKind.RETURNED, "en")]
    cases = [
        ("Help {nmae}", "text", "Unknown placeholder {nmae}"),
        ("Help {name", "text", "Unbalanced braces"),
        ("", "text", "The text is required."),
    ]
    for text, field, message in cases:
        try:
            services.support_template_save(
                template=template, author=team["admin"], text=text, parameters={},
                is_active=True,
            )
        except services.SupervisionError as error:
            assert error.field == field
            assert message in str(error)
        else:
            raise AssertionError(f"{text!r} was accepted")
    na = templates[(RuleKind.NOT_ANSWERED, "en")]
    try:
        services.support_template_save(
            template=na, author=team["admin"], text=na.text,
            parameters={"after": "25:00"}, is_active=True,
        )
    except services.SupervisionError as error:
        assert error.field == "parameters" and "after" in str(error)
    else:
        raise AssertionError("25:00 was accepted")
    try:
        services.support_template_save(
            template=template, author=team["senior"], text="x", parameters={}, is_active=True,
        )
    except services.SupervisionError as error:
        assert error.permission
    else:
        raise AssertionError("a supervisor edited a template")


def test_defaults_are_seeded_in_russian_and_english(team: Seed) -> None:
    templates = services.support_templates_ensure(team.program)
    assert len(templates) == 6
    with translation.override("ru"):
        assert "летучку" in templates[(RuleKind.NOT_ANSWERED, "ru")].text
    assert "huddle" in templates[(RuleKind.NOT_ANSWERED, "en")].text


def test_done_and_skipped_with_a_note(team: Seed) -> None:
    _generate(team, 1, DAY1_AFTERNOON)
    task = SupportTask.objects.get(supervisor=team["senior"])
    try:
        services.support_task_skip(task=task, supervisor=team["senior"], note=" ")
    except services.SupervisionError as error:
        assert error.field == "note"
    else:
        raise AssertionError("skipped without a reason")
    try:
        services.support_task_complete(task=task, supervisor=team["peer"], note="")
    except services.SupervisionError as error:
        assert error.permission
    else:
        raise AssertionError("someone else's task was completed")
    services.support_task_skip(task=task, supervisor=team["senior"], note="В отпуске")
    task.refresh_from_db()
    assert (task.status, task.note) == (SupportTaskStatus.SKIPPED, "В отпуске")
    services.support_task_complete(task=task, supervisor=team["senior"], note="Провёл")
    task.refresh_from_db()
    assert task.status == SupportTaskStatus.DONE


def test_the_job_generates_for_days_around_now_and_is_idempotent(team: Seed) -> None:
    with clock.frozen_at(DAY1_AFTERNOON):
        assert support_run(now=DAY1_AFTERNOON) == 2  # the senior's and the peer's huddles
        assert support_run(now=DAY1_AFTERNOON) == 0
    assert SupportTask.objects.filter(day__index=1).count() == 2
