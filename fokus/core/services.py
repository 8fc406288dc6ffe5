"""Writes for tenancy: organisations and API tokens."""

from __future__ import annotations

import secrets

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from fokus.core.models import ApiToken, Organization


@transaction.atomic
def organization_create(
    *, slug: str, name: str, default_time_zone: str = "Europe/Moscow"
) -> Organization:
    if Organization.objects.filter(slug=slug).exists():
        raise ValidationError(
            {"slug": _("An organisation with slug “%(slug)s” already exists.") % {"slug": slug}}
        )
    organization = Organization(slug=slug, name=name, default_time_zone=default_time_zone)
    organization.full_clean()
    organization.save()
    return organization


@transaction.atomic
def api_token_create(*, organization: Organization, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token and return it with the clear key, which is shown once and never stored."""
    key = "fk_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        organization=organization, user=user, name=name,
        key_hash=ApiToken.hash_key(key), key_prefix=key[:8],
    )
    return token, key


def api_token_authenticate(key: str) -> ApiToken | None:
    """The live token for a clear key, or None; records when it was last used."""
    token = (
        ApiToken.objects.select_related("organization", "user")
        .filter(key_hash=ApiToken.hash_key(key), user__is_active=True)
        .first()
    )
    if token is not None:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token


@transaction.atomic
def api_token_revoke(*, organization: Organization, prefix: str) -> ApiToken:
    """Delete the organisation's token whose key starts with `prefix`; it stops working at once.

    The prefix must name exactly one token of this organisation: a foreign or ambiguous
    prefix revokes nothing.
    """
    prefix = prefix.strip()
    if len(prefix) < 4:
        raise ValidationError({"prefix": _("Give at least the first 4 characters of the token.")})
    tokens = list(
        ApiToken.objects.select_for_update().filter(
            organization=organization, key_prefix__startswith=prefix[:8]
        )
    )
    # Only 8 characters are stored; a whole key tells two tokens with that prefix apart.
    if len(tokens) > 1 and len(prefix) > 8:
        tokens = [t for t in tokens if t.key_hash == ApiToken.hash_key(prefix)]
    if not tokens:
        raise ValidationError(
            {"prefix": _("No token of “%(org)s” starts with “%(prefix)s”.")
             % {"org": organization.slug, "prefix": prefix}}
        )
    if len(tokens) > 1:
        raise ValidationError(
            {"prefix": ngettext("%(count)d token starts with “%(prefix)s”; give the whole key.",
                                "%(count)d tokens start with “%(prefix)s”; give the whole key.",
                                len(tokens))
             % {"count": len(tokens), "prefix": prefix}}
        )
    token = tokens[0]
    ApiToken.objects.filter(pk=token.pk).delete()
    return token
