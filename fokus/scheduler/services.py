"""The beat: fire every due slot of every job exactly once."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from django.db import DatabaseError, IntegrityError, transaction

from fokus.scheduler.jobs import Job
from fokus.scheduler.models import BeatFiring

logger = logging.getLogger(__name__)

Outcome = Literal["fired", "skipped", "failed"]


@dataclass(frozen=True)
class Firing:
    """What happened to one slot: fired here, skipped (another beat won), or failed."""

    job: str
    slot: datetime
    outcome: Outcome
    error: str = ""

    def as_json(self) -> dict[str, str]:
        data = {"job": self.job, "slot": self.slot.isoformat()}
        if self.error:
            data["error"] = self.error
        return data


class _LostRace(Exception):
    pass


def beat_fire_due(*, now: datetime, jobs: Sequence[Job], beat: str = "") -> list[Firing]:
    """Fire each job's due slots (see `Job.due_slots`) that no beat has fired yet.

    Not one transaction: each slot is its own, holding the firing row and whatever the
    job function writes or enqueues on commit. A job that raises leaves no row, so a
    nightly slot is retried on the next minute while it is inside the grace window.
    """
    firings: list[Firing] = []
    for job in jobs:
        slots = job.due_slots(now)
        if not slots:
            continue
        done = set(
            BeatFiring.objects.filter(job=job.name, slot__in=slots).values_list("slot", flat=True)
        )
        for slot in slots:
            if slot not in done:
                firings.append(_fire(job, slot, now=now, beat=beat))
    return firings


def _fire(job: Job, slot: datetime, *, now: datetime, beat: str) -> Firing:
    try:
        with transaction.atomic():
            try:
                BeatFiring.objects.create(job=job.name, slot=slot, fired_at=now, beat=beat[:200])
            except IntegrityError:
                raise _LostRace from None
            job.function()(slot)
    except _LostRace:
        return Firing(job.name, slot, "skipped")
    except (Exception, DatabaseError) as exc:
        logger.exception("Scheduled job %s for %s failed", job.name, slot.isoformat())
        return Firing(job.name, slot, "failed", error=f"{type(exc).__name__}: {exc}")
    return Firing(job.name, slot, "fired")


@transaction.atomic
def beat_firings_prune(*, before: datetime) -> int:
    """Forget firings of slots older than `before`; returns how many rows went."""
    deleted, _ = BeatFiring.objects.filter(slot__lt=before).delete()
    return deleted
