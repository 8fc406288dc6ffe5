"""Announcements: a title, Markdown text and an optional image sent to an audience.

The audience is everyone active in the organisation, narrowed to a program's enrolled
people and/or one unit. Sending sets `sent_at` once (a second click sends nothing), then
a task puts one outbox row per person and reachable channel (fokus.delivery) and sets
`planned_at`.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from fokus.core.models import Organization
from fokus.people.models import Person, Unit
from fokus.programs.models import Program


class Announcement(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+",
        verbose_name=_("organisation"),
    )
    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("program"), help_text=_("Only people enrolled in this program."),
    )
    unit = models.ForeignKey(
        Unit, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("unit"), help_text=_("Only people of this unit."),
    )
    title = models.CharField(_("title"), max_length=200)
    text = models.TextField(_("text"), help_text=_("Markdown."))
    # Small by design (normalised on upload, see fokus.announcements.images): it is
    # copied into each e-mail and Telegram message of the outbox.
    image = models.BinaryField(_("image"), null=True, blank=True, editable=False)
    image_type = models.CharField(_("image type"), max_length=32, blank=True, default="")
    created_by = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"))
    updated_at = models.DateTimeField(_("updated at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # Every message is in the outbox (planning runs as a background task after sending).
    planned_at = models.DateTimeField(_("planned at"), null=True, blank=True)
    sent_by = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("sent by"),
    )

    class Meta:
        verbose_name = _("announcement")
        verbose_name_plural = _("announcements")
        indexes = [models.Index(fields=["organization", "-created_at"])]

    def __str__(self) -> str:
        return self.title

    @property
    def contact_point(self) -> str:
        """The outbox key of this announcement's messages (one per person and channel)."""
        return f"announcement:{self.pk}"
