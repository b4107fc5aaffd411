"""Every Client method against a real server, and every exception the API documents."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest
from client_harness import (
    CALL_TIMEOUT_MS,
    TOKEN,
    Layout,
    RunningServer,
    serve_in_thread,
    visible_entries,
)
from remofile.client import Client, FileMetadata
from remofile.core import (
    ChunkSizeError,
    DestinationNotFound,
    FileNameError,
    FileSizeError,
    RemofileException,
    SourceNotFound,
    UnexpectedError,
)

T = CALL_TIMEOUT_MS


# -- construction -------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "short", "white space token", "x" * 300])
def test_client_with_an_invalid_token_raises_value_error(token: str) -> None:
    with pytest.raises(ValueError, match="token"):
        Client("localhost", 6768, token)


def test_client_window_below_one_raises_value_error() -> None:
    with pytest.raises(ValueError, match="window"):
        Client("localhost", 6768, TOKEN, window=0)


def test_client_accepts_a_hostname_and_port(served: RunningServer) -> None:
    port = int(served.endpoint.rsplit(":", 1)[1])
    with Client("127.0.0.1", port, TOKEN) as client:
        assert client.list_files("/", timeout=T) == {}


# -- list_files -----------------------------------------------------------------------


def test_list_files_returns_names_with_directory_flag_size_and_mtime(
    client: Client, layout: Layout
) -> None:
    (layout.root / "foo.bin").write_bytes(b"x" * 423)
    (layout.root / "bar").mkdir()
    (layout.root / "bar" / "baz.txt").write_bytes(b"baz")
    os.utime(layout.root / "foo.bin", ns=(1_654_646_515_000_000_000, 1_654_646_515_000_000_000))
    listing = client.list_files("/", timeout=T)
    assert listing["foo.bin"] == FileMetadata(False, 423, 1654646515.0)
    assert listing["bar"].is_directory
    assert listing["bar"].size == 0
    assert set(listing) == {"foo.bin", "bar"}
    assert client.list_files("/bar", timeout=T)["baz.txt"][:2] == (False, 3)
    assert set(client.list_files("/", timeout=T, recursive=True)) == {
        "foo.bin",
        "bar",
        "bar/baz.txt",
    }
    assert client.list_files(Path("/bar"), timeout=T).keys() == {"baz.txt"}
    assert client.list_files("//bar/./", timeout=T).keys() == {"baz.txt"}


def test_list_files_errors(client: Client, layout: Layout) -> None:
    (layout.root / "file").write_bytes(b"")
    with pytest.raises(ValueError, match="absolute"):
        client.list_files("relative/dir", timeout=T)
    with pytest.raises(ValueError, match=r"\.\."):
        client.list_files("/a/../..", timeout=T)
    with pytest.raises(FileNotFoundError):
        client.list_files("/missing", timeout=T)
    with pytest.raises(NotADirectoryError):
        client.list_files("/file", timeout=T)


# -- create_file and make_directory ------------------------------------------------------


@pytest.mark.parametrize("method", ["create_file", "make_directory"])
def test_create_file_and_make_directory_create_empty_entries(
    client: Client, layout: Layout, method: str
) -> None:
    (layout.root / "dir").mkdir()
    getattr(client, method)("new é ✓", "/dir", timeout=T)
    created = layout.root / "dir" / "new é ✓"
    if method == "create_file":
        assert created.is_file()
        assert created.read_bytes() == b""
    else:
        assert created.is_dir()
        assert os.listdir(created) == []


@pytest.mark.parametrize("method", ["create_file", "make_directory"])
def test_create_file_and_make_directory_errors(client: Client, layout: Layout, method: str) -> None:
    create = getattr(client, method)
    (layout.root / "file").write_bytes(b"content")
    (layout.root / "dir").mkdir()
    with pytest.raises(ValueError, match="absolute"):
        create("name", "dir", timeout=T)
    with pytest.raises(FileNotFoundError):
        create("name", "/missing", timeout=T)
    with pytest.raises(NotADirectoryError):
        create("name", "/file", timeout=T)
    for bad_name in ("", ".", "..", "a/b", "a:b", "a\x00b", "x" * 256, ".remofile-x"):
        with pytest.raises(FileNameError):
            create(bad_name, "/", timeout=T)
    for taken in ("file", "dir"):
        with pytest.raises(FileExistsError):
            create(taken, "/", timeout=T)
    assert (layout.root / "file").read_bytes() == b"content"
    assert visible_entries(layout.root) == ["dir", "file"]


# -- upload_file ------------------------------------------------------------------------


def test_upload_file_errors(served: RunningServer, layout: Layout) -> None:
    client = served.client()
    source = layout.local / "source.bin"
    source.write_bytes(b"data" * 1000)
    (layout.root / "file").write_bytes(b"")
    (layout.root / "taken").mkdir()
    with pytest.raises(ValueError, match="absolute"):
        client.upload_file(source, "bar", timeout=T)
    with pytest.raises(SourceNotFound):
        client.upload_file(layout.local / "missing", "/", timeout=T)
    with pytest.raises(SourceNotFound):
        client.upload_file(layout.local, "/", timeout=T)
    with pytest.raises(DestinationNotFound):
        client.upload_file(source, "/missing", timeout=T)
    with pytest.raises(DestinationNotFound):
        client.upload_file(source, "/file", timeout=T)
    with pytest.raises(FileExistsError):
        client.upload_file(source, "/", name="taken", timeout=T)
    with pytest.raises(FileExistsError):
        client.upload_file(source, "/", name="file", timeout=T)
    for bad_name in ("a/b", "..", "", "a|b"):
        with pytest.raises(FileNameError):
            client.upload_file(source, "/", name=bad_name, timeout=T)
    with pytest.raises(ValueError, match="chunk size"):
        client.upload_file(source, "/", chunk_size=0, timeout=T)
    with pytest.raises(ChunkSizeError):
        client.upload_file(source, "/", chunk_size=100, timeout=T)
    with pytest.raises(ChunkSizeError):
        client.upload_file(source, "/", chunk_size=64 * 1024 * 1024, timeout=T)
    assert visible_entries(layout.root) == ["file", "taken"]
    # After every refusal the client still works.
    client.upload_file(source, "/", timeout=T)
    assert (layout.root / "source.bin").read_bytes() == b"data" * 1000


def test_upload_over_the_file_size_limit_raises_file_size_error(layout: Layout) -> None:
    (layout.local / "big.bin").write_bytes(b"x" * 1001)
    (layout.local / "fits.bin").write_bytes(b"x" * 1000)
    with serve_in_thread(layout.root, file_size_limit=1000) as running:
        client = running.client()
        with pytest.raises(FileSizeError):
            client.upload_file(layout.local / "big.bin", "/", chunk_size=512, timeout=T)
        client.upload_file(layout.local / "fits.bin", "/", chunk_size=512, timeout=T)
        (layout.root / "too-big.bin").write_bytes(b"y" * 1001)
        with pytest.raises(FileSizeError):
            client.download_file("/too-big.bin", layout.local, timeout=T)
        assert not (layout.local / "too-big.bin").exists()
    assert visible_entries(layout.root) == ["fits.bin", "too-big.bin"]


def test_chunk_size_outside_the_server_range_raises_chunk_size_error(layout: Layout) -> None:
    (layout.local / "data.bin").write_bytes(b"x" * 10_000)
    (layout.root / "remote.bin").write_bytes(b"y" * 10_000)
    with serve_in_thread(layout.root, chunk_size_range=(1024, 2048)) as running:
        client = running.client()
        for chunk_size in (1023, 2049):
            with pytest.raises(ChunkSizeError):
                client.upload_file(layout.local / "data.bin", "/", chunk_size=chunk_size, timeout=T)
            with pytest.raises(ChunkSizeError):
                client.download_file("/remote.bin", layout.local, chunk_size=chunk_size, timeout=T)
        client.upload_file(layout.local / "data.bin", "/", chunk_size=1024, timeout=T)
        client.download_file("/remote.bin", layout.local, chunk_size=2048, timeout=T)
    assert (layout.local / "remote.bin").read_bytes() == b"y" * 10_000
    assert (layout.root / "data.bin").read_bytes() == b"x" * 10_000


# -- upload_directory ---------------------------------------------------------------------


def test_upload_directory_errors(client: Client, layout: Layout) -> None:
    (layout.local / "tree").mkdir()
    (layout.local / "tree" / "leaf").write_bytes(b"leaf")
    (layout.local / "file").write_bytes(b"")
    (layout.root / "file").write_bytes(b"")
    (layout.root / "tree").mkdir()
    with pytest.raises(ValueError, match="absolute"):
        client.upload_directory(layout.local / "tree", "relative", timeout=T)
    with pytest.raises(SourceNotFound):
        client.upload_directory(layout.local / "missing", "/", timeout=T)
    with pytest.raises(SourceNotFound):
        client.upload_directory(layout.local / "file", "/", timeout=T)
    with pytest.raises(DestinationNotFound):
        client.upload_directory(layout.local / "tree", "/missing", timeout=T)
    with pytest.raises(DestinationNotFound):
        client.upload_directory(layout.local / "tree", "/file", timeout=T)
    with pytest.raises(FileExistsError):
        client.upload_directory(layout.local / "tree", "/", timeout=T)
    with pytest.raises(FileNameError):
        client.upload_directory(layout.local / "tree", "/", name="a*b", timeout=T)
    assert os.listdir(layout.root / "tree") == []


# -- download_file ------------------------------------------------------------------------


def test_download_file_errors(client: Client, layout: Layout) -> None:
    (layout.root / "remote.bin").write_bytes(b"remote")
    (layout.root / "dir").mkdir()
    (layout.local / "taken").write_bytes(b"mine")
    (layout.local / "a-file").write_bytes(b"")
    with pytest.raises(ValueError, match="absolute"):
        client.download_file("bar", layout.local, timeout=T)
    with pytest.raises(SourceNotFound):
        client.download_file("/missing", layout.local, timeout=T)
    with pytest.raises(SourceNotFound):
        client.download_file("/dir", layout.local, timeout=T)
    with pytest.raises(SourceNotFound):
        client.download_file("/", layout.local, timeout=T)
    with pytest.raises(DestinationNotFound):
        client.download_file("/remote.bin", layout.local / "missing", timeout=T)
    with pytest.raises(DestinationNotFound):
        client.download_file("/remote.bin", layout.local / "a-file", timeout=T)
    with pytest.raises(FileExistsError):
        client.download_file("/remote.bin", layout.local, name="taken", timeout=T)
    for bad_name in ("../escape", "a/b", "", "?"):
        with pytest.raises(FileNameError):
            client.download_file("/remote.bin", layout.local, name=bad_name, timeout=T)
    assert (layout.local / "taken").read_bytes() == b"mine"
    assert sorted(os.listdir(layout.local)) == ["a-file", "taken"]


def test_download_keeps_the_server_modification_time(client: Client, layout: Layout) -> None:
    (layout.root / "old.txt").write_bytes(b"old")
    os.utime(layout.root / "old.txt", ns=(1_000_000_000_123_456_789, 1_000_000_000_123_456_789))
    client.download_file("/old.txt", layout.local, timeout=T)
    assert (layout.local / "old.txt").stat().st_mtime_ns == 1_000_000_000_123_456_789


# -- download_directory --------------------------------------------------------------------


def test_download_directory_errors(client: Client, layout: Layout) -> None:
    (layout.root / "tree").mkdir()
    (layout.root / "file").write_bytes(b"")
    (layout.local / "tree").mkdir()
    (layout.local / "a-file").write_bytes(b"")
    with pytest.raises(ValueError, match="absolute"):
        client.download_directory("tree", layout.local, timeout=T)
    with pytest.raises(SourceNotFound):
        client.download_directory("/missing", layout.local, timeout=T)
    with pytest.raises(SourceNotFound):
        client.download_directory("/file", layout.local, timeout=T)
    with pytest.raises(DestinationNotFound):
        client.download_directory("/tree", layout.local / "missing", timeout=T)
    with pytest.raises(DestinationNotFound):
        client.download_directory("/tree", layout.local / "a-file", timeout=T)
    with pytest.raises(FileExistsError):
        client.download_directory("/tree", layout.local, timeout=T)
    with pytest.raises(FileNameError):
        client.download_directory("/tree", layout.local, name="<tree>", timeout=T)
    assert sorted(os.listdir(layout.local)) == ["a-file", "tree"]


# -- delete_file ---------------------------------------------------------------------------


def test_delete_file_removes_files_empty_directories_and_trees(
    client: Client, layout: Layout
) -> None:
    (layout.root / "file").write_bytes(b"x")
    (layout.root / "empty").mkdir()
    (layout.root / "tree" / "a" / "b").mkdir(parents=True)
    (layout.root / "tree" / "a" / "b" / "leaf").write_bytes(b"leaf")
    (layout.root / "tree" / "top").write_bytes(b"top")
    for path in ("/file", "/empty", "/tree"):
        client.delete_file(path, timeout=T)
    assert visible_entries(layout.root) == []
    assert client.list_files("/", timeout=T) == {}


def test_delete_file_of_a_large_tree_reports_progress_until_done(
    client: Client, layout: Layout
) -> None:
    (layout.root / "big").mkdir()
    for index in range(1200):  # more than one batch of 1000
        (layout.root / "big" / str(index)).touch()
    progress: list[tuple[int, int]] = []
    client.delete_file(
        "/big", timeout=T, process_removal=lambda removed, left: progress.append((removed, left))
    )
    assert progress[0] == (0, 1200)
    assert progress[-1] == (1200, 0)
    assert [removed + left for removed, left in progress[:-1]] == [1200] * (len(progress) - 1)
    assert [removed for removed, _ in progress] == sorted(removed for removed, _ in progress)
    assert len(progress) >= 3
    assert visible_entries(layout.root) == []


def test_delete_file_errors(client: Client, layout: Layout) -> None:
    (layout.root / "kept").write_bytes(b"kept")
    with pytest.raises(ValueError, match="absolute"):
        client.delete_file("kept", timeout=T)
    for root in ("/", "//", "/."):
        with pytest.raises(ValueError, match="root"):
            client.delete_file(root, timeout=T)
    with pytest.raises(FileNotFoundError):
        client.delete_file("/missing", timeout=T)
    with pytest.raises(FileNotFoundError):
        client.delete_file("/kept/child", timeout=T)
    assert (layout.root / "kept").read_bytes() == b"kept"


@pytest.mark.parametrize(
    "operation",
    ["list_files", "create_file", "upload_file", "download_file", "delete_file"],
)
def test_path_through_a_file_names_nothing(client: Client, layout: Layout, operation: str) -> None:
    (layout.root / "file").write_bytes(b"content")
    (layout.local / "up").write_bytes(b"up")
    calls = {
        "list_files": (FileNotFoundError, lambda: client.list_files("/file/child", timeout=T)),
        "create_file": (FileNotFoundError, lambda: client.create_file("x", "/file/d", timeout=T)),
        "upload_file": (
            DestinationNotFound,
            lambda: client.upload_file(layout.local / "up", "/file/d", timeout=T),
        ),
        "download_file": (
            SourceNotFound,
            lambda: client.download_file("/file/child", layout.local, timeout=T),
        ),
        "delete_file": (FileNotFoundError, lambda: client.delete_file("/file/child", timeout=T)),
    }
    expected, call = calls[operation]
    with pytest.raises(expected):
        call()
    assert (layout.root / "file").read_bytes() == b"content"


# -- timeouts and server failures ---------------------------------------------------------


def unused_tcp_endpoint() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


@pytest.mark.parametrize(
    "operation",
    ["list_files", "create_file", "upload_file", "download_file", "delete_file"],
)
def test_call_to_an_endpoint_where_nothing_listens_raises_timeout_error(
    layout: Layout, operation: str
) -> None:
    (layout.local / "f").write_bytes(b"x")
    with Client(unused_tcp_endpoint(), None, TOKEN) as client:
        calls = {
            "list_files": lambda: client.list_files("/", timeout=200),
            "create_file": lambda: client.create_file("f", "/", timeout=200),
            "upload_file": lambda: client.upload_file(layout.local / "f", "/", timeout=200),
            "download_file": lambda: client.download_file("/f", layout.root, timeout=200),
            "delete_file": lambda: client.delete_file("/f", timeout=200),
        }
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            calls[operation]()
        assert 0.15 < time.monotonic() - started < 2.0
    assert os.listdir(layout.root) == []


def test_client_recovers_once_a_server_appears_after_a_timeout(layout: Layout) -> None:
    sockets = tempfile.mkdtemp(prefix="rmf-", dir="/tmp")  # ipc paths must be short
    try:
        endpoint = f"ipc://{sockets}/late.sock"
        (layout.root / "here").touch()
        client = Client(endpoint, None, TOKEN)
        try:
            with pytest.raises(TimeoutError):
                client.list_files("/", timeout=200)
            with serve_in_thread(layout.root, endpoint):
                assert list(client.list_files("/", timeout=T)) == ["here"]
                client.close()
        finally:
            client.close()
    finally:
        shutil.rmtree(sockets, ignore_errors=True)


def test_server_failure_raises_unexpected_error_without_local_paths(
    served: RunningServer, layout: Layout
) -> None:
    """A file that shrinks on the server during a download makes it fail: UNKNOWN_ERROR."""
    remote = layout.root / "shrinking.bin"
    remote.write_bytes(os.urandom(40 * 1024))

    def shrink(chunk: bytes, remaining: int, size: int, name: str) -> None:
        if remaining == size:
            os.truncate(remote, 1024)

    client = served.client(window=1)
    with pytest.raises(UnexpectedError) as raised:
        client.download_file(
            "/shrinking.bin", layout.local, chunk_size=4096, process_chunk=shrink, timeout=T
        )
    assert raised.value.message
    assert str(layout.root) not in raised.value.message
    assert os.listdir(layout.local) == []
    # The session was brought back to a clean state: the next call works.
    assert client.list_files("/", timeout=T)["shrinking.bin"].size == 1024


def test_remofile_exceptions_share_their_base_class() -> None:
    for exception in (
        SourceNotFound,
        DestinationNotFound,
        FileNameError,
        FileSizeError,
        ChunkSizeError,
        UnexpectedError,
    ):
        assert issubclass(exception, RemofileException)
    assert issubclass(FileSizeError, ValueError)
    assert issubclass(ChunkSizeError, ValueError)
