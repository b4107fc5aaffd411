"""Client.open: remote files read and written from code (seed roadmap 6.3).

'rb' streams the file through the DOWNLOAD state with seek() support; 'wb' and 'xb'
collect what is written and upload it on close(), so the remote file appears whole or
not at all. Checked against a real server on 127.0.0.1 serving a real directory; the
reading side is compared step by step with the same file opened locally.
"""

from __future__ import annotations

import gc
import io
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from client_harness import (
    CALL_TIMEOUT_MS,
    TOKEN,
    Layout,
    RunningServer,
    random_bytes,
    serve_in_thread,
    visible_entries,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from remofile.client import Client
from remofile.client.remote_file import SPOOL_MEMORY_BYTES, RemoteWriter
from remofile.core import SourceNotFound

T = CALL_TIMEOUT_MS
CHUNK = 512


@pytest.fixture
def server(layout: Layout) -> Iterator[RunningServer]:
    with serve_in_thread(layout.root, chunk_size_range=(CHUNK, 1 << 20), sync_writes=False) as run:
        yield run


class RecordingClient(Client):
    """A real client that notes the requests it sends and how many await an answer."""

    def __init__(self, *arguments: Any, **options: Any) -> None:
        super().__init__(*arguments, **options)
        self.sent: list[str] = []
        #: Every request sent (its kind) and every answer awaited ("answer"), in order.
        self.events: list[str] = []
        self.outstanding = 0
        self.most_outstanding = 0

    def send_request(self, kind: str, message: Any, data: Any) -> None:
        super().send_request(kind, message, data)
        self.sent.append(kind)
        self.events.append(kind)
        self.outstanding += 1
        self.most_outstanding = max(self.most_outstanding, self.outstanding)

    def receive_response(self, timeout_ms: int | None) -> Any:
        answer = super().receive_response(timeout_ms)
        self.events.append("answer")
        self.outstanding -= 1
        return answer

    def _abandon(self) -> None:
        super()._abandon()
        self.outstanding = 0


@pytest.fixture
def client(server: RunningServer) -> RecordingClient:
    recording = RecordingClient(server.endpoint, None, TOKEN)
    server.clients.append(recording)
    return recording


def assert_idle(client: Client, layout: Layout, *, reopening: bool = True) -> None:
    """The server is back in IDLE: requests only IDLE accepts succeed. After a failed
    transfer the client reopens its session first (HELLO brings the server back to
    IDLE); with ``reopening`` False it must not have needed to."""
    if isinstance(client, RecordingClient):
        client.sent.clear()
    client.make_directory("idle-check", "/", timeout=T)
    assert (layout.root / "idle-check").is_dir()
    client.delete_file("/idle-check", timeout=T)
    if isinstance(client, RecordingClient):
        allowed = [["make_directory", "remove_file"]]
        if reopening:
            allowed.append(["hello", "make_directory", "remove_file"])
        assert client.sent in allowed
        assert client.outstanding == 0


# -- reading ----------------------------------------------------------------------------


def test_read_whole_file(client: Client, layout: Layout) -> None:
    data = random_bytes(10_000, seed=1)
    (layout.root / "f.bin").write_bytes(data)
    with client.open("/f.bin", chunk_size=CHUNK, timeout=T) as remote:
        assert remote.readable()
        assert remote.seekable()
        assert remote.read() == data
        assert remote.read() == b""
        assert remote.read(10) == b""
    assert remote.closed
    assert_idle(client, layout)


def test_read_in_pieces_and_readinto(client: Client, layout: Layout) -> None:
    data = random_bytes(3000, seed=2)
    (layout.root / "f.bin").write_bytes(data)
    with client.open("/f.bin", chunk_size=CHUNK, timeout=T) as remote:
        assert remote.read(1) == data[:1]
        assert remote.read(600) == data[1:601]
        buffer = bytearray(1000)
        assert remote.readinto(buffer) == 1000
        assert bytes(buffer) == data[601:1601]
        assert remote.read(5000) == data[1601:]
        assert remote.read(1) == b""


def test_file_of_many_chunks_streams_whole(client: Client, layout: Layout) -> None:
    data = random_bytes(300 * CHUNK + 7, seed=3)
    (layout.root / "big.bin").write_bytes(data)
    with client.open("/big.bin", chunk_size=CHUNK, timeout=T) as remote:
        pieces = list(iter(lambda: remote.read(1000), b""))
    assert b"".join(pieces) == data
    assert_idle(client, layout)


def test_empty_file(client: Client, layout: Layout) -> None:
    (layout.root / "empty").write_bytes(b"")
    with client.open("/empty", chunk_size=CHUNK, timeout=T) as remote:
        assert remote.read() == b""
        assert remote.read(1) == b""
        assert remote.seek(0, io.SEEK_END) == 0
        assert remote.tell() == 0
        assert list(remote) == []
    assert_idle(client, layout)


def test_binary_lines(client: Client, layout: Layout) -> None:
    data = b"".join(b"line %d " % index + b"x" * (index * 37 % 700) + b"\n" for index in range(50))
    (layout.root / "lines").write_bytes(data + b"no newline at the end")
    with client.open("/lines", chunk_size=CHUNK, timeout=T) as remote:
        lines = list(remote)
    with open(layout.root / "lines", "rb") as local:
        assert lines == list(local)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_text_lines_through_text_io_wrapper(client: Client, layout: Layout, newline: str) -> None:
    # Multi-byte characters and lines longer than a chunk, so both cross chunk borders.
    text = newline.join(f"{index} héllo wörld ✓ 𝄞 " * (index % 40) for index in range(120))
    (layout.root / "text.txt").write_bytes(text.encode("utf-8"))
    remote = client.open("/text.txt", chunk_size=CHUNK, timeout=T)
    assert isinstance(remote, io.BufferedReader)
    with io.TextIOWrapper(remote, encoding="utf-8") as wrapper:
        lines = list(wrapper)
    assert remote.closed
    with open(layout.root / "text.txt", encoding="utf-8") as local:
        assert lines == list(local)
    assert len(lines) == 120
    assert_idle(client, layout)


def test_seek_and_tell_with_every_whence(client: Client, layout: Layout) -> None:
    data = random_bytes(5000, seed=4)
    (layout.root / "f.bin").write_bytes(data)
    with client.open("/f.bin", chunk_size=CHUNK, timeout=T) as remote:
        assert remote.tell() == 0
        assert remote.seek(4000) == 4000
        assert remote.read(10) == data[4000:4010]
        assert remote.tell() == 4010
        assert remote.seek(-3000, io.SEEK_CUR) == 1010
        assert remote.read(5) == data[1010:1015]
        assert remote.seek(-100, io.SEEK_END) == 4900
        assert remote.read() == data[4900:]
        assert remote.seek(0) == 0
        assert remote.read(CHUNK * 2) == data[: CHUNK * 2]
        assert remote.seek(0, io.SEEK_CUR) == CHUNK * 2
    assert_idle(client, layout)


def test_reading_past_the_end(client: Client, layout: Layout) -> None:
    data = random_bytes(1000, seed=5)
    (layout.root / "f.bin").write_bytes(data)
    with client.open("/f.bin", chunk_size=CHUNK, timeout=T) as remote:
        assert remote.read(5000) == data
        assert remote.read(5000) == b""
        # Seeking past the end is allowed, as for a local file, and reads nothing.
        assert remote.seek(3000) == 3000
        assert remote.tell() == 3000
        assert remote.read() == b""
        assert remote.seek(-2500, io.SEEK_CUR) == 500
        assert remote.read(10) == data[500:510]
        assert remote.seek(10, io.SEEK_END) == 1010
        assert remote.tell() == 1010
        assert remote.read(1) == b""
    assert_idle(client, layout)


def test_negative_seek_is_refused(client: Client, layout: Layout) -> None:
    (layout.root / "f.bin").write_bytes(b"0123456789")
    with client.open("/f.bin", chunk_size=CHUNK, timeout=T) as remote:
        with pytest.raises((ValueError, OSError)):
            remote.seek(-1)
        with pytest.raises((ValueError, OSError)):
            remote.seek(-11, io.SEEK_END)
        assert remote.read() == b"0123456789"


SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 4 * CHUNK + 100]
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("read"), st.none() | st.integers(-1, 3 * CHUNK)),
        st.tuples(st.just("read1"), st.integers(-1, 3 * CHUNK)),
        st.tuples(st.just("readline"), st.integers(-1, 3 * CHUNK)),
        st.tuples(st.just("seek"), st.integers(0, 5 * CHUNK), st.sampled_from([0, 1, 2])),
        st.tuples(st.just("tell")),
    ),
    max_size=12,
)
EXAMPLE_NUMBERS = itertools.count()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(size=st.sampled_from(SIZES), operations=OPERATIONS, seed=st.integers(0, 3))
def test_random_reads_and_seeks_match_a_local_file(
    client: Client, layout: Layout, size: int, operations: list[tuple[Any, ...]], seed: int
) -> None:
    name = f"f-{size}-{seed}"
    path = layout.root / name
    if not path.exists():
        # Text-like bytes with newlines, so readline has lines to find.
        path.write_bytes(random_bytes(size, seed).replace(b"\x00", b"\n"))
    with client.open(f"/{name}", chunk_size=CHUNK, timeout=T) as remote, open(path, "rb") as local:
        for operation in operations:
            if operation[0] == "seek":
                # A target position drawn in [0, end of file + some], reached from
                # the start, the current position or the end.
                target, whence = operation[1], operation[2]
                base = (0, local.tell(), size)[whence]
                assert remote.seek(target - base, whence) == local.seek(target - base, whence)
            elif operation[0] == "read1":
                # At most one raw read: may stop earlier than a local file, never empty
                # before the end.
                piece = remote.read1(operation[1])
                assert piece == local.read(len(piece))
                if operation[1] != 0 and local.tell() < size:
                    assert piece
            else:
                method = operation[0]
                assert getattr(remote, method)(*operation[1:]) == getattr(local, method)(
                    *operation[1:]
                ), operation
            assert remote.tell() == local.tell()
        assert remote.read() == local.read()
    assert_idle(client, layout)


def test_a_read_after_a_seek_costs_one_round_trip(client: RecordingClient, layout: Layout) -> None:
    data = random_bytes(3 * 1024 * 1024, seed=11)
    (layout.root / "big.bin").write_bytes(data)
    with client.open("/big.bin", chunk_size=1 << 20, timeout=T) as remote:
        assert remote.read(10) == data[:10]  # streaming: a window of 1 MiB chunks asked for
        for offset in (2_000_000, 17, 3_000_000, 1_048_575):
            client.events.clear()
            assert remote.seek(offset) == offset
            assert client.events == []  # a seek alone sends nothing
            assert remote.read(4096) == data[offset : offset + 4096]
            # The old transfer's end, the new one and its first chunk go out together,
            # before any answer is awaited: one round trip.
            first_answer = client.events.index("answer")
            assert client.events[:first_answer][-2:] == ["download_file", "receive_chunk"]
            assert client.events.count("download_file") == 1
            # The chunk fetched is small: the next 60 KiB are already there.
            client.events.clear()
            assert remote.read(60_000) == data[offset + 4096 : offset + 64_096]
            assert "download_file" not in client.events
    assert_idle(client, layout, reopening=False)


def test_reading_on_after_a_seek_streams_again(client: RecordingClient, layout: Layout) -> None:
    data = random_bytes(3 * 1024 * 1024, seed=12)
    (layout.root / "big.bin").write_bytes(data)
    with client.open("/big.bin", chunk_size=1 << 20, timeout=T) as remote:
        remote.seek(100_000)
        client.sent.clear()
        assert remote.read() == data[100_000:]
        # Small chunks first, then one new transfer of full chunks to the end.
        assert client.sent.count("download_file") == 2
        assert client.sent.count("receive_chunk") < 12
        remote.seek(0)
        assert remote.read() == data  # from the start again: checked against the digest
    assert_idle(client, layout, reopening=False)


def test_suspended_reader_goes_on_where_it_stood(client: RecordingClient, layout: Layout) -> None:
    data = random_bytes(40 * CHUNK, seed=13)
    (layout.root / "f.bin").write_bytes(data)
    raw = client.open("/f.bin", chunk_size=CHUNK, timeout=T).raw  # type: ignore[union-attr]
    got = bytearray()
    while piece := raw.read(3 * CHUNK):
        got += piece
        raw.suspend()  # the session is free: other requests may run
        assert client.list_files("/", timeout=T)["f.bin"].size == len(data)
    assert bytes(got) == data
    raw.close()
    assert_idle(client, layout, reopening=False)


def test_closing_in_the_middle_leaves_the_server_idle(
    client: RecordingClient, layout: Layout
) -> None:
    data = random_bytes(200 * CHUNK, seed=6)
    (layout.root / "big.bin").write_bytes(data)
    (layout.local / "up.txt").write_bytes(b"uploaded after")
    for stop_after in (0, 1, 3 * CHUNK, 100 * CHUNK):
        remote = client.open("/big.bin", chunk_size=CHUNK, timeout=T)
        assert remote.read(stop_after) == data[:stop_after]
        remote.close()
        # The transfer was cancelled cleanly: no session had to be reopened.
        assert client.sent[-1] == "cancel_transfer"
        assert client.outstanding == 0
        assert_idle(client, layout, reopening=False)
    client.upload_file(layout.local / "up.txt", "/", timeout=T)
    client.download_file("/big.bin", layout.local, timeout=T)
    assert (layout.local / "big.bin").read_bytes() == data
    assert client.list_files("/", timeout=T)["up.txt"].size == 14
    with client.open("/big.bin", chunk_size=CHUNK, timeout=T) as again:
        assert again.read() == data


def test_an_error_inside_a_reading_block_closes_the_file(client: Client, layout: Layout) -> None:
    (layout.root / "f.bin").write_bytes(random_bytes(20 * CHUNK))
    remote = client.open("/f.bin", chunk_size=CHUNK, timeout=T)

    def read_then_fail() -> None:
        with remote:
            remote.read(CHUNK + 1)
            raise RuntimeError("caller failure")

    with pytest.raises(RuntimeError, match="caller"):
        read_then_fail()
    assert remote.closed
    assert_idle(client, layout)


def test_reading_keeps_within_the_servers_window(server: RunningServer, layout: Layout) -> None:
    """SPEC 6.1: a client MUST keep its window within max_requests_in_flight."""
    data = random_bytes(100 * CHUNK, seed=7)
    (layout.root / "f.bin").write_bytes(data)
    greedy = RecordingClient(server.endpoint, None, TOKEN, window=64)
    server.clients.append(greedy)
    limit = greedy.server_info(T).max_requests_in_flight
    assert limit < 64
    with greedy.open("/f.bin", chunk_size=CHUNK, timeout=T) as remote:
        assert remote.read() == data
    assert 1 < greedy.most_outstanding <= limit


@pytest.mark.parametrize("path", ["/missing", "/missing/deeper", "/dir/missing"])
def test_opening_a_missing_file_raises_source_not_found(
    client: Client, layout: Layout, path: str
) -> None:
    (layout.root / "dir").mkdir()
    with pytest.raises(SourceNotFound):
        client.open(path, timeout=T)
    assert_idle(client, layout)


@pytest.mark.parametrize("path", ["/dir", "/"])
def test_opening_a_directory_raises_source_not_found(
    client: Client, layout: Layout, path: str
) -> None:
    (layout.root / "dir").mkdir()
    with pytest.raises(SourceNotFound):
        client.open(path, timeout=T)
    assert_idle(client, layout)


def test_invalid_paths_and_modes(client: Client, layout: Layout) -> None:
    (layout.root / "f").write_bytes(b"f")
    with pytest.raises(ValueError, match="absolute"):
        client.open("relative/path", timeout=T)
    with pytest.raises(ValueError, match="absolute"):
        client.open("relative", "wb", timeout=T)
    for mode in ("ab", "r+b", "rt", "wt", "a"):
        with pytest.raises(ValueError, match="mode"):
            client.open("/f", mode, timeout=T)
    assert visible_entries(layout.root) == ["f"]
    assert_idle(client, layout)


# -- writing -----------------------------------------------------------------------------


def test_write_creates_the_file_only_when_closed(client: Client, layout: Layout) -> None:
    (layout.root / "dir").mkdir()
    writer = client.open("/dir/new.bin", "wb", chunk_size=CHUNK, timeout=T)
    assert isinstance(writer, RemoteWriter)
    assert writer.writable()
    assert writer.write(b"hello ") == 6
    assert writer.write(memoryview(b"remote world")) == 12
    assert writer.write(bytearray(3000)) == 3000
    # Nothing under the name yet, on disk or for a client.
    assert os.listdir(layout.root / "dir") == []
    assert client.list_files("/dir", timeout=T) == {}
    writer.close()
    assert writer.closed
    assert (layout.root / "dir" / "new.bin").read_bytes() == b"hello remote world" + bytes(3000)
    assert client.list_files("/dir", timeout=T)["new.bin"].size == 3018
    writer.close()  # closing twice uploads nothing more
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"late")
    assert_idle(client, layout)


def test_write_replaces_an_existing_file_when_closed(client: Client, layout: Layout) -> None:
    (layout.root / "f.txt").write_bytes(b"old content")
    with client.open("/f.txt", "wb", chunk_size=CHUNK, timeout=T) as writer:
        writer.write(b"new")
        assert (layout.root / "f.txt").read_bytes() == b"old content"
    assert (layout.root / "f.txt").read_bytes() == b"new"
    assert visible_entries(layout.root) == ["f.txt"]


def test_write_an_empty_file(client: Client, layout: Layout) -> None:
    with client.open("/empty", "wb", timeout=T):
        pass
    assert (layout.root / "empty").read_bytes() == b""


def test_exclusive_write_refuses_an_existing_file(client: Client, layout: Layout) -> None:
    (layout.root / "taken").write_bytes(b"keep me")
    (layout.root / "dir").mkdir()
    for path in ("/taken", "/dir"):
        with pytest.raises(FileExistsError):
            client.open(path, "xb", timeout=T)
    assert (layout.root / "taken").read_bytes() == b"keep me"
    with client.open("/fresh", "xb", chunk_size=CHUNK, timeout=T) as writer:
        writer.write(b"made exclusively")
    assert (layout.root / "fresh").read_bytes() == b"made exclusively"
    assert_idle(client, layout)


def test_exclusive_write_fails_on_close_if_the_name_was_taken_meanwhile(
    client: Client, layout: Layout
) -> None:
    writer = client.open("/raced", "xb", timeout=T)
    writer.write(b"mine")
    (layout.root / "raced").write_bytes(b"theirs")
    with pytest.raises(FileExistsError):
        writer.close()
    assert writer.closed
    assert (layout.root / "raced").read_bytes() == b"theirs"
    assert_idle(client, layout)


def test_writing_over_a_directory_or_into_a_missing_one_is_refused(
    client: Client, layout: Layout
) -> None:
    (layout.root / "dir").mkdir()
    (layout.root / "dir" / "inner").write_bytes(b"i")
    with pytest.raises((IsADirectoryError, FileExistsError)):
        client.open("/dir", "wb", timeout=T)
    with pytest.raises(FileNotFoundError):
        client.open("/missing/f", "wb", timeout=T)
    with pytest.raises(IsADirectoryError):
        client.open("/", "wb", timeout=T)
    assert (layout.root / "dir" / "inner").read_bytes() == b"i"
    assert_idle(client, layout)


def test_writing_more_than_the_memory_spool(client: Client, layout: Layout) -> None:
    data = random_bytes(SPOOL_MEMORY_BYTES + 3 * (1 << 20) + 11, seed=8)
    with client.open("/large.bin", "wb", chunk_size=1 << 20, timeout=T) as writer:
        view = memoryview(data)
        for start in range(0, len(data), 700_001):
            writer.write(view[start : start + 700_001])
    assert (layout.root / "large.bin").stat().st_size == len(data)
    assert (layout.root / "large.bin").read_bytes() == data
    with client.open("/large.bin", chunk_size=1 << 20, timeout=T) as reader:
        reader.seek(SPOOL_MEMORY_BYTES - 5)
        assert reader.read(10) == data[SPOOL_MEMORY_BYTES - 5 : SPOOL_MEMORY_BYTES + 5]


def test_text_written_through_text_io_wrapper(client: Client, layout: Layout) -> None:
    writer = client.open("/notes.txt", "wb", timeout=T)
    assert isinstance(writer, RemoteWriter)
    with io.TextIOWrapper(writer, encoding="utf-8") as text:
        text.write("première ligne\n")
        text.writelines(f"ligne {index} ✓\n" for index in range(1000))
    expected = "première ligne\n" + "".join(f"ligne {index} ✓\n" for index in range(1000))
    assert (layout.root / "notes.txt").read_text(encoding="utf-8") == expected


class WriterFailure(Exception):
    pass


def write_then_fail(writer: Any, data: bytes) -> None:
    """A with-block on ``writer`` that writes ``data`` and then fails."""
    with writer:
        writer.write(data)
        raise WriterFailure


@pytest.mark.parametrize("existing", [None, b"the old content stays"])
def test_an_error_inside_a_writing_block_publishes_nothing(
    client: Client, layout: Layout, existing: bytes | None
) -> None:
    if existing is not None:
        (layout.root / "f.bin").write_bytes(existing)
    writer = client.open("/f.bin", "wb", chunk_size=CHUNK, timeout=T)
    with pytest.raises(WriterFailure):
        write_then_fail(writer, b"half of what was meant")
    assert writer.closed
    if existing is None:
        assert visible_entries(layout.root) == []
    else:
        assert (layout.root / "f.bin").read_bytes() == existing
    assert_idle(client, layout)
    with client.open("/f.bin", "wb", timeout=T) as writer:
        writer.write(b"second attempt")
    assert (layout.root / "f.bin").read_bytes() == b"second attempt"


def test_discard_drops_what_was_written(client: Client, layout: Layout) -> None:
    writer = client.open("/never", "wb", timeout=T)
    assert isinstance(writer, RemoteWriter)
    writer.write(b"dropped")
    writer.discard()
    assert writer.closed
    writer.close()  # nothing left to upload
    assert visible_entries(layout.root) == []
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"late")


def test_a_writer_dropped_without_close_publishes_nothing(
    client: RecordingClient, layout: Layout
) -> None:
    (layout.root / "dir").mkdir()
    writer = client.open("/dir/dropped", "wb", timeout=T)
    writer.write(b"never closed")
    client.sent.clear()
    del writer
    gc.collect()
    assert client.sent == []  # no transfer from a finalizer
    assert os.listdir(layout.root / "dir") == []
    assert_idle(client, layout, reopening=False)


def test_a_failed_open_for_writing_changes_nothing(client: RecordingClient, layout: Layout) -> None:
    """The object of a refused open is finalized too: that must not upload anything
    (it used to replace the directory below with an empty file)."""
    (layout.root / "dir").mkdir()
    (layout.root / "dir" / "inner").write_bytes(b"i")
    (layout.root / "taken").write_bytes(b"t")
    client.server_info(T)  # the session is open: each open below costs one listing
    for path, mode in (("/dir", "wb"), ("/taken", "xb"), ("/missing/f", "wb")):
        client.sent.clear()
        with pytest.raises(OSError):  # noqa: PT011 (each its own, checked elsewhere)
            client.open(path, mode, timeout=T)
        gc.collect()
        assert client.sent == ["list_files"]
    assert read_tree(layout.root) == {"dir": None, "dir/inner": b"i", "taken": b"t"}
    assert_idle(client, layout, reopening=False)


def read_tree(top: Path) -> dict[str, bytes | None]:
    """Every entry below ``top`` but the server's staging area: bytes, or None for a
    directory."""
    entries: dict[str, bytes | None] = {}
    for path in sorted(top.rglob("*")):
        relative = path.relative_to(top).as_posix()
        if relative.startswith(".remofile-staging"):
            continue
        entries[relative] = None if path.is_dir() else path.read_bytes()
    return entries


def test_a_large_write_interrupted_by_an_error_leaves_no_temporary_file(
    client: Client, layout: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool_directory = tmp_path / "spool"
    spool_directory.mkdir()
    monkeypatch.setenv("TMPDIR", str(spool_directory))
    monkeypatch.setattr("tempfile.tempdir", None)
    writer = client.open("/big", "wb", chunk_size=1 << 20, timeout=T)
    with pytest.raises(WriterFailure):
        write_then_fail(writer, bytes(SPOOL_MEMORY_BYTES + 1))
    assert visible_entries(layout.root) == []
    assert os.listdir(spool_directory) == []
    with client.open("/small", "wb", timeout=T) as writer:
        writer.write(bytes(SPOOL_MEMORY_BYTES + 1))
    assert os.listdir(spool_directory) == []
    assert (layout.root / "small").stat().st_size == SPOOL_MEMORY_BYTES + 1


def test_reading_back_what_was_written(client: Client, layout: Layout) -> None:
    data = random_bytes(7 * CHUNK + 3, seed=9)
    with client.open("/round-trip", "xb", chunk_size=CHUNK, timeout=T) as writer:
        writer.write(data)
    with client.open("/round-trip", "rb", chunk_size=CHUNK, timeout=T) as reader:
        assert reader.read() == data
    assert_idle(client, layout)
