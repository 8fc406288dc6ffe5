"""Programs with people, tracks, units and points for the leaderboard tests."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from fokus.core.models import Organization
from fokus.people.models import Person, Role, Unit
from fokus.programs.models import Enrollment, Program, Track
from fokus.scoring.models import PointsEntry

START = dt.date(2026, 3, 2)  # a Monday
_keys = itertools.count(1)

try:  # the ledger's own services, when they exist (fokus.scoring.services)
    from fokus.scoring import services as _scoring_services

    _points_append = getattr(_scoring_services, "points_append", None)
    _points_reverse = getattr(_scoring_services, "points_reverse", None)
except ImportError:  # pragma: no cover - until the scoring services land
    _points_append = _points_reverse = None


@dataclass
class Marathon:
    organization: Organization
    program: Program
    tracks: dict[str, Track]
    units: dict[str, Unit]
    people: dict[str, Person] = field(default_factory=dict)

    def person(
        self,
        number: str,
        name: str,
        *,
        unit: str | None = "North",
        tracks: tuple[str, ...] = ("consultants",),
        roles: str = Role.PARTICIPANT,
    ) -> Person:
        person = Person.objects.create(
            organization=self.organization,
            employee_number=number,
            full_name=name,
            time_zone="Europe/Moscow",
            unit=self.units[unit] if unit else None,
            roles=roles,
        )
        for slug in tracks:
            Enrollment.objects.create(
                person=person, track=self.tracks[slug], enrolled_at=timezone.now()
            )
        self.people[number] = person
        return person


def marathon(organization: Organization, slug: str = "spring") -> Marathon:
    program = Program.objects.create(
        organization=organization,
        slug=slug,
        title=f"Marathon {slug}",
        starts_on=START,
        ends_on=START + dt.timedelta(days=15),
        learning_weekdays="mon,wed,fri",
    )
    tracks = {
        "consultants": Track.objects.create(
            program=program, slug="consultants", title="Consultants"
        ),
        "seniors": Track.objects.create(
            program=program, slug="seniors", title="Seniors", position=1
        ),
    }
    units = {
        name: Unit.objects.get_or_create(organization=organization, name=name)[0]
        for name in ("North", "South", "East")
    }
    return Marathon(organization, program, tracks, units)


def award(
    m: Marathon,
    person: Person,
    amount: str | int | Decimal,
    *,
    source: str = "learning",
    on: dt.date = START,
) -> PointsEntry:
    """Append a ledger entry (through the scoring services when they exist)."""
    key = f"test:{next(_keys)}"
    if _points_append is not None:
        entry, _created = _points_append(
            program=m.program, person=person, source=source, amount=Decimal(amount),
            reason="test", reference=key, idempotency_key=key, occurred_on=on,
        )
        return entry
    return PointsEntry.objects.create(
        organization=m.organization, program=m.program, person=person, source=source,
        amount=Decimal(amount), reason="test", reference=key, idempotency_key=key,
        occurred_on=on, created_at=timezone.now(),
    )


def reverse(m: Marathon, entry: PointsEntry) -> PointsEntry:
    if _points_reverse is not None:
        result = _points_reverse(entry=entry, reason="correction")
        return result[0] if isinstance(result, tuple) else result
    key = f"test:{next(_keys)}"
    return PointsEntry.objects.create(
        organization=entry.organization, program=entry.program, person=entry.person,
        source=entry.source, amount=-entry.amount, reason="correction",
        reference=entry.reference, idempotency_key=key, occurred_on=entry.occurred_on,
        reverses=entry, created_at=timezone.now(),
    )
