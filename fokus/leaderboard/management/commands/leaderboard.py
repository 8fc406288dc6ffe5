"""`fokus leaderboard PROGRAM --org SLUG [--track SLUG] [--period P] [--teams] --format F`."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from fokus.core.queries import organization_by_slug
from fokus.leaderboard import exports, queries


class Command(BaseCommand):
    help = "Print a program's leaderboard (people or teams) as text, JSON or CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("program", help="program slug")
        parser.add_argument("--org", required=True, help="organisation slug")
        parser.add_argument("--track", help="only this track's board (track slug)")
        parser.add_argument(
            "--period", default="program",
            help="program (default), week:YYYY-Www or day:YYYY-MM-DD",
        )
        parser.add_argument("--teams", action="store_true", help="units, by points per member")
        parser.add_argument("--limit", type=int, default=100, help="rows (default 100)")
        parser.add_argument("--offset", type=int, default=0)
        parser.add_argument("--format", choices=["text", "json", "csv"], default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_by_slug(options["org"])
        if organization is None:
            raise CommandError(_("Unknown organisation “%(slug)s”.") % {"slug": options["org"]})
        program = queries.program_for_board(organization, options["program"])
        if program is None:
            raise CommandError(
                _("Organisation “%(org)s” has no program “%(program)s”.")
                % {"org": organization.slug, "program": options["program"]}
            )
        try:
            period = queries.parse_period(options["period"])
        except queries.PeriodError as exc:
            raise CommandError(f"--period: {exc}") from None
        if options["limit"] < 1 or options["offset"] < 0:
            raise CommandError(_("--limit must be at least 1 and --offset at least 0."))
        track = None
        if options["track"]:
            track = queries.track_for_board(program, options["track"])
            if track is None:
                raise CommandError(
                    _("Program “%(program)s” has no track “%(track)s”.")
                    % {"program": program.slug, "track": options["track"]}
                )
        if options["teams"]:
            if track is not None:
                raise CommandError(_("--teams and --track cannot be combined."))
            self._print(queries.team_board(program, period), options["format"], teams=True)
        else:
            rows = queries.board(program, period, track, options["limit"], options["offset"])
            self._print(rows, options["format"], teams=False, track=track is not None)

    def _print(self, rows: list, fmt: str, *, teams: bool, track: bool = False) -> None:
        if fmt == "json":
            data = [
                exports.team_dict(r) if teams else exports.person_dict(r, track=track)
                for r in rows
            ]
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
        elif fmt == "csv":
            self.stdout.write(exports.to_csv(rows, teams=teams).removeprefix("\ufeff"), ending="")
        elif teams:
            for r in rows:
                self.stdout.write(
                    f"{r.rank:>4}  {r.unit:<30} {exports.number(r.average):>8}  "
                    + _("members %(members)s, learning %(learning)s, KPI %(kpi)s")
                    % {"members": r.members, "learning": exports.number(r.learning),
                       "kpi": exports.number(r.kpi)}
                )
        else:
            if not rows:
                self.stdout.write(_("Nobody has points in this period yet."))
            for r in rows:
                self.stdout.write(
                    f"{r.rank:>4}  {r.employee_number:<12} {r.name:<32} "
                    + _("learning %(learning)s  KPI %(kpi)s  total %(total)s")
                    % {"learning": exports.number(r.learning), "kpi": exports.number(r.kpi),
                       "total": exports.number(r.total)}
                )
