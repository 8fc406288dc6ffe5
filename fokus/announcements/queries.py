"""Reads for announcements: who may edit them, their audience, their delivery progress."""

from __future__ import annotations

from django.db.models import QuerySet

from fokus.announcements.models import Announcement
from fokus.core.models import Organization
from fokus.delivery.operator import DropProgress, drop_progress_of
from fokus.people.models import Person, Role, Unit
from fokus.programs.models import EnrollmentStatus, Program


def person_may_edit_announcements(person: Person | None) -> bool:
    """Admins and the L&D team (authors of programs) write and send announcements."""
    return person is not None and (person.has_role(Role.ADMIN) or person.has_role(Role.AUTHOR))


def announcements_list(*, organization: Organization) -> QuerySet[Announcement]:
    return (
        Announcement.objects.filter(organization=organization)
        .select_related("program", "unit", "created_by")
        .defer("image")
        .order_by("-created_at", "-pk")
    )


def announcement_get(*, organization: Organization, announcement_id: int) -> Announcement | None:
    return (
        Announcement.objects.select_related("program", "unit", "created_by", "sent_by")
        .filter(organization=organization, pk=announcement_id)
        .first()
    )


def announcement_audience(announcement: Announcement) -> QuerySet[Person]:
    """Active people of the organisation, narrowed by the program and/or the unit."""
    people = Person.objects.filter(organization_id=announcement.organization_id, is_active=True)
    if announcement.program_id is not None:
        people = people.filter(
            enrollments__track__program_id=announcement.program_id,
            enrollments__status=EnrollmentStatus.ACTIVE,
        )
    if announcement.unit_id is not None:
        people = people.filter(unit_id=announcement.unit_id)
    return people.distinct().order_by("pk")


def announcement_progress(announcement: Announcement) -> DropProgress | None:
    return drop_progress_of(
        organization=announcement.organization, contact_point=announcement.contact_point
    )


def programs_for_audience(*, organization: Organization) -> QuerySet[Program]:
    return Program.objects.filter(organization=organization).order_by("title")


def units_for_audience(*, organization: Organization) -> QuerySet[Unit]:
    return Unit.objects.filter(organization=organization).order_by("name")


def unit_get(*, organization: Organization, unit_id: int) -> Unit | None:
    return Unit.objects.filter(organization=organization, pk=unit_id).first()
