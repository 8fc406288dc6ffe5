"""Reads of the leaderboard: boards, "my place", team boards, rank change.

Every read first makes sure the board includes the whole ledger (one indexed EXISTS
query; when the ledger is ahead, the read catches the board up). So no reader ever
sees a board that disagrees with the ledger, whoever wrote the points and whether or
not they refreshed. Rows come from precomputed ranks through the (rank, name) index;
nothing here ranks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from fokus.core.models import Organization
from fokus.leaderboard.models import (
    PROGRAM_PERIOD,
    AppliedEntry,
    Board,
    BoardMode,
    BoardSettings,
    RankHistory,
    Standing,
    TeamStanding,
    TrackStanding,
)
from fokus.leaderboard.services import standings_refresh
from fokus.people.models import Person, Role
from fokus.programs.models import Program, Track
from fokus.scoring.models import PointsEntry

_WEEK = re.compile(r"^week:(\d{4})-W(\d{2})$")
_DAY = re.compile(r"^day:(\d{4}-\d{2}-\d{2})$")
# Roles that see every board in full, whatever its mode.
FULL_ACCESS_ROLES = frozenset({Role.ADMIN, Role.VIEWER, Role.CURATOR, Role.SUPERVISOR})


class PeriodError(ValueError):
    pass


def parse_period(text: str | None) -> str:
    """`program`, `week:2026-W10` or `day:2026-03-02` -> the stored period key."""
    value = (text or PROGRAM_PERIOD).strip()
    if value == PROGRAM_PERIOD:
        return value
    if match := _WEEK.match(value):
        try:
            date.fromisocalendar(int(match[1]), int(match[2]), 1)
        except ValueError:
            message = _("%(period)s: there is no such ISO week.") % {"period": value}
            raise PeriodError(message) from None
        return value
    if match := _DAY.match(value):
        try:
            date.fromisoformat(match[1])
        except ValueError:
            raise PeriodError(_("%(period)s: there is no such date.") % {"period": value}) from None
        return value
    raise PeriodError(
        _("Unknown period “%(period)s”: use program, week:YYYY-Www or day:YYYY-MM-DD.")
        % {"period": value}
    )


def period_label(period: str) -> str:
    if period == PROGRAM_PERIOD:
        return _("Whole program")
    if period.startswith("week:"):
        return _("Week %(week)s") % {"week": period[5:]}
    return _("Day %(date)s") % {"date": period[4:]}


# --- consistency ------------------------------------------------------------------------


def board_is_behind(program: Program) -> bool:
    """Is there a ledger entry the standings do not include yet? Two indexed probes."""
    with connection.cursor() as cursor:
        cursor.execute(_WATERMARK_SQL, [program.pk])
        found = cursor.fetchone()
        cursor.execute(_BEHIND_SQL, [program.pk, found[0] if found else 0, program.pk])
        return cursor.fetchone() is not None


def board_current(program: Program) -> None:
    """Catch the board up when the ledger is ahead (reads call this first)."""
    if board_is_behind(program):
        standings_refresh(program=program)


# --- rows -------------------------------------------------------------------------------


@dataclass
class BoardRow:
    rank: int
    previous_rank: int | None
    person_id: int
    employee_number: str | None
    name: str | None
    unit: str | None
    learning: Decimal
    kpi: Decimal
    bonus: Decimal
    other: Decimal
    total: Decimal
    track: str | None = None
    is_me: bool = False
    sort_name: str = ""

    @property
    def rank_change(self) -> int | None:
        """Places gained since the last snapshot (positive: moved up)."""
        if self.previous_rank is None:
            return None
        return self.previous_rank - self.rank

    def as_dict(self) -> dict[str, object]:
        row: dict[str, object] = {
            "employee_number": self.employee_number,
            "name": self.name,
            "learning": str(self.learning),
            "kpi": str(self.kpi),
            "total": str(self.total),
            "rank": self.rank,
        }
        return row


_ORDER = ("rank", "sort_name", "person_id")

# Board reads are raw SQL over the (rank, sort_name, person) index: the ORM's query
# building alone cost more than the 5 ms "my rank" budget on a busy machine.
_WATERMARK_SQL = f"SELECT watermark FROM {Board._meta.db_table} WHERE program_id = %s"  # noqa: S608 - our table names
_BEHIND_SQL = (
    f"SELECT 1 FROM {PointsEntry._meta.db_table} e WHERE e.program_id = %s AND e.id > %s "  # noqa: S608
    f"AND NOT EXISTS (SELECT 1 FROM {AppliedEntry._meta.db_table} a "
    "WHERE a.program_id = %s AND a.entry_id = e.id) LIMIT 1"
)
_COLUMNS = {
    track: (
        "x.rank, x.previous_rank, x.person_id, p.employee_number, p.full_name, u.name, "
        f"{a}.learning, {a}.kpi, {a}.bonus, {a}.other, {a}.total, x.sort_name"
    )
    for track, a in ((False, "x"), (True, "s"))
}
_FROM = {
    False: (
        f"FROM {Standing._meta.db_table} x "
        "JOIN people_person p ON p.id = x.person_id "
        "LEFT JOIN people_unit u ON u.id = p.unit_id "
        "WHERE x.program_id = %s AND x.period = %s"
    ),
    True: (
        f"FROM {TrackStanding._meta.db_table} x "
        f"JOIN {Standing._meta.db_table} s ON s.id = x.standing_id "
        "JOIN people_person p ON p.id = x.person_id "
        "LEFT JOIN people_unit u ON u.id = p.unit_id "
        "WHERE x.track_id = %s AND x.period = %s"
    ),
}
_CENT = Decimal("0.01")


def _points(value: object) -> Decimal:
    # SQLite hands raw decimals back as int or float.
    return value if isinstance(value, Decimal) else Decimal(str(value)).quantize(_CENT)


def _raw_rows(sql: str, params: list[Any], track: Track | None) -> list[BoardRow]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    return [
        BoardRow(
            rank=r[0], previous_rank=r[1], person_id=r[2], employee_number=r[3], name=r[4],
            unit=r[5], learning=_points(r[6]), kpi=_points(r[7]), bonus=_points(r[8]),
            other=_points(r[9]), total=_points(r[10]), track=track.slug if track else None,
            sort_name=r[11],
        )
        for r in fetched
    ]


def _scope(program: Program, track: Track | None) -> int:
    return track.pk if track is not None else program.pk


def board(
    program: Program,
    period: str = PROGRAM_PERIOD,
    track: Track | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[BoardRow]:
    """Rows in rank order (ties by name), with both components and the total."""
    board_current(program)
    kind = track is not None
    sql = (
        f"SELECT {_COLUMNS[kind]} {_FROM[kind]} "
        "ORDER BY x.rank, x.sort_name, x.person_id LIMIT %s OFFSET %s"
    )
    return _raw_rows(sql, [_scope(program, track), period, limit, offset], track)


def board_size(program: Program, period: str = PROGRAM_PERIOD, track: Track | None = None) -> int:
    if track is not None:
        return TrackStanding.objects.filter(track=track, period=period).count()
    return Standing.objects.filter(program=program, period=period).count()


@dataclass
class MyPlace:
    row: BoardRow
    above: list[BoardRow]
    below: list[BoardRow]
    size: int | None = None

    @property
    def rows(self) -> list[BoardRow]:
        return [*self.above, self.row, *self.below]


def my_place(
    program: Program,
    person: Person,
    period: str = PROGRAM_PERIOD,
    neighbours: int = 3,
    track: Track | None = None,
) -> MyPlace | None:
    """The person's row with up to `neighbours` rows above and below (None: no points)."""
    board_current(program)
    scope = _scope(program, track)
    kind = track is not None
    columns, base = _COLUMNS[kind], _FROM[kind]
    mine = _raw_rows(
        f"SELECT {columns} {base} AND x.person_id = %s", [scope, period, person.pk], track
    )
    if not mine:
        return None
    row = mine[0]
    row.is_me = True
    here = [row.rank, row.sort_name, row.person_id]
    sql = (
        f"SELECT * FROM (SELECT {columns} {base} "  # noqa: S608
        "AND (x.rank, x.sort_name, x.person_id) < (%s, %s, %s) "
        "ORDER BY x.rank DESC, x.sort_name DESC, x.person_id DESC LIMIT %s) AS above "
        f"UNION ALL SELECT * FROM (SELECT {columns} {base} "
        "AND (x.rank, x.sort_name, x.person_id) > (%s, %s, %s) "
        "ORDER BY x.rank, x.sort_name, x.person_id LIMIT %s) AS below"
    )
    around = _raw_rows(
        sql, [scope, period, *here, neighbours, scope, period, *here, neighbours], track
    )
    key = (row.rank, row.sort_name, row.person_id)
    above = sorted(
        (r for r in around if (r.rank, r.sort_name, r.person_id) < key),
        key=lambda r: (r.rank, r.sort_name, r.person_id),
    )
    below = [r for r in around if (r.rank, r.sort_name, r.person_id) > key]
    return MyPlace(row=row, above=above, below=below)


@dataclass
class TeamRow:
    rank: int
    unit: str
    members: int
    learners: int
    learner_share: Decimal
    learning: Decimal
    kpi: Decimal
    total: Decimal
    average: Decimal
    is_mine: bool = False


def team_board(program: Program, period: str = PROGRAM_PERIOD) -> list[TeamRow]:
    """Units ranked by points per member (fair to team size)."""
    board_current(program)
    return [
        TeamRow(
            rank=t.rank, unit=t.unit.name, members=t.members, learners=t.learners,
            learner_share=t.learner_share, learning=t.learning, kpi=t.kpi, total=t.total,
            average=t.average,
        )
        for t in TeamStanding.objects.filter(program=program, period=period)
        .select_related("unit")
        .order_by("rank", "unit__name")
    ]


@dataclass
class RankChange:
    rank: int | None
    total: Decimal
    rank_then: int | None
    total_then: Decimal | None

    @property
    def places_gained(self) -> int | None:
        if self.rank is None or self.rank_then is None:
            return None
        return self.rank_then - self.rank


def rank_change(program: Program, person: Person, since: date) -> RankChange:
    """Whole-program rank now and at the latest snapshot on or before `since`."""
    board_current(program)
    now = Standing.objects.filter(program=program, period=PROGRAM_PERIOD, person=person).first()
    then = (
        RankHistory.objects.filter(program=program, person=person, date__lte=since)
        .order_by("-date")
        .first()
    )
    return RankChange(
        rank=now.rank if now else None,
        total=now.total if now else Decimal("0"),
        rank_then=then.rank if then else None,
        total_then=then.total if then else None,
    )


# --- who sees what ----------------------------------------------------------------------


def board_settings(program: Program) -> BoardSettings:
    found = BoardSettings.objects.filter(program=program).first()
    return found or BoardSettings(program=program)


def has_full_access(person: Person | None, *, is_superuser: bool = False) -> bool:
    """Admins, viewers, curators and supervisors see every board in full."""
    if is_superuser:
        return True
    return person is not None and bool(person.role_set & {str(r) for r in FULL_ACCESS_ROLES})


def mask(rows: list[BoardRow], viewer: Person | None, mode: str) -> list[BoardRow]:
    """Hide other people's names and numbers on an anonymous board."""
    if mode != BoardMode.ANONYMOUS:
        for row in rows:
            row.is_me = viewer is not None and row.person_id == viewer.pk
        return rows
    for row in rows:
        row.is_me = viewer is not None and row.person_id == viewer.pk
        if not row.is_me:
            row.name = None
            row.employee_number = None
            row.unit = None
    return rows


def visible_board(
    *,
    program: Program,
    viewer: Person | None,
    full_access: bool,
    period: str = PROGRAM_PERIOD,
    track: Track | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[BoardRow]:
    """The board as this viewer may see it: the mode applies to participants only."""
    settings = board_settings(program)
    if full_access:
        return mask(board(program, period, track, limit, offset), viewer, BoardMode.NORMAL)
    if settings.mode == BoardMode.NEIGHBOURS_ONLY:
        if viewer is None:
            return []
        place = my_place(program, viewer, period, settings.neighbours, track)
        return mask(place.rows if place else [], viewer, settings.mode)
    return mask(board(program, period, track, limit, offset), viewer, settings.mode)


def visible_place(
    *,
    program: Program,
    viewer: Person,
    full_access: bool,
    period: str = PROGRAM_PERIOD,
    track: Track | None = None,
    neighbours: int | None = None,
) -> MyPlace | None:
    settings = board_settings(program)
    count = settings.neighbours if neighbours is None else neighbours
    if not full_access and settings.mode == BoardMode.NEIGHBOURS_ONLY:
        count = min(count, settings.neighbours)
    place = my_place(program, viewer, period, count, track)
    if place is not None:
        mode = BoardMode.NORMAL if full_access else settings.mode
        mask(place.rows, viewer, mode)
    return place


def program_for_board(organization: Organization, slug: str) -> Program | None:
    return Program.objects.filter(organization=organization, slug=slug).first()


def track_for_board(program: Program, slug: str) -> Track | None:
    return Track.objects.filter(program=program, slug=slug).first()


def person_tracks(program: Program, person: Person) -> list[Track]:
    return list(
        Track.objects.filter(program=program, enrollments__person=person).order_by("position")
    )


def programs_with_boards(person: Person) -> QuerySet[Program]:
    """Programs a person is enrolled in (the participant's list of boards)."""
    return (
        Program.objects.filter(
            organization_id=person.organization_id, tracks__enrollments__person=person
        )
        .distinct()
        .order_by("-starts_on")
    )


def programs_of(organization: Organization) -> QuerySet[Program]:
    return Program.objects.filter(organization=organization).order_by("-starts_on")

