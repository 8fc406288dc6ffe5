"""Leaderboard reads under write load: "my rank" p99 and the top-100 board p95.

    uv run --frozen python bench/bench_leaderboard.py [--participants 100000]
        [--seconds 20] [--rate 20] [--backend postgresql|sqlite|both] [--database NAME]

One program with N participants (in 500 units, two tracks) who all have learning and
KPI points over ten days, standings built once. Then, for --seconds, a writer thread
(its own database connection) appends a grade and refreshes the standings in one
transaction at --rate per second, while the main thread alternates `my_place` (a random
participant, 3 neighbours) and the top-100 `board`. Each read includes the check that
the board is not behind the ledger. Targets: my_place p99 <= 5 ms, top-100 p95 <= 50 ms.

PostgreSQL (DATABASE_URL or postgres://postgres@127.0.0.1:5432) gets a database of its
own, created and dropped here; SQLite a file in a temporary directory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal

PG_BASE = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def child(participants: int, seconds: float, rate: float) -> dict[str, object]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fokus.config.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from fokus.core.models import Organization
    from fokus.leaderboard import queries, services
    from fokus.leaderboard.models import Standing
    from fokus.people.models import Person, Unit
    from fokus.programs.models import Enrollment, Program, Track
    from fokus.scoring.models import PointsEntry

    try:
        from fokus.scoring.services import points_append
    except ImportError:  # pragma: no cover
        points_append = None

    rng = random.Random(7)
    start = dt.date(2026, 3, 2)
    t0 = time.perf_counter()
    org = Organization.objects.create(slug="bench", name="Bench")
    program = Program.objects.create(
        organization=org, slug="bench", title="Bench", starts_on=start,
        ends_on=start + dt.timedelta(days=15), learning_weekdays="mon,wed,fri",
    )
    tracks = [
        Track.objects.create(program=program, slug="consultants", title="Consultants"),
        Track.objects.create(program=program, slug="seniors", title="Seniors", position=1),
    ]
    units = Unit.objects.bulk_create(
        [Unit(organization=org, name=f"Dealer {i:03d}") for i in range(500)]
    )
    if any(u.pk is None for u in units):
        units = list(Unit.objects.filter(organization=org).order_by("name"))
    Person.objects.bulk_create(
        [
            Person(
                organization=org, employee_number=f"E{i:06d}", full_name=f"Person {i:06d}",
                time_zone="Europe/Moscow", unit=units[i % len(units)],
            )
            for i in range(participants)
        ],
        batch_size=5000,
    )
    people = list(
        Person.objects.filter(organization=org).order_by("id").values_list("id", flat=True)
    )
    now = timezone.now()
    Enrollment.objects.bulk_create(
        [
            Enrollment(person_id=pid, track=tracks[0 if i % 10 else 1], enrolled_at=now)
            for i, pid in enumerate(people)
        ],
        batch_size=5000,
    )
    entries = []
    for i, pid in enumerate(people):
        day = start + dt.timedelta(days=rng.randrange(10))
        entries.append(PointsEntry(
            organization=org, program=program, person_id=pid, source="learning",
            amount=Decimal(rng.randint(0, 42)), reason="seed", idempotency_key=f"l{i}",
            occurred_on=day, created_at=now,
        ))
        entries.append(PointsEntry(
            organization=org, program=program, person_id=pid, source="kpi",
            amount=Decimal(rng.randint(0, 20)), reason="seed", idempotency_key=f"k{i}",
            occurred_on=day, created_at=now,
        ))
    PointsEntry.objects.bulk_create(entries, batch_size=5000)
    t1 = time.perf_counter()
    services.standings_rebuild(program=program)
    t2 = time.perf_counter()
    standings = Standing.objects.filter(program=program).count()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(
        f"  data: {participants} participants, {len(entries)} ledger entries in "
        f"{t1 - t0:.1f} s; standings_rebuild ({standings} standings) {t2 - t1:.1f} s",
        flush=True,
    )

    ctx = multiprocessing.get_context("fork")
    stop = ctx.Event()
    results = ctx.Queue()
    today = start + dt.timedelta(days=9)

    def writer() -> None:
        """A separate process (own connection, own interpreter lock), like a web worker."""
        writes: list[float] = []
        write_errors: list[str] = []
        wrng = random.Random(11)
        n = 0
        next_at = time.perf_counter()
        try:
            prog = Program.objects.get(pk=program.pk)
            while not stop.is_set():
                person = Person.objects.get(pk=wrng.choice(people))
                n += 1
                w0 = time.perf_counter()
                with transaction.atomic():
                    if points_append is not None:
                        points_append(
                            program=prog, person=person, source="learning",
                            amount=Decimal(wrng.randint(1, 3)), reason="grade",
                            reference=f"task:{n}", idempotency_key=f"bench-grade:{n}",
                            occurred_on=today,
                        )
                    else:
                        PointsEntry.objects.create(
                            organization=org, program=prog, person=person, source="learning",
                            amount=Decimal(wrng.randint(1, 3)), reason="grade",
                            idempotency_key=f"bench-grade:{n}", occurred_on=today,
                            created_at=timezone.now(),
                        )
                    services.standings_refresh(program=prog)
                writes.append(time.perf_counter() - w0)
                next_at += 1 / rate
                time.sleep(max(0.0, next_at - time.perf_counter()))
        except Exception as exc:  # reported below
            write_errors.append(repr(exc))
        finally:
            connection.close()
            results.put((writes, write_errors))

    place_times: list[float] = []
    board_times: list[float] = []
    # Warm the connection and caches the way a running server would have them.
    for pid in people[:200]:
        queries.my_place(program, Person(pk=pid), neighbours=3)
    connection.close()  # the forked writer must not share this connection
    process = ctx.Process(target=writer)
    process.start()
    end = time.perf_counter() + seconds
    reads = 0
    while time.perf_counter() < end:
        person = Person(pk=rng.choice(people))
        r0 = time.perf_counter()
        place = queries.my_place(program, person, neighbours=3)
        place_times.append(time.perf_counter() - r0)
        assert place is not None
        reads += 1
        if reads % 5 == 0:
            r0 = time.perf_counter()
            top = queries.board(program, limit=100)
            board_times.append(time.perf_counter() - r0)
            assert len(top) == 100
    stop.set()
    writes, write_errors = results.get(timeout=120)
    process.join()
    # The board still equals the ledger after the run.
    services_ok = not queries.board_is_behind(program)
    return {
        "backend": connection.vendor,
        "participants": participants,
        "writes": len(writes),
        "write_rate": len(writes) / seconds,
        "write_p50_ms": 1000 * statistics.median(writes) if writes else None,
        "write_p99_ms": 1000 * percentile(writes, 99) if writes else None,
        "write_errors": write_errors,
        "my_place_n": len(place_times),
        "my_place_p50_ms": 1000 * statistics.median(place_times),
        "my_place_p99_ms": 1000 * percentile(place_times, 99),
        "top100_n": len(board_times),
        "top100_p50_ms": 1000 * statistics.median(board_times),
        "top100_p95_ms": 1000 * percentile(board_times, 95),
        "board_current_after": services_ok,
    }


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, object] | None:
    env = dict(os.environ)
    tmp = tempfile.mkdtemp(prefix="fokus-bench-lb-")
    env["FOKUS_DATA_DIR"] = tmp
    db_name = args.database or f"fokus_bench_leaderboard_{os.getpid()}"
    if backend == "postgresql":
        env["DATABASE_URL"] = f"{PG_BASE}/{db_name}"
        import psycopg

        with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}"')
            conn.execute(f'CREATE DATABASE "{db_name}"')
    else:
        env.pop("DATABASE_URL", None)
    try:
        print(f"== {backend}", flush=True)
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--participants", str(args.participants),
             "--seconds", str(args.seconds), "--rate", str(args.rate)],
            env=env, capture_output=True, text=True, check=False,
        )
        sys.stdout.write("".join(line + "\n" for line in out.stdout.splitlines()[:-1]))
        if out.returncode != 0:
            print(out.stderr[-4000:])
            return None
        return json.loads(out.stdout.splitlines()[-1])
    finally:
        if backend == "postgresql":
            import psycopg

            with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=20, help="grades written per second")
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--database", help="PostgreSQL database name to create and drop")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.participants, args.seconds, args.rate)))
        return
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    failed = False
    for backend in backends:
        result = run_backend(backend, args)
        if result is None:
            failed = True
            continue
        place_ok = result["my_place_p99_ms"] <= 5  # type: ignore[operator]
        board_ok = result["top100_p95_ms"] <= 50  # type: ignore[operator]
        print(
            f"  writer: {result['writes']} grades ({result['write_rate']:.1f}/s), "
            f"append+refresh p50 {result['write_p50_ms']:.1f} ms, "
            f"p99 {result['write_p99_ms']:.1f} ms"
            + (f", errors {result['write_errors']}" if result["write_errors"] else "")
        )
        print(
            f"  my_place: {result['my_place_n']} reads, p50 {result['my_place_p50_ms']:.2f} ms, "
            f"p99 {result['my_place_p99_ms']:.2f} ms (target <= 5 ms: "
            f"{'met' if place_ok else 'MISSED'})"
        )
        print(
            f"  top-100 board: {result['top100_n']} reads, "
            f"p50 {result['top100_p50_ms']:.2f} ms, "
            f"p95 {result['top100_p95_ms']:.2f} ms (target <= 50 ms: "
            f"{'met' if board_ok else 'MISSED'})"
        )
        print(f"  board equals ledger after the run: {result['board_current_after']}")
        if backend == "postgresql" and not (place_ok and board_ok):
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
