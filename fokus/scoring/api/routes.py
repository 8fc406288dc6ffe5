"""Scoring over REST: rules with the share report, bonuses, a person's ledger.

Programs and people are looked up inside `request.organization`, so another
organisation's slug or employee number is a 404 like an unknown one.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import ConfigDict, Field

from fokus.core.api.errors import ERROR_RESPONSES, error_body
from fokus.core.models import Organization
from fokus.core.tenancy import request_organization
from fokus.people.models import Person, Role
from fokus.people.queries import person_by_employee_number
from fokus.programs.models import Program
from fokus.programs.queries import program_by_slug
from fokus.scoring import queries
from fokus.scoring.guarantee import KpiRuleSpec
from fokus.scoring.services import (
    BonusRefused,
    RulesRejected,
    bonus_award,
    scoring_rules_save,
)

router = Router(tags=["scoring"])

Number = str | float | int


class KpiRuleIO(Schema):
    model_config = ConfigDict(extra="forbid")

    metric: str = Field(min_length=1, max_length=64)
    points_per_unit: Number
    cap_per_day: Number | None = None
    cap_per_program: Number | None = None


class BonusLimitsIO(Schema):
    model_config = ConfigDict(extra="forbid")

    max_per_entry: Number
    max_per_person: Number


class RulesIn(Schema):
    model_config = ConfigDict(extra="forbid")

    grade_points: dict[str, Number]
    min_learning_share: Number = Field(description="A fraction: 0.6 for 60%.")
    kpi: list[KpiRuleIO] = Field(max_length=50)
    bonus: BonusLimitsIO


class RulesDataOut(Schema):
    grade_points: dict[str, str]
    min_learning_share: str
    kpi: list[dict[str, str | None]]
    bonus: dict[str, str]


class TrackShareOut(Schema):
    track: str
    title: str
    tasks: int
    participants: int
    earns_kpi: bool
    max_learning: str
    max_kpi: str | None
    max_bonus: str
    learning_share: str | None
    holds: bool


class ShareReportOut(Schema):
    holds: bool
    min_learning_share: str
    days: int
    binding_track: str | None
    max_learning: str
    max_kpi: str | None
    max_bonus: str
    explanation: str
    suggestions: list[str]
    suggested_program_caps: dict[str, str]
    tracks: list[TrackShareOut]


class RulesOut(Schema):
    program: str
    rules: RulesDataOut
    share_report: ShareReportOut


class BonusIn(Schema):
    model_config = ConfigDict(extra="forbid")

    employee_number: str = Field(min_length=1, max_length=64)
    points: Number
    reason: str = Field(min_length=1, max_length=300)
    request_id: str | None = Field(
        default=None, max_length=100,
        description="Your id for this award: sending it again returns the first bonus.",
    )


class EntryOut(Schema):
    id: int
    occurred_on: str
    source: str
    amount: str
    quantity: str | None
    reason: str
    reference: str
    reverses: int | None
    created_by: str | None
    created_at: str
    running_total: str


class TotalsOut(Schema):
    learning: str
    kpi: str
    bonus: str
    other: str
    total: str


class PersonOut(Schema):
    employee_number: str
    full_name: str


class LedgerOut(Schema):
    program: str
    person: PersonOut
    totals: TotalsOut
    entries: list[EntryOut]


# --- access -----------------------------------------------------------------------------


def _caller(request: HttpRequest) -> Person | None:
    person = getattr(request, "person", None)
    organization = request_organization(request)
    if person is not None and person.organization_id != organization.pk:
        return None
    return person


def _is_superuser(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_superuser", False))


def _program_or_404(organization: Organization, slug: str) -> Program:
    program = program_by_slug(organization, slug)
    if program is None:
        raise HttpError(404, _("Not found."))
    return program


def _person_or_404(organization: Organization, number: str) -> Person:
    person = person_by_employee_number(organization=organization, employee_number=number)
    if person is None:
        raise HttpError(404, _("Not found."))
    return person


def _rules_body(program: Program) -> dict[str, Any]:
    return {
        "program": program.slug,
        "rules": queries.rules_as_data(queries.scoring_rules_for(program)),
        "share_report": queries.share_report_data(queries.learning_share_report(program)),
    }


# --- routes -----------------------------------------------------------------------------


@router.get(
    "/programs/{slug}/rules",
    response={200: RulesOut, **ERROR_RESPONSES},
    operation_id="scoring_rules_show",
)
def scoring_rules_show(request: HttpRequest, slug: str) -> Any:
    """The program's scoring rules and the learning-first share report (created with
    defaults on first use)."""
    return _rules_body(_program_or_404(request_organization(request), slug))


@router.put(
    "/programs/{slug}/rules",
    response={200: RulesOut, **ERROR_RESPONSES},
    operation_id="scoring_rules_update",
)
def scoring_rules_update(request: HttpRequest, slug: str, payload: RulesIn) -> Any:
    """Replace the rules (admins). A set that breaks the learning-first share answers 400:
    `detail` names the numbers and the caps that would fit; nothing is saved."""
    program = _program_or_404(request_organization(request), slug)
    caller = _caller(request)
    if not _is_superuser(request) and (caller is None or not caller.has_role(Role.ADMIN)):
        return Status(403, error_body(403, _("Only admins of the organisation set scoring rules.")))
    try:
        scoring_rules_save(
            program=program,
            grade_points=payload.grade_points,  # type: ignore[arg-type]
            min_learning_share=payload.min_learning_share,  # type: ignore[arg-type]
            kpi_rules=[
                KpiRuleSpec(r.metric, r.points_per_unit, r.cap_per_day,  # type: ignore[arg-type]
                            r.cap_per_program)  # type: ignore[arg-type]
                for r in payload.kpi
            ],
            bonus_max_per_entry=payload.bonus.max_per_entry,  # type: ignore[arg-type]
            bonus_max_per_person=payload.bonus.max_per_person,  # type: ignore[arg-type]
        )
    except RulesRejected as exc:
        detail = (
            " ".join(m for f, m in exc.problems if not f)
            or _("The scoring rules have errors; nothing was saved.")
        )
        return Status(
            400,
            error_body(400, detail, [{"field": f, "message": m} for f, m in exc.problems if f]),
        )
    return Status(200, _rules_body(program))


@router.post(
    "/programs/{slug}/bonuses",
    response={201: EntryOut, **ERROR_RESPONSES},
    operation_id="scoring_bonus_award",
)
def scoring_bonus_award(request: HttpRequest, slug: str, payload: BonusIn) -> Any:
    """Award a bonus to a participant: a manager up their chain or an admin, with a reason,
    within the program's limits. The caller's own person is the awarder."""
    organization = request_organization(request)
    program = _program_or_404(organization, slug)
    person = _person_or_404(organization, payload.employee_number)
    awarder = _caller(request)
    try:
        points = Decimal(str(payload.points).replace(",", "."))
    except InvalidOperation:
        return Status(400, error_body(400, _("The points are not a number."),
                                      [{"field": "points", "message": str(payload.points)}]))
    if awarder is None:
        return Status(403, error_body(403, _("Only people of the organisation award bonuses.")))
    try:
        entry = bonus_award(
            program=program, person=person, amount=points,
            reason=payload.reason, awarded_by=awarder, request_key=payload.request_id,
        )
    except BonusRefused as exc:
        status = 403 if exc.permission else 400
        return Status(status, error_body(status, str(exc)))
    row = queries.LedgerRow(entry=entry, running_total=queries.person_totals(program, person).total)
    return Status(201, queries.ledger_row_data(row))


@router.get(
    "/programs/{slug}/ledger/{employee_number}",
    response={200: LedgerOut, **ERROR_RESPONSES},
    operation_id="scoring_ledger",
)
def scoring_ledger(request: HttpRequest, slug: str, employee_number: str) -> Any:
    """A person's entries with running totals. Visible to the person, their managers up
    the chain, and admins, viewers and curators of the organisation."""
    organization = request_organization(request)
    program = _program_or_404(organization, slug)
    person = _person_or_404(organization, employee_number)
    caller = _caller(request)
    allowed = _is_superuser(request) or (
        caller is not None
        and (
            caller.pk == person.pk
            or bool(caller.role_set & {Role.ADMIN.value, Role.VIEWER.value, Role.CURATOR.value})
            or queries.person_manages(caller, person)
        )
    )
    if not allowed:
        return Status(403, error_body(403, _("You do not have permission to do this.")))
    return Status(200, {
        "program": program.slug,
        "person": {"employee_number": person.employee_number, "full_name": person.full_name},
        "totals": queries.person_totals(program, person).as_data(),
        "entries": [queries.ledger_row_data(r) for r in queries.ledger_entries(program, person)],
    })
