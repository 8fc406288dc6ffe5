"""This app's part of the cross-organisation isolation test (tests/test_isolation.py).

`add_examples(world)` creates the app's rows for one organisation (texts carry
`world.mark`) and stores the ones endpoints are looked up by in `world.objects`;
`PARAMS` maps the app's URL/API parameter names to the organisation's value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fokus.announcements.models import Announcement
from fokus.core import clock
from fokus.people.models import Role

PARAMS: dict[str, Callable[[Any], Any]] = {
    "announcement_id": lambda w: w.objects[Announcement].pk,
}


def add_examples(world: Any) -> None:
    now = clock.now()
    # A draft (editable, sendable): the isolation test's requests may send A's own.
    world.objects[Announcement] = Announcement.objects.create(
        organization=world.organization, program=world.program, unit=world.unit,
        title=f"Announcement {world.mark}", text=f"Text {world.mark}",
        created_by=world.people[Role.ADMIN], created_at=now, updated_at=now,
    )
