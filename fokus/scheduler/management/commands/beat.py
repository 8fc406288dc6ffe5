"""`fokus beat`: fire the schedule table's due slots at every minute boundary."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from fokus.scheduler.jobs import ScheduleError, schedule_load
from fokus.scheduler.runner import beat_loop


class Command(BaseCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set here, not on the class: argparse cannot format a lazy string.
        self.help = _(
            "Run the beat: at every minute boundary fire each due job of the schedule table "
            "once. Safe to run twice (one beat wins each slot)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            jobs = schedule_load()
        except ScheduleError as exc:
            raise CommandError(str(exc)) from None
        stop = threading.Event()

        def _stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        self.stdout.write(
            ngettext("Beat started with %(count)s job. Press Ctrl+C to stop.",
                     "Beat started with %(count)s jobs. Press Ctrl+C to stop.", len(jobs))
            % {"count": len(jobs)}
        )
        beat_loop(stop, jobs=jobs, say=self.stdout.write)
        self.stdout.write(_("Beat stopped."))
