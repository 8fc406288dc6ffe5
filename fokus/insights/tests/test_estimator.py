"""The uplift estimators on synthetic sellers with a planted effect and self-selection."""

from __future__ import annotations

from fokus.insights import estimator
from fokus.insights.estimator import Estimate, Outcome
from fokus.insights.synthetic import sellers

TRUTH = 0.8


def _outcomes(seed: int, people: int) -> list[Outcome]:
    return [outcome for outcome, _ in sellers(seed=seed, people=people, effect=TRUTH)]


def _effect(estimate: Estimate) -> float:
    assert estimate.effect is not None
    return estimate.effect


def test_did_recovers_the_planted_effect_while_naive_is_biased_by_self_selection() -> None:
    outcomes = _outcomes(seed=7, people=12000)
    participants = [o for o in outcomes if o.treated]
    others = [o for o in outcomes if not o.treated]
    # Self-selection is there: participants sold more before the program.
    assert sum(o.baseline for o in participants) / len(participants) > (
        sum(o.baseline for o in others) / len(others) + 1.0
    )
    did = estimator.difference_in_differences(outcomes)
    naive = estimator.naive(outcomes)
    matched = estimator.matched(outcomes)
    assert abs(_effect(did) - TRUTH) <= 0.1 * TRUTH
    assert _effect(naive) > 2 * TRUTH
    assert abs(_effect(matched) - TRUTH) <= 0.2 * TRUTH
    assert did.covers(TRUTH)
    assert not naive.covers(TRUTH)
    assert did.n_treated == len(participants) and did.n_control == len(others)
    assert did.n_clusters == 40


def test_did_interval_covers_the_truth_in_at_least_90_of_100_seeds() -> None:
    covered = sum(
        estimator.difference_in_differences(_outcomes(seed=seed, people=1500)).covers(TRUTH)
        for seed in range(100)
    )
    assert covered >= 90


def test_same_data_gives_the_same_numbers() -> None:
    first = _outcomes(seed=3, people=2000)
    shuffled = list(reversed(first))
    for method in (estimator.naive, estimator.difference_in_differences, estimator.matched):
        assert method(first) == method(first)
        a, b = method(first), method(shuffled)
        assert a.effect is not None and b.effect is not None
        assert abs(a.effect - b.effect) < 1e-9 and a.n_treated == b.n_treated


def test_hand_computed_did_and_matching() -> None:
    rows = [
        Outcome(1, True, baseline=5, period=7, cluster="A", region="X"),
        Outcome(2, True, baseline=3, period=4, cluster="B", region="X"),
        Outcome(3, False, baseline=5, period=5.5, cluster="A", region="X"),
        Outcome(4, False, baseline=1, period=1.5, cluster="A", region="X"),
        Outcome(5, False, baseline=3.2, period=3.2, cluster="C", region="X"),
    ]
    # Participants' changes 2 and 1, others' 0.5, 0.5, 0: DiD = 1.5 - 1/3.
    assert abs(_effect(estimator.difference_in_differences(rows)) - (1.5 - 1 / 3)) < 1e-12
    assert abs(_effect(estimator.naive(rows)) - (5.5 - 10.2 / 3)) < 1e-12
    matched = estimator.matched(rows, caliper_sd=1.0)
    # 1 ↔ 3 in its own dealership; 2 has none in B, so the region's nearest: 5.
    assert abs(_effect(matched) - ((2 - 0.5) + (1 - 0)) / 2) < 1e-12
    assert matched.n_unmatched == 0 and matched.n_control == 2


def test_no_comparison_group_gives_no_estimate() -> None:
    rows = [Outcome(1, True, 1, 2, "A"), Outcome(2, True, 2, 3, "A")]
    assert estimator.difference_in_differences(rows).effect is None
    assert estimator.matched(rows).effect is None


def test_roi_carries_the_interval() -> None:
    estimate = Estimate("did", 0.8, 0.6, 1.0, 0.1, 100, 300, 20)
    result = estimator.roi(estimate, participants=100, months=2, value_per_unit=1000, cost=100000)
    assert result is not None
    assert result.gain == 160000 and result.roi is not None and abs(result.roi - 0.6) < 1e-12
    assert result.roi_low is not None and abs(result.roi_low - 0.2) < 1e-12
    assert result.roi_high is not None and abs(result.roi_high - 1.0) < 1e-12


def test_t_quantiles() -> None:
    assert estimator.t_quantile_975(1) == 12.706
    assert 2.000 < estimator.t_quantile_975(50) < 2.021  # 2.009
    assert 1.96 < estimator.t_quantile_975(10000) < 1.961
