"""The dashboard against a direct count of raw rows; who may see it; exports and BI feeds."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from fokus.core.tests.factories import World, build_world
from fokus.insights import queries, services
from fokus.kpi.models import ImportChannel, KpiImport, KpiRecord, KpiSource, RecordKind
from fokus.people.models import Person, Role, Unit
from fokus.programs.models import Enrollment, LearningDay, Material, MaterialView, Task
from fokus.review.models import Attempt, AttemptStatus, Submission

pytestmark = pytest.mark.django_db

START = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def _scripted() -> World:
    """Two dealerships, six enrolled sellers, four not enrolled, three tasks due."""
    world = build_world("ins", starts_on=START)
    org, program, track, slot = world.organization, world.program, world.track, world.slot
    north = Unit.objects.create(organization=org, name="North ins", city="Omsk")
    day2 = LearningDay.objects.create(program=program, index=2, date=START + dt.timedelta(days=2))
    tasks = [world.task,
             Task.objects.create(track=track, day=day2, slot=slot, title="T2", prompt="p"),
             Task.objects.create(track=track, day=day2, slot=slot, title="T3", prompt="p",
                               position=1)]
    material2 = Material.objects.create(track=track, day=day2, slot=slot, title="M2", body="b")
    sellers = [world.people[Role.PARTICIPANT]]
    for i in range(9):
        sellers.append(Person.objects.create(
            organization=org, employee_number=f"S{i}", full_name=f"Seller {i}",
            time_zone="Europe/Moscow", unit=north if i % 2 else world.unit, roles="participant",
        ))
    enrolled = sellers[:6]
    for person in enrolled[1:]:
        Enrollment.objects.create(person=person, track=track, enrolled_at=timezone.now())
    # Opened: person 0 (factory, material 1), persons 1 and 2 material 2.
    for person in enrolled[1:3]:
        MaterialView.objects.create(person=person, material=material2,
                                    opened_at=_at(day2.date, 9))
    # Answers: persons 0..3; graded: person 0 all three, person 1 two, person 2 one.
    graded_count = {0: 3, 1: 2, 2: 1, 3: 0}
    for index, count in graded_count.items():
        person = enrolled[index]
        for number, task in enumerate(tasks[: max(count, 1)]):
            graded = number < count
            submission = Submission.objects.create(
                organization=org, program=program, track=track, task=task, person=person,
                unit=person.unit,
                status=AttemptStatus.GRADED if graded else AttemptStatus.SUBMITTED,
                created_at=_at(task.day.date, 8), updated_at=_at(task.day.date, 8),
            )
            # Submitted on a Monday/Wednesday at 10:00 UTC = 13:00 Moscow, graded 2 h later.
            Attempt.objects.create(
                organization=org, submission=submission, number=1,
                status=AttemptStatus.GRADED if graded else AttemptStatus.SUBMITTED,
                submitted_at=_at(task.day.date, 10),
                decided_at=_at(task.day.date, 12) if graded else None,
                grade=2 if graded else None,
            )
    source = KpiSource.objects.create(organization=org, slug="erp", name="ERP")
    kpi_import = KpiImport.objects.create(organization=org, source=source, file_name="s.csv",
                                          sha256="0" * 64, channel=ImportChannel.CLI,
                                          created_at=timezone.now())
    rows = []
    for n, person in enumerate(sellers):
        for k in range(n % 3 + 1):
            day = START - dt.timedelta(days=3 + 5 * k)  # baseline
            rows.append((person, day, Decimal(1)))
        rows.append((person, START + dt.timedelta(days=n % 4), Decimal(2 if n < 6 else 1)))
    rows.append((sellers[1], START + dt.timedelta(days=1), Decimal(-1)))  # a cancellation
    for i, (person, day, quantity) in enumerate(rows):
        KpiRecord.objects.create(
            organization=org, source=source, kpi_import=kpi_import, person=person,
            employee_number=person.employee_number, metric="cars_sold", sale_key=f"V{i}",
            kind=RecordKind.CANCELLATION if quantity < 0 else RecordKind.SALE,
            occurred_on=day, quantity=quantity, row=i + 2,
        )
    services.insights_refresh(program, now=NOW)
    return world


def test_dashboard_figures_equal_a_direct_count_of_raw_rows() -> None:
    world = _scripted()
    program = world.program
    data = queries.dashboard(program, completion_percent=60, today=NOW.date())
    # Direct: enrolled people, tasks due by today, answers and grades per person.
    enrolled = set(Enrollment.objects.filter(track__program=program)
                   .values_list("person_id", flat=True))
    due = Task.objects.filter(track__program=program, day__date__lte=NOW.date()).count()
    started = {p for p in enrolled
               if MaterialView.objects.filter(person_id=p).exists()
               or Submission.objects.filter(person_id=p).exclude(status="draft").exists()}
    completed = {p for p in enrolled
                 if Submission.objects.filter(person_id=p, status="graded").count() * 100
                 >= 60 * due}
    assert (data.funnel.enrolled, data.funnel.started, data.funnel.completed) == (
        len(enrolled), len(started), len(completed))
    assert (data.funnel.enrolled, data.funnel.started, data.funnel.completed) == (6, 4, 2)
    strict = queries.dashboard(program, completion_percent=100, today=NOW.date())
    assert strict.funnel.completed == 1
    # Activity: opened materials and answers per learning day.
    assert sum(r.opened for r in data.activity) == MaterialView.objects.filter(
        material__track__program=program).count()
    assert sum(r.answered for r in data.activity) == Submission.objects.filter(
        program=program).exclude(status="draft").count()
    assert sum(r.graded for r in data.activity) == 6
    # Two working hours from submission to grade, every time.
    assert data.turnaround_hours == pytest.approx(2.0)
    # By dealership: totals add up to the funnel.
    assert sum(g.enrolled for g in data.units) == 6
    assert {g.name for g in data.regions} == {"City ins", "Omsk"}
    # KPI trend: the per-person sums equal the raw records, net of the cancellation.
    settings = queries.insight_settings(program)
    total_in = sum(p.participants for p in data.kpi) * settings.kpi_participants
    raw_in = sum(r.quantity for r in KpiRecord.objects.filter(person_id__in=enrolled))
    assert total_in == pytest.approx(float(raw_in))
    assert settings.kpi_participants == 6 and settings.kpi_others == 4


def test_uplift_report_on_the_scripted_data() -> None:
    world = _scripted()
    report = queries.uplift_report(world.program, today=NOW.date())
    assert report.participants == 6 and report.others == 4
    assert report.did.effect is not None and report.naive.effect is not None
    # Same data, same numbers.
    again = queries.uplift_report(world.program, today=NOW.date())
    assert again.did == report.did and again.matched == report.matched
    # The default report reads the refreshed sums; they equal the KPI records summed now.
    assert report.as_of == NOW
    stored = queries.uplift_outcomes(world.program, "cars_sold", report.periods, from_facts=True)
    live = queries.uplift_outcomes(world.program, "cars_sold", report.periods)
    assert stored == live and len(live) == 10
    # A custom baseline is computed from the records.
    custom = queries.uplift_report(world.program, today=NOW.date(), baseline_days=20)
    assert custom.as_of is None and custom.periods.baseline_days == 20


def _client(world: World, role: str) -> Client:
    # English pages, so assertions read the English texts (Russian is the default).
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(world.users[role])
    return client


@pytest.mark.parametrize("role,status", [
    (Role.VIEWER, 200), (Role.ADMIN, 200), (Role.PARTICIPANT, 403), (Role.CURATOR, 403),
    (Role.SUPERVISOR, 403), (Role.AUTHOR, 403),
])
def test_pages_are_for_viewers_and_admins(role: str, status: int) -> None:
    world = _scripted()
    client = _client(world, role)
    slug = world.program.slug
    assert client.get(f"/insights/{slug}/").status_code == status
    assert client.get(f"/insights/{slug}/uplift/").status_code == status
    api = client.get(f"/api/v1/insights/programs/{slug}/dashboard")
    assert api.status_code == status


def test_dashboard_page_shows_russian_numbers_and_svg() -> None:
    world = _scripted()
    client = _client(world, Role.VIEWER)
    client.cookies["django_language"] = "ru"
    page = client.get(f"/insights/{world.program.slug}/", HTTP_ACCEPT_LANGUAGE="ru")
    body = page.content.decode()
    assert "<svg" in body and "cdn" not in body.lower()
    assert "02.03.2026" in body  # Russian date format


def test_only_admins_save_the_cost_and_bad_numbers_name_the_field() -> None:
    world = _scripted()
    slug = world.program.slug
    viewer = _client(world, Role.VIEWER)
    assert viewer.post(f"/insights/{slug}/settings/", {"cost_money": "1"}).status_code == 403
    admin = _client(world, Role.ADMIN)
    response = admin.post(f"/insights/{slug}/settings/", {"cost_money": "abc"}, follow=True)
    assert "program cost, money" in response.content.decode()
    admin.post(f"/insights/{slug}/settings/", {"cost_money": "100 000,50", "unit_value": "50000"})
    settings = queries.insight_settings(world.program)
    assert settings.cost_money == Decimal("100000.50") and settings.unit_value == 50000
    page = admin.get(f"/insights/{slug}/uplift/").content.decode()
    assert "ROI" in page


def test_exports_and_bi_feeds() -> None:
    world = _scripted()
    slug = world.program.slug
    viewer_key = world.tokens[Role.VIEWER]
    base = f"/api/v1/insights/programs/{slug}"
    client = Client()
    auth = {"Authorization": f"Bearer {viewer_key}"}
    data = client.get(f"{base}/dashboard", headers=auth).json()
    assert data["sections"]["funnel"][0] == {"step": "enrolled", "people": 6}
    # Google Sheets: the token in the URL, viewer-only logins.
    csv_text = client.get(f"{base}/dashboard.csv?section=units&token={viewer_key}").content
    assert csv_text.decode("utf-8-sig").splitlines()[0].startswith("name,city,enrolled")
    admin_key = world.tokens[Role.ADMIN]
    assert client.get(f"{base}/dashboard.csv?token={admin_key}").status_code == 401
    assert client.get(f"{base}/dashboard.csv?section=nope", headers=auth).status_code == 400
    workbook = load_workbook(io.BytesIO(client.get(f"{base}/dashboard.xlsx", headers=auth).content))
    assert workbook.sheetnames == ["funnel", "activity", "units", "regions", "kpi", "board"]
    uplift = client.get(f"{base}/uplift", headers=auth).json()
    assert [r["method"] for r in uplift["sections"]["estimates"]] == ["naive", "did", "matched"]
    assert client.get(f"{base}/uplift.csv", headers=auth).status_code == 200
    assert client.get(f"{base}/uplift.xlsx", headers=auth).status_code == 200
    participant = {"Authorization": f"Bearer {world.tokens[Role.PARTICIPANT]}"}
    assert client.get(f"{base}/uplift", headers=participant).status_code == 403


def test_xapi_statements() -> None:
    world = _scripted()
    client = Client()
    auth = {"Authorization": f"Bearer {world.tokens[Role.VIEWER]}"}
    url = f"/api/v1/insights/programs/{world.program.slug}/xapi"
    statements = client.get(url, headers=auth).json()
    verbs = {s["verb"]["display"]["en-US"] for s in statements}
    assert verbs == {"experienced", "answered", "scored", "completed"}
    assert len({s["id"] for s in statements}) == len(statements)
    assert statements == client.get(url, headers=auth).json()  # stable ids
    scored = next(s for s in statements if s["verb"]["display"]["en-US"] == "scored")
    assert scored["result"]["score"]["raw"] == 2
    since = statements[-2]["timestamp"].replace("+", "%2B")
    later = client.get(f"{url}?since={since}", headers=auth)
    assert len(later.json()) < len(statements)
    json.dumps(statements)


def test_another_organisations_program_is_404_and_its_data_never_shows() -> None:
    ours = _scripted()
    theirs = build_world("zqxb7", starts_on=START)
    services.insights_refresh(theirs.program, now=NOW)
    client = _client(ours, Role.VIEWER)
    assert client.get(f"/insights/{theirs.program.slug}/").status_code == 404
    assert client.get(f"/insights/{theirs.program.slug}/uplift/").status_code == 404
    api = f"/api/v1/insights/programs/{theirs.program.slug}/dashboard"
    assert client.get(api).status_code == 404
    body = client.get(f"/insights/{ours.program.slug}/").content.decode()
    body += client.get(f"/api/v1/insights/programs/{ours.program.slug}/xapi").content.decode()
    assert "zqxb7" not in body


def test_bad_filters_name_the_field_and_the_page_still_answers() -> None:
    world = _scripted()
    client = _client(world, Role.VIEWER)
    page = client.get(f"/insights/{world.program.slug}/?from=31.02&completion=500",
                      headers={"Accept-Language": "en"})
    body = page.content.decode()
    assert page.status_code == 200
    assert "from: enter a date as YYYY-MM-DD." in body
    assert "completion: enter a whole percentage from 1 to 100." in body


def test_the_nightly_job_refreshes_running_programs() -> None:
    from fokus.insights.jobs import insights_refresh_nightly
    from fokus.insights.models import InsightSettings, ParticipantFact

    world = _scripted()
    ParticipantFact.objects.all().delete()
    InsightSettings.objects.all().delete()
    insights_refresh_nightly(NOW)
    assert ParticipantFact.objects.filter(program=world.program).count() == 6
    # A program that ended long ago is left alone.
    insights_refresh_nightly(NOW + dt.timedelta(days=120))
    settings = InsightSettings.objects.get(program=world.program)
    assert settings.refreshed_at == NOW
