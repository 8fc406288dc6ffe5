"""Insights over REST, read-only, for BI tools: the dashboard, the uplift report, xAPI.

Mounted at /api/v1/insights. Viewers and admins only. Besides the bearer token and the
browser session, these GET routes accept the token in the query string (`?token=fk_…`)
because Google Sheets (IMPORTDATA) and Looker Studio can only fetch a plain URL; such a
URL ends up in spreadsheets and logs, so a query-string token is accepted only when its
user is a viewer and not an admin (docs/insights.md: create a dedicated viewer login).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.security import APIKeyQuery
from pydantic import Field

from fokus.core import clock
from fokus.core.api.auth import ApiTokenAuth, SessionOrganizationAuth
from fokus.core.api.errors import ERROR_RESPONSES
from fokus.core.services import api_token_authenticate
from fokus.core.tenancy import request_organization
from fokus.insights import exports, queries
from fokus.people.models import Person, Role
from fokus.programs.models import Program

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class FeedTokenAuth(APIKeyQuery):
    """`?token=` for tools that cannot send headers; viewer-only logins."""

    param_name = "token"
    openapi_description = "?token=<API token of a viewer-only login> (Google Sheets, Looker Studio)"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if not key:
            return None
        api_token = api_token_authenticate(key.strip())
        if api_token is None:
            raise AuthenticationError(401, _("Invalid or revoked API token."))
        person = getattr(api_token.user, "person", None)
        if (person is None or person.organization_id != api_token.organization_id
                or not person.has_role(Role.VIEWER) or person.has_role(Role.ADMIN)):
            raise AuthenticationError(
                401, _("A token in the URL must belong to a viewer-only login.")
            )
        request.user = api_token.user
        request.organization = api_token.organization  # type: ignore[attr-defined]
        request.person = person  # type: ignore[attr-defined]
        return api_token


router = Router(
    tags=["insights"], auth=[ApiTokenAuth(), FeedTokenAuth(), SessionOrganizationAuth()]
)


class DashboardQuery(Schema):
    date_from: date | None = Field(None, description="first day of the activity range")
    date_to: date | None = Field(None, description="last day of the activity range")
    completion: int | None = Field(None, ge=1, le=100,
                                   description="completed at this % of tasks graded")


class SectionQuery(DashboardQuery):
    section: str = Field("units", description="funnel, activity, units, regions, kpi or board")


class UpliftQuery(Schema):
    baseline_days: int | None = Field(None, ge=7, le=730,
                                      description="baseline length before the start, days")


class UpliftSectionQuery(UpliftQuery):
    table: str = Field("estimates", description="estimates or summary")


class XapiQuery(Schema):
    since: datetime | None = Field(None, description="only events after this instant")
    limit: int = Field(1000, ge=1, le=10000)


def _program(request: HttpRequest, program_slug: str) -> Program:
    person: Person | None = getattr(request, "person", None)
    if not queries.person_may_see_insights(person, is_superuser=request.user.is_superuser):
        raise HttpError(403, _("Only viewers and admins may see insights."))
    program = queries.program_by_slug(request_organization(request), program_slug)
    if program is None:
        raise HttpError(404, _("No such program."))
    return program


def _dashboard_tables(request: HttpRequest, program_slug: str,
                      filters: DashboardQuery) -> tuple[Program, dict[str, exports.Table]]:
    program = _program(request, program_slug)
    data = queries.dashboard(program, date_from=filters.date_from, date_to=filters.date_to,
                             completion_percent=filters.completion, today=clock.now().date())
    return program, exports.dashboard_tables(data)


def _as_records(tables: dict[str, exports.Table]) -> dict[str, list[dict[str, Any]]]:
    return {name: [dict(zip(headers, row, strict=True)) for row in rows]
            for name, (headers, rows) in tables.items()}


def _file(content: str | bytes, name: str, kind: str) -> HttpResponse:
    content_type = "text/csv; charset=utf-8" if kind == "csv" else XLSX_TYPE
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
    return response


def _section(tables: dict[str, exports.Table], section: str) -> exports.Table:
    if section not in tables:
        raise HttpError(400, _("section: one of %(names)s.") % {"names": ", ".join(tables)})
    return tables[section]


_CSV = {200: {"description": "CSV", "content": {"text/csv": {}}}}
_XLSX = {200: {"description": "Excel workbook", "content": {XLSX_TYPE: {}}}}


@router.get("/programs/{program_slug}/dashboard", url_name="insights_dashboard",
            response={200: dict[str, Any], **ERROR_RESPONSES})
def dashboard(request: HttpRequest, program_slug: str,
              filters: Query[DashboardQuery]) -> dict[str, Any]:
    """Every dashboard table as lists of records (pre-aggregated, refreshed nightly)."""
    program, tables = _dashboard_tables(request, program_slug, filters)
    return {"program": program.slug, "sections": _as_records(tables)}


@router.get("/programs/{program_slug}/dashboard.csv", url_name="insights_dashboard_csv",
            response={200: str, **ERROR_RESPONSES},
            openapi_extra={"responses": _CSV})
def dashboard_csv(request: HttpRequest, program_slug: str,
                  filters: Query[SectionQuery]) -> HttpResponse:
    """One dashboard table as CSV (for Google Sheets IMPORTDATA, Looker Studio, Excel)."""
    program, tables = _dashboard_tables(request, program_slug, filters)
    table = _section(tables, filters.section)
    return _file(exports.to_csv(table), f"{program.slug}-{filters.section}", "csv")


@router.get("/programs/{program_slug}/dashboard.xlsx", url_name="insights_dashboard_xlsx",
            response={200: str, **ERROR_RESPONSES},
            openapi_extra={"responses": _XLSX})
def dashboard_xlsx(request: HttpRequest, program_slug: str,
                   filters: Query[DashboardQuery]) -> HttpResponse:
    """Every dashboard table, one sheet each."""
    program, tables = _dashboard_tables(request, program_slug, filters)
    return _file(exports.to_xlsx(tables), f"{program.slug}-dashboard", "xlsx")


def _uplift_tables(request: HttpRequest, program_slug: str,
                   filters: UpliftQuery) -> tuple[Program, dict[str, exports.Table]]:
    program = _program(request, program_slug)
    report = queries.uplift_report(program, today=clock.now().date(),
                                   baseline_days=filters.baseline_days)
    return program, exports.uplift_tables(report)


@router.get("/programs/{program_slug}/uplift", url_name="insights_uplift",
            response={200: dict[str, Any], **ERROR_RESPONSES})
def uplift(request: HttpRequest, program_slug: str,
           filters: Query[UpliftQuery]) -> dict[str, Any]:
    """Naive, difference-in-differences and matched estimates with 95% intervals; ROI."""
    program, tables = _uplift_tables(request, program_slug, filters)
    return {"program": program.slug, "sections": _as_records(tables)}


@router.get("/programs/{program_slug}/uplift.csv", url_name="insights_uplift_csv",
            response={200: str, **ERROR_RESPONSES},
            openapi_extra={"responses": _CSV})
def uplift_csv(request: HttpRequest, program_slug: str,
               filters: Query[UpliftSectionQuery]) -> HttpResponse:
    program, tables = _uplift_tables(request, program_slug, filters)
    table = _section(tables, filters.table)
    return _file(exports.to_csv(table), f"{program.slug}-uplift-{filters.table}", "csv")


@router.get("/programs/{program_slug}/uplift.xlsx", url_name="insights_uplift_xlsx",
            response={200: str, **ERROR_RESPONSES},
            openapi_extra={"responses": _XLSX})
def uplift_xlsx(request: HttpRequest, program_slug: str,
                filters: Query[UpliftQuery]) -> HttpResponse:
    program, tables = _uplift_tables(request, program_slug, filters)
    return _file(exports.to_xlsx(tables), f"{program.slug}-uplift", "xlsx")


@router.get("/programs/{program_slug}/xapi", url_name="insights_xapi",
            response={200: list[dict[str, Any]], **ERROR_RESPONSES})
def xapi(request: HttpRequest, program_slug: str,
         filters: Query[XapiQuery]) -> list[dict[str, Any]]:
    """xAPI 1.0.3 statements (opened, answered, graded, completed), oldest first.

    Page with `since` = the last statement's timestamp; ids are stable across exports.
    """
    program = _program(request, program_slug)
    base_url = request.build_absolute_uri("/")
    organization = request_organization(request)
    return [
        exports.xapi_statement(
            base_url=base_url, organization_slug=organization.slug, verb=e.verb,
            employee_number=e.employee_number, name=e.name, email=e.email,
            object_path=e.object_path, object_name=e.object_name, timestamp=e.timestamp,
            score=e.score,
        )
        for e in queries.learning_events(program, since=filters.since, limit=filters.limit)
    ]
