"""Benchmark: the insights dashboard and the uplift report on a large organisation.

    uv run --frozen python bench/bench_insights.py                      # 100,000 / 5,000,000
    uv run --frozen python bench/bench_insights.py --people 10000 --rows 500000
    uv run --frozen python bench/bench_insights.py --coverage-only       # estimator coverage
    uv run --frozen python bench/bench_insights.py --keep; … --reuse     # measure again

PostgreSQL only (--pg-url, default 127.0.0.1:5432 trust): the database
`fokus_insights_bench` is dropped and created here, migrated, then filled with COPY:
--people sellers in 500 dealerships of 50 cities, 40% of them enrolled (stronger
sellers join more often), --rows KPI records over a baseline of 61 days and a
program of 61 days with a planted effect of +0.8 cars a month for participants,
5 opened materials and 5 answers (graded, with turnaround) per participant.

Measured: the facts refresh (the nightly job), the dashboard page and its JSON
(requests through Django's test client as a viewer: p50/p95 over --requests), and the
uplift report (the page, which runs the query and all three estimators).
Targets (issue 7): dashboard p95 ≤ 300 ms, uplift ≤ 10 s.

--coverage-only (no database): the 95% intervals of difference-in-differences and of
the matched comparison over 100 seeds of synthetic sellers with self-selection.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DB_NAME = "fokus_insights_bench"
EFFECT = 0.8
START = date(2026, 9, 1)
END = date(2026, 10, 31)
TODAY = datetime(2026, 11, 15, 9, 0, tzinfo=UTC)
BASELINE_DAYS = (END - START).days + 1


def coverage(seeds: int = 100, people: int = 2000) -> None:
    from fokus.insights import estimator
    from fokus.insights.synthetic import sellers

    started = time.perf_counter()
    did_hits = matched_hits = 0
    did_effects, naive_effects, matched_effects = [], [], []
    for seed in range(seeds):
        outcomes = [o for o, _ in sellers(seed=seed, people=people, effect=EFFECT)]
        did = estimator.difference_in_differences(outcomes)
        matched = estimator.matched(outcomes)
        naive = estimator.naive(outcomes)
        did_hits += did.covers(EFFECT)
        matched_hits += matched.covers(EFFECT)
        did_effects.append(did.effect or 0.0)
        matched_effects.append(matched.effect or 0.0)
        naive_effects.append(naive.effect or 0.0)
    print(f"coverage over {seeds} seeds of {people} synthetic sellers, truth {EFFECT}:")
    print(f"  naive   mean {statistics.fmean(naive_effects):.3f}")
    print(f"  DiD     mean {statistics.fmean(did_effects):.3f}  95% CI covers {did_hits}/{seeds}")
    print(f"  matched mean {statistics.fmean(matched_effects):.3f}  "
          f"95% CI covers {matched_hits}/{seeds}")
    print(f"  ({time.perf_counter() - started:.1f} s)")


def _copy(conn: object, sql: str, lines: io.StringIO) -> None:
    lines.seek(0)
    with conn.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[attr-defined]
        while chunk := lines.read(1 << 20):
            copy.write(chunk)


def fill(pg_url: str, people: int, rows: int, seed: int) -> dict[str, object]:
    import psycopg
    from django.db import connection

    from fokus.core.models import Organization
    from fokus.kpi.models import ImportChannel, KpiImport, KpiSource
    from fokus.people.models import Person, Unit
    from fokus.programs.models import LearningDay, Material, Program, Slot, SlotKind, Task, Track

    rng = random.Random(seed)
    organization = Organization.objects.create(slug="bench", name="Bench",
                                               default_time_zone="Europe/Moscow")
    units = Unit.objects.bulk_create(
        Unit(organization=organization, name=f"Dealer {i:03d}", city=f"City {i % 50:02d}")
        for i in range(500)
    )
    program = Program.objects.create(
        organization=organization, slug="marathon", title="Marathon", starts_on=START,
        ends_on=END, learning_weekdays="mon,tue,wed,thu,fri",
    )
    track = Track.objects.create(program=program, slug="sellers", title="Sellers")
    slots = [Slot.objects.create(program=program, local_time=t, kind=SlotKind.LESSON)
             for t in (datetime(2026, 1, 1, 9).time(), datetime(2026, 1, 1, 13).time())]
    days = [LearningDay.objects.create(program=program, index=i + 1,
                                       date=START + timedelta(days=i)) for i in range(40)]
    materials, tasks = [], []
    for i, day in enumerate(days):
        materials.append(Material.objects.create(track=track, day=day, slot=slots[i % 2],
                                                 title=f"M{i}", body="b"))
        tasks.append(Task.objects.create(track=track, day=day, slot=slots[(i + 1) % 2],
                                         title=f"T{i}", prompt="p"))
    source = KpiSource.objects.create(organization=organization, slug="erp", name="ERP")
    kpi_import = KpiImport.objects.create(
        organization=organization, source=source, file_name="bench.csv", sha256="0" * 64,
        channel=ImportChannel.CLI, created_at=TODAY,
    )
    connection.close()

    started = time.perf_counter()
    # People: level (cars a month) by dealership and person; stronger sellers join more.
    unit_level = [rng.gauss(1.0, 0.15) for _ in units]
    person_rows = io.StringIO()
    levels: list[tuple[float, bool, int]] = []
    mean_rate = rows / people / ((BASELINE_DAYS + (END - START).days + 1) / 30)
    for i in range(people):
        unit_index = i % len(units)
        level = max(0.2, mean_rate * unit_level[unit_index] + rng.gauss(0, mean_rate * 0.3))
        joins = rng.random() < 1 / (1 + math.exp(-(level - mean_rate) / (mean_rate * 0.2) + 0.4))
        levels.append((level, joins, unit_index))
        person_rows.write(
            f"{organization.pk}\tE{i:06d}\tSeller {i}\t\tEurope/Moscow\t\t{units[unit_index].pk}"
            "\tparticipant\t\tt\n"
        )
    with psycopg.connect(pg_url, autocommit=False) as conn:
        _copy(conn, "COPY people_person (organization_id, employee_number, full_name, email, "
                    "time_zone, position, unit_id, roles, language, is_active) FROM STDIN",
              person_rows)
        conn.commit()
        ids = [r[0] for r in conn.execute(
            "SELECT id FROM people_person WHERE organization_id = %s ORDER BY employee_number",
            [organization.pk]).fetchall()]
        enrolled = [(ids[i], levels[i]) for i in range(people) if levels[i][1]]
        lines = io.StringIO()
        for person_id, _ in enrolled:
            lines.write(f"{person_id}\t{track.pk}\tactive\t{TODAY.isoformat()}\n")
        _copy(conn, "COPY programs_enrollment (person_id, track_id, status, enrolled_at) "
                    "FROM STDIN", lines)
        # Activity: 5 opened materials and 5 graded answers per participant.
        views, subs = io.StringIO(), io.StringIO()
        for person_id, _ in enrolled:
            for material in rng.sample(materials, 5):
                opened = datetime.combine(material.day.date, slots[0].local_time, tzinfo=UTC)
                views.write(f"{person_id}\t{material.pk}\t{opened.isoformat()}\n")
            for task in rng.sample(tasks, 5):
                at = datetime.combine(task.day.date, slots[1].local_time, tzinfo=UTC)
                subs.write(f"{organization.pk}\t{program.pk}\t{track.pk}\t{task.pk}\t"
                           f"{person_id}\tgraded\t{at.isoformat()}\t{at.isoformat()}\n")
        _copy(conn, "COPY programs_materialview (person_id, material_id, opened_at) FROM STDIN",
              views)
        _copy(conn, "COPY review_submission (organization_id, program_id, track_id, task_id, "
                    "person_id, status, created_at, updated_at) FROM STDIN", subs)
        conn.execute(
            "INSERT INTO review_attempt (organization_id, submission_id, number, status, text, "
            "link, feedback, submitted_at, is_late, grade, decided_at) SELECT organization_id, "
            "id, 1, 'graded', '', '', '', created_at, false, 2, created_at + interval '3 hours' "
            "FROM review_submission "
            "WHERE program_id = %s", [program.pk])
        conn.commit()
        print(f"  people, enrollments ({len(enrolled)}), activity: "
              f"{time.perf_counter() - started:.1f} s", flush=True)

        started = time.perf_counter()
        program_days = (END - START).days + 1
        baseline_start = START - timedelta(days=BASELINE_DAYS)
        written = 0
        sale = 0
        buffer = io.StringIO()
        prefix = f"{organization.pk}\t{source.pk}\t{kpi_import.pk}\t"
        with conn.cursor() as cursor, cursor.copy(
            "COPY kpi_kpirecord (organization_id, source_id, kpi_import_id, person_id, "
            "employee_number, metric, sale_key, kind, occurred_on, quantity, row) FROM STDIN"
        ) as copy:
            for i, (level, joins, _unit) in enumerate(levels):
                person_id = ids[i]
                for first, length, extra in ((baseline_start, BASELINE_DAYS, 0.0),
                                             (START, program_days, EFFECT if joins else 0.0)):
                    mean = (level + extra) * length / 30
                    count = max(0, round(rng.gauss(mean, math.sqrt(mean))))
                    for _ in range(count):
                        sale += 1
                        day = first + timedelta(days=rng.randrange(length))
                        buffer.write(f"{prefix}{person_id}\tE{i:06d}\tcars_sold\tV{sale}\tsale\t"
                                     f"{day.isoformat()}\t1\t{sale}\n")
                if buffer.tell() > (4 << 20):
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
            written = sale
        conn.commit()
        conn.execute("ANALYZE")
        print(f"  {written:,} KPI records by COPY: {time.perf_counter() - started:.1f} s",
              flush=True)

    viewer = _viewer(organization)
    return {"program": program, "viewer": viewer, "rows": written,
            "participants": len(enrolled), "Person": Person}


def _viewer(organization: object) -> object:
    from django.contrib.auth.models import User

    from fokus.people.models import Person

    user = User.objects.create_user(username="bench-viewer")
    Person.objects.create(organization=organization, employee_number="VIEWER",
                          full_name="Viewer", time_zone="Europe/Moscow", roles="viewer",
                          user=user)
    return user


def _timed(fn: object, n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return times


def _p(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def run(args: argparse.Namespace) -> None:
    import psycopg

    base = args.pg_url.rsplit("/", 1)[0]
    if not args.reuse:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
            admin.execute(f"CREATE DATABASE {DB_NAME}")
    os.environ["DATABASE_URL"] = f"{base}/{DB_NAME}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fokus.config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import override_settings

    from fokus.core import clock
    from fokus.insights import queries, services

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"PostgreSQL {DB_NAME}: migrated in {time.perf_counter() - started:.1f} s")
    if args.reuse:
        from django.contrib.auth.models import User

        from fokus.kpi.models import KpiRecord
        from fokus.programs.models import Program

        filled = {"program": Program.objects.get(slug="marathon"),
                  "viewer": User.objects.get(username="bench-viewer")}
        print(f"reusing {KpiRecord.objects.count():,} KPI records")
    else:
        print(f"generating {args.people:,} people and ~{args.rows:,} KPI rows")
        filled = fill(f"{base}/{DB_NAME}", args.people, args.rows, args.seed)
    program = filled["program"]

    with clock.frozen_at(TODAY), override_settings(ALLOWED_HOSTS=["*"]):
        started = time.perf_counter()
        services.insights_refresh(program)  # type: ignore[arg-type]
        print(f"facts refresh (nightly job): {time.perf_counter() - started:.1f} s")
        client = Client()
        client.force_login(filled["viewer"])  # type: ignore[arg-type]
        url = f"/insights/{program.slug}/"  # type: ignore[attr-defined]
        api = f"/api/v1/insights/programs/{program.slug}/dashboard"  # type: ignore[attr-defined]
        assert client.get(url).status_code == 200
        page = _timed(lambda: client.get(url), args.requests)
        json_times = _timed(lambda: client.get(api), args.requests)
        print(f"dashboard page  ({args.requests} requests): p50 {_p(page, .5):.0f} ms, "
              f"p95 {_p(page, .95):.0f} ms  (target p95 ≤ 300 ms)")
        print(f"dashboard JSON  ({args.requests} requests): p50 {_p(json_times, .5):.0f} ms, "
              f"p95 {_p(json_times, .95):.0f} ms")
        uplift_url = f"/insights/{program.slug}/uplift/"  # type: ignore[attr-defined]
        uplift_times = _timed(lambda: client.get(uplift_url), 3)
        print(f"uplift report page (3 runs): {', '.join(f'{t / 1000:.1f}' for t in uplift_times)}"
              " s  (target ≤ 10 s)")
        custom_url = f"{uplift_url}?baseline_days=60"
        custom_times = _timed(lambda: client.get(custom_url), 1)
        print(f"uplift with a custom baseline (sums 5M records now): "
              f"{custom_times[0] / 1000:.1f} s")
        report = queries.uplift_report(program, today=TODAY.date())  # type: ignore[arg-type]
        print(f"uplift: {report.participants:,} participants vs {report.others:,} others, "
              f"planted effect +{EFFECT}/month")
        for e in report.estimates:
            effect = f"{e.effect:.3f}" if e.effect is not None else "-"
            interval = f"[{e.low:.3f}, {e.high:.3f}]" if e.has_interval else ""
            print(f"  {e.method:8} {effect} {interval} n={e.n_treated:,}/{e.n_control:,}")
    if not args.keep:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="measure again on the database a --keep run left")
    parser.add_argument("--coverage-only", action="store_true")
    args = parser.parse_args()
    if args.coverage_only:
        coverage()
        return
    run(args)
    if not args.reuse:
        coverage()


if __name__ == "__main__":
    main()
