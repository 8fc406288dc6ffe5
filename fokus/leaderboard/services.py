"""Writes of the leaderboard: catching standings up with the points ledger.

The ledger (fokus.scoring PointsEntry) is append-only, so the standings are a running
sum: `standings_refresh` applies the entries it has not applied yet (sums per person
per period), then re-ranks only what changed, in one transaction under a lock on the
program's Board row. `standings_rebuild` recomputes everything (repair, tests).

Which entries are applied: Board.watermark W says every entry with id <= W is in the
standings; AppliedEntry lists applied ids above W. On SQLite writers are serialised
(IMMEDIATE transactions), so W is simply the highest id seen. On PostgreSQL ids are
handed out before commit, so a transaction may commit id 100 after another committed
101 and a refresh ran: W only passes an id once every transaction that was running
when that id became visible has finished (snapshot xmin/xmax checkpoints), and the
ids applied in between are remembered in AppliedEntry. Nothing is ever skipped, because
every ledger writer takes its transaction id before its entry id (scoring's
`points_append`): a transaction holding an id it has not committed is always among
those the checkpoints wait for.

Ranks are standard competition ranks of `total` (1, 2, 2, 4): 1 + the number of people
with a higher total. They are not stored on the rows (one grade would re-rank every row
between the old and the new total: thousands when 100,000 people share a few dozen
integer totals); instead each board keeps a histogram, people per total
(TotalCount, TrackTotalCount), and a changed total moves one person from one bucket to
another. Reads sum the buckets above a total (queries.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet, Sum

from fokus.core import clock
from fokus.leaderboard.models import (
    PROGRAM_PERIOD,
    AppliedEntry,
    Board,
    RankHistory,
    Standing,
    TeamStanding,
    TotalCount,
    TrackStanding,
    TrackTotalCount,
)
from fokus.people.models import Person
from fokus.programs.models import Enrollment, EnrollmentStatus, Program
from fokus.scoring.models import PointsEntry

ZERO = Decimal("0")
# From this many changed people in one period a refresh writes the period's standings
# and histogram buckets in batches instead of row by row.
BULK_RERANK_AT = 24
MAX_CHECKPOINTS = 64
COMPONENTS = ("learning", "kpi", "bonus", "other")


def period_keys(day: date) -> tuple[str, str, str]:
    """The three periods an entry of `day` counts for: program, ISO week, day."""
    iso = day.isocalendar()
    return PROGRAM_PERIOD, f"week:{iso.year}-W{iso.week:02d}", f"day:{day.isoformat()}"


def component_of(source: str) -> str:
    return source if source in ("learning", "kpi", "bonus") else "other"


@dataclass
class _Change:
    person_id: int
    period: str
    old_total: Decimal | None
    sums: dict[str, Decimal] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return sum((self.sums[c] for c in COMPONENTS), ZERO)


# --- public services --------------------------------------------------------------------


@transaction.atomic
def standings_refresh(*, program: Program) -> None:
    """Apply the ledger entries the standings do not include yet; idempotent.

    Call it after writing points (in the same transaction is best: readers then never
    find the board behind). Board reads also call it when the ledger is ahead, so a
    writer that forgets only costs the next reader a little time.
    """
    board = _lock_board(program)
    xmin = _snapshot_xmin()
    applied = set(AppliedEntry.objects.filter(program=program).values_list("entry_id", flat=True))
    rows = [
        r
        for r in PointsEntry.objects.filter(program=program, id__gt=board.watermark)
        .order_by()
        .values_list("id", "person_id", "source", "amount", "occurred_on")
        .iterator(chunk_size=10_000)
        if r[0] not in applied
    ]
    xmax = _snapshot_xmax()
    if rows:
        _apply(program, rows)
    _advance_watermark(board, program, [r[0] for r in rows], xmin, xmax)


@transaction.atomic
def standings_rebuild(*, program: Program) -> None:
    """Recompute every standing of the program from the whole ledger (repair, tests)."""
    if connection.vendor == "postgresql":
        # Waits for every transaction that is writing the ledger and holds new ones back
        # until this one commits, so everything is visible and the watermark is exact.
        # Taken before the board row: a writer holding the ledger lock may want it.
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {PointsEntry._meta.db_table} IN SHARE MODE")
    board = _lock_board(program)
    previous = dict(
        Standing.objects.filter(program=program, period=PROGRAM_PERIOD).values_list(
            "person_id", "previous_rank"
        )
    )
    track_previous = {
        (t, p): r
        for t, p, r in TrackStanding.objects.filter(
            program=program, period=PROGRAM_PERIOD
        ).values_list("track_id", "person_id", "previous_rank")
    }
    TeamStanding.objects.filter(program=program).delete()
    TotalCount.objects.filter(program=program).delete()
    TrackTotalCount.objects.filter(program=program).delete()
    TrackStanding.objects.filter(program=program).delete()
    Standing.objects.filter(program=program).delete()
    AppliedEntry.objects.filter(program=program).delete()
    rows = list(
        PointsEntry.objects.filter(program=program)
        .order_by()
        .values_list("id", "person_id", "source", "amount", "occurred_on")
        .iterator(chunk_size=10_000)
    )
    _apply(program, rows, force_bulk=True)
    if previous:
        _restore_previous(program, previous, track_previous)
    board.watermark = max((r[0] for r in rows), default=0)
    board.checkpoints = []
    board.refreshed_at = clock.now()
    board.save(update_fields=["watermark", "checkpoints", "refreshed_at"])


@transaction.atomic
def rank_history_snapshot(*, program: Program, on: date) -> int:
    """Record everyone's whole-program rank and total for `on` (nightly; idempotent).

    The ranks recorded also become each standing's `previous_rank`, so the board's
    "rank change" means "since the last snapshot". Returns the number of people.
    """
    standings_refresh(program=program)
    rank_of = _ranks_by_total(
        TotalCount.objects.filter(program=program, period=PROGRAM_PERIOD)
        .values_list("total", "people")
    )
    current = list(
        Standing.objects.filter(program=program, period=PROGRAM_PERIOD).values_list(
            "person_id", "total"
        )
    )
    RankHistory.objects.filter(program=program, date=on).delete()
    RankHistory.objects.bulk_create(
        [
            RankHistory(program=program, person_id=pid, date=on, rank=rank_of[total], total=total)
            for pid, total in current
        ],
        batch_size=5000,
    )
    # Only the latest snapshot sets previous_rank: re-running an older date is history.
    latest = RankHistory.objects.filter(program=program).order_by("-date").values_list(
        "date", flat=True
    ).first()
    if latest == on:
        _previous_rank_from_histogram(
            Standing._meta.db_table, TotalCount._meta.db_table, "program_id", program
        )
        _previous_rank_from_histogram(
            TrackStanding._meta.db_table, TrackTotalCount._meta.db_table, "track_id", program
        )
    return len(current)


def _ranks_by_total(buckets: Iterable[tuple[Decimal, int]]) -> dict[Decimal, int]:
    """total -> competition rank, from a board's histogram (people per total)."""
    ranks, above = {}, 0
    for total, people in sorted(buckets, reverse=True):
        ranks[total] = above + 1
        above += people
    return ranks


def _previous_rank_from_histogram(table: str, histogram: str, scope: str, program: Program) -> None:
    """previous_rank := the current rank of every whole-program row (nightly write)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET previous_rank = 1 + COALESCE(("  # noqa: S608 - our tables
            f"SELECT SUM(h.people) FROM {histogram} h WHERE h.{scope} = {table}.{scope} "
            f"AND h.period = {table}.period AND h.total > {table}.total), 0) "
            "WHERE program_id = %s AND period = %s",
            [program.pk, PROGRAM_PERIOD],
        )


def rank_history_snapshot_all(*, on: date) -> int:
    """The nightly job: snapshot every program that is running or just ended."""
    count = 0
    for program in Program.objects.filter(starts_on__lte=on, ends_on__gte=on - timedelta(days=7)):
        count += rank_history_snapshot(program=program, on=on)
    return count


# --- catching up ------------------------------------------------------------------------


def _lock_board(program: Program) -> Board:
    # get_or_create outside select_for_update: two first refreshes may both try to
    # create; the unique constraint makes one of them read the other's row.
    Board.objects.get_or_create(program=program)
    return Board.objects.select_for_update().get(program=program)


def _snapshot_xmin() -> int | None:
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        return int(cursor.fetchone()[0])


def _snapshot_xmax() -> int | None:
    """A transaction id above every transaction that has an id now, running or ended.

    The snapshot's xmax alone is not that: it is one past the newest *finished*
    transaction, and a running one may hold a higher id. Each transaction holds a lock
    on its own id while it runs, so the running ones are read from pg_locks first and
    the finished ones from a snapshot taken after that (READ COMMITTED: a fresh one),
    so a transaction ending in between is counted by the second.
    """
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT max(transactionid::text::bigint) FROM pg_locks "
            "WHERE locktype = 'transactionid'"
        )
        running = cursor.fetchone()[0]
        cursor.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
        xmax = int(cursor.fetchone()[0])
    if running is None:
        return xmax
    return max(xmax, _widen_xid(int(running), xmax) + 1)


def _widen_xid(xid32: int, near: int) -> int:
    """The 64-bit id of a 32-bit transaction id that lies within 2**31 of `near`."""
    distance = (xid32 - near) % 2**32
    if distance >= 2**31:
        distance -= 2**32
    return near + distance


def _advance_watermark(
    board: Board, program: Program, new_ids: list[int], xmin: int | None, xmax: int | None
) -> None:
    seen_max = max(new_ids, default=0)
    if xmin is None or xmax is None:
        # SQLite: this IMMEDIATE transaction is the only writer, nothing is in flight.
        board.watermark = max(board.watermark, seen_max)
        board.checkpoints = []
    else:
        # A checkpoint [X, M]: after reading entries up to M, X was the next transaction
        # id. Once the oldest running transaction (xmin, taken before this refresh read
        # the ledger) is >= X, every transaction that could hold an id <= M has ended,
        # so the entries up to M were all visible to this refresh and are applied.
        applied_max = max(
            seen_max,
            AppliedEntry.objects.filter(program=program).order_by("-entry_id")
            .values_list("entry_id", flat=True).first() or 0,
        )
        checkpoints = [list(c) for c in board.checkpoints]
        if applied_max > board.watermark and (not checkpoints or checkpoints[-1][1] != applied_max):
            checkpoints.append([xmax, applied_max])
        keep = []
        for x, m in checkpoints:
            if x <= xmin:
                board.watermark = max(board.watermark, m)
            else:
                keep.append([x, m])
        board.checkpoints = keep[-MAX_CHECKPOINTS:]
        above = [i for i in new_ids if i > board.watermark]
        AppliedEntry.objects.bulk_create(
            [AppliedEntry(program=program, entry_id=i) for i in above], batch_size=5000
        )
        AppliedEntry.objects.filter(program=program, entry_id__lte=board.watermark).delete()
    board.refreshed_at = clock.now()
    board.save(update_fields=["watermark", "checkpoints", "refreshed_at"])


def _apply(
    program: Program,
    rows: Iterable[tuple[int, int, str, Decimal, date]],
    *,
    force_bulk: bool = False,
) -> None:
    deltas: dict[tuple[int, str], dict[str, Decimal]] = defaultdict(
        lambda: dict.fromkeys(COMPONENTS, ZERO)
    )
    for _id, person_id, source, amount, occurred_on in rows:
        component = component_of(source)
        for period in period_keys(occurred_on):
            deltas[(person_id, period)][component] += amount
    if not deltas:
        return
    person_ids = {pid for pid, _ in deltas}
    periods = {period for _, period in deltas}
    people = {
        p["id"]: p
        for p in _chunked_values(
            Person.objects.order_by(), "id__in", person_ids, ("id", "unit_id", "full_name")
        )
    }
    existing: dict[tuple[int, str], Standing] = {}
    for standing in _chunked(
        Standing.objects.filter(program=program, period__in=periods), "person_id__in", person_ids
    ):
        existing[(standing.person_id, standing.period)] = standing
    tracks: dict[int, list[int]] = defaultdict(list)
    for pid, tid in _chunked_values(
        Enrollment.objects.filter(track__program=program, status=EnrollmentStatus.ACTIVE)
        .order_by("track__position", "track_id"),
        "person_id__in",
        person_ids,
        ("person_id", "track_id"),
        flat=True,
    ):
        tracks[pid].append(tid)

    by_period: dict[str, list[_Change]] = defaultdict(list)
    for (pid, period), delta in deltas.items():
        standing = existing.get((pid, period))
        base = {c: getattr(standing, c) for c in COMPONENTS} if standing else dict.fromkeys(
            COMPONENTS, ZERO
        )
        change = _Change(pid, period, standing.total if standing else None)
        change.sums = {c: base[c] + delta[c] for c in COMPONENTS}
        by_period[period].append(change)

    touched_units: dict[str, set[int]] = defaultdict(set)
    buckets = _Buckets(program)
    for period, changes in by_period.items():
        for change in changes:
            old = existing.get((change.person_id, period))
            if old is not None and old.unit_id:
                touched_units[period].add(old.unit_id)
            unit_id = people[change.person_id]["unit_id"]
            if unit_id:
                touched_units[period].add(unit_id)
        if force_bulk or len(changes) >= BULK_RERANK_AT:
            _apply_bulk(program, period, changes, existing, people, tracks, buckets)
        else:
            for change in sorted(changes, key=lambda c: c.person_id):
                _apply_one(program, change, existing.get((change.person_id, period)), people,
                           buckets, tracks)
    # All bucket moves of this refresh (every period, every board) in a few statements.
    buckets.write()
    _teams_update(program, touched_units, everything=force_bulk)


def _chunked(qs: QuerySet[Any], lookup: str, values: set[int], size: int = 5000) -> Iterator[Any]:
    items = sorted(values)
    for i in range(0, len(items), size):
        yield from qs.filter(**{lookup: items[i : i + size]})


def _chunked_values(
    qs: QuerySet[Any], lookup: str, values: set[int], fields: tuple[str, ...],
    flat: bool = False, size: int = 5000,
) -> Iterator[Any]:
    items = sorted(values)
    for i in range(0, len(items), size):
        part = qs.filter(**{lookup: items[i : i + size]})
        yield from (part.values_list(*fields) if flat else part.values(*fields))


def _apply_one(
    program: Program,
    change: _Change,
    standing: Standing | None,
    people: dict[int, dict[str, Any]],
    buckets: _Buckets,
    tracks: dict[int, list[int]],
) -> None:
    """Write one person's new sums and move them between two histogram buckets."""
    person = people[change.person_id]
    new = change.total
    buckets.move(None, change.period, change.old_total, new)
    if standing is None:
        standing = Standing.objects.create(
            program=program, period=change.period, person_id=change.person_id,
            unit_id=person["unit_id"], sort_name=person["full_name"],
            total=new, **change.sums,
        )
    else:
        for component in COMPONENTS:
            setattr(standing, component, change.sums[component])
        standing.total = new
        standing.unit_id = person["unit_id"]
        standing.sort_name = str(person["full_name"])
        standing.save(update_fields=[*COMPONENTS, "total", "unit", "sort_name"])
    current = {
        ts.track_id: ts
        for ts in TrackStanding.objects.filter(standing=standing, track_id__in=tracks.get(
            change.person_id, []))
    }
    for track_id in tracks.get(change.person_id, []):
        ts = current.get(track_id)
        buckets.move(track_id, change.period, ts.total if ts else None, new)
        if ts is None:
            TrackStanding.objects.create(
                standing=standing, program=program, track_id=track_id, period=change.period,
                person_id=change.person_id, sort_name=standing.sort_name, total=new,
            )
        else:
            ts.total, ts.sort_name = new, standing.sort_name
            ts.save(update_fields=["total", "sort_name"])


class _Buckets:
    """Changes to a program's rank histograms, written with one statement per table.

    A bucket (board, period, total) counts the rows of that board and period with that
    total; `move` takes a row out of its old total's bucket and puts it into the new one.
    Buckets that reach zero people are deleted.
    """

    def __init__(self, program: Program) -> None:
        self.program = program
        # (track id or None for the program board, period, total) -> change in people
        self.deltas: dict[tuple[int | None, str, Decimal], int] = defaultdict(int)

    def move(self, track_id: int | None, period: str, old: Decimal | None, new: Decimal) -> None:
        if old is not None and old == new:
            return
        if old is not None:
            self.deltas[(track_id, period, old)] -= 1
        self.deltas[(track_id, period, new)] += 1

    def write(self) -> None:
        """Apply the moves: take people out of buckets, add people (creating buckets),
        delete the buckets left empty. Decrements are UPDATEs, not upserts: a CHECK
        (people >= 0) applies to an upsert's proposed row before the conflict."""
        tables = {
            False: (TotalCount._meta.db_table, "program_id"),
            True: (TrackTotalCount._meta.db_table, "track_id"),
        }
        deltas = sorted(self.deltas.items(), key=lambda item: (item[0][0] or 0, item[0][1]))
        self.deltas.clear()
        with connection.cursor() as cursor:
            for is_track, (table, scope) in tables.items():
                mine = [
                    (track if is_track else self.program.pk, period, _dec(total), n)
                    for (track, period, total), n in deltas
                    if n and (track is not None) == is_track
                ]
                taken = [[n, s, p, t] for s, p, t, n in mine if n < 0]
                # Track buckets also name their program (a rebuild deletes by program).
                key = ["program_id", "track_id"] if is_track else ["program_id"]
                added = [
                    [self.program.pk, s, p, t, n] if is_track else [s, p, t, n]
                    for s, p, t, n in mine
                    if n > 0
                ]
                if taken:
                    cursor.executemany(
                        f"UPDATE {table} SET people = people + %s "  # noqa: S608 - our tables
                        f"WHERE {scope} = %s AND period = %s AND total = %s",
                        taken,
                    )
                if added:
                    cursor.executemany(
                        f"INSERT INTO {table} ({', '.join(key)}, period, total, people) "  # noqa: S608
                        f"VALUES ({', '.join(['%s'] * len(added[0]))}) "
                        f"ON CONFLICT ({scope}, period, total) "
                        f"DO UPDATE SET people = {table}.people + excluded.people",
                        added,
                    )
                if taken:
                    cursor.executemany(
                        f"DELETE FROM {table} WHERE {scope} = %s AND period = %s "  # noqa: S608
                        "AND total = %s AND people = 0",
                        [row[1:] for row in taken],
                    )


def _dec(value: Decimal) -> Any:
    return connection.ops.adapt_decimalfield_value(value, 12, 2)


def _apply_bulk(
    program: Program,
    period: str,
    changes: list[_Change],
    existing: dict[tuple[int, str], Standing],
    people: dict[int, dict[str, Any]],
    tracks: dict[int, list[int]],
    buckets: _Buckets,
) -> None:
    """Write many changed totals in batches, and the histogram buckets they move."""
    new_rows, updated = [], []
    for change in changes:
        buckets.move(None, period, change.old_total, change.total)
        person = people[change.person_id]
        standing = existing.get((change.person_id, period))
        if standing is None:
            standing = Standing(
                program=program, period=period, person_id=change.person_id,
            )
            new_rows.append(standing)
        else:
            updated.append(standing)
        for component in COMPONENTS:
            setattr(standing, component, change.sums[component])
        standing.total = change.total
        standing.unit_id = person["unit_id"]
        standing.sort_name = str(person["full_name"])
    _update_rows(Standing, updated, [*COMPONENTS, "total", "unit", "sort_name"])
    Standing.objects.bulk_create(new_rows, batch_size=2000)
    if any(s.pk is None for s in new_rows):
        # Where bulk_create cannot return ids, read them back.
        ids = dict(
            Standing.objects.filter(program=program, period=period).values_list("person_id", "id")
        )
        for s in new_rows:
            s.pk = ids[s.person_id]
    all_rows = updated + new_rows
    current = {
        (ts.track_id, ts.person_id): ts
        for ts in _chunked(
            TrackStanding.objects.filter(program=program, period=period),
            "person_id__in",
            {s.person_id for s in all_rows},
        )
    }
    t_new, t_updated = [], []
    for standing in all_rows:
        for track_id in tracks.get(standing.person_id, []):
            ts = current.get((track_id, standing.person_id))
            buckets.move(track_id, period, ts.total if ts else None, standing.total)
            if ts is None:
                t_new.append(
                    TrackStanding(
                        standing_id=standing.pk, program=program, track_id=track_id,
                        period=period, person_id=standing.person_id,
                        sort_name=standing.sort_name, total=standing.total,
                    )
                )
            else:
                ts.total, ts.sort_name = standing.total, standing.sort_name
                t_updated.append(ts)
    _update_rows(TrackStanding, t_updated, ["total", "sort_name"])
    TrackStanding.objects.bulk_create(t_new, batch_size=2000)


def _update_rows(model: type[Any], rows: list[Any], fields: list[str]) -> None:
    """UPDATE ... WHERE id = %s for each row, as one executemany (bulk_update's CASE
    expressions cost seconds for a few thousand rows)."""
    if not rows:
        return
    columns = [model._meta.get_field(f) for f in fields]
    assignments = ", ".join(f"{connection.ops.quote_name(c.column)} = %s" for c in columns)
    sql = f"UPDATE {model._meta.db_table} SET {assignments} WHERE id = %s"  # noqa: S608
    params = [
        [c.get_db_prep_save(getattr(row, c.attname), connection) for c in columns] + [row.pk]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _rerank(table: str, column: str, program: Program, period: str) -> None:
    """Competition ranks of a period's teams (a few hundred rows; a write path)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET rank = r.rk FROM ("  # noqa: S608 - table names are ours
            f"  SELECT id, RANK() OVER (ORDER BY {column} DESC) AS rk"
            f"  FROM {table} WHERE program_id = %s AND period = %s"
            f") AS r WHERE {table}.id = r.id AND {table}.rank <> r.rk",
            [program.pk, period],
        )


def _restore_previous(
    program: Program,
    previous: dict[int, int | None],
    track_previous: dict[tuple[int, int], int | None],
) -> None:
    rows = list(Standing.objects.filter(program=program, period=PROGRAM_PERIOD))
    for s in rows:
        s.previous_rank = previous.get(s.person_id)
    _update_rows(Standing, rows, ["previous_rank"])
    t_rows = list(TrackStanding.objects.filter(program=program, period=PROGRAM_PERIOD))
    for t in t_rows:
        t.previous_rank = track_previous.get((t.track_id, t.person_id))
    _update_rows(TrackStanding, t_rows, ["previous_rank"])


# --- teams ------------------------------------------------------------------------------


def _members(program: Program, unit_ids: set[int] | None) -> dict[int, int]:
    """Members of each unit: active enrollments in the program, plus anyone with points."""
    enrolled = Enrollment.objects.filter(
        track__program=program, status=EnrollmentStatus.ACTIVE, person__unit__isnull=False
    )
    scored = Standing.objects.filter(program=program, period=PROGRAM_PERIOD, unit__isnull=False)
    if unit_ids is not None:
        enrolled = enrolled.filter(person__unit_id__in=unit_ids)
        scored = scored.filter(unit_id__in=unit_ids)
    pairs = set(enrolled.values_list("person_id", "person__unit_id").distinct())
    pairs |= set(scored.values_list("person_id", "unit_id"))
    counts: dict[int, int] = defaultdict(int)
    for _pid, unit_id in pairs:
        counts[unit_id] += 1
    return counts


def _teams_update(
    program: Program, touched: dict[str, set[int]], *, everything: bool = False
) -> None:
    if not touched:
        return
    units = None if everything else set().union(*touched.values())
    members = _members(program, units)
    for period, unit_ids in touched.items():
        sums = Standing.objects.filter(program=program, period=period, unit__isnull=False)
        if not everything:
            sums = sums.filter(unit_id__in=unit_ids)
        aggregates = {
            row["unit_id"]: row
            for row in sums.order_by().values("unit_id").annotate(
                s_learning=Sum("learning"),
                s_kpi=Sum("kpi"),
                s_total=Sum("total"),
                n_learners=Count("id", filter=Q(learning__gt=0)),
            )
        }
        teams = TeamStanding.objects.filter(program=program, period=period)
        if not everything:
            teams = teams.filter(unit_id__in=unit_ids)
        existing = {t.unit_id: t for t in teams}
        fields = ["members", "learners", "learning", "kpi", "total", "average"]
        before = {
            unit_id: tuple(getattr(t, f) for f in fields)
            for unit_id, t in existing.items()
            if t.pk is not None
        }
        for unit_id in aggregates.keys() | (set() if everything else unit_ids):
            agg = aggregates.get(unit_id)
            team = existing.get(unit_id)
            if team is None:
                if agg is None:
                    continue
                team = TeamStanding(program=program, period=period, unit_id=unit_id)
                existing[unit_id] = team
            team.members = max(members.get(unit_id, 0), 1)
            team.learners = agg["n_learners"] if agg else 0
            team.learning = agg["s_learning"] if agg else ZERO
            team.kpi = agg["s_kpi"] if agg else ZERO
            team.total = agg["s_total"] if agg else ZERO
            team.average = _average(Decimal(team.total), team.members)
        TeamStanding.objects.bulk_create(
            [t for t in existing.values() if t.pk is None], batch_size=2000
        )
        _update_rows(
            TeamStanding,
            [
                t for unit_id, t in existing.items()
                if unit_id in before and before[unit_id] != tuple(getattr(t, f) for f in fields)
            ],
            fields,
        )
        _rerank(TeamStanding._meta.db_table, "average", program, period)
    if units:
        # A unit's member count changed: its rows in the periods not touched now too.
        stale = []
        for team in TeamStanding.objects.filter(program=program, unit_id__in=units):
            count = max(members.get(team.unit_id, 0), 1)
            if team.members != count:
                team.members = count
                team.average = _average(Decimal(team.total), count)
                stale.append(team)
        _update_rows(TeamStanding, stale, ["members", "average"])
        for period in {t.period for t in stale}:
            _rerank(TeamStanding._meta.db_table, "average", program, period)


def _average(total: Decimal, members: int) -> Decimal:
    return (total / members).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
