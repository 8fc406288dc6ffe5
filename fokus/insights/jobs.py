"""The nightly refresh of the insights facts (fokus/config/schedule.py)."""

from __future__ import annotations

from datetime import datetime

from fokus.insights.services import insights_refresh_current


def insights_refresh_nightly(slot: datetime) -> None:
    insights_refresh_current(now=slot)
