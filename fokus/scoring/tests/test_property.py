"""Property: any sequence of grades, re-grades, sales, cancellations and bonuses leaves a
ledger whose sums are what the sequence implies, never edits a row, and keeps every
person's KPI and bonus within what the learning-first guarantee allows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fokus.core.models import Organization
from fokus.scoring import queries, services
from fokus.scoring.models import PointsEntry
from fokus.scoring.services import BonusRefused, KpiRuleSpec, LedgerConflict, RulesRejected
from fokus.scoring.tests.factories import ENDS_ON, STARTS_ON, Seed, seed_program

D = Decimal
PEOPLE = ("c1", "c2")
AWARDERS = ("admin", "senior", "boss", "peer")

rules_strategy = st.fixed_dictionaries({
    "ppu": st.sampled_from([D(1), D("0.5"), D(2)]),
    "cap_day": st.sampled_from([None, D(1), D(2), D("2.5")]),
    "cap_program": st.sampled_from([None, D(5), D(10), D(22), D(40)]),
    "per_entry": st.sampled_from([D(1), D(3)]),
    "per_person": st.sampled_from([D(2), D(6), D(12)]),
    "share": st.sampled_from([D("0.5"), D("0.6"), D("0.75")]),
})

grade_op = st.tuples(st.just("grade"), st.sampled_from(PEOPLE), st.integers(0, 13),
                     st.integers(0, 2), st.integers(1, 3))
sale_op = st.tuples(st.just("sale"), st.sampled_from(PEOPLE), st.integers(-1, 17),
                    st.integers(1, 3), st.integers(0, 12))
cancel_op = st.tuples(st.just("cancel"), st.sampled_from(PEOPLE), st.integers(0, 12))
bonus_op = st.tuples(st.just("bonus"), st.sampled_from(AWARDERS), st.sampled_from(PEOPLE),
                     st.sampled_from([D("0.5"), D(1), D(2), D(3), D(4)]),
                     st.sampled_from([None, "r1", "r2"]))
ops_strategy = st.lists(st.one_of(grade_op, sale_op, cancel_op, bonus_op), max_size=35)


@dataclass
class Model:
    grade_points: dict[int, Decimal]
    ppu: Decimal
    cap_day: Decimal | None
    cap_program: Decimal | None
    per_entry: Decimal
    per_person: Decimal
    grades: dict[str, tuple[str, int]] = field(default_factory=dict)
    sales: dict[str, tuple[str, dt.date, Decimal]] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)
    kpi_day: dict[tuple[str, dt.date], Decimal] = field(default_factory=dict)
    kpi: dict[str, Decimal] = field(default_factory=dict)
    bonus: dict[str, Decimal] = field(default_factory=dict)
    bonus_keys: dict[str, tuple[str, Decimal]] = field(default_factory=dict)

    def learning(self, who: str) -> Decimal:
        return sum((self.grade_points[g] for p, g in self.grades.values() if p == who), D(0))

    def sale(self, who: str, key: str, day: dt.date, quantity: int) -> None:
        if key in self.sales or not STARTS_ON <= day <= ENDS_ON:
            return
        amount = (quantity * self.ppu).quantize(D("0.01"), rounding=ROUND_DOWN)
        if self.cap_day is not None:
            amount = max(D(0), min(amount, self.cap_day - self.kpi_day.get((who, day), D(0))))
        if self.cap_program is not None:
            amount = max(D(0), min(amount, self.cap_program - self.kpi.get(who, D(0))))
        self.sales[key] = (who, day, amount)
        self._add(who, day, amount)

    def cancel(self, key: str) -> None:
        if key in self.sales and key not in self.cancelled:
            who, day, amount = self.sales[key]
            self.cancelled.add(key)
            self._add(who, day, -amount)

    def _add(self, who: str, day: dt.date, amount: Decimal) -> None:
        self.kpi_day[(who, day)] = self.kpi_day.get((who, day), D(0)) + amount
        self.kpi[who] = self.kpi.get(who, D(0)) + amount

    def bonus_outcome(self, by: str, who: str, amount: Decimal, key: str | None) -> str:
        if by == "peer":
            return "refused"
        full_key = f"{by}-{key}" if key else None
        if full_key and full_key in self.bonus_keys:
            return "same" if self.bonus_keys[full_key] == (who, amount) else "conflict"
        if amount > self.per_entry or self.bonus.get(who, D(0)) + amount > self.per_person:
            return "refused"
        if full_key:
            self.bonus_keys[full_key] = (who, amount)
        self.bonus[who] = self.bonus.get(who, D(0)) + amount
        return "awarded"


@pytest.fixture
def seed(org_a: Organization) -> Seed:
    return seed_program(org_a)


def _rows() -> list[tuple[Any, ...]]:
    return list(PointsEntry.objects.order_by("id").values_list())


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rules=rules_strategy, ops=ops_strategy)
def test_ledger_sums_follow_the_sequence_and_the_guarantee_holds(
    seed: Seed, rules: dict[str, Any], ops: list[tuple[Any, ...]]
) -> None:
    with transaction.atomic():
        _run(seed, rules, ops)
        transaction.set_rollback(True)


def _run(seed: Seed, rules: dict[str, Any], ops: list[tuple[Any, ...]]) -> None:
    program = seed.program
    share = rules["share"]
    try:
        services.scoring_rules_save(
            program=program, grade_points={1: D(1), 2: D(2), 3: D(3)}, min_learning_share=share,
            kpi_rules=[KpiRuleSpec("cars_sold", rules["ppu"], rules["cap_day"],
                                   rules["cap_program"])],
            bonus_max_per_entry=rules["per_entry"], bonus_max_per_person=rules["per_person"],
        )
    except RulesRejected as rejected:
        # The refusal is right: computed independently, the set breaks the share.
        bounds = [b for b in (rules["cap_day"] and rules["cap_day"] * 16, rules["cap_program"])
                  if b is not None]
        assert rejected.report is not None
        if bounds:
            kpi_max = min(bounds)
            seniors_ok = D(12) * (1 - share) >= share * rules["per_person"]
            consultants_ok = D(42) * (1 - share) >= share * (kpi_max + rules["per_person"])
            assert not (seniors_ok and consultants_ok)
    saved = queries.scoring_rules_for(program)
    rule = saved.kpi_rules.get(metric="cars_sold")
    model = Model(
        grade_points=queries.grade_points_of(saved), ppu=rule.points_per_unit,
        cap_day=rule.cap_per_person_per_day, cap_program=rule.cap_per_person_per_program,
        per_entry=saved.bonus_max_per_entry, per_person=saved.bonus_max_per_person,
    )
    before = _rows()
    for op in ops:
        kind = op[0]
        if kind == "grade":
            _, who, task_index, attempt, grade = op
            key = f"{who}-{task_index}-{attempt}"
            services.grade_points_record(
                program=program, person=seed[who], task=seed.tasks[task_index],
                attempt_key=key, grade=grade, graded_by=seed["curator"], occurred_on=STARTS_ON,
            )
            model.grades[key] = (who, grade)
        elif kind == "sale":
            _, who, offset, quantity, n = op
            day = STARTS_ON + dt.timedelta(days=offset)
            services.kpi_points_record(
                program=program, person=seed[who], metric="cars_sold", quantity=D(quantity),
                sale_key=f"{who}-sale{n}", occurred_on=day,
            )
            model.sale(who, f"{who}-sale{n}", day, quantity)
        elif kind == "cancel":
            _, who, n = op
            services.kpi_points_reverse(program=program, person=seed[who],
                                        sale_key=f"{who}-sale{n}", reason="cancelled")
            model.cancel(f"{who}-sale{n}")
        else:
            _, by, who, amount, key = op
            expected = model.bonus_outcome(by, who, amount, key)
            try:
                services.bonus_award(program=program, person=seed[who], amount=amount,
                                     reason="за дело", awarded_by=seed[by],
                                     request_key=f"{by}-{key}" if key else None)
                outcome = "awarded/same"
            except LedgerConflict:
                outcome = "conflict"
            except BonusRefused:
                outcome = "refused"
            assert outcome == expected or (outcome == "awarded/same"
                                           and expected in ("awarded", "same")), (op, outcome)
        after = _rows()
        assert after[: len(before)] == before, f"{op} changed an existing ledger row"
        before = after

    totals = queries.ledger_totals(program)
    report = queries.learning_share_report(program)
    assert report.holds
    kpi_bound = rule.cap_per_person_per_program
    if rule.cap_per_person_per_day is not None:
        day_bound = rule.cap_per_person_per_day * 16
        kpi_bound = day_bound if kpi_bound is None else min(kpi_bound, day_bound)
    for who in PEOPLE:
        got = totals.get(seed[who].pk, queries.Totals())
        assert got.learning == model.learning(who)
        assert got.kpi == model.kpi.get(who, D(0))
        assert got.bonus == model.bonus.get(who, D(0))
        assert got.other == 0
        # (b) within what the guarantee allows, and the share of the maximum holds.
        assert kpi_bound is not None and got.kpi <= kpi_bound
        assert got.bonus <= saved.bonus_max_per_person
        learning_max = D(42)
        assert learning_max * (1 - saved.min_learning_share) >= saved.min_learning_share * (
            kpi_bound + saved.bonus_max_per_person
        )
