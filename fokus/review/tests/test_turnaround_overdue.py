"""Overdue notices (each answer once, to the lead curator), the beat job, the stats page
and the `fokus review` command."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from fokus.core import clock
from fokus.core.models import Organization
from fokus.programs.models import Program
from fokus.review import services
from fokus.review.jobs import JOB_NAME, review_overdue_job
from fokus.review.models import AttemptStatus, ReviewSettings
from fokus.review.queries import review_overdue_scan
from fokus.review.tests.test_queue import World, answer, client_for, make_world, msk
from fokus.scheduler.models import BeatFiring


@pytest.fixture
def w(org_a: Organization) -> World:
    return make_world(org_a)


def scan_ids(now: dt.datetime, since: dt.datetime) -> list[int]:
    return [a.attempt_id for n in review_overdue_scan(now=now, since=since) for a in n.attempts]


def test_each_answer_is_announced_once_over_consecutive_scans(w: World) -> None:
    # Target 4 working hours, 9–18 Moscow. Monday 10:00 → due Monday 14:00;
    # Monday 16:30 → due Tuesday 11:30; Friday 17:00 → due next Monday 12:00.
    a1 = answer(w, "c1", w.tasks[0], msk(23, 10))
    a2 = answer(w, "c2", w.tasks[0], msk(23, 16, 30))
    a3 = answer(w, "c1", w.tasks[1], msk(27, 17))
    start = msk(23, 9)
    slots = [start + dt.timedelta(minutes=15 * i) for i in range(4 * 24 * 8)]
    announced: list[int] = []
    for since, now in itertools.pairwise(slots):
        announced += scan_ids(now, since)
    assert announced == [a1.pk, a2.pk, a3.pk]
    # The window that holds a deadline names it again if scanned again: idempotent.
    # At 14:00 sharp it has waited exactly the target; the next moment it is overdue.
    assert scan_ids(msk(23, 14), msk(23, 13, 45)) == []
    assert scan_ids(msk(23, 14, 15), msk(23, 14)) == [a1.pk]
    assert scan_ids(msk(23, 14, 15), msk(23, 14)) == [a1.pk]
    assert scan_ids(msk(23, 14, 30), msk(23, 14, 15)) == []


def test_the_notice_goes_to_the_lead_curator_or_else_the_admins(w: World) -> None:
    a1 = answer(w, "c1", w.tasks[0], msk(23, 10))
    services.attempt_assign(attempt=a1, curator=w.lead, assignee=w.curator2)
    notices = review_overdue_scan(now=msk(23, 14, 5), since=msk(23, 13, 50))
    assert len(notices) == 1
    notice = notices[0]
    assert notice.recipient_ids == (w.lead.pk,)
    assert notice.program_title == w.seed.program.title and notice.target_hours == 4
    (item,) = notice.attempts
    assert (item.attempt_id, item.participant, item.curator) == (
        a1.pk, "Консультант Иван", "Куратор Кирилл"
    )
    assert item.dedupe_key == f"review-overdue:{a1.pk}"
    ReviewSettings.objects.filter(program=w.seed.program).update(lead_curator=None)
    again = review_overdue_scan(now=msk(23, 14, 5), since=msk(23, 13, 50))
    assert again[0].recipient_ids == (w.admin.pk,)


def test_decided_answers_and_other_programs_settings(w: World) -> None:
    a1 = answer(w, "c1", w.tasks[0], msk(23, 10))
    answer(w, "c2", w.tasks[0], msk(23, 10), status=AttemptStatus.GRADED)
    ReviewSettings.objects.filter(program=w.seed.program).update(turnaround_hours=2)
    assert scan_ids(msk(23, 12, 5), msk(23, 11, 50)) == [a1.pk]  # due at 12:00 now


def test_the_beat_job_scans_from_its_previous_firing(w: World) -> None:
    a1 = answer(w, "c1", w.tasks[0], msk(23, 10))  # due 14:00
    # The beat was down from 13:30 to 15:00: the job fired at 13:30, then at 15:00.
    BeatFiring.objects.create(job=JOB_NAME, slot=msk(23, 13, 30), fired_at=msk(23, 13, 30))
    notices = review_overdue_job(msk(23, 15))
    assert [a.attempt_id for n in notices for a in n.attempts] == [a1.pk]
    BeatFiring.objects.create(job=JOB_NAME, slot=msk(23, 15), fired_at=msk(23, 15))
    assert review_overdue_job(msk(23, 15, 15)) == []


def test_stats_page_by_program_and_curator(w: World) -> None:
    a1 = answer(w, "c1", w.tasks[0], msk(23, 10))
    a2 = answer(w, "c2", w.tasks[0], msk(23, 10))
    answer(w, "c1", w.tasks[1], msk(23, 11))  # still waiting, overdue by Wednesday
    with clock.frozen_at(msk(23, 12)):
        services.attempt_grade(attempt=a1, curator=w.curator, grade=3, feedback="Хорошо")
    with clock.frozen_at(msk(24, 10)):  # Tuesday 10:00: 9 working hours
        services.attempt_return_for_revision(attempt=a2, curator=w.curator2, feedback="Ещё")
    with clock.frozen_at(msk(25, 12)):
        response = client_for(w.lead).get(reverse("curator:stats"))
    assert response.status_code == 200
    report = response.context["report"]
    (program,) = report.programs
    assert (program.decided, program.late, program.pending, program.pending_overdue) == (
        2, 1, 1, 1
    )
    assert program.first_feedback_hours == [2.0, 9.0]
    assert program.revision_rounds == 1
    by_name = {c.name: c for c in report.curators}
    assert by_name["Куратор Ксения"].graded == 1 and by_name["Куратор Ксения"].late == 0
    assert by_name["Куратор Кирилл"].returned == 1 and by_name["Куратор Кирилл"].late == 1
    html = response.content.decode()
    assert "Overdue answers" in html and "Консультант Иван" in html


def test_lead_curator_sees_only_programs_they_lead(w: World) -> None:
    other_program = Program.objects.create(
        organization=w.org, slug="second", title="Второй", starts_on=dt.date(2026, 11, 23),
        ends_on=dt.date(2026, 12, 8), learning_weekdays="mon,wed,fri",
    )
    with clock.frozen_at(msk(25, 12)):
        report = client_for(w.lead).get(reverse("curator:stats")).context["report"]
        assert [p.program.pk for p in report.programs] == [w.seed.program.pk]
        denied = client_for(w.lead).get(reverse("curator:stats"), {"program": "second"})
        assert denied.status_code == 404
        admin = client_for(w.admin).get(reverse("curator:stats")).context["report"]
    assert {p.program.pk for p in admin.programs} == {w.seed.program.pk, other_program.pk}


def test_review_command_lists_overdue_and_stats(w: World) -> None:
    a1 = answer(w, "c1", w.tasks[0], msk(23, 10))
    out = StringIO()
    call_command("review", "overdue", "--org", w.org.slug, "--format", "json",
                 "--now", "2026-11-25T12:00:00+03:00", stdout=out)
    rows = json.loads(out.getvalue())
    assert [r["attempt_id"] for r in rows] == [a1.pk]
    assert rows[0]["waiting_hours"] == pytest.approx(8 + 9 + 3)
    text = StringIO()
    call_command("review", "stats", w.seed.program.slug, "--org", w.org.slug,
                 "--now", "2026-11-25T12:00:00+03:00", stdout=text)
    assert "pending 1" in text.getvalue() and "overdue 1" in text.getvalue()
    with pytest.raises(CommandError, match="no-such"):
        call_command("review", "stats", "no-such", "--org", w.org.slug)
    with pytest.raises(CommandError, match="Organisation"):
        call_command("review", "overdue", "--org", "nope")

