"""The learning-first guarantee at setup, the defaults, and the rules file."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from fokus.core.models import Organization
from fokus.programs.models import Enrollment
from fokus.scoring import queries, services
from fokus.scoring.models import ScoringRules
from fokus.scoring.rules_file import RulesFileError, dump_rules, parse_rules_text, save_arguments
from fokus.scoring.services import KpiRuleSpec, RulesRejected
from fokus.scoring.tests.factories import Seed, seed_program

D = Decimal


@pytest.fixture
def seed(org_a: Organization) -> Seed:
    return seed_program(org_a)


def _save(seed: Seed, **overrides: Any) -> ScoringRules:
    args: dict[str, Any] = {
        "grade_points": {1: D(1), 2: D(2), 3: D(3)},
        "min_learning_share": D("0.6"),
        "kpi_rules": [KpiRuleSpec("cars_sold", D(1), None, D(22))],
        "bonus_max_per_entry": D(3),
        "bonus_max_per_person": D(6),
    }
    args.update(overrides)
    return services.scoring_rules_save(program=seed.program, **args)


def test_seed_001_consultants_reach_42_learning_points(seed: Seed) -> None:
    report = queries.learning_share_report(seed.program)
    by_track = {t.track.slug: t for t in report.tracks}
    assert by_track["consultants"].track.max_learning == D(42)
    assert by_track["seniors"].track.max_learning == D(12)
    assert by_track["consultants"].track.earns_kpi and not by_track["seniors"].track.earns_kpi


def test_defaults_are_created_once_and_keep_the_share(seed: Seed) -> None:
    rules = queries.scoring_rules_for(seed.program)
    assert queries.scoring_rules_for(seed.program).pk == rules.pk
    assert ScoringRules.objects.count() == 1
    assert queries.grade_points_of(rules) == {1: D(1), 2: D(2), 3: D(3)}
    assert rules.min_learning_share == D("0.6")
    cars = rules.kpi_rules.get(metric="cars_sold")
    # 42 learning points at 60% allow 28 of KPI and bonus; the bonus takes 6.
    assert cars.points_per_unit == 1 and cars.cap_per_person_per_program == D(22)
    assert queries.learning_share_report(seed.program).holds


def test_a_breaking_rule_set_is_refused_with_the_numbers_and_a_fitting_cap(seed: Seed) -> None:
    with pytest.raises(RulesRejected) as caught:
        _save(seed, kpi_rules=[KpiRuleSpec("cars_sold", D(1), D("2.5"), None)])
    message = str(caught.value)
    assert (
        "Learning can reach 42 points (track “Консультанты”), KPI up to 40 and bonus up to 6: "
        "learning would be 47.7% < 60%." in message
    )
    assert "at most 28 points" in message
    assert "Cap “cars_sold” at 1 a day or 22 for the program (points per person)." in message
    assert caught.value.report is not None
    assert caught.value.report.suggested_program_caps == {"cars_sold": D(22)}
    # Nothing was saved: the defaults (created on first use) are still there.
    cars = queries.scoring_rules_for(seed.program).kpi_rules.get()
    assert cars.cap_per_person_per_day is None and cars.cap_per_person_per_program == D(22)


def test_the_suggested_cap_is_accepted_and_one_more_point_is_not(seed: Seed) -> None:
    rules = _save(seed, kpi_rules=[KpiRuleSpec("cars_sold", D(1), D(1), D(22))])
    assert rules.kpi_rules.get().cap_per_person_per_day == D(1)
    report = queries.learning_share_report(seed.program)
    assert report.holds and report.max_learning == D(42)
    _save(seed, kpi_rules=[KpiRuleSpec("cars_sold", D(1), None, D(22))])  # exactly 60%
    with pytest.raises(RulesRejected, match=r"59\.1% < 60%"):
        _save(seed, kpi_rules=[KpiRuleSpec("cars_sold", D(1), None, D(23))])


def test_a_kpi_rule_without_a_cap_is_refused_when_a_share_is_required(seed: Seed) -> None:
    with pytest.raises(RulesRejected, match="“cars_sold” has no cap"):
        _save(seed, kpi_rules=[KpiRuleSpec("cars_sold", D(1))])
    rules = _save(seed, min_learning_share=D(0), kpi_rules=[KpiRuleSpec("cars_sold", D(1))])
    assert rules.min_learning_share == 0


def test_the_weakest_track_with_participants_counts_for_bonuses(seed: Seed) -> None:
    # Seniors (12 learning points) only get bonuses: 12 * 0.4 / 0.6 = 8 at most.
    _save(seed, kpi_rules=[], bonus_max_per_person=D(8))
    with pytest.raises(RulesRejected, match="track “Старшие”"):
        _save(seed, kpi_rules=[], bonus_max_per_person=D(9))
    # Without participants in the seniors' track, only the consultants' track counts.
    Enrollment.objects.filter(track=seed.seniors).delete()
    _save(seed, kpi_rules=[], bonus_max_per_person=D(9))


def test_malformed_rules_name_every_field(seed: Seed) -> None:
    with pytest.raises(RulesRejected) as caught:
        _save(
            seed,
            grade_points={1: D(1), 2: D(2)},
            min_learning_share=D("1.5"),
            kpi_rules=[KpiRuleSpec("Cars Sold", D(1)), KpiRuleSpec("x", D(0), D(-1), None)],
            bonus_max_per_person="lots",
        )
    fields = {f for f, _m in caught.value.problems}
    assert {"grade_points", "min_learning_share", "kpi[0].metric", "kpi[1].points_per_unit",
            "kpi[1].cap_per_day", "bonus.max_per_person"} <= fields
    assert "set points for grade(s) 3" in str(caught.value)


RULES_YAML = """\
grade_points:
  1: 1
  2: 2
  3: 3
min_learning_share: 60%
kpi:
- metric: cars_sold
  points_per_unit: 1
  cap_per_day: 2
  cap_per_program: 12
- metric: test_drives
  points_per_unit: 0.5
  cap_per_program: 4
bonus:
  max_per_entry: 3
  max_per_person: 6
"""


def test_rules_file_round_trips(seed: Seed) -> None:
    parsed = parse_rules_text(RULES_YAML, "rules.yaml")
    rules = services.scoring_rules_save(
        program=seed.program, **save_arguments(parsed, queries.scoring_rules_for(seed.program))
    )
    assert dump_rules(rules) == RULES_YAML


def test_rules_file_errors_name_the_line() -> None:
    with pytest.raises(RulesFileError) as caught:
        parse_rules_text("grade_points: {1: 1}\nkpi:\n- metric: x\n  points: 1\nbonuses: 1\n",
                         "rules.yaml")
    text = str(caught.value)
    assert "rules.yaml, line 4: kpi[0]: unknown key “points”" in text
    assert "rules.yaml, line 3: kpi[0] needs “points_per_unit”" in text
    assert "rules.yaml, line 5: unknown key “bonuses”" in text
    with pytest.raises(RulesFileError, match="line 1: min_learning_share: 60 is more than 1"):
        parse_rules_text("min_learning_share: 60\n", "rules.yaml")
    with pytest.raises(RulesFileError, match="not valid YAML"):
        parse_rules_text("kpi: [\n", "rules.yaml")
