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
    TotalCount,
    TrackStanding,
    TrackTotalCount,
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
    """Is there a ledger entry the standings do not include yet? One indexed probe."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_BEHIND}", [program.pk] * 3)
        return bool(cursor.fetchone()[0])


def board_current(program: Program) -> bool:
    """Catch the board up when the ledger is ahead; True when it had to.

    The board reads below ask the same question inside their own statement (one round
    trip, and the answer belongs to the rows' snapshot) and only call this when behind.
    """
    if board_is_behind(program):
        standings_refresh(program=program)
        return True
    return False


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


# Board reads are raw SQL over the (total DESC, sort_name, person) index: the ORM's
# query building alone cost more than the 5 ms "my rank" budget on a busy machine.
# A rank is 1 + the people with a higher total, summed from the board's histogram in
# the same statement as the rows (one snapshot: rows and counts always agree).
# Is the ledger ahead of the board (an entry above the watermark not applied yet)?
# Params: the program, three times.
_BEHIND = (
    f"((SELECT e.id FROM {PointsEntry._meta.db_table} e WHERE e.program_id = %s "  # noqa: S608
    f"AND e.id > COALESCE((SELECT watermark FROM {Board._meta.db_table} "
    "WHERE program_id = %s), 0) "
    f"AND NOT EXISTS (SELECT 1 FROM {AppliedEntry._meta.db_table} a "
    "WHERE a.program_id = %s AND a.entry_id = e.id) "
    # ORDER BY id LIMIT 1 makes the planner walk an id index from the watermark up.
    "ORDER BY e.id LIMIT 1) IS NOT NULL)"
)
# The columns of a row; `ord_total` is the total the board is ordered by.
_COLUMNS = {
    track: (
        "x.previous_rank, x.person_id, p.employee_number, p.full_name, u.name, "
        f"{a}.learning, {a}.kpi, {a}.bonus, {a}.other, {a}.total, x.sort_name, "
        "x.total AS ord_total"
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
_TABLE = {False: Standing._meta.db_table, True: TrackStanding._meta.db_table}
_SCOPE = {False: "program_id", True: "track_id"}
_HISTOGRAM = {False: TotalCount._meta.db_table, True: TrackTotalCount._meta.db_table}
_CENT = Decimal("0.01")


def _points(value: object) -> Decimal:
    # SQLite hands raw decimals back as int or float.
    return value if isinstance(value, Decimal) else Decimal(str(value)).quantize(_CENT)


def _row(r: tuple[Any, ...], rank: int, track: Track | None) -> BoardRow:
    return BoardRow(
        rank=rank, previous_rank=r[0], person_id=r[1], employee_number=r[2], name=r[3],
        unit=r[4], learning=_points(r[5]), kpi=_points(r[6]), bonus=_points(r[7]),
        other=_points(r[8]), total=_points(r[9]), track=track.slug if track else None,
        sort_name=r[10],
    )


def _scope(program: Program, track: Track | None) -> int:
    return track.pk if track is not None else program.pk


def _page_sql(kind: bool) -> str:
    histogram, scope = _HISTOGRAM[kind], _SCOPE[kind]
    return (
        f"WITH page AS (SELECT {_COLUMNS[kind]} {_FROM[kind]} "  # noqa: S608 - our tables
        "ORDER BY x.total DESC, x.sort_name, x.person_id LIMIT %s OFFSET %s) "
        f"SELECT page.*, (SELECT COALESCE(SUM(h.people), 0) FROM {histogram} h "
        f"WHERE h.{scope} = %s AND h.period = %s "
        f"AND h.total > (SELECT MAX(ord_total) FROM page)), {_BEHIND} "
        "FROM page ORDER BY ord_total DESC, sort_name, person_id"
    )


_PAGE_SQL = {kind: _page_sql(kind) for kind in (False, True)}


def board(
    program: Program,
    period: str = PROGRAM_PERIOD,
    track: Track | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[BoardRow]:
    """Rows in rank order (ties by name), with both components and the total."""
    kind = track is not None
    scope = _scope(program, track)
    params: list[Any] = [scope, period, limit, offset, scope, period, *[program.pk] * 3]
    with connection.cursor() as cursor:
        cursor.execute(_PAGE_SQL[kind], params)
        fetched = cursor.fetchall()
    # Behind the ledger (or nothing to tell from): catch up, read again.
    if (fetched[0][13] if fetched else True) and board_current(program):
        with connection.cursor() as cursor:
            cursor.execute(_PAGE_SQL[kind], params)
            fetched = cursor.fetchall()
    rows: list[BoardRow] = []
    for i, r in enumerate(fetched):
        if i == 0:
            # 1 + everyone above the page's first total (the page may start inside a tie).
            rank = int(r[12]) + 1
        elif r[11] != fetched[i - 1][11]:
            # A lower total than the row before: everyone before this row is above it.
            rank = offset + i + 1
        else:
            rank = rows[-1].rank
        rows.append(_row(r, rank, track))
    return rows


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
    kind = track is not None
    scope = _scope(program, track)
    board_scope: list[Any] = [scope, period]
    params: list[Any] = [
        *board_scope, person.pk, *board_scope * 3, *[program.pk] * 3,
        *[*board_scope, neighbours] * 4,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_PLACE_SQL[kind], params)
        fetched = cursor.fetchall()
    # Behind the ledger (or no row to tell from): catch up, read again.
    if (fetched[0][15] if fetched else True) and board_current(program):
        with connection.cursor() as cursor:
            cursor.execute(_PLACE_SQL[kind], params)
            fetched = cursor.fetchall()
    if not fetched:
        return None
    # In board order (the database's collation orders the names): up to `neighbours`
    # rows of each part above and below me, the nearest of them are my neighbours.
    rows = [_row(r, int(r[13]) + int(r[14]) + 1, track) for r in fetched]
    here = next(i for i, r in enumerate(fetched) if int(r[12]) == _ME)
    mine = rows[here]
    mine.is_me = True
    above = rows[max(0, here - neighbours) : here]
    below = rows[here + 1 : here + 1 + neighbours]
    return MyPlace(row=mine, above=above, below=below)


_SAME_ABOVE, _HIGHER, _SAME_BELOW, _LOWER, _ME = range(5)


def _place_sql(kind: bool) -> str:
    """My row and neighbours, each with its rank, in one statement (one snapshot).

    Neighbours come from four keyset scans of the board index, on the board's table
    alone (same total before and after me by name, the nearest higher and lower
    totals); names and units are joined once, to the rows found: planning five joins
    cost more than running the whole statement. Ranks: `above_me` sums the buckets
    above my total once; a neighbour's rank differs from mine by the people in the few
    buckets between the two totals.
    """
    table, histogram, scope = _TABLE[kind], _HISTOGRAM[kind], _SCOPE[kind]
    t = "(SELECT t FROM me)"
    bucket = (
        f"SELECT COALESCE(SUM(h.people), 0) FROM {histogram} h "  # noqa: S608 - our tables
        f"WHERE h.{scope} = %s AND h.period = %s"
    )
    me = "((SELECT n FROM me), (SELECT pid FROM me))"

    def part(n: int, where: str, order: str) -> str:
        return (
            f"SELECT * FROM (SELECT x.id, {n} AS part FROM {table} x "  # noqa: S608
            f"WHERE x.{scope} = %s AND x.period = %s AND {where} ORDER BY {order} "
            "LIMIT %s) AS near"
        )

    components = "s" if kind else "x"
    return (
        "WITH me AS (SELECT x.id, x.total AS t, x.sort_name AS n, x.person_id AS pid "  # noqa: S608
        f"FROM {table} x WHERE x.{scope} = %s AND x.period = %s AND x.person_id = %s) "
        "SELECT x.previous_rank, x.person_id, p.employee_number, p.full_name, u.name, "
        f"{components}.learning, {components}.kpi, {components}.bonus, {components}.other, "
        f"{components}.total, x.sort_name, x.total, q.part, "
        f"({bucket} AND h.total > {t}) AS above_me, "
        f"CASE WHEN x.total < {t} THEN ({bucket} AND h.total > x.total AND h.total <= {t}) "
        f"WHEN x.total > {t} THEN -({bucket} AND h.total > {t} AND h.total <= x.total) "
        f"ELSE 0 END AS between_us, {_BEHIND} AS behind "
        "FROM ("
        + part(_SAME_ABOVE, f"x.total = {t} AND (x.sort_name, x.person_id) < {me}",
               "x.sort_name DESC, x.person_id DESC")
        + " UNION ALL "
        + part(_HIGHER, f"x.total > {t}", "x.total, x.sort_name DESC, x.person_id DESC")
        + " UNION ALL "
        + part(_SAME_BELOW, f"x.total = {t} AND (x.sort_name, x.person_id) > {me}",
               "x.sort_name, x.person_id")
        + " UNION ALL "
        + part(_LOWER, f"x.total < {t}", "x.total DESC, x.sort_name, x.person_id")
        + f" UNION ALL SELECT id, {_ME} FROM me) AS q "  # noqa: S608
        f"JOIN {table} x ON x.id = q.id "
        + (f"JOIN {Standing._meta.db_table} s ON s.id = x.standing_id " if kind else "")
        + "JOIN people_person p ON p.id = x.person_id "
        "LEFT JOIN people_unit u ON u.id = p.unit_id "
        "ORDER BY x.total DESC, x.sort_name, x.person_id"
    )


_PLACE_SQL = {kind: _place_sql(kind) for kind in (False, True)}


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


_RANK_SQL = (
    f"SELECT x.total, (SELECT COALESCE(SUM(h.people), 0) FROM {TotalCount._meta.db_table} h "  # noqa: S608
    "WHERE h.program_id = x.program_id AND h.period = x.period AND h.total > x.total) "
    f"FROM {Standing._meta.db_table} x "
    "WHERE x.program_id = %s AND x.period = %s AND x.person_id = %s"
)


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
    with connection.cursor() as cursor:
        cursor.execute(_RANK_SQL, [program.pk, PROGRAM_PERIOD, person.pk])
        now = cursor.fetchone()
    then = (
        RankHistory.objects.filter(program=program, person=person, date__lte=since)
        .order_by("-date")
        .first()
    )
    return RankChange(
        rank=int(now[1]) + 1 if now else None,
        total=_points(now[0]) if now else Decimal("0"),
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

