"""Cases of the session table (SPEC.md section 3) and of the order of checks (3.6).

The rows of :data:`remofile.core.sessions.SESSION_CASES` get their bodies from
:data:`BODIES`, keyed by the row's case identifier; the order-of-checks cases are
defined here with identifiers of section 3.6.
"""

from __future__ import annotations

import secrets
import time

from remofile.conformance import messages
from remofile.conformance.case import Body, CaseList
from remofile.conformance.context import CaseContext, random_token
from remofile.conformance.expect import Accept, accepted, bad_request, refused, require
from remofile.conformance.messages import raw_request
from remofile.conformance.scenarios import (
    DATA_FILE,
    Fixture,
    Upload,
    check_state,
    chunk_size_for,
    content_of,
    discard_staged,
    multi_chunk_size,
    reach,
    standard_fixture,
)
from remofile.conformance.session import Session
from remofile.conformance.spec import SESSION_ID_BYTES
from remofile.core.transitions import State
from remofile.v1 import remofile_pb2 as pb

SESSION_OPENED = accepted("SESSION_OPENED")
SESSION_EXPIRED = refused("SESSION_EXPIRED")
SERVER_BUSY = refused("SERVER_BUSY")
ACCESS_DENIED = refused("ACCESS_DENIED")
FILES_LISTED = accepted("FILES_LISTED")


def _made_up_id() -> bytes:
    return secrets.token_bytes(SESSION_ID_BYTES)


def _interrupted_upload(ctx: CaseContext, session: Session) -> Upload:
    """An upload in the case's directory with one chunk sent: the server is in UPLOAD."""
    chunk = chunk_size_for(ctx.server_limits())
    content = content_of(multi_chunk_size(chunk), "session-upload")
    upload = Upload(session, ctx.case_directory(session), "session.bin", content, chunk)
    upload.start("start an upload")
    upload.send_next("send its first chunk")
    return upload


def _wrong_token(ctx: CaseContext) -> None:
    wrong = random_token()
    outsider = ctx.client()
    outsider.call(messages.hello(), [ACCESS_DENIED], "HELLO with a wrong token", token=wrong)
    outsider.call(
        messages.list_files("/"), [SESSION_EXPIRED], "the refused HELLO opened no session"
    )
    live = ctx.open_session()
    token = ctx.target.token
    variants = [
        ("a wrong token", wrong),
        ("an empty token", ""),
        ("the token with one more character", token + "x"),
        ("the token less its last character", token[:-1]),
    ]
    if token.swapcase() != token:
        # Tokens are compared byte for byte (3.1.4): letter case matters.
        variants.append(("the token with its letter case swapped", token.swapcase()))
        variants.append(("the token in capitals", token.upper()))
    for what, given in variants:
        if given == token:
            continue
        live.call(
            messages.list_files(ctx.scratch),
            [ACCESS_DENIED],
            f"LIST_FILES of the live session with {what}",
            token=given,
        )
    live.call(
        messages.goodbye(),
        [ACCESS_DENIED],
        "GOODBYE of the live session with a wrong token",
        token=wrong,
    )
    live.call(messages.list_files(ctx.scratch), [FILES_LISTED], "the live session is untouched")


def _hello_opens(ctx: CaseContext) -> None:
    first = ctx.open_session()
    check_state(first, State.IDLE, None, "every session starts in IDLE")
    first.goodbye()
    second = ctx.open_session()
    require(
        second.session_id != first.session_id,
        "open a second session",
        "the new session has the same session_id as the one before (3.2.4)",
    )
    second.goodbye()
    third = ctx.client()
    reply = third.call(
        messages.hello(),
        [SESSION_OPENED],
        "HELLO carrying an id never issued, while no session is live",
        session_id=_made_up_id(),
    )
    third.session_id = reply.response.session_opened.session_id


def _hello_version(ctx: CaseContext) -> None:
    client = ctx.client()
    for version in (0, 2, 1000):
        client.call(
            messages.hello(version),
            [refused("UNSUPPORTED_VERSION")],
            f"HELLO with protocol_version {version}",
        )
    client.call(messages.list_files("/"), [SESSION_EXPIRED], "the refusals opened no session")
    ctx.open_session()


def _hello_replaces(ctx: CaseContext) -> None:
    session = ctx.open_session()
    upload = _interrupted_upload(ctx, session)
    old = session.session_id
    session.hello("HELLO with the live session's id, in UPLOAD", replace=True)
    require(
        session.session_id != old, "HELLO replaces the session", "the new session_id is the old one"
    )
    check_state(session, State.IDLE, upload, "the replaced session's upload is interrupted")
    # With session recovery the old id is an ended session's (3.7.4); without, another's.
    ended = SESSION_EXPIRED if ctx.has_feature(pb.FEATURE_SESSION_RECOVERY) else SERVER_BUSY
    session.call(
        messages.list_files(ctx.scratch),
        [ended],
        "the old session_id is no longer the live session",
        session_id=old,
    )
    ctx.reconnect(session)
    session.hello("HELLO with the live session's id from a new socket (2.1.4)", replace=True)
    discard_staged(session, upload)


def _busy_hello(ctx: CaseContext) -> None:
    live = ctx.open_session()
    upload = _interrupted_upload(ctx, live)
    other = ctx.client()
    other.call(messages.hello(), [SERVER_BUSY], "another client's HELLO while a session is live")
    other.call(
        messages.hello(),
        [SERVER_BUSY],
        "another client's HELLO with an id never issued",
        session_id=_made_up_id(),
    )
    upload.send_next("the live session's upload goes on untouched (3.3.3)")


def _busy_other(ctx: CaseContext) -> None:
    live = ctx.open_session()
    upload = _interrupted_upload(ctx, live)
    other = ctx.client()
    made_up = _made_up_id()
    request, data = upload.chunk()
    for what, sent, sent_data, session_id in (
        ("LIST_FILES with an id never issued", messages.list_files("/"), None, made_up),
        ("LIST_FILES with no session id", messages.list_files("/"), None, b""),
        ("the live upload's next chunk with another id", request, data, made_up),
        ("CANCEL_TRANSFER with another id", messages.cancel_transfer(), None, made_up),
        ("GOODBYE with another id (3.5.3)", messages.goodbye(), None, made_up),
    ):
        other.call(
            sent, [SERVER_BUSY], f"another client's {what}", sent_data, session_id=session_id
        )
    upload.send_next("the live session's upload goes on untouched (3.3.3)")
    live.call(messages.list_files(ctx.scratch), [FILES_LISTED], "the live session is still live")


def _no_session(ctx: CaseContext) -> None:
    client = ctx.client()
    for what, request, session_id in (
        ("LIST_FILES with no session id", messages.list_files("/"), b""),
        ("LIST_FILES with an id never issued", messages.list_files("/"), _made_up_id()),
        ("GOODBYE with no session id (3.5.3)", messages.goodbye(), b""),
        ("CANCEL_TRANSFER with no session id", messages.cancel_transfer(), b""),
    ):
        client.call(
            request, [SESSION_EXPIRED], f"no session is live: {what}", session_id=session_id
        )
    session = ctx.open_session()
    closed = session.session_id
    session.goodbye()
    for what, request in (
        ("LIST_FILES", messages.list_files("/")),
        ("GOODBYE", messages.goodbye()),
    ):
        session.call(
            request, [SESSION_EXPIRED], f"{what} with the id of a closed session", session_id=closed
        )


#: Extra time waited past the session timeout before expiry is checked.
EXPIRY_MARGIN_MS = 250


def _expiry(ctx: CaseContext) -> None:
    live = ctx.open_session()
    timeout_ms = ctx.server_limits().session_timeout_ms
    if timeout_ms > ctx.target.max_wait_ms:
        ctx.skip(
            f"the session timeout is {timeout_ms} ms, longer than --max-wait-ms "
            f"{ctx.target.max_wait_ms}: pass --max-wait-ms {timeout_ms + 1000} to test expiry"
        )
    upload = _interrupted_upload(ctx, live)
    for round_ in range(3):
        time.sleep(timeout_ms * 0.4 / 1000)
        live.call(
            messages.list_files(ctx.scratch),
            [FILES_LISTED],
            f"a session that keeps talking does not expire (request {round_ + 1} of 3)",
        )
    other = ctx.client()
    wrong = random_token()
    deadline = time.monotonic() + (timeout_ms + max(EXPIRY_MARGIN_MS, timeout_ms // 5)) / 1000
    while time.monotonic() < deadline:
        other.call(
            messages.list_files("/"),
            [ACCESS_DENIED],
            "noise that must not keep the session alive: a wrong token",
            token=wrong,
        )
        other.connection.send_frames(
            [b"", raw_request(ctx.target.token, live.session_id)],
            note="noise: a request of no kind",
        )
        other.receive(pb.Request(), [bad_request()], "noise: a malformed message gets BAD_REQUEST")
        other.call(
            messages.list_files("/"),
            [SERVER_BUSY, SESSION_EXPIRED],
            "noise: another client's request",
            session_id=_made_up_id(),
        )
        time.sleep(min(timeout_ms / 4000, max(deadline - time.monotonic(), 0)))
    live.call(
        messages.list_files(ctx.scratch),
        [SESSION_EXPIRED],
        f"the session was silent for more than {timeout_ms} ms",
    )
    live.closed = True
    successor = ctx.open_session()
    upload.session = successor
    upload.start(
        "the expired session's upload was kept: resume it (3.4.3, 7.1)",
        resume=True,
        staged=upload.chunk_size,
    )
    successor.call(messages.cancel_transfer(), [accepted("TRANSFER_CANCELLED")], "cancel it")


def _goodbye(ctx: CaseContext) -> None:
    fixture: Fixture | None = None
    uploads: list[Upload] = []
    for state in State:
        session = ctx.open_session()
        if fixture is None:
            fixture = standard_fixture(session, ctx.case_directory(session), ctx.server_limits())
        fixture.session = session
        pending = reach(fixture, state, f"GOODBYE in {state.name}")
        if isinstance(pending, Upload):
            uploads.append(pending)
        session.goodbye(f"GOODBYE in {state.name}")
        session.call(messages.list_files("/"), [SESSION_EXPIRED], "the closed session is gone")
    cleaner = ctx.open_session()
    for upload in uploads:
        discard_staged(cleaner, upload)


def _client_key() -> bytes:
    return secrets.token_bytes(32)


def _takeover(ctx: CaseContext) -> None:
    probe = ctx.open_session()
    ctx.require_feature(pb.FEATURE_SESSION_RECOVERY)
    probe.goodbye()
    key = _client_key()
    first = ctx.client()
    first.hello("open a session with a client key", client_key=key)
    upload = _interrupted_upload(ctx, first)
    lost = first.session_id
    # The client restarted, or lost an answer: a new socket, no session id, the same key.
    restarted = ctx.client()
    restarted.hello("HELLO with the live session's client key and no session id", client_key=key)
    require(
        restarted.session_id != lost,
        "HELLO with the client key replaces the session",
        "the new session_id is the old one (3.7.2)",
    )
    first.closed = True
    check_state(restarted, State.IDLE, upload, "the replaced session's upload is interrupted")
    upload.session = restarted
    upload.start(
        "the replaced session's staged upload is kept: resume it (3.7.2, 7.1)",
        resume=True,
        staged=upload.chunk_size,
    )
    restarted.call(messages.cancel_transfer(), [accepted("TRANSFER_CANCELLED")], "cancel it")
    # A retry of a HELLO whose answer was lost carries the old id: the key still works.
    again = restarted.session_id
    restarted.hello("HELLO with the key and the live id", replace=True, client_key=key)
    restarted.session_id = again
    restarted.hello(
        "a retry whose answer was lost: the key and the replaced id", replace=True, client_key=key
    )
    for what, other_key in (
        ("no key", b""),
        ("another key", _client_key()),
        ("the key's first 15 bytes, too short to be a key", key[:15]),
    ):
        ctx.client().call(
            messages.hello(client_key=other_key),
            [SERVER_BUSY],
            f"another client's HELLO with {what}",
        )
    ctx.client().call(
        messages.hello(client_key=key),
        [ACCESS_DENIED],
        "HELLO with the client key but a wrong token",
        token=random_token(),
    )
    restarted.call(messages.list_files(ctx.scratch), [FILES_LISTED], "the session is untouched")
    short = ctx.client()
    short_key = key[:8]
    restarted.goodbye()
    short.hello("open a session with an 8-byte key, which is no key (3.7.1)", client_key=short_key)
    ctx.client().call(
        messages.hello(client_key=short_key),
        [SERVER_BUSY],
        "HELLO with the same 8-byte key: it takes nothing over",
    )


def _ended_ids(ctx: CaseContext) -> None:
    session = ctx.open_session()
    ctx.require_feature(pb.FEATURE_SESSION_RECOVERY)
    ended: list[tuple[str, bytes]] = []
    closed = session.session_id
    session.goodbye()
    ended.append(("closed by GOODBYE", closed))
    session = ctx.open_session()
    replaced = session.session_id
    session.hello("replace the session with HELLO and its id", replace=True)
    ended.append(("replaced by HELLO", replaced))
    upload = _interrupted_upload(ctx, session)
    request, data = upload.chunk()
    other = ctx.client()
    for what, session_id in ended:
        for kind, sent, sent_data in (
            ("LIST_FILES", messages.list_files("/"), None),
            ("SEND_CHUNK", request, data),
            ("CANCEL_TRANSFER", messages.cancel_transfer(), None),
            ("GOODBYE", messages.goodbye(), None),
        ):
            other.call(
                sent,
                [SESSION_EXPIRED],
                f"{kind} with the id of a session {what}, while another is live",
                sent_data,
                session_id=session_id,
            )
        other.call(
            messages.hello(),
            [SERVER_BUSY],
            f"HELLO without a key carrying the id of a session {what}",
            session_id=session_id,
        )
    other.call(
        messages.list_files("/"),
        [SERVER_BUSY],
        "an id never issued is still another client's (3.7.4)",
        session_id=_made_up_id(),
    )
    upload.send_next("the live session's upload goes on untouched")
    session.call(messages.list_files(ctx.scratch), [FILES_LISTED], "the live session is live")


#: Bodies of the rows of the session table, by case identifier.
BODIES: dict[str, Body] = {
    "3.1/1": _wrong_token,
    "3.2/1": _hello_opens,
    "3.2/2": _hello_version,
    "3.2/3": _hello_replaces,
    "3.3/1": _busy_hello,
    "3.3/2": _busy_other,
    "3.4/1": _no_session,
    "3.4/2": _expiry,
    "3.5/1": _goodbye,
    "3.7/1": _takeover,
    "3.7/2": _ended_ids,
}


# -- 3.6 the order of checks -----------------------------------------------------------------

ORDER = CaseList()


@ORDER.define(
    "3.6/1",
    "a malformed message with a wrong token, with and without a live session",
    "frames and parsing are checked before the token and the session (3.6 steps 2-4)",
    "ERROR BAD_REQUEST",
)
def _malformed_first(ctx: CaseContext) -> None:
    outsider = ctx.client()
    wrong = random_token()
    for when in ("no session is live", "another client's session is live"):
        if when.startswith("another"):
            ctx.open_session()
        outsider.connection.send_frames([b"", raw_request(wrong, b"")], note="a request of no kind")
        outsider.receive(
            pb.Request(), [bad_request()], f"a request of no kind with a wrong token, {when}"
        )
        outsider.connection.send_frames([b"", b"\xff\xff\xff"], note="bytes that are not a Request")
        outsider.receive(pb.Request(), [bad_request()], f"bytes that are not a Request, {when}")


@ORDER.define(
    "3.6/2",
    "a wrong token with no session, and while another client's session is live",
    "the token is checked before the session (3.6 steps 3-4)",
    "REFUSED ACCESS_DENIED",
)
def _token_before_session(ctx: CaseContext) -> None:
    outsider = ctx.client()
    wrong = random_token()
    outsider.call(
        messages.list_files("/"), [ACCESS_DENIED], "no session is live: a wrong token", token=wrong
    )
    ctx.open_session()
    outsider.call(
        messages.list_files("/"), [ACCESS_DENIED], "the server is busy: a wrong token", token=wrong
    )
    outsider.call(
        messages.hello(),
        [ACCESS_DENIED],
        "the server is busy: HELLO with a wrong token",
        token=wrong,
    )


@ORDER.define(
    "3.6/3",
    "HELLO with protocol version 2 while a session is live, from it and from another client",
    "the version is checked before the busy check, and its refusal changes nothing (3.2.2)",
    "REFUSED UNSUPPORTED_VERSION; the live session stays",
)
def _version_before_busy(ctx: CaseContext) -> None:
    live = ctx.open_session()
    other = ctx.client()
    other.call(
        messages.hello(2), [refused("UNSUPPORTED_VERSION")], "another client's HELLO version 2"
    )
    live.call(
        messages.hello(2),
        [refused("UNSUPPORTED_VERSION")],
        "HELLO version 2 with the live session's id",
    )
    live.call(messages.list_files(ctx.scratch), [FILES_LISTED], "the live session was not replaced")


@ORDER.define(
    "3.6/4",
    "SEND_CHUNK (illegal in IDLE) with no session, and from another client",
    "the session is checked before the state machine (3.6 steps 4-5)",
    "REFUSED SESSION_EXPIRED, then REFUSED SERVER_BUSY",
)
def _session_before_state(ctx: CaseContext) -> None:
    outsider = ctx.client()
    outsider.call(messages.send_chunk(0), [SESSION_EXPIRED], "no session is live: SEND_CHUNK", b"")
    live = ctx.open_session()
    outsider.call(
        messages.send_chunk(0),
        [SERVER_BUSY],
        "another client's SEND_CHUNK",
        b"",
        session_id=_made_up_id(),
    )
    check_state(live, State.IDLE, None)


def _order_fixture(ctx: CaseContext) -> tuple[Session, Fixture]:
    session = ctx.open_session()
    return session, standard_fixture(session, ctx.case_directory(session), ctx.server_limits())


@ORDER.define(
    "3.6/5",
    "CREATE_FILE and MAKE_DIRECTORY that break several checks at once",
    "the first failing check of section 4.7 gives the answer: path, name, directory, taken",
    "the reason of the first check that fails",
)
def _create_order(ctx: CaseContext) -> None:
    session, fixture = _order_fixture(ctx)
    for build in (messages.create_file, messages.make_directory):
        kind = build("/", "x").WhichOneof("kind")
        for what, directory, name, answer in (
            ("a relative directory and an invalid name", "relative", "a/b", bad_request()),
            (
                "an invalid name in a missing directory",
                fixture.remote("missing"),
                "a/b",
                refused("INVALID_FILE_NAME"),
            ),
            (
                "an invalid name in a file",
                fixture.remote(DATA_FILE),
                "a:b",
                refused("INVALID_FILE_NAME"),
            ),
            (
                "a taken name below a file",
                fixture.remote(f"{DATA_FILE}/x"),
                "sub",
                refused("FILE_NOT_FOUND"),
            ),
        ):
            session.call(build(directory, name), [answer], f"{kind}: {what}")
    check_state(session, State.IDLE, None)


@ORDER.define(
    "3.6/6",
    "UPLOAD_FILE that breaks several checks at once",
    "the first failing check of section 4.9.1 gives the answer, in the order path, name, "
    "directory, taken, size, chunk size, compression",
    "the reason of the first check that fails",
)
def _upload_order(ctx: CaseContext) -> None:
    session, fixture = _order_fixture(ctx)
    limits = ctx.server_limits()
    chunk = fixture.chunk_size
    too_big = limits.file_size_limit + 1 if limits.file_size_limit < (1 << 64) - 1 else None
    bad_compression = 99
    cases: list[tuple[str, pb.Request, Accept]] = [
        (
            "a relative directory and an invalid name",
            messages.upload_file("relative", "a/b", 1, chunk),
            bad_request(),
        ),
        (
            "an invalid name in a missing directory",
            messages.upload_file(fixture.remote("missing"), "a/b", 1, chunk),
            refused("INVALID_FILE_NAME"),
        ),
        (
            "a missing directory and chunk size 0",
            messages.upload_file(fixture.remote("missing"), "x", 1, 0),
            refused("FILE_NOT_FOUND"),
        ),
        (
            "a taken name and chunk size 0",
            messages.upload_file(fixture.path, DATA_FILE, 1, 0),
            refused("FILE_ALREADY_EXISTS"),
        ),
        (
            "chunk size 0 and an unsupported compression",
            messages.upload_file(fixture.path, "x", 1, 0, compression=bad_compression),
            refused("INCORRECT_CHUNK_SIZE"),
        ),
    ]
    if too_big is not None:
        cases += [
            (
                "a taken name and a size over the limit",
                messages.upload_file(fixture.path, DATA_FILE, too_big, chunk),
                refused("FILE_ALREADY_EXISTS"),
            ),
            (
                "a missing directory and a size over the limit",
                messages.upload_file(fixture.remote("missing"), "x", too_big, chunk),
                refused("FILE_NOT_FOUND"),
            ),
            (
                "a size over the limit and chunk size 0",
                messages.upload_file(fixture.path, "x", too_big, 0),
                refused("INCORRECT_FILE_SIZE"),
            ),
        ]
    for what, request, answer in cases:
        session.call(request, [answer], f"UPLOAD_FILE: {what}")
    check_state(session, State.IDLE, None)


@ORDER.define(
    "3.6/7",
    "DOWNLOAD_FILE that breaks several checks at once",
    "the first failing check of section 4.10.1 gives the answer, in the order path, "
    "existence, kind, size, chunk size, compression",
    "the reason of the first check that fails",
)
def _download_order(ctx: CaseContext) -> None:
    session, fixture = _order_fixture(ctx)
    size = len(fixture.model.content(DATA_FILE))
    for what, request, answer in (
        (
            "a missing file and chunk size 0",
            messages.download_file(fixture.remote("missing"), 0),
            refused("FILE_NOT_FOUND"),
        ),
        (
            "a directory and chunk size 0",
            messages.download_file(fixture.remote("sub"), 0),
            refused("NOT_A_FILE"),
        ),
        (
            "an offset past the end and chunk size 0",
            messages.download_file(fixture.remote(DATA_FILE), 0, size + 1),
            refused("INCORRECT_FILE_SIZE"),
        ),
        (
            "chunk size 0 and an unsupported compression",
            messages.download_file(fixture.remote(DATA_FILE), 0, 0, 99),
            refused("INCORRECT_CHUNK_SIZE"),
        ),
    ):
        session.call(request, [answer], f"DOWNLOAD_FILE: {what}")
    check_state(session, State.IDLE, None)
