"""Fixtures of the server's end-to-end tests; the helpers live in server_harness.py."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Test modules are imported by path (--import-mode=importlib): make the harness importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from server_harness import (
    Layout,
    RawPeer,
    RunningServer,
    raw_peer_of,
    serve_in_thread,
    short_socket_directory,
)


@pytest.fixture
def socket_directory() -> Iterator[str]:
    """A fresh directory with a short path, for ipc:// sockets."""
    directory = short_socket_directory()
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    """A served root with a sentinel sibling directory that no request may touch."""
    return Layout.make(tmp_path)


@pytest.fixture
def served(layout: Layout) -> Iterator[RunningServer]:
    """A server in a thread on a free TCP port of 127.0.0.1, serving ``layout.root``."""
    with serve_in_thread(layout.root, sync_writes=False) as running:
        yield running


@pytest.fixture
def raw_peer(served: RunningServer) -> Iterator[RawPeer]:
    """A bare DEALER socket connected to the ``served`` server."""
    with raw_peer_of(served.endpoint) as peer:
        yield peer
