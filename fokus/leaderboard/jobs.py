"""The leaderboard's scheduled job (fokus/config/schedule.py)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fokus.leaderboard.services import rank_history_snapshot_all

# The digest's "rank change" compares evenings; the snapshot is taken late evening in
# the zone the schedule names, and dated by that zone's calendar day.
SNAPSHOT_ZONE = ZoneInfo("Europe/Moscow")


def rank_history_nightly(slot: datetime) -> None:
    rank_history_snapshot_all(on=slot.astimezone(SNAPSHOT_ZONE).date())
