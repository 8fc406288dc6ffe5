"""Claims and decisions: one curator at a time, claims expire, feedback is mandatory,
an attempt is decided once, grade changes by admins and the lead curator, the audit."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connection, connections

from fokus.core import clock
from fokus.core.services import organization_create
from fokus.review import services
from fokus.review.errors import AlreadyDecided, ClaimConflict, ReviewError, ReviewForbidden
from fokus.review.models import Attempt, AttemptStatus, ReviewEvent
from fokus.review.tests.answer_factories import (
    DAY1_AFTERNOON,
    make_seed,
    submit,
)
from fokus.scoring.tests.factories import Seed

pytestmark = pytest.mark.usefixtures("media", "english")
LATER = DAY1_AFTERNOON + dt.timedelta(minutes=5)


def _kinds(attempt: Attempt) -> list[str]:
    return list(ReviewEvent.objects.filter(attempt=attempt).values_list("kind", flat=True))


def test_a_claimed_answer_is_refused_to_a_second_curator(seed: Seed) -> None:
    attempt = submit(seed)
    with clock.frozen_at(DAY1_AFTERNOON):
        held = services.attempt_claim(attempt=attempt, curator=seed["curator"])
        assert held.claimed_by == seed["curator"]
        assert held.claimed_until == DAY1_AFTERNOON + dt.timedelta(minutes=20)
        with pytest.raises(ClaimConflict, match="Куратор Ксения is reviewing this answer"):
            services.attempt_claim(attempt=attempt, curator=seed["curator2"])
        with pytest.raises(ClaimConflict):
            services.attempt_grade(attempt=attempt, curator=seed["curator2"], grade=3,
                                   feedback="Отлично")
        # The holder renews without a second CLAIMED event.
        services.attempt_claim(attempt=attempt, curator=seed["curator"])
    assert _kinds(attempt) == ["submitted", "claimed"]


def test_a_claim_expires_and_another_curator_takes_over(seed: Seed) -> None:
    attempt = submit(seed)
    with clock.frozen_at(DAY1_AFTERNOON):
        services.attempt_claim(attempt=attempt, curator=seed["curator"])
    with clock.frozen_at(DAY1_AFTERNOON + dt.timedelta(minutes=21)):
        taken = services.attempt_claim(attempt=attempt, curator=seed["curator2"])
    assert taken.claimed_by == seed["curator2"]
    assert _kinds(attempt) == ["submitted", "claimed", "claim_expired", "claimed"]
    expired = ReviewEvent.objects.get(attempt=attempt, kind="claim_expired")
    assert expired.before["claimed_by"] == seed["curator"].pk


def test_release_frees_the_answer(seed: Seed) -> None:
    attempt = submit(seed)
    with clock.frozen_at(DAY1_AFTERNOON):
        services.attempt_claim(attempt=attempt, curator=seed["curator"])
        released = services.attempt_release(attempt=attempt, curator=seed["curator"])
        assert released.claimed_by is None
        services.attempt_claim(attempt=attempt, curator=seed["curator2"])
    assert _kinds(attempt) == ["submitted", "claimed", "released", "claimed"]


def test_only_curators_and_admins_of_the_organisation_review(seed: Seed) -> None:
    attempt = submit(seed)
    other = make_seed(organization_create(slug="other", name="Другая"), slug="other")
    with clock.frozen_at(DAY1_AFTERNOON):
        for who in (seed["c2"], seed["senior"], seed["viewer"], other["curator"]):
            with pytest.raises(ReviewForbidden):
                services.attempt_claim(attempt=attempt, curator=who)
        graded = services.attempt_grade(attempt=attempt, curator=seed["admin"], grade=2,
                                        feedback="Хорошо")
    assert graded.status == AttemptStatus.GRADED and graded.decided_by == seed["admin"]


def test_feedback_is_mandatory_and_the_grade_on_the_task_scale(seed: Seed) -> None:
    attempt = submit(seed)
    with clock.frozen_at(DAY1_AFTERNOON):
        with pytest.raises(ReviewError) as no_feedback:
            services.attempt_return_for_revision(attempt=attempt, curator=seed["curator"],
                                                 feedback="   ")
        assert no_feedback.value.field == "feedback"
        with pytest.raises(ReviewError) as no_feedback_grade:
            services.attempt_grade(attempt=attempt, curator=seed["curator"], grade=3, feedback="")
        assert no_feedback_grade.value.field == "feedback"
        for bad in (0, 4, True):
            with pytest.raises(ReviewError, match="from 1 to 3") as bad_grade:
                services.attempt_grade(attempt=attempt, curator=seed["curator"], grade=bad,
                                       feedback="Текст")
            assert bad_grade.value.field == "grade"
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.SUBMITTED and attempt.grade is None


def test_return_and_grade_record_events_with_before_and_after(seed: Seed) -> None:
    first = submit(seed)
    with clock.frozen_at(LATER):
        returned = services.attempt_return_for_revision(
            attempt=first, curator=seed["curator"], feedback="Нужен пример"
        )
    assert returned.status == AttemptStatus.RETURNED and returned.claimed_by is None
    assert returned.decided_at == LATER
    event = ReviewEvent.objects.get(attempt=first, kind="returned")
    assert event.before == {"status": "submitted"}
    assert event.after == {"status": "returned", "feedback": "Нужен пример"}
    assert event.actor == seed["curator"]
    second = submit(seed, text="С примером")
    with clock.frozen_at(LATER):
        graded = services.attempt_grade(attempt=second, curator=seed["curator"], grade=3,
                                        feedback="Отлично", rubric={"пример": 3, "тон": "ок"})
    assert graded.rubric == {"пример": 3, "тон": "ок"}
    assert _kinds(second) == ["submitted", "claimed", "graded"]


def test_an_attempt_is_decided_once(seed: Seed) -> None:
    attempt = submit(seed)
    with clock.frozen_at(DAY1_AFTERNOON):
        services.attempt_grade(attempt=attempt, curator=seed["curator"], grade=2, feedback="Ок")
        with pytest.raises(AlreadyDecided, match="no longer awaiting review"):
            services.attempt_grade(attempt=attempt, curator=seed["curator"], grade=3,
                                   feedback="Ок")
        with pytest.raises(AlreadyDecided):
            services.attempt_return_for_revision(attempt=attempt, curator=seed["curator2"],
                                                 feedback="Ещё")
        with pytest.raises(AlreadyDecided):
            services.attempt_claim(attempt=attempt, curator=seed["curator2"])
    attempt.refresh_from_db()
    assert attempt.grade == 2


def test_grade_change_by_admin_or_lead_curator_only(seed: Seed) -> None:
    attempt = submit(seed)
    with clock.frozen_at(DAY1_AFTERNOON):
        services.attempt_grade(attempt=attempt, curator=seed["curator"], grade=1, feedback="Слабо")
        with pytest.raises(ReviewForbidden, match="admins and the lead curator"):
            services.attempt_grade_change(attempt=attempt, curator=seed["curator"], grade=3,
                                          feedback="Пересмотрено", reason="Апелляция")
        with pytest.raises(ReviewError) as no_reason:
            services.attempt_grade_change(attempt=attempt, curator=seed["lead"], grade=3,
                                          feedback="Пересмотрено", reason=" ")
        assert no_reason.value.field == "reason"
        changed = services.attempt_grade_change(attempt=attempt, curator=seed["lead"], grade=3,
                                                feedback="Пересмотрено", reason="Апелляция")
        services.attempt_grade_change(attempt=attempt, curator=seed["admin"], grade=2,
                                      feedback="Итог", reason="Комиссия")
    assert changed.grade == 3
    events = ReviewEvent.objects.filter(attempt=attempt, kind="grade_changed").order_by("id")
    assert [(e.before["grade"], e.after["grade"], e.after["reason"]) for e in events] == [
        (1, 3, "Апелляция"), (3, 2, "Комиссия"),
    ]
    assert events[0].before["feedback"] == "Слабо"


def test_a_returned_attempt_cannot_have_its_grade_changed(seed: Seed) -> None:
    attempt = submit(seed)
    with clock.frozen_at(DAY1_AFTERNOON):
        services.attempt_return_for_revision(attempt=attempt, curator=seed["curator"],
                                             feedback="Ещё")
        with pytest.raises(ReviewError, match="Only a graded answer"):
            services.attempt_grade_change(attempt=attempt, curator=seed["admin"], grade=3,
                                          feedback="x", reason="y")


def test_the_decision_hook_describes_the_notice_for_the_participant(seed: Seed) -> None:
    attempt = submit(seed)
    with clock.frozen_at(DAY1_AFTERNOON):
        graded = services.attempt_grade(attempt=attempt, curator=seed["curator"], grade=3,
                                        feedback="Отлично")
    notice = services.review_notice_for_participant(attempt=graded)
    assert notice.person_id == seed["c1"].pk
    assert (notice.status, notice.grade, notice.grade_max) == ("graded", 3, 3)
    assert notice.path == f"/tasks/{seed.tasks[0].pk}/" and notice.feedback == "Отлично"


# --- two curators at the same moment ----------------------------------------------------


def _race(attempt_id: int, curators: list[Any], action: str) -> list[str]:
    """Each curator in its own thread (own DB connection) acts at the same moment."""
    barrier = threading.Barrier(len(curators))
    outcomes: list[str] = []
    lock = threading.Lock()

    def work(curator: Any) -> None:
        try:
            barrier.wait(timeout=10)
            attempt = Attempt.objects.get(pk=attempt_id)
            if action == "claim":
                services.attempt_claim(attempt=attempt, curator=curator)
            else:
                services.attempt_grade(attempt=attempt, curator=curator, grade=3,
                                       feedback=f"от {curator.full_name}")
            result = "won"
        except ClaimConflict:
            result = "conflict"
        except Exception as exc:  # reported, so a failure says what happened
            result = f"error: {exc!r}"
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=work, args=(c,)) for c in curators]
    # The fake clock is process-wide: frozen here, once, for every thread.
    with clock.frozen_at(DAY1_AFTERNOON):
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    return sorted(outcomes)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("action", ["claim", "grade"])
def test_two_curators_at_the_same_moment_exactly_one_wins(action: str, media: Any) -> None:
    org = organization_create(slug="race", name="Гонка")
    s = make_seed(org)
    attempt = submit(s)
    curators = [s["curator"], s["curator2"], s["lead"], s["admin"]]
    for round_ in range(3 if action == "claim" else 1):
        if round_:
            Attempt.objects.filter(pk=attempt.pk).update(claimed_by=None, claimed_until=None)
        outcomes = _race(attempt.pk, curators, action)
        assert outcomes == ["conflict"] * (len(curators) - 1) + ["won"], (
            f"{connection.vendor}: {outcomes}"
        )
    fresh = Attempt.objects.get(pk=attempt.pk)
    if action == "grade":
        assert fresh.status == AttemptStatus.GRADED
        assert ReviewEvent.objects.filter(attempt=fresh, kind="graded").count() == 1
        from fokus.scoring.models import PointsEntry

        assert PointsEntry.objects.filter(person=s["c1"]).count() == 1
    else:
        assert fresh.claimed_by_id in {c.pk for c in curators}
