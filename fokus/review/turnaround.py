"""Working-hours arithmetic for curator turnaround: pure functions, no database.

A program's curators work from `working_day_start` to `working_day_end` on weekdays
(Monday to Friday) in `working_time_zone` (ReviewSettings). An answer that arrives on
Friday evening and is graded on Monday at 10:00 waited one working hour, not sixty.

The turnaround target is a number of working hours. Instead of computing every
pending answer's waiting time (50,000 rows), the queue asks the inverse question
once per program: `overdue_cutoff` is the instant before which an answer submitted
is overdue *now*, so "overdue" is a plain `submitted_at < cutoff` in SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

WEEKDAYS_MON_FRI = frozenset(range(5))
# Beyond this, waiting times are not interesting and the loops below stay bounded.
_MAX_DAYS = 3700


@dataclass(frozen=True)
class WorkingHours:
    start: time
    end: time
    zone: ZoneInfo
    weekdays: frozenset[int] = WEEKDAYS_MON_FRI

    @classmethod
    def of(cls, settings: object | None) -> WorkingHours:
        """From a ReviewSettings row (or the model's defaults when a program has none)."""
        if settings is None:
            return DEFAULT_HOURS
        start = _as_time(getattr(settings, "working_day_start", None), time(9))
        end = _as_time(getattr(settings, "working_day_end", None), time(18))
        zone_name = getattr(settings, "working_time_zone", "") or "Europe/Moscow"
        return cls(start=start, end=end, zone=ZoneInfo(zone_name))

    def windows(self, day: date) -> tuple[datetime, datetime] | None:
        """The working window of a local date as UTC instants, or None on a day off."""
        return _window(self, day)

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()


@lru_cache(maxsize=4096)
def _window(hours: WorkingHours, day: date) -> tuple[datetime, datetime] | None:
    # A queue page asks for the same few days of one program fifty times over.
    if day.weekday() not in hours.weekdays or hours.end <= hours.start:
        return None
    # Wall-clock times in the zone: a DST change moves the window, not its clock times.
    opens = datetime.combine(day, hours.start, tzinfo=hours.zone).astimezone(UTC)
    closes = datetime.combine(day, hours.end, tzinfo=hours.zone).astimezone(UTC)
    return opens, closes


DEFAULT_HOURS = WorkingHours(start=time(9), end=time(18), zone=ZoneInfo("Europe/Moscow"))


def _as_time(value: object, default: time) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str) and value:
        return time.fromisoformat(value)
    return default


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def working_seconds(start: datetime, end: datetime, hours: WorkingHours) -> float:
    """Seconds of working time in [start, end); 0 when end is not after start."""
    if end <= start:
        return 0.0
    first, last = hours.local_date(start), hours.local_date(end)
    if (last - first).days > _MAX_DAYS:
        first = last - timedelta(days=_MAX_DAYS)
    total = 0.0
    for day in _days(first, last):
        window = hours.windows(day)
        if window is None:
            continue
        lo, hi = max(window[0], start), min(window[1], end)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return total


def working_hours_between(start: datetime, end: datetime, hours: WorkingHours) -> float:
    return working_seconds(start, end, hours) / 3600


def add_working_time(start: datetime, seconds: float, hours: WorkingHours) -> datetime:
    """The instant when `seconds` of working time have passed since `start` (a deadline).

    With seconds == 0 it is `start` itself; otherwise it is always inside a window.
    """
    if seconds <= 0:
        return start
    left = seconds
    day = hours.local_date(start)
    for _ in range(_MAX_DAYS):
        window = hours.windows(day)
        if window is not None:
            lo = max(window[0], start)
            if window[1] > lo:
                available = (window[1] - lo).total_seconds()
                if left <= available:
                    return lo + timedelta(seconds=left)
                left -= available
        day += timedelta(days=1)
    raise ValueError("working hours never open: check the working days and times")


def overdue_cutoff(now: datetime, seconds: float, hours: WorkingHours) -> datetime:
    """The earliest instant c with working_seconds(c, now) == seconds.

    An answer submitted at s is overdue at `now` (it has waited *more* than the target)
    exactly when s < c: walking back from `now`, `seconds` of working time are used up,
    then the non-working gap before is skipped too, so any earlier instant lies inside
    a working window and adds time.
    """
    left = max(seconds, 0.0)
    day = hours.local_date(now)
    for _ in range(_MAX_DAYS):
        window = hours.windows(day)
        if window is not None and window[0] < now:
            hi = min(window[1], now)
            available = (hi - window[0]).total_seconds()
            if left < available:
                return hi - timedelta(seconds=left)
            left -= available
            if left == 0.0:
                # Used up exactly at the opening: the gap before it adds nothing, so
                # everything back to the previous window's close has waited the same.
                return _previous_close(day, hours) or window[0]
        day -= timedelta(days=1)
    raise ValueError("working hours never open: check the working days and times")


def _previous_close(day: date, hours: WorkingHours) -> datetime | None:
    for _ in range(_MAX_DAYS):
        day -= timedelta(days=1)
        window = hours.windows(day)
        if window is not None:
            return window[1]
    return None


def waiting_hours(submitted_at: datetime, now: datetime, hours: WorkingHours) -> float:
    return working_hours_between(submitted_at, now, hours)


def is_overdue(submitted_at: datetime, now: datetime, target_hours: float,
               hours: WorkingHours) -> bool:
    return working_seconds(submitted_at, now, hours) > target_hours * 3600
