"""The campaign's scale and the figures its tests add to (printed by conftest.py)."""

from __future__ import annotations

import os
from collections import Counter

#: "full" runs the campaign's full counts; anything else the short version.
FULL = os.environ.get("REMOFILE_RELIABILITY", "") == "full"

#: What the campaign did and found, added to by the tests, printed at the end.
FIGURES: Counter[str] = Counter()

#: Figures that are measurements, not counts: the last value wins.
MEASURES: dict[str, str] = {}


def scaled(short: int, full: int) -> int:
    """A count of the short version, or of the full campaign."""
    return full if FULL else short
