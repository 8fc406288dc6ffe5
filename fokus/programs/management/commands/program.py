"""`fokus program import|export|enroll|show`: the program matrix and enrollment from scripts."""

from __future__ import annotations

import json
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from fokus.core.models import Organization
from fokus.core.queries import organization_by_slug
from fokus.programs.matrix import MatrixError
from fokus.programs.models import Program
from fokus.programs.queries import (
    people_by_employee_numbers,
    program_by_slug,
    program_matrix_text,
    program_show,
    program_track,
)
from fokus.programs.services import ProgramImportError, program_enroll, program_import


def organization_or_error(slug: str) -> Organization:
    organization = organization_by_slug(slug)
    if organization is None:
        raise CommandError(_('Unknown organisation "%(slug)s".') % {"slug": slug})
    return organization


def program_or_error(organization: Organization, slug: str) -> Program:
    program = program_by_slug(organization, slug)
    if program is None:
        raise CommandError(
            _('Organisation "%(org)s" has no program "%(slug)s".')
            % {"org": organization.slug, "slug": slug}
        )
    return program


def dump_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


class Command(BaseCommand):
    help = "Import, export, show a program matrix and enrol people into its tracks."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        p = actions.add_parser("import", help="Create or update a program from a matrix file.")
        p.add_argument("file", metavar="FILE")
        p.add_argument("--org", required=True, metavar="SLUG")

        p = actions.add_parser("export", help="Write a program's matrix file (canonical YAML).")
        p.add_argument("program", metavar="PROGRAM")
        p.add_argument("--org", required=True, metavar="SLUG")
        p.add_argument("--output", metavar="FILE", help="Write to FILE instead of stdout.")

        p = actions.add_parser("enroll", help="Enrol people into a track by employee number.")
        p.add_argument("program", metavar="PROGRAM")
        p.add_argument("numbers", nargs="+", metavar="EMPLOYEE_NUMBER")
        p.add_argument("--org", required=True, metavar="SLUG")
        p.add_argument("--track", required=True, metavar="TRACK")
        p.add_argument(
            "--with-supervisors",
            action="store_true",
            help="Also enrol their direct managers into the tracks that follow TRACK.",
        )

        p = actions.add_parser("show", help="Tracks, learning days, slots and content.")
        p.add_argument("program", metavar="PROGRAM")
        p.add_argument("--org", required=True, metavar="SLUG")
        p.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_or_error(options["org"])
        action = options["action"]
        if action == "import":
            self._import(organization, options["file"])
        elif action == "export":
            self._export(organization, options["program"], options.get("output"))
        elif action == "enroll":
            self._enroll(organization, options)
        else:
            self._show(organization, options["program"], options["format"])

    def _import(self, organization: Organization, path: str) -> None:
        try:
            with open(path, "rb") as handle:
                raw = handle.read()
        except OSError as exc:
            raise CommandError(
                _("%(file)s: cannot read the file: %(error)s")
                % {"file": path, "error": exc.strerror or exc}
            ) from exc
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CommandError(
                _("%(file)s: not UTF-8 text (byte %(pos)d); save the matrix as UTF-8.")
                % {"file": path, "pos": exc.start}
            ) from exc
        source = os.path.basename(path)
        try:
            program = program_import(organization=organization, text=text, source_name=source)
        except (MatrixError, ProgramImportError) as exc:
            raise CommandError(str(exc)) from exc
        show = program_show(program)
        summary = {
            "slug": program.slug,
            "title": program.title,
            "tracks": [
                {"slug": t["slug"], "title": t["title"], "follows": t["follows"]}
                for t in show["tracks"]
            ],
            "learning_days": [
                {"index": d["index"], "date": d["date"]} for d in show["tracks"][0]["days"]
            ]
            if show["tracks"]
            else [],
            "slots": show["slots"],
            "counts": {
                "tracks": len(show["tracks"]),
                "learning_days": len(show["tracks"][0]["days"]) if show["tracks"] else 0,
                "materials": sum(
                    len(s["materials"])
                    for t in show["tracks"]
                    for d in t["days"]
                    for s in d["slots"]
                ),
                "tasks": sum(
                    len(s["tasks"]) for t in show["tracks"] for d in t["days"] for s in d["slots"]
                ),
            },
        }
        self.stdout.write(dump_json(summary))

    def _export(self, organization: Organization, slug: str, output: str | None) -> None:
        text = program_matrix_text(program_or_error(organization, slug))
        if output:
            try:
                with open(output, "w", encoding="utf-8", newline="\n") as handle:
                    handle.write(text)
            except OSError as exc:
                raise CommandError(
                    _("%(file)s: cannot write the file: %(error)s")
                    % {"file": output, "error": exc.strerror or exc}
                ) from exc
        else:
            self.stdout.write(text, ending="")

    def _enroll(self, organization: Organization, options: dict[str, Any]) -> None:
        program = program_or_error(organization, options["program"])
        track = program_track(program, options["track"])
        if track is None:
            known = ", ".join(program.tracks.order_by("position").values_list("slug", flat=True))
            raise CommandError(
                _('Program "%(program)s" has no track "%(track)s"; its tracks: %(known)s.')
                % {"program": program.slug, "track": options["track"], "known": known}
            )
        numbers = list(dict.fromkeys(n.strip() for n in options["numbers"] if n.strip()))
        people = people_by_employee_numbers(organization, numbers)
        unknown = [n for n in numbers if n not in people]
        if unknown:
            raise CommandError(
                _("Unknown employee numbers in %(org)s: %(numbers)s. Nothing was enrolled.")
                % {"org": organization.slug, "numbers": ", ".join(unknown)}
            )
        report = program_enroll(
            program=program,
            track=track,
            people=[people[n] for n in numbers],
            with_supervisors=options["with_supervisors"],
        )
        result: dict[str, Any] = {
            "program": program.slug,
            "track": track.slug,
            "enrolled": [p.employee_number for p in report.enrolled],
            "already_enrolled": [p.employee_number for p in report.already_enrolled],
        }
        if options["with_supervisors"]:
            result["supervisors"] = {
                slug: {
                    "enrolled": [p.employee_number for p in enrolled],
                    "already_enrolled": [p.employee_number for p in already],
                }
                for slug, (enrolled, already) in report.supervisors.items()
            }
        self.stdout.write(dump_json(result))

    def _show(self, organization: Organization, slug: str, fmt: str) -> None:
        data = program_show(program_or_error(organization, slug))
        if fmt == "json":
            self.stdout.write(dump_json(data))
            return
        lines = [
            f"{data['title']} ({data['slug']}): {data['starts_on']} – {data['ends_on']}, "
            + ", ".join(data["learning_weekdays"])
        ]
        for track in data["tracks"]:
            header = f"\n{_('Track')} {track['slug']}: {track['title']}"
            if track["follows"]:
                header += " " + _("(follows %(slug)s)") % {"slug": track["follows"]}
            lines.append(header)
            for day in track["days"]:
                lines.append(f"  {_('Day')} {day['index']} · {day['date']}")
                for slot in day["slots"]:
                    lines.append(f"    {slot['local_time']} {slot['kind']}")
                    for m in slot["materials"]:
                        lines.append(f"      📖 {m['title']} ({m['minutes']} {_('min')})")
                    for t in slot["tasks"]:
                        kinds = ", ".join(t["answer_kinds"])
                        lines.append(f"      ✍ {t['title']} [{kinds}; 1–{t['grade_max']}]")
        self.stdout.write("\n".join(lines))
