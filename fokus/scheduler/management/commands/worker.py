"""`fokus worker`: run the configured task backend's worker (FOKUS_TASKS)."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from fokus.scheduler.background import backend_kind


class Command(BaseCommand):
    help = (
        "Run background tasks: django-tasks-db's db_worker (FOKUS_TASKS=db, the default) "
        "or huey's consumer (FOKUS_TASKS=huey). Run as many as you need."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--queue", default="*",
            help="db backend: queue names to serve, comma-separated (default: all)",
        )
        parser.add_argument(
            "--interval", default="1",
            help="db backend: seconds to wait when no task is ready (default 1)",
        )
        parser.add_argument(
            "--workers", type=int, default=None,
            help="huey backend: worker threads (default FOKUS_HUEY_WORKERS or 4)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        kind = backend_kind()
        if kind == "db":
            call_command(
                "db_worker", "--queue-name", options["queue"], "--interval", options["interval"],
                "--no-reload", stdout=self.stdout, stderr=self.stderr,
            )
        elif kind == "huey":
            extra = ["--workers", str(options["workers"])] if options["workers"] else []
            call_command("run_huey", *extra, stdout=self.stdout, stderr=self.stderr)
        else:
            raise CommandError(
                f"The {kind} task backend runs each task where it is enqueued; there is no "
                "worker to start. Set FOKUS_TASKS=db or FOKUS_TASKS=huey."
            )
