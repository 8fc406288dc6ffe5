"""`fokus people import FILE --org SLUG [--dry-run] [--format text|json]`."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from fokus.core.queries import organization_by_slug
from fokus.people.models import Person
from fokus.people.services import RosterImportReport, roster_import

# Text output lists this many updated people; JSON always has all of them.
_UPDATED_SHOWN = 20


def field_label(name: str) -> str:
    """The translated name of a Person field (`time_zone` → «часовой пояс»)."""
    try:
        field = Person._meta.get_field(name)
    except FieldDoesNotExist:  # a name the model does not have: better raw than nothing
        return name
    return str(getattr(field, "verbose_name", name))


def report_text(report: RosterImportReport) -> list[str]:
    if report.errors:  # the file could not be read: counts of nothing would only confuse
        return [*report.errors, _("Nothing was written.")]
    lines = [
        ngettext(
            "%(file)s: %(rows)s row: created %(created)s, updated %(updated)s, "
            "unchanged %(unchanged)s, rejected %(rejected)s",
            "%(file)s: %(rows)s rows: created %(created)s, updated %(updated)s, "
            "unchanged %(unchanged)s, rejected %(rejected)s",
            report.rows,
        )
        % {"file": report.file, "rows": report.rows, "created": len(report.created),
           "updated": len(report.updated), "unchanged": report.unchanged,
           "rejected": len(report.rejected)}
    ]
    if report.units_created or report.units_updated:
        lines.append(
            _("units: created %(created)s, city changed %(updated)s")
            % {"created": len(report.units_created), "updated": len(report.units_updated)}
        )
    for rejected in report.rejected:
        lines.extend(
            _("row %(row)s: %(reason)s") % {"row": rejected.row, "reason": reason}
            for reason in rejected.reasons
        )
    for updated in report.updated[:_UPDATED_SHOWN]:
        where = (_("row %(row)s") % {"row": updated.row}) if updated.row else _("not in the file")
        lines.append(
            _("updated %(number)s (%(where)s): %(fields)s")
            % {"number": updated.employee_number, "where": where,
               "fields": ", ".join(field_label(f) for f in updated.fields)}
        )
    if len(report.updated) > _UPDATED_SHOWN:
        more = len(report.updated) - _UPDATED_SHOWN
        lines.append(
            ngettext(
                "… and %(count)s more person updated (see --format json)",
                "… and %(count)s more people updated (see --format json)",
                more,
            )
            % {"count": more}
        )
    if report.dry_run and report.ok:
        lines.append(_("Dry run: nothing was written."))
    elif not report.ok:
        lines.append(_("Nothing was written."))
    return lines


class Command(BaseCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set here, not on the class: argparse cannot format a lazy string.
        self.help = _("Import people from a roster file (CSV or XLSX); see docs/roster-format.md.")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{import}")
        imp = sub.add_parser(
            "import",
            help=_("Create and update people from a roster; "
                   "a file with a rejected row writes nothing."),
        )
        imp.add_argument("file", help=_("CSV (UTF-8, cp1251 or KOI8-R; ';' or ',') or XLSX"))
        imp.add_argument("--org", required=True, help=_("organisation slug"))
        imp.add_argument("--dry-run", action="store_true",
                         help=_("check and report, write nothing"))
        imp.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "import":
            self._import(options["file"], options["org"], options["dry_run"], options["format"])

    def _import(self, path: str, slug: str, dry_run: bool, output: str) -> None:
        organization = organization_by_slug(slug)
        if organization is None:
            raise CommandError(
                _("No organisation with slug “%(slug)s”. Create it with `fokus org create`.")
                % {"slug": slug}
            )
        started = time.perf_counter()
        report = roster_import(organization=organization, source=path, dry_run=dry_run)
        elapsed = time.perf_counter() - started
        if output == "json":
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        else:
            for line in report_text(report):
                self.stdout.write(line)
        if report.rows >= 10_000:
            sys.stderr.write(
                ngettext("%(rows)s row in %(seconds).1f s\n", "%(rows)s rows in %(seconds).1f s\n",
                         report.rows)
                % {"rows": report.rows, "seconds": elapsed}
            )
        if report.errors:
            raise CommandError(_("%(file)s cannot be imported.") % {"file": report.file})
        if report.rejected:
            raise CommandError(
                ngettext(
                    "%(count)s row of %(file)s was rejected; nothing was written.",
                    "%(count)s rows of %(file)s were rejected; nothing was written.",
                    len(report.rejected),
                )
                % {"count": len(report.rejected), "file": report.file}
            )
