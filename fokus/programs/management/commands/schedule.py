"""`fokus schedule EMPLOYEE_NUMBER --org SLUG --program PROGRAM`: a person's contact points."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from fokus.people.queries import person_by_employee_number
from fokus.programs.management.commands.program import (
    dump_json,
    organization_or_error,
    program_or_error,
)
from fokus.programs.queries import person_contact_points, schedule_rows


class Command(BaseCommand):
    help = "Every contact point of a person in a program, in their zone and in UTC."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("employee_number", metavar="EMPLOYEE_NUMBER")
        parser.add_argument("--org", required=True, metavar="SLUG")
        parser.add_argument("--program", required=True, metavar="PROGRAM")
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_or_error(options["org"])
        program = program_or_error(organization, options["program"])
        person = person_by_employee_number(
            organization=organization, employee_number=options["employee_number"]
        )
        if person is None:
            raise CommandError(
                _('Organisation "%(org)s" has no person with employee number "%(number)s".')
                % {"org": organization.slug, "number": options["employee_number"]}
            )
        rows = schedule_rows(person_contact_points(program=program, person=person))
        if options["format"] == "json":
            self.stdout.write(dump_json(rows))
            return
        lines = [
            f"{person.full_name} ({person.employee_number}), {person.time_zone} · {program.title}"
        ]
        if not rows:
            lines.append(_("No contact points: not enrolled in this program."))
        for row in rows:
            local = row["local"]
            lines.append(
                f"  {_('Day')} {row['day']}  {local[:10]} {local[11:16]} {local[19:]}  "
                f"{row['kind']:<8}  {row['utc'][11:16]} UTC"
            )
        self.stdout.write("\n".join(lines))
