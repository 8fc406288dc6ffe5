"""Benchmark: the operator's drop progress and delivery log over a 100,000-row drop.

    uv run --frozen python bench/bench_operator_progress.py                  # SQLite, temp file
    uv run --frozen python bench/bench_operator_progress.py --pg-url postgres://postgres@127.0.0.1:5432/fokus_bench_operator

A throwaway database (a temporary SQLite file, or the PostgreSQL database named in
--pg-url, which must not exist and is dropped afterwards) is migrated and filled with
--people people and one lesson drop for them (84 % sent at 30/s, 1 % failed, the rest
planned) plus ten smaller drops. Prints the time of `drop_progress` for the day (one
aggregate query), of the log's first page and of a filtered page, as the pages run them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(fn: object, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        runs.append(time.perf_counter() - start)
    return statistics.median(runs) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--pg-url", default="")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="fokus-bench-operator-")
    os.environ["FOKUS_DATA_DIR"] = tmp
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fokus.config.settings")
    admin_url = ""
    if args.pg_url:
        import psycopg

        base, _, name = args.pg_url.rpartition("/")
        admin_url = f"{base}/postgres"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = args.pg_url
    else:
        os.environ.pop("DATABASE_URL", None)

    import django

    django.setup()
    import datetime as dt

    from django.core.management import call_command
    from django.db import connections

    from fokus.core.models import Organization
    from fokus.delivery import operator
    from fokus.delivery.models import Channel, Delivery, DeliveryKind, DeliveryStatus
    from fokus.people.models import Person
    from fokus.programs.models import Program

    try:
        call_command("migrate", verbosity=0)
        org = Organization.objects.create(slug="bench", name="Bench")
        program = Program.objects.create(
            organization=org, slug="m", title="M", starts_on=dt.date(2026, 3, 2),
            ends_on=dt.date(2026, 3, 20),
        )
        Person.objects.bulk_create(
            [Person(organization=org, employee_number=f"E{i:06d}", full_name=f"Person {i}",
                    time_zone="Europe/Moscow") for i in range(args.people)],
            batch_size=5000,
        )
        people = list(Person.objects.filter(organization=org).values_list("pk", flat=True))
        start = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)
        sent_count = int(args.people * 0.84)
        failed_count = args.people // 100
        rows = []
        for i, pk in enumerate(people):
            if i < sent_count:
                status, sent_at = DeliveryStatus.SENT, start + dt.timedelta(seconds=i / 30)
            elif i < sent_count + failed_count:
                status, sent_at = DeliveryStatus.FAILED, None
            else:
                status, sent_at = DeliveryStatus.PLANNED, None
            rows.append(Delivery(
                organization=org, person_id=pk, program=program, kind=DeliveryKind.LESSON,
                contact_point="lesson:1:2026-03-02:10:00", channel=Channel.TELEGRAM,
                due_at=start, status=status, sent_at=sent_at,
                error="Forbidden: bot was blocked by the user" if status == "failed" else "",
            ))
            if i % 10 == 0:
                rows.append(Delivery(
                    organization=org, person_id=pk, program=program, kind=DeliveryKind.REMINDER,
                    contact_point=f"reminder:1:2026-03-02:14:00:{i % 100}", channel=Channel.EMAIL,
                    due_at=start + dt.timedelta(hours=4), status=DeliveryStatus.PLANNED,
                ))
        Delivery.objects.bulk_create(rows, batch_size=5000)
        if connections["default"].vendor == "postgresql":
            with connections["default"].cursor() as cursor:
                cursor.execute("ANALYZE")  # autovacuum would, a minute later
        day_from, day_until = start - dt.timedelta(hours=10), start + dt.timedelta(hours=14)

        def progress() -> None:
            drops = operator.drop_progress(organization=org, due_from=day_from, due_until=day_until)
            assert drops[0].total == args.people

        def log_page(filters: operator.LogFilters) -> None:
            # As the page does: the page's ids, their rows, the count.
            rows = operator.delivery_log(organization=org, filters=filters)
            ids = list(rows.values_list("pk", flat=True)[:50])
            operator.deliveries_in_order(organization=org, ids=ids)
            rows.count()

        lesson = operator.drop_progress(
            organization=org, due_from=day_from, due_until=day_until
        )[0]
        exact = start + dt.timedelta(seconds=(args.people - failed_count - 1) / 30)
        print(f"database: {connections['default'].vendor}, rows: {Delivery.objects.count():,}")
        print(f"drop: {lesson.sent:,} of {lesson.total:,} sent, projected completion "
              f"{lesson.projected_completion:%H:%M:%S} UTC (exact: {exact:%H:%M:%S})")
        figures = {
            "drop_progress (day, 11 drops)": progress,
            "log first page + count": lambda: log_page(operator.LogFilters()),
            "log status=failed page + count": lambda: log_page(
                operator.LogFilters(status="failed")
            ),
            "log person=E050000 page + count": lambda: log_page(
                operator.LogFilters(person="E050000")
            ),
        }
        for label, fn in figures.items():
            print(f"{label}: {timed(fn, args.repeat):.0f} ms")
    finally:
        connections.close_all()
        if admin_url:
            import psycopg

            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.pg_url.rpartition("/")[2]}"')


if __name__ == "__main__":
    main()
