"""`fokus kpi import|history|import-drop|source …`: KPI exports (docs/kpi-import.md).

Exit codes of `fokus kpi import`: 0 imported (or a clean dry run), 2 PARTIAL (valid
rows imported, some rejected; the report lists them), 1 nothing written (unreadable
file, --strict with a rejected row, bad arguments).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from fokus.core.models import Organization
from fokus.core.queries import organization_by_slug
from fokus.kpi import queries, services
from fokus.kpi.models import ImportChannel, ImportStatus, KpiImport, KpiSource

EXIT_PARTIAL = 2
_LISTED = 50  # text output lists this many rejected rows; JSON has the stored report


def import_report_lines(report: dict[str, Any], *, limit: int = _LISTED) -> list[str]:
    counts = report.get("counts", {})
    lines = [f"{report.get('file')}: {report.get('summary', '')}"]
    if counts:
        lines.append(
            _("rows %(rows)s: sales %(sales)s, cancellations %(cancellations)s, "
              "rejected %(rejected)s, duplicates %(duplicates)s, empty %(empty)s; "
              "points recorded %(recorded)s, reversed %(reversed)s")
            % {"rows": counts.get("rows", 0), "sales": counts.get("sales", 0),
               "cancellations": counts.get("cancellations", 0),
               "rejected": counts.get("rejected", 0), "duplicates": counts.get("duplicates", 0),
               "empty": counts.get("empty", 0), "recorded": counts.get("points_recorded", 0),
               "reversed": counts.get("points_reversed", 0)}
        )
    lines.extend(report.get("errors", []))
    for rejected in report.get("rejected", [])[:limit]:
        lines.append(
            _("row %(row)s: rejected: %(reasons)s")
            % {"row": rejected["row"], "reasons": "; ".join(rejected["reasons"])}
        )
    if counts.get("rejected", 0) > limit:
        lines.append(
            _("… and %(count)s more rejected rows (see --format json or the history page)")
            % {"count": counts["rejected"] - limit}
        )
    for duplicate in report.get("duplicates", [])[:limit]:
        lines.append(
            _("row %(row)s: duplicate of row %(first)s (%(key)s), not counted again")
            % {"row": duplicate["row"], "first": duplicate["first_row"],
               "key": duplicate["sale_key"]}
        )
    empty = report.get("empty_rows", [])
    if empty:
        lines.append(
            _("empty rows skipped: %(rows)s") % {"rows": ", ".join(str(r) for r in empty[:limit])}
        )
    lines.extend(report.get("warnings", [])[:limit])
    return lines


class Command(BaseCommand):
    help = "Import KPI exports (sales) and show the import history; see docs/kpi-import.md."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(
            dest="action", required=True, metavar="{import,history,import-drop,source}"
        )
        imp = sub.add_parser(
            "import",
            help="Import a CSV/XLSX export. Valid rows are imported, rejected rows listed "
            "(exit code 2: partial); --strict writes nothing when a row is rejected.",
        )
        imp.add_argument("file", help="CSV (UTF-8, cp1251 or KOI8-R; ';' or ',') or XLSX")
        imp.add_argument("--org", required=True, help="organisation slug")
        imp.add_argument("--source", required=True, help="KPI source slug (fokus kpi source list)")
        imp.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
        imp.add_argument("--strict", action="store_true",
                         help="any rejected row means nothing is written")
        imp.add_argument("--format", choices=["text", "json"], default="text")
        imp.add_argument("--progress", action="store_true",
                         help="show the progress bar even when stderr is not a terminal")

        history = sub.add_parser("history", help="Past imports of the organisation")
        history.add_argument("--org", required=True)
        history.add_argument("--source", help="only this source")
        history.add_argument("--limit", type=int, default=20)
        history.add_argument("--format", choices=["text", "json"], default="text")

        drop = sub.add_parser(
            "import-drop", help="Import new files from the source's drop folder now"
        )
        drop.add_argument("--org", required=True)
        drop.add_argument("--source", required=True)

        source = sub.add_parser("source", help="KPI sources and their column mapping")
        source_sub = source.add_subparsers(dest="source_action", required=True,
                                           metavar="{create,list}")
        create = source_sub.add_parser("create", help="Add a source")
        create.add_argument("slug")
        create.add_argument("--org", required=True)
        create.add_argument("--name", required=True)
        create.add_argument("--metric", default="cars_sold")
        create.add_argument(
            "--column", action="append", default=[], metavar="FIELD=HEADER[|HEADER…]",
            help="header names of a field: employee_number, occurred_on, sale_key, "
            "quantity, amount",
        )
        create.add_argument("--date-format", default="%d.%m.%Y")
        create.add_argument("--decimal-point", action="store_true",
                            help="numbers use a decimal point (default: decimal comma)")
        create.add_argument("--encoding", default="auto",
                            choices=["auto", "utf-8", "cp1251", "koi8-r"])
        listing = source_sub.add_parser("list", help="Sources of an organisation")
        listing.add_argument("--org", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        organization = self._organization(options["org"])
        action = options["action"]
        if action == "import":
            self._import(organization, options)
        elif action == "history":
            self._history(organization, options)
        elif action == "import-drop":
            self._import_drop(organization, self._source(organization, options["source"]))
        elif options["source_action"] == "create":
            self._source_create(organization, options)
        else:
            for source in queries.kpi_sources(organization=organization):
                mapping = "; ".join(
                    f"{field}: {' | '.join(names)}" for field, names in source.columns.items()
                )
                self.stdout.write(f"{source.slug}\t{source.name}\t{source.metric}\t{mapping}")

    def _organization(self, slug: str) -> Organization:
        organization = organization_by_slug(slug)
        if organization is None:
            raise CommandError(
                _("No organisation with slug “%(slug)s”. Create it with `fokus org create`.")
                % {"slug": slug}
            )
        return organization

    def _source(self, organization: Organization, slug: str) -> KpiSource:
        source = queries.kpi_source_by_slug(organization=organization, slug=slug)
        if source is None:
            known = ", ".join(s.slug for s in queries.kpi_sources(organization=organization))
            raise CommandError(
                _("No KPI source “%(slug)s” in %(org)s (known: %(known)s). "
                  "Add one with `fokus kpi source create`.")
                % {"slug": slug, "org": organization.slug, "known": known or "—"}
            )
        return source

    def _import(self, organization: Organization, options: dict[str, Any]) -> None:
        source = self._source(organization, options["source"])
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(
                _("%(file)s: cannot read the file: %(error)s")
                % {"file": path, "error": exc.strerror or exc}
            ) from exc
        bar = None
        if options["progress"] or sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(total=data.count(b"\n"), unit=_("rows"), file=sys.stderr,
                       disable=False, leave=False)
        shown = 0

        def progress(done: int, total: int) -> None:
            nonlocal shown
            if bar is not None:
                bar.update(done - shown)
                shown = done

        try:
            result = services.kpi_import(
                organization=organization, source=source, data=data, file_name=path.name,
                dry_run=options["dry_run"], strict=options["strict"],
                channel=ImportChannel.CLI, progress=progress,
            )
        finally:
            if bar is not None:
                bar.close()
        report = result.report
        if options["format"] == "json":
            self.stdout.write(json.dumps({"id": result.pk, **report}, ensure_ascii=False,
                                         indent=2))
        else:
            for line in import_report_lines(report):
                self.stdout.write(line)
            self.stdout.write(_("Import #%(id)s.") % {"id": result.pk})
        if result.status in (ImportStatus.FAILED, ImportStatus.REJECTED):
            raise CommandError(report.get("summary", ""))
        if report.get("counts", {}).get("rejected"):
            raise CommandError(report.get("summary", ""), returncode=EXIT_PARTIAL)

    def _history(self, organization: Organization, options: dict[str, Any]) -> None:
        source = self._source(organization, options["source"]) if options["source"] else None
        imports: list[KpiImport] = list(
            queries.kpi_imports(organization=organization, source=source)[: options["limit"]]
        )
        if options["format"] == "json":
            self.stdout.write(json.dumps([_history_item(i) for i in imports],
                                         ensure_ascii=False, indent=2))
            return
        if not imports:
            self.stdout.write(_("No KPI imports yet."))
        for item in imports:
            self.stdout.write(
                f"#{item.pk}\t{item.created_at:%Y-%m-%d %H:%M}\t{item.source.slug}\t"
                f"{item.get_channel_display()}\t{item.file_name}\t"
                f"{item.report.get('summary') or item.get_status_display()}"
            )

    def _import_drop(self, organization: Organization, source: KpiSource) -> None:
        folder = services.drop_folder(organization, source)
        results = services.kpi_drop_folder_import(organization=organization, source=source)
        if not results:
            self.stdout.write(_("No new files in %(folder)s.") % {"folder": folder})
        for result in results:
            if result.already_imported:
                self.stdout.write(
                    _("%(file)s: already imported as #%(id)s; moved to %(to)s")
                    % {"file": result.file_name, "id": result.kpi_import.pk,
                       "to": result.moved_to}
                )
            else:
                self.stdout.write(
                    f"{result.file_name}: #{result.kpi_import.pk} "
                    f"{result.kpi_import.report.get('summary', '')} → {result.moved_to}"
                )

    def _source_create(self, organization: Organization, options: dict[str, Any]) -> None:
        columns: dict[str, list[str]] = {}
        for spec in options["column"]:
            field, sep, headers = spec.partition("=")
            if not sep:
                raise CommandError(
                    _("--column %(spec)s: write FIELD=HEADER, e.g. sale_key=VIN")
                    % {"spec": spec}
                )
            columns[field.strip()] = headers.split("|")
        try:
            source = services.kpi_source_create(
                organization=organization, slug=options["slug"], name=options["name"],
                metric=options["metric"], columns=columns, date_format=options["date_format"],
                decimal_comma=not options["decimal_point"], encoding=options["encoding"],
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{f}: {' '.join(m)}" for f, m in exc.message_dict.items())
            ) from exc
        self.stdout.write(_("KPI source %(slug)s created.") % {"slug": source.slug})


def _history_item(item: KpiImport) -> dict[str, Any]:
    return {
        "id": item.pk,
        "source": item.source.slug,
        "file": item.file_name,
        "sha256": item.sha256,
        "channel": item.channel,
        "status": item.status,
        "dry_run": item.dry_run,
        "created_at": item.created_at.isoformat(),
        "finished_at": item.finished_at.isoformat() if item.finished_at else None,
        "summary": item.report.get("summary", ""),
        "counts": item.counts,
    }
