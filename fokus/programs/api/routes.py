"""Programs over REST: list, show, the matrix file, import, enrollment, schedules.

Every route reads `request.organization` (set by authentication) and looks programs
up inside it, so another organisation's slug is a 404 like an unknown one.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import ConfigDict, Field

from fokus.core.api.errors import ERROR_RESPONSES, error_body
from fokus.core.models import Organization
from fokus.core.tenancy import request_organization
from fokus.people.models import Person
from fokus.people.queries import person_by_employee_number
from fokus.programs.matrix import MatrixError
from fokus.programs.models import Program
from fokus.programs.queries import (
    people_by_employee_numbers,
    person_contact_points,
    program_by_slug,
    program_matrix_text,
    program_show,
    program_track,
    programs_of,
    schedule_rows,
)
from fokus.programs.services import ProgramImportError, program_enroll, program_import

router = Router(tags=["programs"])

MAX_MATRIX_BYTES = 2 * 1024 * 1024


# --- schemas ----------------------------------------------------------------------------


class ProgramListItemOut(Schema):
    slug: str
    title: str
    kind: str
    starts_on: str
    ends_on: str


class MaterialOut(Schema):
    title: str
    minutes: int


class TaskOut(Schema):
    title: str
    answer_kinds: list[str]
    grade_max: int


class DaySlotOut(Schema):
    local_time: str
    kind: str
    materials: list[MaterialOut]
    tasks: list[TaskOut]


class DayOut(Schema):
    index: int
    date: str
    slots: list[DaySlotOut]


class TrackOut(Schema):
    slug: str
    title: str
    follows: str | None
    days: list[DayOut]


class SlotOut(Schema):
    local_time: str
    kind: str


class ProgramOut(Schema):
    slug: str
    title: str
    kind: str
    starts_on: str
    ends_on: str
    learning_weekdays: list[str]
    slots: list[SlotOut]
    tracks: list[TrackOut]


class EnrollmentIn(Schema):
    model_config = ConfigDict(extra="forbid")

    track: str = Field(min_length=1, max_length=64)
    employee_numbers: list[str] = Field(min_length=1, max_length=10_000)
    with_supervisors: bool = False


class SupervisorsOut(Schema):
    enrolled: list[str]
    already_enrolled: list[str]


class EnrollmentOut(Schema):
    program: str
    track: str
    enrolled: list[str]
    already_enrolled: list[str]
    supervisors: dict[str, SupervisorsOut]


class ContactPointOut(Schema):
    day: int
    kind: str
    local: str
    utc: str


# --- access -----------------------------------------------------------------------------


def _caller(request: HttpRequest) -> Person | None:
    person = getattr(request, "person", None)
    organization = request_organization(request)
    if person is not None and person.organization_id != organization.pk:
        return None
    return person


def _is_superuser(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_superuser", False))


def _require_role(request: HttpRequest, *roles: str) -> None:
    if _is_superuser(request):
        return
    person = _caller(request)
    if person is None or not any(person.has_role(r) for r in roles):
        raise HttpError(403, _("You do not have permission to do this."))


def _program_or_404(organization: Organization, slug: str) -> Program:
    program = program_by_slug(organization, slug)
    if program is None:
        raise HttpError(404, _("Not found."))
    return program


def _may_see_schedule(request: HttpRequest, person: Person) -> bool:
    if _is_superuser(request):
        return True
    caller = _caller(request)
    if caller is None:
        return False
    if caller.pk == person.pk or caller.role_set & {"curator", "admin", "viewer"}:
        return True
    # Managers up the chain; `seen` stops a corrupt manager cycle.
    seen: set[int] = {person.pk}
    manager_id = person.manager_id
    while manager_id is not None and manager_id not in seen:
        if manager_id == caller.pk:
            return True
        seen.add(manager_id)
        manager_id = (
            Person.objects.filter(pk=manager_id, organization_id=person.organization_id)
            .values_list("manager_id", flat=True)
            .first()
        )
    return False


# --- routes -----------------------------------------------------------------------------


@router.get(
    "", response={200: list[ProgramListItemOut], **ERROR_RESPONSES}, operation_id="programs_list"
)
def programs_list(request: HttpRequest) -> list[dict[str, Any]]:
    """The organisation's programs, newest first."""
    return [
        {
            "slug": p.slug,
            "title": p.title,
            "kind": p.kind,
            "starts_on": p.starts_on.isoformat(),
            "ends_on": p.ends_on.isoformat(),
        }
        for p in programs_of(request_organization(request))
    ]


@router.post(
    "/import",
    response={200: ProgramOut, **ERROR_RESPONSES},
    operation_id="programs_import",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/yaml": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        }
    },
)
def programs_import(request: HttpRequest) -> Any:
    """Create or update a program from a matrix file (YAML body, or multipart `file`).

    Authors and admins only. A bad file answers 400 with one entry per problem
    (`field` is the key path, `message` names the file and line); nothing is written.
    """
    organization = request_organization(request)
    _require_role(request, "author", "admin")
    upload = request.FILES.get("file")
    if upload is not None:
        raw, source = upload.read(MAX_MATRIX_BYTES + 1), upload.name or "matrix.yaml"
    else:
        raw, source = request.body, "matrix.yaml"
    if len(raw) > MAX_MATRIX_BYTES:
        return Status(400, error_body(400, _("The matrix file is larger than 2 MB.")))
    if not raw.strip():
        detail = _("Send the matrix as a YAML body or as a multipart “file”.")
        return Status(400, error_body(400, detail))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Status(400, error_body(400, _("%(file)s: not UTF-8 text.") % {"file": source}))
    try:
        program = program_import(organization=organization, text=text, source_name=source)
    except MatrixError as exc:
        return Status(
            400,
            error_body(
                400,
                _("The matrix file has errors; nothing was imported."),
                [{"field": i.path, "message": str(i)} for i in exc.issues],
            ),
        )
    except ProgramImportError as exc:
        return Status(400, error_body(400, str(exc)))
    return Status(200, program_show(program))


@router.get("/{slug}", response={200: ProgramOut, **ERROR_RESPONSES}, operation_id="programs_show")
def programs_show(request: HttpRequest, slug: str) -> dict[str, Any]:
    """Tracks (with the track each follows), learning days, slots, materials and tasks."""
    return program_show(_program_or_404(request_organization(request), slug))


@router.get(
    "/{slug}/matrix",
    response={200: str, **ERROR_RESPONSES},
    operation_id="programs_matrix",
    openapi_extra={
        "responses": {200: {"description": "The matrix file", "content": {"application/yaml": {}}}}
    },
)
def programs_matrix(request: HttpRequest, slug: str) -> HttpResponse:
    """The program's matrix file in canonical form (as `fokus program export`)."""
    program = _program_or_404(request_organization(request), slug)
    response = HttpResponse(
        program_matrix_text(program), content_type="application/yaml; charset=utf-8"
    )
    response["Content-Disposition"] = f'inline; filename="{program.slug}.yaml"'
    return response


@router.post(
    "/{slug}/enrollments",
    response={200: EnrollmentOut, **ERROR_RESPONSES},
    operation_id="programs_enroll",
)
def programs_enroll(request: HttpRequest, slug: str, payload: EnrollmentIn) -> Any:
    """Enrol people by employee number (admins). Enrolling twice changes nothing."""
    organization = request_organization(request)
    program = _program_or_404(organization, slug)
    _require_role(request, "admin")
    track = program_track(program, payload.track)
    if track is None:
        return Status(
            400,
            error_body(
                400,
                _('Program "%(program)s" has no track "%(track)s".')
                % {"program": program.slug, "track": payload.track},
                [{"field": "track", "message": _("unknown track")}],
            ),
        )
    numbers = list(dict.fromkeys(n.strip() for n in payload.employee_numbers if n.strip()))
    people = people_by_employee_numbers(organization, numbers)
    unknown = [n for n in numbers if n not in people]
    if unknown:
        return Status(
            400,
            error_body(
                400,
                _("Unknown employee numbers: %(numbers)s. Nothing was enrolled.")
                % {"numbers": ", ".join(unknown)},
                [{"field": "employee_numbers", "message": n} for n in unknown],
            ),
        )
    report = program_enroll(
        program=program,
        track=track,
        people=[people[n] for n in numbers],
        with_supervisors=payload.with_supervisors,
    )
    return Status(
        200,
        {
            "program": program.slug,
            "track": track.slug,
            "enrolled": [p.employee_number for p in report.enrolled],
            "already_enrolled": [p.employee_number for p in report.already_enrolled],
            "supervisors": {
                slug: {
                    "enrolled": [p.employee_number for p in enrolled],
                    "already_enrolled": [p.employee_number for p in already],
                }
                for slug, (enrolled, already) in report.supervisors.items()
            },
        },
    )


@router.get(
    "/{slug}/schedule/{employee_number}",
    response={200: list[ContactPointOut], **ERROR_RESPONSES},
    operation_id="programs_schedule",
)
def programs_schedule(request: HttpRequest, slug: str, employee_number: str) -> Any:
    """A person's contact points: local time with their offset, and UTC.

    Visible to the person, their managers up the chain, and curators, admins and
    viewers of the organisation.
    """
    organization = request_organization(request)
    program = _program_or_404(organization, slug)
    person = person_by_employee_number(organization=organization, employee_number=employee_number)
    if person is None:
        raise HttpError(404, _("Not found."))
    if not _may_see_schedule(request, person):
        return Status(403, error_body(403, _("You do not have permission to do this.")))
    return Status(200, schedule_rows(person_contact_points(program=program, person=person)))
