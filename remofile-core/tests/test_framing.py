"""Messages to and from ZeroMQ frames (SPEC.md section 2.2)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from remofile.core.framing import (
    DELIMITER,
    REQUEST_KINDS_WITH_DATA,
    MalformedMessage,
    parse_request,
    parse_response,
    request_frames,
    response_frames,
)
from remofile.v1 import remofile_pb2 as pb

TOKEN = "qRkVWJcFRqi7rsNMbagaDd"
SESSION = b"\x01\x02session"
DIGEST = pb.Digest(algorithm=pb.DIGEST_ALGORITHM_SHA256, value=bytes(range(32)))

#: One example of every request kind, with its fields set.
REQUESTS: dict[str, pb.Request] = {
    "hello": pb.Request(token=TOKEN, hello=pb.Hello(protocol_version=1, client_name="tests")),
    "goodbye": pb.Request(token=TOKEN, session_id=SESSION, goodbye=pb.Goodbye()),
    "list_files": pb.Request(
        token=TOKEN,
        session_id=SESSION,
        list_files=pb.ListFiles(directory="/a/日本", recursive=True, start_after="x", limit=9),
    ),
    "create_file": pb.Request(
        token=TOKEN, session_id=SESSION, create_file=pb.CreateFile(name="naïve", directory="/")
    ),
    "make_directory": pb.Request(
        token=TOKEN, session_id=SESSION, make_directory=pb.MakeDirectory(name="d", directory="/")
    ),
    "upload_file": pb.Request(
        token=TOKEN,
        session_id=SESSION,
        upload_file=pb.UploadFile(
            name="f",
            directory="/d",
            file_size=2**40,
            chunk_size=2**20,
            resume=True,
            compression=pb.COMPRESSION_ZLIB,
        ),
    ),
    "send_chunk": pb.Request(
        token=TOKEN, session_id=SESSION, send_chunk=pb.SendChunk(offset=4096, digest=DIGEST)
    ),
    "download_file": pb.Request(
        token=TOKEN,
        session_id=SESSION,
        download_file=pb.DownloadFile(path="/d/f", chunk_size=512, offset=7),
    ),
    "receive_chunk": pb.Request(token=TOKEN, session_id=SESSION, receive_chunk=pb.ReceiveChunk()),
    "cancel_transfer": pb.Request(
        token=TOKEN, session_id=SESSION, cancel_transfer=pb.CancelTransfer()
    ),
    "remove_file": pb.Request(
        token=TOKEN, session_id=SESSION, remove_file=pb.RemoveFile(path="/d")
    ),
    "continue_removal": pb.Request(
        token=TOKEN, session_id=SESSION, continue_removal=pb.ContinueRemoval()
    ),
    "move_file": pb.Request(
        token=TOKEN,
        session_id=SESSION,
        move_file=pb.MoveFile(
            source="/d/f", directory="/e", name="g", conflict_mode=pb.CONFLICT_MODE_REPLACE
        ),
    ),
    "copy_file": pb.Request(
        token=TOKEN,
        session_id=SESSION,
        copy_file=pb.CopyFile(source="/d/f", directory="/", name="f (copy)"),
    ),
    "file_digest": pb.Request(
        token=TOKEN,
        session_id=SESSION,
        file_digest=pb.FileDigest(path="/d/f", algorithm=pb.DIGEST_ALGORITHM_BLAKE3),
    ),
    "upload_files": pb.Request(
        token=TOKEN,
        session_id=SESSION,
        upload_files=pb.UploadFiles(
            files=[pb.BatchFile(directory="/d", name="f", file_size=3, encoded_size=3)]
        ),
    ),
    "download_files": pb.Request(
        token=TOKEN,
        session_id=SESSION,
        download_files=pb.DownloadFiles(paths=["/d/f", "/d/g"]),
    ),
}
KINDS_WITHOUT_DATA = sorted(set(REQUESTS) - REQUEST_KINDS_WITH_DATA)


def test_examples_cover_every_request_kind() -> None:
    assert set(REQUESTS) == {f.name for f in pb.Request.DESCRIPTOR.oneofs_by_name["kind"].fields}
    for kind, request in REQUESTS.items():
        assert request.WhichOneof("kind") == kind


def test_only_chunks_and_batches_of_files_carry_data() -> None:
    assert frozenset({"send_chunk", "upload_files"}) == REQUEST_KINDS_WITH_DATA


def test_the_delimiter_is_an_empty_frame() -> None:
    assert DELIMITER == b""


# --- requests --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS_WITHOUT_DATA)
def test_request_without_data_round_trips(kind: str) -> None:
    request = REQUESTS[kind]
    frames = request_frames(request)
    assert len(frames) == 1
    parsed, data, parsed_kind = parse_request(frames)
    assert parsed == request
    assert data is None
    assert parsed_kind == kind


@pytest.mark.parametrize("data", [b"", b"\x00" * 10, bytes(range(256)) * 4])
def test_send_chunk_round_trips_with_its_data_frame(data: bytes) -> None:
    request = REQUESTS["send_chunk"]
    frames = request_frames(request, data)
    assert len(frames) == 2
    assert frames[1] is data  # the data frame is passed through, not copied
    parsed, parsed_data, kind = parse_request(frames)
    assert parsed == request
    assert parsed.send_chunk.digest == DIGEST
    assert parsed_data is data
    assert kind == "send_chunk"


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_requests_parse_from_any_frame_type(wrap: type) -> None:
    request = REQUESTS["send_chunk"]
    frames = [wrap(request.SerializeToString()), wrap(b"chunk")]
    parsed, data, kind = parse_request(frames)
    assert parsed == request
    assert bytes(data) == b"chunk"  # type: ignore[arg-type]
    assert kind == "send_chunk"


@given(offset=st.integers(0, 2**64 - 1), data=st.binary(max_size=2048), token=st.text())
def test_send_chunk_round_trips_for_any_offset_data_and_token(
    offset: int, data: bytes, token: str
) -> None:
    try:
        token.encode("utf-8")
    except UnicodeEncodeError:
        return  # protobuf strings are UTF-8; a lone surrogate cannot be sent at all
    request = pb.Request(token=token, send_chunk=pb.SendChunk(offset=offset))
    parsed, parsed_data, kind = parse_request(request_frames(request, data))
    assert (parsed.token, parsed.send_chunk.offset, parsed_data, kind) == (
        token,
        offset,
        data,
        "send_chunk",
    )


def test_empty_message_is_malformed() -> None:
    with pytest.raises(MalformedMessage, match="empty"):
        parse_request([])


def test_request_with_no_kind_is_malformed() -> None:
    frames = request_frames(pb.Request(token=TOKEN, session_id=SESSION))
    with pytest.raises(MalformedMessage, match="no kind"):
        parse_request(frames)


def test_empty_first_frame_is_a_request_with_no_kind() -> None:
    with pytest.raises(MalformedMessage):
        parse_request([b""])


def test_send_chunk_without_its_data_frame_is_malformed() -> None:
    with pytest.raises(MalformedMessage, match="send_chunk"):
        parse_request(request_frames(REQUESTS["send_chunk"]))


def test_send_chunk_with_two_data_frames_is_malformed() -> None:
    frames = [*request_frames(REQUESTS["send_chunk"], b"a"), b"b"]
    with pytest.raises(MalformedMessage):
        parse_request(frames)


@pytest.mark.parametrize("kind", KINDS_WITHOUT_DATA)
def test_request_without_data_but_with_an_extra_frame_is_malformed(kind: str) -> None:
    with pytest.raises(MalformedMessage, match=kind):
        parse_request(request_frames(REQUESTS[kind], b"extra"))


@pytest.mark.parametrize(
    "garbage",
    [
        b"\xff",
        b"\xff" * 20,
        b"\x0a",  # field 1 (token), length missing
        b"\x0a\x05ab",  # token longer than the frame
        b"\x0a\x02\xc3\x28",  # token that is not UTF-8
        b"\x07",  # wire type 7 does not exist
    ],
)
def test_garbage_first_frame_is_malformed(garbage: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse_request([garbage])


@given(st.lists(st.binary(max_size=64), min_size=1, max_size=3))
def test_any_bytes_parse_or_are_malformed_never_anything_else(frames: list[bytes]) -> None:
    try:
        request, data, kind = parse_request(frames)
    except MalformedMessage:
        return
    assert request.WhichOneof("kind") == kind
    assert (data is not None) == (kind in REQUEST_KINDS_WITH_DATA)
    assert len(frames) == (2 if data is not None else 1)


@given(st.binary(max_size=64), st.sampled_from(sorted(REQUESTS)))
def test_valid_request_followed_by_garbage_bytes_never_crashes(tail: bytes, kind: str) -> None:
    frame = REQUESTS[kind].SerializeToString() + tail
    with contextlib.suppress(MalformedMessage):
        parse_request([frame, b"data"] if kind == "send_chunk" else [frame])


# --- responses -------------------------------------------------------------------------

RESPONSES = [
    pb.Response(
        type=pb.RESPONSE_TYPE_ACCEPTED,
        reason=pb.REASON_SESSION_OPENED,
        session_opened=pb.SessionOpened(
            session_id=SESSION,
            protocol_version=1,
            max_chunk_size=2**24,
            compressions=[pb.COMPRESSION_NONE, pb.COMPRESSION_ZLIB],
            digest_algorithms=[pb.DIGEST_ALGORITHM_SHA256],
            server_name="remofile",
        ),
    ),
    pb.Response(
        type=pb.RESPONSE_TYPE_ACCEPTED,
        reason=pb.REASON_FILES_LISTED,
        file_list=pb.FileList(
            entries=[pb.FileEntry(name="日本", is_directory=True, modification_time_ns=-1)],
            truncated=True,
        ),
    ),
    pb.Response(
        type=pb.RESPONSE_TYPE_ACCEPTED,
        reason=pb.REASON_TRANSFER_ACCEPTED,
        transfer_accepted=pb.TransferAccepted(file_size=10, chunk_size=512, offset=3),
    ),
    pb.Response(
        type=pb.RESPONSE_TYPE_ACCEPTED,
        reason=pb.REASON_ENTRIES_REMOVED,
        removal=pb.RemovalProgress(removed=1000, remaining=5),
    ),
    pb.Response(type=pb.RESPONSE_TYPE_ERROR, reason=pb.REASON_BAD_REQUEST, message="not allowed"),
    pb.Response(),
]


@pytest.mark.parametrize("response", RESPONSES, ids=lambda r: pb.Reason.Name(r.reason))
def test_response_without_data_round_trips(response: pb.Response) -> None:
    frames = response_frames(response)
    assert len(frames) == 1
    parsed, data = parse_response(frames)
    assert parsed == response
    assert data is None


@pytest.mark.parametrize("reason", [pb.REASON_CHUNK_SENT, pb.REASON_TRANSFER_COMPLETED])
def test_chunk_response_round_trips_with_its_data_frame(reason: int) -> None:
    response = pb.Response(
        type=pb.RESPONSE_TYPE_ACCEPTED,
        reason=reason,
        chunk=pb.ChunkInfo(offset=512, digest=DIGEST),
    )
    payload = b"\x00file data\xff"
    frames = response_frames(response, payload)
    assert len(frames) == 2
    assert frames[1] is payload
    parsed, data = parse_response(frames)
    assert parsed == response
    assert data is payload


@pytest.mark.parametrize("count", [0, 3, 4])
def test_response_with_no_or_too_many_frames_is_malformed(count: int) -> None:
    frames = [RESPONSES[0].SerializeToString()] + [b"x"] * (count - 1) if count else []
    with pytest.raises(MalformedMessage):
        parse_response(frames)


@pytest.mark.parametrize("garbage", [b"\xff", b"\x12\x05ab", b"\x1a\x02\xc3\x28"])
def test_garbage_response_frame_is_malformed(garbage: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse_response([garbage])


@given(st.lists(st.binary(max_size=64), min_size=0, max_size=4))
def test_any_response_bytes_parse_or_are_malformed_never_anything_else(
    frames: list[bytes],
) -> None:
    try:
        response, data = parse_response(frames)
    except MalformedMessage:
        return
    assert isinstance(response, pb.Response)
    assert len(frames) in (1, 2)
    assert (data is None) == (len(frames) == 1)
