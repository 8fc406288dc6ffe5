"""The 18:00 digest for 100,000 people: build + render, then the outbox insert.

    uv run --frozen python bench/bench_digest.py [--participants 100000] [--database NAME]

PostgreSQL only (DATABASE_URL's server, or postgres://postgres@127.0.0.1:5432): a
database of its own is created, filled with bulk INSERT ... SELECT generate_series and
dropped afterwards. One program, 1,000 dealerships of 100 people each with a supervisor,
20 curators, 10 viewers; people in Moscow, Yekaterinburg and Vladivostok; two tracks,
seven learning days. Day 3 is "today": most people opened its materials, 60% answered
its task (graded, waiting or returned), a third consented to be quoted, and days 1-2
carry answers, grades and points; standings are rebuilt and snapshotted the night before.

Printed: the time of `digest_prepare` for everyone (target: build + render <= 20 s for
100,000 people), split into loading the day, building and rendering, and the enqueue
(channels + bulk insert), with the query count of the load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

PG_BASE = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
TARGET_SECONDS = 20.0
START = dt.date(2026, 3, 2)  # Monday; learning days Mon/Wed/Fri
TODAY = dt.date(2026, 3, 6)  # day 3
ACTIVITY = dt.datetime(2026, 3, 6, 6, 0, tzinfo=dt.UTC)  # daytime in all three zones
NOW = dt.datetime(2026, 3, 6, 7, 50, tzinfo=dt.UTC)


def insert_select(model: Any, columns: dict[str, str], source: str, params: list[Any]) -> int:
    """INSERT INTO model (...) SELECT <columns> FROM <source>; other fields get defaults.

    Every concrete field not given gets its Django default (or NULL), so the bench keeps
    working when an app adds a column with a default.
    """
    from django.db import connection
    from django.db.models import NOT_PROVIDED

    names: list[str] = []
    exprs: list[str] = []
    ordered: list[Any] = []  # parameters in the order their %s appear
    given = iter(params)
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        names.append(f.column)
        if f.column in columns:
            expr = columns[f.column]
            ordered.extend(next(given) for _ in range(expr.replace("%%", "").count("%s")))
            exprs.append(expr)
        elif f.default is not NOT_PROVIDED:
            value = f.default() if callable(f.default) else f.default
            exprs.append("%s")
            ordered.append(f.get_db_prep_save(value, connection))
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            exprs.append("now()")
        elif f.null:
            exprs.append("NULL")
        else:
            raise ValueError(f"{model.__name__}.{f.name}: no value and no default")
    ordered.extend(given)  # the rest belong to the FROM part
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(names)}) "
        f"SELECT {', '.join(exprs)} FROM {source}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, ordered)
        return cursor.rowcount


def setup(participants: int) -> dict[str, Any]:
    from django.db import connection

    from fokus.core.models import Organization
    from fokus.digest.models import ShowcaseConsent
    from fokus.leaderboard.services import rank_history_snapshot, standings_rebuild
    from fokus.people.models import Person, Unit
    from fokus.programs.models import (
        Enrollment,
        LearningDay,
        Material,
        MaterialView,
        Program,
        Slot,
        SlotKind,
        Task,
        Track,
    )
    from fokus.review.models import Attempt, Submission
    from fokus.scoring.models import PointsEntry
    from fokus.telegram.models import TelegramBot, TelegramChat

    org = Organization.objects.create(slug="bench", name="Bench", default_time_zone="Europe/Moscow")
    program = Program.objects.create(
        organization=org,
        slug="bench",
        title="Марафон продаж",
        starts_on=START,
        ends_on=START + dt.timedelta(days=15),
        learning_weekdays="mon,wed,fri",
    )
    consultants = Track.objects.create(program=program, slug="consultants", title="Консультанты")
    seniors = Track.objects.create(program=program, slug="seniors", title="Старшие", position=1)
    morning = Slot.objects.create(program=program, local_time=dt.time(10), kind=SlotKind.LESSON)
    afternoon = Slot.objects.create(program=program, local_time=dt.time(14), kind=SlotKind.LESSON)
    Slot.objects.create(program=program, local_time=dt.time(18), kind=SlotKind.DIGEST)
    dates = [START + dt.timedelta(days=d) for d in (0, 2, 4, 7, 9, 11, 14)]
    days = [
        LearningDay.objects.create(program=program, index=i, date=d)
        for i, d in enumerate(dates, start=1)
    ]
    tasks: dict[tuple[int, int], Task] = {}
    materials: dict[tuple[int, int, int], Material] = {}
    for day in days:
        for track in (consultants, seniors):
            for n, slot in enumerate((morning, afternoon)):
                materials[(day.index, track.pk, n)] = Material.objects.create(
                    track=track,
                    day=day,
                    slot=slot,
                    position=0,
                    title=f"Материал {day.index}.{n + 1}",
                    body="…",
                )
            tasks[(day.index, track.pk)] = Task.objects.create(
                track=track,
                day=day,
                slot=afternoon,
                title=f"Задание {day.index}",
                prompt="…",
            )
    units = participants // 100 or 1
    Unit.objects.bulk_create([Unit(organization=org, name=f"Дилер {i:04d}") for i in range(units)])
    unit_ids = list(
        Unit.objects.filter(organization=org).order_by("name").values_list("pk", flat=True)
    )
    first_unit = unit_ids[0]
    zones = (
        "(ARRAY['Europe/Moscow','Europe/Moscow','Europe/Moscow',"
        "'Asia/Yekaterinburg','Asia/Vladivostok'])"
    )
    # Supervisors first (one per unit), then participants under them.
    insert_select(
        Person,
        {
            "organization_id": "%s",
            "employee_number": "'S-' || g",
            "full_name": "'Руководитель ' || g || ' Сергей'",
            "email": "'s' || g || '@bench.example'",
            "time_zone": "'Europe/Moscow'",
            "unit_id": f"{first_unit} + g - 1",
            "roles": "'supervisor'",
        },
        "generate_series(1, %s) g",
        [org.pk, units],
    )
    boss = {
        n: pk
        for n, pk in Person.objects.filter(organization=org, roles="supervisor").values_list(
            "employee_number", "pk"
        )
    }
    first_boss = boss["S-1"]
    insert_select(
        Person,
        {
            "organization_id": "%s",
            "employee_number": "'P-' || g",
            "full_name": "'Участников ' || (ARRAY['Иван','Мария','Пётр','Анна'])[1 + g %% 4]"
            " || ' Отчество'",
            "email": "'p' || g || '@bench.example'",
            "time_zone": f"{zones}[1 + g %% 5]",
            "unit_id": f"{first_unit} + (g - 1) / 100",
            "manager_id": f"{first_boss} + (g - 1) / 100",
            "roles": "'participant'",
            "language": "CASE WHEN g %% 10 = 0 THEN 'en' ELSE '' END",
        },
        "generate_series(1, %s) g",
        [org.pk, participants],
    )
    for role, count in (("curator", 20), ("viewer", 10)):
        insert_select(
            Person,
            {
                "organization_id": "%s",
                "employee_number": f"'{role[0].upper()}X-' || g",
                "full_name": f"'{role} ' || g",
                "email": f"'{role}' || g || '@bench.example'",
                "time_zone": "'Europe/Moscow'",
                "roles": f"'{role}'",
            },
            "generate_series(1, %s) g",
            [org.pk, count],
        )
    people = (
        f"(SELECT id, row_number() OVER (ORDER BY id) AS n FROM {Person._meta.db_table} "
        f"WHERE organization_id = {org.pk} AND roles = 'participant') p"
    )
    insert_select(
        Enrollment,
        {
            "person_id": "p.id",
            "track_id": f"CASE WHEN p.n %% 10 = 0 THEN {seniors.pk} ELSE {consultants.pk} END",
            "status": "'active'",
            "enrolled_at": "%s",
        },
        people,
        [ACTIVITY - dt.timedelta(days=10)],
    )
    bot = TelegramBot.objects.create(organization=org, token="1:bench", username="bench_bot")
    insert_select(
        TelegramChat,
        {"person_id": "p.id", "bot_id": str(bot.pk), "chat_id": "p.n", "bound_at": "%s"},
        people + " WHERE p.n %% 2 = 0",
        [ACTIVITY - dt.timedelta(days=10)],
    )
    insert_select(
        ShowcaseConsent,
        {"organization_id": str(org.pk), "person_id": "p.id", "given_at": "%s"},
        people + " WHERE p.n %% 3 = 0",
        [ACTIVITY - dt.timedelta(days=5)],
    )
    enrolled = (
        f"(SELECT p.id, p.n, p.unit_id, e.track_id FROM (SELECT id, unit_id, row_number() OVER "
        f"(ORDER BY id) AS n FROM {Person._meta.db_table} WHERE organization_id = {org.pk} "
        f"AND roles = 'participant') p JOIN {Enrollment._meta.db_table} e ON e.person_id = p.id) q"
    )
    for day in days[:3]:
        today = day.index == 3
        when = ACTIVITY if today else ACTIVITY - dt.timedelta(days=(TODAY - day.date).days)
        for n in (0, 1):
            share = 7 if (today and n == 0) else 5 if today else 8
            cases = " ".join(
                f"WHEN q.track_id = {t.pk} THEN {materials[(day.index, t.pk, n)].pk}"
                for t in (consultants, seniors)
            )
            insert_select(
                MaterialView,
                {"person_id": "q.id", "material_id": f"CASE {cases} END", "opened_at": "%s"},
                enrolled + f" WHERE q.n %% 10 < {share}",
                [when],
            )
        task_case = " ".join(
            f"WHEN q.track_id = {t.pk} THEN {tasks[(day.index, t.pk)].pk}"
            for t in (consultants, seniors)
        )
        # Day 3: n%10 in 0..3 graded, 4 waiting, 5 returned; earlier days 0..6 graded.
        answered = 6 if today else 7
        status = (
            "CASE WHEN q.n %% 10 < 4 THEN 'graded' WHEN q.n %% 10 = 4 THEN 'submitted' "
            "ELSE 'returned' END"
            if today
            else "'graded'"
        )
        insert_select(
            Submission,
            {
                "organization_id": str(org.pk),
                "program_id": str(program.pk),
                "track_id": "q.track_id",
                "task_id": f"CASE {task_case} END",
                "person_id": "q.id",
                "unit_id": "q.unit_id",
                "status": status,
                "created_at": "%s",
                "updated_at": "%s",
            },
            enrolled + f" WHERE q.n %% 10 < {answered}",
            [when, when],
        )
        task_ids = [tasks[(day.index, t.pk)].pk for t in (consultants, seniors)]
        insert_select(
            Attempt,
            {
                "organization_id": str(org.pk),
                "submission_id": "s.id",
                "number": "1",
                "status": "s.status",
                "text": "'Спросил клиента о цели покупки, предложил тест-драйв "
                "и рассказал о кредите. ' || s.id",
                "submitted_at": "%s",
                "grade": "CASE WHEN s.status = 'graded' THEN 1 + s.id %% 3 END",
                "decided_at": "CASE WHEN s.status <> 'submitted' "
                "THEN %s::timestamptz + interval '1 hour' END",
            },
            f"{Submission._meta.db_table} s WHERE s.task_id IN ({task_ids[0]}, {task_ids[1]})",
            [when, when],
        )
        insert_select(
            PointsEntry,
            {
                "organization_id": str(org.pk),
                "program_id": str(program.pk),
                "person_id": "s.person_id",
                "source": "'learning'",
                "amount": "a.grade",
                "reason": "'Оценка'",
                "reference": "'task:' || s.task_id",
                "idempotency_key": "'grade:' || a.id",
                "occurred_on": "%s",
                "quantity": "a.grade",
                "created_at": "%s",
            },
            f"{Attempt._meta.db_table} a JOIN {Submission._meta.db_table} s "
            f"ON s.id = a.submission_id "
            f"WHERE a.grade IS NOT NULL AND s.task_id IN ({task_ids[0]}, {task_ids[1]})",
            [day.date, when],
        )
        if day.index == 2:
            standings_rebuild(program=program)
            rank_history_snapshot(program=program, on=day.date)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    standings_rebuild(program=program)
    return {"program_id": program.pk}


def child(participants: int) -> dict[str, Any]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fokus.config.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0)
    from fokus.delivery.models import Delivery
    from fokus.digest.queries import DigestDay, digest_audience
    from fokus.digest.services import digest_channels, digest_messages, digest_prepare
    from fokus.programs.models import Program

    t0 = time.perf_counter()
    info = setup(participants)
    setup_s = time.perf_counter() - t0
    program = Program.objects.get(pk=info["program_id"])

    # The parts, measured one by one (nothing is written here).
    t0 = time.perf_counter()
    with CaptureQueriesContext(connection) as captured:
        audience = digest_audience(program)
        data = DigestDay.load(program, TODAY, NOW, audience)
    load_s = time.perf_counter() - t0
    load_queries = len(captured.captured_queries)
    reset_queries()
    assert data is not None
    due = list(audience.recipients.values())
    t0 = time.perf_counter()
    messages = digest_messages(data, due)
    render_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    digest_channels(program.organization_id, {r.person_id: r for r in due})
    channels_s = time.perf_counter() - t0
    longest = max(len(m.text) for m in messages.values())
    sample = next(m.text for m in messages.values() if "Лучшие" in m.text or "Best" in m.text)

    # The real thing: prepare everyone's digest into the outbox. CPU time of this
    # process too: on a shared, loaded machine wall time mostly measures the others.
    cpu0 = time.process_time()
    result = digest_prepare(program, TODAY, NOW)
    prepare_cpu_s = time.process_time() - cpu0
    rows = Delivery.objects.filter(program=program).count()
    return {
        "participants": participants,
        "recipients": len(due),
        "setup_s": setup_s,
        "load_s": load_s,
        "load_queries": load_queries,
        "render_s": render_s,
        "channels_s": channels_s,
        "prepare_build_s": result.build_seconds,
        "prepare_enqueue_s": result.enqueue_seconds,
        "prepare_cpu_s": prepare_cpu_s,
        "load_avg": os.getloadavg()[0],
        "prepared": result.prepared,
        "unreachable": result.unreachable,
        "rows": rows,
        "longest_text": longest,
        "sample": sample,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--database", help="PostgreSQL database name to create and drop")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--show-sample", action="store_true", help="print one rendered digest")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.participants)))
        return
    import psycopg

    db_name = args.database or f"fokus_bench_digest_{os.getpid()}"
    env = dict(os.environ)
    env["FOKUS_DATA_DIR"] = tempfile.mkdtemp(prefix="fokus-bench-digest-")
    env["DATABASE_URL"] = f"{PG_BASE}/{db_name}"
    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}"')
        conn.execute(f'CREATE DATABASE "{db_name}"')
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--participants", str(args.participants)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            print(out.stderr[-4000:])
            sys.exit(1)
        r = json.loads(out.stdout.splitlines()[-1])
    finally:
        with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    build = r["prepare_build_s"]
    print(
        f"PostgreSQL, {r['participants']} participants, {r['recipients']} recipients "
        f"(setup {r['setup_s']:.1f} s)"
    )
    print(
        f"  parts: load the day {r['load_s']:.2f} s in {r['load_queries']} queries, "
        f"build + render {r['render_s']:.2f} s, channels {r['channels_s']:.2f} s"
    )
    print(
        f"  digest_prepare: build + render {build:.2f} s (target <= {TARGET_SECONDS:.0f} s: "
        f"{'met' if build <= TARGET_SECONDS else 'MISSED'}), "
        f"enqueue {r['prepare_enqueue_s']:.2f} s, "
        f"{r['prepared']} rows ({r['unreachable']} unreachable), longest text "
        f"{r['longest_text']} chars"
    )
    print(f"  this process's CPU time in digest_prepare (build + render + enqueue): "
          f"{r['prepare_cpu_s']:.2f} s; load average {r['load_avg']:.1f} on "
          f"{os.cpu_count()} cores")
    if args.show_sample:
        print(r["sample"])
    sys.exit(0 if build <= TARGET_SECONDS else 1)


if __name__ == "__main__":
    main()
