"""Participant pages: today, calendar, .ics and material, seen from two time zones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from icalendar import Calendar

from fokus.core.clock import frozen_at
from fokus.core.models import Organization
from fokus.people.models import Person
from fokus.programs.models import (
    Enrollment,
    LearningDay,
    Material,
    MaterialView,
    Program,
    Slot,
    Task,
    Track,
)
from fokus.programs.queries import person_contact_points
from fokus.programs.schedule import learning_dates

PASSWORD = "correct-horse-battery"


@dataclass
class Sprint:
    program: Program
    track: Track
    days: list[LearningDay]
    morning: Material
    afternoon: Material
    day2_morning: Material
    task: Task


def make_person(
    org: Organization, number: str, name: str, zone: str, *, roles: str = "participant",
    username: str | None = None,
) -> Person:
    user = User.objects.create_user(username or f"{org.slug}-{number}", password=PASSWORD)
    return Person.objects.create(
        organization=org, employee_number=number, full_name=name, time_zone=zone, roles=roles,
        user=user,
    )


def build_sprint(org: Organization, *, slug: str = "sales-sprint") -> Sprint:
    """Seed 001 in small: Mon/Wed/Fri from Mon 24 Nov 2025 for 16 days, content on days 1-2."""
    program = Program.objects.create(
        organization=org, slug=slug, title="Фокус на сделку", starts_on=date(2025, 11, 24),
        ends_on=date(2025, 12, 9), learning_weekdays="mon,wed,fri",
    )
    ten = Slot.objects.create(program=program, local_time=time(10), kind="lesson")
    two = Slot.objects.create(program=program, local_time=time(14), kind="lesson")
    Slot.objects.create(program=program, local_time=time(18), kind="digest")
    days = [
        LearningDay.objects.create(program=program, index=i, date=d)
        for i, d in enumerate(learning_dates(program.starts_on, program.ends_on, (0, 2, 4)), 1)
    ]
    track = Track.objects.create(program=program, slug="consultants", title="Продавцы-консультанты")
    morning = Material.objects.create(
        track=track, day=days[0], slot=ten, title="First 30 seconds with a client", minutes=12,
        body=(
            "## Why it matters\n\nSay hello **first**.\n\n<script>alert('xss')</script>\n\n"
            "[tap me](javascript:alert(1)) and [read more](https://example.com/guide)\n"
        ),
    )
    task = Task.objects.create(
        track=track, day=days[0], slot=ten, title="Two openings",
        prompt="Describe how you *opened* two conversations today.", answer_kinds="text,photo",
    )
    afternoon = Material.objects.create(
        track=track, day=days[0], slot=two, title="Open questions", minutes=15, body="Ask why.",
    )
    Task.objects.create(
        track=track, day=days[0], slot=two, title="Three questions", prompt="Write 3 questions.",
    )
    day2_morning = Material.objects.create(
        track=track, day=days[1], slot=ten, title="Benefits, not features", minutes=10, body="x",
    )
    Material.objects.create(
        track=track, day=days[1], slot=two, title="The test drive", minutes=10, body="y",
    )
    return Sprint(program, track, days, morning, afternoon, day2_morning, task)


def enroll(person: Person, track: Track) -> None:
    Enrollment.objects.create(
        person=person, track=track, enrolled_at=datetime(2025, 11, 1, tzinfo=UTC)
    )


def english_client(person: Person) -> Client:
    client = Client()
    assert person.user is not None
    client.force_login(person.user)
    # Russian is the default; the translator pass fills it later, so assert on English.
    client.cookies["django_language"] = "en"
    return client


@pytest.fixture
def sprint(org_a: Organization) -> Sprint:
    return build_sprint(org_a)


@pytest.fixture
def vlad(org_a: Organization, sprint: Sprint) -> Person:
    person = make_person(org_a, "100", "Ирина Владивостокская", "Asia/Vladivostok")
    enroll(person, sprint.track)
    return person


@pytest.fixture
def kald(org_a: Organization, sprint: Sprint) -> Person:
    person = make_person(org_a, "200", "Пётр Калининградский", "Europe/Kaliningrad")
    enroll(person, sprint.track)
    return person


def material_url(material: Material) -> str:
    return reverse("programs:material", args=[material.pk])


# 05:00 UTC on Monday 24 Nov: 15:00 in Vladivostok (UTC+10), 07:00 in Kaliningrad (UTC+2).
MONDAY_0500_UTC = datetime(2025, 11, 24, 5, 0, tzinfo=UTC)


def test_today_depends_on_the_persons_zone(vlad: Person, kald: Person, sprint: Sprint) -> None:
    with frozen_at(MONDAY_0500_UTC):
        east = english_client(vlad).get("/").content.decode()
        west = english_client(kald).get("/").content.decode()

    # Vladivostok, 15:00: both lessons are open, the digest comes at 18:00.
    assert "Learning day 1 of 7" in east
    assert "It is 15:00 where you are (Asia/Vladivostok)" in east
    assert f'href="{material_url(sprint.morning)}"' in east
    assert f'href="{material_url(sprint.afternoon)}"' in east
    assert east.count("Available now") == 2
    assert "Opens at 18:00" in east
    assert "Mon 24 November, 18:00" in east  # next contact point: the digest

    # Kaliningrad, 07:00: the same day has not started; titles show, links do not.
    assert "Learning day 1 of 7" in west
    assert "It is 07:00 where you are (Europe/Kaliningrad)" in west
    assert "First 30 seconds with a client" in west
    assert material_url(sprint.morning) not in west
    assert "Available now" not in west
    assert "Opens at 10:00" in west and "Opens at 14:00" in west
    assert "Mon 24 November, 10:00" in west


def test_today_before_start_and_on_a_day_off(vlad: Person, kald: Person) -> None:
    # Sun 23 Nov 20:00 UTC: already Monday 06:00 in Vladivostok, still Sunday in Kaliningrad.
    with frozen_at(datetime(2025, 11, 23, 20, 0, tzinfo=UTC)):
        east = english_client(vlad).get("/").content.decode()
        west = english_client(kald).get("/").content.decode()
    assert "Learning day 1 of 7" in east and "Opens at 10:00" in east
    assert "The program starts on Monday, 24 November." in west

    # Tue 25 Nov 03:00 UTC: Tuesday 13:00 in Vladivostok, not a learning day.
    with frozen_at(datetime(2025, 11, 25, 3, 0, tzinfo=UTC)):
        page = english_client(vlad).get("/").content.decode()
    assert "No lessons today." in page
    assert "Next learning day: Wednesday, 26 November (day 2 of 7)." in page
    assert "Wed 26 November, 10:00" in page
    assert "Benefits, not features" in page


def test_today_after_the_end_and_without_enrollment(vlad: Person, org_a: Organization) -> None:
    with frozen_at(datetime(2025, 12, 20, 9, 0, tzinfo=UTC)):
        assert "The program is over" in english_client(vlad).get("/").content.decode()
        loner = make_person(org_a, "300", "Без программы", "Europe/Moscow")
        page = english_client(loner).get("/").content.decode()
    assert "You are not enrolled in any program yet" in page


def test_today_is_refreshed_by_htmx_without_the_layout(vlad: Person) -> None:
    with frozen_at(MONDAY_0500_UTC):
        full = english_client(vlad).get("/").content.decode()
        part = english_client(vlad).get("/", headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 60s"' in full and "<html" in full
    assert "<html" not in part and "Learning day 1 of 7" in part


def test_pages_need_a_login_and_a_person(client: Client, org_a: Organization) -> None:
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("core:login"))

    User.objects.create_user("orphan", password=PASSWORD)
    client.login(username="orphan", password=PASSWORD)
    client.cookies["django_language"] = "en"
    for url in ("/", "/calendar/"):
        response = client.get(url)
        assert response.status_code == 200
        assert "not linked to a participant" in response.content.decode()


def test_login_form_leads_to_today(client: Client, vlad: Person) -> None:
    login = client.get(reverse("core:login"))
    assert login.status_code == 200 and 'autocomplete="current-password"' in login.content.decode()
    assert vlad.user is not None
    response = client.post(
        reverse("core:login"), {"username": vlad.user.username, "password": PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == reverse("programs:today")


def test_calendar_marks_past_today_and_future(vlad: Person, sprint: Sprint) -> None:
    with frozen_at(datetime(2025, 11, 26, 1, 0, tzinfo=UTC)):  # Wed 26 Nov 11:00 in Vladivostok
        response = english_client(vlad).get(
            reverse("programs:calendar", args=[sprint.program.slug])
        )
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('class="card day day-') == 7
    assert page.count("day-past") == 1 and page.count("day-today") == 1
    assert page.count("day-future") == 5
    assert 'aria-current="date"' in page
    assert "Wed 26 November" in page and "The test drive" in page
    # Today's 10:00 lesson is open (a link); the 14:00 one is not yet.
    assert material_url(sprint.day2_morning) in page
    assert reverse("programs:calendar_ics", args=[sprint.program.slug]) in page
    # /calendar/ goes straight to the only program.
    with frozen_at(datetime(2025, 11, 26, 1, 0, tzinfo=UTC)):
        index = english_client(vlad).get(reverse("programs:calendar_index"))
    assert index.status_code == 302
    assert index["Location"] == reverse("programs:calendar", args=[sprint.program.slug])


def _events(person: Person, slug: str) -> list:
    response = english_client(person).get(reverse("programs:calendar_ics", args=[slug]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert f'filename="{slug}.ics"' in response["Content-Disposition"]
    return list(Calendar.from_ical(response.content).walk("VEVENT"))


def test_ics_has_one_event_per_contact_point_in_utc(
    vlad: Person, kald: Person, sprint: Sprint
) -> None:
    with frozen_at(MONDAY_0500_UTC):
        east = _events(vlad, sprint.program.slug)
        west = _events(kald, sprint.program.slug)
    # Days 1-2: two lessons and a digest; days 3-7 have no lessons, only the digest.
    assert len(east) == len(west) == 2 * 3 + 5
    first_east, first_west = east[0], west[0]
    assert first_east.decoded("dtstart") == datetime(2025, 11, 24, 0, 0, tzinfo=UTC)
    assert first_west.decoded("dtstart") == datetime(2025, 11, 24, 8, 0, tzinfo=UTC)
    assert "First 30 seconds with a client" in str(first_east["summary"])
    assert "/materials/" in str(first_east["description"])
    last = east[-1]
    assert last.decoded("dtstart") == datetime(2025, 12, 8, 8, 0, tzinfo=UTC)  # 18:00 +10
    # The file agrees with `fokus schedule` (and so with the reminders) instant by instant.
    expected = person_contact_points(program=sprint.program, person=vlad)
    assert [e.decoded("dtstart") for e in east] == [p.utc for p in expected]
    uids = [str(e["uid"]) for e in east]
    assert len(set(uids)) == len(uids)
    assert not set(uids) & {str(e["uid"]) for e in west}
    # Stable: the same file tomorrow has the same UIDs.
    with frozen_at(datetime(2025, 11, 25, 5, 0, tzinfo=UTC)):
        assert [str(e["uid"]) for e in _events(vlad, sprint.program.slug)] == uids


def test_material_page_renders_sanitised_markdown_and_tasks(vlad: Person, sprint: Sprint) -> None:
    with frozen_at(MONDAY_0500_UTC):
        response = english_client(vlad).get(material_url(sprint.morning))
    page = response.content.decode()
    assert response.status_code == 200
    assert "<h2>Why it matters</h2>" in page and "<strong>first</strong>" in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert 'href="javascript:' not in page
    assert 'href="https://example.com/guide" rel="noopener noreferrer"' in page
    assert "12 minute read" in page
    assert "Two openings" in page and "<em>opened</em>" in page
    assert "Accepted answers:" in page and "photo" in page
    assert "Three questions" not in page  # a task of another slot
    assert "<button" not in page.split("<main", 1)[1]  # answering comes later: no fake buttons


def test_opening_a_material_records_the_first_view_once(vlad: Person, sprint: Sprint) -> None:
    with frozen_at(MONDAY_0500_UTC):
        english_client(vlad).get(material_url(sprint.morning))
    with frozen_at(datetime(2025, 11, 24, 6, 0, tzinfo=UTC)):
        english_client(vlad).get(material_url(sprint.morning))
    views = list(MaterialView.objects.filter(person=vlad, material=sprint.morning))
    assert len(views) == 1 and views[0].opened_at == MONDAY_0500_UTC


def test_future_material_opens_at_its_local_time(
    vlad: Person, kald: Person, sprint: Sprint, org_a: Organization
) -> None:
    with frozen_at(MONDAY_0500_UTC):
        west = english_client(kald).get(material_url(sprint.morning))
        east_tomorrow = english_client(vlad).get(material_url(sprint.day2_morning))
        author = make_person(org_a, "900", "Методист", "Europe/Moscow", roles="author")
        preview = english_client(author).get(material_url(sprint.day2_morning))
    assert west.status_code == 200
    assert "This material opens at 10:00 on Monday, 24 November" in west.content.decode()
    assert "Why it matters" not in west.content.decode()
    assert "opens at 10:00 on Wednesday, 26 November" in east_tomorrow.content.decode()
    assert not MaterialView.objects.filter(person=kald).exists()
    # Authors preview any material of their organisation, and are not counted as readers.
    assert preview.status_code == 200 and "Preview:" in preview.content.decode()
    assert not MaterialView.objects.filter(person=author).exists()


def test_other_people_and_organisations_get_404(
    vlad: Person, sprint: Sprint, org_a: Organization, org_b: Organization
) -> None:
    outsider = make_person(org_a, "400", "Не записан", "Europe/Moscow")
    foreign_sprint = build_sprint(org_b)  # same slug in another organisation
    foreigner = make_person(org_b, "100", "Чужой", "Asia/Vladivostok", roles="admin,participant")
    enroll(foreigner, foreign_sprint.track)
    slug = sprint.program.slug
    with frozen_at(MONDAY_0500_UTC):
        for person in (outsider, foreigner):
            c = english_client(person)
            assert c.get(material_url(sprint.morning)).status_code == 404
        c = english_client(outsider)
        assert c.get(reverse("programs:calendar", args=[slug])).status_code == 404
        assert c.get(reverse("programs:calendar_ics", args=[slug])).status_code == 404
        # The foreigner's own program with the same slug shows their content, never ours.
        page = english_client(foreigner).get(reverse("programs:calendar", args=[slug]))
        assert material_url(foreign_sprint.morning) in page.content.decode()
        assert material_url(sprint.morning) not in page.content.decode()
        withdrawn = Enrollment.objects.get(person=vlad)
        withdrawn.status = "withdrawn"
        withdrawn.save()
        assert english_client(vlad).get(material_url(sprint.morning)).status_code == 404


def test_language_switch_and_layout(vlad: Person) -> None:
    assert vlad.user is not None
    client = Client()
    client.force_login(vlad.user)
    with frozen_at(MONDAY_0500_UTC):
        page = client.get("/").content.decode()
        assert '<html lang="ru">' in page
        response = client.post(reverse("core:set_language"), {"language": "en", "next": "/"})
        assert response.status_code == 302
        page = client.get("/").content.decode()
    assert '<html lang="en">' in page
    assert ">Today</a>" in page and ">Calendar</a>" in page and "Log out" in page
    assert "Ирина Владивостокская" in page and "Asia/Vladivostok" in page
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page
    assert 'action="/logout/" method="post"' in page
    assert "Admin" not in page  # not staff
    assert "//cdn" not in page and "https://" not in page  # nothing from a CDN


def test_a_task_without_a_material_shows_its_prompt_on_today_once_open(
    vlad: Person, sprint: Sprint
) -> None:
    four = Slot.objects.create(program=sprint.program, local_time=time(16), kind="lesson")
    Task.objects.create(
        track=sprint.track, day=sprint.days[0], slot=four, title="Call back",
        prompt="Call **two** clients back.",
    )
    with frozen_at(MONDAY_0500_UTC):  # 15:00 in Vladivostok
        before = english_client(vlad).get("/").content.decode()
    with frozen_at(datetime(2025, 11, 24, 6, 30, tzinfo=UTC)):  # 16:30
        after = english_client(vlad).get("/").content.decode()
    assert "Task: Call back" in before and "Opens at 16:00" in before
    assert "<strong>two</strong>" not in before
    assert "<strong>two</strong>" in after
