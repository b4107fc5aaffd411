"""Real Remofile servers for end-to-end tests (helpers shared by the server tests).

A server runs either in a thread of the test process (``Server.run`` then
``wait_until_ready``) or in a child process started here (a tiny script that prints its
endpoint and stops when its stdin closes), and listens on tcp://127.0.0.1 or on an
ipc:// socket. Nothing is mocked: real sockets, real files. Every wait is bounded, and
only processes started here are ever stopped, by their own handle.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import selectors
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
from remofile.client import Client
from remofile.server import Server
from remofile.v1 import remofile_pb2 as pb

#: The token every test server is given (the seed's example token).
TOKEN = "qRkVWJcFRqi7rsNMbagaDd"

#: How long any single client call may take in these tests, in milliseconds.
CALL_TIMEOUT_MS = 5_000

#: How long a server may take to start or to stop, in seconds.
START_STOP_TIMEOUT_S = 10.0

#: The served root's staging directory, which no client may ever see.
STAGING = ".remofile-staging"

#: The child process of a process server: prints its endpoint, serves until its
#: standard input closes, then terminates the server and says so.
SERVER_SCRIPT = r"""
import json, sys, threading
from remofile.server import Server

root, token, bind, options = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
if "chunk_size_range" in options:
    options["chunk_size_range"] = tuple(options["chunk_size_range"])
server = Server(root, token, **options)
arguments = (bind,) if "://" in bind else (0, "127.0.0.1")
thread = threading.Thread(target=server.run, args=arguments, daemon=True)
thread.start()
for _ in range(400):
    if server.wait_until_ready(0.025) or not thread.is_alive():
        break
if not server.wait_until_ready(0):
    print("not-ready", flush=True)
    sys.exit(3)
print(server.endpoint, flush=True)
sys.stdin.read()
server.terminate()
thread.join(10)
print("terminated" if not thread.is_alive() else "still-running", flush=True)
"""


@dataclass
class RunningServer:
    """A server under test and what a client needs to reach it."""

    root: Path
    endpoint: str
    token: str = TOKEN
    public_key: str | None = None
    #: The Server object when it runs in this process, None when in a child process.
    server: Server | None = None
    thread: threading.Thread | None = None
    process: subprocess.Popen[str] | None = None
    clients: list[Client] = field(default_factory=list)

    def client(self, token: str | None = None, **options: Any) -> Client:
        """A client of this server, closed when the test ends."""
        options.setdefault("public_key", self.public_key)
        client = Client(self.endpoint, None, token or self.token, **options)
        self.clients.append(client)
        return client

    def close_clients(self) -> None:
        for client in self.clients:
            client.close()
        self.clients.clear()


def short_socket_directory() -> str:
    """A fresh directory with a short path: ipc:// paths are limited to ~100 bytes."""
    return tempfile.mkdtemp(prefix="rmf-", dir="/tmp")


def ipc_endpoint(directory: str) -> str:
    return f"ipc://{directory}/server.sock"


@contextlib.contextmanager
def serve_in_thread(
    root: Path, bind: str = "tcp", public_key: str | None = None, **options: Any
) -> Iterator[RunningServer]:
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
    running = RunningServer(
        root, server.endpoint, public_key=public_key, server=server, thread=thread
    )
    try:
        yield running
    finally:
        running.close_clients()
        with contextlib.suppress(RuntimeError):  # the test may have terminated it
            server.terminate()
        thread.join(START_STOP_TIMEOUT_S)
        assert not thread.is_alive(), "server thread did not stop"
    assert not errors, errors


@contextlib.contextmanager
def serve_in_process(
    root: Path, bind: str = "tcp", public_key: str | None = None, **options: Any
) -> Iterator[RunningServer]:
    """Run a Server in a child process; stop it by closing its stdin, kill it if it hangs."""
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT, str(root), TOKEN, bind, json.dumps(options)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        endpoint = read_line(process, START_STOP_TIMEOUT_S)
        assert "://" in endpoint, f"server process did not start: {endpoint!r}"
        running = RunningServer(root, endpoint, public_key=public_key, process=process)
        try:
            yield running
        finally:
            running.close_clients()
    finally:
        stop_process(process)


def read_line(process: subprocess.Popen[str], timeout_s: float) -> str:
    """The next line the child prints, waiting at most ``timeout_s``."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout_s):
            return ""
    return process.stdout.readline().strip()


def stop_process(process: subprocess.Popen[str]) -> str:
    """Ask a server child to stop (close its stdin); kill it, by its handle, if it hangs.

    :returns: what it printed when it stopped ("terminated" if run() returned).
    """
    said = ""
    if process.poll() is None:
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
        said = read_line(process, START_STOP_TIMEOUT_S)
        try:
            process.wait(START_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(START_STOP_TIMEOUT_S)
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    return said


ServeFactory = Callable[..., contextlib.AbstractContextManager[RunningServer]]

TRANSPORTS = ["thread-tcp", "thread-ipc", "process-tcp", "process-ipc"]


@dataclass
class Layout:
    root: Path
    sentinel: Path
    local: Path
    sentinel_snapshot: dict[str, tuple[Any, ...]]

    @classmethod
    def make(cls, base: Path) -> Layout:
        root, sentinel, local = base / "served", base / "sentinel", base / "local"
        for directory in (root, sentinel, local):
            directory.mkdir()
        (sentinel / "secret.txt").write_bytes(b"top secret\n")
        (sentinel / "inner").mkdir()
        (sentinel / "inner" / "data.bin").write_bytes(bytes(range(256)))
        return cls(root, sentinel, local, snapshot(sentinel))

    def assert_sentinel_unchanged(self) -> None:
        assert snapshot(self.sentinel) == self.sentinel_snapshot
        siblings = sorted(path.name for path in self.root.parent.iterdir())
        assert siblings == ["local", "sentinel", "served"]


def snapshot(top: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry below ``top``, links not followed: kind, size, digest, mtime."""
    result: dict[str, tuple[Any, ...]] = {}
    for directory, directories, files in os.walk(top):
        for name in directories + files:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, top)
            info = os.lstat(path)
            if os.path.islink(path):
                result[relative] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                result[relative] = ("dir", info.st_mtime_ns)
            else:
                digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
                result[relative] = ("file", info.st_size, digest, info.st_mtime_ns)
    return result


def visible_entries(root: Path) -> list[str]:
    """What a local user sees in the root, the staging directory left aside."""
    return sorted(name for name in os.listdir(root) if name != STAGING)


@dataclass
class RawPeer:
    """A bare DEALER socket speaking the protocol by hand, for what a Client never sends."""

    socket: zmq.Socket[Any]

    def send(self, *frames: bytes) -> None:
        self.socket.send_multipart(list(frames))

    def receive(self, timeout_ms: int = CALL_TIMEOUT_MS) -> list[bytes]:
        assert self.socket.poll(timeout_ms, zmq.POLLIN), "no response in time"
        return [bytes(frame) for frame in self.socket.recv_multipart()]

    def response(self, timeout_ms: int = CALL_TIMEOUT_MS) -> tuple[pb.Response, list[bytes]]:
        """The next response: delimiter, Response, then any data frames."""
        frames = self.receive(timeout_ms)
        assert frames[0] == b"", frames
        response = pb.Response()
        response.ParseFromString(frames[1])
        return response, frames[2:]

    def request(
        self, request: pb.Request, data: bytes | None = None
    ) -> tuple[pb.Response, list[bytes]]:
        self.send(b"", request.SerializeToString(), *([] if data is None else [data]))
        return self.response()

    def hello(self, token: str = TOKEN) -> bytes:
        response, _ = self.request(pb.Request(token=token, hello=pb.Hello(protocol_version=1)))
        assert response.reason == pb.REASON_SESSION_OPENED, response
        return response.session_opened.session_id


@contextlib.contextmanager
def raw_peer_of(endpoint: str) -> Iterator[RawPeer]:
    """A bare DEALER socket connected to ``endpoint``, closed (linger 0) on exit."""
    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(endpoint)
    try:
        yield RawPeer(socket)
    finally:
        socket.close(linger=0)
        context.term()
