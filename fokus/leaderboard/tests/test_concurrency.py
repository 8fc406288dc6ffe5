"""Refreshes and ledger writes at the same time, with real connections."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction

from fokus.leaderboard import queries, services
from fokus.leaderboard.tests.factories import award, marathon


@pytest.mark.django_db(transaction=True)
def test_an_entry_committed_after_a_higher_one_is_not_skipped(org_a, is_postgres) -> None:
    """PostgreSQL hands out ids before commit: id 1 may commit after id 2 was applied."""
    if not is_postgres:
        pytest.skip("SQLite has one writer at a time: ids commit in order")
    m = marathon(org_a)
    slow, fast = m.person("1", "Slow"), m.person("2", "Fast")
    holding, release = threading.Event(), threading.Event()

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                award(m, slow, 5)  # takes the lower id, commits last
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert holding.wait(10)
    award(m, fast, 1)
    services.standings_refresh(program=m.program)
    assert [(r.name, r.total) for r in queries.board(m.program)] == [("Fast", Decimal("1"))]
    release.set()
    thread.join()
    rows = queries.board(m.program)
    assert [(r.name, r.total, r.rank) for r in rows] == [
        ("Slow", Decimal("5"), 1),
        ("Fast", Decimal("1"), 2),
    ]


@pytest.mark.django_db(transaction=True)
def test_writers_refreshing_at_once_leave_the_board_equal_to_the_ledger(org_a) -> None:
    m = marathon(org_a)
    people = [m.person(str(i), f"Person {i}") for i in range(6)]
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for i in range(15):
                with transaction.atomic():
                    award(m, people[(i + offset) % 6], (i % 3) + 1)
                    services.standings_refresh(program=m.program)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    rows = {r.person_id: r for r in queries.board(m.program)}
    for person in people:
        ledger = sum(e.amount for e in person.points_entries.all())
        assert rows[person.pk].total == ledger
    totals = sorted((r.total for r in rows.values()), reverse=True)
    for r in rows.values():
        assert r.rank == 1 + sum(1 for t in totals if t > r.total)


def test_a_32_bit_transaction_id_is_widened_next_to_the_snapshot() -> None:
    epoch = 7 * 2**32
    assert services._widen_xid(120, epoch + 100) == epoch + 120
    assert services._widen_xid(2**32 - 5, epoch + 3) == epoch - 5  # just before the wrap
    assert services._widen_xid(4, epoch - 2) == epoch + 4  # just after the wrap
