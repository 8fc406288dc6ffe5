"""KPI test data: the sample roster, a November marathon with KPI points, a source."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from fokus.core.models import Organization
from fokus.kpi.models import KpiImport, KpiSource
from fokus.kpi.services import kpi_import, kpi_source_create
from fokus.people.models import Person
from fokus.people.services import roster_import
from fokus.programs.models import Enrollment, LearningDay, Program, Slot, SlotKind, Task, Track

SHARED_DATA = os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "shared", "data")
)
SALES_CSV = os.path.join(SHARED_DATA, "sales.csv")
ROSTER_CSV = os.path.join(SHARED_DATA, "roster.csv")

# The marathon runs through November 2026, the month of the sample's sales.
STARTS_ON = dt.date(2026, 11, 2)
ENDS_ON = dt.date(2026, 11, 30)
ENROLLED = ("1001", "1002", "1003")


@dataclass
class KpiWorld:
    organization: Organization
    source: KpiSource
    program: Program
    track: Track
    people: dict[str, Person]


def sales_bytes() -> bytes:
    with open(SALES_CSV, "rb") as handle:
        return handle.read()


def build_kpi_world(
    organization: Organization, *, enrolled: tuple[str, ...] = ENROLLED
) -> KpiWorld:
    report = roster_import(organization=organization, source=ROSTER_CSV)
    assert report.ok, report.as_dict()
    source = kpi_source_create(organization=organization, slug="sales", name="Продажи (ERP)")
    program = Program.objects.create(
        organization=organization, slug="sales-marathon", title="Марафон продаж",
        starts_on=STARTS_ON, ends_on=ENDS_ON, learning_weekdays="mon,wed,fri",
    )
    track = Track.objects.create(program=program, slug="consultants", title="Консультанты")
    slot = Slot.objects.create(program=program, local_time=dt.time(10), kind=SlotKind.LESSON)
    # Lots of learning (12 days x 3 points) so the default KPI cap leaves room for sales.
    day_dates = [STARTS_ON + dt.timedelta(days=d) for d in range(0, 28, 2)][:12]
    for index, date in enumerate(day_dates, start=1):
        day = LearningDay.objects.create(program=program, index=index, date=date)
        Task.objects.create(track=track, day=day, slot=slot, title=f"Задание {index}", prompt="…")
    people = {p.employee_number: p for p in Person.objects.filter(organization=organization)}
    for number in enrolled:
        Enrollment.objects.create(person=people[number], track=track, enrolled_at=timezone.now())
    return KpiWorld(organization, source, program, track, people)


def run_import(world: KpiWorld, data: bytes | None = None, **kwargs: Any) -> KpiImport:
    return kpi_import(
        organization=world.organization, source=world.source,
        data=sales_bytes() if data is None else data,
        file_name=kwargs.pop("file_name", "sales.csv"), **kwargs,
    )


def add_kpi_examples(world: Any) -> None:
    """A KPI source, an import and a record for a core.tests.factories.World (isolation)."""
    source = kpi_source_create(
        organization=world.organization, slug=f"{world.mark}-sales", name=f"Sales {world.mark}"
    )
    participant = world.people["participant"]
    data = (
        "Табельный номер;Дата продажи;VIN;Количество\n"
        f"{participant.employee_number};{world.day.date:%d.%m.%Y};{world.mark.upper()}VIN1;1\n"
    ).encode("cp1251")
    done = kpi_import(
        organization=world.organization, source=source, data=data,
        file_name=f"sales-{world.mark}.csv",
    )
    assert done.report["counts"]["new"] == 1, done.report
    world.objects[KpiSource] = source
    world.objects[KpiImport] = done
