"""Delivery: the outbox of every message Fokus sends, and each person's preferences.

One Delivery row per person, contact point and channel (unique), so nothing is sent
twice by design: planning the same day again, two beats or a retried task all land on
the existing row. Workers claim due rows (SKIP LOCKED on PostgreSQL), send them through
the channel and record the outcome; a claim older than the stale timeout is taken again,
so a killed worker loses nothing and repeats at most the message it had in flight.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from fokus.core.models import Organization
from fokus.people.models import Person
from fokus.programs.models import Program


class DeliveryKind(models.TextChoices):
    LESSON = "lesson", _("material and task")
    REMINDER = "reminder", _("reminder")
    DIGEST = "digest", _("digest")
    ANNOUNCEMENT = "announcement", _("announcement")
    FEEDBACK = "feedback", _("feedback notice")
    CURATOR = "curator", _("curator notice")
    NUDGE = "nudge", _("nudge")


class Channel(models.TextChoices):
    TELEGRAM = "telegram", _("Telegram")
    EMAIL = "email", _("e-mail")


class DeliveryStatus(models.TextChoices):
    PLANNED = "planned", _("planned")
    SENDING = "sending", _("sending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")
    # Not sent on purpose: quiet hours ran past the day, the daily budget was spent by
    # more important messages, the person muted this kind, or no channel reaches them.
    SKIPPED = "skipped", _("skipped")


# Lower sends first within a drop and wins the daily budget: a task beats a reminder.
PRIORITY = {
    DeliveryKind.FEEDBACK: 10,
    DeliveryKind.CURATOR: 15,
    DeliveryKind.LESSON: 20,
    DeliveryKind.ANNOUNCEMENT: 30,
    DeliveryKind.NUDGE: 35,
    DeliveryKind.DIGEST: 40,
    DeliveryKind.REMINDER: 50,
}


class Delivery(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+",
        verbose_name=_("organisation"),
    )
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("person")
    )
    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries",
        verbose_name=_("program"),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=DeliveryKind.choices)
    # What this message is, stable across re-planning, e.g. "lesson:12:2026-11-23:10:00"
    # or "announcement:7"; with person and channel it makes the row unique.
    contact_point = models.CharField(_("contact point"), max_length=200)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    due_at = models.DateTimeField(_("due at (UTC)"))
    priority = models.PositiveSmallIntegerField(_("priority"), default=50)
    status = models.CharField(
        _("status"), max_length=16, choices=DeliveryStatus.choices,
        default=DeliveryStatus.PLANNED,
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # A retry after a temporary failure waits until then (null: send when due).
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    claimed_by = models.CharField(_("claimed by"), max_length=100, blank=True, default="")
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    provider_message_id = models.CharField(
        _("provider message id"), max_length=200, blank=True, default=""
    )
    error = models.TextField(_("error"), blank=True, default="")
    # What to render: ids of materials and tasks, a prepared text, buttons. JSON so
    # each kind keeps its own shape (documented in docs/delivery.md).
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["person", "contact_point", "channel"],
                name="delivery_once_per_person_point_channel",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="delivery_due_idx"),
            models.Index(fields=["organization", "due_at"], name="delivery_org_due_idx"),
            models.Index(fields=["program", "contact_point"], name="delivery_program_point_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.person} ({self.channel}, {self.status})"


def new_preferences_token() -> str:
    return secrets.token_urlsafe(24)


class DeliveryPreference(models.Model):
    """How one person wants to be reached; absent means the defaults."""

    person = models.OneToOneField(
        Person, on_delete=models.CASCADE, related_name="delivery_preference",
        verbose_name=_("person"),
    )
    # Comma-separated Channel values, most preferred first.
    channel_order = models.CharField(
        _("channel order"), max_length=64, default="telegram,email"
    )
    mute_reminders = models.BooleanField(_("mute reminders"), default=False)
    email_unsubscribed = models.BooleanField(_("no e-mail"), default=False)
    # The person's own quiet hours (local time); null: the organisation's.
    quiet_from = models.TimeField(_("quiet from"), null=True, blank=True)
    quiet_until = models.TimeField(_("quiet until"), null=True, blank=True)
    # The sign-in-free link in every e-mail ("preferences / unsubscribe").
    token = models.CharField(
        _("token"), max_length=64, unique=True, default=new_preferences_token
    )

    class Meta:
        verbose_name = _("delivery preference")
        verbose_name_plural = _("delivery preferences")

    def __str__(self) -> str:
        return str(self.person)

    @property
    def channels(self) -> list[str]:
        return [c for c in self.channel_order.split(",") if c in Channel.values]


class DeliverySettings(models.Model):
    """An organisation's rules against fatigue; absent means the defaults."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="delivery_settings",
        verbose_name=_("organisation"),
    )
    quiet_from = models.TimeField(_("quiet from"), null=True, blank=True)
    quiet_until = models.TimeField(_("quiet until"), null=True, blank=True)
    daily_budget = models.PositiveSmallIntegerField(
        _("messages per person per day"), default=6,
        help_text=_("More important messages win: a task beats a reminder."),
    )
    # Minutes after the task's contact point, comma-separated, e.g. "240" or "120,300".
    reminder_offsets = models.CharField(
        _("reminder offsets (minutes)"), max_length=64, default="240"
    )

    class Meta:
        verbose_name = _("delivery settings")
        verbose_name_plural = _("delivery settings")

    def __str__(self) -> str:
        return str(self.organization)


class ProgramBranding(models.Model):
    """Colours and logo of a program's e-mails."""

    program = models.OneToOneField(
        Program, on_delete=models.CASCADE, related_name="branding", verbose_name=_("program")
    )
    primary_colour = models.CharField(_("primary colour"), max_length=7, default="#1f5eff")
    text_colour = models.CharField(_("text colour"), max_length=7, default="#1b1b1b")
    # An https:// URL or a data: URI; e-mail clients need a reachable image.
    logo_url = models.CharField(_("logo URL"), max_length=2000, blank=True, default="")
    sender_name = models.CharField(_("sender name"), max_length=100, blank=True, default="")

    class Meta:
        verbose_name = _("program branding")
        verbose_name_plural = _("program brandings")

    def __str__(self) -> str:
        return str(self.program)


class DeliveryBlob(models.Model):
    """An image or file many deliveries carry (an announcement's picture), stored once.

    Payloads name it by `blob` (its SHA-256) instead of carrying the bytes: 10,000
    e-mails of one announcement would otherwise hold 10,000 copies of its image.
    """

    sha256 = models.CharField(_("SHA-256"), max_length=64, unique=True)
    mime = models.CharField(_("type"), max_length=100)
    data = models.BinaryField(_("data"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("delivery attachment")
        verbose_name_plural = _("delivery attachments")

    def __str__(self) -> str:
        return f"{self.mime} {self.sha256[:12]}"
