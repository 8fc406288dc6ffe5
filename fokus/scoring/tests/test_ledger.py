"""The ledger: idempotent appends, reversals, grade corrections, KPI caps, bonuses."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from fokus.core.models import Organization
from fokus.people.models import Person
from fokus.scoring import queries, services
from fokus.scoring.models import PointsEntry
from fokus.scoring.services import (
    BonusRefused,
    KpiRuleSpec,
    LedgerConflict,
    ScoringError,
)
from fokus.scoring.tests.factories import LEARNING_DATES, STARTS_ON, Seed, seed_program

D = Decimal
TWO = Decimal(2)


@pytest.fixture
def seed(org_a: Organization) -> Seed:
    return seed_program(org_a)


def _rows() -> list[tuple[Any, ...]]:
    return list(PointsEntry.objects.order_by("id").values_list())


def _set_rules(seed: Seed, **overrides: Any) -> None:
    args: dict[str, Any] = {
        "grade_points": {1: D(1), 2: D(2), 3: D(3)},
        "min_learning_share": D("0.6"),
        "kpi_rules": [KpiRuleSpec("cars_sold", D(1), D(2), D(10))],
        "bonus_max_per_entry": D(3),
        "bonus_max_per_person": D(6),
    }
    args.update(overrides)
    services.scoring_rules_save(program=seed.program, **args)


def _append(seed: Seed, key: str = "k1", amount: Decimal = TWO, **kw: Any) -> Any:
    args: dict[str, Any] = {
        "program": seed.program, "person": seed["c1"], "source": "learning", "amount": amount,
        "reason": "r", "reference": "ref", "idempotency_key": key, "occurred_on": STARTS_ON,
    }
    args.update(kw)
    return services.points_append(**args)


def test_append_is_idempotent_and_refuses_a_different_write_with_the_same_key(seed: Seed) -> None:
    entry, created = _append(seed)
    again, created_again = _append(seed)
    assert created and not created_again and again.pk == entry.pk
    assert PointsEntry.objects.count() == 1
    with pytest.raises(LedgerConflict, match="k1"):
        _append(seed, amount=D(3))
    with pytest.raises(LedgerConflict):
        _append(seed, person=seed["c2"])
    assert PointsEntry.objects.count() == 1


def test_append_refuses_a_person_of_another_organisation(seed: Seed, org_b: Organization) -> None:
    other = seed_program(org_b)
    with pytest.raises(ScoringError, match="organisation"):
        _append(seed, person=other["c1"])
    with pytest.raises(ScoringError, match="organisation"):
        _append(seed, created_by=other["admin"])
    assert not PointsEntry.objects.exists()


def test_append_takes_created_at_from_the_clock(seed: Seed) -> None:
    from fokus.core.clock import frozen_at

    instant = dt.datetime(2026, 11, 24, 5, 0, tzinfo=dt.UTC)
    with frozen_at(instant):
        entry, _ = _append(seed)
    entry.refresh_from_db()
    assert entry.created_at == instant


def test_reverse_writes_the_opposite_once_and_refuses_reversing_a_reversal(seed: Seed) -> None:
    entry, _ = _append(seed, amount=D(3))
    reversal = services.points_reverse(entry=entry, reason="oops")
    assert reversal.amount == D(-3) and reversal.reverses_id == entry.pk
    assert reversal.idempotency_key == "reversal:k1"
    assert services.points_reverse(entry=entry, reason="again").pk == reversal.pk
    with pytest.raises(ScoringError, match="reversal"):
        services.points_reverse(entry=reversal, reason="undo")
    assert queries.person_totals(seed.program, seed["c1"]).total == 0
    assert PointsEntry.objects.count() == 2


def test_grade_once_per_attempt_and_a_change_is_a_correction_never_an_edit(seed: Seed) -> None:
    task = seed.tasks[0]

    def grade(value: int) -> PointsEntry:
        return services.grade_points_record(
            program=seed.program, person=seed["c1"], task=task, attempt_key="att-1",
            grade=value, graded_by=seed["curator"], occurred_on=STARTS_ON,
        )

    first = grade(2)
    assert first.amount == D(2) and first.idempotency_key == "grade:att-1"
    assert grade(2).pk == first.pk
    before = _rows()
    with CaptureQueriesContext(connection) as ctx:
        changed = grade(3)
    sql = " ".join(q["sql"].upper() for q in ctx.captured_queries)
    assert 'UPDATE "SCORING_POINTSENTRY"' not in sql
    assert 'DELETE FROM "SCORING_POINTSENTRY"' not in sql
    after = _rows()
    assert after[: len(before)] == before, "an existing ledger row changed"
    assert len(after) == len(before) + 2
    assert changed.amount == D(3) and changed.idempotency_key == "grade:att-1:r1"
    reversal = PointsEntry.objects.get(reverses=first)
    assert reversal.amount == D(-2)
    assert grade(3).pk == changed.pk
    back = grade(1)
    assert back.idempotency_key == "grade:att-1:r2"
    assert queries.person_totals(seed.program, seed["c1"]).learning == D(1)
    assert PointsEntry.objects.count() == 5


def test_grades_outside_the_scale_are_refused(seed: Seed) -> None:
    for bad in (0, 4, -1):
        with pytest.raises(ScoringError, match="1–3"):
            services.grade_points_record(
                program=seed.program, person=seed["c1"], task=seed.tasks[0], attempt_key="a",
                grade=bad, graded_by=None, occurred_on=STARTS_ON,
            )
    assert not PointsEntry.objects.exists()


def test_grade_points_follow_the_programs_rules(seed: Seed) -> None:
    _set_rules(seed, grade_points={1: D(0), 2: D("2.5"), 3: D(4)}, kpi_rules=[])
    entry = services.grade_points_record(
        program=seed.program, person=seed["c1"], task=seed.tasks[0], attempt_key="a",
        grade=2, graded_by=None, occurred_on=STARTS_ON,
    )
    assert entry.amount == D("2.5")


def _sale(seed: Seed, key: str, day: dt.date = STARTS_ON, quantity: int = 1,
          who: str = "c1", metric: str = "cars_sold") -> PointsEntry | None:
    return services.kpi_points_record(
        program=seed.program, person=seed[who], metric=metric, quantity=D(quantity),
        sale_key=key, occurred_on=day,
    )


def test_kpi_sale_is_counted_once(seed: Seed) -> None:
    _set_rules(seed)
    entry = _sale(seed, "VIN1")
    assert entry is not None and entry.amount == D(1) and entry.source == "kpi"
    assert _sale(seed, "VIN1") == entry
    assert PointsEntry.objects.count() == 1


def test_kpi_daily_cap_cuts_a_sale_and_says_so(seed: Seed) -> None:
    _set_rules(seed)  # 1 point per car, at most 2 per day and 10 per program
    _sale(seed, "VIN1")
    capped = _sale(seed, "VIN2", quantity=3)
    assert capped is not None and capped.amount == D(1)
    # The reason is written in the participant's language (Russian unless they chose
    # another), whatever language the writer (a KPI import, a curator) works in.
    assert "достигнут дневной лимит" in capped.reason
    nothing = _sale(seed, "VIN3")
    assert nothing is not None and nothing.amount == 0
    next_day = _sale(seed, "VIN4", day=STARTS_ON + dt.timedelta(days=1))
    assert next_day is not None and next_day.amount == D(1)


def test_kpi_program_cap_holds_over_many_days(seed: Seed) -> None:
    _set_rules(seed)
    for n in range(16):
        _sale(seed, f"VIN{n}", day=STARTS_ON + dt.timedelta(days=n), quantity=2)
    assert queries.person_totals(seed.program, seed["c1"]).kpi == D(10)
    last = PointsEntry.objects.order_by("-id").first()
    assert last is not None and last.amount == 0 and "лимит на программу" in last.reason


def test_a_reason_is_written_in_the_participants_language(seed: Seed) -> None:
    _set_rules(seed)
    Person.objects.filter(pk=seed["c1"].pk).update(language="en")
    seed["c1"].refresh_from_db()
    _sale(seed, "VIN1")
    with translation.override("ru"):  # the writer's language does not matter
        capped = _sale(seed, "VIN2", quantity=3)
    assert capped is not None and "the daily cap is reached" in capped.reason


def test_cancellation_reverses_the_sale_and_frees_room_for_later_sales_only(seed: Seed) -> None:
    _set_rules(seed)
    first = _sale(seed, "VIN1", quantity=2)
    capped = _sale(seed, "VIN2")
    assert first is not None and first.amount == D(2)
    assert capped is not None and capped.amount == 0
    reversal = services.kpi_points_reverse(
        program=seed.program, person=seed["c1"], sale_key="VIN1", reason="cancelled"
    )
    assert reversal is not None and reversal.amount == D(-2)
    again = services.kpi_points_reverse(
        program=seed.program, person=seed["c1"], sale_key="VIN1", reason="cancelled"
    )
    assert again == reversal
    # The capped sale is not topped up; a later sale uses the freed room.
    assert PointsEntry.objects.get(pk=capped.pk).amount == 0
    later = _sale(seed, "VIN3")
    assert later is not None and later.amount == D(1)
    assert queries.person_totals(seed.program, seed["c1"]).kpi == D(1)


def test_kpi_without_a_rule_outside_the_dates_or_outside_the_tracks_earns_nothing(
    seed: Seed,
) -> None:
    _set_rules(seed)
    assert _sale(seed, "X1", metric="test_drives") is None
    assert _sale(seed, "X2", day=STARTS_ON - dt.timedelta(days=1)) is None
    assert _sale(seed, "X3", who="outsider") is None
    # The seniors' track follows the consultants': it earns learning and bonus points only.
    assert _sale(seed, "X4", who="senior") is None
    assert services.kpi_points_reverse(
        program=seed.program, person=seed["c1"], sale_key="never", reason="x"
    ) is None
    assert not PointsEntry.objects.exists()
    with pytest.raises(ScoringError, match="kpi_points_reverse"):
        _sale(seed, "X5", quantity=-1)


def _bonus(seed: Seed, to: str, by: str, amount: str = "2", reason: str = "Помог коллеге",
           key: str | None = None) -> PointsEntry:
    return services.bonus_award(
        program=seed.program, person=seed[to], amount=D(amount), reason=reason,
        awarded_by=seed[by], request_key=key,
    )


def test_bonus_by_direct_or_higher_manager_or_admin(seed: Seed) -> None:
    assert _bonus(seed, "c1", "senior").created_by == seed["senior"]
    assert _bonus(seed, "c1", "boss").amount == D(2)
    assert _bonus(seed, "c2", "admin").source == "bonus"


@pytest.mark.parametrize("by", ["peer", "c2", "viewer", "curator"])
def test_bonus_refused_for_anyone_else(seed: Seed, by: str) -> None:
    with pytest.raises(BonusRefused, match="manager") as caught:
        _bonus(seed, "c1", by)
    assert caught.value.permission
    assert not PointsEntry.objects.exists()


def test_bonus_needs_a_reason_respects_limits_and_is_idempotent_per_request(seed: Seed) -> None:
    with pytest.raises(BonusRefused, match="reason"):
        _bonus(seed, "c1", "senior", reason="  ")
    with pytest.raises(BonusRefused, match="at most 3"):
        _bonus(seed, "c1", "senior", amount="3.5")
    with pytest.raises(BonusRefused, match="positive"):
        _bonus(seed, "c1", "senior", amount="-1")
    with pytest.raises(BonusRefused, match="themselves"):
        _bonus(seed, "admin", "admin")
    with pytest.raises(BonusRefused, match="not enrolled"):
        _bonus(seed, "outsider", "admin")
    first = _bonus(seed, "c1", "senior", amount="3", key="form-1")
    assert _bonus(seed, "c1", "senior", amount="3", key="form-1").pk == first.pk
    _bonus(seed, "c1", "boss", amount="3")
    with pytest.raises(BonusRefused, match="already has 6 bonus points of the 6"):
        _bonus(seed, "c1", "admin", amount="0.5")
    assert queries.person_totals(seed.program, seed["c1"]).bonus == D(6)


def test_ledger_entries_carry_running_totals(seed: Seed) -> None:
    _set_rules(seed)
    services.grade_points_record(
        program=seed.program, person=seed["c1"], task=seed.tasks[0], attempt_key="a1",
        grade=3, graded_by=None, occurred_on=LEARNING_DATES[0],
    )
    _sale(seed, "VIN1")
    _bonus(seed, "c1", "admin", amount="1.5")
    rows = queries.ledger_entries(seed.program, seed["c1"])
    assert [r.running_total for r in rows] == [D(3), D(4), D("5.5")]
    totals = queries.ledger_totals(seed.program)
    assert totals[seed["c1"].pk].total == D("5.5")
    assert totals[seed["c1"].pk].as_data() == {
        "learning": "3.00", "kpi": "1.00", "bonus": "1.50", "other": "0.00", "total": "5.50",
    }


def test_a_concurrent_insert_of_the_same_key_returns_the_existing_entry(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = _append(seed)
    real = queries.entry_by_key
    calls = {"n": 0}

    def racing(key: str) -> PointsEntry | None:
        # The first look-up misses, as if the other writer committed just after it.
        calls["n"] += 1
        return None if calls["n"] == 1 else real(key)

    monkeypatch.setattr(queries, "entry_by_key", racing)
    again, created = _append(seed)
    assert not created and again.pk == first.pk
    assert PointsEntry.objects.count() == 1
    calls["n"] = 0
    with pytest.raises(LedgerConflict):
        _append(seed, amount=D(5))


@pytest.mark.django_db(transaction=True)
def test_threads_appending_the_same_key_write_one_row(is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    import threading

    from django.db import connection as default_connection

    from fokus.core.services import organization_create

    seed = seed_program(organization_create(slug="race", name="Race"))
    results: list[tuple[int, bool]] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        try:
            barrier.wait()
            entry, created = _append(seed, key="race-key")
            results.append((entry.pk, created))
        finally:
            default_connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({pk for pk, _ in results}) == 1 and len(results) == 4
    assert sum(created for _, created in results) == 1
    assert PointsEntry.objects.filter(idempotency_key="race-key").count() == 1
