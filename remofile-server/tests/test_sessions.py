"""One client at a time: tokens, busy refusals, goodbyes and expiring sessions."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest
from remofile.core import AccessDeniedError, ServerBusyError
from remofile.server.storage import EntryInfo, LocalStorage
from server_harness import (
    CALL_TIMEOUT_MS,
    Layout,
    RunningServer,
    serve_in_thread,
    snapshot,
    visible_entries,
)

#: A session silent for longer than this is closed by the servers of these tests.
SESSION_TIMEOUT_MS = 300


@pytest.fixture
def short_sessions(layout: Layout) -> Iterator[RunningServer]:
    with serve_in_thread(layout.root, session_timeout_ms=SESSION_TIMEOUT_MS) as running:
        yield running


def wait_for_expiry() -> None:
    time.sleep(SESSION_TIMEOUT_MS * 1.7 / 1000)


def test_wrong_token_is_denied_and_learns_nothing(served: RunningServer, layout: Layout) -> None:
    (layout.root / "private.txt").write_bytes(b"private")
    (layout.local / "upload.txt").write_bytes(b"intruder")
    before = snapshot(layout.root)
    intruder = served.client(token="wrong-token-0123456789")
    operations = [
        lambda: intruder.list_files("/", timeout=CALL_TIMEOUT_MS),
        lambda: intruder.create_file("new.txt", "/", timeout=CALL_TIMEOUT_MS),
        lambda: intruder.make_directory("new", "/", timeout=CALL_TIMEOUT_MS),
        lambda: intruder.upload_file(layout.local / "upload.txt", "/", timeout=CALL_TIMEOUT_MS),
        lambda: intruder.download_file("/private.txt", layout.local, timeout=CALL_TIMEOUT_MS),
        lambda: intruder.delete_file("/private.txt", timeout=CALL_TIMEOUT_MS),
    ]
    for operation in operations:
        with pytest.raises(AccessDeniedError) as raised:
            operation()
        assert "private" not in str(raised.value)
    assert snapshot(layout.root) == before
    assert sorted(os.listdir(layout.local)) == ["upload.txt"]
    assert list(served.client().list_files("/", timeout=CALL_TIMEOUT_MS)) == ["private.txt"]


def test_wrong_token_does_not_disturb_the_live_session(served: RunningServer) -> None:
    owner = served.client()
    owner.create_file("mine", "/", timeout=CALL_TIMEOUT_MS)
    with pytest.raises(AccessDeniedError):
        served.client(token="wrong-token-0123456789").list_files("/", timeout=CALL_TIMEOUT_MS)
    assert list(owner.list_files("/", timeout=CALL_TIMEOUT_MS)) == ["mine"]


def test_second_client_is_refused_busy_at_once_then_served_after_close(
    served: RunningServer,
) -> None:
    first, second = served.client(), served.client()
    first.list_files("/", timeout=CALL_TIMEOUT_MS)
    started = time.monotonic()
    with pytest.raises(ServerBusyError):
        second.list_files("/", timeout=CALL_TIMEOUT_MS)
    assert time.monotonic() - started < 1.0
    with pytest.raises(ServerBusyError):
        second.create_file("nope", "/", timeout=CALL_TIMEOUT_MS)
    first.create_file("first", "/", timeout=CALL_TIMEOUT_MS)
    first.close()
    second.create_file("second", "/", timeout=CALL_TIMEOUT_MS)
    assert sorted(second.list_files("/", timeout=CALL_TIMEOUT_MS)) == ["first", "second"]


def test_busy_refusal_during_a_transfer_does_not_break_it(
    served: RunningServer, layout: Layout
) -> None:
    payload = os.urandom(32 * 4096)
    (layout.local / "big.bin").write_bytes(payload)
    owner, other = served.client(window=1), served.client()
    refused: list[type[BaseException]] = []

    def meanwhile(chunk: bytes, remaining: int, size: int, name: str) -> None:
        if remaining == size // 2:
            started = time.monotonic()
            try:
                other.list_files("/", timeout=CALL_TIMEOUT_MS)
            except ServerBusyError as error:
                refused.append(type(error))
            assert time.monotonic() - started < 1.0

    owner.upload_file(
        layout.local / "big.bin", "/", chunk_size=4096, process_chunk=meanwhile, timeout=5000
    )
    assert refused == [ServerBusyError]
    assert (layout.root / "big.bin").read_bytes() == payload


def test_silent_session_expires_and_frees_the_server(short_sessions: RunningServer) -> None:
    silent, other = short_sessions.client(), short_sessions.client()
    silent.list_files("/", timeout=CALL_TIMEOUT_MS)
    with pytest.raises(ServerBusyError):
        other.list_files("/", timeout=CALL_TIMEOUT_MS)
    wait_for_expiry()
    other.create_file("other", "/", timeout=CALL_TIMEOUT_MS)
    # The server is now the other client's: the silent one is refused, not served.
    with pytest.raises(ServerBusyError):
        silent.list_files("/", timeout=CALL_TIMEOUT_MS)
    other.close()
    assert list(silent.list_files("/", timeout=CALL_TIMEOUT_MS)) == ["other"]


@pytest.mark.parametrize(
    "operation",
    ["list_files", "upload_file", "download_file", "delete"],
)
def test_expired_session_is_reopened_transparently_by_the_next_call(
    short_sessions: RunningServer, layout: Layout, operation: str
) -> None:
    (layout.root / "remote.bin").write_bytes(b"remote data")
    (layout.local / "local.bin").write_bytes(b"local data")
    client = short_sessions.client()
    client.list_files("/", timeout=CALL_TIMEOUT_MS)
    wait_for_expiry()
    if operation == "list_files":
        assert list(client.list_files("/", timeout=CALL_TIMEOUT_MS)) == ["remote.bin"]
    elif operation == "upload_file":
        client.upload_file(layout.local / "local.bin", "/", timeout=CALL_TIMEOUT_MS)
        assert (layout.root / "local.bin").read_bytes() == b"local data"
    elif operation == "download_file":
        client.download_file("/remote.bin", layout.local, timeout=CALL_TIMEOUT_MS)
        assert (layout.local / "remote.bin").read_bytes() == b"remote data"
    else:
        client.delete_file("/remote.bin", timeout=CALL_TIMEOUT_MS)
        assert not (layout.root / "remote.bin").exists()


def test_expired_session_is_not_reopened_while_another_client_holds_the_server(
    short_sessions: RunningServer, layout: Layout
) -> None:
    (layout.local / "local.bin").write_bytes(b"local data")
    silent, other = short_sessions.client(), short_sessions.client()
    silent.list_files("/", timeout=CALL_TIMEOUT_MS)
    wait_for_expiry()
    other.list_files("/", timeout=CALL_TIMEOUT_MS)
    with pytest.raises(ServerBusyError):
        silent.upload_file(layout.local / "local.bin", "/", timeout=CALL_TIMEOUT_MS)
    with pytest.raises(ServerBusyError):
        silent.create_file("x", "/", timeout=CALL_TIMEOUT_MS)
    assert visible_entries(layout.root) == []


def test_closing_a_client_that_never_called_is_harmless(served: RunningServer) -> None:
    served.client().close()
    assert served.client().list_files("/", timeout=CALL_TIMEOUT_MS) == {}


class SlowListingStorage(LocalStorage):
    """A local directory whose listings take longer than a session's timeout, as a
    remote backend's can: the work of one request, not silence of the client."""

    def list_directory(self, directory: tuple[str, ...], recursive: bool) -> list[EntryInfo]:
        time.sleep(SESSION_TIMEOUT_MS * 2 / 1000)
        return super().list_directory(directory, recursive)


def test_a_request_longer_than_the_timeout_keeps_its_session(layout: Layout) -> None:
    """SPEC 3.4.1: the work on an admitted request and its answer count as activity, so
    a slow request neither ends its own session nor lets another client in meanwhile."""
    (layout.root / "kept").write_bytes(b"")
    storage = SlowListingStorage(layout.root)
    with serve_in_thread(
        layout.root, storage=storage, session_timeout_ms=SESSION_TIMEOUT_MS
    ) as running:
        owner, other = running.client(), running.client()
        owner.create_file("first", "/", timeout=CALL_TIMEOUT_MS)
        listed: list[list[str]] = []
        slow = threading.Thread(
            target=lambda: listed.append(sorted(owner.list_files("/", timeout=CALL_TIMEOUT_MS)))
        )
        slow.start()
        time.sleep(SESSION_TIMEOUT_MS * 1.5 / 1000)  # past the timeout, mid-request
        with pytest.raises(ServerBusyError):
            other.create_file("intruder", "/", timeout=CALL_TIMEOUT_MS)
        slow.join(CALL_TIMEOUT_MS / 1000)
        assert listed == [["first", "kept"]]
        wait_for_expiry()  # silence, now: the session ends as before
        other.create_file("other", "/", timeout=CALL_TIMEOUT_MS)
    assert visible_entries(layout.root) == ["first", "kept", "other"]
