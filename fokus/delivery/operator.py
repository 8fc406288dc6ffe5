"""Reads and writes behind the operator views: the delivery log, drop progress, resend.

A *drop* is every row of one program (or none) and one contact point: all
participants' "10:00" lesson of a day, one announcement, one evening digest. Its
progress counts the rows by status and projects the completion time linearly from the
`sent_at` of the rows already sent (docs/delivery.md, "Operator views").

Resending never creates a row (the outbox is unique per person, contact point and
channel): a failed or skipped row goes back to PLANNED, due now, its attempts kept, and
its `error` keeps the history with a line naming who resent it and when.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Max, Min, Q, QuerySet, Value
from django.db.models.functions import Concat

from fokus.core import clock
from fokus.core.models import Organization
from fokus.delivery.models import Delivery, DeliveryKind, DeliveryStatus
from fokus.people.models import Person, Role
from fokus.programs.models import Program

logger = logging.getLogger(__name__)

RESENDABLE = (DeliveryStatus.FAILED, DeliveryStatus.SKIPPED)
_CLOCK_TAIL = re.compile(r"(?:^|:)(\d{1,2}:\d{2})$")


def person_may_view_deliveries(person: Person | None) -> bool:
    """Admins run the outbox; viewers may look at it."""
    return person is not None and (person.has_role(Role.ADMIN) or person.has_role(Role.VIEWER))


def person_may_resend(person: Person | None) -> bool:
    return person is not None and person.has_role(Role.ADMIN)


# --- the log --------------------------------------------------------------------------


@dataclass(frozen=True)
class LogFilters:
    """What the delivery log is narrowed to; empty strings mean "any"."""

    person: str = ""  # employee number or part of the name
    program: str = ""  # program slug
    status: str = ""
    kind: str = ""
    channel: str = ""
    contact_point: str = ""
    # Local dates in the viewer's zone, turned into UTC bounds by the caller.
    due_from: dt.datetime | None = None
    due_until: dt.datetime | None = None


def delivery_log(*, organization: Organization, filters: LogFilters) -> QuerySet[Delivery]:
    """The organisation's deliveries, newest due first, narrowed by `filters`."""
    rows = Delivery.objects.filter(organization=organization).select_related("person", "program")
    if filters.person:
        # People first, then their rows: a semi-join the planner drives from the
        # (usually few) matching people instead of scanning the outbox.
        people = Person.objects.filter(organization=organization).filter(
            Q(employee_number=filters.person) | Q(full_name__icontains=filters.person)
        )
        rows = rows.filter(person__in=people.values("pk"))
    if filters.program:
        rows = rows.filter(program__slug=filters.program)
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    if filters.channel:
        rows = rows.filter(channel=filters.channel)
    if filters.contact_point:
        rows = rows.filter(contact_point=filters.contact_point)
    if filters.due_from is not None:
        rows = rows.filter(due_at__gte=filters.due_from)
    if filters.due_until is not None:
        rows = rows.filter(due_at__lt=filters.due_until)
    return rows.order_by("-due_at", "-pk")


def deliveries_in_order(*, organization: Organization, ids: list[int]) -> list[Delivery]:
    """The rows of one page, with person and program, in the order of `ids`.

    Pages are cut from the ids alone (`rows.values_list("pk")`): sorting 100,000 narrow
    rows is cheap, joining all of them to people before the sort was not."""
    found = Delivery.objects.select_related("person", "program").filter(
        organization=organization, pk__in=ids
    )
    by_id = {row.pk: row for row in found}
    return [by_id[i] for i in ids if i in by_id]


def delivery_for_operator(*, organization: Organization, delivery_id: int) -> Delivery | None:
    return (
        Delivery.objects.select_related("person", "program")
        .filter(organization=organization, pk=delivery_id)
        .first()
    )


def programs_for_filter(*, organization: Organization) -> list[Program]:
    return list(Program.objects.filter(organization=organization).order_by("slug"))


# --- drop progress ------------------------------------------------------------------


def projected_completion(
    *, first_sent: dt.datetime | None, last_sent: dt.datetime | None, sent: int, remaining: int
) -> dt.datetime | None:
    """When the drop's last row will be sent at the rate observed so far.

    The rate is (sent - 1) / (last_sent - first_sent): n sends span n - 1 intervals.
    Nothing remaining: the drop finished with its last send. Fewer than two sends or
    all in the same instant: no rate yet, no projection.
    """
    if remaining <= 0:
        return last_sent
    if first_sent is None or last_sent is None or sent < 2:
        return None
    span = (last_sent - first_sent).total_seconds()
    if span <= 0:
        return None
    per_second = (sent - 1) / span
    return last_sent + dt.timedelta(seconds=remaining / per_second)


@dataclass(frozen=True)
class DropProgress:
    program: Program | None
    contact_point: str
    kind: str
    first_due: dt.datetime
    total: int
    planned: int
    sending: int
    sent: int
    failed: int
    skipped: int
    first_sent: dt.datetime | None
    last_sent: dt.datetime | None

    @property
    def remaining(self) -> int:
        return self.planned + self.sending

    @property
    def projected_completion(self) -> dt.datetime | None:
        return projected_completion(
            first_sent=self.first_sent, last_sent=self.last_sent,
            sent=self.sent, remaining=self.remaining,
        )

    @property
    def is_complete(self) -> bool:
        return self.remaining == 0

    @property
    def kind_label(self) -> str:
        return str(DeliveryKind(self.kind).label) if self.kind in DeliveryKind.values else self.kind

    @property
    def local_clock(self) -> str:
        """The wall-clock time in the contact point ("10:00" of a lesson), if it has one."""
        match = _CLOCK_TAIL.search(self.contact_point)
        return match.group(1) if match else ""

    @property
    def percent_sent(self) -> int:
        return int(100 * self.sent / self.total) if self.total else 0


def drop_progress(
    *,
    organization: Organization,
    due_from: dt.datetime,
    due_until: dt.datetime,
    program: Program | None = None,
) -> list[DropProgress]:
    """Every drop with a row due in [due_from, due_until), earliest first.

    One aggregate query: rows grouped by program and contact point, counted per status.
    """
    rows = Delivery.objects.filter(
        organization=organization, due_at__gte=due_from, due_at__lt=due_until
    )
    if program is not None:
        rows = rows.filter(program=program)
    return _drops(organization, rows)


def _drops(organization: Organization, rows: QuerySet[Delivery]) -> list[DropProgress]:
    sent_filter = Q(status=DeliveryStatus.SENT)
    groups = (
        rows.values("program_id", "contact_point")
        .annotate(
            kind=Min("kind"),
            first_due=Min("due_at"),
            total=Count("pk"),
            planned=Count("pk", filter=Q(status=DeliveryStatus.PLANNED)),
            sending=Count("pk", filter=Q(status=DeliveryStatus.SENDING)),
            sent=Count("pk", filter=sent_filter),
            failed=Count("pk", filter=Q(status=DeliveryStatus.FAILED)),
            skipped=Count("pk", filter=Q(status=DeliveryStatus.SKIPPED)),
            first_sent=Min("sent_at", filter=sent_filter),
            last_sent=Max("sent_at", filter=sent_filter),
        )
        .order_by("first_due", "contact_point")
    )
    programs = {p.pk: p for p in Program.objects.filter(organization=organization)}
    return [
        DropProgress(
            program=programs.get(group["program_id"]) if group["program_id"] else None,
            contact_point=group["contact_point"],
            kind=group["kind"],
            first_due=group["first_due"],
            total=group["total"],
            planned=group["planned"],
            sending=group["sending"],
            sent=group["sent"],
            failed=group["failed"],
            skipped=group["skipped"],
            first_sent=group["first_sent"],
            last_sent=group["last_sent"],
        )
        for group in groups
    ]


def drop_progress_of(*, organization: Organization, contact_point: str) -> DropProgress | None:
    """The progress of one drop by its contact point (e.g. an announcement's)."""
    rows = Delivery.objects.filter(organization=organization, contact_point=contact_point)
    drops = _drops(organization, rows)
    return drops[0] if drops else None


def failures(
    *, organization: Organization, program: Program | None = None, contact_point: str = ""
) -> QuerySet[Delivery]:
    """Failed rows with their reasons, the most recent first."""
    rows = Delivery.objects.filter(
        organization=organization, status=DeliveryStatus.FAILED
    ).select_related("person", "program")
    if program is not None:
        rows = rows.filter(program=program)
    if contact_point:
        rows = rows.filter(contact_point=contact_point)
    return rows.order_by("-due_at", "-pk")


def failure_reasons(
    *, organization: Organization, program: Program | None = None, contact_point: str = ""
) -> list[dict[str, Any]]:
    """Failed rows counted by their error text, the most common first."""
    rows = failures(organization=organization, program=program, contact_point=contact_point)
    grouped = (
        rows.order_by().values("error").annotate(count=Count("pk")).order_by("-count", "error")
    )
    return [{"error": g["error"], "count": g["count"]} for g in grouped[:20]]


# --- resend -------------------------------------------------------------------------


def _audit_line(by: Person, now: dt.datetime) -> str:
    # Not translated: the error column is an operator's log, read in any language.
    return f"[resent by {by.full_name} ({by.employee_number}) at {now:%Y-%m-%d %H:%M} UTC]"


def _resend_rows(rows: QuerySet[Delivery], by: Person) -> int:
    now = clock.now()
    line = _audit_line(by, now)
    return rows.filter(status__in=RESENDABLE).update(
        status=DeliveryStatus.PLANNED,
        due_at=now,
        next_attempt_at=None,
        claimed_at=None,
        claimed_by="",
        error=Concat(F("error"), Value("\n" + line)),
    )


@transaction.atomic
def delivery_resend(delivery: Delivery, by: Person) -> bool:
    """Put a failed or skipped row back into the outbox, due now; attempts are kept.

    A conditional UPDATE, so a row a worker is sending (or that another operator resent
    a moment ago) is left alone. Returns whether the row was resent.
    """
    if by.organization_id != delivery.organization_id:
        raise ValueError("an operator resends only their own organisation's deliveries")
    changed = _resend_rows(Delivery.objects.filter(pk=delivery.pk), by)
    if changed:
        logger.info("delivery %s resent by person %s", delivery.pk, by.pk)
        delivery.refresh_from_db()
    return bool(changed)


@transaction.atomic
def delivery_resend_failed(
    *, organization: Organization, program: Program | None, contact_point: str, by: Person
) -> int:
    """Resend every failed row of one drop; returns how many went back to the outbox."""
    if by.organization_id != organization.pk:
        raise ValueError("an operator resends only their own organisation's deliveries")
    rows = Delivery.objects.filter(
        organization=organization, contact_point=contact_point, status=DeliveryStatus.FAILED,
        program=program,
    )
    count = _resend_rows(rows, by)
    logger.info(
        "%s failed deliveries of %s resent by person %s", count, contact_point, by.pk
    )
    return count
