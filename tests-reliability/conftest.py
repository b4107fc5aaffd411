"""The reliability campaign: hostile paths, fuzzed frames, kills and a full disk against
real servers, with the figures it reached printed at the end of the run.

`make test` runs it at a short scale; `make reliability` (REMOFILE_RELIABILITY=full) at
the campaign's full counts. Every loop is bounded in count and time and stops by itself.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
# This folder's helpers, and the server tests' harness: real servers, raw peers, snapshots.
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent / "remofile-server" / "tests"))

from figures import FIGURES, FULL, MEASURES  # noqa: E402


@pytest.fixture
def figures() -> Counter[str]:
    return FIGURES


@pytest.fixture
def measures() -> dict[str, str]:
    return MEASURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES and not MEASURES:
        return
    scale = "full campaign" if FULL else "short version (make reliability runs the full one)"
    terminalreporter.section(f"reliability campaign: {scale}")
    for name, count in sorted(FIGURES.items()):
        terminalreporter.write_line(f"{name:>52}: {count:,}")
    for name, value in sorted(MEASURES.items()):
        terminalreporter.write_line(f"{name:>52}: {value}")
