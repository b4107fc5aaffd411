"""Changing what exists from the client: replace on upload and download, move_file,
copy_file and file_digest, against a real server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from blake3 import blake3
from client_harness import Layout, RunningServer, serve_in_thread, tree, write_random
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from remofile.client import (
    Client,
    FileDigest,
    download_files,
    synchronize_download,
    synchronize_upload,
    upload_files,
)
from remofile.core import (
    DestinationNotFound,
    FileNameError,
    InvalidDestinationError,
    UnsupportedError,
)
from remofile.server import LocalStorage

T = 10_000
CHUNK = 4096


# -- replacing uploads and downloads ------------------------------------------------------


def test_upload_replace_swaps_the_file_and_keeps_the_old_one_until_then(
    client: Client, layout: Layout
) -> None:
    old = write_random(layout.root / "data.bin", 100_000, seed=1)
    new = write_random(layout.local / "data.bin", 60_000, seed=2)
    seen: list[bytes] = []

    def look(chunk: bytes, remaining: int, size: int, name: str) -> None:
        seen.append((layout.root / "data.bin").read_bytes())

    with pytest.raises(FileExistsError):
        client.upload_file(layout.local / "data.bin", "/", timeout=T)
    client.upload_file(
        layout.local / "data.bin",
        "/",
        chunk_size=CHUNK,
        process_chunk=look,
        timeout=T,
        replace=True,
    )
    assert (layout.root / "data.bin").read_bytes() == new
    assert seen
    assert all(content == old for content in seen)


def test_an_interrupted_replacing_upload_leaves_the_old_file_and_resumes(
    served: RunningServer, layout: Layout
) -> None:
    old = write_random(layout.root / "data.bin", 50_000, seed=3)
    new = write_random(layout.local / "data.bin", 80_000, seed=4)

    class Stop(Exception):
        pass

    def stop_halfway(chunk: bytes, remaining: int, size: int, name: str) -> None:
        if remaining < size // 2:
            raise Stop

    client = served.client(window=1)
    with pytest.raises(Stop):
        client.upload_file(
            layout.local / "data.bin",
            "/",
            chunk_size=CHUNK,
            process_chunk=stop_halfway,
            timeout=T,
            replace=True,
        )
    assert (layout.root / "data.bin").read_bytes() == old
    sent: list[int] = []
    client.upload_file(
        layout.local / "data.bin",
        "/",
        chunk_size=CHUNK,
        process_chunk=lambda chunk, remaining, size, name: sent.append(len(chunk)),
        timeout=T,
        resume=True,
        replace=True,
    )
    assert (layout.root / "data.bin").read_bytes() == new
    assert sum(sent) < len(new)  # resumed, not started over


def test_replace_never_replaces_a_directory(client: Client, layout: Layout) -> None:
    (layout.root / "x").mkdir()
    (layout.local / "x").write_bytes(b"file")
    with pytest.raises(IsADirectoryError):
        client.upload_file(layout.local / "x", "/", timeout=T, replace=True)
    (layout.local / "y").mkdir()
    (layout.root / "y").write_bytes(b"file")
    with pytest.raises(IsADirectoryError):
        client.download_file("/y", layout.local, timeout=T, replace=True)
    assert (layout.root / "x").is_dir()
    assert (layout.local / "y").is_dir()


@pytest.mark.parametrize("size", [0, 100, 3 * CHUNK + 1])
def test_download_replace_swaps_the_local_file(client: Client, layout: Layout, size: int) -> None:
    new = write_random(layout.root / "data.bin", size, seed=5)
    write_random(layout.local / "data.bin", 7000, seed=6)
    with pytest.raises(FileExistsError):
        client.download_file("/data.bin", layout.local, chunk_size=CHUNK, timeout=T)
    client.download_file("/data.bin", layout.local, chunk_size=CHUNK, timeout=T, replace=True)
    assert (layout.local / "data.bin").read_bytes() == new
    assert sorted(os.listdir(layout.local)) == ["data.bin"]


def test_directories_merge_with_replace(client: Client, layout: Layout) -> None:
    (layout.local / "tree" / "sub").mkdir(parents=True)
    (layout.local / "tree" / "a").write_bytes(b"new a")
    (layout.local / "tree" / "sub" / "b").write_bytes(b"new b")
    (layout.root / "tree" / "sub").mkdir(parents=True)
    (layout.root / "tree" / "a").write_bytes(b"old a")
    (layout.root / "tree" / "kept").write_bytes(b"kept")
    with pytest.raises(FileExistsError):
        client.upload_directory(layout.local / "tree", "/", timeout=T)
    client.upload_directory(layout.local / "tree", "/", timeout=T, replace=True)
    assert tree(layout.root / "tree") == {
        "a": ("file", hashlib.sha256(b"new a").hexdigest()),
        "kept": ("file", hashlib.sha256(b"kept").hexdigest()),
        "sub": ("dir", ""),
        "sub/b": ("file", hashlib.sha256(b"new b").hexdigest()),
    }
    (layout.root / "tree" / "a").write_bytes(b"newest a")
    client.download_directory("/tree", layout.local, timeout=T, replace=True)
    assert (layout.local / "tree" / "a").read_bytes() == b"newest a"
    assert (layout.local / "tree" / "kept").read_bytes() == b"kept"


# -- move and copy ----------------------------------------------------------------------------


def test_move_file_renames_moves_and_replaces(client: Client, layout: Layout) -> None:
    (layout.root / "a.txt").write_bytes(b"a")
    (layout.root / "b.txt").write_bytes(b"b")
    (layout.root / "dir" / "inner").mkdir(parents=True)
    client.move_file("/a.txt", "/", "c.txt", timeout=T)
    with pytest.raises(FileExistsError):
        client.move_file("/c.txt", "/", "b.txt", timeout=T)
    client.move_file("/c.txt", "/", "b.txt", replace=True, timeout=T)
    assert (layout.root / "b.txt").read_bytes() == b"a"
    client.move_file("/b.txt", "/dir", timeout=T)
    assert (layout.root / "dir" / "b.txt").read_bytes() == b"a"
    with pytest.raises(InvalidDestinationError):
        client.move_file("/dir", "/dir/inner", timeout=T)
    with pytest.raises(FileNotFoundError):
        client.move_file("/missing", "/", "x", timeout=T)
    with pytest.raises(ValueError, match="root"):
        client.move_file("/", "/dir", "x", timeout=T)
    with pytest.raises(FileNameError):
        client.move_file("/dir", "/", "a/b", timeout=T)
    client.move_file("/dir", "/", "renamed", timeout=T)
    assert sorted(os.listdir(layout.root / "renamed")) == ["b.txt", "inner"]


def test_copy_file_on_the_server(client: Client, layout: Layout) -> None:
    content = write_random(layout.root / "src.bin", 3 << 20, seed=7)
    (layout.root / "d").mkdir()
    client.copy_file("/src.bin", "/d", timeout=T)
    client.copy_file("/src.bin", "/", "copy.bin", timeout=T)
    assert (layout.root / "d" / "src.bin").read_bytes() == content
    assert (layout.root / "copy.bin").stat().st_mtime_ns == (
        layout.root / "src.bin"
    ).stat().st_mtime_ns
    with pytest.raises(FileExistsError):
        client.copy_file("/src.bin", "/", "copy.bin", timeout=T)
    with pytest.raises(IsADirectoryError):
        client.copy_file("/d", "/", "e", timeout=T)
    (layout.root / "small").write_bytes(b"small")
    client.copy_file("/small", "/", "copy.bin", replace=True, timeout=T)
    assert (layout.root / "copy.bin").read_bytes() == b"small"


# -- digests -----------------------------------------------------------------------------------


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.binary(max_size=3 * CHUNK))
def test_file_digest_matches_the_local_hash(client: Client, layout: Layout, content: bytes) -> None:
    (layout.root / "f").write_bytes(content)
    mtime = (layout.root / "f").stat().st_mtime_ns / 1e9
    assert client.file_digest("/f", timeout=T) == FileDigest(
        "blake3", blake3(content).hexdigest(), len(content), mtime
    )
    assert client.file_digest("/f", "sha256", timeout=T).digest == (
        hashlib.sha256(content).hexdigest()
    )
    assert client.file_digest("/f", "SHA-256", timeout=T).algorithm == "sha256"


def test_file_digest_errors(client: Client, layout: Layout) -> None:
    (layout.root / "d").mkdir()
    with pytest.raises(FileNotFoundError):
        client.file_digest("/missing", timeout=T)
    with pytest.raises(IsADirectoryError):
        client.file_digest("/d", timeout=T)
    with pytest.raises(ValueError, match="md5"):
        client.file_digest("/d", "md5", timeout=T)


# -- a server without the features ---------------------------------------------------------


class _PlainStorage(LocalStorage):
    """A backend that declares none of the optional abilities."""

    can_replace = False
    can_move = False
    can_copy = False


def test_a_server_without_the_features_gets_a_clear_error_and_nothing_changes(
    layout: Layout,
) -> None:
    (layout.root / "a").write_bytes(b"old")
    (layout.local / "a").write_bytes(b"new")
    with serve_in_thread(layout.root, storage_factory=_PlainStorage) as running:
        client = running.client()
        for call in (
            lambda: client.upload_file(layout.local / "a", "/", timeout=T, replace=True),
            lambda: client.move_file("/a", "/", "b", timeout=T),
            lambda: client.copy_file("/a", "/", "b", timeout=T),
        ):
            with pytest.raises(UnsupportedError, match="does not support"):
                call()
        assert client.file_digest("/a", "sha256", timeout=T).digest == (
            hashlib.sha256(b"old").hexdigest()
        )
        with client.open("/a", "wb", timeout=T) as writer:
            writer.write(b"written")  # falls back to remove-then-upload there
    assert (layout.root / "a").read_bytes() == b"written"
    assert [name for name in os.listdir(layout.root) if not name.startswith(".remofile-")] == ["a"]


def test_open_for_writing_replaces_atomically(client: Client, layout: Layout) -> None:
    (layout.root / "f").write_bytes(b"old")
    observed: list[bytes] = []
    with client.open("/f", "wb", timeout=T) as writer:
        writer.write(b"new content")
        observed.append((layout.root / "f").read_bytes())
    assert observed == [b"old"]
    assert (layout.root / "f").read_bytes() == b"new content"


def test_destination_must_exist_for_moves_and_copies(client: Client, layout: Layout) -> None:
    (layout.root / "f").write_bytes(b"f")
    with pytest.raises(FileNotFoundError):
        client.copy_file("/f", "/nowhere", timeout=T)
    with pytest.raises(DestinationNotFound):
        client.upload_file(layout.root / "f", "/nowhere", timeout=T, replace=True)


# -- upload_files / download_files with existing names ----------------------------------------


def _project(top: Path) -> None:
    (top / "dir" / "sub").mkdir(parents=True)
    (top / "a.txt").write_bytes(b"local a")
    (top / "dir" / "b.txt").write_bytes(b"local b")
    (top / "dir" / "sub" / "c.txt").write_bytes(b"local c")


def test_upload_files_stops_replaces_or_skips_existing_names(
    client: Client, layout: Layout
) -> None:
    _project(layout.local)
    (layout.root / "dir").mkdir()
    (layout.root / "a.txt").write_bytes(b"remote a")
    (layout.root / "dir" / "b.txt").write_bytes(b"remote b")
    with pytest.raises(FileExistsError, match=r"a\.txt"):
        upload_files(client, "a.txt", "/", layout.local, timeout=T)
    with pytest.raises(ValueError, match="exclude each other"):
        upload_files(client, "*", "/", layout.local, replace=True, ignore_existing=True)
    skipped: list[str] = []
    uploaded = upload_files(
        client,
        "*",
        "/",
        layout.local,
        recursive=True,
        ignore_existing=True,
        process_skipped=skipped.append,
        timeout=T,
    )
    assert sorted(skipped) == [
        str(layout.local / "a.txt"),
        str(layout.local / "dir" / "b.txt"),
    ]
    assert uploaded == [str(layout.local / "dir")]
    assert (layout.root / "a.txt").read_bytes() == b"remote a"
    assert (layout.root / "dir" / "b.txt").read_bytes() == b"remote b"
    assert (layout.root / "dir" / "sub" / "c.txt").read_bytes() == b"local c"
    upload_files(client, "*", "/", layout.local, recursive=True, replace=True, timeout=T)
    visible = {path: kind for path, kind in tree(layout.root).items() if ".remofile-" not in path}
    assert visible == tree(layout.local)


def test_download_files_stops_replaces_or_skips_existing_names(
    client: Client, layout: Layout
) -> None:
    _project(layout.root)
    (layout.local / "dir").mkdir()
    (layout.local / "a.txt").write_bytes(b"mine")
    with pytest.raises(FileExistsError, match=r"a\.txt"):
        download_files(client, "a.txt", layout.local, timeout=T)
    skipped: list[str] = []
    download_files(
        client,
        "*",
        layout.local,
        recursive=True,
        ignore_existing=True,
        process_skipped=skipped.append,
        timeout=T,
    )
    assert skipped == ["/a.txt"]
    assert (layout.local / "a.txt").read_bytes() == b"mine"
    assert (layout.local / "dir" / "sub" / "c.txt").read_bytes() == b"local c"
    download_files(client, "*", layout.local, recursive=True, replace=True, timeout=T)
    assert (layout.local / "a.txt").read_bytes() == b"local a"


# -- synchronization replaces, and compares by checksum when asked ----------------------------


def test_sync_upload_replaces_changed_files_and_an_interrupted_run_loses_nothing(
    client: Client, layout: Layout
) -> None:
    write_random(layout.local / "big.bin", 200_000, seed=8)
    synchronize_upload(client, layout.local, "/mirror", timeout=T)
    old = (layout.root / "mirror" / "big.bin").read_bytes()
    new = write_random(layout.local / "big.bin", 300_000, seed=9)

    class Stop(Exception):
        pass

    def stop_halfway(chunk: bytes, remaining: int, size: int, name: str) -> None:
        if remaining < size // 2:
            raise Stop

    with pytest.raises(Stop):
        synchronize_upload(
            client, layout.local, "/mirror", chunk_size=CHUNK, process_chunk=stop_halfway, timeout=T
        )
    assert (layout.root / "mirror" / "big.bin").read_bytes() == old
    report = synchronize_upload(client, layout.local, "/mirror", timeout=T)
    assert (layout.root / "mirror" / "big.bin").read_bytes() == new
    assert (report.transferred, report.replaced, report.removed) == (["big.bin"], ["big.bin"], [])


@pytest.mark.parametrize("direction", ["upload", "download"])
def test_checksum_compares_contents_not_times(
    client: Client, layout: Layout, direction: str
) -> None:
    (layout.root / "mirror").mkdir()
    remote, local = layout.root / "mirror", layout.local
    for name, remote_content, local_content in (
        ("same-content-other-time", b"same", b"same"),
        ("other-content-same-time", b"AAAA", b"BBBB"),
    ):
        (remote / name).write_bytes(remote_content)
        (local / name).write_bytes(local_content)
    os.utime(remote / "same-content-other-time", ns=(10**18, 10**18))
    os.utime(local / "same-content-other-time", ns=(2 * 10**18, 2 * 10**18))
    for side in (remote, local):
        os.utime(side / "other-content-same-time", ns=(10**18, 10**18))
    sync = synchronize_upload if direction == "upload" else synchronize_download
    source, destination = (local, "/mirror") if direction == "upload" else ("/mirror", local)
    by_time = sync(client, source, destination, dry_run=True, timeout=T)  # type: ignore[arg-type]
    assert by_time.transferred == ["same-content-other-time"]
    by_content = sync(client, source, destination, checksum=True, timeout=T)  # type: ignore[arg-type]
    assert by_content.transferred == ["other-content-same-time"]
    assert by_content.replaced == ["other-content-same-time"]
    assert by_content.unchanged == ["same-content-other-time"]
    assert (remote / "other-content-same-time").read_bytes() == (
        local / "other-content-same-time"
    ).read_bytes()


def test_a_refused_directory_upload_changes_nothing(client: Client, layout: Layout) -> None:
    """The name of the top is taken: none of the requests pipelined behind it may have
    put files into the existing directory."""
    _project(layout.local)
    for index in range(20):
        (layout.local / "dir" / f"extra-{index}").write_bytes(b"x")
    (layout.root / "dir").mkdir()
    (layout.root / "dir" / "mine").write_bytes(b"mine")
    with pytest.raises(FileExistsError):
        client.upload_directory(layout.local / "dir", "/", timeout=T)
    # Answered after whatever was still in flight: the listing sees what it did.
    assert list(client.list_files("/dir", T)) == ["mine"]
    assert sorted(os.listdir(layout.root / "dir")) == ["mine"]
