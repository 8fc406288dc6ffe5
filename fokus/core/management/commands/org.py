"""`fokus org create SLUG --name NAME [--time-zone TZ]`: an organisation, printed as JSON."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from fokus.core.models import Organization
from fokus.core.services import organization_create
from fokus.core.timezones import canonical_time_zone


def organization_json(organization: Organization) -> dict[str, Any]:
    return {
        "id": organization.pk,
        "slug": organization.slug,
        "name": organization.name,
        "default_time_zone": organization.default_time_zone,
        "created_at": organization.created_at.isoformat(),
    }


class Command(BaseCommand):
    help = "Create organisations (tenants)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{create}")
        create = sub.add_parser("create", help="Create an organisation and print it as JSON.")
        create.add_argument("slug", help="short Latin name used in commands and URLs, e.g. alpha")
        create.add_argument("--name", required=True, help="display name, e.g. 'Альфа Авто'")
        create.add_argument(
            "--time-zone", default="Europe/Moscow",
            help="IANA time zone used when a person has none (default Europe/Moscow)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "create":
            self._create(options["slug"], options["name"], options["time_zone"])

    def _create(self, slug: str, name: str, time_zone: str) -> None:
        if not name.strip():
            raise CommandError(_("--name must not be empty."))
        zone = canonical_time_zone(time_zone)
        if zone is None:
            raise CommandError(
                _("--time-zone “%(zone)s” is not an IANA time zone name (like Europe/Moscow).")
                % {"zone": time_zone}
            )
        try:
            organization = organization_create(slug=slug, name=name.strip(), default_time_zone=zone)
        except ValidationError as exc:
            messages = [
                f"{field}: {message}" if field != "__all__" else message
                for field, field_messages in exc.message_dict.items()
                for message in field_messages
            ] if hasattr(exc, "error_dict") else exc.messages
            raise CommandError("; ".join(messages)) from None
        self.stdout.write(json.dumps(organization_json(organization), ensure_ascii=False, indent=2))
