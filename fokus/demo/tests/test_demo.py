from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from django.core.management import call_command
from django.test import Client

from fokus.core import clock
from fokus.demo.services import DEMO_LOGINS, DEMO_PASSWORD, demo_load, demo_start_date
from fokus.kpi.models import KpiRecord
from fokus.people.models import Person, Unit
from fokus.programs.models import Enrollment, LearningDay, MaterialView, Program
from fokus.review.models import Attempt, AttemptStatus
from fokus.scoring.models import PointsEntry
from fokus.supervision.models import SupportTask


def test_demo_start_date_puts_today_part_way_through() -> None:
    for today in [date(2026, 11, 23), date(2026, 11, 25), date(2026, 11, 29)]:
        start = demo_start_date(today)
        assert start.weekday() == 0
        assert 7 <= (today - start).days <= 13


@pytest.mark.django_db
def test_demo_loads_the_dealer_network_part_way_through_the_marathon() -> None:
    with clock.frozen_at(datetime(2026, 11, 25, 12, 0, tzinfo=UTC)):
        organization = demo_load()
    people = Person.objects.filter(organization=organization)
    assert Unit.objects.filter(organization=organization, name__startswith="ДЦ").count() == 12
    assert len({p.time_zone for p in people}) == 11
    program = Program.objects.get(organization=organization)
    days = list(LearningDay.objects.filter(program=program).order_by("index"))
    assert len(days) == 7
    past = [d for d in days if d.date < date(2026, 11, 25)]
    assert 3 <= len(past) <= 6
    # Consultants in their track, seniors in the linked one.
    assert (
        Enrollment.objects.filter(track__slug="consultants", track__program=program).count() == 36
    )
    assert Enrollment.objects.filter(track__slug="seniors", track__program=program).count() == 12
    # History: materials of past days were opened, nothing in the future.
    views = MaterialView.objects.filter(material__track__program=program)
    assert views.exists()
    assert not views.filter(opened_at__gt=datetime(2026, 11, 25, 12, 0, tzinfo=UTC)).exists()
    # Answers at every stage: waiting in the curator's queue, graded, returned; the
    # grades and the nightly sales import wrote points; nothing happened after "now".
    moment = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    attempts = Attempt.objects.filter(submission__task__track__program=program)
    statuses = set(attempts.values_list("status", flat=True))
    assert {AttemptStatus.SUBMITTED, AttemptStatus.GRADED, AttemptStatus.RETURNED} <= statuses
    assert not attempts.filter(submitted_at__gt=moment).exists()
    ledger = PointsEntry.objects.filter(program=program)
    graded = attempts.filter(status=AttemptStatus.GRADED)
    assert ledger.filter(source="learning").count() == graded.count()
    assert ledger.filter(source="kpi").exists()
    assert KpiRecord.objects.filter(organization=organization).exists()
    assert not KpiRecord.objects.filter(occurred_on__gte=date(2026, 11, 25)).exists()
    # Seniors have support tasks from their teams' days (the linked track at work).
    assert SupportTask.objects.filter(program=program).exists()
    roles = {
        person.employee_number: person.role_set
        for person in people.filter(employee_number__in=[n for _, n, _ in DEMO_LOGINS])
    }
    for _login, number, role in DEMO_LOGINS:
        assert str(role) in roles[number]


@pytest.mark.django_db
def test_every_printed_login_signs_in_and_opens_today() -> None:
    out = io.StringIO()
    call_command("demo", "--no-serve", stdout=out)
    printed = out.getvalue()
    for login, _number, _role in DEMO_LOGINS:
        assert f" {login} " in printed
        client = Client()
        assert client.login(username=login, password=DEMO_PASSWORD), login
        assert client.get("/").status_code == 200, login
    # The pages each role comes for, filled with the demo's data.
    slug = Program.objects.get(organization__slug="demo").slug
    for login, url, text in (
        ("supervisor", f"/team/{slug}/", "Никитин Иван"),  # of the Vladivostok team
        ("viewer", f"/insights/{slug}/", "ДЦ Магадан"),  # the table by dealership
        ("curator", "/review/", "ДЦ"),  # answers waiting, with their dealership
    ):
        client = Client()
        client.login(username=login, password=DEMO_PASSWORD)
        response = client.get(url)
        assert response.status_code == 200, url
        assert text in response.content.decode(), url
    # A second run finds the demo and changes nothing.
    count = Person.objects.count()
    out = io.StringIO()
    call_command("demo", "--no-serve", stdout=out)
    assert Person.objects.count() == count
