"""This app's part of the cross-organisation isolation test (tests/test_isolation.py).

`add_examples(world)` creates the app's rows for one organisation (texts carry
`world.mark`) and stores the ones endpoints are looked up by in `world.objects`;
`PARAMS` maps the app's URL/API parameter names to the organisation's value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PARAMS: dict[str, Callable[[Any], Any]] = {}


def add_examples(world: Any) -> None:
    return None
