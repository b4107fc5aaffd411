"""Fixtures of the client's end-to-end tests; the helpers live in client_harness.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Test modules are imported by path (--import-mode=importlib): make the harness importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from client_harness import Layout, RunningServer, serve_in_thread
from remofile.client import Client


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout.make(tmp_path)


@pytest.fixture
def served(layout: Layout) -> Iterator[RunningServer]:
    """A server in a thread on a free TCP port of 127.0.0.1, serving ``layout.root``."""
    with serve_in_thread(layout.root) as running:
        yield running


@pytest.fixture
def client(served: RunningServer) -> Client:
    """A client of ``served``."""
    return served.client()
