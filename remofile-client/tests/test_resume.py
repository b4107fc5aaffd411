"""Interrupted transfers: resumed uploads and downloads end byte for byte, and nothing
incomplete is ever visible under the final name."""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from client_harness import (
    CALL_TIMEOUT_MS,
    STAGING,
    TOKEN,
    ChunkRecorder,
    Layout,
    RunningServer,
    serve_in_thread,
    visible_entries,
    write_random,
)
from remofile.core import DigestMismatchError, FileSizeError, ServerBusyError

T = CALL_TIMEOUT_MS
CHUNK = 4096
SIZE = 40 * CHUNK + 123


class Interrupted(Exception):
    """Raised from process_chunk to cut a transfer short."""


def interrupt_at(call: int) -> ChunkRecorder:
    """A process_chunk that records, and raises on its ``call``-th call (from 0)."""

    class Interrupting(ChunkRecorder):
        def __call__(self, chunk: bytes, remaining: int, size: int, name: str) -> None:
            if len(self.calls) == call:
                raise Interrupted
            super().__call__(chunk, remaining, size, name)

    return Interrupting()


def staged_files(root: Path) -> list[Path]:
    return [path for path in (root / STAGING).rglob("*") if path.is_file()]


@pytest.fixture
def server(layout: Layout) -> Iterator[RunningServer]:
    with serve_in_thread(layout.root, session_timeout_ms=300) as running:
        yield running


# -- uploads -----------------------------------------------------------------------------


def test_interrupted_upload_resumes_where_the_server_stopped(
    server: RunningServer, layout: Layout
) -> None:
    data = write_random(layout.local / "big.bin", SIZE, seed=1)
    client = server.client(window=1)
    with pytest.raises(Interrupted):
        client.upload_file(
            layout.local / "big.bin",
            "/",
            chunk_size=CHUNK,
            process_chunk=interrupt_at(10),
            timeout=T,
        )
    assert visible_entries(layout.root) == []
    assert client.list_files("/", timeout=T) == {}
    (staged,) = staged_files(layout.root)
    assert staged.read_bytes() == data[: 10 * CHUNK]
    resumed = ChunkRecorder()
    client.upload_file(
        layout.local / "big.bin",
        "/",
        chunk_size=CHUNK,
        process_chunk=resumed,
        timeout=T,
        resume=True,
    )
    assert (layout.root / "big.bin").read_bytes() == data
    assert resumed.remaining == list(range(SIZE - 10 * CHUNK, 0, -CHUNK))
    assert resumed.data == data[10 * CHUNK :]
    assert staged_files(layout.root) == []


def test_interrupted_pipelined_upload_resumes_exactly(
    server: RunningServer, layout: Layout
) -> None:
    data = write_random(layout.local / "big.bin", SIZE, seed=2)
    client = server.client(window=8)
    with pytest.raises(Interrupted):
        client.upload_file(
            layout.local / "big.bin",
            "/",
            chunk_size=CHUNK,
            process_chunk=interrupt_at(20),
            timeout=T,
            compress=True,
        )
    assert visible_entries(layout.root) == []
    resumed = ChunkRecorder()
    client.upload_file(
        layout.local / "big.bin",
        "/",
        chunk_size=CHUNK,
        process_chunk=resumed,
        timeout=T,
        resume=True,
    )
    assert (layout.root / "big.bin").read_bytes() == data
    resumed_at = SIZE - resumed.remaining[0]
    assert resumed_at % CHUNK == 0
    assert 0 < resumed_at <= 20 * CHUNK


def test_upload_without_resume_starts_over(server: RunningServer, layout: Layout) -> None:
    data = write_random(layout.local / "big.bin", SIZE, seed=3)
    client = server.client(window=1)
    with pytest.raises(Interrupted):
        client.upload_file(
            layout.local / "big.bin",
            "/",
            chunk_size=CHUNK,
            process_chunk=interrupt_at(5),
            timeout=T,
        )
    again = ChunkRecorder()
    client.upload_file(
        layout.local / "big.bin", "/", chunk_size=CHUNK, process_chunk=again, timeout=T
    )
    assert again.remaining[0] == SIZE
    assert (layout.root / "big.bin").read_bytes() == data
    assert staged_files(layout.root) == []


def test_resume_with_a_changed_local_file_never_makes_a_corrupt_file(
    server: RunningServer, layout: Layout
) -> None:
    write_random(layout.local / "big.bin", SIZE, seed=4)
    client = server.client(window=1)
    with pytest.raises(Interrupted):
        client.upload_file(
            layout.local / "big.bin",
            "/",
            chunk_size=CHUNK,
            process_chunk=interrupt_at(5),
            timeout=T,
        )
    changed = write_random(layout.local / "big.bin", SIZE, seed=5)  # same size, new bytes
    with pytest.raises(DigestMismatchError):
        client.upload_file(layout.local / "big.bin", "/", chunk_size=CHUNK, timeout=T, resume=True)
    assert visible_entries(layout.root) == []
    client.upload_file(layout.local / "big.bin", "/", chunk_size=CHUNK, timeout=T, resume=True)
    assert (layout.root / "big.bin").read_bytes() == changed


def test_resume_with_nothing_staged_uploads_the_whole_file(
    server: RunningServer, layout: Layout
) -> None:
    data = write_random(layout.local / "f.bin", 3 * CHUNK, seed=6)
    recorder = ChunkRecorder()
    server.client().upload_file(
        layout.local / "f.bin",
        "/",
        chunk_size=CHUNK,
        process_chunk=recorder,
        timeout=T,
        resume=True,
    )
    assert recorder.remaining[0] == len(data)
    assert (layout.root / "f.bin").read_bytes() == data


#: A client in its own process, uploading slowly and saying how far it got.
SLOW_UPLOADER = r"""
import sys, time
from remofile.client import Client

endpoint, token, path = sys.argv[1:4]

def report(chunk, remaining, size, name):
    print(remaining, flush=True)
    time.sleep(0.01)

with Client(endpoint, None, token, window=1) as client:
    client.upload_file(path, "/", chunk_size=4096, process_chunk=report, timeout=5000)
"""


def test_upload_cut_by_a_killed_client_process_is_resumed_by_another_client(
    server: RunningServer, layout: Layout
) -> None:
    data = write_random(layout.local / "big.bin", SIZE, seed=7)
    uploader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SLOW_UPLOADER,
            server.endpoint,
            TOKEN,
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
            for _ in range(SIZE // CHUNK + 1):
                assert selector.select(10), "the uploader said nothing"
                if int(uploader.stdout.readline()) <= SIZE // 2:
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
    assert visible_entries(layout.root) == []
    client = server.client()
    # The dead client's session holds the server until it expires (300 ms here).
    resumed = ChunkRecorder()
    for _ in range(100):  # 5 s at most
        try:
            client.upload_file(
                layout.local / "big.bin",
                "/",
                chunk_size=CHUNK,
                process_chunk=resumed,
                timeout=T,
                resume=True,
            )
            break
        except ServerBusyError:
            time.sleep(0.05)
    else:
        pytest.fail("the dead client's session never expired")
    assert (layout.root / "big.bin").read_bytes() == data
    # It resumed: at most what was left when the uploader was killed remained to send.
    assert 0 < resumed.remaining[0] <= SIZE // 2


# -- downloads ---------------------------------------------------------------------------


def test_interrupted_download_with_resume_keeps_a_hidden_partial_and_completes(
    server: RunningServer, layout: Layout
) -> None:
    data = write_random(layout.root / "big.bin", SIZE, seed=8)
    client = server.client(window=1)
    with pytest.raises(Interrupted):
        client.download_file(
            "/big.bin",
            layout.local,
            chunk_size=CHUNK,
            process_chunk=interrupt_at(10),
            timeout=T,
            resume=True,
        )
    partial = layout.local / ".big.bin.remofile-partial"
    assert os.listdir(layout.local) == [partial.name]
    assert data.startswith(partial.read_bytes())
    assert len(partial.read_bytes()) == 10 * CHUNK
    resumed = ChunkRecorder()
    client.download_file(
        "/big.bin",
        layout.local,
        chunk_size=CHUNK,
        process_chunk=resumed,
        timeout=T,
        resume=True,
    )
    assert os.listdir(layout.local) == ["big.bin"]
    assert (layout.local / "big.bin").read_bytes() == data
    assert resumed.remaining == list(range(SIZE - 10 * CHUNK, 0, -CHUNK))


def test_interrupted_pipelined_download_with_resume_completes(
    server: RunningServer, layout: Layout
) -> None:
    data = write_random(layout.root / "big.bin", SIZE, seed=9)
    client = server.client(window=8)
    with pytest.raises(Interrupted):
        client.download_file(
            "/big.bin",
            layout.local,
            chunk_size=CHUNK,
            process_chunk=interrupt_at(25),
            timeout=T,
            resume=True,
            compress=True,
        )
    client.download_file("/big.bin", layout.local, chunk_size=CHUNK, timeout=T, resume=True)
    assert os.listdir(layout.local) == ["big.bin"]
    assert (layout.local / "big.bin").read_bytes() == data


def test_interrupted_download_without_resume_leaves_nothing(
    server: RunningServer, layout: Layout
) -> None:
    write_random(layout.root / "big.bin", SIZE, seed=10)
    client = server.client()
    with pytest.raises(Interrupted):
        client.download_file(
            "/big.bin",
            layout.local,
            chunk_size=CHUNK,
            process_chunk=interrupt_at(10),
            timeout=T,
        )
    assert os.listdir(layout.local) == []


def test_download_of_a_long_name_resumes(server: RunningServer, layout: Layout) -> None:
    name = "n" * 250  # its hidden partial would be longer than a file name may be
    data = write_random(layout.root / name, SIZE, seed=11)
    client = server.client(window=1)
    with pytest.raises(Interrupted):
        client.download_file(
            f"/{name}",
            layout.local,
            chunk_size=CHUNK,
            process_chunk=interrupt_at(3),
            timeout=T,
            resume=True,
        )
    (partial,) = os.listdir(layout.local)
    assert partial.startswith(".")
    assert partial.endswith(".remofile-partial")
    resumed = ChunkRecorder()
    client.download_file(
        f"/{name}",
        layout.local,
        chunk_size=CHUNK,
        process_chunk=resumed,
        timeout=T,
        resume=True,
    )
    assert os.listdir(layout.local) == [name]
    assert (layout.local / name).read_bytes() == data
    assert resumed.remaining[0] == SIZE - 3 * CHUNK


def test_resumed_download_of_a_file_changed_on_the_server_is_refused_then_redone(
    server: RunningServer, layout: Layout
) -> None:
    write_random(layout.root / "big.bin", SIZE, seed=12)
    client = server.client(window=1)
    with pytest.raises(Interrupted):
        client.download_file(
            "/big.bin",
            layout.local,
            chunk_size=CHUNK,
            process_chunk=interrupt_at(5),
            timeout=T,
            resume=True,
        )
    changed = write_random(layout.root / "big.bin", SIZE, seed=13)
    with pytest.raises(DigestMismatchError):
        client.download_file("/big.bin", layout.local, chunk_size=CHUNK, timeout=T, resume=True)
    assert not (layout.local / "big.bin").exists()
    client.download_file("/big.bin", layout.local, chunk_size=CHUNK, timeout=T, resume=True)
    assert (layout.local / "big.bin").read_bytes() == changed
    assert os.listdir(layout.local) == ["big.bin"]


def test_resumed_download_of_a_file_that_became_shorter_starts_over(
    server: RunningServer, layout: Layout
) -> None:
    write_random(layout.root / "big.bin", SIZE, seed=14)
    client = server.client(window=1)
    with pytest.raises(Interrupted):
        client.download_file(
            "/big.bin",
            layout.local,
            chunk_size=CHUNK,
            process_chunk=interrupt_at(5),
            timeout=T,
            resume=True,
        )
    shorter = write_random(layout.root / "big.bin", 100, seed=15)
    with pytest.raises(FileSizeError):
        client.download_file("/big.bin", layout.local, chunk_size=CHUNK, timeout=T, resume=True)
    assert not (layout.local / "big.bin").exists()
    client.download_file("/big.bin", layout.local, chunk_size=CHUNK, timeout=T, resume=True)
    assert (layout.local / "big.bin").read_bytes() == shorter
    assert os.listdir(layout.local) == ["big.bin"]
