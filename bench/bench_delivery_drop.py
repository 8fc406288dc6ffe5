"""Benchmark: one lesson drop to people with bound Telegram chats, against the fake
Bot API enforcing Telegram's 30 messages/s per bot.

    uv run --frozen python bench/bench_delivery_drop.py                # 3,000 people
    uv run --frozen python bench/bench_delivery_drop.py --people 100000 --pg-url postgres://…

Creates a PostgreSQL database of its own (`fokus_bench_delivery_drop`, dropped at the
end), imports examples/sales-marathon.yaml, bulk-creates the people, their enrollments,
their chats and one due lesson delivery each (INSERT … SELECT generate_series), starts
the fake Bot API (fokus/telegram/testing/fake_bot_api.py) and sends the drop with
`fokus.delivery.dispatch.delivery_dispatch_all`, as the minute job's task would.

A full 100,000 drop at 30/s takes about 55 minutes, hence the default size (about
100 s). Figures: the planned count, the sustained send rate as a share of 30/s, 429
answers (target 0), lost messages (target 0), and the completion time projected from
the first 20 % of the drop against the actual one (target: within 2 %).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

BENCH_DB = "fokus_bench_delivery_drop"
LIMIT_PER_SECOND = 30.0
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sales-marathon.yaml"


def setup_django(url: str, tmp: Path, api_base: str, token: str) -> Any:
    import dj_database_url
    import psycopg

    os.environ["FOKUS_DATA_DIR"] = str(tmp)
    os.environ["TELEGRAM_API_BASE_URL"] = api_base
    os.environ["TELEGRAM_BOT_TOKEN"] = token
    os.environ.pop("REDIS_URL", None)  # the in-process limiter: one sending process
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


def build(people: int, token: str) -> int:
    """People, enrollments, chats and one due lesson each; returns the planned count."""
    import json
    from datetime import timedelta

    from django.db import connection, transaction

    from fokus.core import clock
    from fokus.core.models import Organization
    from fokus.delivery.models import PRIORITY, Delivery, DeliveryKind
    from fokus.people.models import Person
    from fokus.programs.models import Enrollment, Material, Task, Track
    from fokus.programs.services import program_import
    from fokus.telegram.models import TelegramBot, TelegramChat

    organization = Organization.objects.create(slug="bench", name="Bench")
    program = program_import(
        organization=organization, text=EXAMPLE.read_text(encoding="utf-8"),
        source_name="sales-marathon.yaml",
    )
    track = Track.objects.get(program=program, slug="consultants")
    first = Material.objects.filter(track=track, day__index=1).order_by(
        "slot__local_time", "position").first()
    assert first is not None
    payload = json.dumps({
        "materials": list(Material.objects.filter(
            track=track, day=first.day, slot=first.slot).values_list("pk", flat=True)),
        "tasks": list(Task.objects.filter(
            track=track, day=first.day, slot=first.slot).values_list("pk", flat=True)),
        "day_index": 1,
    })
    bot = TelegramBot.objects.create(organization=organization, token=token)
    now = clock.now()
    due = now - timedelta(minutes=1)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Person._meta.db_table} (organization_id, employee_number, full_name,"
            " email, time_zone, position, roles, language, is_active)"
            " SELECT %s, 'E' || n, 'Участник ' || n, 'p' || n || '@example.com',"
            " 'Europe/Moscow', '', 'participant', '', true"
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
            " bound_at) SELECT id, %s, 1000000 + id, '', %s"
            f" FROM {Person._meta.db_table} WHERE organization_id = %s",
            [bot.pk, now, organization.pk],
        )
        cursor.execute(
            f"INSERT INTO {Delivery._meta.db_table} (organization_id, person_id, program_id,"
            " kind, contact_point, channel, due_at, priority, status, attempts, claimed_by,"
            " provider_message_id, error, payload, created_at)"
            " SELECT %s, id, %s, 'lesson', 'lesson:bench:day1:10:00', 'telegram', %s, %s,"
            " 'planned', 0, '', '', '', %s::jsonb, %s"
            f" FROM {Person._meta.db_table} WHERE organization_id = %s",
            [organization.pk, program.pk, due, PRIORITY[DeliveryKind.LESSON], payload, now,
             organization.pk],
        )
        cursor.execute("ANALYZE")
    return Delivery.objects.filter(status="planned").count()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=3_000)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()
    if not args.pg_url.startswith(("postgres://", "postgresql://")):
        print("needs a PostgreSQL URL (--pg-url)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from fokus.telegram.testing.fake_bot_api import FakeBotApi

    token = "987654321:bench-drop-token"
    api = FakeBotApi(bot_per_second=int(LIMIT_PER_SECOND)).start()
    api.add_bot(token, username="fokus_bench_bot")
    with tempfile.TemporaryDirectory() as tmp:
        drop = setup_django(args.pg_url, Path(tmp), api.base_url, token)
        try:
            from fokus.delivery.dispatch import delivery_dispatch_all
            from fokus.delivery.models import Delivery, DeliveryStatus

            started = time.perf_counter()
            planned = build(args.people, token)
            print(f"setup: {planned:,} lesson deliveries planned (one per person, chat bound), "
                  f"{time.perf_counter() - started:.1f} s")
            print(f"sending at most {LIMIT_PER_SECOND:.0f} messages/s: about "
                  f"{planned / LIMIT_PER_SECOND / 60:.1f} min…", flush=True)
            # Import every URL module once (a worker does it on its first message).
            from django.urls import get_resolver

            get_resolver().reverse_dict  # noqa: B018
            progress = threading.Event()

            def report_progress() -> None:
                while not progress.wait(15):
                    print(f"  … {len(api.sent):,} sent", flush=True)

            threading.Thread(target=report_progress, daemon=True).start()
            wall = time.perf_counter()
            if os.environ.get("BENCH_PROFILE"):
                import cProfile
                import pstats

                profile = cProfile.Profile()
                run = profile.runcall(delivery_dispatch_all, worker="bench")
                pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
            else:
                run = delivery_dispatch_all(worker="bench")
            wall = time.perf_counter() - wall
            progress.set()

            sends = sorted(r.at for r in api.requests
                           if r.method == "sendMessage" and r.status == 200)
            floods = api.count_status(429)
            per_chat = Counter(m.chat_id for m in api.sent)
            statuses = Counter(Delivery.objects.values_list("status", flat=True))
            lost = planned - statuses.get(DeliveryStatus.SENT, 0)
            missing_chats = planned - len(per_chat)
            duplicates = sum(n - 1 for n in per_chat.values())
            first, last = sends[0], sends[-1]
            rate = (len(sends) - 1) / (last - first)
            share = rate / LIMIT_PER_SECOND * 100
            fifth = max(2, len(sends) // 5)
            early_rate = (fifth - 1) / (sends[fifth - 1] - first)
            projected = (len(sends) - 1) / early_rate
            actual = last - first
            gap = (projected - actual) / actual * 100
            print(f"planned:            {planned:,}")
            print(f"sent:               {run.sent:,} in {wall:.1f} s "
                  f"(claimed {run.claimed:,}, retried {run.retried}, failed {run.failed})")
            print(f"sustained rate:     {rate:.2f} msg/s = {share:.1f} % of "
                  f"{LIMIT_PER_SECOND:.0f}/s  [target ≥ 95 %: {'OK' if share >= 95 else 'LOW'}]")
            print(f"429 answers:        {floods}  [target 0: {'OK' if floods == 0 else 'FAIL'}]")
            print(f"lost:               {lost} not SENT, {missing_chats} chats without the "
                  f"message, {duplicates} duplicates  "
                  f"[target 0: {'OK' if lost == 0 and missing_chats == 0 else 'FAIL'}]")
            print(f"projected (first 20 %): {projected:.1f} s, actual: {actual:.1f} s, "
                  f"difference {gap:+.2f} %  [target within 2 %: "
                  f"{'OK' if abs(gap) <= 2 else 'OFF'}]")
            print(f"100,000 people at this rate: {100_000 / rate / 60:.1f} min")
        finally:
            drop()
            api.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
