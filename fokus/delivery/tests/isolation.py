"""This app's part of the cross-organisation isolation test (tests/test_isolation.py).

`add_examples(world)` creates the app's rows for one organisation (texts carry
`world.mark`) and stores the ones endpoints are looked up by in `world.objects`;
`PARAMS` maps the app's URL/API parameter names to the organisation's value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fokus.core import clock
from fokus.delivery.links import LinkTarget, link_token
from fokus.delivery.models import (
    Channel,
    Delivery,
    DeliveryKind,
    DeliveryPreference,
    DeliveryStatus,
    ProgramBranding,
)
from fokus.people.models import Role

PARAMS: dict[str, Callable[[Any], Any]] = {
    # Operator views (fokus/delivery/web/operator.py): a failed row to resend.
    "delivery_id": lambda w: w.objects[Delivery].pk,
    # Signed links (fokus/delivery/web/links.py): the participant's link to the material.
    "link_token": lambda w: link_token(
        person_id=w.people[Role.PARTICIPANT].pk, target=LinkTarget.MATERIAL,
        object_id=w.material.pk,
    ),
    # The e-mail footer's preferences page (fokus/delivery/web/preferences.py).
    "token": lambda w: w.objects[DeliveryPreference].token,
}


def add_examples(world: Any) -> None:
    world.objects[Delivery] = Delivery.objects.create(
        organization=world.organization, person=world.people[Role.PARTICIPANT],
        program=world.program, kind=DeliveryKind.ANNOUNCEMENT,
        contact_point=f"announcement:{world.mark}", channel=Channel.EMAIL,
        due_at=clock.now(), status=DeliveryStatus.FAILED, error=f"refused {world.mark}",
    )
    world.objects[DeliveryPreference] = DeliveryPreference.objects.create(
        person=world.people[Role.PARTICIPANT], quiet_from="22:00", quiet_until="07:00",
    )
    world.objects[ProgramBranding] = ProgramBranding.objects.create(
        program=world.program, sender_name=f"Academy {world.mark}",
    )
