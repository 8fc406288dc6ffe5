"""Writes about people: the roster import and logins.

The roster import is all-or-nothing: every row is validated first, and one rejected
row means nothing is written (docs/roster-format.md). It is built for 100,000-person
rosters: existing people are read once into a dict, new people are inserted in
multi-row INSERTs level by level down the manager chains (so each level knows its
managers' ids), and only rows that really changed are updated.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, models, transaction
from django.utils.translation import gettext as _

from fokus.core.models import Organization
from fokus.core.timezones import canonical_time_zone
from fokus.people.models import Person, Role, Unit
from fokus.people.roster_file import (
    COLUMN_LABELS,
    COLUMNS,
    Column,
    RosterFileError,
    RosterTable,
    read_roster,
)

# Small enough for SQLite's 32,766 bound parameters and PostgreSQL's 65,535 with
# every Person column, large enough that round trips do not dominate.
BATCH_SIZE = 2000

# Role names a roster may use, in Russian and English, folded as `_fold_role` does.
ROLE_ALIASES: dict[str, str] = {
    "participant": Role.PARTICIPANT, "участник": Role.PARTICIPANT,
    "сотрудник": Role.PARTICIPANT, "слушатель": Role.PARTICIPANT,
    "supervisor": Role.SUPERVISOR, "руководитель": Role.SUPERVISOR, "старший": Role.SUPERVISOR,
    "curator": Role.CURATOR, "куратор": Role.CURATOR,
    "author": Role.AUTHOR, "методист": Role.AUTHOR, "автор": Role.AUTHOR,
    "admin": Role.ADMIN, "administrator": Role.ADMIN, "администратор": Role.ADMIN,
    "админ": Role.ADMIN,
    "viewer": Role.VIEWER, "наблюдатель": Role.VIEWER, "руководство": Role.VIEWER,
}
_ROLE_SPLIT = re.compile(r"[\s,;]+")

# A conservative subset of what Django's EmailValidator accepts, checked first because
# the full validator costs ~20 µs per address (two seconds for a 100,000-row roster).
# Addresses outside the subset (IDN, quoted parts, rare characters) go to Django's.
_PLAIN_EMAIL = re.compile(
    r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
    re.IGNORECASE | re.ASCII,
)

_MAX_LENGTHS: dict[Column, int] = {
    Column.EMPLOYEE_NUMBER: 64,
    Column.FULL_NAME: 300,
    Column.EMAIL: 254,
    Column.UNIT: 200,
    Column.CITY: 200,
    Column.POSITION: 200,
}

# Person fields a roster can set, in the order the report names them.
_PERSON_FIELDS = ("full_name", "email", "time_zone", "position", "unit", "manager", "roles")


@dataclass(slots=True)
class RejectedRow:
    row: int
    employee_number: str
    reasons: list[str]


@dataclass(slots=True)
class UpdatedPerson:
    employee_number: str
    row: int | None  # None: not in the file, but named as someone's manager
    fields: list[str]


@dataclass(slots=True)
class RosterImportReport:
    file: str
    dry_run: bool
    rows: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[UpdatedPerson] = field(default_factory=list)
    unchanged: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the file as a whole
    units_created: list[str] = field(default_factory=list)
    units_updated: list[str] = field(default_factory=list)
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors and not self.rejected

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["counts"] = {
            "rows": self.rows,
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": self.unchanged,
            "rejected": len(self.rejected),
            "units_created": len(self.units_created),
            "units_updated": len(self.units_updated),
        }
        return data


class _Existing(NamedTuple):
    id: int
    full_name: str
    email: str
    time_zone: str
    position: str
    unit_id: int | None
    manager_id: int | None
    roles: str


@dataclass(slots=True)
class _Planned:
    """What the file says about one person, after validation."""

    row: int
    number: str
    full_name: str
    email: str
    time_zone: str
    position: str
    unit: str
    city: str
    manager: str
    roles: frozenset[str] | None  # None: derived, not set by the file


def parse_roles(text: str) -> tuple[frozenset[str], list[str]]:
    """Role values from 'куратор, admin'; the second item lists names not understood."""
    roles: set[str] = set()
    unknown: list[str] = []
    for word in _ROLE_SPLIT.split(text.strip()):
        if not word:
            continue
        role = ROLE_ALIASES.get(word.casefold().replace("ё", "е"))
        if role is None:
            unknown.append(word)
        else:
            roles.add(str(role))
    return frozenset(roles), unknown


def roster_import(
    *,
    organization: Organization,
    source: str | Path | bytes,
    filename: str | None = None,
    dry_run: bool = False,
) -> RosterImportReport:
    """Validate a roster file and, unless a row is rejected or `dry_run`, apply it.

    People are matched by (organisation, employee number): new ones are created,
    changed ones updated, the rest left alone, so re-importing a file writes nothing.
    People missing from the file are not touched.
    """
    name = filename or (source.name if isinstance(source, Path) else
                        "roster" if isinstance(source, bytes) else Path(source).name)
    report = RosterImportReport(file=name, dry_run=dry_run)
    # A roster builds several objects per row and frees none until the end, so the
    # cyclic garbage collector would rescan them all again and again (a third of the
    # time of a 100,000-row import); reference counting still frees everything.
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            table = read_roster(source, name=name)
        except RosterFileError as exc:
            report.errors.append(str(exc))
            return report
        report.rows = len(table.rows)
        if dry_run:
            _plan_and_apply(organization, table, report, write=False)
        else:
            with transaction.atomic():
                _plan_and_apply(organization, table, report, write=True)
    finally:
        if collecting:
            gc.enable()
    return report


def _plan_and_apply(
    organization: Organization, table: RosterTable, report: RosterImportReport, *, write: bool
) -> None:
    existing = _existing_people(organization)
    number_of_id = {p.id: number for number, p in existing.items()}
    units: dict[str, tuple[int, str]] = {
        name: (pk, city)
        for pk, name, city in Unit.objects.filter(organization=organization).values_list(
            "id", "name", "city"
        )
    }
    unit_name_of_id = {pk: name for name, (pk, _city) in units.items()}

    planned, rejected = _validate(table, existing)
    depth = _manager_depths(planned, existing, number_of_id, rejected)
    if rejected:
        report.rejected = sorted(
            (RejectedRow(row, planned_number, reasons)
             for row, (planned_number, reasons) in rejected.items()),
            key=lambda r: r.row,
        )
        return

    columns = table.columns
    managers_in_file = {p.manager for p in planned.values() if p.manager}
    unit_cities = _unit_cities(planned.values())

    # Units: created by name, their city follows the file when the file names one.
    new_units = [n for n in unit_cities if n not in units]
    moved_units = [
        n for n, city in unit_cities.items() if n in units and city and units[n][1] != city
    ]
    report.units_created = new_units
    report.units_updated = moved_units

    has_email = Column.EMAIL in columns
    has_position = Column.POSITION in columns
    has_unit = Column.UNIT in columns
    has_manager = Column.MANAGER in columns
    new_people: list[_Planned] = []
    changes: dict[str, list[str]] = {}
    for number, plan in planned.items():
        current = existing.get(number)
        if current is None:
            new_people.append(plan)
            continue
        current_unit = unit_name_of_id.get(current.unit_id, "") if current.unit_id else ""
        current_manager = number_of_id.get(current.manager_id, "") if current.manager_id else ""
        have = (current.full_name, current.email, current.time_zone, current.position,
                current_unit, current_manager, current.roles)
        want = (
            plan.full_name,
            plan.email if has_email else current.email,
            plan.time_zone,
            plan.position if has_position else current.position,
            plan.unit if has_unit else current_unit,
            plan.manager if has_manager else current_manager,
            _roles_for_existing(plan.roles, current.roles, number in managers_in_file),
        )
        if want != have:
            changes[number] = [
                name for name, w, h in zip(_PERSON_FIELDS, want, have, strict=True) if w != h
            ]
    # Someone named as a manager but absent from the file still becomes a supervisor.
    for number in managers_in_file:
        current = existing.get(number)
        if number in planned or current is None:
            continue
        if _roles_for_existing(None, current.roles, True) != current.roles:
            changes[number] = ["roles"]

    report.created = [p.number for p in new_people]
    report.updated = [
        UpdatedPerson(number, planned[number].row if number in planned else None, fields)
        for number, fields in changes.items()
    ]
    report.unchanged = len(planned) - len(new_people) - sum(1 for n in changes if n in planned)
    if not write:
        return

    unit_ids = {name: pk for name, (pk, _city) in units.items()}
    if new_units:
        created_units = Unit.objects.bulk_create(
            [Unit(organization=organization, name=n, city=unit_cities[n]) for n in new_units],
            batch_size=BATCH_SIZE,
        )
        unit_ids.update((u.name, u.pk) for u in created_units)
    if moved_units:
        Unit.objects.bulk_update(
            [Unit(pk=units[n][0], name=n, city=unit_cities[n]) for n in moved_units],
            ["city"], batch_size=BATCH_SIZE,
        )

    # Level by level down the manager chains: each level's managers already have ids.
    levels: dict[int, list[_Planned]] = {}
    for plan in new_people:
        levels.setdefault(depth[plan.number], []).append(plan)
    id_of: dict[str, int] = {number: p.id for number, p in existing.items()}
    org_id = organization.pk
    for level in sorted(levels):
        id_of.update(_insert_people(org_id, [
            (
                org_id, p.number, p.full_name, p.email, p.time_zone, p.position,
                unit_ids[p.unit] if p.unit else None,
                id_of[p.manager] if p.manager else None,
                _roles_for_new(p.roles, p.number in managers_in_file),
            )
            for p in levels[level]
        ]))

    if changes:
        _update_existing(changes, planned, existing, id_of, unit_ids, managers_in_file)
    report.written = bool(new_people or changes or new_units or moved_units)


def _existing_people(organization: Organization) -> dict[str, _Existing]:
    """The organisation's people by employee number, read with one plain query."""
    names = ("employee_number", "id", "full_name", "email", "time_zone", "position",
             "unit", "manager", "roles")
    columns = ", ".join(_column(n) for n in names)
    table = connection.ops.quote_name(Person._meta.db_table)
    make = _Existing._make
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {table} WHERE {_column('organization')} = %s",  # noqa: S608
            [organization.pk],
        )
        return {row[0]: make(row[1:]) for row in cursor.fetchall()}


def _column(name: str) -> str:
    field = Person._meta.get_field(name)
    assert isinstance(field, models.Field) and field.column
    return connection.ops.quote_name(field.column)


_INSERTED = ("organization", "employee_number", "full_name", "email", "time_zone", "position",
             "unit", "manager", "roles")


def _insert_people(organization_id: int, rows: list[tuple[Any, ...]]) -> list[tuple[str, int]]:
    """Insert people (values in _INSERTED order); returns their (employee number, id).

    Not bulk_create: building and compiling model instances costs ~200 µs a row, four
    times the whole budget of the 20,000 rows/s target. PostgreSQL gets COPY, SQLite a
    prepared statement run by executemany; columns the roster does not set get their
    model defaults. The new ids are read back as the organisation's ids above the
    largest id before the insert: ids only grow, and a row someone else adds meanwhile
    is mapped to its own employee number, so it does no harm.
    """
    meta = Person._meta
    rest = [f for f in meta.concrete_fields if not f.primary_key and f.name not in _INSERTED]
    constants = tuple(f.get_db_prep_save(f.get_default(), connection) for f in rest)
    table = connection.ops.quote_name(meta.db_table)
    columns = ", ".join([*(_column(n) for n in _INSERTED), *(_column(f.name) for f in rest)])
    pk = _column("id")
    number_column = _column("employee_number")
    org_column = _column("organization")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX({pk}) FROM {table}")  # noqa: S608 (names from the model)
        floor = cursor.fetchone()[0] or 0
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((*row, *constants))
        else:
            placeholders = ", ".join(["%s"] * (len(_INSERTED) + len(rest)))
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({placeholders})",  # noqa: S608
                [(*row, *constants) for row in rows],
            )
        cursor.execute(
            f"SELECT {number_column}, {pk} FROM {table} "  # noqa: S608
            f"WHERE {org_column} = %s AND {pk} > %s",
            [organization_id, floor],
        )
        return cursor.fetchall()


def _validate(
    table: RosterTable, existing: dict[str, _Existing]
) -> tuple[dict[str, _Planned], dict[int, tuple[str, list[str]]]]:
    columns = table.columns
    has_roles = Column.ROLES in columns
    planned: dict[str, _Planned] = {}
    rejected: dict[int, tuple[str, list[str]]] = {}
    unit_city_row: dict[str, tuple[str, int]] = {}
    zones: dict[str, str] = {}
    long_rows = _rows_with_long_values(table)

    plain_email = _PLAIN_EMAIL.fullmatch
    # The hot loop of a 100,000-row import: cheap checks inline, messages only on failure.
    for row_number, values in table.rows:
        reasons = _validate_lengths(values) if row_number in long_rows else []
        number, full_name, email, unit, city, zone_text, position, manager, roles_text = values
        if not number:
            reasons.append(_("the employee number is empty"))
        elif number in planned:
            reasons.append(
                _("employee number %(number)s is already in row %(row)s")
                % {"number": number, "row": planned[number].row}
            )
        if not full_name:
            reasons.append(_("the full name is empty"))
        if email and not (len(email) <= 254 and plain_email(email)) and not _is_email(email):
            reasons.append(_("e-mail “%(email)s” is not an e-mail address") % {"email": email})
        if not zone_text:
            reasons.append(_("the time zone is empty"))
            time_zone = ""
        else:
            known_zone = zones.get(zone_text)
            if known_zone is None:
                known_zone = zones[zone_text] = canonical_time_zone(zone_text) or ""
            time_zone = known_zone
            if not time_zone:
                reasons.append(
                    _("time zone “%(zone)s” is not an IANA time zone name (like Europe/Moscow)")
                    % {"zone": zone_text}
                )
        if manager and manager == number:
            reasons.append(_("a person cannot be their own manager"))
        if unit and city:
            seen = unit_city_row.get(unit)
            if seen is None:
                unit_city_row[unit] = (city, row_number)
            elif seen[0] != city:
                reasons.append(
                    _("unit “%(unit)s” is in city “%(city)s” in row %(row)s, not “%(other)s”")
                    % {"unit": unit, "city": seen[0], "row": seen[1], "other": city}
                )
        roles: frozenset[str] | None = None
        if has_roles and roles_text:
            roles, unknown = parse_roles(roles_text)
            if unknown:
                reasons.append(
                    _("unknown role “%(role)s” (known: %(known)s)")
                    % {"role": ", ".join(unknown),
                       "known": "participant, supervisor, curator, author, admin, viewer"}
                )
        if reasons:
            rejected[row_number] = (number, reasons)
        if number and number not in planned:
            planned[number] = _Planned(
                row_number, number, full_name, email, time_zone, position, unit, city, manager,
                roles,
            )

    for plan in planned.values():
        manager = plan.manager
        known = manager in planned or manager in existing
        if manager and manager != plan.number and not known:
            rejected.setdefault(plan.row, (plan.number, []))[1].append(
                _("manager %(manager)s is neither in this file nor in the organisation")
                % {"manager": plan.manager}
            )
    return planned, rejected


def _is_email(text: str) -> bool:
    if len(text) <= 254 and _PLAIN_EMAIL.fullmatch(text):
        return True
    try:
        validate_email(text)
    except ValidationError:
        return False
    return True


def _rows_with_long_values(table: RosterTable) -> set[int]:
    # Column by column with C-level max(): nearly every file has no long value at all.
    long_rows: set[int] = set()
    for column, limit in _MAX_LENGTHS.items():
        values = list(map(itemgetter(COLUMNS.index(column)), map(itemgetter(1), table.rows)))
        if values and max(map(len, values)) > limit:
            long_rows.update(
                r.number for r, v in zip(table.rows, values, strict=True) if len(v) > limit
            )
    return long_rows


def _validate_lengths(values: tuple[str, ...]) -> list[str]:
    reasons = []
    for column, limit in _MAX_LENGTHS.items():
        value = values[COLUMNS.index(column)]
        if len(value) > limit:
            reasons.append(
                _("%(column)s is longer than %(limit)s characters")
                % {"column": COLUMN_LABELS[column], "limit": limit}
            )
    return reasons


def _manager_depths(
    planned: dict[str, _Planned],
    existing: dict[str, _Existing],
    number_of_id: dict[int, str],
    rejected: dict[int, tuple[str, list[str]]],
) -> dict[str, int]:
    """Each person's distance from the top of their manager chain; rejects cycles.

    Chains follow the file first, then the database for people the file does not
    name, so a cycle closed through someone already in the organisation is found too.
    Inserting by increasing depth means every manager exists before their reports.
    """

    def manager_of(number: str) -> str:
        plan = planned.get(number)
        if plan is not None:
            # A self-manager is reported on its own; it is not also a cycle.
            manager = plan.manager
            known = manager in planned or manager in existing
            return manager if known and manager != number else ""
        current = existing.get(number)
        if current is None or current.manager_id is None:
            return ""
        return number_of_id.get(current.manager_id, "")

    depth: dict[str, int] = {}
    for start in planned:
        if start in depth:
            continue
        path: list[str] = []
        on_path: dict[str, int] = {}
        number = start
        while number and number not in depth:
            if number in on_path:
                cycle = [*path[on_path[number]:], number]
                chain = " → ".join(cycle)
                for member in cycle[:-1]:
                    if member in planned:
                        plan = planned[member]
                        rejected.setdefault(plan.row, (member, []))[1].append(
                            _("the manager chain is a cycle: %(chain)s") % {"chain": chain}
                        )
                        depth[member] = 0
                path = path[:on_path[number]]
                number = ""
                break
            on_path[number] = len(path)
            path.append(number)
            number = manager_of(number)
        below = depth[number] if number else -1
        for member in reversed(path):
            below += 1
            depth[member] = below
    return depth


def _unit_cities(plans: Iterable[_Planned]) -> dict[str, str]:
    """Unit name -> city, the first city the file gives for it ("" when none)."""
    cities: dict[str, str] = {}
    for plan in plans:
        if plan.unit and not cities.get(plan.unit):
            cities[plan.unit] = plan.city
    return cities


_PARTICIPANT = Person.roles_to_text({Role.PARTICIPANT})
_PARTICIPANT_SUPERVISOR = Person.roles_to_text({Role.PARTICIPANT, Role.SUPERVISOR})


def _roles_for_new(roles: frozenset[str] | None, is_manager: bool) -> str:
    if roles is not None:
        return Person.roles_to_text(roles)
    return _PARTICIPANT_SUPERVISOR if is_manager else _PARTICIPANT


def _roles_for_existing(roles: frozenset[str] | None, current: str, is_manager: bool) -> str:
    """Roles the file sets, else the current ones, plus supervisor for a manager.

    Current roles are returned as stored when nothing is added, so an unusual but
    harmless spelling in the database never counts as a change.
    """
    if roles is not None:
        return Person.roles_to_text(roles)
    if not is_manager or Role.SUPERVISOR in current.split(","):
        return current
    return Person.roles_to_text({r for r in current.split(",") if r} | {str(Role.SUPERVISOR)})


def _update_existing(
    changes: dict[str, list[str]],
    planned: dict[str, _Planned],
    existing: dict[str, _Existing],
    id_of: dict[str, int],
    unit_ids: dict[str, int],
    managers_in_file: set[str],
) -> None:
    people: list[Person] = []
    for number, changed in changes.items():
        current = existing[number]
        person = Person(pk=current.id)
        plan = planned.get(number)
        for name in changed:
            if name == "roles":
                person.roles = _roles_for_existing(
                    plan.roles if plan is not None else None,
                    current.roles,
                    number in managers_in_file,
                )
            elif plan is None:
                continue
            elif name == "unit":
                person.unit_id = unit_ids[plan.unit] if plan.unit else None
            elif name == "manager":
                person.manager_id = id_of[plan.manager] if plan.manager else None
            else:
                setattr(person, name, getattr(plan, name))
        people.append(person)
    # One bulk_update per set of changed fields keeps each UPDATE to the columns it needs.
    by_fields: dict[tuple[str, ...], list[Person]] = {}
    for person, changed in zip(people, changes.values(), strict=True):
        by_fields.setdefault(tuple(f for f in _PERSON_FIELDS if f in changed), []).append(person)
    for field_names, group in by_fields.items():
        Person.objects.bulk_update(
            group, [f if f not in {"unit", "manager"} else f"{f}_id" for f in field_names],
            batch_size=BATCH_SIZE // 4,
        )


@transaction.atomic
def person_grant_login(*, person: Person, username: str, password: str) -> User:
    """Create or update the Django user of `person` so they can sign in."""
    user_model = get_user_model()
    others = user_model._default_manager.filter(username=username)
    if person.user_id is not None:
        others = others.exclude(pk=person.user_id)
    if others.exists():
        raise ValidationError(
            {"username": _("The login “%(username)s” is already taken.") % {"username": username}}
        )
    user = person.user if person.user_id is not None else user_model(username=username)
    assert isinstance(user, User)  # Fokus uses Django's own user model
    user.username = username
    user.email = person.email
    user.first_name = person.full_name[:150]
    user.is_active = True
    user.set_password(password)
    user.save()
    if person.user_id != user.pk:
        person.user = user
        person.save(update_fields=["user"])
    return user
