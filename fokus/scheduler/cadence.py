"""When a scheduled job is due: cadences parsed from the schedule table's text.

Pure time arithmetic, no I/O. Slots are UTC instants; a daily cadence is a wall-clock
time in an IANA zone, so "daily 02:00 Europe/Moscow" is 23:00 UTC the day before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CadenceError(ValueError):
    """A cadence text that cannot be understood; the message says what is accepted."""


@dataclass(frozen=True)
class EveryMinutes:
    """Every `step` minutes, on instants whose UTC minute count is a multiple of `step`.

    Only the latest slot is ever fired: a minute job does "the work due now", so after
    downtime running it once covers every minute that was missed.
    """

    step: int = 1
    catch_up_every_slot = False

    def slots(self, after: datetime, until: datetime) -> list[datetime]:
        """Slots `s` with `after < s <= until`, oldest first."""
        step_seconds = self.step * 60
        last = _EPOCH + timedelta(
            seconds=(int((until - _EPOCH).total_seconds()) // step_seconds) * step_seconds
        )
        result: list[datetime] = []
        slot = last
        while slot > after:
            result.append(slot)
            slot -= timedelta(seconds=step_seconds)
        result.reverse()
        return result

    def describe(self) -> str:
        return "every minute" if self.step == 1 else f"every {self.step} minutes"


@dataclass(frozen=True)
class Daily:
    """Once per local date at `at` on the wall clock of `zone`.

    A missed night is still worth doing (yesterday's KPI import, a rank snapshot), so
    every night inside the grace window fires, oldest first.
    """

    at: time
    zone: str
    catch_up_every_slot = True

    def slots(self, after: datetime, until: datetime) -> list[datetime]:
        tz = ZoneInfo(self.zone)
        first: date = after.astimezone(tz).date() - timedelta(days=1)
        last: date = until.astimezone(tz).date() + timedelta(days=1)
        result: list[datetime] = []
        day = first
        while day <= last:
            # fold=0: in a DST gap or overlap the wall time maps to one instant, so a
            # local date never gets two slots.
            instant = datetime.combine(day, self.at, tzinfo=tz).astimezone(UTC)
            if after < instant <= until:
                result.append(instant)
            day += timedelta(days=1)
        return result

    def describe(self) -> str:
        return f"daily {self.at:%H:%M} {self.zone}"


Cadence = EveryMinutes | Daily

_EVERY = re.compile(r"^every\s+(?:minute|(\d+)\s+minutes?)$")
_DAILY = re.compile(r"^(?:daily|nightly)\s+(\d{1,2}):(\d{2})\s+(\S+)$")


def cadence_parse(text: str) -> Cadence:
    """"every minute", "every 15 minutes", "daily 10:00 Europe/Moscow", "nightly 02:00 UTC"."""
    normalized = " ".join(text.strip().split())
    lowered = normalized.lower()
    if match := _EVERY.match(lowered):
        step = int(match.group(1)) if match.group(1) else 1
        if not 1 <= step <= 1440:
            raise CadenceError(f"“{text}”: the step must be 1 to 1440 minutes.")
        return EveryMinutes(step=step)
    # The zone keeps its case (Europe/Moscow); only the keyword is case-insensitive.
    keyword, _, rest = normalized.partition(" ")
    if match := _DAILY.match(f"{keyword.lower()} {rest}"):
        hour, minute, zone = int(match.group(1)), int(match.group(2)), match.group(3)
        if hour > 23 or minute > 59:
            raise CadenceError(f"“{text}”: {hour:02d}:{minute:02d} is not a time of day.")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CadenceError(
                f"“{text}”: “{zone}” is not an IANA time zone name (like Europe/Moscow)."
            ) from None
        return Daily(at=time(hour, minute), zone=zone)
    raise CadenceError(
        f"“{text}” is not a cadence; write “every minute”, “every N minutes” or "
        "“daily HH:MM Zone/Name” (“nightly” is the same as “daily”)."
    )
