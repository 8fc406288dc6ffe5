"""The curator queue and review page on the web: order, filters, "mine", paging, Next,
claims and their expiry, decisions that move on to the next answer, permissions."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import close_old_connections, connection
from django.test import Client
from django.urls import reverse
from django.utils import translation

from fokus.core import clock
from fokus.core.models import Organization
from fokus.core.services import organization_create
from fokus.people.models import Person, Unit
from fokus.programs.models import Task
from fokus.review import queries, services
from fokus.review.models import (
    Attempt,
    AttemptStatus,
    ReviewEvent,
    ReviewEventKind,
    ReviewSettings,
    Submission,
)
from fokus.scoring.models import PointsEntry
from fokus.scoring.tests.factories import Seed, person, seed_program

MSK = dt.timezone(dt.timedelta(hours=3))
# Wednesday 25 November 2026, 12:00 in Moscow: day 2 of the seed program.
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=MSK)


@dataclass
class World:
    seed: Seed
    north: Unit
    south: Unit
    curator: Person
    curator2: Person
    lead: Person
    admin: Person

    @property
    def org(self) -> Organization:
        return self.seed.organization

    @property
    def tasks(self) -> list[Task]:
        return self.seed.tasks


def make_world(org: Organization, slug: str = "sales-marathon") -> World:
    s = seed_program(org, slug, login=True)
    north = Unit.objects.create(organization=org, name="Автомир Север")
    south = Unit.objects.create(organization=org, name="Автомир Юг")
    Person.objects.filter(pk=s["c1"].pk).update(unit=north)
    Person.objects.filter(pk=s["c2"].pk).update(unit=south)
    for key in ("c1", "c2"):
        s.people[key].refresh_from_db()
    curator2 = person(org, "K-2", "Куратор Кирилл", "curator", login=True)
    lead = person(org, "K-0", "Старший куратор Лев", "curator", login=True)
    ReviewSettings.objects.create(program=s.program, lead_curator=lead, turnaround_hours=4)
    return World(s, north, south, s["curator"], curator2, lead, s["admin"])


def answer(
    w: World, who: str, task: Task, at: dt.datetime, *, number: int = 1,
    status: str = AttemptStatus.SUBMITTED, text: str = "Мой ответ",
) -> Attempt:
    p = w.seed[who]
    submission, _created = Submission.objects.get_or_create(
        person=p, task=task,
        defaults={
            "organization": w.org, "program": w.seed.program, "track": task.track,
            "unit": p.unit, "created_at": at, "updated_at": at,
        },
    )
    submission.status = status
    submission.save(update_fields=["status"])
    return Attempt.objects.create(
        organization=w.org, submission=submission, number=number, status=status, text=text,
        submitted_at=at,
    )


def msk(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=MSK)


def client_for(p: Person) -> Client:
    """A signed-in client that asks for English: messages are asserted as msgids."""
    c = Client()
    assert p.user is not None
    c.force_login(p.user)
    c.cookies["django_language"] = "en"
    return c


@pytest.fixture
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture
def frozen() -> Iterator[None]:
    with clock.frozen_at(NOW):
        yield


@pytest.fixture
def w(org_a: Organization) -> World:
    return make_world(org_a)


def queue_ids(client: Client, **params: Any) -> list[int]:
    response = client.get(reverse("curator:queue"), params)
    assert response.status_code == 200
    return [row.attempt.pk for row in response.context["page"].rows]


# --- order, counts, overdue -------------------------------------------------------------


def test_queue_lists_answers_awaiting_review_oldest_first_with_overdue_marked(
    w: World, frozen: None, english: None
) -> None:
    newer = answer(w, "c1", w.tasks[2], msk(25, 11))  # 1 working hour ago
    older = answer(w, "c2", w.tasks[0], msk(23, 12))  # Monday noon: 15 working hours ago
    answer(w, "c1", w.tasks[0], msk(23, 10), status=AttemptStatus.GRADED)
    answer(w, "c2", w.tasks[1], msk(23, 10), status=AttemptStatus.DRAFT)
    response = client_for(w.curator).get(reverse("curator:queue"))
    assert response.status_code == 200
    rows = response.context["page"].rows
    assert [r.attempt.pk for r in rows] == [older.pk, newer.pk]
    assert rows[0].overdue and not rows[1].overdue
    assert rows[1].waiting_hours == pytest.approx(1.0)
    assert rows[0].waiting_hours == pytest.approx(6 + 9 + 3)  # Mon 12–18, Tue 9–18, Wed 9–12
    counts = response.context["page"].counts
    assert (counts.total, counts.overdue, counts.claimed) == (2, 1, 0)
    html = response.content.decode()
    assert "2 answers waiting" in html and "1 overdue" in html
    assert html.index("Консультант Мария") < html.index("Консультант Иван")
    assert 'class="queue-row is-overdue"' in html


def test_answers_that_arrived_at_night_wait_from_the_opening(w: World, english: None) -> None:
    attempt = answer(w, "c1", w.tasks[0], msk(24, 23))  # Tuesday 23:00 Moscow
    with clock.frozen_at(msk(25, 9, 30)):
        row = client_for(w.curator).get(reverse("curator:queue")).context["page"].rows[0]
    assert row.attempt.pk == attempt.pk
    assert row.waiting_hours == pytest.approx(0.5)


# --- filters ------------------------------------------------------------------------------


def test_filters_by_program_track_day_unit_task_and_mine(w: World, frozen: None) -> None:
    a1 = answer(w, "c1", w.tasks[0], msk(23, 11))  # day 1, north
    a2 = answer(w, "c2", w.tasks[2], msk(23, 12))  # day 2, south
    a3 = answer(w, "senior", w.seed.senior_tasks[0], msk(23, 13))  # seniors' track, day 1
    other = make_world(organization_create(slug="other", name="Другая"), slug="other")
    answer(other, "c1", other.tasks[0], msk(23, 9))
    c = client_for(w.curator)
    assert queue_ids(c) == [a1.pk, a2.pk, a3.pk]  # never the other organisation's
    assert queue_ids(c, program="sales-marathon") == [a1.pk, a2.pk, a3.pk]
    assert queue_ids(c, track="seniors") == [a3.pk]
    assert queue_ids(c, day=1) == [a1.pk, a3.pk]
    assert queue_ids(c, day=2, track="consultants") == [a2.pk]
    assert queue_ids(c, unit=w.north.pk) == [a1.pk]
    assert queue_ids(c, task=w.tasks[2].pk) == [a2.pk]
    # Another organisation's program, unit or task is a 404, not an empty list.
    assert c.get(reverse("curator:queue"), {"program": "other"}).status_code == 404
    assert c.get(reverse("curator:queue"), {"unit": other.north.pk}).status_code == 404
    assert c.get(reverse("curator:queue"), {"task": other.tasks[0].pk}).status_code == 404


def test_mine_is_what_i_hold_or_what_is_assigned_to_me(w: World, frozen: None) -> None:
    a1 = answer(w, "c1", w.tasks[0], msk(23, 11))
    a2 = answer(w, "c2", w.tasks[0], msk(23, 12))
    a3 = answer(w, "c1", w.tasks[1], msk(23, 13))
    services.attempt_claim(attempt=a2, curator=w.curator)
    services.attempt_assign(attempt=a3, curator=w.lead, assignee=w.curator)
    services.attempt_claim(attempt=a1, curator=w.curator2)
    assert queue_ids(client_for(w.curator), mine=1) == [a2.pk, a3.pk]
    assert queue_ids(client_for(w.curator2), mine=1) == [a1.pk]
    html = client_for(w.curator2).get(reverse("curator:queue")).content.decode()
    assert "Куратор Ксения" in html  # who is reviewing a2, and who a3 is assigned to


def test_keyset_pages_walk_every_answer_once_even_with_equal_times(
    w: World, frozen: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries, "QUEUE_PAGE_SIZE", 3)
    same = msk(23, 12)
    made = [
        answer(w, "c1", t, same if i % 2 else msk(23, 10, i)) for i, t in enumerate(w.tasks[:8])
    ]
    expected = [a.pk for a in sorted(made, key=lambda a: (a.submitted_at, a.pk))]
    c = client_for(w.curator)
    seen: list[int] = []
    url = reverse("curator:queue")
    with connection.execute_wrapper(_no_offset):
        while url:
            response = c.get(url)
            seen += [r.attempt.pk for r in response.context["page"].rows]
            url = response.context["next_page"]
    assert seen == expected


def _no_offset(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    assert "OFFSET" not in sql.upper(), sql
    return execute(sql, params, many, context)


# --- next answer, claims ------------------------------------------------------------------


def test_next_claims_the_oldest_unclaimed_answer_and_opens_it(w: World, frozen: None) -> None:
    a1 = answer(w, "c1", w.tasks[0], msk(23, 11))
    a2 = answer(w, "c2", w.tasks[0], msk(23, 12))
    a3 = answer(w, "c1", w.tasks[1], msk(23, 13))
    services.attempt_assign(attempt=a2, curator=w.lead, assignee=w.curator2)
    response = client_for(w.curator).post(reverse("curator:next"))
    assert response.status_code == 302
    assert response["Location"] == reverse("curator:attempt", kwargs={"attempt_id": a1.pk})
    a1.refresh_from_db()
    assert a1.claimed_by_id == w.curator.pk
    # Pressing Next again returns what I already hold instead of taking more.
    again = client_for(w.curator).post(reverse("curator:next"))
    assert again["Location"] == reverse("curator:attempt", kwargs={"attempt_id": a1.pk})
    # Another curator skips a1 (claimed) and a2 (assigned to curator2): a3.
    lead = client_for(w.lead).post(reverse("curator:next"))
    assert lead["Location"] == reverse("curator:attempt", kwargs={"attempt_id": a3.pk})
    assigned = client_for(w.curator2).post(reverse("curator:next"))
    assert assigned["Location"] == reverse("curator:attempt", kwargs={"attempt_id": a2.pk})


def test_next_keeps_the_filter_and_says_when_nothing_is_left(
    w: World, frozen: None, english: None
) -> None:
    answer(w, "c1", w.tasks[0], msk(23, 11))
    a2 = answer(w, "c2", w.tasks[2], msk(23, 12))
    c = client_for(w.curator)
    response = c.post(reverse("curator:next"), {"day": "2"})
    assert response["Location"] == reverse(
        "curator:attempt", kwargs={"attempt_id": a2.pk}
    ) + "?day=2"
    # Skipping the only day-2 answer (N on the review page): nothing left in this filter.
    empty = c.post(reverse("curator:next"), {"day": "2", "skip": a2.pk}, follow=True)
    assert empty.redirect_chain[-1][0] == reverse("curator:queue") + "?day=2"
    assert "No answers are waiting in this filter" in empty.content.decode()
    a2.refresh_from_db()
    assert a2.claimed_by_id is None  # skipping gave the claim back


def test_an_expired_claim_goes_to_the_next_curator_and_the_first_is_told(
    w: World, english: None
) -> None:
    attempt = answer(w, "c1", w.tasks[0], msk(23, 11))
    with clock.frozen_at(NOW):
        client_for(w.curator).post(reverse("curator:next"))
    # 20 minutes later the claim has expired; curator2 presses Next and gets it.
    with clock.frozen_at(NOW + dt.timedelta(minutes=21)):
        taken = client_for(w.curator2).post(reverse("curator:next"))
        assert taken["Location"].startswith(
            reverse("curator:attempt", kwargs={"attempt_id": attempt.pk})
        )
        url = reverse("curator:attempt", kwargs={"attempt_id": attempt.pk})
        lost = client_for(w.curator).post(url, {"feedback": "Хорошо", "decision": "3"})
    assert lost.status_code == 409
    html = lost.content.decode()
    assert "Your decision was not saved" in html
    assert "Куратор Кирилл is reviewing this answer until" in html
    assert "Хорошо" in html  # the typed feedback is kept
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.SUBMITTED and attempt.claimed_by_id == w.curator2.pk
    kinds = list(ReviewEvent.objects.filter(attempt=attempt).values_list("kind", flat=True))
    assert kinds == [ReviewEventKind.CLAIMED, ReviewEventKind.CLAIM_EXPIRED,
                     ReviewEventKind.CLAIMED]


def _race(targets: list[Any]) -> list[Any]:
    """Run the callables at the same moment, each in its own thread and connection."""
    barrier = threading.Barrier(len(targets))
    results: list[Any] = [None] * len(targets)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = targets[i]()
        except Exception as exc:  # reported by the assertion below
            results[i] = exc
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(targets))]
    # The frozen clock is process-wide: set once here, not in each thread.
    with clock.frozen_at(NOW):
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    return results


@pytest.mark.django_db(transaction=True)
def test_two_curators_pressing_next_at_the_same_moment_get_different_answers() -> None:
    org = organization_create(slug="race", name="Гонка")
    w = make_world(org)
    made = [answer(w, "c1", t, msk(23, 10, i)) for i, t in enumerate(w.tasks[:6])]
    curators = [w.curator, w.curator2, w.lead, w.admin]
    for _round in range(2):
        got = _race([
            (lambda c=c: services.attempt_claim_next(
                organization=org, curator=c, filters=queries.QueueFilters(),
            )) for c in curators
        ])
        assert not [g for g in got if isinstance(g, Exception)], got
        if _round == 0:
            ids = [g.pk for g in got]
            assert len(set(ids)) == 4, ids  # four different answers
            assert set(ids) == {a.pk for a in made[:4]}  # the four oldest
    holders = dict(Attempt.objects.filter(pk__in=ids).values_list("pk", "claimed_by_id"))
    assert sorted(holders.values()) == sorted(c.pk for c in curators)
    assert ReviewEvent.objects.filter(kind=ReviewEventKind.CLAIMED).count() == 4


# --- the review page and decisions ----------------------------------------------------------


def test_review_page_shows_task_answer_earlier_attempts_and_participant(
    w: World, frozen: None, english: None
) -> None:
    Task.objects.filter(pk=w.tasks[0].pk).update(prompt="Опишите **три** вопроса клиенту")
    first = answer(w, "c1", w.tasks[0], msk(23, 11), text="Первая версия",
                   status=AttemptStatus.RETURNED)
    Attempt.objects.filter(pk=first.pk).update(
        feedback="Добавьте пример из практики", decided_by=w.curator2, decided_at=msk(23, 15)
    )
    second = answer(w, "c1", w.tasks[0], msk(24, 10), number=2, text="Вторая версия")
    html = client_for(w.curator).get(
        reverse("curator:attempt", kwargs={"attempt_id": second.pk})
    ).content.decode()
    assert "<strong>три</strong>" in html  # the prompt, rendered
    assert "Вторая версия" in html and "Первая версия" in html
    assert "Добавьте пример из практики" in html and "Куратор Кирилл" in html
    assert "Консультант Иван" in html and "Автомир Север" in html
    assert "their time now 19:00 (Asia/Vladivostok)" in html  # 12:00 Moscow
    assert "Nobody is reviewing this answer" in html
    assert 'id="feedback"' in html and "autofocus" in html
    assert 'src="/static/review/curator.js"' in html
    for grade in ("1", "2", "3"):
        assert f'value="{grade}" accesskey="{grade}"' in html
    assert 'value="4"' not in html


def test_grading_writes_points_and_moves_to_the_next_answer_in_the_filter(
    w: World, frozen: None, english: None
) -> None:
    a1 = answer(w, "c1", w.tasks[0], msk(23, 11))
    answer(w, "c2", w.tasks[2], msk(23, 11, 30))  # day 2: outside the filter
    a3 = answer(w, "c2", w.tasks[0], msk(23, 12))
    c = client_for(w.curator)
    url = reverse("curator:attempt", kwargs={"attempt_id": a1.pk}) + "?day=1"
    response = c.post(url, {"feedback": "Отлично, все три вопроса открытые", "decision": "3"})
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "curator:attempt", kwargs={"attempt_id": a3.pk}
    ) + "?day=1"
    a1.refresh_from_db()
    assert (a1.status, a1.grade, a1.decided_by_id) == (AttemptStatus.GRADED, 3, w.curator.pk)
    assert PointsEntry.objects.filter(person=w.seed["c1"]).count() == 1
    a3.refresh_from_db()
    assert a3.claimed_by_id == w.curator.pk
    page = c.get(response["Location"])
    assert "Graded 3: Консультант Иван." in page.content.decode()


def test_return_for_revision_with_a_rubric(w: World, frozen: None) -> None:
    a1 = answer(w, "c1", w.tasks[0], msk(23, 11))
    url = reverse("curator:attempt", kwargs={"attempt_id": a1.pk})
    response = client_for(w.curator).post(
        url, {"feedback": "Нужен пример", "decision": "return"}
    )
    assert response.status_code == 302
    a1.refresh_from_db()
    assert a1.status == AttemptStatus.RETURNED and a1.feedback == "Нужен пример"
    a2 = answer(w, "c2", w.tasks[0], msk(23, 12))
    url2 = reverse("curator:attempt", kwargs={"attempt_id": a2.pk})
    client_for(w.curator).post(
        url2, {"feedback": "Хорошо", "decision": "2", "rubric": "Структура: 2\nТон: хороший"}
    )
    a2.refresh_from_db()
    assert a2.rubric == {"Структура": 2, "Тон": "хороший"}


def test_feedback_is_mandatory_and_nothing_is_decided_without_it(
    w: World, frozen: None, english: None
) -> None:
    a1 = answer(w, "c1", w.tasks[0], msk(23, 11))
    url = reverse("curator:attempt", kwargs={"attempt_id": a1.pk})
    c = client_for(w.curator)
    response = c.post(url, {"feedback": "   ", "decision": "3"})
    assert response.status_code == 400
    assert "Feedback is required" in response.content.decode()
    no_choice = c.post(url, {"feedback": "Текст"})
    assert no_choice.status_code == 400
    assert "Choose a decision" in no_choice.content.decode()
    bad_rubric = c.post(url, {"feedback": "Текст", "decision": "2", "rubric": "без двоеточия"})
    assert "Rubric line 1" in bad_rubric.content.decode()
    a1.refresh_from_db()
    assert a1.status == AttemptStatus.SUBMITTED and a1.grade is None
    assert not PointsEntry.objects.exists()


def test_lead_curator_reassigns_an_answer(w: World, frozen: None, english: None) -> None:
    a1 = answer(w, "c1", w.tasks[0], msk(23, 11))
    url = reverse("curator:assign", kwargs={"attempt_id": a1.pk})
    assert client_for(w.curator).post(url, {"assignee": w.curator2.pk}).status_code == 403
    response = client_for(w.lead).post(url, {"assignee": w.curator2.pk}, follow=True)
    assert "Assigned to Куратор Кирилл." in response.content.decode()
    assert Submission.objects.get(pk=a1.submission_id).assigned_curator_id == w.curator2.pk
    event = ReviewEvent.objects.get(kind=ReviewEventKind.ASSIGNED)
    assert (event.before, event.after) == ({"curator": None}, {"curator": w.curator2.pk})


# --- permissions ----------------------------------------------------------------------------


def test_participants_get_403_and_other_organisations_404(w: World, frozen: None) -> None:
    a1 = answer(w, "c1", w.tasks[0], msk(23, 11))
    participant = client_for(w.seed["c1"])
    page = reverse("curator:attempt", kwargs={"attempt_id": a1.pk})
    for url in (reverse("curator:queue"), page, reverse("curator:stats"),
                reverse("curator:audit")):
        assert participant.get(url).status_code == 403, url
    assert participant.post(reverse("curator:next")).status_code == 403
    assert participant.post(page, {"feedback": "x", "decision": "3"}).status_code == 403
    other = make_world(organization_create(slug="other", name="Другая"), slug="other")
    foreign = client_for(other.curator)
    assert foreign.get(page).status_code == 404
    for name in ("claim", "release", "assign"):
        url = reverse(f"curator:{name}", kwargs={"attempt_id": a1.pk})
        assert foreign.post(url).status_code == 404
    assert foreign.post(page, {"feedback": "x", "decision": "3"}).status_code == 404
    a1.refresh_from_db()
    assert a1.status == AttemptStatus.SUBMITTED and a1.claimed_by_id is None
    # A plain curator works the queue but sees neither turnaround nor the audit.
    curator = client_for(w.curator)
    assert curator.get(reverse("curator:stats")).status_code == 403
    assert curator.get(reverse("curator:audit")).status_code == 403
    assert client_for(w.lead).get(reverse("curator:stats")).status_code == 200
    assert client_for(w.admin).get(reverse("curator:audit")).status_code == 200


def test_the_query_string_is_kept_in_links(w: World, frozen: None) -> None:
    a1 = answer(w, "c1", w.tasks[0], msk(23, 11))
    html = client_for(w.curator).get(
        reverse("curator:queue") + "?" + urlencode({"day": 1, "mine": ""})
    ).content.decode()
    assert reverse("curator:attempt", kwargs={"attempt_id": a1.pk}) + "?day=1" in html
