"""Small uploads stored on worker threads (placement.py): answers keep their order and
meaning, whatever the timing, and nothing is visible before it is whole."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from remofile.core.digests import new_hasher
from remofile.server.storage import LocalStorage
from remofile.v1 import remofile_pb2 as pb
from server_harness import (
    STAGING,
    TOKEN,
    Layout,
    RawPeer,
    RunningServer,
    raw_peer_of,
    serve_in_thread,
    visible_entries,
)

CHUNK = 4096


def _upload_requests(session_id: bytes, name: str, content: bytes) -> list[tuple[bytes, ...]]:
    """UPLOAD_FILE and its one SEND_CHUNK, as frames, for a file of one chunk."""
    start = pb.Request(token=TOKEN, session_id=session_id)
    start.upload_file.CopyFrom(
        pb.UploadFile(
            name=name,
            directory="/",
            file_size=len(content),
            chunk_size=CHUNK,
            digest_algorithm=pb.DIGEST_ALGORITHM_BLAKE3,
        )
    )
    hasher = new_hasher(pb.DIGEST_ALGORITHM_BLAKE3)
    hasher.update(content)
    chunk = pb.Request(token=TOKEN, session_id=session_id)
    chunk.send_chunk.offset = 0
    chunk.send_chunk.digest.algorithm = pb.DIGEST_ALGORITHM_BLAKE3
    chunk.send_chunk.digest.value = hasher.digest()
    return [
        (b"", start.SerializeToString()),
        (b"", chunk.SerializeToString(), content),
    ]


def _list_request(session_id: bytes) -> tuple[bytes, ...]:
    request = pb.Request(token=TOKEN, session_id=session_id)
    request.list_files.directory = "/"
    return (b"", request.SerializeToString())


def _send_all(peer: RawPeer, messages: list[tuple[bytes, ...]]) -> list[pb.Response]:
    """Send every message without waiting, then read one answer each, in order."""
    for frames in messages:
        peer.send(*frames)
    return [peer.response()[0] for _ in messages]


@pytest.fixture
def served_raw(layout: Layout) -> Iterator[tuple[RunningServer, RawPeer, bytes]]:
    with (
        serve_in_thread(layout.root, chunk_size_range=(512, 1 << 20)) as running,
        raw_peer_of(running.endpoint) as peer,
    ):
        yield running, peer, peer.hello()


def test_pipelined_small_uploads_are_answered_in_order_and_then_listed(
    served_raw: tuple[RunningServer, RawPeer, bytes], layout: Layout
) -> None:
    """A listing sent right behind the uploads, unanswered yet, sees every file."""
    _, peer, session = served_raw
    contents = {f"f{index:02d}.bin": os.urandom(index * 97) for index in range(12)}
    messages = [m for name, data in contents.items() for m in _upload_requests(session, name, data)]
    responses = _send_all(peer, [*messages, _list_request(session)])
    reasons = [response.reason for response in responses[:-1]]
    assert reasons == [pb.REASON_TRANSFER_ACCEPTED, pb.REASON_TRANSFER_COMPLETED] * len(contents)
    listed = {entry.name: entry.size for entry in responses[-1].file_list.entries}
    assert listed == {name: len(data) for name, data in contents.items()}
    for name, data in contents.items():
        assert (layout.root / name).read_bytes() == data


def test_the_same_name_twice_in_a_row_is_refused_as_taken(
    served_raw: tuple[RunningServer, RawPeer, bytes], layout: Layout
) -> None:
    """The second UPLOAD_FILE arrives while the first file may still be being stored: it
    is FILE_ALREADY_EXISTS, exactly as on a server that stores one file at a time."""
    _, peer, session = served_raw
    first = _upload_requests(session, "same.bin", b"first")
    second = _upload_requests(session, "same.bin", b"second")
    responses = _send_all(peer, [*first, second[0]])
    assert [r.reason for r in responses] == [
        pb.REASON_TRANSFER_ACCEPTED,
        pb.REASON_TRANSFER_COMPLETED,
        pb.REASON_FILE_ALREADY_EXISTS,
    ]
    assert (layout.root / "same.bin").read_bytes() == b"first"


class _TakenByAnotherProcess(LocalStorage):
    """Someone else creates the file between the last chunk and its placement."""

    def store_file(self, directory, name, data, modification_time_ns, sync, replace=False):  # type: ignore[no-untyped-def]
        (Path(self.root) / name).write_bytes(b"someone else's")
        super().store_file(directory, name, data, modification_time_ns, sync, replace)


class _FailingStorage(LocalStorage):
    """The disk fails while a small file is stored."""

    def store_file(self, directory, name, data, modification_time_ns, sync, replace=False):  # type: ignore[no-untyped-def]
        raise OSError(5, "Input/output error")


@pytest.mark.parametrize(
    ("storage", "message"),
    [(_TakenByAnotherProcess, "name was taken"), (_FailingStorage, "Input/output error")],
    ids=["name-taken", "io-error"],
)
def test_a_failed_placement_is_answered_and_the_next_requests_go_on(
    layout: Layout, storage: type[LocalStorage], message: str
) -> None:
    """A name taken meanwhile is REFUSED FILE_ALREADY_EXISTS (SPEC 4.9.2), a failing
    disk ERROR UNKNOWN_ERROR."""
    with (
        serve_in_thread(layout.root, storage_factory=storage) as running,
        raw_peer_of(running.endpoint) as peer,
    ):
        session = peer.hello()
        upload = _upload_requests(session, "x.bin", b"mine")
        responses = _send_all(peer, [*upload, _list_request(session)])
        if storage is _TakenByAnotherProcess:
            assert responses[1].type == pb.RESPONSE_TYPE_REFUSED
            assert responses[1].reason == pb.REASON_FILE_ALREADY_EXISTS
        else:
            assert responses[1].type == pb.RESPONSE_TYPE_ERROR
            assert responses[1].reason == pb.REASON_UNKNOWN_ERROR
        assert message in responses[1].message
        assert str(layout.root) not in responses[1].message
        assert responses[2].reason == pb.REASON_FILES_LISTED
    if storage is _TakenByAnotherProcess:
        assert (layout.root / "x.bin").read_bytes() == b"someone else's"
    else:
        assert visible_entries(layout.root) == []


def test_terminate_places_and_answers_what_is_being_stored(layout: Layout) -> None:
    """Stopping the server waits for the files being stored: each is whole or absent."""
    with serve_in_thread(layout.root) as running, raw_peer_of(running.endpoint) as peer:
        session = peer.hello()
        messages = [
            m for index in range(8) for m in _upload_requests(session, f"t{index}", b"x" * 100)
        ]
        for frames in messages:
            peer.send(*frames)
        peer.response()  # the server has begun
        running.server.terminate()
        running.thread.join(10)
    placed = visible_entries(layout.root)
    assert set(placed) <= {f"t{index}" for index in range(8)}
    for name in placed:
        assert (layout.root / name).read_bytes() == b"x" * 100
    staging = layout.root / STAGING / "uploads"
    assert not staging.exists() or not os.listdir(staging), "nothing half-stored is left"


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=3 * CHUNK), min_size=1, max_size=10),
    window=st.integers(min_value=1, max_value=16),
)
def test_mixed_sizes_and_windows_move_exactly(
    served: RunningServer, tmp_path_factory: pytest.TempPathFactory, sizes: list[int], window: int
) -> None:
    """Files of one chunk (stored on workers) and of several (staged) mixed in one tree,
    through any window: every file arrives whole, and a listing right after sees them."""
    source = tmp_path_factory.mktemp("tree")
    for index, size in enumerate(sizes):
        (source / f"m{index}.bin").write_bytes(os.urandom(size))
    client = served.client(window=window)
    name = f"tree-{os.urandom(4).hex()}"
    try:
        client.upload_directory(source, "/", name=name, chunk_size=CHUNK)
        listed = client.list_files(f"/{name}")
    finally:
        client.close()  # the next example's client must find the server free
    assert {key: meta.size for key, meta in listed.items()} == {
        f"m{index}.bin": size for index, size in enumerate(sizes)
    }
    for index in range(len(sizes)):
        stored = served.root / name / f"m{index}.bin"
        assert stored.read_bytes() == (source / f"m{index}.bin").read_bytes()
