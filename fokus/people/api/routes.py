"""/api/v1/people: the organisation's roster, and roster import (docs/roster-format.md)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import ConfigDict, Field

from fokus.core.api.errors import ERROR_RESPONSES
from fokus.core.tenancy import request_organization
from fokus.people.models import Person, Role
from fokus.people.queries import people_list, person_by_employee_number, person_can_import_roster
from fokus.people.services import RosterImportReport, roster_import

router = Router(tags=["people"])


class PersonOut(Schema):
    employee_number: str
    full_name: str
    email: str
    time_zone: str
    position: str
    unit: str | None
    manager: str | None = Field(description="the direct manager's employee number")
    roles: list[str]


class PeoplePageOut(Schema):
    count: int
    items: list[PersonOut]


class PeopleQuery(Schema):
    model_config = ConfigDict(extra="forbid")

    unit: str | None = Field(None, description="only people of this unit (exact name)")
    role: Role | None = Field(None, description="only people with this role")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class UpdatedPersonOut(Schema):
    employee_number: str
    row: int | None
    fields: list[str]


class RejectedRowOut(Schema):
    row: int
    employee_number: str
    reasons: list[str]


class ReportCountsOut(Schema):
    rows: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    units_created: int
    units_updated: int


class RosterReportOut(Schema):
    file: str
    dry_run: bool
    ok: bool
    written: bool
    counts: ReportCountsOut
    created: list[str]
    updated: list[UpdatedPersonOut]
    unchanged: int
    rejected: list[RejectedRowOut]
    errors: list[str] = Field(description="problems with the file as a whole")
    units_created: list[str]
    units_updated: list[str]


def person_out(person: Person) -> PersonOut:
    return PersonOut(
        employee_number=person.employee_number,
        full_name=person.full_name,
        email=person.email,
        time_zone=person.time_zone,
        position=person.position,
        unit=person.unit.name if person.unit else None,
        manager=person.manager.employee_number if person.manager else None,
        roles=sorted(person.role_set),
    )


@router.get("", response={200: PeoplePageOut, **ERROR_RESPONSES}, operation_id="people_list")
def list_people(request: HttpRequest, filters: Query[PeopleQuery]) -> PeoplePageOut:
    """People of the caller's organisation, by employee number, a page at a time."""
    organization = request_organization(request)
    people = people_list(
        organization=organization, unit=filters.unit,
        role=str(filters.role) if filters.role else None,
    )
    page = people[filters.offset:filters.offset + filters.limit]
    return PeoplePageOut(count=people.count(), items=[person_out(p) for p in page])


@router.post(
    "/import",
    response={200: RosterReportOut, **ERROR_RESPONSES, 400: RosterReportOut},
    operation_id="people_import",
)
def import_roster(
    request: HttpRequest,
    file: File[UploadedFile],
    dry_run: Form[bool] = False,
) -> Status[RosterReportOut]:
    """Import a roster (CSV or XLSX). All or nothing: with any rejected row (400, the
    report lists them) nothing is written. Admins of the organisation only."""
    organization = request_organization(request)
    if not person_can_import_roster(request.user, getattr(request, "person", None)):
        raise PermissionDenied
    report: RosterImportReport = roster_import(
        organization=organization, source=file.read(), filename=file.name or "roster",
        dry_run=dry_run,
    )
    return Status(200 if report.ok else 400, RosterReportOut(**report.as_dict()))


@router.get(
    "/{employee_number}",
    response={200: PersonOut, **ERROR_RESPONSES},
    operation_id="people_detail",
)
def person_detail(request: HttpRequest, employee_number: str) -> PersonOut:
    """One person of the caller's organisation; 404 for anyone else's."""
    organization = request_organization(request)
    person = person_by_employee_number(organization=organization, employee_number=employee_number)
    if person is None:
        raise Http404
    return person_out(person)


