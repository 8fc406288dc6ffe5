"""This app's part of the cross-organisation isolation test (tests/test_isolation.py).

`add_examples(world)` creates the app's rows for one organisation (texts carry
`world.mark`) and stores the ones endpoints are looked up by in `world.objects`;
`PARAMS` maps the app's URL/API parameter names to the organisation's value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fokus.insights import services
from fokus.insights.models import InsightSettings

# The insights routes take only the program's slug (already in the shared registry);
# their optional query parameters name no organisation's data (NEUTRAL_QUERY there).
PARAMS: dict[str, Callable[[Any], Any]] = {}


def add_examples(world: Any) -> None:
    """Facts for the world's program: its unit and city (with the marker) reach the tables."""
    services.insight_settings_save(world.program, {"metric": f"sales-{world.mark}"[:64]})
    world.objects[InsightSettings] = services.insights_refresh(world.program)
