"""Small downloads written on writer threads (local_writer.py): bounded, and failures
are reported, never lost."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest
from client_harness import (
    CALL_TIMEOUT_MS,
    Layout,
    RunningServer,
    serve_in_thread,
    tree,
)
from remofile.client.local_writer import MAX_PENDING_FILES, LocalWriter

T = CALL_TIMEOUT_MS


@pytest.fixture
def server(layout: Layout) -> Iterator[RunningServer]:
    with serve_in_thread(layout.root, chunk_size_range=(512, 1 << 20)) as running:
        yield running


def test_queued_files_are_bounded_and_submit_waits_for_room() -> None:
    writer = LocalWriter()
    release = threading.Event()
    for _ in range(MAX_PENDING_FILES):
        writer.submit(lambda: release.wait(10) and None)
    blocked = threading.Thread(target=writer.submit, args=(lambda: None,), daemon=True)
    blocked.start()
    time.sleep(0.2)
    assert blocked.is_alive(), "a submit beyond the bound must wait"
    release.set()
    blocked.join(5)
    assert not blocked.is_alive()
    writer.finish()


def test_the_first_failure_is_raised_by_finish() -> None:
    writer = LocalWriter()
    writer.submit(lambda: None)

    def fails() -> None:
        raise OSError(28, "No space left on device")

    writer.submit(fails)
    with pytest.raises(OSError, match="No space left"):
        writer.finish()


def test_a_tree_of_small_and_larger_files_arrives_byte_exact(
    server: RunningServer, layout: Layout
) -> None:
    source = layout.root / "mixed"
    for directory in range(3):
        (source / f"d{directory}").mkdir(parents=True)
        for index in range(40):
            size = (index * 131) % 3000 if index % 7 else 5000  # one chunk, or two
            (source / f"d{directory}" / f"f{index}").write_bytes(os.urandom(size))
    client = server.client()
    client.download_directory("/mixed", layout.local, chunk_size=4096, timeout=T)
    assert tree(layout.local / "mixed") == tree(source)
    leftovers = [name for _, _, names in os.walk(layout.local) for name in names]
    assert not [name for name in leftovers if name.endswith(".remofile-partial")]


def test_a_name_taken_locally_before_a_small_file_is_written_is_not_replaced(
    server: RunningServer, layout: Layout
) -> None:
    """The file is checked free before the download starts; if another process takes
    the name meanwhile, the download fails with FileExistsError and the other file stays."""
    (layout.root / "small.bin").write_bytes(b"from the server")

    def someone_else_writes(chunk: bytes, remaining: int, size: int, name: str) -> None:
        (layout.local / "small.bin").write_bytes(b"someone else's")

    client = server.client()
    with pytest.raises(FileExistsError):
        client.download_file(
            "/small.bin", layout.local, process_chunk=someone_else_writes, timeout=T
        )
    assert (layout.local / "small.bin").read_bytes() == b"someone else's"
    assert sorted(os.listdir(layout.local)) == ["small.bin"]
