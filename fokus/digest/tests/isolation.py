"""This app's part of the cross-organisation isolation test (tests/test_isolation.py).

`add_examples(world)` creates the app's rows for one organisation (texts carry
`world.mark`) and stores the ones endpoints are looked up by in `world.objects`;
`PARAMS` maps the app's URL/API parameter names to the organisation's value.

The digest pages take `program_slug` (already known to the test); the preview page of
a participant shows the day's best answers, so a consenting author with a graded answer
makes sure another organisation's answers never show up there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone

from fokus.digest.models import ShowcaseConsent

PARAMS: dict[str, Callable[[Any], Any]] = {}


def add_examples(world: Any) -> None:
    participant = world.people["participant"]
    world.objects[ShowcaseConsent] = ShowcaseConsent.objects.create(
        organization=world.organization, person=participant, given_at=timezone.now()
    )
