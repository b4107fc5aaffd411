"""Servers for the suite's own tests: ours in a thread, and a rewriting proxy in front of it.

A broken server is our server with one piece swapped for a faulty subclass (the request
handler, the session gate, the storage or the server class itself), or our server
behind :class:`RewritingProxy`, a ROUTER/DEALER relay that can drop or rewrite
messages. Nothing of the server's source is changed.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import remofile.server.server as server_module
import zmq
from remofile.conformance.cases import all_cases, select
from remofile.conformance.context import Target
from remofile.conformance.results import RunReport
from remofile.conformance.runner import Runner
from remofile.server import LocalStorage, Server

#: The token every test server is started with.
TOKEN = "conformance-self-test-token"

#: Short enough for the expiry cases to run, long enough for a slow machine.
SESSION_TIMEOUT_MS = 1500

#: Deadline of every reply in the self-tests: our server answers in milliseconds.
TIMEOUT_MS = 2000

#: Name of the symbolic link planted in served roots, leading out of them.
OUTSIDE_LINK = "escape"


@dataclass
class RunningServer:
    endpoint: str
    root: Path
    server: Server

    def target(self, **options: Any) -> Target:
        options.setdefault("timeout_ms", TIMEOUT_MS)
        options.setdefault("outside_link", f"/{OUTSIDE_LINK}")
        return Target(self.endpoint, TOKEN, **options)


def plant_outside_link(root: Path, outside: Path) -> None:
    """A directory outside the root holding a secret, and a link to it inside the root."""
    outside.mkdir(exist_ok=True)
    (outside / "secret.txt").write_text("must never be served")
    os.symlink(outside, root / OUTSIDE_LINK)


@contextlib.contextmanager
def running_server(
    root: Path,
    *,
    server_class: type[Server] = Server,
    storage_factory: Callable[[str], Any] = LocalStorage,
    handler_class: type | None = None,
    gate_class: type | None = None,
    session_timeout_ms: int = SESSION_TIMEOUT_MS,
    port: int | str = 0,
    private_key: str | None = None,
    **limits: Any,
) -> Iterator[RunningServer]:
    """Our server, or one with a piece swapped, on tcp://127.0.0.1 and a free port.

    The handler and gate classes are swapped only while the server starts: it builds
    them once, before it is ready. ``limits`` are passed on (``file_size_limit``,
    ``chunk_size_range``).
    """
    server = server_class(
        root,
        TOKEN,
        private_key,
        session_timeout_ms=session_timeout_ms,
        sync_writes=False,
        storage_factory=storage_factory,
        **limits,
    )
    patches = contextlib.ExitStack()
    with patches:
        if handler_class is not None:
            patches.enter_context(mock.patch.object(server_module, "RequestHandler", handler_class))
        if gate_class is not None:
            patches.enter_context(mock.patch.object(server_module, "SessionGate", gate_class))
        thread = threading.Thread(target=server.run, args=(port, "127.0.0.1"), daemon=True)
        thread.start()
        assert server.wait_until_ready(10), "the server did not start"
    assert server.endpoint is not None
    try:
        yield RunningServer(server.endpoint, root, server)
    finally:
        server.terminate()
        thread.join(10)


class RewritingProxy:
    """A relay between clients and a server that may drop or rewrite what passes.

    :param on_request: gets the frames after the client's routing id, returns the
        frames to forward or None to drop the message.
    :param on_reply: the same for the server's replies.
    """

    def __init__(
        self,
        backend: str,
        on_request: Callable[[list[bytes]], list[bytes] | None] = lambda frames: frames,
        on_reply: Callable[[list[bytes]], list[bytes] | None] = lambda frames: frames,
    ) -> None:
        self._context: zmq.Context[Any] = zmq.Context()
        self._front = self._context.socket(zmq.ROUTER)
        self._front.setsockopt(zmq.LINGER, 0)
        port = self._front.bind_to_random_port("tcp://127.0.0.1")
        self._back = self._context.socket(zmq.DEALER)
        self._back.setsockopt(zmq.LINGER, 0)
        self._back.connect(backend)
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self._on_request = on_request
        self._on_reply = on_reply
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._relay, daemon=True)
        self._thread.start()

    def _relay(self) -> None:
        poller = zmq.Poller()
        poller.register(self._front, zmq.POLLIN)
        poller.register(self._back, zmq.POLLIN)
        while not self._stop.is_set():
            for socket, _ in poller.poll(50):
                frames: list[bytes] = socket.recv_multipart()
                if socket is self._front:
                    client, body = frames[0], frames[1:]
                    rewritten = self._on_request(body)
                    if rewritten is not None:
                        self._back.send_multipart([client, *rewritten])
                else:
                    client, body = frames[0], frames[1:]
                    rewritten = self._on_reply(body)
                    if rewritten is not None:
                        self._front.send_multipart([client, *rewritten])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._front.close(0)
        self._back.close(0)
        self._context.term()


#: Cases a server started with the default limits cannot run, so they are skipped, with
#: the limit named: a file over file_size_limit can be sent in a batch only where that
#: limit is below max_chunk_size (tests/test_batch_limits.py runs it with such limits).
SKIPPED_WITH_DEFAULT_LIMITS = frozenset({"4.17/5"})


def run_suite(target: Target, sections: tuple[str, ...] = ()) -> RunReport:
    """Run the suite's cases of ``sections`` (all if none) in this process."""
    return Runner(target).run(select(all_cases(), sections))
