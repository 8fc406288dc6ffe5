"""Board pages: the participant's board (my place, learning and KPI, teams, periods).

Admins, viewers, curators and supervisors see the full board whatever its mode and get
CSV/XLSX download links (the API's export routes, which accept the browser session).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from fokus.core import clock
from fokus.core.tenancy import request_organization
from fokus.leaderboard import queries
from fokus.leaderboard.models import PROGRAM_PERIOD, BoardMode
from fokus.leaderboard.services import period_keys
from fokus.people.models import Person
from fokus.programs.models import Program

PAGE_SIZE = 50


def _full_access(request: HttpRequest) -> bool:
    person: Person | None = getattr(request, "person", None)
    return queries.has_full_access(person, is_superuser=request.user.is_superuser)


@login_required
def board_index(request: HttpRequest) -> HttpResponse:
    organization = request_organization(request)
    person: Person | None = getattr(request, "person", None)
    if _full_access(request) or person is None:
        programs = list(queries.programs_of(organization))
    else:
        programs = list(queries.programs_with_boards(person))
    if len(programs) == 1:
        return redirect("leaderboard:board", program_slug=programs[0].slug)
    return render(request, "leaderboard/index.html", {"programs": programs})


def _period_choices(program: Program) -> list[tuple[str, str]]:
    choices = [(PROGRAM_PERIOD, queries.period_label(PROGRAM_PERIOD))]
    weeks: list[str] = []
    days: list[str] = []
    day = program.starts_on
    while day <= program.ends_on:
        _, week, day_key = period_keys(day)
        if week not in weeks:
            weeks.append(week)
        days.append(day_key)
        day += timedelta(days=1)
    choices += [(w, queries.period_label(w)) for w in weeks]
    choices += [(d, queries.period_label(d)) for d in days]
    return choices


@login_required
def board(request: HttpRequest, program_slug: str) -> HttpResponse:
    organization = request_organization(request)
    program = queries.program_for_board(organization, program_slug)
    if program is None:
        raise Http404
    person: Person | None = getattr(request, "person", None)
    full = _full_access(request)
    try:
        period = queries.parse_period(request.GET.get("period"))
    except queries.PeriodError:
        period = PROGRAM_PERIOD
    track = None
    if request.GET.get("track"):
        track = queries.track_for_board(program, request.GET["track"])
        if track is None:
            raise Http404
    view = "teams" if request.GET.get("view") == "teams" else "people"
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    settings = queries.board_settings(program)
    mode = BoardMode.NORMAL if full else settings.mode
    context: dict[str, object] = {
        "program": program,
        "period": period,
        "period_label": queries.period_label(period),
        "periods": _period_choices(program),
        "today_period": period_keys(clock.now().date())[2],
        "tracks": list(program.tracks.order_by("position")),
        "track": track,
        "view": view,
        "mode": mode,
        "full_access": full,
        "page": page,
    }
    if view == "teams":
        teams = queries.team_board(program, period)
        unit_name = person.unit.name if person is not None and person.unit else None
        for team in teams:
            team.is_mine = team.unit == unit_name
        context["teams"] = teams
    else:
        place = None
        if person is not None:
            place = queries.visible_place(
                program=program, viewer=person, full_access=full, period=period, track=track
            )
        context["place"] = place
        rows = queries.visible_board(
            program=program, viewer=person, full_access=full, period=period, track=track,
            limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE,
        )
        context["rows"] = rows[:PAGE_SIZE]
        context["has_next"] = len(rows) > PAGE_SIZE and mode != BoardMode.NEIGHBOURS_ONLY
    if full:
        query = {"period": period, **({"track": track.slug} if track else {})}
        if view == "teams":
            query = {"period": period, "teams": "true"}
        base = reverse("api:leaderboards_export_csv", kwargs={"program_slug": program.slug})
        context["export_csv"] = f"{base}?{urlencode(query)}"
        base = reverse("api:leaderboards_export_xlsx", kwargs={"program_slug": program.slug})
        context["export_xlsx"] = f"{base}?{urlencode(query)}"
    return render(request, "leaderboard/board.html", context)
