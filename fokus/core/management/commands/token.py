"""`fokus token create|list|revoke`: API tokens of an organisation, printed as JSON."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from fokus.core.models import ApiToken, Organization
from fokus.core.queries import api_tokens_for_organization, organization_by_slug
from fokus.core.services import api_token_create, api_token_revoke


def _token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "prefix": token.key_prefix,
        "name": token.name,
        "user": token.user.get_username(),
        "organization": token.organization.slug,
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
    }


def _messages(exc: ValidationError) -> str:
    return "; ".join(exc.messages)


class Command(BaseCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set here, not on the class: argparse cannot format a lazy string.
        self.help = _("Create, list and revoke API tokens (Authorization: Bearer <token>).")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{create,list,revoke}")
        create = sub.add_parser("create", help=_("Create a token; its key is printed only once."))
        create.add_argument("--org", required=True, help=_("organisation slug"))
        create.add_argument("--user", required=True, help=_("username the token acts as"))
        create.add_argument("--name", required=True,
                            help=_("what the token is for, e.g. 'Power BI'"))
        listing = sub.add_parser("list", help=_("List the organisation's tokens (prefixes only)."))
        listing.add_argument("--org", required=True, help=_("organisation slug"))
        revoke = sub.add_parser("revoke",
                                help=_("Revoke a token by its prefix (as shown by list)."))
        revoke.add_argument("prefix", help=_("the token's first characters, e.g. fk_Ab12c"))
        revoke.add_argument("--org", required=True, help=_("organisation slug"))

    def handle(self, *args: Any, **options: Any) -> None:
        organization = self._organization(options["org"])
        action = options["action"]
        if action == "create":
            self._create(organization, options["user"], options["name"])
        elif action == "list":
            tokens = api_tokens_for_organization(organization)
            self._print([_token_json(t) for t in tokens])
        elif action == "revoke":
            try:
                token = api_token_revoke(organization=organization, prefix=options["prefix"])
            except ValidationError as exc:
                raise CommandError(_messages(exc)) from None
            self._print({"revoked": _token_json(token)})

    def _organization(self, slug: str) -> Organization:
        organization = organization_by_slug(slug)
        if organization is None:
            raise CommandError(
                _("No organisation with slug “%(slug)s” (see `fokus org create`).")
                % {"slug": slug}
            )
        return organization

    def _create(self, organization: Organization, username: str, name: str) -> None:
        if not name.strip():
            raise CommandError(_("--name must not be empty."))
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(_("No user “%(username)s”.") % {"username": username})
        person = getattr(user, "person", None)
        if not user.is_superuser and (person is None or person.organization_id != organization.pk):
            # A token acts inside one organisation; giving it to someone from another would
            # hand them this organisation's data.
            raise CommandError(
                _("User “%(username)s” is not a person of organisation “%(org)s”.")
                % {"username": username, "org": organization.slug}
            )
        token, key = api_token_create(organization=organization, user=user, name=name.strip())
        self._print({**_token_json(token), "token": key,
                     "note": _("Store this token now: it is not shown again.")})

    def _print(self, data: Any) -> None:
        self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
