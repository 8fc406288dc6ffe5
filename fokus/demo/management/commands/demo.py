"""`fokus demo`: load the demo organisation if absent, print the logins, serve it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _

from fokus.demo.services import DEMO_NAME, demo_exists, demo_load, demo_logins
from fokus.scheduler.runner import serve_all


class Command(BaseCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set here, not on the class: argparse cannot format a lazy string.
        self.help = _(
            "Load the demo organisation (a dealer network in the seed 001 marathon) and serve "
            "it with its task worker and beat."
        )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-serve", action="store_true", help=_("only load the demo data"))
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        if demo_exists():
            self.stdout.write(_("%(demo)s: already loaded.") % {"demo": DEMO_NAME})
        else:
            self.stdout.write(_("Loading %(demo)s…") % {"demo": DEMO_NAME})
            demo_load()
        url = f"http://{options['host']}:{options['port']}"
        self.stdout.write("")
        self.stdout.write(
            _("Fokus demo at %(url)s/  (Django admin: %(url)s/admin/, API docs: "
              "%(url)s/api/v1/docs)") % {"url": url}
        )
        self.stdout.write(_("Logins: role, login, password, person, time zone"))
        for login in demo_logins():
            self.stdout.write(
                f"  {login.role:<12} {login.login:<13} {login.password}   "
                f"{login.full_name}, {login.time_zone}"
            )
        self.stdout.write("")
        if options["no_serve"]:
            return
        if settings.DEBUG:
            self.stdout.write(_("DEBUG is on: do not expose this server."))
        # The same runner as `fokus run`: web, task worker and beat in one process.
        serve_all(host=options["host"], port=options["port"], say=self.stdout.write)
