"""The demo organisation: a dealer network part-way through the seed 001 marathon.

Everything goes through the same services an L&D admin uses (roster import, program
import, enrollment), so the demo also proves that the real path works.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction

from fokus.core import clock
from fokus.core.models import Organization
from fokus.core.services import organization_create
from fokus.people.models import Person, Role
from fokus.people.services import person_grant_login, roster_import
from fokus.programs.models import Material, MaterialView, Program, SlotKind, Track
from fokus.programs.queries import program_contact_points
from fokus.programs.services import program_enroll, program_import

DEMO_SLUG = "demo"
DEMO_NAME = "Дилерская сеть «Автомир» (демо)"
DEMO_PASSWORD = "fokus-demo"
DATA_DIR = Path(__file__).resolve().parent / "data"
EXAMPLE_PROGRAM = Path(settings.PROJECT_ROOT) / "examples" / "sales-marathon.yaml"

# One login per role: (login, employee number, role shown to the user).
DEMO_LOGINS: tuple[tuple[str, str, str], ...] = (
    ("participant", "1042", Role.PARTICIPANT),  # a consultant in Vladivostok
    ("participant2", "1002", Role.PARTICIPANT),  # a consultant in Kaliningrad
    ("supervisor", "1041", Role.SUPERVISOR),  # the senior of the Vladivostok dealership
    ("curator", "9001", Role.CURATOR),
    ("author", "9003", Role.AUTHOR),
    ("admin", "9004", Role.ADMIN),
    ("viewer", "9005", Role.VIEWER),
)


@dataclass(frozen=True)
class DemoLogin:
    login: str
    password: str
    role: str
    full_name: str
    time_zone: str


def demo_start_date(today: date) -> date:
    """The Monday of the week before `today`: the marathon is 3–6 learning days in."""
    return today - timedelta(days=today.weekday() + 7)


def demo_exists() -> bool:
    return Organization.objects.filter(slug=DEMO_SLUG).exists()


def demo_logins() -> list[DemoLogin]:
    people = {
        p.employee_number: p
        for p in Person.objects.filter(
            organization__slug=DEMO_SLUG, employee_number__in=[n for _, n, _ in DEMO_LOGINS]
        )
    }
    return [
        DemoLogin(
            login, DEMO_PASSWORD, str(role), people[number].full_name, people[number].time_zone
        )
        for login, number, role in DEMO_LOGINS
        if number in people
    ]


@transaction.atomic
def demo_load(*, today: date | None = None, seed: int = 1) -> Organization:
    """Create the demo organisation with its roster, marathon, enrollments and history."""
    now = clock.now()
    today = today or now.date()
    organization = organization_create(slug=DEMO_SLUG, name=DEMO_NAME)

    for roster in ("roster.csv", "staff.csv"):
        report = roster_import(organization=organization, source=DATA_DIR / roster)
        if not report.ok:
            raise RuntimeError(f"demo roster {roster} did not import: {report.as_dict()}")

    starts_on = demo_start_date(today)
    text = EXAMPLE_PROGRAM.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^starts_on: .*$", f"starts_on: {starts_on.isoformat()}", text)
    text = re.sub(
        r"(?m)^ends_on: .*$", f"ends_on: {(starts_on + timedelta(days=15)).isoformat()}", text
    )
    program = program_import(organization=organization, text=text, source_name=EXAMPLE_PROGRAM.name)

    consultants = Track.objects.get(program=program, slug="consultants")
    participants = list(
        Person.objects.filter(organization=organization, manager__isnull=False).order_by(
            "employee_number"
        )
    )
    enrolled_at = now - timedelta(days=(today - starts_on).days + 1)
    program_enroll(
        program=program,
        track=consultants,
        people=participants,
        with_supervisors=True,
        enrolled_at=enrolled_at,
    )

    for login, number, _role in DEMO_LOGINS:
        person = Person.objects.get(organization=organization, employee_number=number)
        person_grant_login(person=person, username=login, password=DEMO_PASSWORD)
        if number == "9004":
            # The L&D admin manages the organisation in Django admin (scoped to it).
            person.user.is_staff = True  # type: ignore[union-attr]
            person.user.save(update_fields=["is_staff"])  # type: ignore[union-attr]

    _demo_history(program=program, now=now, seed=seed)
    return organization


def _demo_history(*, program: Program, now: datetime, seed: int) -> None:
    """Past lessons opened by most participants, fewer as days go by (a real funnel)."""
    rng = random.Random(seed)
    materials: dict[tuple[int, int, time], list[int]] = {}
    for material_id, track_id, day_index, slot_time in Material.objects.filter(
        track__program=program
    ).values_list("pk", "track_id", "day__index", "slot__local_time"):
        materials.setdefault((track_id, day_index, slot_time), []).append(material_id)
    tracks_of: dict[int, list[int]] = {}
    for person_id, track_id in program.tracks.values_list("enrollments__person_id", "pk"):
        if person_id is not None:
            tracks_of.setdefault(person_id, []).append(track_id)

    diligence = {person_id: rng.uniform(0.55, 1.0) for person_id in tracks_of}
    views = []
    for person_id, points in program_contact_points(program=program).items():
        for point in points:
            if point.kind != SlotKind.LESSON or point.utc >= now:
                continue
            # Engagement fades a little each day, as in every marathon.
            if rng.random() > diligence[person_id] - 0.04 * (point.day_index - 1):
                continue
            opened_at = point.utc + timedelta(minutes=rng.randint(3, 240))
            for track_id in tracks_of[person_id]:
                for material_id in materials.get((track_id, point.day_index, point.slot_time), []):
                    views.append(
                        MaterialView(
                            person_id=person_id,
                            material_id=material_id,
                            opened_at=min(opened_at, now),
                        )
                    )
    MaterialView.objects.bulk_create(views, ignore_conflicts=True)
