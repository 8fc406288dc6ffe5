"""The demo organisation: a dealer network part-way through the seed 001 marathon.

Everything goes through the same services an L&D admin uses (roster import, program
import, enrollment), so the demo also proves that the real path works.
"""

from __future__ import annotations

import io
import random
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from PIL import Image

from fokus.core import clock
from fokus.core.models import Organization
from fokus.core.services import organization_create
from fokus.insights.services import insights_refresh
from fokus.kpi.services import kpi_import, kpi_source_create
from fokus.people.models import Person, Role
from fokus.people.services import person_grant_login, roster_import
from fokus.programs.models import (
    AnswerKind,
    Enrollment,
    EnrollmentStatus,
    LearningDay,
    Material,
    MaterialView,
    Program,
    SlotKind,
    Task,
    Track,
)
from fokus.programs.queries import program_contact_points
from fokus.programs.services import program_enroll, program_import
from fokus.review.services import (
    attempt_claim,
    attempt_grade,
    attempt_return_for_revision,
    attempt_submit,
    task_opens_at,
)
from fokus.supervision.services import support_tasks_generate

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
    _demo_answers(program=program, now=now, seed=seed)
    _demo_sales(organization=organization, starts_on=starts_on, today=today, seed=seed)
    # What the beat would have produced by now: supervisors' support tasks of the past
    # learning days and the dashboard's nightly aggregates.
    for day in LearningDay.objects.filter(program=program, date__lte=today).order_by("index"):
        support_tasks_generate(program=program, day=day, now=now)
    insights_refresh(program, now=now)
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


# What participants write and what curators answer: a few realistic variants.
_ANSWERS = (
    "Клиент сказал «дорого». Я уточнил, с чем сравнивает, показал комплектацию и "
    "выгоду трейд-ина. Договорились о тест-драйве в субботу.",
    "Отработал возражение «подумаю»: спросил, что именно смущает, оказалось — платёж по "
    "кредиту. Подобрали программу с меньшим взносом.",
    "Провёл презентацию по схеме «свойство — выгода». Клиент сам попросил расчёт.",
    "Позвонил трём клиентам из базы, двое пришли на тест-драйв.",
)
_FEEDBACK = {
    1: "Есть начало, но не хватает вопроса о потребности. Попробуйте ещё раз на следующем "
    "клиенте.",
    2: "Хорошо: возражение отработано. Добавьте конкретную выгоду в цифрах.",
    3: "Отлично! Пример можно показать коллегам на утренней планёрке.",
}
_RETURN = "Опишите, что именно вы сказали клиенту и как он отреагировал, — сейчас слишком общо."


def _demo_answers(*, program: Program, now: datetime, seed: int) -> None:
    """Answers to past tasks, most of them reviewed: a queue, grades, returns, points.

    Goes through the review services at the moments things would have happened (the
    fake clock), so turnaround, lateness and the points ledger are all real.
    """
    rng = random.Random(seed + 1)
    curator = Person.objects.get(organization=program.organization, employee_number="9001")
    tasks = list(
        Task.objects.filter(track__program=program).select_related("track", "day", "slot")
    )
    enrolled = (
        Enrollment.objects.filter(track__program=program, status=EnrollmentStatus.ACTIVE)
        .select_related("person")
        .order_by("person__employee_number")
    )
    track_people: dict[int, list[Person]] = {}
    for enrollment in enrolled:
        track_people.setdefault(enrollment.track_id, []).append(enrollment.person)
    for task in sorted(tasks, key=lambda t: (t.day.index, t.slot.local_time)):
        for person in track_people.get(task.track_id, []):
            opens = task_opens_at(task=task, person=person)
            if opens >= now or rng.random() > 0.85 - 0.05 * (task.day.index - 1):
                continue
            answered = min(opens + timedelta(minutes=rng.randint(20, 300)), now)
            kinds = task.answer_kind_list
            text = rng.choice(_ANSWERS) if AnswerKind.TEXT in kinds else ""
            link = "https://example.com/crm/deal" if not text and AnswerKind.LINK in kinds else ""
            files = (
                [_demo_photo(rng)] if not text and not link and set(kinds)
                & {AnswerKind.PHOTO, AnswerKind.FILE} else []
            )
            with clock.frozen_at(answered):
                attempt = attempt_submit(
                    person=person, task=task, text=text, link=link, files=files
                )
            reviewed = answered + timedelta(minutes=rng.randint(30, 600))
            if reviewed >= now - timedelta(hours=2):
                continue  # still in the curator's queue
            with clock.frozen_at(reviewed):
                attempt_claim(attempt=attempt, curator=curator)
                if rng.random() < 0.12:
                    attempt_return_for_revision(
                        attempt=attempt, curator=curator, feedback=_RETURN
                    )
                else:
                    grade = rng.choices((1, 2, 3), weights=(1, 3, 3))[0]
                    attempt_grade(
                        attempt=attempt, curator=curator, grade=min(grade, task.grade_max),
                        feedback=_FEEDBACK[grade],
                    )


def _demo_photo(rng: random.Random) -> SimpleUploadedFile:
    """A small photo of "the showroom": a JPEG the file checks accept."""
    image = Image.new("RGB", (320, 240), (rng.randint(0, 255), 90, 140))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=70)
    return SimpleUploadedFile("salon.jpg", buffer.getvalue(), content_type="image/jpeg")


def _demo_sales(*, organization: Organization, starts_on: date, today: date, seed: int) -> None:
    """The dealer ERP's sales export for four weeks before the marathon until yesterday,
    imported like every night (cp1251, `;`, dd.mm.yyyy): KPI points and the uplift base."""
    rng = random.Random(seed + 2)
    source = kpi_source_create(organization=organization, slug="dealer-erp", name="ERP дилера")
    models = ("Vesta", "Granta", "Niva Travel", "XRAY", "Largus")
    lines = ["Табельный номер;Дата продажи;Модель;VIN;Количество;Сумма, руб."]
    sellers = list(
        Person.objects.filter(organization=organization, manager__isnull=False)
        .order_by("employee_number")
        .values_list("employee_number", flat=True)
    )
    vin = 0
    day = starts_on - timedelta(days=28)
    while day < today:
        for number in sellers:
            # About one car every four working days; a little more once the marathon runs.
            chance = 0.22 if day < starts_on else 0.27
            if day.weekday() < 6 and rng.random() < chance:
                vin += 1
                price = rng.randint(1_100, 2_600) * 1000
                lines.append(
                    f"{number};{day:%d.%m.%Y};{rng.choice(models)};XTA{vin:014d};1;"
                    f"{price},00"
                )
        day += timedelta(days=1)
    data = ("\r\n".join(lines) + "\r\n").encode("cp1251")
    kpi_import(organization=organization, source=source, data=data, file_name="sales-demo.csv")
