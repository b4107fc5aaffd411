"""Small files in batches (SPEC 4.17, 4.18), end to end against a real server.

The client sends files that fit in one chunk in UPLOAD_FILES and fetches them with
DOWNLOAD_FILES where the server announces FEATURE_BATCH; everything else, and every
server without the feature, takes one request per chunk as before. These tests check
that both ways give the same files, that each file of a batch fails on its own with
the exception its own request would raise, and how many requests a tree costs.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from client_harness import CALL_TIMEOUT_MS, TOKEN, Layout, serve_in_thread
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from remofile.client import Client
from remofile.client.downloads import DownloadJob, run_downloads
from remofile.core.exceptions import DestinationNotFound, SourceNotFound
from remofile.core.framing import Frame
from remofile.core.limits import MAX_BATCH_FILES
from remofile.core.names import is_file_name_valid
from remofile.server.storage import LocalStorage
from remofile.v1 import remofile_pb2 as pb

T = CALL_TIMEOUT_MS


class CountingClient(Client):
    """A client that counts the requests it sends, by kind."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: Counter[str] = Counter()

    def send_request(self, kind: str, message: Any, data: Frame | None) -> None:
        self.sent[kind] += 1
        super().send_request(kind, message, data)


class NoBatchStorage(LocalStorage):
    """A local directory served without batches, as a server of protocol 1.1 serves it."""

    can_batch = False


def make_tree(top: Path, files: dict[str, bytes]) -> None:
    for relative, content in files.items():
        path = top / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))


def snapshot(top: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``top``: content and modification time, by relative path."""
    return {
        path.relative_to(top).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(top.rglob("*"))
        if path.is_file()
    }


#: 600 small files in 6 directories, a few empty ones, and two that need chunks.
TREE = {
    **{f"d{d}/f{i}.txt": os.urandom(i * 13 % 5000) for d in range(6) for i in range(100)},
    "d0/big.bin": os.urandom(3 * 1024 * 1024 + 7),
    "one-chunk-plus-one.bin": os.urandom(1024 * 1024 + 1),
}


def test_a_tree_of_small_files_takes_a_few_batches_both_ways(layout: Layout) -> None:
    make_tree(layout.local / "tree", TREE)
    with serve_in_thread(layout.root) as served:
        client = CountingClient(served.endpoint, None, TOKEN)
        try:
            client.upload_directory(layout.local / "tree", "/", timeout=T)
            assert snapshot(layout.root / "tree") == snapshot(layout.local / "tree")
            uploads = client.sent.copy()
            client.sent.clear()
            (layout.local / "back").mkdir()
            client.download_directory("/tree", layout.local / "back", timeout=T)
            assert snapshot(layout.local / "back" / "tree") == snapshot(layout.local / "tree")
            downloads = client.sent
        finally:
            client.close()
    # 600 small files (about 1.5 MiB) fit in 3 batches of 256 files at most; one more
    # where a large file comes between them (a batch is sent before a file that goes on
    # its own). The two large files take a request per chunk.
    assert 3 <= uploads["upload_files"] <= 8, uploads
    assert uploads["upload_file"] == 2, uploads
    assert 3 <= downloads["download_files"] <= 8, downloads
    assert downloads["download_file"] == 2, downloads


def test_a_server_without_batches_gets_one_request_per_file(layout: Layout) -> None:
    make_tree(layout.local / "tree", {f"f{i}": b"x" * i for i in range(20)})
    with serve_in_thread(layout.root, storage=NoBatchStorage(layout.root)) as served:
        client = CountingClient(served.endpoint, None, TOKEN)
        try:
            assert pb.FEATURE_BATCH not in client.server_info(T).features
            client.upload_directory(layout.local / "tree", "/", timeout=T)
            (layout.local / "back").mkdir()
            client.download_directory("/tree", layout.local / "back", timeout=T)
        finally:
            client.close()
    assert snapshot(layout.local / "back" / "tree") == snapshot(layout.local / "tree")
    assert client.sent["upload_files"] == client.sent["download_files"] == 0
    assert client.sent["upload_file"] == client.sent["download_file"] == 20


def test_each_file_of_a_batch_fails_on_its_own(client: Client, layout: Layout) -> None:
    """A refused file raises what its own request would; the files around it are stored."""
    (layout.local / "one.txt").write_bytes(b"one")
    (layout.root / "taken.txt").write_bytes(b"old")
    (layout.root / "file").write_bytes(b"")
    with pytest.raises(FileExistsError, match=r"taken\.txt"):
        client.upload_file(layout.local / "one.txt", "/", name="taken.txt", timeout=T)
    assert (layout.root / "taken.txt").read_bytes() == b"old"
    with pytest.raises(DestinationNotFound, match="/missing"):
        client.upload_file(layout.local / "one.txt", "/missing", timeout=T)
    with pytest.raises(DestinationNotFound):
        client.upload_file(layout.local / "one.txt", "/file", timeout=T)
    # In a tree being merged, a directory where a file goes is refused, the rest lands.
    make_tree(layout.local / "t", {"a.txt": b"a", "b.txt": b"b", "c.txt": b"c"})
    (layout.root / "t" / "b.txt").mkdir(parents=True)
    with pytest.raises(IsADirectoryError, match=r"b\.txt"):
        client.upload_directory(layout.local / "t", "/", replace=True, timeout=T)
    assert (layout.root / "t" / "a.txt").read_bytes() == b"a"
    assert (layout.root / "t" / "c.txt").read_bytes() == b"c"
    assert (layout.root / "t" / "b.txt").is_dir()
    # The client still works after each refusal.
    client.upload_file(layout.local / "one.txt", "/", timeout=T)
    assert (layout.root / "one.txt").read_bytes() == b"one"


def test_a_replacing_batch_replaces_files_whole(client: Client, layout: Layout) -> None:
    make_tree(layout.local / "t", {f"f{i}": b"new %d" % i for i in range(50)})
    make_tree(layout.root / "t", {f"f{i}": b"old" for i in range(0, 50, 2)})
    client.upload_directory(layout.local / "t", "/", replace=True, timeout=T)
    assert snapshot(layout.root / "t") == snapshot(layout.local / "t")


def test_a_file_that_grew_since_its_listing_is_downloaded_on_its_own(
    served: Any, layout: Layout
) -> None:
    """A batch refuses a file too large for it (INCORRECT_FILE_SIZE): the client then
    downloads that file with DOWNLOAD_FILE, whole and verified."""
    grown = os.urandom(9 * 1024 * 1024)  # over the server's largest chunk: never batched
    (layout.root / "grown.bin").write_bytes(grown)
    (layout.root / "small.txt").write_bytes(b"small")
    client = CountingClient(served.endpoint, None, TOKEN)
    served.clients.append(client)
    target = layout.local / "in"
    target.mkdir()
    jobs = iter(
        [
            DownloadJob(("grown.bin",), str(target), "grown.bin", expected_size=100),
            DownloadJob(("small.txt",), str(target), "small.txt", expected_size=5),
        ]
    )
    run_downloads(client, jobs, 1024 * 1024, None, False, False, T)
    assert (target / "grown.bin").read_bytes() == grown
    assert (target / "small.txt").read_bytes() == b"small"
    assert client.sent["download_files"] == 1
    assert client.sent["download_file"] == 1


def test_a_file_gone_from_a_batch_download_is_source_not_found(
    client: Client, layout: Layout
) -> None:
    target = layout.local / "in"
    target.mkdir()
    (layout.root / "here.txt").write_bytes(b"here")
    jobs = iter(
        [
            DownloadJob(("here.txt",), str(target), "here.txt", expected_size=4),
            DownloadJob(("gone.txt",), str(target), "gone.txt", expected_size=4),
        ]
    )
    with pytest.raises(SourceNotFound, match=r"gone\.txt"):
        run_downloads(client, jobs, 1024 * 1024, None, False, False, T)
    # What was verified before the failure is still written, whole.
    assert (target / "here.txt").read_bytes() == b"here"
    assert not (target / "gone.txt").exists()


@pytest.mark.parametrize("compress", [True, "auto"])
def test_compressed_batches_arrive_whole(
    client: Client, layout: Layout, compress: bool | str
) -> None:
    files = {
        "text.txt": b"all work and no play " * 500,
        "photo.jpg": os.urandom(20_000),
        "noise.bin": os.urandom(30_000),
        "empty": b"",
    }
    make_tree(layout.local / "t", files)
    client.upload_directory(layout.local / "t", "/", compress=compress, timeout=T)  # type: ignore[arg-type]
    (layout.local / "back").mkdir()
    client.download_directory("/t", layout.local / "back", compress=compress, timeout=T)  # type: ignore[arg-type]
    assert snapshot(layout.local / "back" / "t") == snapshot(layout.local / "t")


def test_process_chunk_sees_every_file_of_a_batch_once(client: Client, layout: Layout) -> None:
    make_tree(layout.local / "t", {f"f{i}": b"y" * i for i in range(300)})
    seen: list[tuple[str, int, int]] = []
    client.upload_directory(
        layout.local / "t",
        "/",
        process_chunk=lambda data, remaining, size, name: seen.append((name, remaining, size)),
        timeout=T,
    )
    assert sorted(seen) == sorted((f"f{i}", i, i) for i in range(300))
    assert len(seen) > MAX_BATCH_FILES  # more than one batch


#: Valid file names (SPEC 4.4), odd unicode included.
NAMES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40
).filter(lambda name: is_file_name_valid(name) and not name.startswith(".remofile-"))


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    files=st.dictionaries(
        st.tuples(st.sampled_from(["", "a/", "a/b/", "c/"]), NAMES),
        st.integers(min_value=0, max_value=300_000),
        min_size=1,
        max_size=40,
    )
)
def test_any_tree_round_trips_through_batches(
    client: Client, layout: Layout, tmp_path: Path, files: dict[tuple[str, str], int]
) -> None:
    """Whatever the names and sizes (around the batch limits), both ways give the same tree."""
    case = tmp_path / f"case-{len(list(tmp_path.iterdir()))}"
    wanted: dict[str, bytes] = {}
    for (directory, name), size in files.items():
        if any(other.startswith(directory + name + "/") for other in ("a/b/", "a/", "c/")):
            continue  # the name of one of the directories
        wanted[directory + name] = os.urandom(size)
    if not wanted:
        return
    try:
        make_tree(case / "up", wanted)
    except OSError:
        return  # a name this file system refuses (too long in bytes)
    remote = f"/{case.name}"
    client.make_directory(case.name, "/", timeout=T)
    client.upload_directory(case / "up", remote, timeout=T)
    (case / "down").mkdir()
    client.download_directory(f"{remote}/up", case / "down", timeout=T)
    assert snapshot(case / "down" / "up") == snapshot(case / "up")
    assert snapshot(layout.root / case.name / "up") == snapshot(case / "up")
