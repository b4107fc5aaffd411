"""Files go up and come back byte for byte, whatever their size, the chunk size, the
window or the compression, and process_chunk sees every chunk as the seed API says."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import pytest
from client_harness import (
    CALL_TIMEOUT_MS,
    STAGING,
    TOKEN,
    ChunkRecorder,
    Layout,
    RunningServer,
    random_bytes,
    serve_in_thread,
    visible_entries,
    write_random,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from remofile.client import Client
from remofile.v1 import remofile_pb2 as pb

T = CALL_TIMEOUT_MS
CHUNK = 4096
MIB = 1024 * 1024

#: 0 B, 1 B, chunk - 1, chunk, chunk + 1, several chunks, several MiB.
SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 7, 3 * MIB + 5]

_names = itertools.count()


def fresh_name() -> str:
    return f"file-{next(_names)}.bin"


def expected_remaining(size: int, chunk_size: int, offset: int = 0) -> list[int]:
    """remaining_bytes of each call: from size - offset down, one chunk at a time."""
    return list(range(size - offset, 0, -chunk_size)) or [0]


def assert_chunks(recorder: ChunkRecorder, data: bytes, chunk_size: int, name: str) -> None:
    assert recorder.data == data
    assert recorder.remaining == expected_remaining(len(data), chunk_size)
    for chunk, remaining, file_size, file_name in recorder.calls:
        assert file_size == len(data)
        assert file_name == name
        assert len(chunk) == min(chunk_size, remaining)


@pytest.fixture
def server(layout: Layout) -> Iterator[RunningServer]:
    """One server whose chunk size range goes down to 512 bytes and up to 1 MiB."""
    with serve_in_thread(layout.root, chunk_size_range=(512, MIB)) as running:
        yield running


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "zlib"])
@pytest.mark.parametrize("size", SIZES)
def test_round_trip_is_byte_exact_and_chunks_are_reported(
    server: RunningServer, layout: Layout, size: int, compress: bool
) -> None:
    client = server.client()
    data = write_random(layout.local / "source.bin", size, seed=size)
    uploaded, downloaded = ChunkRecorder(), ChunkRecorder()
    client.upload_file(
        layout.local / "source.bin",
        "/",
        chunk_size=CHUNK,
        process_chunk=uploaded,
        timeout=T,
        compress=compress,
    )
    assert (layout.root / "source.bin").read_bytes() == data
    assert client.list_files("/", timeout=T)["source.bin"].size == size
    (layout.local / "back").mkdir()
    client.download_file(
        "/source.bin",
        layout.local / "back",
        chunk_size=CHUNK,
        process_chunk=downloaded,
        timeout=T,
        compress=compress,
    )
    assert (layout.local / "back" / "source.bin").read_bytes() == data
    assert_chunks(uploaded, data, CHUNK, "source.bin")
    assert_chunks(downloaded, data, CHUNK, "source.bin")
    assert sorted(os.listdir(layout.local / "back")) == ["source.bin"]
    assert visible_entries(layout.root) == ["source.bin"]


def test_default_and_minimum_chunk_sizes(server: RunningServer, layout: Layout) -> None:
    client = server.client()
    data = write_random(layout.local / "big.bin", 2 * MIB + 3, seed=7)
    client.upload_file(layout.local / "big.bin", "/", timeout=T)  # 1 MiB chunks
    assert (layout.root / "big.bin").read_bytes() == data
    small = write_random(layout.local / "small.bin", 300 * 512 + 1, seed=8)
    client.upload_file(layout.local / "small.bin", "/", chunk_size=512, timeout=T)
    client.download_file("/small.bin", layout.root.parent, chunk_size=512, timeout=T)
    assert (layout.root.parent / "small.bin").read_bytes() == small


def test_seed_progress_example_reaches_one_hundred_percent(
    server: RunningServer, layout: Layout
) -> None:
    """The seed's display_progress computes progress from remaining_bytes and the chunk."""
    write_random(layout.local / "progress.bin", 10 * 512 + 100)
    progress: list[float] = []

    def display_progress(
        chunk_data: bytes, remaining_bytes: int, file_size: int, file_name: str
    ) -> bool:
        progress.append((file_size - (remaining_bytes - len(chunk_data))) / file_size * 100)
        return True

    client = server.client()
    client.upload_file(
        layout.local / "progress.bin",
        "/",
        chunk_size=512,
        process_chunk=display_progress,
        timeout=T,
    )
    assert progress == sorted(progress)
    assert progress[-1] == 100.0
    assert len(progress) == 11
    progress.clear()
    (layout.local / "back").mkdir()
    client.download_file(
        "/progress.bin",
        layout.local / "back",
        chunk_size=512,
        process_chunk=display_progress,
        timeout=T,
    )
    assert progress[-1] == 100.0
    assert len(progress) == 11


@pytest.mark.parametrize("window", [1, 2, 16, 1000])
def test_any_window_moves_files_exactly(server: RunningServer, layout: Layout, window: int) -> None:
    """Windows of 16 and more use all the server allows (max_requests_in_flight): not a
    single response may be lost, however small and quick the chunks."""
    client = server.client(window=window)
    data = write_random(layout.local / "w.bin", 600 * 512 + 1, seed=window)
    (layout.local / "back").mkdir()
    for _ in range(2):
        recorder = ChunkRecorder()
        client.upload_file(
            layout.local / "w.bin", "/", chunk_size=512, process_chunk=recorder, timeout=T
        )
        assert_chunks(recorder, data, 512, "w.bin")
        recorder = ChunkRecorder()
        client.download_file(
            "/w.bin", layout.local / "back", chunk_size=512, process_chunk=recorder, timeout=T
        )
        assert_chunks(recorder, data, 512, "w.bin")
        assert (layout.local / "back" / "w.bin").read_bytes() == data
        assert (layout.root / "w.bin").read_bytes() == data
        client.delete_file("/w.bin", timeout=T)
        (layout.local / "back" / "w.bin").unlink()


def test_renaming_on_upload_and_on_download(server: RunningServer, layout: Layout) -> None:
    client = server.client()
    data = write_random(layout.local / "original.bin", 3000)
    recorder = ChunkRecorder()
    client.upload_file(
        layout.local / "original.bin",
        "/",
        name="renamed ✓.bin",
        chunk_size=1024,
        process_chunk=recorder,
        timeout=T,
    )
    assert visible_entries(layout.root) == ["renamed ✓.bin"]
    assert {call[3] for call in recorder.calls} == {"renamed ✓.bin"}
    recorder = ChunkRecorder()
    client.download_file(
        "/renamed ✓.bin",
        layout.local,
        name="back.bin",
        chunk_size=1024,
        process_chunk=recorder,
        timeout=T,
    )
    assert (layout.local / "back.bin").read_bytes() == data
    assert {call[3] for call in recorder.calls} == {"back.bin"}


def test_long_and_unicode_names_round_trip(server: RunningServer, layout: Layout) -> None:
    client = server.client()
    names = ["x" * 255, "é" * 127, "\U0001f4a9" * 63, "ﬁ ﬂ", " leading and trailing ", "..."]
    for index, name in enumerate(names):
        source = layout.local / "sources" / name
        source.parent.mkdir(exist_ok=True)
        data = write_random(source, 1000 + index, seed=index)
        client.upload_file(source, "/", chunk_size=512, timeout=T)
        (layout.local / "back").mkdir(exist_ok=True)
        client.download_file(f"/{name}", layout.local / "back", chunk_size=512, timeout=T)
        assert (layout.local / "back" / name).read_bytes() == data
    assert sorted(client.list_files("/", timeout=T)) == sorted(names)
    assert sorted(os.listdir(layout.local / "back")) == sorted(names)


def test_compressible_data_round_trips_compressed(server: RunningServer, layout: Layout) -> None:
    client = server.client()
    data = b"remofile " * 200_000
    (layout.local / "text.txt").write_bytes(data)
    client.upload_file(layout.local / "text.txt", "/", chunk_size=65536, compress=True, timeout=T)
    (layout.local / "back").mkdir()
    client.download_file(
        "/text.txt", layout.local / "back", chunk_size=65536, compress=True, timeout=T
    )
    assert (layout.root / "text.txt").read_bytes() == data
    assert (layout.local / "back" / "text.txt").read_bytes() == data


def test_upload_pipelines_chunks_before_answers_arrive(
    server: RunningServer, layout: Layout
) -> None:
    """With a window of 8, chunks are read ahead of the answers: the whole file of 4
    chunks has been passed to process_chunk by the time the upload is accepted."""
    write_random(layout.local / "p.bin", 4 * 512)
    client = server.client(window=8)
    seen_root: list[list[str]] = []

    def look(chunk: bytes, remaining: int, size: int, name: str) -> None:
        seen_root.append(visible_entries(layout.root))

    client.upload_file(layout.local / "p.bin", "/", chunk_size=512, process_chunk=look, timeout=T)
    assert seen_root == [[], [], [], []]  # never visible before it is complete
    assert visible_entries(layout.root) == ["p.bin"]


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    size=st.integers(min_value=0, max_value=20_000),
    chunk_size=st.integers(min_value=512, max_value=9000),
    window=st.integers(min_value=1, max_value=20),
    compress=st.booleans(),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_random_files_round_trip_exactly(
    server: RunningServer,
    layout: Layout,
    size: int,
    chunk_size: int,
    window: int,
    compress: bool,
    seed: int,
) -> None:
    name = fresh_name()
    source = layout.local / name
    data = random_bytes(size, seed)
    source.write_bytes(data)
    client = Client(server.endpoint, None, "qRkVWJcFRqi7rsNMbagaDd", window=window)
    try:
        up, down = ChunkRecorder(), ChunkRecorder()
        client.upload_file(
            source, "/", chunk_size=chunk_size, process_chunk=up, timeout=T, compress=compress
        )
        assert (layout.root / name).read_bytes() == data
        target = layout.local / "back"
        target.mkdir(exist_ok=True)
        client.download_file(
            f"/{name}",
            target,
            chunk_size=chunk_size,
            process_chunk=down,
            timeout=T,
            compress=compress,
        )
        assert (target / name).read_bytes() == data
        assert_chunks(up, data, chunk_size, name)
        assert_chunks(down, data, chunk_size, name)
        client.delete_file(f"/{name}", timeout=T)
    finally:
        client.close()
    assert not any(path.is_file() for path in (layout.root / STAGING).rglob("*"))


def test_files_of_many_sizes_in_one_session(server: RunningServer, layout: Layout) -> None:
    client = server.client(window=4)
    for size in range(0, 2048, 97):
        data = write_random(layout.local / f"s{size}", size, seed=size)
        client.upload_file(layout.local / f"s{size}", "/", chunk_size=512, timeout=T)
        assert (layout.root / f"s{size}").read_bytes() == data


class RecordingClient(Client):
    """A client that keeps every request it sends, to see what it asked for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[tuple[str, Any]] = []

    def send_request(self, kind: str, message: Any, data: Any) -> None:
        self.sent.append((kind, message))
        super().send_request(kind, message, data)


def test_transfers_use_blake3_when_the_server_has_it(server: RunningServer, layout: Layout) -> None:
    """Both ends have BLAKE3, several times faster than SHA-256: every transfer uses it,
    and its digests are of that algorithm (SPEC.md 7.2)."""
    data = write_random(layout.local / "b3.bin", 3 * 4096 + 1)
    client = RecordingClient(server.endpoint, None, TOKEN)
    try:
        client.upload_file(layout.local / "b3.bin", "/", chunk_size=4096, timeout=T)
        client.download_file("/b3.bin", layout.local, name="back.bin", timeout=T)
        with client.open("/b3.bin") as remote:
            assert remote.read() == data
    finally:
        client.close()
    assert (layout.local / "back.bin").read_bytes() == data
    starts = [message for kind, message in client.sent if kind in ("upload_file", "download_file")]
    assert len(starts) == 3
    assert {message.digest_algorithm for message in starts} == {pb.DIGEST_ALGORITHM_BLAKE3}
    last_chunk = [message for kind, message in client.sent if kind == "send_chunk"][-1]
    assert last_chunk.digest.algorithm == pb.DIGEST_ALGORITHM_BLAKE3
