"""A real Remofile server in a thread, and helpers to compare what went through it.

Nothing is mocked: the server listens on tcp://127.0.0.1 (a free port) and serves a
real directory; the client talks to it over real ZeroMQ sockets. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remofile.client import Client
from remofile.server import Server

#: The token every test server is given (the seed's example token).
TOKEN = "qRkVWJcFRqi7rsNMbagaDd"

#: How long any single client call may take in these tests, in milliseconds.
CALL_TIMEOUT_MS = 5_000

#: How long a server may take to start or to stop, in seconds.
START_STOP_TIMEOUT_S = 10.0

#: The served root's staging directory, which no client may ever see.
STAGING = ".remofile-staging"


@dataclass
class RunningServer:
    """A server under test and what a client needs to reach it."""

    server: Server
    thread: threading.Thread
    root: Path
    endpoint: str
    clients: list[Client] = field(default_factory=list)

    def client(self, token: str = TOKEN, **options: Any) -> Client:
        """A client of this server, closed when the test ends."""
        client = Client(self.endpoint, None, token, **options)
        self.clients.append(client)
        return client

    def close_clients(self) -> None:
        for client in self.clients:
            client.close()
        self.clients.clear()

    def stop(self) -> None:
        """terminate() the server and wait for run() to return."""
        with contextlib.suppress(RuntimeError):  # already terminated by the test
            self.server.terminate()
        self.thread.join(START_STOP_TIMEOUT_S)
        assert not self.thread.is_alive(), "server thread did not stop"


@contextlib.contextmanager
def serve_in_thread(root: Path, bind: str = "tcp", **options: Any) -> Iterator[RunningServer]:
    """Run a Server in a thread; ``bind`` is "tcp" (a free 127.0.0.1 port) or an endpoint."""
    server = Server(root, TOKEN, **options)
    arguments: tuple[Any, ...] = (bind,) if "://" in bind else (0, "127.0.0.1")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            server.run(*arguments)
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)

    thread = threading.Thread(target=run, name="remofile-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_STOP_TIMEOUT_S
    while not server.wait_until_ready(0.01):
        assert thread.is_alive(), f"server did not start: {errors}"
        assert time.monotonic() < deadline, "server did not start in time"
    assert server.endpoint is not None
    running = RunningServer(server, thread, root, server.endpoint)
    try:
        yield running
    finally:
        running.close_clients()
        running.stop()
    assert not errors, errors


@dataclass
class Layout:
    """``<tmp>/served`` is the root; ``<tmp>/local`` the client's side."""

    root: Path
    local: Path

    @classmethod
    def make(cls, base: Path) -> Layout:
        root, local = base / "served", base / "local"
        root.mkdir()
        local.mkdir()
        return cls(root, local)


def tree(top: Path) -> dict[str, tuple[str, str]]:
    """Every entry below ``top`` by relative path: ("dir", "") or ("file", sha256); the
    server's staging area, which no client sees, left out."""
    result: dict[str, tuple[str, str]] = {}
    for directory, directories, files in os.walk(top):
        directories[:] = [name for name in directories if name != STAGING]
        for name in directories:
            result[os.path.relpath(os.path.join(directory, name), top)] = ("dir", "")
        for name in files:
            path = os.path.join(directory, name)
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            result[os.path.relpath(path, top)] = ("file", digest)
    return result


def visible_entries(root: Path) -> list[str]:
    """What a local user sees in the root, the staging directory left aside."""
    return sorted(name for name in os.listdir(root) if name != STAGING)


def write_random(path: Path, size: int, seed: int = 0) -> bytes:
    """Write ``size`` pseudo-random bytes to ``path`` (deterministic per seed)."""
    data = random_bytes(size, seed)
    path.write_bytes(data)
    return data


def random_bytes(size: int, seed: int = 0) -> bytes:
    blocks = []
    counter = 0
    while sum(map(len, blocks)) < size:
        blocks.append(hashlib.sha256(f"{seed}-{counter}".encode()).digest() * 64)
        counter += 1
    return b"".join(blocks)[:size]


class ChunkRecorder:
    """A process_chunk callback that keeps every call's arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes, int, int, str]] = []

    def __call__(self, chunk: bytes, remaining: int, file_size: int, file_name: str) -> None:
        self.calls.append((chunk, remaining, file_size, file_name))

    @property
    def data(self) -> bytes:
        return b"".join(call[0] for call in self.calls)

    @property
    def remaining(self) -> list[int]:
        return [call[1] for call in self.calls]
