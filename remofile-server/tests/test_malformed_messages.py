"""Messages a Client never sends, from a bare DEALER socket: the server answers each
with exactly one ERROR BAD_REQUEST (or a refusal) and keeps serving."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from remofile.v1 import remofile_pb2 as pb
from server_harness import TOKEN, RawPeer, RunningServer, raw_peer_of

HELLO = pb.Request(token=TOKEN, hello=pb.Hello(protocol_version=1)).SerializeToString()
LIST_ROOT = pb.Request(token=TOKEN, list_files=pb.ListFiles(directory="/")).SerializeToString()
SEND_CHUNK = pb.Request(token=TOKEN, send_chunk=pb.SendChunk(offset=0)).SerializeToString()


def assert_bad_request(response: pb.Response) -> None:
    assert response.type == pb.RESPONSE_TYPE_ERROR, response
    assert response.reason == pb.REASON_BAD_REQUEST, response
    assert response.message  # an ERROR always says why


def assert_still_serving(served: RunningServer) -> None:
    with served.client() as client:
        client.list_files("/", timeout=5000)


@pytest.mark.parametrize(
    "frames",
    [
        pytest.param([b"", b"garbage"], id="garbage-body"),
        pytest.param([b"", b""], id="empty-body"),
        pytest.param([b""], id="delimiter-only"),
        pytest.param([b"", b"\x08\x01"], id="request-without-kind"),
        pytest.param([b"", pb.Request(token=TOKEN).SerializeToString()], id="token-only"),
        pytest.param([b"", HELLO, b"extra"], id="hello-with-a-data-frame"),
        pytest.param([b"", LIST_ROOT, b"a", b"b"], id="list-with-two-data-frames"),
        pytest.param([b"", SEND_CHUNK], id="send-chunk-without-its-data-frame"),
        pytest.param([b"", b"\xff" * 64], id="undecodable-bytes"),
    ],
)
def test_malformed_message_is_answered_bad_request(
    served: RunningServer, raw_peer: RawPeer, frames: list[bytes]
) -> None:
    raw_peer.send(*frames)
    response, data = raw_peer.response()
    assert_bad_request(response)
    assert data == []
    assert_still_serving(served)


@pytest.mark.parametrize(
    "frames",
    [
        pytest.param([b"garbage"], id="garbage"),
        pytest.param([HELLO], id="valid-hello"),
        pytest.param([HELLO, b"more"], id="two-frames"),
    ],
)
def test_message_without_delimiter_is_answered_bad_request_with_a_delimiter(
    served: RunningServer, raw_peer: RawPeer, frames: list[bytes]
) -> None:
    raw_peer.send(*frames)
    response, _ = raw_peer.response()
    assert_bad_request(response)
    assert_still_serving(served)


def test_each_malformed_message_gets_its_own_answer_in_order(
    served: RunningServer, raw_peer: RawPeer
) -> None:
    for frames in ([b"", b"garbage"], [b"", HELLO], [b"", b""], [b"", LIST_ROOT]):
        raw_peer.send(*frames)
    reasons = [raw_peer.response()[0].reason for _ in range(4)]
    assert reasons == [
        pb.REASON_BAD_REQUEST,
        pb.REASON_SESSION_OPENED,
        pb.REASON_BAD_REQUEST,
        # LIST_ROOT carries no session id: another session (the raw peer's) is live.
        pb.REASON_SERVER_BUSY,
    ]


def test_malformed_messages_do_not_disturb_the_live_session(
    served: RunningServer, raw_peer: RawPeer
) -> None:
    owner = served.client()
    owner.create_file("before", "/", timeout=5000)
    raw_peer.send(b"", b"garbage")
    assert_bad_request(raw_peer.response()[0])
    owner.create_file("after", "/", timeout=5000)
    assert sorted(owner.list_files("/", timeout=5000)) == ["after", "before"]


def in_session(session_id: bytes, **kind: object) -> pb.Request:
    return pb.Request(token=TOKEN, session_id=session_id, **kind)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kind",
    [
        {"send_chunk": pb.SendChunk(offset=0)},
        {"receive_chunk": pb.ReceiveChunk()},
        {"continue_removal": pb.ContinueRemoval()},
    ],
    ids=["send_chunk", "receive_chunk", "continue_removal"],
)
def test_request_not_allowed_in_idle_is_answered_bad_request(
    served: RunningServer, raw_peer: RawPeer, kind: dict[str, object]
) -> None:
    session = raw_peer.hello()
    data = b"x" if "send_chunk" in kind else None
    response, _ = raw_peer.request(in_session(session, **kind), data)
    assert_bad_request(response)
    # The state did not change: the session still works.
    listed, _ = raw_peer.request(in_session(session, list_files=pb.ListFiles(directory="/")))
    assert listed.reason == pb.REASON_FILES_LISTED


def test_removing_the_root_is_answered_bad_request(
    served: RunningServer, raw_peer: RawPeer
) -> None:
    session = raw_peer.hello()
    response, _ = raw_peer.request(in_session(session, remove_file=pb.RemoveFile(path="/")))
    assert_bad_request(response)
    assert served.root.is_dir()


@pytest.mark.parametrize(
    ("offset", "data", "compression"),
    [
        pytest.param(1, b"x" * 600, pb.COMPRESSION_NONE, id="wrong-offset"),
        pytest.param(0, b"x" * 599, pb.COMPRESSION_NONE, id="short-chunk"),
        pytest.param(0, b"x" * 601, pb.COMPRESSION_NONE, id="long-chunk"),
        pytest.param(0, b"not zlib at all", pb.COMPRESSION_ZLIB, id="not-zlib"),
        pytest.param(0, zlib.compress(b"x" * 601), pb.COMPRESSION_ZLIB, id="zlib-too-long"),
    ],
)
def test_bad_chunk_abandons_the_upload_and_nothing_appears(
    served: RunningServer,
    raw_peer: RawPeer,
    offset: int,
    data: bytes,
    compression: pb.Compression.ValueType,
) -> None:
    session = raw_peer.hello()
    upload = pb.UploadFile(
        name="target", directory="/", file_size=1200, chunk_size=600, compression=compression
    )
    accepted, _ = raw_peer.request(in_session(session, upload_file=upload))
    assert accepted.reason == pb.REASON_TRANSFER_ACCEPTED
    response, _ = raw_peer.request(
        in_session(session, send_chunk=pb.SendChunk(offset=offset)), data
    )
    assert_bad_request(response)
    # The upload was abandoned: back in IDLE, where a chunk is not allowed.
    again, _ = raw_peer.request(in_session(session, send_chunk=pb.SendChunk(offset=0)), data)
    assert_bad_request(again)
    assert not (served.root / "target").exists()
    listed, _ = raw_peer.request(in_session(session, list_files=pb.ListFiles(directory="/")))
    assert list(listed.file_list.entries) == []


frame_strategy = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([b"", HELLO, LIST_ROOT, SEND_CHUNK, b"\x08\x01"]),
)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frames=st.lists(frame_strategy, min_size=1, max_size=4))
def test_any_message_gets_exactly_one_response_and_the_server_keeps_serving(
    served: RunningServer, frames: list[bytes]
) -> None:
    with raw_peer_of(served.endpoint) as peer:
        peer.send(*frames)
        answer = peer.receive()
        delimiter = answer.index(b"")
        response = pb.Response()
        response.ParseFromString(answer[delimiter + 1])
        assert response.type in (
            pb.RESPONSE_TYPE_ERROR,
            pb.RESPONSE_TYPE_REFUSED,
            pb.RESPONSE_TYPE_ACCEPTED,
        )
        if response.type == pb.RESPONSE_TYPE_ERROR:
            assert response.reason == pb.REASON_BAD_REQUEST
        if response.reason == pb.REASON_SESSION_OPENED:  # it was a well-formed HELLO
            peer.send(
                b"",
                pb.Request(
                    token=TOKEN,
                    session_id=response.session_opened.session_id,
                    goodbye=pb.Goodbye(),
                ).SerializeToString(),
            )
            assert peer.response()[0].reason == pb.REASON_SESSION_CLOSED
        # Nothing else came: one response per message.
        assert not peer.socket.poll(20)
    assert_still_serving(served)
