"""The two periods the uplift compares: pure date arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True, slots=True)
class Periods:
    baseline_start: date
    program_start: date  # the baseline ends the day before
    program_end: date  # inclusive

    @property
    def baseline_days(self) -> int:
        return (self.program_start - self.baseline_start).days

    @property
    def program_days(self) -> int:
        return (self.program_end - self.program_start).days + 1

    @property
    def baseline_middle(self) -> date:
        """The first day of the baseline's second half."""
        return self.baseline_start + timedelta(days=self.baseline_days // 2)


def uplift_periods(starts_on: date, ends_on: date, today: date,
                   baseline_days: int | None = None) -> Periods:
    """The program period (to today while it runs) and as many days before it as baseline.

    At least 28 baseline days, so that a one-week sprint still has a month to compare with.
    """
    end = min(ends_on, today)
    if end < starts_on:
        end = starts_on
    days = baseline_days if baseline_days else max(28, (ends_on - starts_on).days + 1)
    return Periods(baseline_start=starts_on - timedelta(days=days), program_start=starts_on,
                   program_end=end)
