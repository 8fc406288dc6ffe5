"""Reads about people and units."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from fokus.core.models import Organization
from fokus.people.models import Person, Role


def person_for_user(user: Any) -> Person | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return Person.objects.select_related("organization", "unit").filter(user=user).first()


def person_by_employee_number(*, organization: Organization, employee_number: str) -> Person | None:
    return (
        Person.objects.select_related("unit", "manager")
        .filter(organization=organization, employee_number=employee_number)
        .first()
    )


def people_list(
    *, organization: Organization, unit: str | None = None, role: str | None = None
) -> QuerySet[Person]:
    """The organisation's people by employee number, optionally of one unit or role."""
    people = Person.objects.select_related("unit", "manager").filter(organization=organization)
    if unit:
        people = people.filter(unit__name=unit)
    if role:
        # Roles are stored comma-separated and no role name contains another (see
        # Person.roles), so `contains` is an exact membership test.
        people = people.filter(roles__contains=role)
    return people.order_by("employee_number")


def person_can_import_roster(user: Any, person: Person | None) -> bool:
    """Roster imports are for the organisation's admins (and Django staff)."""
    if getattr(user, "is_staff", False):
        return True
    return person is not None and person.has_role(Role.ADMIN)
