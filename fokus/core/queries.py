"""Reads for tenancy."""

from __future__ import annotations

from fokus.core.models import ApiToken, Organization


def organization_by_slug(slug: str) -> Organization | None:
    return Organization.objects.filter(slug=slug).first()


def api_tokens_for_organization(organization: Organization) -> list[ApiToken]:
    return list(
        ApiToken.objects.select_related("user", "organization")
        .filter(organization=organization)
        .order_by("created_at", "pk")
    )
