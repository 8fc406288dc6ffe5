"""Benchmark: every contact-point instant of 100,000 enrolled people × 7 days × 3 slots.

    uv run --frozen python bench/bench_schedule.py [--people 100000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        uv run --frozen python bench/bench_schedule.py

Sets Django up on a database of its own (a temporary SQLite file, or a throwaway
PostgreSQL database `fokus_bench_schedule`, dropped afterwards), imports
examples/sales-marathon.yaml, and bulk-creates the people (spread over Russia's 11
zones and four zones with DST, one in twenty a senior) and their enrollments: everyone
in the consultants' track, seniors also in the seniors' track, so each person has
exactly 7 × 3 contact points. Only the computation is timed, through the bulk query
path `queries.program_contact_points`, reading the enrollments from the database.

Target (issue 2): at most 5 s. Anchors in the same run: reading the enrollments alone
(the database part), and the naive path (`schedule.contact_points` per person, no
sharing) on a sample, extrapolated.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DB = "fokus_bench_schedule"
TARGET_SECONDS = 5.0
ROOT = Path(__file__).resolve().parents[1]
ZONES = [
    "Europe/Kaliningrad", "Europe/Moscow", "Europe/Samara", "Asia/Yekaterinburg", "Asia/Omsk",
    "Asia/Krasnoyarsk", "Asia/Irkutsk", "Asia/Yakutsk", "Asia/Vladivostok", "Asia/Magadan",
    "Asia/Kamchatka", "America/New_York", "Europe/London", "Europe/Berlin", "Australia/Lord_Howe",
]


def setup_django(tmp: Path) -> tuple[str, Any]:
    """Point Django at a database of our own; returns (vendor label, cleanup callable)."""
    url = os.environ.get("DATABASE_URL", "")
    os.environ["FOKUS_DATA_DIR"] = str(tmp / "data")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fokus.config.settings")
    cleanup: Any = lambda: None  # noqa: E731
    if url.startswith(("postgres://", "postgresql://")):
        import dj_database_url
        import psycopg

        cfg = dj_database_url.parse(url)
        admin = dict(host=cfg["HOST"] or None, port=cfg["PORT"] or None, user=cfg["USER"] or None,
                     password=cfg["PASSWORD"] or None, dbname="postgres", autocommit=True)
        with psycopg.connect(**admin) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
            conn.execute(f"CREATE DATABASE {BENCH_DB}")
        os.environ["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + BENCH_DB

        def drop() -> None:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(**admin) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")

        cleanup = drop
        label = "PostgreSQL"
    else:
        os.environ.pop("DATABASE_URL", None)
        label = "SQLite"

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return label, cleanup


def build(people_count: int) -> Any:
    from django.db import transaction

    from fokus.core.clock import now
    from fokus.core.services import organization_create
    from fokus.people.models import Person
    from fokus.programs.models import Enrollment, Track
    from fokus.programs.services import program_import

    organization = organization_create(slug="bench", name="Бенчмарк")
    text = (ROOT / "examples" / "sales-marathon.yaml").read_text(encoding="utf-8")
    program = program_import(organization=organization, text=text, source_name="sales.yaml")
    consultants = Track.objects.get(program=program, slug="consultants")
    seniors = Track.objects.get(program=program, slug="seniors")
    at = now()
    with transaction.atomic():
        Person.objects.bulk_create(
            [
                Person(organization=organization, employee_number=f"{100000 + i}",
                       full_name=f"Сотрудник {i}", time_zone=ZONES[i % len(ZONES)],
                       roles="supervisor" if i % 20 == 0 else "participant")
                for i in range(people_count)
            ],
            batch_size=5000,
        )
        ids = list(Person.objects.filter(organization=organization).order_by("pk")
                   .values_list("pk", "roles"))
        rows = [Enrollment(person_id=pk, track=consultants, enrolled_at=at) for pk, _r in ids]
        rows += [Enrollment(person_id=pk, track=seniors, enrolled_at=at)
                 for pk, roles in ids if roles == "supervisor"]
        Enrollment.objects.bulk_create(rows, batch_size=5000)
    return program


def run(label: str, people_count: int) -> int:
    from django.db import connection

    from fokus.people.models import Person
    from fokus.programs.models import Enrollment, EnrollmentStatus
    from fokus.programs.queries import (
        person_contact_points,
        program_contact_points,
        program_occurrences,
    )
    from fokus.programs.schedule import contact_points, zone

    started = time.perf_counter()
    program = build(people_count)
    print(f"database: {label} ({connection.settings_dict['NAME']})")
    print(f"setup (not timed in the result): {people_count:,} people, "
          f"{Enrollment.objects.count():,} enrollments in {time.perf_counter() - started:.1f} s")
    zone.cache_clear()

    # Anchor 1: only reading the enrollments the bulk path reads.
    started = time.perf_counter()
    rows = list(Enrollment.objects.filter(track__program=program, status=EnrollmentStatus.ACTIVE)
                .values_list("person_id", "track_id", "person__time_zone"))
    read_s = time.perf_counter() - started
    print(f"anchor, reading {len(rows):,} enrollments only: {read_s:.2f} s")

    # The measured path.
    started = time.perf_counter()
    points = program_contact_points(program=program)
    bulk_s = time.perf_counter() - started
    instants = sum(len(p) for p in points.values())
    # What a sender would do next: touch every instant once.
    started = time.perf_counter()
    flat = [(person_id, p.utc) for person_id, ps in points.items() for p in ps]
    flat_s = time.perf_counter() - started
    print(f"bulk path: {bulk_s:.2f} s for {len(points):,} people and {instants:,} instants "
          f"({instants / bulk_s:,.0f} instants/s; {bulk_s / read_s:.1f}x the read anchor)")
    print(f"  + listing every (person, instant) pair: {flat_s:.2f} s "
          f"(total {bulk_s + flat_s:.2f} s, {len(flat) / (bulk_s + flat_s):,.0f} instants/s)")

    # Anchor 2: the naive path, one computation per person, on a sample.
    occurrences = program_occurrences(program)
    consultants_occ = next(o for o in occurrences.values() if len(o) == 21)
    sample = list(Person.objects.filter(organization=program.organization)
                  .values_list("time_zone", flat=True)[:10_000])
    started = time.perf_counter()
    for time_zone in sample:
        contact_points(consultants_occ, time_zone)
    naive_s = (time.perf_counter() - started) * people_count / len(sample)
    print(f"anchor, naive per-person computation (extrapolated from {len(sample):,}): "
          f"{naive_s:.1f} s ({naive_s / bulk_s:.0f}x the bulk path)")

    # Spot check: the bulk answer equals the single-person query.
    for person in Person.objects.filter(organization=program.organization).order_by("?")[:50]:
        assert points[person.pk] == person_contact_points(program=program, person=person)

    expected = people_count * 7 * 3
    ok = instants == expected and bulk_s + flat_s <= TARGET_SECONDS
    verdict = "met" if ok else "NOT met"
    print(f"target: {expected:,} instants in ≤ {TARGET_SECONDS:.0f} s: {verdict}")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fokus-bench-schedule-") as tmp_name:
        label, cleanup = setup_django(Path(tmp_name))
        try:
            return run(label, args.people)
        finally:
            cleanup()


if __name__ == "__main__":
    sys.exit(main())
