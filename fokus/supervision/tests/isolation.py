"""This app's part of the cross-organisation isolation test (tests/test_isolation.py).

`add_examples(world)` creates the app's rows for one organisation (texts carry
`world.mark`) and stores the ones endpoints are looked up by in `world.objects`;
`PARAMS` maps the app's URL/API parameter names to the organisation's value.

The world's supervisor manages its participant and joins the seniors' track, so every
team page of the organisation has someone (and its marker) to show.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.utils import timezone

from fokus.people.models import Role
from fokus.programs.models import Enrollment
from fokus.review import files as review_files
from fokus.review.tests.answer_factories import png_bytes
from fokus.supervision.models import (
    ApplicationConfirmation,
    RuleKind,
    SupervisorStanding,
    SupportTask,
)
from fokus.supervision.services import support_templates_ensure

PARAMS: dict[str, Callable[[Any], Any]] = {
    # A supervisor's generated task (done/skip) and a confirmation's photo.
    "support_task_id": lambda w: w.objects[SupportTask].pk,
    "confirmation_id": lambda w: w.objects[ApplicationConfirmation].pk,
}


def add_examples(world: Any) -> None:
    supervisor = world.people[Role.SUPERVISOR]
    participant = world.people[Role.PARTICIPANT]
    now = timezone.now()
    Enrollment.objects.get_or_create(
        person=supervisor, track=world.follower_track, defaults={"enrolled_at": now}
    )
    for template in support_templates_ensure(world.program).values():
        template.text = f"{template.text} {world.mark}"
        template.save(update_fields=["text"])
    world.objects[SupportTask] = SupportTask.objects.create(
        organization=world.organization, program=world.program, track=world.follower_track,
        supervisor=supervisor, day=world.day, rule=RuleKind.RETURNED,
        subject=f"attempt:{world.mark}", report=participant, task=world.task,
        text=f"Help {participant.full_name} {world.mark}", created_at=now,
    )
    world.objects[ApplicationConfirmation] = ApplicationConfirmation.objects.create(
        organization=world.organization, program=world.program, supervisor=supervisor,
        report=participant, day=world.day, task=world.task,
        checklist={"used_with_client": True}, note=f"Observed {world.mark}",
        photo_storage_name=review_files.store([review_files.CheckedFile(
            original_name=f"photo-{world.mark}.png", content_type="image/png", data=png_bytes(),
        )])[0],
        photo_content_type="image/png",
        created_at=now,
    )
    world.objects[SupervisorStanding] = SupervisorStanding.objects.create(
        program=world.program, supervisor=supervisor, team_size=1, score=Decimal("50"),
        rank=1, refreshed_at=now,
    )
