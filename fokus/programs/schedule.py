"""When things happen: learning dates and the UTC instants of contact points.

A slot says "10:00"; that is 10:00 on the wall clock of each participant, so the
instant differs per time zone (10:00 in Asia/Vladivostok is 03:00 in Moscow).

Rules for clocks that jump (outside Russia today, but zones change):
- a local time that does not exist (spring-forward gap) is moved forward by the
  length of the gap: 02:30 on the night New York jumps from 02:00 to 03:00 is 03:30;
- a local time that happens twice (autumn fold) is its first occurrence.
Both are what `zoneinfo` does for `fold=0`; `contact_instant` pins that down.

Everything here is pure (no database) so it can be computed for 100,000 people at
once: instants depend only on (zone, date, time), and callers cache by zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones


def learning_dates(starts_on: date, ends_on: date, weekdays: Iterable[int]) -> list[date]:
    """Dates in [starts_on, ends_on] whose `weekday()` is in `weekdays` (Monday is 0)."""
    wanted = frozenset(weekdays)
    days = (ends_on - starts_on).days + 1
    return [
        d for d in (starts_on + timedelta(n) for n in range(max(days, 0))) if d.weekday() in wanted
    ]


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """A ZoneInfo by IANA name; raises ZoneInfoNotFoundError for unknown names."""
    return ZoneInfo(name)


@lru_cache(maxsize=1)
def known_time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_known_time_zone(name: str) -> bool:
    return name in known_time_zones()


def contact_instant(day: date, local_time: time, time_zone: str) -> datetime:
    """The UTC instant of `local_time` on `day` on the wall clock of `time_zone`."""
    tz = zone(time_zone)
    wall = datetime.combine(day, local_time, tzinfo=tz).replace(fold=0)
    return wall.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class ContactPoint:
    day_index: int
    day: date
    kind: str
    slot_time: time
    utc: datetime
    time_zone: str

    @property
    def local(self) -> datetime:
        """The wall-clock moment in the person's zone (after any gap shift)."""
        return self.utc.astimezone(zone(self.time_zone))


@dataclass(frozen=True, slots=True)
class SlotOccurrence:
    """A slot on a learning day that applies to a track (input to the computation)."""

    day_index: int
    day: date
    kind: str
    slot_time: time


def contact_points(occurrences: Sequence[SlotOccurrence], time_zone: str) -> list[ContactPoint]:
    """Contact points of one person: the occurrences placed on their wall clock, in order."""
    points = [
        ContactPoint(
            o.day_index,
            o.day,
            o.kind,
            o.slot_time,
            contact_instant(o.day, o.slot_time, time_zone),
            time_zone,
        )
        for o in occurrences
    ]
    points.sort(key=lambda p: (p.utc, p.slot_time))
    return points


class ContactPointTable:
    """Instants for many people at once: computed once per zone, then shared."""

    def __init__(self, occurrences: Sequence[SlotOccurrence]) -> None:
        self._occurrences = tuple(occurrences)
        self._by_zone: dict[str, list[ContactPoint]] = {}

    def for_zone(self, time_zone: str) -> list[ContactPoint]:
        points = self._by_zone.get(time_zone)
        if points is None:
            points = self._by_zone[time_zone] = contact_points(self._occurrences, time_zone)
        return points
