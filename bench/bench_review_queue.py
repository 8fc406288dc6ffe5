"""Benchmark: the curator queue page and "next answer" with 50,000 answers awaiting review.

    uv run --frozen python bench/bench_review_queue.py                  # PostgreSQL
    uv run --frozen python bench/bench_review_queue.py --backend sqlite  # for comparison
    uv run --frozen python bench/bench_review_queue.py --pending 20000 --requests 300

A throwaway database is created and dropped here (`fokus_bench_review_<pid>` on
PostgreSQL at --pg-url, trust auth; a temporary file for SQLite), migrated in a child
process, then filled with bulk inserts: one organisation, one seed-001-shaped program
(2 tracks, 7 learning days), 5,000 participants in 50 dealerships, 50,000 submitted
attempts spread over ten days (5% claimed, a few assigned), plus 20,000 decided ones so
the table is not only the queue.

Measured with Django's test Client as a signed-in curator (middleware, session, query,
template rendering; no network), p50/p95/p99 over --requests requests each:
* GET /review/                     the queue's first page (50 rows, counts)
* GET /review/?day=3&unit=<id>     a filtered page
* GET /review/?after=<cursor>      a page 10,000 answers deep (keyset, no OFFSET)
* POST /review/next/               "next answer": each request by another curator, so
                                   every one really claims a new answer (FOR UPDATE
                                   SKIP LOCKED, the claim, its audit event)
* POST /review/next/?day=5         the same inside a filter
* GET /login/ (anonymous)          the anchor: the cheapest page, same run, same client

Target (issue 4): p95 ≤ 100 ms for the queue page and for "next answer" on PostgreSQL.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MS = 100.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {
        "n": len(ms), "p50": percentile(ms, 0.5), "p95": percentile(ms, 0.95),
        "p99": percentile(ms, 0.99), "mean": statistics.fmean(ms),
    }


# --- the child: one database ------------------------------------------------------------


def child(args: argparse.Namespace) -> None:
    import django

    django.setup()
    import datetime as dt
    import random

    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from fokus.core import clock
    from fokus.core.models import Organization
    from fokus.people.models import Person, Unit
    from fokus.programs.models import LearningDay, Program, Slot, SlotKind, Task, Track
    from fokus.review.models import Attempt, AttemptStatus, ReviewSettings, Submission

    call_command("migrate", verbosity=0)
    rng = random.Random(4)
    msk = dt.timezone(dt.timedelta(hours=3))
    now = dt.datetime(2026, 12, 4, 12, 0, tzinfo=msk)  # a Friday, day 6 of the program

    t0 = time.perf_counter()
    org = Organization.objects.create(slug="bench", name="Bench", default_time_zone="Europe/Moscow")
    program = Program.objects.create(
        organization=org, slug="sales-marathon", title="Марафон продаж",
        starts_on=dt.date(2026, 11, 23), ends_on=dt.date(2026, 12, 8),
        learning_weekdays="mon,wed,fri",
    )
    consultants = Track.objects.create(program=program, slug="consultants", title="Консультанты")
    seniors = Track.objects.create(program=program, slug="seniors", title="Старшие",
                                   follows=consultants, position=1)
    slots = [Slot.objects.create(program=program, local_time=dt.time(h), kind=SlotKind.LESSON)
             for h in (10, 14)]
    tasks: list[Task] = []
    for index, offset in enumerate((0, 2, 4, 7, 9, 11, 14), start=1):
        day = LearningDay.objects.create(program=program, index=index,
                                         date=program.starts_on + dt.timedelta(days=offset))
        for slot in slots:
            tasks.append(Task.objects.create(track=consultants, day=day, slot=slot,
                                             title=f"Задание {index}.{slot.local_time:%H}",
                                             prompt="Опишите три открытых вопроса клиенту."))
        if index <= 4:
            Task.objects.create(track=seniors, day=day, slot=slots[1], title=f"Старшим {index}",
                                prompt="…")
    units = Unit.objects.bulk_create(
        [Unit(organization=org, name=f"Дилер {i:02d}", city="Город") for i in range(50)]
    )
    people = Person.objects.bulk_create([
        Person(organization=org, employee_number=f"{100000 + i}", full_name=f"Участник {i}",
               time_zone=rng.choice(["Europe/Moscow", "Asia/Vladivostok", "Asia/Yekaterinburg"]),
               unit=units[i % 50], roles="participant")
        for i in range(args.pending // 10)
    ], batch_size=5000)
    curator_users = User.objects.bulk_create(
        [User(username=f"curator-{i}") for i in range(2 * args.requests + 100)], batch_size=5000
    )
    curators = Person.objects.bulk_create([
        Person(organization=org, employee_number=f"K-{i}", full_name=f"Куратор {i}",
               time_zone="Europe/Moscow", roles="curator", user=u)
        for i, u in enumerate(curator_users)
    ], batch_size=5000)
    ReviewSettings.objects.create(program=program, lead_curator=curators[0], turnaround_hours=4)

    def working_instant() -> dt.datetime:
        day = now - dt.timedelta(days=rng.randrange(0, 12))
        stamp = day.replace(hour=rng.randrange(8, 21), minute=rng.randrange(60),
                            second=rng.randrange(60), microsecond=rng.randrange(10**6))
        return min(stamp, now - dt.timedelta(minutes=1))

    # Ten tasks per participant: the first ten pending, the last four decided.
    submissions = []
    for p in people:
        for task in tasks[:10]:
            submissions.append(Submission(
                organization=org, program=program, track=consultants, task=task, person=p,
                unit=p.unit, status=AttemptStatus.SUBMITTED,
                assigned_curator=curators[1] if rng.random() < 0.02 else None,
                created_at=now, updated_at=now,
            ))
        for task in tasks[10:14]:
            submissions.append(Submission(
                organization=org, program=program, track=consultants, task=task, person=p,
                unit=p.unit, status=AttemptStatus.GRADED, created_at=now, updated_at=now,
            ))
    submissions = Submission.objects.bulk_create(submissions, batch_size=5000)
    attempts = []
    for s in submissions:
        at = working_instant()
        if s.status == AttemptStatus.SUBMITTED:
            claimed = rng.random() < 0.05
            attempts.append(Attempt(
                organization=org, submission=s, number=1, status=AttemptStatus.SUBMITTED,
                text="Ответ участника " * 8, submitted_at=at,
                claimed_by=curators[2 + rng.randrange(40)] if claimed else None,
                claimed_until=now + dt.timedelta(minutes=10) if claimed else None,
            ))
        else:
            attempts.append(Attempt(
                organization=org, submission=s, number=1, status=AttemptStatus.GRADED,
                text="Ответ", submitted_at=at, grade=rng.randrange(1, 4), feedback="Хорошо",
                decided_by=curators[2 + rng.randrange(40)], decided_at=at + dt.timedelta(hours=3),
            ))
    Attempt.objects.bulk_create(attempts, batch_size=5000)
    with connection.cursor() as cursor:
        # A live database is vacuumed by autovacuum; a freshly filled one is not yet.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    fill_seconds = time.perf_counter() - t0
    # The 140,000 objects built for the fill would make every garbage collection during
    # the measurement walk them: a web worker does not carry them.
    del submissions, attempts, people
    gc.collect()
    gc.freeze()
    if os.environ.get("BENCH_FILL_ONLY"):  # leave the filled database for profiling
        return
    pending = Attempt.objects.filter(organization=org, status=AttemptStatus.SUBMITTED).count()

    from django.urls import reverse

    from fokus.review import queries

    def signed_in(person: Person) -> Client:
        client = Client()
        assert person.user is not None
        client.force_login(person.user)
        return client

    def timed(fn: object, n: int, warmup: int = 10) -> list[float]:
        for _ in range(warmup):
            fn()  # type: ignore[operator]
        out = []
        for _ in range(n):
            started = time.perf_counter()
            fn()  # type: ignore[operator]
            out.append(time.perf_counter() - started)
        return out

    results: dict[str, dict[str, float]] = {}
    with clock.frozen_at(now):
        main = signed_in(curators[45])
        queue_url = reverse("curator:queue")

        def get_ok(client: Client, url: str) -> None:
            response = client.get(url)
            assert response.status_code == 200, response.status_code

        filtered = f"{queue_url}?day=3&unit={units[7].pk}"
        deep_row = (
            Attempt.objects.filter(organization=org, status=AttemptStatus.SUBMITTED)
            .order_by("submitted_at", "pk")[10_000]
        )
        deep = f"{queue_url}?after={queries.queue_cursor_encode(deep_row)}"
        anonymous = Client()
        login_url = reverse("core:login")
        next_url = reverse("curator:next")
        # Curators 2–41 hold the seeded claims; Next goes to curators who hold nothing,
        # so every request claims a new answer.
        fresh = iter(curators[50:])
        rounds = args.requests + 5
        next_clients = iter([signed_in(next(fresh)) for _ in range(rounds)])
        day_clients = iter([signed_in(next(fresh)) for _ in range(rounds)])
        claimed_ids: list[int] = []

        def next_answer(clients_iter: object, data: dict[str, str]) -> None:
            client = next(clients_iter)  # type: ignore[call-overload]
            response = client.post(next_url, data)
            assert response.status_code == 302 and "/review/attempts/" in response["Location"]
            claimed_ids.append(int(response["Location"].split("/attempts/")[1].split("/")[0]))

        operations = {
            "queue page": lambda: get_ok(main, queue_url),
            "queue, filtered": lambda: get_ok(main, filtered),
            "queue, 10,000 deep": lambda: get_ok(main, deep),
            "next answer": lambda: next_answer(next_clients, {}),
            "next answer, day 5": lambda: next_answer(day_clients, {"day": "5"}),
            "anchor: GET /login/": lambda: get_ok(anonymous, login_url),
        }
        # Interleaved rounds: a load spike on this machine hits every operation alike,
        # so the ratios to the anchor stay meaningful.
        timings: dict[str, list[float]] = {name: [] for name in operations}
        for round_number in range(rounds):
            for name, operation in operations.items():
                started = time.perf_counter()
                operation()
                if round_number >= 5:  # warm-up rounds are not counted
                    timings[name].append(time.perf_counter() - started)
        results = {name: summary(values) for name, values in timings.items()}
        distinct = len(set(claimed_ids)) == len(claimed_ids)
        page_client = signed_in(curators[2])
        review_url = reverse("curator:attempt", kwargs={"attempt_id": claimed_ids[0]})
        results["review page (info)"] = summary(
            timed(lambda: get_ok(page_client, review_url), min(args.requests, 200))
        )

    print(json.dumps({
        "backend": connection.vendor, "pending": pending, "fill_seconds": fill_seconds,
        "results": results, "distinct_claims": distinct,
    }))


# --- the parent -------------------------------------------------------------------------


def run_backend(backend: str, args: argparse.Namespace, workdir: Path) -> dict:
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never",
               DJANGO_SETTINGS_MODULE="fokus.config.settings", FOKUS_TASKS="immediate",
               DEBUG="0")
    db_name = f"fokus_bench_review_{os.getpid()}"
    admin_url = f"{args.pg_url.rstrip('/')}/postgres"
    if backend == "postgres":
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}"')
            conn.execute(f'CREATE DATABASE "{db_name}"')
        env["DATABASE_URL"] = f"{args.pg_url.rstrip('/')}/{db_name}"
        env["FOKUS_DATA_DIR"] = str(workdir / "pg-data")
    else:
        env.pop("DATABASE_URL", None)
        env["FOKUS_DATA_DIR"] = str(workdir / "sqlite-data")
    command = [sys.executable, __file__, "--child", "--pending", str(args.pending),
               "--requests", str(args.requests)]
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


def report(result: dict) -> bool:
    print(f"\n== {result['backend']}: {result['pending']:,} answers awaiting review "
          f"(filled in {result['fill_seconds']:.1f} s)")
    anchor = result["results"]["anchor: GET /login/"]["p50"]
    ok = True
    for name, s in result["results"].items():
        targeted = name in {"queue page", "next answer"} and result["backend"] == "postgresql"
        verdict = ""
        if targeted:
            passed = s["p95"] <= TARGET_MS
            ok &= passed
            verdict = f"  target p95 ≤ {TARGET_MS:.0f} ms: {'OK' if passed else 'MISSED'}"
        print(f"{name:22s} n={s['n']:4d}  p50 {s['p50']:6.1f} ms  p95 {s['p95']:6.1f} ms  "
              f"p99 {s['p99']:6.1f} ms  ({s['p50'] / anchor:4.1f}× anchor p50){verdict}")
    print(f"every Next claimed a different answer: {result['distinct_claims']}")
    return ok and result["distinct_claims"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pending", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="postgres")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.requests < 200:
        parser.error("--requests: at least 200 for a meaningful p99")
    if args.child:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        child(args)
        return
    backends = ["postgres", "sqlite"] if args.backend == "both" else [args.backend]
    ok = True
    with tempfile.TemporaryDirectory(prefix="fokus-bench-review-") as tmp:
        for backend in backends:
            ok &= report(run_backend(backend, args, Path(tmp)))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
