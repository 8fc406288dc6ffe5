"""`fokus scoring rules|set-rules|bonus|ledger`: scoring rules, bonuses and the ledger."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from fokus.core.models import Organization
from fokus.core.queries import organization_by_slug
from fokus.people.models import Person
from fokus.people.queries import person_by_employee_number
from fokus.programs.models import Program
from fokus.programs.queries import program_by_slug
from fokus.scoring import queries
from fokus.scoring.guarantee import ShareReport, points_text
from fokus.scoring.rules_file import RulesFileError, dump_rules, parse_rules_text, save_arguments
from fokus.scoring.services import (
    BonusRefused,
    RulesRejected,
    bonus_award,
    scoring_rules_save,
)


def _organization(slug: str) -> Organization:
    organization = organization_by_slug(slug)
    if organization is None:
        raise CommandError(_('Unknown organisation "%(slug)s".') % {"slug": slug})
    return organization


def _program(organization: Organization, slug: str) -> Program:
    program = program_by_slug(organization, slug)
    if program is None:
        raise CommandError(
            _('Organisation "%(org)s" has no program "%(slug)s".')
            % {"org": organization.slug, "slug": slug}
        )
    return program


def _person(organization: Organization, number: str, option: str) -> Person:
    person = person_by_employee_number(organization=organization, employee_number=number)
    if person is None:
        raise CommandError(
            _('%(option)s: organisation "%(org)s" has no employee number "%(number)s".')
            % {"option": option, "org": organization.slug, "number": number}
        )
    return person


def _dump(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def report_lines(report: ShareReport) -> list[str]:
    lines = [
        _("Minimum learning share: %(min)s%%; KPI and bonus days: %(days)s.")
        % {"min": points_text(report.min_share * 100), "days": report.days}
    ]
    for item in report.tracks:
        kpi = _("unbounded") if item.max_kpi is None else points_text(item.max_kpi)
        share = "—" if item.share is None else f"{points_text(item.share * 100)}%"
        lines.append(
            _("  %(track)s: %(tasks)s tasks, %(people)s participants; learning up to "
              "%(learning)s, KPI up to %(kpi)s, bonus up to %(bonus)s; learning share %(share)s "
              "%(verdict)s")
            % {
                "track": item.track.slug,
                "tasks": item.track.tasks,
                "people": item.track.participants,
                "learning": points_text(item.track.max_learning),
                "kpi": kpi,
                "bonus": points_text(item.max_bonus),
                "share": share,
                "verdict": _("(holds)") if item.holds else _("(BROKEN)"),
            }
        )
    if report.holds:
        lines.append(_("The learning-first guarantee holds."))
    else:
        lines.append(report.explanation)
        lines.extend(report.suggestions)
    return lines


class Command(BaseCommand):
    help = "Scoring rules with the learning-first guarantee, bonuses and the points ledger."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        p = actions.add_parser("rules", help="Show a program's scoring rules and share report.")
        p.add_argument("program", metavar="PROGRAM")
        p.add_argument("--org", required=True, metavar="SLUG")
        p.add_argument("--format", choices=["text", "json", "yaml"], default="text")

        p = actions.add_parser("set-rules", help="Replace the rules from a YAML file.")
        p.add_argument("program", metavar="PROGRAM")
        p.add_argument("--org", required=True, metavar="SLUG")
        p.add_argument("--file", required=True, metavar="FILE")

        p = actions.add_parser("bonus", help="Award a bonus (as a manager or admin).")
        p.add_argument("program", metavar="PROGRAM")
        p.add_argument("--org", required=True, metavar="SLUG")
        p.add_argument("--to", required=True, metavar="EMPLOYEE_NUMBER")
        p.add_argument("--points", required=True, metavar="N")
        p.add_argument("--reason", required=True, metavar="TEXT")
        p.add_argument("--by", required=True, metavar="EMPLOYEE_NUMBER")
        p.add_argument("--key", metavar="KEY",
                       help="An id for this award: repeating the command with it awards once.")

        p = actions.add_parser("ledger", help="Entries of a person, or totals per person.")
        p.add_argument("program", metavar="PROGRAM")
        p.add_argument("--org", required=True, metavar="SLUG")
        p.add_argument("--person", metavar="EMPLOYEE_NUMBER")
        p.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = _organization(options["org"])
        program = _program(organization, options["program"])
        action = options["action"]
        if action == "rules":
            self._rules(program, options["format"])
        elif action == "set-rules":
            self._set_rules(program, options["file"])
        elif action == "bonus":
            self._bonus(organization, program, options)
        else:
            self._ledger(organization, program, options.get("person"), options["format"])

    def _rules(self, program: Program, fmt: str) -> None:
        rules = queries.scoring_rules_for(program)
        report = queries.learning_share_report(program)
        if fmt == "json":
            self.stdout.write(_dump({
                "program": program.slug,
                "rules": queries.rules_as_data(rules),
                "share_report": queries.share_report_data(report),
            }))
        elif fmt == "yaml":
            self.stdout.write(dump_rules(rules), ending="")
        else:
            self.stdout.write(dump_rules(rules), ending="")
            self.stdout.write("\n".join(report_lines(report)))

    def _set_rules(self, program: Program, path: str) -> None:
        try:
            with open(path, encoding="utf-8-sig") as handle:
                text = handle.read()
        except OSError as exc:
            raise CommandError(
                _("%(file)s: cannot read the file: %(error)s")
                % {"file": path, "error": exc.strerror or exc}
            ) from exc
        except UnicodeDecodeError as exc:
            raise CommandError(
                _("%(file)s: not UTF-8 text (byte %(pos)d).") % {"file": path, "pos": exc.start}
            ) from exc
        try:
            parsed = parse_rules_text(text, path)
            rules = scoring_rules_save(
                program=program, **save_arguments(parsed, queries.scoring_rules_for(program))
            )
        except RulesFileError as exc:
            raise CommandError("\n".join(exc.problems)) from exc
        except RulesRejected as exc:
            lines = [
                f"{parsed.where(field)}: {message}" if field else message
                for field, message in exc.problems
            ]
            raise CommandError(
                _("The rules were not saved.") + "\n" + "\n".join(lines)
            ) from exc
        self.stdout.write(
            _('Saved the scoring rules of "%(program)s".') % {"program": program.slug}
        )
        self.stdout.write("\n".join(report_lines(queries.learning_share_report(rules.program))))

    def _bonus(self, organization: Organization, program: Program, options: dict[str, Any]) -> None:
        person = _person(organization, options["to"], "--to")
        awarder = _person(organization, options["by"], "--by")
        try:
            points = Decimal(str(options["points"]).replace(",", "."))
        except InvalidOperation:
            raise CommandError(
                _("--points: “%(value)s” is not a number.") % {"value": options["points"]}
            ) from None
        try:
            entry = bonus_award(
                program=program, person=person, amount=points, reason=options["reason"],
                awarded_by=awarder, request_key=options.get("key"),
            )
        except BonusRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            _("%(person)s: +%(points)s bonus points (entry %(id)s).")
            % {"person": person, "points": points_text(entry.amount), "id": entry.pk}
        )

    def _ledger(self, organization: Organization, program: Program, number: str | None,
                fmt: str) -> None:
        if number:
            person = _person(organization, number, "--person")
            rows = queries.ledger_entries(program, person)
            totals = queries.person_totals(program, person)
            if fmt == "json":
                self.stdout.write(_dump({
                    "program": program.slug,
                    "person": {"employee_number": person.employee_number,
                               "full_name": person.full_name},
                    "totals": totals.as_data(),
                    "entries": [queries.ledger_row_data(r) for r in rows],
                }))
                return
            for row in rows:
                e = row.entry
                self.stdout.write(
                    f"{e.pk:>6} {e.occurred_on:%Y-%m-%d} {e.source:<9} {e.amount:>8} "
                    f"{row.running_total:>9}  {e.reason}"
                )
            self.stdout.write(_("Total: %(total)s") % {"total": totals.total})
            return
        totals_by_person = queries.ledger_totals(program)
        people = {
            p.pk: p for p in Person.objects.filter(
                organization=organization, pk__in=list(totals_by_person)
            )
        }
        data = [
            {"employee_number": people[pid].employee_number,
             "full_name": people[pid].full_name, **totals.as_data()}
            for pid, totals in sorted(totals_by_person.items(),
                                      key=lambda item: people[item[0]].employee_number)
        ]
        if fmt == "json":
            self.stdout.write(_dump({"program": program.slug, "people": data}))
            return
        for line in data:
            self.stdout.write(
                f"{line['employee_number']:<12} {line['learning']:>8} {line['kpi']:>8} "
                f"{line['bonus']:>8} {line['other']:>8} {line['total']:>9}  {line['full_name']}"
            )
