"""The beat's memory: one row per job and slot that has fired."""

from __future__ import annotations

from django.db import models


class BeatFiring(models.Model):
    """A job fired for a slot. The unique (job, slot) pair is what makes firing
    exactly-once: two beats racing on a slot both try to insert, one gets the
    IntegrityError and skips."""

    job = models.CharField(max_length=100)
    slot = models.DateTimeField(help_text="the UTC instant the job was due")
    fired_at = models.DateTimeField()
    beat = models.CharField(max_length=200, blank=True, help_text="host:pid of the beat")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "slot"], name="scheduler_beatfiring_once"),
        ]
        indexes = [models.Index(fields=["slot"], name="scheduler_beatfiring_slot")]

    def __str__(self) -> str:
        return f"{self.job} @ {self.slot.isoformat()}"
