"""Schedule-table jobs of the review app (fokus/config/schedule.py).

`review_overdue_job` runs every 15 minutes: it asks which answers went overdue since the
previous firing and logs one notice per program for its lead curator (the admins when
the program has none). Sending the notices (Telegram, e-mail) belongs to the delivery
issue: it should replace the log line with an enqueued send keyed by
`OverdueAttempt.dedupe_key` (docs/review.md, "Overdue notices").
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from fokus.review.queries import OverdueNotice, review_overdue_scan
from fokus.scheduler.models import BeatFiring

JOB_NAME = "review.overdue_scan"
CADENCE = timedelta(minutes=15)
# After a long downtime, answers that went overdue longer ago than this are not
# announced one by one any more (the stats page lists them all).
LOOKBACK_MAX = timedelta(days=1)

logger = logging.getLogger("fokus.review.overdue")


def _previous_slot(slot: datetime) -> datetime:
    previous = (
        BeatFiring.objects.filter(job=JOB_NAME, slot__lt=slot)
        .order_by("-slot")
        .values_list("slot", flat=True)
        .first()
    )
    if previous is None or slot - previous > LOOKBACK_MAX:
        return slot - CADENCE
    return previous


def review_overdue_job(slot: datetime) -> list[OverdueNotice]:
    """Answers that went overdue between the previous firing and this slot, logged."""
    notices = review_overdue_scan(now=slot, since=_previous_slot(slot))
    for notice in notices:
        logger.warning(
            "review: %d answer(s) went overdue in program %s (target %d working hours); "
            "notice for person(s) %s pending delivery: attempts %s",
            len(notice.attempts), notice.program_title, notice.target_hours,
            ",".join(str(r) for r in notice.recipient_ids) or "-",
            ",".join(str(a.attempt_id) for a in notice.attempts),
        )
    return notices
