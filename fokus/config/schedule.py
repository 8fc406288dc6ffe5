"""The one schedule table: every job the beat fires, and when.

Each job is `def job(slot: datetime) -> None` at a dotted path; it runs once per slot
(exactly once, even with two beats), inside the transaction that records the firing,
so it should enqueue tasks with `fokus.scheduler.background.enqueue_on_commit` or do
quick work. Cadences: "every minute", "every N minutes", "daily HH:MM Zone/Name"
("nightly" is the same). `grace`: how old a missed slot may be and still fire after
downtime (minute jobs fire only the latest slot; daily jobs every night within grace).
How to add a job: docs/background-work.md.
"""

from __future__ import annotations

from datetime import timedelta

from fokus.scheduler.jobs import Job

SCHEDULE: list[Job] = [
    Job(
        name="scheduler.housekeeping",
        func="fokus.scheduler.tasks.housekeeping",
        cadence="daily 03:30 UTC",
        grace=timedelta(hours=12),
    ),
    Job(
        name="kpi.drop_folders",
        func="fokus.kpi.tasks.kpi_drop_folders_nightly",
        cadence="nightly 02:00 Europe/Moscow",
        grace=timedelta(hours=12),
    ),
    Job(
        name="leaderboard.rank_history",
        func="fokus.leaderboard.jobs.rank_history_nightly",
        cadence="nightly 23:50 Europe/Moscow",
        grace=timedelta(hours=12),
    ),
    Job(
        name="delivery.dispatch",
        func="fokus.delivery.jobs.delivery_dispatch_job",
        cadence="every minute",
        grace=timedelta(minutes=5),
    ),
    Job(
        name="review.overdue_scan",
        func="fokus.review.jobs.review_overdue_job",
        cadence="every 15 minutes",
        grace=timedelta(minutes=15),
    ),
    Job(
        name="digest.prepare",
        func="fokus.digest.tasks.digest_prepare_job",
        cadence="every 5 minutes",
        grace=timedelta(minutes=10),
    ),
    Job(
        name="delivery.planning",
        func="fokus.delivery.planning.delivery_planning_job",
        cadence="every minute",
        grace=timedelta(minutes=5),
    ),
    Job(
        name="insights.refresh",
        func="fokus.insights.jobs.insights_refresh_nightly",
        cadence="nightly 04:00 Europe/Moscow",
        grace=timedelta(hours=12),
    ),
    Job(
        name="supervision.support_tasks",
        func="fokus.supervision.tasks.support_tasks_job",
        cadence="every 30 minutes",
        grace=timedelta(minutes=30),
    ),
]
