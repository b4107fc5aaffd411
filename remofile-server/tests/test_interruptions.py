"""What the server does when the world changes under a transfer or a removal."""

from __future__ import annotations

import os
import time

import pytest
from remofile.core import SessionExpiredError
from server_harness import (
    CALL_TIMEOUT_MS,
    STAGING,
    Layout,
    RunningServer,
    serve_in_thread,
    visible_entries,
)

T = CALL_TIMEOUT_MS


def test_name_taken_during_an_upload_is_not_replaced(served: RunningServer, layout: Layout) -> None:
    """SPEC 4.9.2: the server must not replace it; it answers REFUSED FILE_ALREADY_EXISTS
    and discards the staged data."""
    (layout.local / "upload.bin").write_bytes(os.urandom(8 * 1024))

    def someone_else_writes(chunk: bytes, remaining: int, size: int, name: str) -> None:
        if remaining == len(chunk):  # the last chunk: the upload was accepted long ago
            (layout.root / "upload.bin").write_bytes(b"someone else's")

    client = served.client(window=1)
    with pytest.raises(FileExistsError) as raised:
        client.upload_file(
            layout.local / "upload.bin",
            "/",
            chunk_size=1024,
            process_chunk=someone_else_writes,
            timeout=T,
        )
    assert str(layout.root) not in str(raised.value)
    assert (layout.root / "upload.bin").read_bytes() == b"someone else's"
    assert visible_entries(layout.root) == ["upload.bin"]
    assert not [path for path in (layout.root / STAGING).rglob("*") if path.is_file()]
    client.upload_file(layout.local / "upload.bin", "/", name="other.bin", timeout=T)
    assert (layout.root / "other.bin").read_bytes() == (layout.local / "upload.bin").read_bytes()


def test_removal_cut_short_hides_the_tree_and_the_server_finishes_it(
    served: RunningServer, layout: Layout
) -> None:
    (layout.root / "tree").mkdir()
    for index in range(300):
        (layout.root / "tree" / str(index)).touch()
    (layout.root / "kept").write_bytes(b"kept")

    class Stop(Exception):
        pass

    def stop(removed: int, remaining: int) -> None:
        raise Stop

    client = served.client()
    with pytest.raises(Stop):
        client.delete_file("/tree", timeout=T, process_removal=stop)
    assert list(client.list_files("/", timeout=T)) == ["kept"]
    assert visible_entries(layout.root) == ["kept"]
    trash = layout.root / STAGING / "trash"
    for _ in range(200):  # the server purges between requests, a batch at a time
        if not any(trash.iterdir()):
            break
        client.list_files("/", timeout=T)
        time.sleep(0.01)
    assert not any(trash.iterdir())
    assert (layout.root / "kept").read_bytes() == b"kept"


def test_session_expiring_during_a_slow_upload_then_resume(layout: Layout) -> None:
    data = os.urandom(10 * 1024)
    (layout.local / "slow.bin").write_bytes(data)

    def slow(chunk: bytes, remaining: int, size: int, name: str) -> None:
        if remaining == size - 4 * 1024:
            time.sleep(0.5)  # longer than the session timeout

    with serve_in_thread(layout.root, session_timeout_ms=200) as running:
        client = running.client(window=1)
        with pytest.raises(SessionExpiredError):
            client.upload_file(
                layout.local / "slow.bin", "/", chunk_size=1024, process_chunk=slow, timeout=T
            )
        assert visible_entries(layout.root) == []
        client.upload_file(layout.local / "slow.bin", "/", chunk_size=1024, timeout=T, resume=True)
        assert (layout.root / "slow.bin").read_bytes() == data


def test_removal_cut_by_terminate_is_finished_by_the_next_run(layout: Layout) -> None:
    (layout.root / "tree").mkdir()
    for index in range(300):
        (layout.root / "tree" / str(index)).touch()
    trash = layout.root / STAGING / "trash"
    with serve_in_thread(layout.root) as running:
        assert running.server is not None
        server, thread = running.server, running.thread
        assert thread is not None

        def stop_server(removed: int, remaining: int) -> None:
            server.terminate()
            thread.join(10)

        with pytest.raises(TimeoutError):
            running.client().delete_file("/tree", timeout=300, process_removal=stop_server)
        assert not thread.is_alive()
        assert visible_entries(layout.root) == []
        assert any(trash.iterdir())
    with serve_in_thread(layout.root) as running:
        client = running.client()
        for _ in range(200):  # purged a batch at a time while idle
            if not any(trash.iterdir()):
                break
            time.sleep(0.01)
        assert not any(trash.iterdir())
        assert client.list_files("/", timeout=T) == {}
