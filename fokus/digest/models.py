"""The digest's own state: who agreed to have their best answers shown to others.

Everything else the 18:00 digest says is read from other apps' rows at preparation
time (programs, review, scoring, leaderboard); the rendered message lives in the
delivery outbox (fokus.delivery.models.Delivery, kind "digest").
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from fokus.core.models import Organization
from fokus.people.models import Person


class ShowcaseConsent(models.Model):
    """A person agreed that their well-graded answers may appear in colleagues' digests.

    No row: no consent (the default). Withdrawing deletes the row; digests prepared
    after that never quote the person again.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organisation")
    )
    person = models.OneToOneField(
        Person, on_delete=models.CASCADE, related_name="showcase_consent",
        verbose_name=_("person"),
    )
    given_at = models.DateTimeField(_("given at"))

    class Meta:
        verbose_name = _("consent to show answers")
        verbose_name_plural = _("consents to show answers")

    def __str__(self) -> str:
        return str(self.person)
