"""Fixtures of the suite's own tests: our server, with a link out of its root planted."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The helper modules next to this file (conformance_serving, broken_servers) are
# imported by name; pytest runs with --import-mode=importlib, which does not add this
# folder to sys.path by itself.
sys.path.insert(0, str(Path(__file__).parent))

from conformance_serving import RunningServer, plant_outside_link, running_server


@pytest.fixture(scope="module")
def served_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A served root holding a few entries and a symbolic link leading out of it."""
    root = tmp_path_factory.mktemp("served")
    (root / "existing.txt").write_text("an operator's file the suite must leave alone")
    (root / "existing-directory").mkdir()
    plant_outside_link(root, tmp_path_factory.mktemp("outside"))
    return root


@pytest.fixture(scope="module")
def our_server(served_root: Path) -> Iterator[RunningServer]:
    """Our own server, unmodified, with a short session timeout."""
    with running_server(served_root) as server:
        yield server
