"""A scheduled job as the schedule table (`fokus/config/schedule.py`) declares it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from fokus.scheduler.cadence import Cadence, CadenceError, EveryMinutes, cadence_parse

# BeatFiring rows are what stops a slot from firing twice; housekeeping deletes them
# after this long, so no grace window may reach further back.
FIRING_RETENTION = timedelta(days=14)
MAX_GRACE = timedelta(days=7)

JobFunction = Callable[[datetime], None]


class ScheduleError(ValueError):
    """The schedule table is wrong; the message names the job and what to fix."""


@dataclass(frozen=True)
class Job:
    """One row of the schedule table.

    name:    unique and stable: it is stored with every firing, renaming re-fires slots.
    func:    dotted path of `def job(slot: datetime) -> None`; it runs inside the
             transaction that records the firing, so it should only enqueue tasks
             (`enqueue_on_commit`) or do quick writes.
    cadence: "every minute", "every N minutes", "daily HH:MM Zone" ("nightly" too).
    grace:   how far back a missed slot is still fired after downtime.
    """

    name: str
    func: str
    cadence: str
    grace: timedelta

    @cached_property
    def when(self) -> Cadence:
        return cadence_parse(self.cadence)

    def function(self) -> JobFunction:
        func: JobFunction = import_string(self.func)
        return func

    def due_slots(self, now: datetime) -> list[datetime]:
        """Slots to fire as of `now`: inside the grace window, never in the future."""
        slots = self.when.slots(now - self.grace, now)
        if not self.when.catch_up_every_slot:
            return slots[-1:]
        return slots


def schedule_validate(jobs: Sequence[Job]) -> list[Job]:
    """Every problem of the table in one message, so a bad table never half-runs."""
    problems: list[str] = []
    seen: set[str] = set()
    for position, job in enumerate(jobs, start=1):
        if not isinstance(job, Job):
            problems.append(
                _("entry %(position)s: expected fokus.scheduler.jobs.Job") % {"position": position}
            )
            continue
        label = _("job %(position)s (%(name)s)") % {
            "position": position, "name": job.name or _("no name"),
        }
        if not job.name.strip():
            problems.append(_("%(job)s: the name is empty") % {"job": label})
        elif job.name in seen:
            problems.append(_("%(job)s: the name is used twice") % {"job": label})
        seen.add(job.name)
        if len(job.name) > 100:
            problems.append(_("%(job)s: the name is longer than 100 characters") % {"job": label})
        try:
            func = job.function()
        except ImportError as exc:
            problems.append(_("%(job)s: cannot import %(func)s: %(error)s")
                            % {"job": label, "func": job.func, "error": exc})
        else:
            if not callable(func):
                problems.append(_("%(job)s: %(func)s is not a function")
                                % {"job": label, "func": job.func})
        try:
            cadence = job.when
        except CadenceError as exc:
            problems.append(f"{label}: {exc}")
            continue
        if not timedelta(0) < job.grace <= MAX_GRACE:
            problems.append(_("%(job)s: grace must be more than 0 and at most %(days)s days")
                            % {"job": label, "days": MAX_GRACE.days})
        elif isinstance(cadence, EveryMinutes) and job.grace < timedelta(minutes=cadence.step):
            problems.append(_("%(job)s: grace must be at least one step (%(cadence)s)")
                            % {"job": label, "cadence": cadence.describe()})
    if problems:
        raise ScheduleError(
            _("The schedule table is wrong: %(problems)s") % {"problems": "; ".join(problems)}
        )
    return list(jobs)


def schedule_load(path: str | None = None) -> list[Job]:
    """The validated table named by settings.FOKUS_SCHEDULE (a dotted path)."""
    dotted = path or settings.FOKUS_SCHEDULE
    try:
        jobs = import_string(dotted)
    except ImportError as exc:
        raise ScheduleError(
            _("Cannot import the schedule table %(path)s: %(error)s")
            % {"path": dotted, "error": exc}
        ) from None
    return schedule_validate(jobs)
