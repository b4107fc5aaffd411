"""Cases of the transport (SPEC.md section 2), pipelining (6) and evolution (8).

Malformed messages are sent while an upload is under way, with the right token and the
live session's id, so that "the state and the session do not change" (2.2.3) is
checked where it matters: the upload's next chunk must still be accepted.
"""

from __future__ import annotations

from remofile.conformance import messages
from remofile.conformance.case import CaseList
from remofile.conformance.context import CaseContext
from remofile.conformance.expect import Accept, CaseFailure, accepted, bad_request, refused
from remofile.conformance.messages import (
    raw_list_files,
    raw_request,
    raw_unknown_kind,
    raw_unknown_varint,
    raw_varint_field,
)
from remofile.conformance.model import listing_check
from remofile.conformance.scenarios import (
    DATA_FILE,
    Download,
    Fixture,
    Upload,
    check_listing,
    check_state,
    content_of,
    discard_staged,
    multi_chunk_size,
    reach,
    standard_fixture,
)
from remofile.conformance.session import Session
from remofile.conformance.transcript import message_dict
from remofile.conformance.wire import DELIMITER
from remofile.core.transitions import State
from remofile.v1 import remofile_pb2 as pb

CASES = CaseList()

#: Largest message the suite sends to see it dropped; larger limits are not tried.
OVERSIZE_LIMIT_BYTES = 256 * 1024 * 1024

#: Longest the suite waits for a reply that must not come.
SILENCE_WAIT_MS = 1000


def _upload_under_way(ctx: CaseContext) -> tuple[Session, Fixture, Upload]:
    session = ctx.open_session()
    fixture = standard_fixture(session, ctx.case_directory(session), ctx.server_limits())
    upload = reach(fixture, State.UPLOAD)
    assert isinstance(upload, Upload)
    return session, fixture, upload


def _malformed(
    session: Session, what: str, frames: list[bytes], decoded: pb.Request | None = None
) -> None:
    """Send frames as they are; the reply must be ERROR BAD_REQUEST without payload."""
    session.connection.send_frames(frames, decoded, note=what)
    session.receive(decoded or pb.Request(), [bad_request("malformed (2.2.3)")], what)


def _still_uploading(session: Session, fixture: Fixture, upload: Upload) -> None:
    check_state(session, State.UPLOAD, upload, "malformed messages change nothing")
    check_listing(fixture, "malformed messages changed nothing in the tree")


@CASES.define(
    "2.1/1",
    "a session's requests from a new socket, in the middle of an upload",
    "sessions are identified by session_id, not by connection (2.1.4)",
    "the session and its upload go on",
)
def _new_connection(ctx: CaseContext) -> None:
    session, fixture, upload = _upload_under_way(ctx)
    upload.send_next("the first chunk")
    ctx.reconnect(session)
    session.call(
        fixture.listing_request(), [accepted("FILES_LISTED")], "LIST_FILES from the new socket"
    )
    upload.send_next("the next chunk from the new socket")


@CASES.define(
    "2.2.3/1",
    "messages with the wrong number of frames, during an upload",
    "a wrong frame count is answered ERROR BAD_REQUEST and changes nothing",
    "ERROR BAD_REQUEST each; the upload goes on",
)
def _frame_counts(ctx: CaseContext) -> None:
    session, fixture, upload = _upload_under_way(ctx)
    listing = session.stamp(fixture.listing_request())
    chunk, data = upload.chunk()
    stamped_chunk = session.stamp(chunk)
    for what, frames, decoded in (
        ("LIST_FILES without the empty delimiter frame", [listing.SerializeToString()], listing),
        ("the delimiter and nothing else", [DELIMITER], None),
        (
            "LIST_FILES followed by an extra frame",
            [DELIMITER, listing.SerializeToString(), b"extra"],
            listing,
        ),
        (
            "the next SEND_CHUNK without its data frame",
            [DELIMITER, stamped_chunk.SerializeToString()],
            stamped_chunk,
        ),
        (
            "the next SEND_CHUNK with two data frames",
            [DELIMITER, stamped_chunk.SerializeToString(), data, data],
            stamped_chunk,
        ),
    ):
        _malformed(session, what, frames, decoded)
    _still_uploading(session, fixture, upload)


@CASES.define(
    "2.2.3/2",
    "request frames that are not a serialized Request, during an upload",
    "a frame the protobuf parser rejects, or with a string that is not UTF-8, is "
    "answered ERROR BAD_REQUEST and changes nothing",
    "ERROR BAD_REQUEST each; the upload goes on",
)
def _not_a_request(ctx: CaseContext) -> None:
    session, fixture, upload = _upload_under_way(ctx)
    token, session_id = ctx.target.token, session.session_id
    whole = session.stamp(fixture.listing_request()).SerializeToString()
    for what, frame in (
        ("bytes that are not protobuf", b"\xff\xff\xff\xff\xff\xff"),
        ("a Request cut short", whole[:-2]),
        ("list_files encoded as a number", raw_request(token, session_id, raw_varint_field(12, 5))),
        (
            "a directory that is not UTF-8",
            raw_request(token, session_id, raw_list_files(b"/\xff\xfe")),
        ),
        (
            "a token that is not UTF-8",
            raw_request(token.encode() + b"\xc3", session_id, raw_list_files(b"/")),
        ),
    ):
        _malformed(session, what, [DELIMITER, frame])
    _still_uploading(session, fixture, upload)


@CASES.define(
    "2.2.3/3",
    "a Request with no kind set, and one of a kind version 1 does not know, during an upload",
    "a Request without a member of `kind` is answered ERROR BAD_REQUEST and changes nothing (8.4)",
    "ERROR BAD_REQUEST each; the upload goes on",
)
def _no_kind(ctx: CaseContext) -> None:
    session, fixture, upload = _upload_under_way(ctx)
    token, session_id = ctx.target.token, session.session_id
    for what, frame in (
        ("a Request with only token and session_id", raw_request(token, session_id)),
        (
            "a Request of an unknown kind (field 99)",
            raw_request(token, session_id, raw_unknown_kind()),
        ),
    ):
        _malformed(session, what, [DELIMITER, frame])
    _still_uploading(session, fixture, upload)


@CASES.define(
    "2.2.1/1",
    "one Request frame holding two members of `kind`: CREATE_FILE, then LIST_FILES",
    "a Request is parsed as protobuf parses it: of two members of the `kind` oneof, the "
    "last one on the wire is the request, and the other is dropped (2.2.1)",
    "ACCEPTED FILES_LISTED, and no file created",
)
def _two_kinds(ctx: CaseContext) -> None:
    session = ctx.open_session()
    directory = ctx.case_directory(session)
    first = session.stamp(messages.create_file(directory, "created.txt"))
    last = messages.list_files(directory)
    merged = pb.Request()
    merged.MergeFrom(first)
    merged.MergeFrom(last)
    # Concatenated encodings merge: the frame holds create_file and then list_files.
    frame = first.SerializeToString() + last.SerializeToString()
    note = "CREATE_FILE and LIST_FILES in one Request"
    session.connection.send_frames([DELIMITER, frame], merged, note)
    session.receive(merged, [accepted("FILES_LISTED", listing_check([]), "an empty listing")], note)
    session.call(
        messages.list_files(directory),
        [accepted("FILES_LISTED", listing_check([]), "no created.txt")],
        "the CREATE_FILE before it was not carried out",
    )


@CASES.define(
    "2.2.1/2",
    "a Request frame with its fields in reverse order: the kind first, the token last",
    "parsers MUST accept the fields of a message in any order (appendix A.1, protobuf)",
    "ACCEPTED FILES_LISTED, as for the usual order",
)
def _any_field_order(ctx: CaseContext) -> None:
    session = ctx.open_session()
    directory = ctx.case_directory(session)
    request = session.stamp(messages.list_files(directory))
    # Concatenated encodings merge into one message: kind, then session_id, then token.
    frame = (
        pb.Request(list_files=request.list_files).SerializeToString()
        + pb.Request(session_id=request.session_id).SerializeToString()
        + pb.Request(token=request.token).SerializeToString()
    )
    note = "LIST_FILES with its fields in reverse order"
    session.connection.send_frames([DELIMITER, frame], request, note)
    session.receive(
        request, [accepted("FILES_LISTED", listing_check([]), "an empty listing")], note
    )


def _silence_wait_ms(ctx: CaseContext) -> int:
    limits = ctx.server_limits()
    return min(SILENCE_WAIT_MS, ctx.target.timeout_ms, max(limits.session_timeout_ms // 3, 100))


def _expect_dropped(
    ctx: CaseContext, session: Session, upload: Upload, what: str, data_bytes: int
) -> None:
    request, _ = upload.chunk()
    stamped = session.stamp(request)
    session.connection.send_frames(
        [DELIMITER, stamped.SerializeToString(), bytes(data_bytes)], stamped, what
    )
    wait = _silence_wait_ms(ctx)
    reply = session.connection.silence(wait)
    if reply is not None:
        raise CaseFailure(
            what,
            "the server answered a message larger than max_message_size (2.4.3)",
            sent=session.connection.transcript.request_dict(stamped),
            expected=["no reply"],
            seen=message_dict(reply.response),
        )
    ctx.reconnect(session)
    upload.send_next("from a new socket, the session and its upload are as they were (2.4.4)")


@CASES.define(
    "2.4/1",
    "a SEND_CHUNK whose data frame is one byte larger than max_message_size",
    "the server drops a message over max_message_size unanswered and keeps serving; "
    "the session stays as it was (2.4.3, 2.4.4)",
    "no reply; a new socket continues the session",
)
def _oversize_frame(ctx: CaseContext) -> None:
    session, _, upload = _upload_under_way(ctx)
    limit = ctx.server_limits().max_message_size
    if limit > OVERSIZE_LIMIT_BYTES:
        ctx.skip(
            f"max_message_size is {limit} bytes; the suite sends at most {OVERSIZE_LIMIT_BYTES}"
        )
    _expect_dropped(ctx, session, upload, f"a data frame of {limit + 1} bytes", limit + 1)


@CASES.define(
    "2.4/2",
    "a SEND_CHUNK whose frames each fit in max_message_size but together do not",
    "a message whose frames together exceed max_message_size is discarded without a "
    "response (2.4.3)",
    "no reply; a new socket continues the session",
)
def _oversize_message(ctx: CaseContext) -> None:
    session, _, upload = _upload_under_way(ctx)
    limit = ctx.server_limits().max_message_size
    if limit > OVERSIZE_LIMIT_BYTES:
        ctx.skip(
            f"max_message_size is {limit} bytes; the suite sends at most {OVERSIZE_LIMIT_BYTES}"
        )
    _expect_dropped(
        ctx, session, upload, f"a Request frame and a data frame of {limit} bytes", limit
    )


@CASES.define(
    "2.4/3",
    "an upload whose first chunk is max_chunk_size bytes",
    "a message of the largest chunk and its Request fits in max_message_size (2.4.1)",
    "ACCEPTED CHUNK_ACCEPTED",
)
def _largest_chunk(ctx: CaseContext) -> None:
    session = ctx.open_session()
    limits = ctx.server_limits()
    largest = limits.max_chunk_size
    if largest > OVERSIZE_LIMIT_BYTES:
        ctx.skip(
            f"max_chunk_size is {largest} bytes; the suite sends at most {OVERSIZE_LIMIT_BYTES}"
        )
    if limits.file_size_limit < largest + 1:
        ctx.skip("the file size limit is below the largest chunk")
    content = bytes(largest) + b"!"
    upload = Upload(session, ctx.case_directory(session), "largest.bin", content, largest)
    upload.start(f"start an upload of {largest + 1} bytes in chunks of {largest}")
    upload.send_next(f"send the first chunk of {largest} bytes")
    session.call(messages.cancel_transfer(), [accepted("TRANSFER_CANCELLED")], "cancel the upload")


@CASES.define(
    "6.2/1",
    "a window of requests sent before reading any response: listings, then an upload "
    "and a download with their chunks right behind",
    "responses come in the order of the requests, each judged in the state the one "
    "before left (6.2, 6.3)",
    "every response in order",
)
def _pipeline_order(ctx: CaseContext) -> None:
    session = ctx.open_session()
    fixture = standard_fixture(session, ctx.case_directory(session), ctx.server_limits())
    expected = fixture.model.listing("")
    listed = accepted("FILES_LISTED", listing_check(expected))
    rotation: list[tuple[pb.Request, list[Accept]]] = [
        (fixture.listing_request(), [listed]),
        (messages.list_files(fixture.remote("missing")), [refused("FILE_NOT_FOUND")]),
        (messages.list_files(fixture.remote(DATA_FILE)), [refused("NOT_A_DIRECTORY")]),
        (messages.list_files("relative"), [bad_request()]),
    ]
    window = min(16, ctx.server_limits().max_requests_in_flight)
    calls = [
        (request, None, accept, f"pipelined request {index + 1} of {window}")
        for index, (request, accept) in enumerate(
            rotation[i % len(rotation)] for i in range(window)
        )
    ]
    session.pipeline(calls, window)
    content = content_of(multi_chunk_size(fixture.chunk_size), "pipelined")
    upload = Upload(session, fixture.path, "pipelined.bin", content, fixture.chunk_size)
    start = (
        upload.request(),
        None,
        [accepted("TRANSFER_ACCEPTED")],
        "UPLOAD_FILE, chunks right behind it",
    )
    session.pipeline([start, *upload.pipelined("pipelined chunk")], window)
    fixture.model.add_file("pipelined.bin", content)
    download = Download(session, fixture.remote("pipelined.bin"), content, fixture.chunk_size)
    begin = (
        messages.download_file(download.path, download.chunk_size),
        None,
        [accepted("TRANSFER_ACCEPTED")],
        "DOWNLOAD_FILE, RECEIVE_CHUNK right behind it",
    )
    session.pipeline([begin, *download.pipelined("pipelined RECEIVE_CHUNK")], window)
    check_state(session, State.IDLE, download)


@CASES.define(
    "6.5/1",
    "a bad chunk followed by chunks in flight; a refused UPLOAD_FILE followed by chunks",
    "requests behind a failed one arrive in the state it left: in IDLE, each chunk is "
    "answered ERROR BAD_REQUEST with no effect (6.5)",
    "ERROR BAD_REQUEST for every chunk behind; nothing written",
)
def _pipeline_errors(ctx: CaseContext) -> None:
    session = ctx.open_session()
    fixture = standard_fixture(session, ctx.case_directory(session), ctx.server_limits())
    content = content_of(multi_chunk_size(fixture.chunk_size), "pipeline-errors")
    upload = Upload(session, fixture.path, "errors.bin", content, fixture.chunk_size)
    upload.start()
    good = upload.pipelined("a chunk in flight behind the bad one")
    bad_first = (
        messages.send_chunk(fixture.chunk_size),
        good[0][1],
        [bad_request()],
        "a chunk at the wrong offset",
    )
    behind = [
        (request, data, [bad_request("arrives in IDLE")], step) for request, data, _, step in good
    ]
    session.pipeline([bad_first, *behind])
    check_listing(fixture, "nothing of the abandoned upload is visible")
    discard_staged(session, upload)
    taken = Upload(session, fixture.path, DATA_FILE, content, fixture.chunk_size)
    chunks = taken.pipelined("a chunk in flight behind the refused UPLOAD_FILE")
    refused_start = (
        taken.request(),
        None,
        [refused("FILE_ALREADY_EXISTS")],
        "UPLOAD_FILE of a taken name",
    )
    behind = [
        (request, data, [bad_request("arrives in IDLE")], step) for request, data, _, step in chunks
    ]
    session.pipeline([refused_start, *behind])
    original = Download(
        session, fixture.remote(DATA_FILE), fixture.model.content(DATA_FILE), fixture.chunk_size
    )
    original.start("the existing file was not touched: download it")
    original.finish("the existing file was not touched")


@CASES.define(
    "8/1",
    "LIST_FILES carrying fields version 1 does not define, in Request and in ListFiles",
    "receivers ignore fields they do not know (8.4)",
    "ACCEPTED FILES_LISTED, as without the fields",
)
def _unknown_fields(ctx: CaseContext) -> None:
    session = ctx.open_session()
    fixture = standard_fixture(session, ctx.case_directory(session), ctx.server_limits())
    expected = fixture.model.listing("")
    directory = fixture.path.encode()
    listed = [accepted("FILES_LISTED", listing_check(expected), "the usual entries")]
    token, session_id = ctx.target.token, session.session_id
    for what, frame in (
        (
            "an unknown field in Request",
            raw_request(token, session_id, raw_list_files(directory), raw_unknown_varint()),
        ),
        (
            "an unknown field in ListFiles",
            raw_request(token, session_id, raw_list_files(directory, raw_unknown_varint())),
        ),
    ):
        decoded = pb.Request()
        decoded.ParseFromString(frame)
        session.connection.send_frames([DELIMITER, frame], decoded, what)
        session.receive(decoded, listed, f"LIST_FILES with {what}")
