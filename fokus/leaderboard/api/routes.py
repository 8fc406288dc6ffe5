"""Leaderboards over REST: the board, "my place", the team board and exports.

Mounted at /api/v1/leaderboards. Programs are looked up inside the caller's
organisation (another organisation's slug is a 404, like an unknown one). The board's
mode (anonymous, neighbours only) applies to participants; admins, viewers, curators
and supervisors see everything and may download the spreadsheets.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from fokus.core.api.errors import ERROR_RESPONSES
from fokus.core.tenancy import request_organization
from fokus.leaderboard import exports, queries
from fokus.leaderboard.models import PROGRAM_PERIOD
from fokus.people.models import Person
from fokus.programs.models import Program, Track

router = Router(tags=["leaderboards"])


class RowOut(Schema):
    rank: int
    rank_change: int | None
    employee_number: str | None
    name: str | None
    unit: str | None
    learning: float
    kpi: float
    total: float
    is_me: bool


class BoardOut(Schema):
    program: str
    period: str
    track: str | None
    mode: str
    rows: list[RowOut]


class PlaceOut(Schema):
    program: str
    period: str
    track: str | None
    row: RowOut | None
    above: list[RowOut]
    below: list[RowOut]


class TeamOut(Schema):
    rank: int
    unit: str
    members: int
    learners: int
    learner_share: float
    learning: float
    kpi: float
    total: float
    average: float


class TeamBoardOut(Schema):
    program: str
    period: str
    rows: list[TeamOut]


class BoardQuery(Schema):
    track: str | None = Field(None, description="a track slug: that track's board")
    period: str = Field(PROGRAM_PERIOD, description="program, week:YYYY-Www or day:YYYY-MM-DD")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class PlaceQuery(Schema):
    track: str | None = None
    period: str = PROGRAM_PERIOD
    neighbours: int = Field(3, ge=0, le=50)


class TeamQuery(Schema):
    period: str = PROGRAM_PERIOD


class ExportQuery(Schema):
    track: str | None = None
    period: str = PROGRAM_PERIOD
    teams: bool = False


# --- helpers ----------------------------------------------------------------------------


def _viewer(request: HttpRequest) -> Person | None:
    person = getattr(request, "person", None)
    organization = request_organization(request)
    if person is not None and person.organization_id != organization.pk:
        return None
    return person


def _full_access(request: HttpRequest) -> bool:
    return queries.has_full_access(
        _viewer(request), is_superuser=bool(getattr(request.user, "is_superuser", False))
    )


def _program(request: HttpRequest, slug: str) -> Program:
    program = queries.program_for_board(request_organization(request), slug)
    if program is None:
        raise HttpError(404, _("Not found."))
    return program


def _track(program: Program, slug: str | None) -> Track | None:
    if not slug:
        return None
    track = queries.track_for_board(program, slug)
    if track is None:
        raise HttpError(404, _("Not found."))
    return track


def _period(text: str) -> str:
    try:
        return queries.parse_period(text)
    except queries.PeriodError as exc:
        raise HttpError(400, str(exc)) from None


def _row(row: queries.BoardRow) -> dict[str, Any]:
    return {
        "rank": row.rank,
        "rank_change": row.rank_change,
        "employee_number": row.employee_number,
        "name": row.name,
        "unit": row.unit,
        "learning": exports.number(row.learning),
        "kpi": exports.number(row.kpi),
        "total": exports.number(row.total),
        "is_me": row.is_me,
    }


# --- routes -----------------------------------------------------------------------------


@router.get(
    "/{program_slug}", response={200: BoardOut, **ERROR_RESPONSES},
    operation_id="leaderboards_board",
)
def leaderboards_board(
    request: HttpRequest, program_slug: str, filters: Query[BoardQuery]
) -> dict[str, Any]:
    """The board in rank order (ties share a rank), with learning, KPI and total."""
    program = _program(request, program_slug)
    track = _track(program, filters.track)
    period = _period(filters.period)
    full = _full_access(request)
    rows = queries.visible_board(
        program=program, viewer=_viewer(request), full_access=full, period=period,
        track=track, limit=filters.limit, offset=filters.offset,
    )
    return {
        "program": program.slug,
        "period": period,
        "track": track.slug if track else None,
        "mode": "normal" if full else queries.board_settings(program).mode,
        "rows": [_row(r) for r in rows],
    }


@router.get(
    "/{program_slug}/me", response={200: PlaceOut, **ERROR_RESPONSES},
    operation_id="leaderboards_me",
)
def leaderboards_me(
    request: HttpRequest, program_slug: str, filters: Query[PlaceQuery]
) -> dict[str, Any]:
    """The caller's place with neighbours above and below; `row` is null without points."""
    program = _program(request, program_slug)
    track = _track(program, filters.track)
    period = _period(filters.period)
    viewer = _viewer(request)
    place = None
    if viewer is not None:
        place = queries.visible_place(
            program=program, viewer=viewer, full_access=_full_access(request), period=period,
            track=track, neighbours=filters.neighbours,
        )
    return {
        "program": program.slug,
        "period": period,
        "track": track.slug if track else None,
        "row": _row(place.row) if place else None,
        "above": [_row(r) for r in place.above] if place else [],
        "below": [_row(r) for r in place.below] if place else [],
    }


@router.get(
    "/{program_slug}/teams", response={200: TeamBoardOut, **ERROR_RESPONSES},
    operation_id="leaderboards_teams",
)
def leaderboards_teams(
    request: HttpRequest, program_slug: str, filters: Query[TeamQuery]
) -> dict[str, Any]:
    """Units ranked by points per enrolled member, with the share who earned learning points."""
    program = _program(request, program_slug)
    period = _period(filters.period)
    return {
        "program": program.slug,
        "period": period,
        "rows": [exports.team_dict(r) for r in queries.team_board(program, period)],
    }


def _export(
    request: HttpRequest, program_slug: str, filters: ExportQuery, kind: str
) -> HttpResponse:
    program = _program(request, program_slug)
    track = _track(program, filters.track)
    period = _period(filters.period)
    if not _full_access(request):
        raise HttpError(
            403, _("Only admins, viewers, curators and supervisors may download boards.")
        )
    rows: list[Any]
    if filters.teams:
        rows = queries.team_board(program, period)
    else:
        rows = queries.board(program, period, track, limit=1_000_000)
    name = f"{program.slug}-{period.replace(':', '-')}" + (f"-{track.slug}" if track else "")
    if filters.teams:
        name += "-teams"
    if kind == "csv":
        response = HttpResponse(
            exports.to_csv(rows, teams=filters.teams), content_type="text/csv; charset=utf-8"
        )
    else:
        response = HttpResponse(
            exports.to_xlsx(rows, title=period, teams=filters.teams),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
    return response


_CSV = {200: {"description": "The board as CSV", "content": {"text/csv": {}}}}
_XLSX = {
    200: {
        "description": "The board as an Excel workbook",
        "content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}},
    }
}


@router.get(
    "/{program_slug}/export.csv", response={200: str, **ERROR_RESPONSES},
    operation_id="leaderboards_export_csv", openapi_extra={"responses": _CSV},
)
def leaderboards_export_csv(
    request: HttpRequest, program_slug: str, filters: Query[ExportQuery]
) -> HttpResponse:
    """The whole board (or team board) as CSV (`;`, UTF-8 with BOM); not for participants."""
    return _export(request, program_slug, filters, "csv")


@router.get(
    "/{program_slug}/export.xlsx", response={200: str, **ERROR_RESPONSES},
    operation_id="leaderboards_export_xlsx", openapi_extra={"responses": _XLSX},
)
def leaderboards_export_xlsx(
    request: HttpRequest, program_slug: str, filters: Query[ExportQuery]
) -> HttpResponse:
    """The whole board (or team board) as an XLSX workbook; not for participants."""
    return _export(request, program_slug, filters, "xlsx")
