"""Benchmark: importing 1,000,000 sales rows, then re-importing the same file.

    uv run --frozen python bench/bench_kpi_import.py                 # both databases
    uv run --frozen python bench/bench_kpi_import.py --backend sqlite --rows 200000
    uv run --frozen python bench/bench_kpi_import.py --also-enrolled 0  # targets only

The file has the shape of ../shared/data/sales.csv (cp1251, `;`, CRLF, dd.mm.yyyy,
decimal comma, one VIN per row) for ~100,000 people. Each backend runs in a child
process with a database of its own, created and dropped here: a temporary SQLite file,
or `fokus_bench_kpi_<pid>` on PostgreSQL (--pg-url, default 127.0.0.1:5432, trust).

Measured:
* PostgreSQL anchor: a plain `COPY` of the same file into an unindexed table
  (psycopg, typed date and quantity, the amount as text since COPY cannot read a
  decimal comma), in the same run.
* `fokus kpi import FILE --org … --source …` (call_command: read, decode, validate,
  write, the report), then the same again: the re-import must write no record and be
  no slower than the first import.

Targets (issue 5): PostgreSQL import ≥ 25% of COPY's rows/s; SQLite ≥ 50,000 rows/s.
The targets are measured with nobody enrolled (records only, no points). Then, for
information, each backend runs again with 1% of people enrolled (--also-enrolled) in a
running program whose rules give KPI points: the import also calls
`fokus.scoring.services.kpi_points_record` once per sale of an enrolled person. The
PostgreSQL import takes the fast path of fokus/kpi/pg_import.py (the file is a plain
CSV); SQLite reads the rows in Python.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

MODELS = ["Granta", "Vesta", "XRAY", "Niva Travel", "Largus", "Iskra"]
PG_TARGET = 0.25
SQLITE_TARGET = 50_000


def generate_sales(path: Path, rows: int, people: int, seed: int = 5) -> None:
    rng = random.Random(seed)
    start = date(2026, 11, 1)
    dates = [(start + timedelta(days=d)).strftime("%d.%m.%Y") for d in range(30)]
    with path.open("w", encoding="cp1251", newline="") as out:
        out.write("Табельный номер;Дата продажи;Модель;VIN;Количество;Сумма, руб.\r\n")
        chunk = []
        for i in range(1, rows + 1):
            chunk.append(
                f"{100_000 + rng.randrange(people)};{dates[rng.randrange(30)]};"
                f"{MODELS[rng.randrange(6)]};XTA{i:014d};1;{rng.randrange(900, 3000)}000,00\r\n"
            )
            if len(chunk) >= 50_000:
                out.write("".join(chunk))
                chunk = []
        out.write("".join(chunk))


# --- the child: one database ------------------------------------------------------------


def child(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.core.management.base import CommandError
    from django.db import connection
    from django.utils import timezone

    from fokus.core.models import Organization
    from fokus.kpi.models import KpiImport, KpiRecord
    from fokus.kpi.services import kpi_source_create
    from fokus.people.models import Person
    from fokus.programs.models import (
        Enrollment,
        LearningDay,
        Program,
        Slot,
        SlotKind,
        Task,
        Track,
    )
    from fokus.scoring.models import PointsEntry

    call_command("migrate", verbosity=0)
    organization = Organization.objects.create(slug="bench", name="Bench")
    Person.objects.bulk_create(
        [
            Person(organization=organization, employee_number=str(100_000 + i),
                   full_name=f"Сотрудник {i}", time_zone="Europe/Moscow")
            for i in range(args.people)
        ],
        batch_size=5000,
    )
    kpi_source_create(organization=organization, slug="sales", name="ERP")
    if args.enrolled > 0:
        program = Program.objects.create(
            organization=organization, slug="m", title="M", starts_on=date(2026, 11, 1),
            ends_on=date(2026, 11, 30), learning_weekdays="mon,wed,fri",
        )
        track = Track.objects.create(program=program, slug="c", title="C")
        slot = Slot.objects.create(program=program, local_time=__import__("datetime").time(10),
                                   kind=SlotKind.LESSON)
        for index in range(1, 13):
            day = LearningDay.objects.create(
                program=program, index=index, date=date(2026, 11, 1) + timedelta(days=index * 2)
            )
            Task.objects.create(track=track, day=day, slot=slot, title=f"T{index}", prompt=".")
        people = list(Person.objects.filter(organization=organization).order_by("pk"))
        chosen = people[: int(len(people) * args.enrolled)]
        Enrollment.objects.bulk_create(
            [Enrollment(person=p, track=track, enrolled_at=timezone.now()) for p in chosen],
            batch_size=5000,
        )

    results: dict[str, object] = {"backend": connection.vendor, "rows": args.rows,
                                  "people": args.people, "enrolled": args.enrolled}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE bench_copy (employee_number text, occurred_on date, model text, "
                "vin text, quantity integer, amount text)"
            )
            cursor.execute("SET datestyle = 'ISO, DMY'")
            data = Path(args.file).read_bytes()
            started = time.perf_counter()
            with cursor.cursor.copy(
                "COPY bench_copy FROM STDIN (FORMAT csv, DELIMITER ';', HEADER true, "
                "ENCODING 'WIN1251')"
            ) as copy:
                view = memoryview(data)
                for offset in range(0, len(data), 1 << 20):
                    copy.write(view[offset:offset + (1 << 20)])
            copy_seconds = time.perf_counter() - started
            cursor.execute("SELECT count(*) FROM bench_copy")
            assert cursor.fetchone()[0] == args.rows
            cursor.execute("SET datestyle = 'ISO, MDY'")
        results["copy_seconds"] = copy_seconds
        results["copy_rows_per_s"] = args.rows / copy_seconds

    def run_import() -> tuple[float, dict[str, object]]:
        out = io.StringIO()
        started = time.perf_counter()
        try:
            call_command("kpi", "import", args.file, "--org", "bench", "--source", "sales",
                         "--format", "json", stdout=out)
        except CommandError as exc:
            raise SystemExit(f"kpi import failed: {exc}\n{out.getvalue()[:2000]}") from exc
        seconds = time.perf_counter() - started
        return seconds, json.loads(out.getvalue())["counts"]

    first_seconds, first = run_import()
    records = KpiRecord.objects.count()
    entries = PointsEntry.objects.count()
    second_seconds, second = run_import()
    assert KpiRecord.objects.count() == records, "the re-import changed the records"
    assert PointsEntry.objects.count() == entries, "the re-import changed the ledger"
    assert KpiImport.objects.count() == 2
    results.update(
        import_seconds=first_seconds, import_rows_per_s=args.rows / first_seconds,
        reimport_seconds=second_seconds, reimport_rows_per_s=args.rows / second_seconds,
        first_counts=first, second_counts=second, records=records, points_entries=entries,
    )
    print(json.dumps(results))


# --- the parent: generate, run each backend, print ------------------------------------


def run_backend(
    backend: str, args: argparse.Namespace, file: Path, workdir: Path, enrolled: float
) -> dict:
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never",
               DJANGO_SETTINGS_MODULE="fokus.config.settings", FOKUS_TASKS="immediate")
    db_name = args.database or f"fokus_bench_kpi_{os.getpid()}"
    if backend == "postgres":
        import psycopg

        admin_url = f"{args.pg_url.rstrip('/')}/postgres"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}"')
            conn.execute(f'CREATE DATABASE "{db_name}"')
        env["DATABASE_URL"] = f"{args.pg_url.rstrip('/')}/{db_name}"
        env["FOKUS_DATA_DIR"] = str(workdir / "pg-data")
    else:
        env.pop("DATABASE_URL", None)
        env["FOKUS_DATA_DIR"] = str(workdir / f"sqlite-data-{enrolled}")  # a fresh database
    command = [sys.executable, __file__, "--child", "--file", str(file), "--rows",
               str(args.rows), "--people", str(args.people), "--enrolled", str(enrolled)]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    finally:
        if backend == "postgres":
            import psycopg

            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    if done.returncode != 0:
        raise SystemExit(f"{backend} run failed:\n{done.stderr[-4000:]}\n{done.stdout[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(result: dict, *, target: bool = True) -> bool:
    rows = result["rows"]
    points = (
        f"with points for {result['enrolled']:.0%} of people enrolled "
        f"({result['points_entries']} ledger entries)"
        if result["enrolled"] else "records only (nobody enrolled, no points)"
    )
    print(f"\n== {result['backend']}: {rows:,} rows, {result['people']:,} people, {points}")
    ok = True
    if not target:
        print("(for information: the targets are measured with nobody enrolled)")
    if "copy_rows_per_s" in result:
        print(f"COPY into an unindexed table: {result['copy_seconds']:.2f} s, "
              f"{result['copy_rows_per_s']:,.0f} rows/s")
    print(f"kpi import:    {result['import_seconds']:.2f} s, "
          f"{result['import_rows_per_s']:,.0f} rows/s; new records "
          f"{result['first_counts']['new']:,}")
    print(f"kpi re-import: {result['reimport_seconds']:.2f} s, "
          f"{result['reimport_rows_per_s']:,.0f} rows/s; new records "
          f"{result['second_counts']['new']:,} (already imported "
          f"{result['second_counts']['already_imported']:,})")
    if "copy_rows_per_s" in result:
        ratio = result["import_rows_per_s"] / result["copy_rows_per_s"]
        ratio_re = result["reimport_rows_per_s"] / result["copy_rows_per_s"]
        verdict = "OK" if ratio >= PG_TARGET else "BELOW TARGET"
        print(f"import / COPY: {ratio:.1%} (target ≥ {PG_TARGET:.0%}): {verdict}; "
              f"re-import / COPY: {ratio_re:.1%}")
        ok &= ratio >= PG_TARGET
    else:
        verdict = "OK" if result["import_rows_per_s"] >= SQLITE_TARGET else "BELOW TARGET"
        print(f"target ≥ {SQLITE_TARGET:,} rows/s: {verdict}")
        ok &= result["import_rows_per_s"] >= SQLITE_TARGET
    slower = result["reimport_seconds"] > result["import_seconds"]
    print(f"re-import no slower than the first import: {'no, SLOWER' if slower else 'yes'}; "
          f"changed nothing: {result['second_counts']['new'] == 0}")
    return ok and not slower and result["second_counts"]["new"] == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--enrolled", type=float, default=0.0,
                        help="fraction of people enrolled in a running program (points)")
    parser.add_argument("--also-enrolled", type=float, default=0.01,
                        help="then run again with this fraction enrolled (0: do not)")
    parser.add_argument("--backend", choices=["both", "postgres", "sqlite"], default="both")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--database", help="PostgreSQL database name to create and drop")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        child(args)
        return
    with tempfile.TemporaryDirectory(prefix="fokus-bench-kpi-") as tmp:
        workdir = Path(tmp)
        file = workdir / "sales.csv"
        started = time.perf_counter()
        generate_sales(file, args.rows, args.people)
        print(f"generated {args.rows:,} rows ({file.stat().st_size / 2**20:.0f} MB) in "
              f"{time.perf_counter() - started:.1f} s")
        backends = ["postgres", "sqlite"] if args.backend == "both" else [args.backend]
        ok = True
        for backend in backends:
            ok &= report(run_backend(backend, args, file, workdir, args.enrolled))
            if args.also_enrolled > 0 and args.enrolled == 0:
                report(run_backend(backend, args, file, workdir, args.also_enrolled),
                       target=False)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
