"""Uplift estimators: pure Python, no database, deterministic (docs/insights.md).

Each person is one `Outcome`: a KPI rate (units per 30 days) in the baseline period
before the program and in the program period, whether they took part, and the
dealership (cluster) and region they belong to. Three estimates of the effect of
taking part, per participant, in units per 30 days:

* naive — mean program-period rate of participants minus that of non-participants
  (what a "participants sold more" slide shows; biased when strong sellers join);
* difference-in-differences — the mean change (program minus baseline) of
  participants minus the mean change of non-participants: a person's own baseline
  removes any difference between people that does not change over time;
* matched — each participant against the non-participant of the same dealership
  (else the same region) with the nearest rate in the first half of the baseline
  within a caliper, then the mean of the paired differences in the change from the
  second half of the baseline (a matched difference-in-differences; splitting the
  baseline keeps a control picked for a lucky month from regressing to its mean
  inside the change).

Intervals: 95%, from cluster-robust standard errors with dealerships as clusters
(sales in one dealership share a manager, stock and local market, so people in it are
not independent) and Student's t with G - 1 degrees of freedom. With fewer than
`MIN_CLUSTERS` dealerships every person is their own cluster (heteroskedasticity-robust).
No resampling: the same data always gives the same numbers.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

MIN_CLUSTERS = 10
# Caliper for matching, in standard deviations of the baseline rate of everyone.
CALIPER_SD = 0.2

# Two-sided 95% quantiles of Student's t by degrees of freedom.
_T975 = {
    1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
    9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131,
    16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074,
    23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045,
    30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980,
}
_Z975 = 1.959964


def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t (linear in 1/df between table rows)."""
    if df < 1:
        return math.inf
    if df in _T975:
        return _T975[df]
    if df > 120:
        # 1/df interpolation towards the normal quantile at df = infinity.
        return _Z975 + (_T975[120] - _Z975) * 120 / df
    lower = max(k for k in _T975 if k < df)
    upper = min(k for k in _T975 if k > df)
    share = (1 / df - 1 / upper) / (1 / lower - 1 / upper)
    return _T975[upper] + (_T975[lower] - _T975[upper]) * share


@dataclass(frozen=True, slots=True)
class Outcome:
    person_id: int
    treated: bool
    baseline: float  # units per 30 days before the program
    period: float  # units per 30 days during the program
    cluster: Hashable  # the dealership
    region: Hashable = ""  # the city
    # The two halves of the baseline period (rates). Matching uses the first half and
    # the matched change starts from the second: a non-participant picked for a lucky
    # first half does not carry that luck into the change (regression to the mean).
    baseline_early: float | None = None
    baseline_late: float | None = None

    @property
    def change(self) -> float:
        return self.period - self.baseline

    @property
    def matching_key(self) -> float:
        return self.baseline if self.baseline_early is None else self.baseline_early

    @property
    def matched_change(self) -> float:
        late = self.baseline if self.baseline_late is None else self.baseline_late
        return self.period - late


@dataclass(frozen=True, slots=True)
class Estimate:
    method: str
    effect: float | None
    low: float | None
    high: float | None
    std_error: float | None
    n_treated: int
    n_control: int
    n_clusters: int
    treated_mean: float | None = None
    control_mean: float | None = None
    # Matched comparison only: participants with no comparable non-participant.
    n_unmatched: int = 0

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None

    def covers(self, value: float) -> bool:
        return self.low is not None and self.high is not None and self.low <= value <= self.high


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _difference_of_means(
    method: str, outcomes: Sequence[Outcome], value: Callable[[Outcome], float]
) -> Estimate:
    """OLS of value on a participation dummy, with a cluster-robust (CR1) standard error.

    For a single dummy the slope is the difference of the group means, and each
    person's score is their residual divided by their group's size, signed by group.
    """
    treated = [o for o in outcomes if o.treated]
    control = [o for o in outcomes if not o.treated]
    n_t, n_c = len(treated), len(control)
    if n_t == 0 or n_c == 0:
        return Estimate(method, None, None, None, None, n_t, n_c, 0)
    mean_t = _mean([value(o) for o in treated])
    mean_c = _mean([value(o) for o in control])
    effect = mean_t - mean_c
    clusters = {o.cluster for o in outcomes}
    by_person = len(clusters) < MIN_CLUSTERS
    scores: dict[Hashable, float] = defaultdict(float)
    for o in outcomes:
        key: Hashable = ("person", o.person_id) if by_person else o.cluster
        if o.treated:
            scores[key] += (value(o) - mean_t) / n_t
        else:
            scores[key] -= (value(o) - mean_c) / n_c
    return _with_interval(method, effect, list(scores.values()), n_t, n_c, len(clusters),
                          treated_mean=mean_t, control_mean=mean_c)


def _with_interval(
    method: str, effect: float, scores: list[float], n_t: int, n_c: int, n_clusters: int,
    *, treated_mean: float | None = None, control_mean: float | None = None, n_unmatched: int = 0,
) -> Estimate:
    g = len(scores)
    if g < 2:
        return Estimate(method, effect, None, None, None, n_t, n_c, n_clusters,
                        treated_mean, control_mean, n_unmatched)
    variance = g / (g - 1) * math.fsum(s * s for s in scores)
    std_error = math.sqrt(variance)
    half = t_quantile_975(g - 1) * std_error
    return Estimate(method, effect, effect - half, effect + half, std_error, n_t, n_c,
                    n_clusters, treated_mean, control_mean, n_unmatched)


def naive(outcomes: Sequence[Outcome]) -> Estimate:
    """Participants' program-period rate minus non-participants'."""
    return _difference_of_means("naive", outcomes, lambda o: o.period)


def difference_in_differences(outcomes: Sequence[Outcome]) -> Estimate:
    """Participants' mean change minus non-participants' mean change."""
    return _difference_of_means("did", outcomes, lambda o: o.change)


def _sd(values: Sequence[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = _mean(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


class _Pool:
    """Non-participants of one dealership or region, sorted by baseline rate."""

    def __init__(self, members: list[Outcome]) -> None:
        self.members = sorted(members, key=lambda o: (o.matching_key, o.person_id))
        self.keys = [o.matching_key for o in self.members]

    def nearest(self, baseline: float, caliper: float) -> Outcome | None:
        if not self.members:
            return None
        i = bisect_left(self.keys, baseline)
        best: Outcome | None = None
        best_distance = math.inf
        for j in (i - 1, i):
            if 0 <= j < len(self.members):
                distance = abs(self.keys[j] - baseline)
                if distance <= caliper and distance < best_distance:
                    best, best_distance = self.members[j], distance
        return best


def matched(outcomes: Sequence[Outcome], caliper_sd: float = CALIPER_SD) -> Estimate:
    """Nearest-neighbour matching on the baseline rate within the dealership, else region.

    With replacement: one non-participant may serve several participants. A participant
    without a non-participant within the caliper is left out (counted in n_unmatched).
    Deterministic: ties go to the lower baseline, then the lower person id.
    """
    treated = sorted((o for o in outcomes if o.treated), key=lambda o: o.person_id)
    control = [o for o in outcomes if not o.treated]
    if not treated or not control:
        return Estimate("matched", None, None, None, None, len(treated), len(control), 0)
    caliper = caliper_sd * _sd([o.matching_key for o in outcomes])
    by_cluster: dict[Hashable, list[Outcome]] = defaultdict(list)
    by_region: dict[Hashable, list[Outcome]] = defaultdict(list)
    for o in control:
        by_cluster[o.cluster].append(o)
        if o.region:
            by_region[o.region].append(o)
    cluster_pools = {key: _Pool(members) for key, members in by_cluster.items()}
    region_pools = {key: _Pool(members) for key, members in by_region.items()}
    empty = _Pool([])
    pairs: list[tuple[Outcome, Outcome]] = []
    for person in treated:
        key = person.matching_key
        match = cluster_pools.get(person.cluster, empty).nearest(key, caliper)
        if match is None and person.region:
            match = region_pools.get(person.region, empty).nearest(key, caliper)
        if match is not None:
            pairs.append((person, match))
    unmatched = len(treated) - len(pairs)
    if not pairs:
        return Estimate("matched", None, None, None, None, len(treated), 0, 0,
                        n_unmatched=unmatched)
    differences = [t.matched_change - c.matched_change for t, c in pairs]
    effect = _mean(differences)
    n = len(pairs)
    clusters = {t.cluster for t, _ in pairs}
    by_person = len({o.cluster for o in outcomes}) < MIN_CLUSTERS
    scores: dict[Hashable, float] = defaultdict(float)
    for (t, _), d in zip(pairs, differences, strict=True):
        scores[("person", t.person_id) if by_person else t.cluster] += (d - effect) / n
    distinct_controls = len({c.person_id for _, c in pairs})
    return _with_interval(
        "matched", effect, list(scores.values()), n, distinct_controls, len(clusters),
        treated_mean=_mean([t.matched_change for t, _ in pairs]),
        control_mean=_mean([c.matched_change for _, c in pairs]),
        n_unmatched=unmatched,
    )


@dataclass(frozen=True, slots=True)
class Roi:
    """Return on the program's cost, with the interval carried from the effect's."""

    gain: float
    gain_low: float | None
    gain_high: float | None
    cost: float
    roi: float | None
    roi_low: float | None
    roi_high: float | None


def roi(estimate: Estimate, *, participants: int, months: float, value_per_unit: float,
        cost: float) -> Roi | None:
    """Gain = effect × participants × months × value of one unit; ROI = (gain − cost) / cost.

    Linear in the effect, so the effect's interval maps straight onto the gain's and the ROI's.
    """
    if estimate.effect is None:
        return None
    scale = participants * months * value_per_unit

    def share(gain: float | None) -> float | None:
        if gain is None or cost <= 0:
            return None
        return (gain - cost) / cost

    gain = estimate.effect * scale
    low = estimate.low * scale if estimate.low is not None else None
    high = estimate.high * scale if estimate.high is not None else None
    return Roi(gain, low, high, cost, share(gain), share(low), share(high))
