"""`fokus run`: web, worker and beat in one process (the embedded default)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils.translation import gettext as _

from fokus.scheduler.jobs import ScheduleError
from fokus.scheduler.runner import serve_all


def pending_migrations() -> int:
    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


class Command(BaseCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set here, not on the class: argparse cannot format a lazy string.
        self.help = _(
            "Serve Fokus with its worker and beat in one process; Ctrl+C stops all of them."
        )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--workers", type=int, default=1, help=_("task worker threads (default 1)")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["workers"] < 1:
            raise CommandError(_("--workers must be at least 1."))
        if pending_migrations():
            raise CommandError(_("The database is not up to date: run `fokus migrate` first."))
        try:
            serve_all(
                host=options["host"], port=options["port"], workers=options["workers"],
                say=self.stdout.write,
            )
        except ScheduleError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(
                _("Cannot listen on %(host)s:%(port)s: %(error)s")
                % {"host": options["host"], "port": options["port"], "error": exc.strerror or exc}
            ) from None
