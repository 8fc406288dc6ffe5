"""Units (dealerships, teams) and people with their roles and managers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from fokus.core.models import Organization


class Role(models.TextChoices):
    PARTICIPANT = "participant", _("participant")
    SUPERVISOR = "supervisor", _("supervisor")
    CURATOR = "curator", _("curator")
    AUTHOR = "author", _("author")
    ADMIN = "admin", _("admin")
    VIEWER = "viewer", _("viewer")


class Unit(models.Model):
    """A dealership, branch or team people belong to."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="units", verbose_name=_("organisation")
    )
    name = models.CharField(_("name"), max_length=200)
    city = models.CharField(_("city"), max_length=200, blank=True, default="")

    class Meta:
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="unit_unique_name_per_org"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    """Someone in an organisation's roster. A login (User) is optional."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="people",
        verbose_name=_("organisation"),
    )
    employee_number = models.CharField(_("employee number"), max_length=64)
    full_name = models.CharField(_("full name"), max_length=300)
    email = models.EmailField(_("e-mail"), blank=True, default="")
    time_zone = models.CharField(_("time zone"), max_length=64)
    position = models.CharField(_("position"), max_length=200, blank=True, default="")
    unit = models.ForeignKey(
        Unit, on_delete=models.SET_NULL, null=True, blank=True, related_name="people",
        verbose_name=_("unit"),
    )
    manager = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reports",
        verbose_name=_("direct manager"),
    )
    # Comma-separated Role values, sorted: no role name is a substring of another,
    # so `roles__contains` is an exact membership test on every database.
    roles = models.CharField(_("roles"), max_length=200, default=Role.PARTICIPANT)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="person", verbose_name=_("login"),
    )
    language = models.CharField(_("language"), max_length=8, blank=True, default="")
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        ordering = ["full_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "employee_number"], name="person_unique_number_per_org"
            )
        ]
        indexes = [models.Index(fields=["organization", "manager"])]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.employee_number})"

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split(",") if r)

    def has_role(self, role: Role | str) -> bool:
        return str(role) in self.role_set

    @staticmethod
    def roles_to_text(roles: set[str] | frozenset[str]) -> str:
        return ",".join(sorted(roles))
