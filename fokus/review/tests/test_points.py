"""A grade writes learning points exactly once; a changed grade is a correction, never an edit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fokus.core import clock
from fokus.leaderboard.models import Standing
from fokus.review import services
from fokus.review.errors import AlreadyDecided
from fokus.review.tests.answer_factories import (
    DAY1_AFTERNOON,
    submit,
)
from fokus.scoring.models import PointsEntry
from fokus.scoring.tests.factories import Seed

pytestmark = pytest.mark.usefixtures("media", "english")


def _ledger(seed: Seed) -> list[tuple[int, Decimal, str]]:
    return list(
        PointsEntry.objects.filter(person=seed["c1"]).order_by("id")
        .values_list("id", "amount", "idempotency_key")
    )


def test_a_grade_writes_its_points_once(seed: Seed) -> None:
    attempt = submit(seed)
    with clock.frozen_at(DAY1_AFTERNOON):
        services.attempt_grade(attempt=attempt, curator=seed["curator"], grade=2, feedback="Ок")
        with pytest.raises(AlreadyDecided):
            services.attempt_grade(attempt=attempt, curator=seed["curator2"], grade=3,
                                   feedback="Ок")
    entries = PointsEntry.objects.filter(person=seed["c1"])
    assert [(e.amount, e.source, e.occurred_on) for e in entries] == [
        (Decimal("2.00"), "learning", seed.tasks[0].day.date)
    ]
    assert entries[0].created_by == seed["curator"]


def test_a_returned_attempt_earns_nothing_and_the_graded_one_earns_once(seed: Seed) -> None:
    first = submit(seed)
    with clock.frozen_at(DAY1_AFTERNOON):
        services.attempt_return_for_revision(attempt=first, curator=seed["curator"],
                                             feedback="Ещё раз")
    assert not _ledger(seed)
    second = submit(seed, text="Лучше")
    with clock.frozen_at(DAY1_AFTERNOON):
        services.attempt_grade(attempt=second, curator=seed["curator"], grade=3, feedback="Да")
    assert [amount for _id, amount, _key in _ledger(seed)] == [Decimal("3.00")]


def test_a_grade_change_appends_a_correction_and_rows_only_grow(seed: Seed) -> None:
    attempt = submit(seed)
    with clock.frozen_at(DAY1_AFTERNOON):
        services.attempt_grade(attempt=attempt, curator=seed["curator"], grade=1, feedback="Слабо")
    before = _ledger(seed)
    with clock.frozen_at(DAY1_AFTERNOON):
        services.attempt_grade_change(attempt=attempt, curator=seed["admin"], grade=3,
                                      feedback="Пересмотрено", reason="Апелляция")
    after = _ledger(seed)
    assert after[: len(before)] == before, "existing ledger rows never change"
    assert [amount for _id, amount, _key in after] == [
        Decimal("1.00"), Decimal("-1.00"), Decimal("3.00"),
    ]
    assert sum(amount for _id, amount, _key in after) == Decimal(3)
    # The same grade again is not a change: nothing new in the ledger.
    with clock.frozen_at(DAY1_AFTERNOON):
        services.attempt_grade_change(attempt=attempt, curator=seed["admin"], grade=3,
                                      feedback="Пересмотрено ещё раз", reason="Уточнение")
    assert _ledger(seed) == after


def test_standings_follow_the_grades(seed: Seed) -> None:
    attempt = submit(seed)
    with clock.frozen_at(DAY1_AFTERNOON):
        services.attempt_grade(attempt=attempt, curator=seed["curator"], grade=2, feedback="Ок")
        services.attempt_grade_change(attempt=attempt, curator=seed["admin"], grade=3,
                                      feedback="Лучше", reason="Пересмотр")
    totals = {
        s.period: s.learning
        for s in Standing.objects.filter(program=seed.program, person=seed["c1"])
    }
    assert totals, "the board knows the participant after a grade"
    assert all(v == Decimal(3) for v in totals.values()), totals
