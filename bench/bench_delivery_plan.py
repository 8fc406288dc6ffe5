"""Benchmark: planning one learning day of a marathon for 100,000 participants.

    uv run --frozen python bench/bench_delivery_plan.py
    uv run --frozen python bench/bench_delivery_plan.py --people 20000 --pg-url postgres://…

Creates a PostgreSQL database of its own (`fokus_bench_delivery_plan`, dropped at the
end), imports examples/sales-marathon.yaml, creates the people (spread over the 11
Russian time zones, a third with a reachable Telegram chat, the rest by e-mail) and
their enrollments with plain INSERT … SELECT generate_series, then times
`fokus.delivery.planning.delivery_plan_day` for learning day 1 (two lesson slots:
about 200,000 outbox rows), and once more (re-planning: every row exists already).

Target (issue 3): a day planned in at most 5 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DB = "fokus_bench_delivery_plan"
TARGET_SECONDS = 5.0
ZONES = [
    "Europe/Kaliningrad", "Europe/Moscow", "Europe/Samara", "Asia/Yekaterinburg", "Asia/Omsk",
    "Asia/Krasnoyarsk", "Asia/Irkutsk", "Asia/Yakutsk", "Asia/Vladivostok", "Asia/Magadan",
    "Asia/Kamchatka",
]
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sales-marathon.yaml"


def setup_django(url: str, tmp: Path) -> Any:
    import dj_database_url
    import psycopg

    os.environ["FOKUS_DATA_DIR"] = str(tmp)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fokus.config.settings")
    cfg = dj_database_url.parse(url)
    admin: dict[str, Any] = dict(
        host=cfg["HOST"] or None, port=cfg["PORT"] or None, user=cfg["USER"] or None,
        password=cfg["PASSWORD"] or None, dbname="postgres", autocommit=True,
    )
    with psycopg.connect(**admin) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    os.environ["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + BENCH_DB

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(**admin) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")

    return drop


def build(people: int) -> Any:
    from django.db import connection, transaction

    from fokus.core.models import Organization
    from fokus.people.models import Person
    from fokus.programs.models import Enrollment, Track
    from fokus.programs.services import program_import
    from fokus.telegram.models import TelegramBot, TelegramChat

    organization = Organization.objects.create(slug="bench", name="Bench")
    program = program_import(
        organization=organization, text=EXAMPLE.read_text(encoding="utf-8"),
        source_name="sales-marathon.yaml",
    )
    track = Track.objects.get(program=program, slug="consultants")
    bot = TelegramBot.objects.create(organization=organization, token="1:bench")
    zones_sql = "ARRAY[" + ",".join(f"'{z}'" for z in ZONES) + "]"
    now = datetime(2026, 11, 20, tzinfo=UTC)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Person._meta.db_table} (organization_id, employee_number, full_name,"
            " email, time_zone, position, roles, language, is_active)"
            f" SELECT %s, 'E' || n, 'Участник ' || n, 'p' || n || '@example.com',"
            f" ({zones_sql})[1 + n %% {len(ZONES)}], '', 'participant', '', true"
            " FROM generate_series(1, %s) AS n",
            [organization.pk, people],
        )
        cursor.execute(
            f"INSERT INTO {Enrollment._meta.db_table} (person_id, track_id, status, enrolled_at)"
            f" SELECT id, %s, 'active', %s FROM {Person._meta.db_table}"
            " WHERE organization_id = %s",
            [track.pk, now, organization.pk],
        )
        cursor.execute(
            f"INSERT INTO {TelegramChat._meta.db_table} (person_id, bot_id, chat_id, username,"
            " bound_at) SELECT id, %s, id, '', %s"
            f" FROM {Person._meta.db_table} WHERE organization_id = %s AND id %% 3 = 0",
            [bot.pk, now, organization.pk],
        )
        cursor.execute("ANALYZE")
    return program


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()
    if not args.pg_url.startswith(("postgres://", "postgresql://")):
        print("needs a PostgreSQL URL (--pg-url)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        drop = setup_django(args.pg_url, Path(tmp))
        try:
            from fokus.delivery.models import Delivery
            from fokus.delivery.planning import delivery_plan_day
            from fokus.programs.models import LearningDay

            started = time.perf_counter()
            program = build(args.people)
            print(f"setup: {args.people:,} people in {len(ZONES)} zones, "
                  f"{time.perf_counter() - started:.1f} s")
            day = LearningDay.objects.get(program=program, index=1).date
            now = datetime(2026, 11, 21, tzinfo=UTC)
            report = delivery_plan_day(program, day, now)
            rows = Delivery.objects.count()
            again = delivery_plan_day(program, day, now)
            verdict = "OK" if report.seconds <= TARGET_SECONDS else "SLOWER THAN TARGET"
            print(f"plan day 1: {report.seconds:.2f} s, {report.created:,} rows created "
                  f"({rows:,} in the outbox) for {report.people:,} people  "
                  f"[target ≤ {TARGET_SECONDS:.0f} s: {verdict}]")
            print(f"plan again: {again.seconds:.2f} s, {again.created:,} rows created")
        finally:
            drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
