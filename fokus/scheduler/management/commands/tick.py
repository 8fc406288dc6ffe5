"""`fokus tick [--now ISO8601]`: do the due work once, as of an instant, and print it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from fokus.core import clock
from fokus.scheduler.background import TaskRun, run_pending_tasks, worker_name
from fokus.scheduler.jobs import ScheduleError, schedule_load
from fokus.scheduler.services import beat_fire_due


def parse_instant(text: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(
            f"--now “{text}” is not an ISO 8601 instant (like 2025-03-04T10:00:00+03:00)."
        ) from None
    if instant.tzinfo is None:
        raise CommandError(
            f"--now “{text}” has no UTC offset; add one (Z or +03:00) so the instant is exact."
        )
    return instant


class Command(BaseCommand):
    help = (
        "Fire every job due as of --now (default: the current time) once, then run the "
        "enqueued tasks to completion here. Prints JSON; exits 1 if anything failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--now", help="the instant to act as of, ISO 8601 with an offset")
        parser.add_argument(
            "--no-tasks", action="store_true", help="only fire jobs; leave tasks to the workers"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = parse_instant(options["now"]) if options["now"] else clock.now()
        try:
            jobs = schedule_load()
        except ScheduleError as exc:
            raise CommandError(str(exc)) from None
        with clock.frozen_at(now):
            as_of = clock.now()
            firings = beat_fire_due(now=as_of, jobs=jobs, beat=worker_name("tick"))
            tasks = TaskRun() if options["no_tasks"] else run_pending_tasks(now=as_of)
        report = {
            "now": as_of.isoformat(),
            "fired": [f.as_json() for f in firings if f.outcome == "fired"],
            "skipped": [f.as_json() for f in firings if f.outcome == "skipped"],
            "failed": [f.as_json() for f in firings if f.outcome == "failed"],
            "tasks": tasks.as_json(),
        }
        self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))
        if report["failed"] or tasks.failed:
            raise CommandError(
                f"{len(report['failed'])} job(s) and {tasks.failed} task(s) failed; see above."
            )
