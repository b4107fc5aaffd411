"""A lost answer or a restarted client process never waits for the session to expire
(SPEC.md 3.7): the client's next HELLO carries its client key and takes its own session
back at once.

The server keeps its default session timeout (30 s), so any wait for expiry would show.
Answers are lost by a real ZeroMQ relay between client and server that drops the reply
to the requests it is told to; nothing is mocked.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from client_harness import TOKEN, Layout, RunningServer, serve_in_thread, write_random
from remofile.client import Client
from remofile.core import ServerBusyError
from remofile.core.limits import DEFAULT_SESSION_TIMEOUT_MS
from remofile.v1 import remofile_pb2 as pb

#: The client's own deadline for an answer in these tests.
LOST_ANSWER_TIMEOUT_MS = 700

#: How long getting back in may take at most: far below the session timeout.
RECOVERY_BUDGET_S = 3 * LOST_ANSWER_TIMEOUT_MS / 1000 + 1.0

CHUNK = 4096


class LossyRelay:
    """A relay between client and server that loses the answers it is told to.

    ``lose(kind, count)`` drops the answers to the next ``count`` requests of that kind
    (``"hello"``, ``"send_chunk"``...); the requests themselves reach the server. As when
    a connection drops, every later answer to the same connection is lost too: ZeroMQ
    never loses one message of a connection and delivers the next.
    """

    def __init__(self, backend: str) -> None:
        self._context: zmq.Context[Any] = zmq.Context()
        self._front = self._context.socket(zmq.ROUTER)
        self._front.setsockopt(zmq.LINGER, 0)
        port = self._front.bind_to_random_port("tcp://127.0.0.1")
        self._back = self._context.socket(zmq.DEALER)
        self._back.setsockopt(zmq.LINGER, 0)
        self._back.connect(backend)
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self._to_lose: dict[str, int] = defaultdict(int)
        #: Per client connection, for each request in flight: lose its answer?
        self._pending: dict[bytes, deque[bool]] = defaultdict(deque)
        self._cut: set[bytes] = set()
        self.lost: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._relay, daemon=True)
        self._thread.start()

    def lose(self, kind: str, count: int = 1) -> None:
        with self._lock:
            self._to_lose[kind] += count

    def _relay(self) -> None:
        poller = zmq.Poller()
        poller.register(self._front, zmq.POLLIN)
        poller.register(self._back, zmq.POLLIN)
        while not self._stop.is_set():
            for socket, _ in poller.poll(20):
                frames: list[bytes] = socket.recv_multipart()
                peer = frames[0]
                if socket is self._front:
                    request = pb.Request.FromString(frames[2])
                    kind = request.WhichOneof("kind") or ""
                    with self._lock:
                        lose = self._to_lose[kind] > 0
                        if lose:
                            self._to_lose[kind] -= 1
                            self.lost.append(kind)
                    self._pending[peer].append(lose)
                    self._back.send_multipart(frames)
                else:
                    pending = self._pending[peer]
                    if pending and pending.popleft():
                        self._cut.add(peer)
                    if peer not in self._cut:
                        self._front.send_multipart(frames)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._front.close(0)
        self._back.close(0)
        self._context.term()


@pytest.fixture
def served(layout: Layout) -> Iterator[RunningServer]:
    # The default session timeout: a client that had to wait for expiry would fail.
    with serve_in_thread(layout.root) as running:
        yield running


@pytest.fixture
def relay(served: RunningServer) -> Iterator[LossyRelay]:
    lossy = LossyRelay(served.endpoint)
    try:
        yield lossy
    finally:
        lossy.close()


@pytest.fixture
def client(relay: LossyRelay) -> Iterator[Client]:
    with Client(relay.endpoint, None, TOKEN) as through_relay:
        yield through_relay


def timed(call: Callable[[], Any]) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


def test_the_server_announces_recovery_and_its_session_timeout_is_long(client: Client) -> None:
    opened = client.server_info(timeout=LOST_ANSWER_TIMEOUT_MS)
    assert pb.FEATURE_SESSION_RECOVERY in opened.features
    assert opened.session_timeout_ms == DEFAULT_SESSION_TIMEOUT_MS >= 5 * RECOVERY_BUDGET_S * 1000


# -- HELLO ---------------------------------------------------------------------------------


def test_lost_answer_to_the_first_hello_costs_one_timeout(
    client: Client, relay: LossyRelay
) -> None:
    relay.lose("hello")
    with pytest.raises(TimeoutError):
        client.list_files("/", timeout=LOST_ANSWER_TIMEOUT_MS)
    # The server opened a session the client never heard of; the key takes it back.
    assert timed(lambda: client.list_files("/", timeout=LOST_ANSWER_TIMEOUT_MS)) < 1.0
    assert relay.lost == ["hello"]


def test_lost_answers_to_a_request_and_to_the_hello_after_it_are_recovered_in_one_call(
    client: Client, relay: LossyRelay, layout: Layout
) -> None:
    client.list_files("/", timeout=LOST_ANSWER_TIMEOUT_MS)
    relay.lose("list_files")
    with pytest.raises(TimeoutError):
        client.list_files("/", timeout=LOST_ANSWER_TIMEOUT_MS)
    # The replacing HELLO's answer is lost too: the client sends it again, with its key.
    relay.lose("hello")
    (layout.local / "a.txt").write_bytes(b"a")
    elapsed = timed(
        lambda: client.upload_file(layout.local / "a.txt", "/", timeout=LOST_ANSWER_TIMEOUT_MS)
    )
    assert elapsed < RECOVERY_BUDGET_S
    assert relay.lost == ["list_files", "hello"]
    assert (layout.root / "a.txt").read_bytes() == b"a"


def test_another_client_is_still_busy_while_one_recovers(
    client: Client, relay: LossyRelay, served: RunningServer
) -> None:
    relay.lose("hello")
    with pytest.raises(TimeoutError):
        client.list_files("/", timeout=LOST_ANSWER_TIMEOUT_MS)
    other = served.client()  # another key
    with pytest.raises(ServerBusyError):
        other.list_files("/", timeout=LOST_ANSWER_TIMEOUT_MS)
    client.list_files("/", timeout=LOST_ANSWER_TIMEOUT_MS)


# -- a chunk -------------------------------------------------------------------------------


def test_lost_answer_to_a_chunk_is_resumed_at_once(
    client: Client, relay: LossyRelay, layout: Layout
) -> None:
    data = write_random(layout.local / "big.bin", 30 * CHUNK + 17, seed=3)
    relay.lose("send_chunk")
    with pytest.raises(TimeoutError):
        client.upload_file(
            layout.local / "big.bin", "/", chunk_size=CHUNK, timeout=LOST_ANSWER_TIMEOUT_MS
        )
    assert not (layout.root / "big.bin").exists()
    relay.lose("hello")  # and the answer to the HELLO that replaces the session
    elapsed = timed(
        lambda: client.upload_file(
            layout.local / "big.bin",
            "/",
            chunk_size=CHUNK,
            timeout=LOST_ANSWER_TIMEOUT_MS,
            resume=True,
        )
    )
    assert elapsed < RECOVERY_BUDGET_S
    assert (layout.root / "big.bin").read_bytes() == data
    assert relay.lost == ["send_chunk", "hello"]


def test_lost_answer_to_a_download_chunk_is_recovered_at_once(
    client: Client, relay: LossyRelay, layout: Layout
) -> None:
    data = write_random(layout.root / "remote.bin", 20 * CHUNK, seed=4)
    relay.lose("receive_chunk")
    with pytest.raises(TimeoutError):
        client.download_file(
            "/remote.bin", layout.local, chunk_size=CHUNK, timeout=LOST_ANSWER_TIMEOUT_MS
        )
    relay.lose("hello")
    elapsed = timed(
        lambda: client.download_file(
            "/remote.bin", layout.local, chunk_size=CHUNK, timeout=LOST_ANSWER_TIMEOUT_MS
        )
    )
    assert elapsed < RECOVERY_BUDGET_S
    assert (layout.local / "remote.bin").read_bytes() == data


# -- a removal step ------------------------------------------------------------------------


def test_lost_answer_to_a_removal_step_is_recovered_at_once(
    client: Client, relay: LossyRelay, layout: Layout
) -> None:
    tree = layout.root / "tree"
    for index in range(30):
        directory = tree / f"d{index:02}"
        directory.mkdir(parents=True)
        for name in range(100):  # 3030 entries: several CONTINUE_REMOVAL steps
            (directory / f"f{name:03}").touch()
    relay.lose("continue_removal")
    with pytest.raises(TimeoutError):
        client.delete_file("/tree", timeout=LOST_ANSWER_TIMEOUT_MS)
    relay.lose("hello")
    # The tree left sight at REMOVAL_STARTED; the server finishes it on its own.
    elapsed = timed(lambda: client.list_files("/", timeout=LOST_ANSWER_TIMEOUT_MS))
    assert elapsed < RECOVERY_BUDGET_S
    assert client.list_files("/", timeout=LOST_ANSWER_TIMEOUT_MS) == {}
    assert relay.lost == ["continue_removal", "hello"]


# -- a restarted process -------------------------------------------------------------------

#: A client in its own process with the key it is given, uploading slowly.
SLOW_UPLOADER = r"""
import sys, time
from remofile.client import Client

endpoint, token, key, path = sys.argv[1:5]

def report(chunk, remaining, size, name):
    print(remaining, flush=True)
    time.sleep(0.01)

with Client(endpoint, None, token, window=1, client_key=bytes.fromhex(key)) as client:
    client.upload_file(path, "/", chunk_size=4096, process_chunk=report, timeout=5000)
"""


def test_a_restarted_process_with_its_key_resumes_its_upload_at_once(
    served: RunningServer, layout: Layout
) -> None:
    size = 40 * CHUNK + 123
    data = write_random(layout.local / "big.bin", size, seed=7)
    key = os.urandom(32)
    uploader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SLOW_UPLOADER,
            served.endpoint,
            TOKEN,
            key.hex(),
            str(layout.local / "big.bin"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert uploader.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(uploader.stdout, selectors.EVENT_READ)
            for _ in range(size // CHUNK + 1):
                assert selector.select(10), "the uploader said nothing"
                if int(uploader.stdout.readline()) <= size // 2:
                    break
        uploader.kill()  # the process this test started, by its handle
        uploader.wait(10)
    finally:
        if uploader.poll() is None:
            uploader.kill()
            uploader.wait(10)
        with contextlib.suppress(OSError):
            assert uploader.stdout is not None
            uploader.stdout.close()
    # Another client (another key) still finds the server busy: the session is live.
    with pytest.raises(ServerBusyError):
        served.client().list_files("/", timeout=LOST_ANSWER_TIMEOUT_MS)
    remaining: list[int] = []
    restarted = served.client(client_key=key)
    elapsed = timed(
        lambda: restarted.upload_file(
            layout.local / "big.bin",
            "/",
            chunk_size=CHUNK,
            process_chunk=lambda _c, left, _s, _n: remaining.append(left),
            timeout=LOST_ANSWER_TIMEOUT_MS,
            resume=True,
        )
    )
    assert elapsed < RECOVERY_BUDGET_S
    assert (layout.root / "big.bin").read_bytes() == data
    # It resumed where the killed process stopped.
    assert 0 < remaining[0] <= size // 2


def test_a_client_key_of_the_wrong_length_is_refused(served: RunningServer) -> None:
    for key in (b"", bytes(15), bytes(65)):
        with pytest.raises(ValueError, match="client_key"):
            Client(served.endpoint, None, TOKEN, client_key=key)


def test_every_client_draws_its_own_key(served: RunningServer) -> None:
    first, second = served.client(), served.client()
    assert len(first.client_key) == 32
    assert first.client_key != second.client_key


def test_a_key_given_is_kept(served: RunningServer, tmp_path: Path) -> None:
    key = bytes(range(20))
    assert served.client(client_key=key).client_key == key
