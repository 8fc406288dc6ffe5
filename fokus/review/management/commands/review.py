"""`fokus review overdue|stats`: curator turnaround from the command line.

    fokus review overdue --org alpha [--program SLUG] [--format text|json] [--now ISO]
    fokus review stats sales-marathon --org alpha [--days 30] [--format text|json]
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from fokus.core import clock
from fokus.core.models import Organization
from fokus.core.queries import organization_by_slug
from fokus.programs.models import Program
from fokus.programs.queries import program_by_slug
from fokus.review import queries


def _organization(slug: str) -> Organization:
    organization = organization_by_slug(slug)
    if organization is None:
        raise CommandError(_('Organisation "%(slug)s" does not exist.') % {"slug": slug})
    return organization


def _program(organization: Organization, slug: str) -> Program:
    program = program_by_slug(organization, slug)
    if program is None:
        raise CommandError(
            _('Organisation "%(org)s" has no program "%(slug)s".')
            % {"org": organization.slug, "slug": slug}
        )
    return program


def _now(text: str | None) -> datetime:
    if not text:
        return clock.now()
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(
            _("--now: “%(value)s” is not a date and time like 2026-11-25T12:00:00+03:00.")
            % {"value": text}
        ) from exc
    if value.tzinfo is None:
        raise CommandError(_("--now needs a time zone offset, e.g. +03:00."))
    return value


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


class Command(BaseCommand):
    help = "Curator turnaround: overdue answers and stats per program and curator."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        p = actions.add_parser("overdue", help="Answers waiting longer than the target.")
        p.add_argument("--org", required=True, help="Organisation slug.")
        p.add_argument("--program", default="", help="Only this program (slug).")
        p.add_argument("--format", choices=["text", "json"], default="text")
        p.add_argument("--now", help="Pretend it is this instant (ISO 8601 with offset).")
        p = actions.add_parser("stats", help="Turnaround of a program and its curators.")
        p.add_argument("program", help="Program slug.")
        p.add_argument("--org", required=True, help="Organisation slug.")
        p.add_argument("--days", type=int, default=30, help="Decisions of the last N days.")
        p.add_argument("--format", choices=["text", "json"], default="text")
        p.add_argument("--now", help="Pretend it is this instant (ISO 8601 with offset).")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = _organization(options["org"])
        now = _now(options.get("now"))
        if options["action"] == "overdue":
            self._overdue(organization, now, options)
        else:
            self._stats(organization, now, options)

    def _overdue(self, organization: Organization, now: datetime, options: Any) -> None:
        program = _program(organization, options["program"]) if options["program"] else None
        rows = queries.review_overdue_list(
            organization=organization, now=now, program_id=program.pk if program else None
        )
        if options["format"] == "json":
            self.stdout.write(json.dumps([
                {
                    "attempt_id": r.attempt_id, "participant": r.participant, "task": r.task,
                    "submitted_at": r.submitted_at.isoformat(),
                    "waiting_hours": round(r.waiting_hours, 2), "curator": r.curator or None,
                }
                for r in rows
            ], ensure_ascii=False, indent=2))
            return
        if not rows:
            self.stdout.write(_("No overdue answers."))
            return
        for r in rows:
            self.stdout.write(
                f"#{r.attempt_id}  {_hours(r.waiting_hours)} h  {r.participant} — {r.task}"
                + (f"  ({r.curator})" if r.curator else "")
            )

    def _stats(self, organization: Organization, now: datetime, options: Any) -> None:
        program = _program(organization, options["program"])
        if options["days"] < 1:
            raise CommandError(_("--days must be 1 or more."))
        report = queries.review_stats(
            organization=organization, program_ids=[program.pk],
            since=now - timedelta(days=options["days"]), until=now, now=now,
        )
        (p,) = report.programs
        if options["format"] == "json":
            self.stdout.write(json.dumps({
                "program": program.slug, "target_hours": p.target_hours,
                "pending": p.pending, "pending_overdue": p.pending_overdue,
                "decided": p.decided, "late": p.late,
                "median_first_feedback_hours": p.median_first_feedback,
                "revision_rounds_per_answer": p.rounds_per_submission,
                "curators": [
                    {"curator": c.name, "graded": c.graded, "returned": c.returned,
                     "late": c.late, "median_hours": c.median_hours, "pending": c.pending,
                     "pending_overdue": c.pending_overdue}
                    for c in report.curators
                ],
            }, ensure_ascii=False, indent=2))
            return
        self.stdout.write(
            f"{program.slug}: target {p.target_hours} h; pending {p.pending}, "
            f"overdue {p.pending_overdue}; decided {p.decided} ({p.late} late); "
            f"first feedback median {_hours(p.median_first_feedback)} h"
        )
        for c in report.curators:
            self.stdout.write(
                f"  {c.name}: graded {c.graded}, returned {c.returned}, late {c.late}, "
                f"median {_hours(c.median_hours)} h, holding {c.pending} "
                f"({c.pending_overdue} overdue)"
            )
