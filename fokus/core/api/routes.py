"""Routes that belong to no domain app: who the caller is."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from fokus.core.api.errors import ERROR_RESPONSES
from fokus.core.tenancy import request_organization

router = Router(tags=["me"])


class OrganizationOut(Schema):
    slug: str
    name: str


class PersonOut(Schema):
    employee_number: str
    full_name: str
    roles: list[str]


class MeOut(Schema):
    username: str
    organization: OrganizationOut
    person: PersonOut | None
    auth: str


@router.get("/me", response={200: MeOut, **ERROR_RESPONSES}, operation_id="me")
def me(request: HttpRequest) -> MeOut:
    """The signed-in user or token owner, their organisation and roles in it."""
    organization = request_organization(request)
    person = getattr(request, "person", None)
    person_out = None
    if person is not None:
        person_out = PersonOut(
            employee_number=person.employee_number,
            full_name=person.full_name,
            roles=sorted(person.role_set),
        )
    auth_kind = "session" if getattr(request.auth, "key_hash", None) is None else "token"  # type: ignore[attr-defined]
    return MeOut(
        username=request.user.get_username(),
        organization=OrganizationOut(slug=organization.slug, name=organization.name),
        person=person_out,
        auth=auth_kind,
    )
