"""Other clients are answered at once whatever the live session's request costs: the
refusals come from the server's loop, the session's work from its own thread."""

from __future__ import annotations

import time
from pathlib import Path

from remofile.v1 import remofile_pb2 as pb
from server_harness import TOKEN, RawPeer, raw_peer_of, serve_in_thread

#: Files of the tree the holder lists: long enough to list for a good while.
ENTRIES = 60_000


def _send(peer: RawPeer, session: bytes, **kind: object) -> None:
    request = pb.Request(token=TOKEN, session_id=session, **kind)  # type: ignore[arg-type]
    peer.send(b"", request.SerializeToString())


def test_a_busy_refusal_and_a_bad_message_overtake_a_long_listing(tmp_path: Path) -> None:
    root = tmp_path / "served"
    (root / "tree").mkdir(parents=True)
    for index in range(ENTRIES // 1000):
        batch = root / "tree" / f"d{index}"
        batch.mkdir()
        for inner in range(1000):
            (batch / str(inner)).touch()
    with (
        serve_in_thread(root, sync_writes=False) as running,
        raw_peer_of(running.endpoint) as holder,
        raw_peer_of(running.endpoint) as other,
    ):
        session = holder.hello()
        _send(holder, session, list_files=pb.ListFiles(directory="/", recursive=True))
        time.sleep(0.02)  # the listing is under way on the session's thread
        refused, _ = other.request(pb.Request(token=TOKEN, hello=pb.Hello(protocol_version=1)))
        other.send(b"", b"not a request")
        malformed, _ = other.response()
        # Both answers came while the listing was still being made: its answer is not
        # there yet. (A server that works in its loop answers the listing first.)
        listing_done_first = holder.socket.poll(0) != 0
        listed, _ = holder.response(timeout_ms=60_000)
    assert refused.reason == pb.REASON_SERVER_BUSY
    assert malformed.reason == pb.REASON_BAD_REQUEST
    assert listed.reason == pb.REASON_FILES_LISTED
    assert len(listed.file_list.entries) > 60_000
    assert not listing_done_first, "the refusals waited for the holder's listing"
