"""Fails when a message is untranslated, fuzzy, has broken placeholders, or .mo is stale."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

LOCALE = Path(__file__).resolve().parents[1] / "fokus" / "locale"


def problems_of(po: Path) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        compiled = Path(tmp) / "x.mo"
        # msgfmt's statistics count fuzzy and untranslated entries (not the header);
        # --check-format catches placeholders that differ from the msgid.
        result = subprocess.run(
            ["msgfmt", "--check-format", "--statistics", "-o", str(compiled), str(po)],
            capture_output=True, text=True, check=False,
        )
        stats = result.stderr.strip()
        if result.returncode != 0 or "untranslated" in stats or "fuzzy" in stats:
            return [f"{po}: {stats}"]
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != compiled.read_bytes():
            return [f"{mo}: stale, run `uv run fokus compilemessages`"]
    return []


def main() -> int:
    problems = [p for po in sorted(LOCALE.glob("*/LC_MESSAGES/*.po")) for p in problems_of(po)]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
