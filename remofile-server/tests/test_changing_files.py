"""Changing what exists (SPEC.md 4.5.5, 4.14 to 4.16): replacing uploads, MOVE_FILE,
COPY_FILE and FILE_DIGEST, spoken by hand to a real server over real sockets."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from blake3 import blake3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from remofile.server.renames import rename_without_replacing
from remofile.v1 import remofile_pb2 as pb
from server_harness import TOKEN, Layout, RawPeer, RunningServer, snapshot, visible_entries

REPLACE = pb.CONFLICT_MODE_REPLACE
CHUNK = 1024


class Peer:
    """A raw peer with a session, sending one request kind at a time."""

    def __init__(self, raw: RawPeer) -> None:
        self.raw = raw
        self.session = raw.hello()

    def call(self, data: bytes | None = None, **kind: object) -> pb.Response:
        request = pb.Request(token=TOKEN, session_id=self.session, **kind)  # type: ignore[arg-type]
        return self.raw.request(request, data)[0]

    def move(self, source: str, directory: str, name: str, mode: int = 0) -> pb.Response:
        return self.call(
            move_file=pb.MoveFile(source=source, directory=directory, name=name, conflict_mode=mode)
        )

    def copy(self, source: str, directory: str, name: str, mode: int = 0) -> pb.Response:
        return self.call(
            copy_file=pb.CopyFile(source=source, directory=directory, name=name, conflict_mode=mode)
        )

    def digest(self, path: str, algorithm: int = 0) -> pb.Response:
        return self.call(file_digest=pb.FileDigest(path=path, algorithm=algorithm))

    def start_upload(
        self, name: str, size: int, mode: int = 0, resume: bool = False
    ) -> pb.Response:
        return self.call(
            upload_file=pb.UploadFile(
                name=name,
                directory="/",
                file_size=size,
                chunk_size=CHUNK,
                resume=resume,
                conflict_mode=mode,
            )
        )

    def send(self, content: bytes, offset: int, last: bool) -> pb.Response:
        chunk = pb.SendChunk(offset=offset)
        if last:
            chunk.digest.CopyFrom(
                pb.Digest(
                    algorithm=pb.DIGEST_ALGORITHM_SHA256, value=hashlib.sha256(content).digest()
                )
            )
        return self.call(content[offset : offset + CHUNK], send_chunk=chunk)

    def upload(self, name: str, content: bytes, mode: int = 0) -> pb.Response:
        accepted = self.start_upload(name, len(content), mode)
        if accepted.reason != pb.REASON_TRANSFER_ACCEPTED:
            return accepted
        offset = 0
        while True:
            last = offset + CHUNK >= len(content)
            response = self.send(content, offset, last)
            if last:
                return response
            offset += CHUNK


def _tree(root: Path) -> list[str]:
    """Every path below ``root`` but the staging area, relative, sorted."""
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob("*")
        if not str(path.relative_to(root)).startswith(".remofile-")
    )


@pytest.fixture
def peer(raw_peer: RawPeer) -> Peer:
    return Peer(raw_peer)


def test_features_are_announced(raw_peer: RawPeer) -> None:
    response, _ = raw_peer.request(pb.Request(token=TOKEN, hello=pb.Hello(protocol_version=1)))
    assert set(response.session_opened.features) == {
        pb.FEATURE_REPLACE,
        pb.FEATURE_MOVE,
        pb.FEATURE_COPY,
        pb.FEATURE_FILE_DIGEST,
        pb.FEATURE_SESSION_RECOVERY,
        pb.FEATURE_BATCH,
    }


# -- 4.5.5 replacing uploads ---------------------------------------------------------------


def test_replacing_upload_keeps_the_old_file_whole_until_the_new_one_is_complete(
    peer: Peer, layout: Layout
) -> None:
    old, new = os.urandom(5 * CHUNK), os.urandom(3 * CHUNK + 7)
    (layout.root / "data.bin").write_bytes(old)
    assert peer.start_upload("data.bin", len(new), REPLACE).reason == pb.REASON_TRANSFER_ACCEPTED
    for offset in (0, CHUNK, 2 * CHUNK):
        assert peer.send(new, offset, last=False).reason == pb.REASON_CHUNK_ACCEPTED
        assert (layout.root / "data.bin").read_bytes() == old
    assert peer.send(new, 3 * CHUNK, last=True).reason == pb.REASON_TRANSFER_COMPLETED
    assert (layout.root / "data.bin").read_bytes() == new
    assert visible_entries(layout.root) == ["data.bin"]


def test_an_interrupted_replacing_upload_resumes_and_the_old_file_stays_meanwhile(
    served: RunningServer, layout: Layout
) -> None:
    from server_harness import raw_peer_of

    old, new = b"old" * 1000, os.urandom(4 * CHUNK)
    (layout.root / "data.bin").write_bytes(old)
    with raw_peer_of(served.endpoint) as raw:
        first = Peer(raw)
        first.start_upload("data.bin", len(new), REPLACE)
        first.send(new, 0, last=False)
        first.send(new, CHUNK, last=False)
        first.call(goodbye=pb.Goodbye())
    assert (layout.root / "data.bin").read_bytes() == old
    with raw_peer_of(served.endpoint) as raw:
        second = Peer(raw)
        accepted = second.start_upload("data.bin", len(new), REPLACE, resume=True)
        assert accepted.transfer_accepted.offset == 2 * CHUNK
        second.send(new, 2 * CHUNK, last=False)
        assert second.send(new, 3 * CHUNK, last=True).reason == pb.REASON_TRANSFER_COMPLETED
    assert (layout.root / "data.bin").read_bytes() == new


@pytest.mark.parametrize("size", [0, 10, 3 * CHUNK])
def test_a_directory_is_never_replaced(peer: Peer, layout: Layout, size: int) -> None:
    (layout.root / "taken").mkdir()
    (layout.root / "taken" / "inside").write_bytes(b"x")
    response = peer.upload("taken", bytes(size), REPLACE)
    assert (response.type, response.reason) == (pb.RESPONSE_TYPE_REFUSED, pb.REASON_NOT_A_FILE)
    assert (layout.root / "taken" / "inside").read_bytes() == b"x"


@pytest.mark.parametrize("mode", [pb.CONFLICT_MODE_UNSPECIFIED, pb.CONFLICT_MODE_REFUSE, 77])
def test_without_replace_a_taken_name_is_refused(peer: Peer, layout: Layout, mode: int) -> None:
    (layout.root / "data.bin").write_bytes(b"old")
    assert peer.upload("data.bin", b"new", mode).reason == pb.REASON_FILE_ALREADY_EXISTS
    assert (layout.root / "data.bin").read_bytes() == b"old"


def test_replacing_a_link_replaces_the_link_not_its_target(peer: Peer, layout: Layout) -> None:
    (layout.root / "link").symlink_to(layout.sentinel / "secret.txt")
    assert peer.upload("link", b"small", REPLACE).reason == pb.REASON_TRANSFER_COMPLETED
    assert peer.upload("link", os.urandom(3 * CHUNK), REPLACE).reason == (
        pb.REASON_TRANSFER_COMPLETED
    )
    assert not (layout.root / "link").is_symlink()
    layout.assert_sentinel_unchanged()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(old=st.binary(max_size=3 * CHUNK), new=st.binary(max_size=3 * CHUNK))
def test_replace_of_any_sizes_leaves_exactly_the_new_file(
    peer: Peer, layout: Layout, old: bytes, new: bytes
) -> None:
    (layout.root / "f").write_bytes(old)
    assert peer.upload("f", new, REPLACE).reason == pb.REASON_TRANSFER_COMPLETED
    assert (layout.root / "f").read_bytes() == new
    assert visible_entries(layout.root) == ["f"]
    leftovers = [name for name in os.listdir(layout.root) if name.startswith(".remofile-tmp")]
    assert leftovers == []


# -- 4.14 MOVE_FILE -------------------------------------------------------------------------


def test_move_renames_and_moves_files_and_trees(peer: Peer, layout: Layout) -> None:
    (layout.root / "a.txt").write_bytes(b"a")
    os.utime(layout.root / "a.txt", ns=(1_500_000_000_000_000_000,) * 2)
    (layout.root / "tree" / "deep").mkdir(parents=True)
    (layout.root / "tree" / "deep" / "f").write_bytes(b"f")
    (layout.root / "target").mkdir()
    assert peer.move("/a.txt", "/", "b.txt").reason == pb.REASON_FILE_MOVED
    assert (layout.root / "b.txt").stat().st_mtime_ns == 1_500_000_000_000_000_000
    assert peer.move("/b.txt", "/target", "c.txt").reason == pb.REASON_FILE_MOVED
    assert peer.move("/tree", "/target", "tree").reason == pb.REASON_FILE_MOVED
    assert _tree(layout.root) == [
        "target",
        "target/c.txt",
        "target/tree",
        "target/tree/deep",
        "target/tree/deep/f",
    ]


def test_move_refuses_a_taken_name_unless_asked_to_replace(peer: Peer, layout: Layout) -> None:
    (layout.root / "a").write_bytes(b"a")
    (layout.root / "b").write_bytes(b"b")
    assert peer.move("/a", "/", "b").reason == pb.REASON_FILE_ALREADY_EXISTS
    assert (layout.root / "a").read_bytes() == b"a"
    assert (layout.root / "b").read_bytes() == b"b"
    assert peer.move("/a", "/", "b", REPLACE).reason == pb.REASON_FILE_MOVED
    assert visible_entries(layout.root) == ["b"]
    assert (layout.root / "b").read_bytes() == b"a"
    assert peer.move("/b", "/", "b", REPLACE).reason == pb.REASON_FILE_MOVED  # onto itself
    assert peer.move("/b", "/", "b").reason == pb.REASON_FILE_ALREADY_EXISTS


def test_move_never_replaces_a_directory_and_a_directory_replaces_nothing(
    peer: Peer, layout: Layout
) -> None:
    (layout.root / "file").write_bytes(b"f")
    (layout.root / "dir").mkdir()
    (layout.root / "other").mkdir()
    assert peer.move("/file", "/", "dir", REPLACE).reason == pb.REASON_NOT_A_FILE
    assert peer.move("/other", "/", "dir", REPLACE).reason == pb.REASON_NOT_A_FILE
    assert peer.move("/other", "/", "file", REPLACE).reason == pb.REASON_FILE_ALREADY_EXISTS
    assert visible_entries(layout.root) == ["dir", "file", "other"]


def test_move_refuses_a_directory_into_itself(peer: Peer, layout: Layout) -> None:
    (layout.root / "a" / "b").mkdir(parents=True)
    for directory in ("/a", "/a/b"):
        response = peer.move("/a", directory, "x")
        assert response.reason == pb.REASON_INVALID_DESTINATION, directory
    assert _tree(layout.root) == ["a", "a/b"]


@pytest.mark.parametrize(
    ("source", "directory", "name", "reason"),
    [
        ("/", "/d", "x", pb.REASON_BAD_REQUEST),
        ("relative", "/", "x", pb.REASON_BAD_REQUEST),
        ("/f", "/../", "x", pb.REASON_BAD_REQUEST),
        ("/f", "/", "a/b", pb.REASON_INVALID_FILE_NAME),
        ("/f", "/", ".remofile-x", pb.REASON_INVALID_FILE_NAME),
        ("/missing", "/", "x", pb.REASON_FILE_NOT_FOUND),
        ("/f/g", "/", "x", pb.REASON_FILE_NOT_FOUND),
        ("/f", "/missing", "x", pb.REASON_FILE_NOT_FOUND),
        ("/f", "/f", "x", pb.REASON_NOT_A_DIRECTORY),
        ("/out", "/", "x", pb.REASON_FILE_NOT_FOUND),
        ("/f", "/out-dir", "x", pb.REASON_FILE_NOT_FOUND),
    ],
)
def test_move_refusals(
    peer: Peer, layout: Layout, source: str, directory: str, name: str, reason: int
) -> None:
    (layout.root / "f").write_bytes(b"f")
    (layout.root / "d").mkdir()
    (layout.root / "out").symlink_to(layout.sentinel / "secret.txt")
    (layout.root / "out-dir").symlink_to(layout.sentinel)
    before = snapshot(layout.root)
    assert peer.move(source, directory, name).reason == reason
    assert peer.move(source, directory, name, REPLACE).reason == reason
    assert snapshot(layout.root) == before
    layout.assert_sentinel_unchanged()


def test_moving_a_link_moves_the_link(peer: Peer, layout: Layout) -> None:
    (layout.root / "target.txt").write_bytes(b"t")
    (layout.root / "d").mkdir()
    (layout.root / "link").symlink_to("target.txt")
    assert peer.move("/link", "/", "renamed").reason == pb.REASON_FILE_MOVED
    assert (layout.root / "renamed").is_symlink()
    assert (layout.root / "target.txt").read_bytes() == b"t"


def test_rename_without_replacing_never_replaces(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "b").write_bytes(b"b")
    (tmp_path / "d").mkdir()
    for source in ("a", "d"):
        with pytest.raises(FileExistsError):
            rename_without_replacing(str(tmp_path / source), str(tmp_path / "b"))
    rename_without_replacing(str(tmp_path / "d"), str(tmp_path / "e"))
    assert sorted(os.listdir(tmp_path)) == ["a", "b", "e"]


# -- 4.15 COPY_FILE -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 5 * CHUNK + 3, 3 << 20])
def test_copy_is_byte_identical_with_the_source_time(peer: Peer, layout: Layout, size: int) -> None:
    content = os.urandom(size)
    (layout.root / "src.bin").write_bytes(content)
    os.utime(layout.root / "src.bin", ns=(1_600_000_000_123_456_789,) * 2)
    (layout.root / "d").mkdir()
    assert peer.copy("/src.bin", "/d", "copy.bin").reason == pb.REASON_FILE_COPIED
    assert (layout.root / "d" / "copy.bin").read_bytes() == content
    assert (layout.root / "d" / "copy.bin").stat().st_mtime_ns == 1_600_000_000_123_456_789
    assert (layout.root / "src.bin").read_bytes() == content


def test_copy_conflicts(peer: Peer, layout: Layout) -> None:
    (layout.root / "a").write_bytes(b"aaa")
    (layout.root / "b").write_bytes(b"b")
    (layout.root / "d").mkdir()
    assert peer.copy("/a", "/", "b").reason == pb.REASON_FILE_ALREADY_EXISTS
    assert (layout.root / "b").read_bytes() == b"b"
    assert peer.copy("/a", "/", "d", REPLACE).reason == pb.REASON_NOT_A_FILE
    assert peer.copy("/d", "/", "e").reason == pb.REASON_NOT_A_FILE
    assert peer.copy("/a", "/", "b", REPLACE).reason == pb.REASON_FILE_COPIED
    assert (layout.root / "b").read_bytes() == b"aaa"
    assert peer.copy("/a", "/", "a", REPLACE).reason == pb.REASON_FILE_COPIED
    assert (layout.root / "a").read_bytes() == b"aaa"
    assert visible_entries(layout.root) == ["a", "b", "d"]


def test_copy_never_reads_or_writes_outside_the_root(peer: Peer, layout: Layout) -> None:
    (layout.root / "out").symlink_to(layout.sentinel / "secret.txt")
    (layout.root / "out-dir").symlink_to(layout.sentinel)
    (layout.root / "f").write_bytes(b"f")
    assert peer.copy("/out", "/", "stolen").reason == pb.REASON_FILE_NOT_FOUND
    assert peer.copy("/f", "/out-dir", "planted").reason == pb.REASON_FILE_NOT_FOUND
    assert peer.copy("/f", "/", "out", REPLACE).reason == pb.REASON_FILE_COPIED
    assert not (layout.root / "out").is_symlink()
    layout.assert_sentinel_unchanged()


# -- 4.16 FILE_DIGEST -----------------------------------------------------------------------


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.binary(max_size=4 * CHUNK))
def test_digest_is_the_hash_of_the_stored_bytes(peer: Peer, layout: Layout, content: bytes) -> None:
    (layout.root / "f").write_bytes(content)
    for algorithm, expected in (
        (pb.DIGEST_ALGORITHM_UNSPECIFIED, hashlib.sha256(content).digest()),
        (pb.DIGEST_ALGORITHM_SHA256, hashlib.sha256(content).digest()),
        (pb.DIGEST_ALGORITHM_BLAKE3, blake3(content).digest()),
    ):
        response = peer.digest("/f", algorithm)
        assert response.reason == pb.REASON_FILE_DIGESTED
        result = response.file_digest_result
        assert result.digest.value == expected
        assert result.digest.algorithm == (algorithm or pb.DIGEST_ALGORITHM_SHA256)
        assert result.file_size == len(content)
        assert result.modification_time_ns == (layout.root / "f").stat().st_mtime_ns


def test_digest_of_a_big_file_streams(peer: Peer, layout: Layout) -> None:
    content = os.urandom(9 << 20)
    (layout.root / "big").write_bytes(content)
    response = peer.digest("/big", pb.DIGEST_ALGORITHM_BLAKE3)
    assert response.file_digest_result.digest.value == blake3(content).digest()


@pytest.mark.parametrize(
    ("path", "algorithm", "reason"),
    [
        ("/missing", 0, pb.REASON_FILE_NOT_FOUND),
        ("/d", 0, pb.REASON_NOT_A_FILE),
        ("/out", 0, pb.REASON_FILE_NOT_FOUND),
        ("/f", 99, pb.REASON_UNSUPPORTED_FEATURE),
        ("f", 0, pb.REASON_BAD_REQUEST),
        ("/", 0, pb.REASON_NOT_A_FILE),
    ],
)
def test_digest_refusals(
    peer: Peer, layout: Layout, path: str, algorithm: int, reason: int
) -> None:
    (layout.root / "f").write_bytes(b"f")
    (layout.root / "d").mkdir()
    (layout.root / "out").symlink_to(layout.sentinel / "secret.txt")
    assert peer.digest(path, algorithm).reason == reason


def test_new_requests_are_illegal_during_a_transfer(peer: Peer, layout: Layout) -> None:
    (layout.root / "f").write_bytes(b"f")
    assert peer.start_upload("g", 3 * CHUNK).reason == pb.REASON_TRANSFER_ACCEPTED
    assert peer.move("/f", "/", "h").reason == pb.REASON_BAD_REQUEST
    assert peer.copy("/f", "/", "h").reason == pb.REASON_BAD_REQUEST
    assert peer.digest("/f").reason == pb.REASON_BAD_REQUEST
    assert peer.call(cancel_transfer=pb.CancelTransfer()).reason == pb.REASON_TRANSFER_CANCELLED
    assert peer.move("/f", "/", "h").reason == pb.REASON_FILE_MOVED


def test_without_unnamed_files_copies_and_replacing_stores_go_through_staging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Systems without O_TMPFILE (not Linux, no /proc): the staging area does the job."""
    from remofile.core import whole_files
    from remofile.server.storage import LocalStorage

    monkeypatch.setattr(whole_files, "_descriptor_directory", lambda: None)
    storage = LocalStorage(tmp_path)
    (tmp_path / "a").write_bytes(b"a" * 3000)
    (tmp_path / "b").write_bytes(b"b")
    storage.copy_file(("a",), (), "c", replace=False, sync=True)
    storage.copy_file(("a",), (), "b", replace=True, sync=False)
    storage.store_file((), "c", memoryview(b"new"), 0, sync=False, replace=True)
    with pytest.raises(FileExistsError):
        storage.store_file((), "c", memoryview(b"newer"), 0, sync=False)
    assert (tmp_path / "b").read_bytes() == b"a" * 3000
    assert (tmp_path / "c").read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path / ".remofile-staging" / "uploads")) == []
