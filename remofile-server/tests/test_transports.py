"""Every client operation against a real server in a thread and in a child process,
over tcp://127.0.0.1 and over ipc://."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from remofile.core import (
    DestinationNotFound,
    FileNameError,
    ServerBusyError,
    SourceNotFound,
)
from server_harness import (
    CALL_TIMEOUT_MS,
    STAGING,
    TRANSPORTS,
    Layout,
    RunningServer,
    ipc_endpoint,
    serve_in_process,
    serve_in_thread,
    snapshot,
    stop_process,
    visible_entries,
)


@pytest.fixture(params=TRANSPORTS)
def server(
    request: pytest.FixtureRequest, layout: Layout, socket_directory: str
) -> Iterator[RunningServer]:
    """The same server in each place (thread, process) and on each transport (tcp, ipc)."""
    where, transport = str(request.param).split("-")
    bind = "tcp" if transport == "tcp" else ipc_endpoint(socket_directory)
    serve = serve_in_thread if where == "thread" else serve_in_process
    with serve(layout.root, bind, chunk_size_range=(512, 1 << 20)) as running:
        assert running.endpoint.startswith("tcp://127.0.0.1:" if transport == "tcp" else "ipc://")
        yield running


def test_every_operation_works_on_every_transport(server: RunningServer, layout: Layout) -> None:
    client = server.client()
    root, local = layout.root, layout.local
    payload = os.urandom(3 * 4096 + 17)
    (local / "data.bin").write_bytes(payload)

    assert client.list_files("/", timeout=CALL_TIMEOUT_MS) == {}
    client.make_directory("docs", "/", timeout=CALL_TIMEOUT_MS)
    client.create_file("empty.txt", "/docs", timeout=CALL_TIMEOUT_MS)
    client.upload_file(local / "data.bin", "/docs", chunk_size=4096, timeout=CALL_TIMEOUT_MS)
    client.upload_file(
        local / "data.bin", "/", name="packed.bin", compress=True, timeout=CALL_TIMEOUT_MS
    )
    assert (root / "docs" / "data.bin").read_bytes() == payload
    assert (root / "packed.bin").read_bytes() == payload
    assert (root / "docs" / "empty.txt").read_bytes() == b""

    listing = client.list_files("/docs", timeout=CALL_TIMEOUT_MS)
    assert {name: (meta.is_directory, meta.size) for name, meta in listing.items()} == {
        "data.bin": (False, len(payload)),
        "empty.txt": (False, 0),
    }
    assert listing["data.bin"].modification_time == pytest.approx(
        (root / "docs" / "data.bin").stat().st_mtime, abs=1e-3
    )

    downloads = local / "downloads"
    downloads.mkdir()
    client.download_file("/docs/data.bin", downloads, chunk_size=4096, timeout=CALL_TIMEOUT_MS)
    client.download_file(
        "/packed.bin", downloads, name="unpacked.bin", compress=True, timeout=CALL_TIMEOUT_MS
    )
    assert (downloads / "data.bin").read_bytes() == payload
    assert (downloads / "unpacked.bin").read_bytes() == payload

    client.upload_directory(local / "downloads", "/", name="tree", timeout=CALL_TIMEOUT_MS)
    client.download_directory("/tree", local, name="tree-back", timeout=CALL_TIMEOUT_MS)
    assert snapshot(local / "tree-back") == snapshot(root / "tree")
    assert {k: v[:3] for k, v in snapshot(local / "tree-back").items()} == {
        k: v[:3] for k, v in snapshot(downloads).items()
    }

    client.delete_file("/docs/empty.txt", timeout=CALL_TIMEOUT_MS)
    client.delete_file("/tree", timeout=CALL_TIMEOUT_MS)
    client.delete_file("/docs", timeout=CALL_TIMEOUT_MS)
    assert sorted(client.list_files("/", timeout=CALL_TIMEOUT_MS)) == ["packed.bin"]
    assert visible_entries(root) == ["packed.bin"]
    assert STAGING not in client.list_files("/", timeout=CALL_TIMEOUT_MS)
    layout.assert_sentinel_unchanged()


def test_documented_refusals_travel_on_every_transport(
    server: RunningServer, layout: Layout
) -> None:
    client = server.client()
    (layout.local / "f").write_bytes(b"x")
    with pytest.raises(FileNotFoundError):
        client.list_files("/missing", timeout=CALL_TIMEOUT_MS)
    with pytest.raises(DestinationNotFound):
        client.upload_file(layout.local / "f", "/missing", timeout=CALL_TIMEOUT_MS)
    with pytest.raises(SourceNotFound):
        client.download_file("/missing", layout.local, timeout=CALL_TIMEOUT_MS)
    with pytest.raises(FileNameError):
        client.create_file("a:b", "/", timeout=CALL_TIMEOUT_MS)
    with pytest.raises(ValueError, match="absolute"):
        client.list_files("relative", timeout=CALL_TIMEOUT_MS)
    client.create_file("f", "/", timeout=CALL_TIMEOUT_MS)
    with pytest.raises(FileExistsError):
        client.upload_file(layout.local / "f", "/", timeout=CALL_TIMEOUT_MS)
    other = server.client()
    with pytest.raises(ServerBusyError):
        other.list_files("/", timeout=CALL_TIMEOUT_MS)
    client.close()
    assert list(other.list_files("/", timeout=CALL_TIMEOUT_MS)) == ["f"]


@pytest.mark.parametrize("where", ["thread", "process"])
def test_terminate_during_an_upload_returns_and_shows_no_partial_file(
    where: str, layout: Layout, socket_directory: str
) -> None:
    payload = os.urandom(64 * 4096)
    (layout.local / "big.bin").write_bytes(payload)
    (layout.local / "small.bin").write_bytes(b"complete")
    serve = serve_in_thread if where == "thread" else serve_in_process
    with serve(layout.root, ipc_endpoint(socket_directory)) as running:
        client = running.client(window=2)
        client.upload_file(layout.local / "small.bin", "/", timeout=CALL_TIMEOUT_MS)
        stopped: list[str] = []

        def stop_midway(chunk: bytes, remaining: int, size: int, name: str) -> None:
            if remaining <= size // 2 and not stopped:
                stopped.append(terminate(running))

        with pytest.raises(TimeoutError):
            client.upload_file(
                layout.local / "big.bin",
                "/",
                chunk_size=4096,
                process_chunk=stop_midway,
                timeout=250,
            )
        assert stopped == ["terminated"]
        assert visible_entries(layout.root) == ["small.bin"]
        assert (layout.root / "small.bin").read_bytes() == b"complete"
        staged = [path for path in (layout.root / STAGING).rglob("*") if path.is_file()]
        assert len(staged) == 1
        assert 0 < staged[0].stat().st_size < len(payload)
        assert payload.startswith(staged[0].read_bytes())
    layout.assert_sentinel_unchanged()


@pytest.mark.parametrize("where", ["thread", "process"])
def test_terminate_during_a_download_returns(
    where: str, layout: Layout, socket_directory: str
) -> None:
    (layout.root / "big.bin").write_bytes(os.urandom(64 * 4096))
    serve = serve_in_thread if where == "thread" else serve_in_process
    with serve(layout.root, ipc_endpoint(socket_directory)) as running:
        client = running.client(window=2)
        stopped: list[str] = []

        def stop_midway(chunk: bytes, remaining: int, size: int, name: str) -> None:
            if remaining <= size // 2 and not stopped:
                stopped.append(terminate(running))

        with pytest.raises(TimeoutError):
            client.download_file(
                "/big.bin",
                layout.local,
                chunk_size=4096,
                process_chunk=stop_midway,
                timeout=250,
            )
        assert stopped == ["terminated"]
        assert os.listdir(layout.local) == []
        assert visible_entries(layout.root) == ["big.bin"]


def test_upload_resumes_after_the_server_process_is_killed_and_restarted(
    layout: Layout, socket_directory: str
) -> None:
    payload = os.urandom(40 * 4096 + 5)
    (layout.local / "big.bin").write_bytes(payload)
    endpoint = ipc_endpoint(socket_directory)
    with serve_in_process(layout.root, endpoint) as first:
        client = first.client(window=1)
        first.clients.clear()  # the same client talks to the restarted server below

        def kill_midway(chunk: bytes, remaining: int, size: int, name: str) -> None:
            if remaining <= size // 2 and first.process is not None:
                first.process.kill()  # the child started by this test, by its handle
                first.process.wait(10)

        with pytest.raises(TimeoutError):
            client.upload_file(
                layout.local / "big.bin",
                "/",
                chunk_size=4096,
                process_chunk=kill_midway,
                timeout=250,
            )
    assert visible_entries(layout.root) == []
    with serve_in_process(layout.root, endpoint) as second:
        second.clients.append(client)
        remaining_seen: list[int] = []
        client.upload_file(
            layout.local / "big.bin",
            "/",
            chunk_size=4096,
            process_chunk=lambda chunk, remaining, size, name: remaining_seen.append(remaining),
            timeout=CALL_TIMEOUT_MS,
            resume=True,
        )
        assert (layout.root / "big.bin").read_bytes() == payload
        # It resumed: the first chunk sent is not the start of the file.
        assert remaining_seen[0] < len(payload)
        resumed_at = len(payload) - remaining_seen[0]
        assert resumed_at % 4096 == 0
        assert remaining_seen == list(range(len(payload) - resumed_at, 0, -4096))
        assert [path for path in (layout.root / STAGING).rglob("*") if path.is_file()] == []


def terminate(running: RunningServer) -> str:
    """Stop a server from the middle of a transfer; what its run() did when stopped."""
    if running.server is not None:
        assert running.thread is not None
        running.server.terminate()
        running.thread.join(10)
        return "still-running" if running.thread.is_alive() else "terminated"
    assert running.process is not None
    return stop_process(running.process)
