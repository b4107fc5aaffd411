"""The served root is a jail: no path, name or link reaches anything outside it.

The root is ``<tmp>/served``; next to it ``<tmp>/sentinel`` holds files that must never
be read, listed or changed, and ``<tmp>/local`` is the client's side.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from remofile.client import Client
from remofile.core import (
    DestinationNotFound,
    FileNameError,
    SourceNotFound,
)
from remofile.v1 import remofile_pb2 as pb
from server_harness import (
    CALL_TIMEOUT_MS,
    STAGING,
    TOKEN,
    Layout,
    RawPeer,
    RunningServer,
    raw_peer_of,
    serve_in_thread,
    snapshot,
    visible_entries,
)

#: What a call with a hostile path or name may raise: the documented exceptions.
DOCUMENTED = (
    ValueError,
    FileNotFoundError,
    NotADirectoryError,
    FileExistsError,
    FileNameError,
    SourceNotFound,
    DestinationNotFound,
)


# -- symbolic links -----------------------------------------------------------------


@pytest.fixture
def linked(layout: Layout) -> Layout:
    """A root holding links to a file and a directory outside it, and links inside it."""
    root = layout.root
    (root / "inside").mkdir()
    (root / "inside" / "ok.txt").write_bytes(b"inside data")
    (root / "out-file").symlink_to(layout.sentinel / "secret.txt")
    (root / "out-dir").symlink_to(layout.sentinel)
    (root / "out-relative").symlink_to(Path("..") / "sentinel")
    (root / "inside" / "deep-out").symlink_to(Path("..") / ".." / "sentinel" / "inner")
    (root / "in-file").symlink_to(root / "inside" / "ok.txt")
    (root / "dangling").symlink_to(layout.sentinel / "does-not-exist")
    (root / "to-staging").symlink_to(root / STAGING)
    return layout


def test_links_to_outside_are_not_listed(served: RunningServer, linked: Layout) -> None:
    client = served.client()
    assert sorted(client.list_files("/", timeout=CALL_TIMEOUT_MS)) == ["in-file", "inside"]
    assert sorted(client.list_files("/", timeout=CALL_TIMEOUT_MS, recursive=True)) == [
        "in-file",
        "inside",
        "inside/ok.txt",
    ]
    for directory in ("/out-dir", "/out-relative", "/inside/deep-out", "/to-staging"):
        with pytest.raises(FileNotFoundError):
            client.list_files(directory, timeout=CALL_TIMEOUT_MS)
    linked.assert_sentinel_unchanged()


@pytest.mark.parametrize(
    "path",
    [
        "/out-file",
        "/out-dir/secret.txt",
        "/out-relative/secret.txt",
        "/inside/deep-out/data.bin",
        "/dangling",
        "/to-staging",
    ],
)
def test_downloading_through_a_link_to_outside_raises_source_not_found(
    served: RunningServer, linked: Layout, path: str
) -> None:
    client = served.client()
    with pytest.raises(SourceNotFound):
        client.download_file(path, linked.local, name="got", timeout=CALL_TIMEOUT_MS)
    with pytest.raises(SourceNotFound):
        client.download_directory(path, linked.local, name="got", timeout=CALL_TIMEOUT_MS)
    assert os.listdir(linked.local) == []
    linked.assert_sentinel_unchanged()


@pytest.mark.parametrize("directory", ["/out-dir", "/out-relative", "/inside/deep-out"])
def test_uploading_into_a_link_to_outside_raises_destination_not_found(
    served: RunningServer, linked: Layout, directory: str
) -> None:
    (linked.local / "payload.txt").write_bytes(b"must not leave the root")
    (linked.local / "tree").mkdir()
    (linked.local / "tree" / "leaf.txt").write_bytes(b"leaf")
    client = served.client()
    with pytest.raises(DestinationNotFound):
        client.upload_file(linked.local / "payload.txt", directory, timeout=CALL_TIMEOUT_MS)
    with pytest.raises(DestinationNotFound):
        client.upload_directory(linked.local / "tree", directory, timeout=CALL_TIMEOUT_MS)
    with pytest.raises(FileNotFoundError):
        client.create_file("new.txt", directory, timeout=CALL_TIMEOUT_MS)
    with pytest.raises(FileNotFoundError):
        client.make_directory("new", directory, timeout=CALL_TIMEOUT_MS)
    linked.assert_sentinel_unchanged()


@pytest.mark.parametrize("path", ["/out-dir/secret.txt", "/inside/deep-out/data.bin"])
def test_deleting_through_a_link_to_outside_leaves_the_outside_alone(
    served: RunningServer, linked: Layout, path: str
) -> None:
    with pytest.raises(FileNotFoundError):
        served.client().delete_file(path, timeout=CALL_TIMEOUT_MS)
    linked.assert_sentinel_unchanged()


@pytest.mark.parametrize("name", ["out-file", "out-dir", "dangling", "to-staging"])
def test_a_hidden_link_takes_its_name_and_can_be_removed_itself(
    served: RunningServer, linked: Layout, name: str
) -> None:
    """SPEC 4.5.2 rule 4, 4.11.1: a link to outside, to nothing or to the staging area is
    not listed, but its name is taken; removing it removes the link, never its target."""
    client = served.client()
    with pytest.raises(FileExistsError):
        client.make_directory(name, "/", timeout=CALL_TIMEOUT_MS)
    client.delete_file(f"/{name}", timeout=CALL_TIMEOUT_MS)
    assert not os.path.lexists(linked.root / name)
    client.make_directory(name, "/", timeout=CALL_TIMEOUT_MS)
    assert (linked.root / name).is_dir()
    assert (linked.root / STAGING).is_dir()
    linked.assert_sentinel_unchanged()


def test_links_inside_the_root_work(served: RunningServer, linked: Layout) -> None:
    client = served.client()
    client.download_file("/in-file", linked.local, timeout=CALL_TIMEOUT_MS)
    assert (linked.local / "in-file").read_bytes() == b"inside data"
    client.download_directory("/inside", linked.local, timeout=CALL_TIMEOUT_MS)
    assert sorted(os.listdir(linked.local / "inside")) == ["ok.txt"]
    client.delete_file("/in-file", timeout=CALL_TIMEOUT_MS)
    assert (linked.root / "inside" / "ok.txt").read_bytes() == b"inside data"
    linked.assert_sentinel_unchanged()


def test_a_root_that_is_itself_a_link_is_served(layout: Layout) -> None:
    (layout.root / "file.txt").write_bytes(b"data")
    link = layout.local / "root-link"
    link.symlink_to(layout.root)
    with serve_in_thread(link) as running:
        client = running.client()
        assert list(client.list_files("/", timeout=CALL_TIMEOUT_MS)) == ["file.txt"]
        client.download_file("/file.txt", layout.local, timeout=CALL_TIMEOUT_MS)
    assert (layout.local / "file.txt").read_bytes() == b"data"


# -- special files ------------------------------------------------------------------


def test_fifo_in_the_root_neither_blocks_nor_downloads(
    served: RunningServer, layout: Layout
) -> None:
    os.mkfifo(layout.root / "pipe")
    (layout.root / "regular.txt").write_bytes(b"regular")
    client = served.client()
    started = time.monotonic()
    with pytest.raises(SourceNotFound):
        client.download_file("/pipe", layout.local, timeout=CALL_TIMEOUT_MS)
    assert time.monotonic() - started < 2
    assert os.listdir(layout.local) == []
    assert "regular.txt" in client.list_files("/", timeout=CALL_TIMEOUT_MS)
    client.download_file("/regular.txt", layout.local, timeout=CALL_TIMEOUT_MS)
    assert (layout.local / "regular.txt").read_bytes() == b"regular"


def test_staging_directory_is_never_listed_nor_addressable(
    served: RunningServer, layout: Layout
) -> None:
    (layout.local / "f.txt").write_bytes(b"x" * 5000)
    client = served.client(window=1)

    class Stop(Exception):
        pass

    def stop(chunk: bytes, remaining: int, size: int, name: str) -> None:
        if remaining < size:
            raise Stop

    with pytest.raises(Stop):
        client.upload_file(
            layout.local / "f.txt", "/", chunk_size=1024, process_chunk=stop, timeout=5000
        )
    assert (layout.root / STAGING).is_dir()
    assert client.list_files("/", timeout=CALL_TIMEOUT_MS) == {}
    assert client.list_files("/", timeout=CALL_TIMEOUT_MS, recursive=True) == {}
    for name in (STAGING, ".REMOFILE-STAGING"):
        with pytest.raises(ValueError, match="reserved"):
            client.list_files(f"/{name}", timeout=CALL_TIMEOUT_MS)
        with pytest.raises(FileNameError):
            client.make_directory(name, "/", timeout=CALL_TIMEOUT_MS)
        with pytest.raises(ValueError, match="reserved"):
            client.delete_file(f"/{name}", timeout=CALL_TIMEOUT_MS)
    assert (layout.root / STAGING).is_dir()


# -- hostile paths and names, through the client ------------------------------------

#: Replaced at run time by the absolute local path of the sentinel directory.
SENTINEL = "<sentinel>"

hostile_component = st.one_of(
    st.sampled_from(
        [
            "..",
            ".",
            "",
            "...",
            "~",
            "sub",
            "file.txt",
            SENTINEL,
            STAGING,
            ".Remofile-Staging",
            "uploads",
            "\x00",
            "a\x00b",
            "x" * 256,
            "é" * 128,
            "\ud800",
            "\u202e\u0301",
            "\u0085",
            "\x7f",
            "a:b",
            "a\\b",
            " ",
            "CON",
            "\U0001f4a9",
            "ﬁ",
        ]
    ),
    st.text(max_size=12),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=4),
)

hostile_path = st.one_of(
    st.lists(hostile_component, max_size=5).map(lambda parts: "/" + "/".join(parts)),
    st.lists(hostile_component, min_size=1, max_size=4).map("/".join),
    st.sampled_from(
        [
            "/",
            "//",
            "/../sentinel",
            "/../../../../../../../../etc",
            "/sub/../../sentinel",
            "..",
            SENTINEL,
            SENTINEL + "/secret.txt",
            "/" + "/".join(["a" * 255] * 16),
            "/" + "a" * 5000,
        ]
    ),
)


def resolve(value: str, layout: Layout) -> str:
    return value.replace(SENTINEL, str(layout.sentinel))


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    operation=st.sampled_from(
        [
            "list_files",
            "list_recursive",
            "create_file",
            "make_directory",
            "upload_file",
            "upload_directory",
            "download_file",
            "download_directory",
            "delete_file",
        ]
    ),
    path=hostile_path,
    name=st.one_of(st.none(), hostile_component),
)
def test_hostile_paths_and_names_stay_inside_the_root(
    served: RunningServer, layout: Layout, operation: str, path: str, name: str | None
) -> None:
    path = resolve(path, layout)
    name = None if name is None else resolve(name, layout)
    sources = layout.local / "sources"
    downloads = layout.local / "downloads"
    if not sources.exists():
        sources.mkdir()
        (sources / "file.txt").write_bytes(b"payload")
        (sources / "tree").mkdir()
        (sources / "tree" / "leaf.txt").write_bytes(b"leaf")
        downloads.mkdir()
        (layout.root / "sub").mkdir()
        (layout.root / "sub" / "file.txt").write_bytes(b"remote")
    sources_before = snapshot(sources)
    client = served.client()
    timeout = CALL_TIMEOUT_MS
    calls: dict[str, Callable[[], object]] = {
        "list_files": lambda: client.list_files(path, timeout=timeout),
        "list_recursive": lambda: client.list_files(path, timeout=timeout, recursive=True),
        "create_file": lambda: client.create_file(name or "", path, timeout=timeout),
        "make_directory": lambda: client.make_directory(name or "", path, timeout=timeout),
        "upload_file": lambda: client.upload_file(
            sources / "file.txt", path, name=name, timeout=timeout
        ),
        "upload_directory": lambda: client.upload_directory(
            sources / "tree", path, name=name, timeout=timeout
        ),
        "download_file": lambda: client.download_file(path, downloads, name=name, timeout=timeout),
        "download_directory": lambda: client.download_directory(
            path, downloads, name=name, timeout=timeout
        ),
        "delete_file": lambda: client.delete_file(path, timeout=timeout),
    }
    try:
        calls[operation]()
    except DOCUMENTED:
        pass
    finally:
        served.close_clients()
    layout.assert_sentinel_unchanged()
    assert snapshot(sources) == sources_before
    assert sorted(os.listdir(layout.local)) == ["downloads", "sources"]
    assert_everything_inside(layout.root)
    with served.client() as check:
        check.list_files("/", timeout=CALL_TIMEOUT_MS)


def assert_everything_inside(root: Path) -> None:
    real_root = os.path.realpath(root)
    for directory, directories, files in os.walk(root):
        for entry in directories + files:
            real = os.path.realpath(os.path.join(directory, entry))
            assert real == real_root or real.startswith(real_root + os.sep), real


# -- hostile paths and names, sent raw (no client-side checks) ----------------------

raw_text = st.one_of(
    st.text(max_size=24),
    st.sampled_from(
        [
            "/..",
            "/../sentinel",
            "/../sentinel/secret.txt",
            "../sentinel",
            "..",
            "/sub/../..",
            "/./../.",
            "sentinel",
            "/" + STAGING,
            "/" + STAGING + "/uploads",
            "/" + "/".join([".."] * 20) + "/etc/passwd",
            "a/b",
            "../x",
            "/\x00",
            "",
            "/",
        ]
    ),
)


@pytest.fixture
def raw_session(served: RunningServer) -> Iterator[tuple[RawPeer, bytes]]:
    with raw_peer_of(served.endpoint) as peer:
        yield peer, peer.hello()


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(
        ["list_files", "create_file", "make_directory", "upload_file", "download_file", "remove"]
    ),
    directory=raw_text,
    name=raw_text,
)
def test_raw_requests_with_hostile_paths_stay_inside_the_root(
    served: RunningServer,
    layout: Layout,
    raw_session: tuple[RawPeer, bytes],
    kind: str,
    directory: str,
    name: str,
) -> None:
    peer, session = raw_session

    def ask(data: bytes | None = None, **request: object) -> pb.Response:
        response, _ = peer.request(
            pb.Request(token=TOKEN, session_id=session, **request),  # type: ignore[arg-type]
            data,
        )
        assert response.type in (pb.RESPONSE_TYPE_ACCEPTED, pb.RESPONSE_TYPE_REFUSED) or (
            response.reason == pb.REASON_BAD_REQUEST
        ), response
        return response

    if kind == "list_files":
        ask(list_files=pb.ListFiles(directory=directory, recursive=True))
    elif kind == "create_file":
        ask(create_file=pb.CreateFile(name=name, directory=directory))
    elif kind == "make_directory":
        ask(make_directory=pb.MakeDirectory(name=name, directory=directory))
    elif kind == "upload_file":
        upload = pb.UploadFile(name=name, directory=directory, file_size=5, chunk_size=512)
        if ask(upload_file=upload).reason == pb.REASON_TRANSFER_ACCEPTED:
            digest = pb.Digest(
                algorithm=pb.DIGEST_ALGORITHM_SHA256, value=hashlib.sha256(b"hello").digest()
            )
            done = ask(b"hello", send_chunk=pb.SendChunk(offset=0, digest=digest))
            assert done.reason == pb.REASON_TRANSFER_COMPLETED
    elif kind == "download_file":
        download = pb.DownloadFile(path=directory, chunk_size=512)
        if ask(download_file=download).reason == pb.REASON_TRANSFER_ACCEPTED:
            for _ in range(1000):
                if ask(receive_chunk=pb.ReceiveChunk()).reason != pb.REASON_CHUNK_SENT:
                    break
    else:
        response = ask(remove_file=pb.RemoveFile(path=directory))
        for _ in range(1000):
            if response.reason != pb.REASON_REMOVAL_STARTED and (
                response.reason != pb.REASON_ENTRIES_REMOVED
            ):
                break
            response = ask(continue_removal=pb.ContinueRemoval())
    layout.assert_sentinel_unchanged()
    assert_everything_inside(layout.root)
    listed = ask(list_files=pb.ListFiles(directory="/"))
    assert listed.reason == pb.REASON_FILES_LISTED


def test_client_refuses_a_remote_name_that_would_escape_the_local_destination(
    served: RunningServer, layout: Layout
) -> None:
    """A listing entry that is not a valid name (made here by a local user) is refused."""
    (layout.root / "tree").mkdir()
    (layout.root / "tree" / "a:b").write_bytes(b"odd")
    client = served.client()
    with pytest.raises(FileNameError):
        client.download_directory("/tree", layout.local, timeout=CALL_TIMEOUT_MS)
    assert not (layout.local / "a:b").exists()
    layout.assert_sentinel_unchanged()


def test_client_never_accepts_a_remote_path_as_a_local_escape(
    served: RunningServer, layout: Layout
) -> None:
    (layout.root / "f").write_bytes(b"remote")
    client = Client(served.endpoint, None, TOKEN)
    served.clients.append(client)
    for name in ("../escaped", "/tmp/escaped", "..", ".", "a/b", ""):
        with pytest.raises(FileNameError):
            client.download_file("/f", layout.local, name=name, timeout=CALL_TIMEOUT_MS)
    assert os.listdir(layout.local) == []
    assert not (layout.root.parent / "escaped").exists()


def test_a_link_loop_inside_the_root_is_never_followed(
    served: RunningServer, layout: Layout
) -> None:
    (layout.root / "a" / "b").mkdir(parents=True)
    (layout.root / "a" / "b" / "f").write_bytes(b"f")
    (layout.root / "a" / "b" / "loop").symlink_to(layout.root / "a")
    client = served.client()
    assert sorted(client.list_files("/", timeout=CALL_TIMEOUT_MS, recursive=True)) == [
        "a",
        "a/b",
        "a/b/f",
        "a/b/loop",
    ]
    client.download_directory("/a", layout.local, timeout=CALL_TIMEOUT_MS)
    assert os.listdir(layout.local / "a" / "b" / "loop") == []
    client.delete_file("/a", timeout=CALL_TIMEOUT_MS)
    assert visible_entries(layout.root) == []
    layout.assert_sentinel_unchanged()
