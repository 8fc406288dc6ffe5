"""Schedule-table jobs of the review app (fokus/config/schedule.py).

`review_overdue_job` runs every 15 minutes: it asks which answers went overdue since the
previous firing and puts one CURATOR message per overdue answer into the outbox of the
program's lead curator (the admins when the program has none), keyed by
`OverdueAttempt.dedupe_key` ("review-overdue:<attempt id>"): the outbox keeps one row
per person and key, so a window scanned again never tells anyone twice
(docs/review.md, "Overdue notices").
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from fokus.delivery.models import DeliveryKind
from fokus.delivery.services import delivery_enqueue
from fokus.people.models import Person
from fokus.programs.models import Program
from fokus.review.queries import OverdueAttempt, OverdueNotice, review_overdue_scan
from fokus.review.services import message_html, person_language, public_url
from fokus.scheduler.models import BeatFiring

JOB_NAME = "review.overdue_scan"
CADENCE = timedelta(minutes=15)
# After a long downtime, answers that went overdue longer ago than this are not
# announced one by one any more (the stats page lists them all).
LOOKBACK_MAX = timedelta(days=1)

logger = logging.getLogger("fokus.review.overdue")


def _previous_slot(slot: datetime) -> datetime:
    previous = (
        BeatFiring.objects.filter(job=JOB_NAME, slot__lt=slot)
        .order_by("-slot")
        .values_list("slot", flat=True)
        .first()
    )
    if previous is None or slot - previous > LOOKBACK_MAX:
        return slot - CADENCE
    return previous


def review_overdue_job(slot: datetime) -> list[OverdueNotice]:
    """Answers that went overdue between the previous firing and this slot, each told to
    the notice's recipients once."""
    notices = review_overdue_scan(now=slot, since=_previous_slot(slot))
    for notice in notices:
        recipients = Person.objects.filter(
            pk__in=notice.recipient_ids, organization_id=notice.organization_id, is_active=True
        )
        program = Program.objects.get(pk=notice.program_id)
        queued = 0
        for person in recipients:
            for attempt in notice.attempts:
                queued += review_overdue_enqueue(person=person, notice=notice, attempt=attempt,
                                                 slot=slot, program=program)
        logger.info(
            "review: %d answer(s) went overdue in program %s (target %d working hours); "
            "%d notice(s) queued for person(s) %s",
            len(notice.attempts), notice.program_title, notice.target_hours, queued,
            ",".join(str(r) for r in notice.recipient_ids) or "-",
        )
    return notices


@transaction.atomic
def review_overdue_enqueue(
    *, person: Person, notice: OverdueNotice, attempt: OverdueAttempt, slot: datetime,
    program: Program | None = None,
) -> int:
    """One overdue answer for one recipient into the outbox; 1 if a channel reaches them."""
    with translation.override(person_language(person)):
        subject = _("Overdue answer: %(person)s, “%(task)s”") % {
            "person": attempt.participant, "task": attempt.task}
        text = _(
            "The answer of %(person)s to “%(task)s” has waited %(hours)s working hours for "
            "feedback (the target in %(program)s is %(target)s)."
        ) % {"person": attempt.participant, "task": attempt.task,
             "hours": f"{attempt.waiting_hours:.1f}", "program": notice.program_title,
             "target": notice.target_hours}
        holder = (_("Curator: %(name)s.") % {"name": attempt.curator} if attempt.curator
                  else _("No curator has taken it yet."))
        url = public_url(reverse("curator:attempt", kwargs={"attempt_id": attempt.attempt_id}))
        payload = {
            "subject": subject,
            "text": f"{text}\n\n{holder}",
            "html": message_html([text, holder]),
            "buttons": [[{"text": _("Open in Fokus"), "url": url}]],
            "attempt_id": attempt.attempt_id,
        }
    delivery = delivery_enqueue(
        person=person, kind=DeliveryKind.CURATOR, contact_point=attempt.dedupe_key,
        due_at=slot, payload=payload, program=program,
    )
    return 1 if delivery is not None else 0
