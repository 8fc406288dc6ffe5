"""`fokus check` (and every command) refuses a schedule table the beat could not run."""

from __future__ import annotations

from typing import Any

from django.core import checks

from fokus.scheduler.jobs import ScheduleError, schedule_load


def check_schedule(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        schedule_load()
    except ScheduleError as exc:
        return [checks.Error(str(exc), id="fokus.scheduler.E001")]
    return []
