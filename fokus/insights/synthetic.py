"""Synthetic sellers with a planted effect and self-selection, to test the estimators.

Each seller has a personal level (some sell far more than others) on top of their
dealership's level. Stronger sellers join the program more often (logistic in their
level), so participants outsell non-participants before the program even starts.
Between the baseline and the program period each dealership gets a common shock
(season, stock) and participants get the planted effect. Monthly sales are Poisson.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

from fokus.insights.estimator import Outcome


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        # Normal approximation: Knuth's loop gets slow and exp(-mean) underflows.
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def sellers(
    *, seed: int, people: int = 4000, units: int = 40, regions: int = 8,
    effect: float = 0.8, baseline_months: int = 6, period_months: int = 6,
    selection: float = 1.5,
) -> Iterator[tuple[Outcome, int]]:
    """(outcome as rates per month, dealership index) for each synthetic seller."""
    rng = random.Random(seed)
    unit_level = [rng.gauss(4.0, 0.8) for _ in range(units)]
    unit_shock = [rng.gauss(0.3, 0.3) for _ in range(units)]
    for person in range(people):
        unit = person % units
        level = max(0.3, unit_level[unit] + rng.gauss(0.0, 1.2))
        # Self-selection: the odds of joining grow with the seller's own level.
        joins = rng.random() < 1 / (1 + math.exp(-selection * (level - unit_level[unit]) + 0.7))
        months = [_poisson(rng, level) for _ in range(baseline_months)]
        half = baseline_months // 2
        baseline = sum(months) / baseline_months
        early = sum(months[:half]) / max(1, half)
        late = sum(months[half:]) / max(1, baseline_months - half)
        during_mean = max(0.0, level + unit_shock[unit] + (effect if joins else 0.0))
        period = sum(_poisson(rng, during_mean) for _ in range(period_months)) / period_months
        outcome = Outcome(
            person_id=person, treated=joins, baseline=baseline, period=period,
            cluster=unit, region=unit % regions, baseline_early=early, baseline_late=late,
        )
        yield outcome, unit
