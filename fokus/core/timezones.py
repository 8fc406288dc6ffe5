"""IANA time zone names, for any layer that validates them.

`fokus.programs.schedule` has its own copy for instant computations; this one lives
in core so that apps below programs (people) can validate zones without importing
upwards.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import available_timezones


@lru_cache(maxsize=1)
def known_time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=1)
def _by_folded_name() -> dict[str, str]:
    return {name.casefold(): name for name in known_time_zones()}


def is_known_time_zone(name: str) -> bool:
    return name in known_time_zones()


def canonical_time_zone(name: str) -> str | None:
    """The IANA spelling of `name` compared without case ("europe/moscow"), or None."""
    if name in known_time_zones():
        return name
    return _by_folded_name().get(name.strip().casefold())
