"""Cases of requirements the tables do not spell out: names (SPEC.md 4.4), paths and the
jail (4.5), resume (7.1), digests (7.2) and compression (7.3)."""

from __future__ import annotations

import zlib
from collections.abc import Callable

from remofile.conformance import messages
from remofile.conformance.case import CaseList
from remofile.conformance.context import CaseContext
from remofile.conformance.expect import Accept, accepted, bad_request, error, refused
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
    standard_fixture,
)
from remofile.conformance.session import Session
from remofile.conformance.spec import MAX_PATH_BYTES, reason_value
from remofile.conformance.wire import Reply
from remofile.core.digests import algorithm_name, effective_algorithm
from remofile.core.transitions import State
from remofile.v1 import remofile_pb2 as pb

CASES = CaseList()


def _fixture(ctx: CaseContext) -> tuple[Session, Fixture]:
    session = ctx.open_session()
    return session, standard_fixture(session, ctx.case_directory(session), ctx.server_limits())


NameRequest = Callable[[Fixture, str], pb.Request]

_NEW_ENTRY_REQUESTS: tuple[tuple[str, NameRequest], ...] = (
    ("CREATE_FILE", lambda fixture, name: messages.create_file(fixture.path, name)),
    ("MAKE_DIRECTORY", lambda fixture, name: messages.make_directory(fixture.path, name)),
    (
        "UPLOAD_FILE",
        lambda fixture, name: messages.upload_file(fixture.path, name, 1, fixture.chunk_size),
    ),
)


def _refuse_names(ctx: CaseContext, names: tuple[tuple[str, str], ...]) -> None:
    session, fixture = _fixture(ctx)
    for kind, build in _NEW_ENTRY_REQUESTS:
        for what, name in names:
            session.call(build(fixture, name), [refused("INVALID_FILE_NAME")], f"{kind} of {what}")
    check_listing(fixture, "nothing was created")
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.4/1",
    "new entries whose names hold C0 controls, DEL or C1 controls",
    "a valid file name holds nothing from U+0000 to U+001F nor from U+007F to U+009F (4.4 rule 4)",
    "REFUSED INVALID_FILE_NAME",
)
def _control_characters(ctx: CaseContext) -> None:
    _refuse_names(
        ctx,
        tuple(
            (f"a name holding U+{ord(character):04X}", f"a{character}b")
            for character in ("\x00", "\x0a", "\x1f", "\x7f", "\x80", "\x85", "\x9f")
        ),
    )


@CASES.define(
    "4.4/2",
    "new entries named with the reserved prefix in several letter cases",
    "a valid file name does not start with `.remofile-` in any letter case (4.4 rule 7)",
    "REFUSED INVALID_FILE_NAME",
)
def _reserved_prefix(ctx: CaseContext) -> None:
    _refuse_names(
        ctx,
        tuple(
            (repr(name), name)
            for name in (
                ".remofile-x",
                ".remofile-staging",
                ".Remofile-x",
                ".REMOFILE-X",
                ".reMOFile-y",
            )
        ),
    )


@CASES.define(
    "4.4/3",
    "new entries with unusual but valid names, and names of 255 and 256 bytes of UTF-8",
    "nothing but the seven rules limits a name; its length counts bytes of UTF-8 (4.4)",
    "ACCEPTED for valid names, REFUSED INVALID_FILE_NAME past 255 bytes",
)
def _name_lengths(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    valid = (
        ".hidden",
        "...",
        "a b",
        "#%&;=+,@'[]{}()!$~^`",
        "-dash",
        "名前",
        "emoji \U0001f600",
        "remofile-without-dot",
        "x" * 255,
        "é" * 127 + "a",
        # One code point and two: different names, never normalised into one (4.4).
        "caf\u00e9",
        "cafe\u0301",
    )
    for name in valid:
        session.call(
            messages.create_file(fixture.path, name),
            [accepted("FILE_CREATED")],
            f"CREATE_FILE of {name[:40]!r} ({len(name.encode())} bytes)",
        )
        fixture.model.add_file(name)
    for name in ("y" * 256, "é" * 128):
        session.call(
            messages.make_directory(fixture.path, name),
            [refused("INVALID_FILE_NAME")],
            f"MAKE_DIRECTORY of a name of {len(name)} characters, {len(name.encode())} bytes",
        )
    check_listing(fixture, "the valid names are listed as they were sent")


@CASES.define(
    "4.5.1/1",
    "paths with empty and '.' components, and a trailing '/'",
    "empty and `.` components are ignored: `/a//./b/` names `/a/b` (4.5.1 rule 2)",
    "the same answers as for the plain paths",
)
def _normalisation(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    expected = fixture.model.listing("sub")
    twisted = "/." + fixture.path.replace("/", "//") + "/./sub/"
    session.call(
        messages.list_files(twisted),
        [accepted("FILES_LISTED", listing_check(expected))],
        f"LIST_FILES {twisted!r}",
    )
    session.call(
        messages.create_file(fixture.path + "//sub/.", "normalised.txt"),
        [accepted("FILE_CREATED")],
        "CREATE_FILE in a directory written with '//' and '/.'",
    )
    fixture.model.add_file("sub/normalised.txt")
    check_listing(fixture, "the file is where the plain path says", "sub")
    download = Download(
        session,
        fixture.path + "/./" + DATA_FILE,
        fixture.model.content(DATA_FILE),
        fixture.chunk_size,
    )
    download.start("DOWNLOAD_FILE of a path holding '/./'")
    download.finish()


@CASES.define(
    "4.5.1/2",
    "paths with a component of 256 bytes, and paths longer than 4096 bytes of UTF-8",
    "a path is at most 4096 bytes of UTF-8 and each component at most 255 (4.5.1 rule 5)",
    "ERROR BAD_REQUEST; a path of exactly 4096 bytes is judged as usual",
)
def _path_lengths(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)

    def path_of(total: int) -> str:
        """A path below the fixture of exactly ``total`` bytes, components of 200 or less."""
        path = fixture.path
        while total - len(path) > 201:
            path += "/" + "p" * 200
        return path + "/" + "p" * (total - len(path) - 1)

    wide = fixture.path + ("/" + "é" * 100) * (MAX_PATH_BYTES // 200 + 1)
    too_long = [bad_request()]
    # A path of 4096 bytes is within the syntax; that the root's own path makes it too
    # long for the server's file system is a failure of the server, not of the client.
    allowed = [refused("FILE_NOT_FOUND"), error("UNKNOWN_ERROR", "an OS limit")]
    for what, path, answers in (
        ("a component of 256 bytes", f"{fixture.path}/{'c' * 256}", too_long),
        ("a component of 128 characters, 256 bytes", f"{fixture.path}/{'é' * 128}", too_long),
        ("a path of 4097 bytes", path_of(MAX_PATH_BYTES + 1), too_long),
        ("a path of fewer than 4096 characters but more bytes", wide, too_long),
        ("a missing path of exactly 4096 bytes", path_of(MAX_PATH_BYTES), allowed),
    ):
        session.call(
            messages.list_files(path),
            answers,
            f"LIST_FILES of {what} ({len(path.encode())} bytes)",
        )
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.5.1/3",
    "paths through the reserved names, in several letter cases",
    "no path component may start with `.remofile-` in any letter case (4.5.1 rule 6, 4.5.4)",
    "ERROR BAD_REQUEST",
)
def _reserved_paths(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    for what, request in (
        ("LIST_FILES /.remofile-staging", messages.list_files("/.remofile-staging")),
        ("LIST_FILES /.Remofile-staging", messages.list_files("/.Remofile-staging")),
        (
            "LIST_FILES /.REMOFILE-STAGING/uploads",
            messages.list_files("/.REMOFILE-STAGING/uploads"),
        ),
        (
            "LIST_FILES of a reserved name in the case's directory",
            messages.list_files(fixture.remote(".remofile-x")),
        ),
        (
            "DOWNLOAD_FILE below /.remofile-staging",
            messages.download_file("/.remofile-staging/x", fixture.chunk_size),
        ),
        ("CREATE_FILE in /.remofile-staging", messages.create_file("/.remofile-staging", "x")),
    ):
        session.call(request, [bad_request()], what)
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.5.2/1",
    "requests through a symbolic link that leads out of the root (--outside-link)",
    "a link whose target is outside the root is an entry that does not exist, and is not listed (4.5.2)",
    "REFUSED FILE_NOT_FOUND; the link is not listed",
)
def _outside_link(ctx: CaseContext) -> None:
    link = ctx.target.outside_link
    if not link:
        ctx.skip("needs a symbolic link leading out of the root: pass --outside-link PATH")
    session = ctx.open_session()
    chunk = max(ctx.server_limits().min_chunk_size, min(1024, ctx.server_limits().max_chunk_size))
    for what, request in (
        ("LIST_FILES of the link", messages.list_files(link)),
        ("LIST_FILES below the link", messages.list_files(link + "/x")),
        ("DOWNLOAD_FILE of the link", messages.download_file(link, chunk)),
        ("DOWNLOAD_FILE below the link", messages.download_file(link + "/x", chunk)),
    ):
        session.call(request, [refused("FILE_NOT_FOUND")], what)
    parent, _, name = link.rstrip("/").rpartition("/")

    def not_listed(reply: Reply) -> str | None:
        names = [entry.name for entry in reply.response.file_list.entries]
        return f"the link {name!r} is listed" if name in names else None

    session.call(
        messages.list_files(parent or "/"),
        [accepted("FILES_LISTED", not_listed, "without the link")],
        "the listing of the link's directory",
    )
    # Nothing is created through the link either (4.5.2 rules 1 and 4).
    for what, request in (
        ("CREATE_FILE below the link", messages.create_file(link, "x")),
        ("MAKE_DIRECTORY below the link", messages.make_directory(link, "x")),
        ("UPLOAD_FILE below the link", messages.upload_file(link, "x", 1, chunk)),
    ):
        session.call(request, [refused("FILE_NOT_FOUND")], what)


@CASES.define(
    "4.9.2/1",
    "uploads that give the file a modification time, to the nanosecond",
    "a file placed by an upload whose UPLOAD_FILE carried modification_time_ns has that "
    "modification time, to the precision of the storage (4.9.2, 4.6)",
    "the listing shows each time sent, at most 2 s less where the storage is coarser",
)
def _upload_time(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    for name, time_ns, size in (
        ("timed-small.bin", 1_600_000_000_123_456_789, 10),
        ("timed-big.bin", 1_234_567_890_987_654_321, multi_chunk_size(fixture.chunk_size)),
        ("timed-empty.bin", 946_684_800_000_000_001, 0),
    ):
        content = content_of(size, name)
        upload = Upload(
            session, fixture.path, name, content, fixture.chunk_size, modification_time_ns=time_ns
        )
        upload.start(f"upload {name} with modification_time_ns {time_ns}")
        upload.finish(f"upload {name}")
        fixture.model.add_file(name, content)

        def kept(reply: Reply, name: str = name, time_ns: int = time_ns) -> str | None:
            times = {e.name: e.modification_time_ns for e in reply.response.file_list.entries}
            got = times.get(name)
            if got is None:
                return f"{name} is not listed"
            if not time_ns - 2_000_000_000 < got <= time_ns:
                return f"{name} has modification_time_ns {got}, not the {time_ns} it was sent with"
            return None

        session.call(
            fixture.listing_request(),
            [accepted("FILES_LISTED", kept, f"{name} at {time_ns}")],
            f"list {name}: it has the time sent",
        )


@CASES.define(
    "4.1.4/1",
    "refusals and errors about paths deep in the case's directory",
    "no message reveals anything outside the served root, such as the server's own "
    "file-system path of the root (4.1.4, 4.3.2)",
    "each message names remote paths only",
)
def _messages_reveal_nothing(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    marker = fixture.path.strip("/").split("/")[0]  # the scratch directory's name

    def no_host_path(reply: Reply) -> str | None:
        for token in reply.response.message.replace("'", " ").replace('"', " ").split():
            at = token.find(marker)
            # A remote path starts with /<scratch>; anything before it is the server's own.
            if at > 1 or (at == 1 and not token.startswith("/")):
                return f"the message {reply.response.message!r} holds the path {token!r}"
        return None

    chunk = fixture.chunk_size
    answers = [
        Accept(pb.RESPONSE_TYPE_REFUSED, reason_value(reason), no_host_path, "no host path")
        for reason in ("FILE_NOT_FOUND", "NOT_A_DIRECTORY", "NOT_A_FILE", "FILE_ALREADY_EXISTS")
    ]
    answers.append(
        Accept(pb.RESPONSE_TYPE_ERROR, reason_value("BAD_REQUEST"), no_host_path, "no host path")
    )
    victim, sub = fixture.remote("victim.txt"), fixture.remote("sub")
    for what, request in (
        ("LIST_FILES of a missing directory", fixture.listing_request("missing/deeper")),
        ("LIST_FILES of a file", fixture.listing_request("victim.txt")),
        ("CREATE_FILE over a file", messages.create_file(fixture.path, "victim.txt")),
        ("MAKE_DIRECTORY in a file", messages.make_directory(victim, "x")),
        ("DOWNLOAD_FILE of a directory", messages.download_file(sub, chunk)),
        ("DOWNLOAD_FILE of a missing file", messages.download_file(fixture.remote("nope"), chunk)),
        ("REMOVE_FILE of a missing file", messages.remove_file(fixture.remote("sub/nope"))),
        ("LIST_FILES of a path with '..'", messages.list_files(fixture.remote("sub/../sub"))),
    ):
        session.call(request, answers, what)


# -- 7.1 resume ---------------------------------------------------------------------------------


def _interrupt(ctx: CaseContext, name: str) -> tuple[Fixture, Upload]:
    """An upload of 2.5 chunks with one chunk sent, interrupted by GOODBYE."""
    session, fixture = _fixture(ctx)
    content = content_of(multi_chunk_size(fixture.chunk_size), name)
    upload = Upload(session, fixture.path, name, content, fixture.chunk_size)
    upload.start("start an upload of 2.5 chunks")
    upload.send_next("send its first chunk")
    session.goodbye("interrupt the upload with GOODBYE")
    successor = ctx.open_session()
    fixture.session = upload.session = successor
    return fixture, upload


def _complete_and_compare(fixture: Fixture, upload: Upload) -> None:
    upload.finish("send the rest from the offset returned")
    fixture.model.add_file(upload.name, upload.content)
    download = Download(fixture.session, upload.path, upload.content, fixture.chunk_size)
    download.start("download the file back")
    download.finish("download the file back")


@CASES.define(
    "7.1/1",
    "an upload interrupted by GOODBYE, resumed in a new session",
    "an interrupted upload keeps its staged data; UPLOAD_FILE with resume continues from "
    "at most its length, and the digest covers the whole file (7.1)",
    "ACCEPTED TRANSFER_ACCEPTED with offset 0 to C, then TRANSFER_COMPLETED",
)
def _resume_after_goodbye(ctx: CaseContext) -> None:
    fixture, upload = _interrupt(ctx, "resumed.bin")
    check_listing(fixture, "the interrupted upload is not visible")
    upload.start("resume the upload", resume=True, staged=upload.chunk_size)
    _complete_and_compare(fixture, upload)


@CASES.define(
    "7.1/2",
    "an interrupted upload resumed with another file_size, then with its own",
    "staged data is discarded when an upload of the destination starts with another "
    "file_size (7.1.2, 4.9.1)",
    "ACCEPTED TRANSFER_ACCEPTED with offset 0, both times",
)
def _resume_other_size(ctx: CaseContext) -> None:
    _, upload = _interrupt(ctx, "resized.bin")
    other = Upload(
        upload.session, upload.directory, upload.name, upload.content[:-1], upload.chunk_size
    )
    other.start("resume with a file_size one byte smaller", resume=True)
    upload.session.call(messages.cancel_transfer(), [accepted("TRANSFER_CANCELLED")], "cancel it")
    upload.start("resume with the first file_size: nothing is staged any more", resume=True)
    upload.session.call(messages.cancel_transfer(), [accepted("TRANSFER_CANCELLED")], "cancel it")


@CASES.define(
    "7.1/3",
    "an upload abandoned by a chunk of the wrong size, then resumed; one refused for its digest, then resumed",
    "ERROR BAD_REQUEST on a chunk keeps the chunks accepted before it; DIGEST_MISMATCH "
    "discards everything (4.9.2, 7.1)",
    "offset 0 to C after BAD_REQUEST; offset 0 after DIGEST_MISMATCH",
)
def _resume_after_errors(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    content = content_of(multi_chunk_size(fixture.chunk_size), "bad-then-resumed")
    upload = Upload(session, fixture.path, "bad-then-resumed.bin", content, fixture.chunk_size)
    upload.start()
    upload.send_next("a good first chunk")
    request, data = upload.chunk()
    session.call(request, [bad_request()], "a second chunk one byte short", data[:-1])
    upload.start("resume after BAD_REQUEST", resume=True, staged=upload.chunk_size)
    _complete_and_compare(fixture, upload)
    mismatch = Upload(session, fixture.path, "mismatch.bin", content, fixture.chunk_size)
    mismatch.start()
    while not mismatch.is_last():
        mismatch.send_next("a good chunk")
    request, data = mismatch.chunk(digest=False)
    request.send_chunk.digest.CopyFrom(messages.digest_of(b"other"))
    session.call(request, [refused("DIGEST_MISMATCH")], "the last chunk with a wrong digest", data)
    mismatch.start("resume after DIGEST_MISMATCH: nothing is staged", resume=True)
    session.call(messages.cancel_transfer(), [accepted("TRANSFER_CANCELLED")], "cancel it")


@CASES.define(
    "7.1/4",
    "a download started at an offset, through to its end",
    "the server sends the rest from the offset; the digest covers the whole file from byte 0 (7.1, 4.10.2)",
    "chunks from the offset, TRANSFER_COMPLETED with the whole file's digest",
)
def _download_from_offset(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    content = fixture.model.content(DATA_FILE)
    download = Download(
        session, fixture.remote(DATA_FILE), content, fixture.chunk_size, fixture.chunk_size + 3
    )
    download.start(f"DOWNLOAD_FILE from offset {download.offset}")
    download.finish()


# -- 7.2 digests ---------------------------------------------------------------------------------


@CASES.define(
    "7.2/1",
    "a digest on a chunk that is not the last",
    "a digest on any chunk but the last is answered ERROR BAD_REQUEST (7.2.3, 4.9.2)",
    "ERROR BAD_REQUEST; the state returns to IDLE",
)
def _early_digest(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    content = content_of(multi_chunk_size(fixture.chunk_size), "early")
    upload = Upload(session, fixture.path, "early.bin", content, fixture.chunk_size)
    upload.start()
    request, data = upload.chunk()
    request.send_chunk.digest.CopyFrom(messages.digest_of(content))
    session.call(request, [bad_request()], "the first chunk with the file's digest", data)
    check_state(session, State.IDLE, upload)
    discard_staged(session, upload)


@CASES.define(
    "7.2/2",
    "the last chunk with malformed digests: an unknown algorithm, 31 and 33 bytes; then a "
    "right digest whose algorithm is UNSPECIFIED",
    "a digest must name the upload's algorithm with a value of 32 bytes, or the chunk is ERROR "
    "BAD_REQUEST; UNSPECIFIED stands for SHA256 (7.2, 4.9.2)",
    "ERROR BAD_REQUEST each, the state back to IDLE; TRANSFER_COMPLETED for UNSPECIFIED",
)
def _malformed_digest(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    content = content_of(fixture.chunk_size // 2, "digest")
    right = messages.digest_of(content).value
    for what, algorithm, value in (
        ("algorithm 9", 9, right),
        ("a value of 31 bytes", pb.DIGEST_ALGORITHM_SHA256, right[:31]),
        ("a value of 33 bytes", pb.DIGEST_ALGORITHM_SHA256, right + b"\x00"),
        ("an empty value", pb.DIGEST_ALGORITHM_SHA256, b""),
    ):
        upload = Upload(session, fixture.path, "digest.bin", content, fixture.chunk_size)
        upload.start(f"{what}: start an upload of one chunk")
        request, data = upload.chunk(digest=False)
        request.send_chunk.digest.algorithm = algorithm  # type: ignore[assignment]
        request.send_chunk.digest.value = value
        session.call(request, [bad_request()], f"the last chunk with a digest of {what}", data)
        check_state(session, State.IDLE, upload)
        discard_staged(session, upload)
    check_listing(fixture, "no file was stored")
    upload = Upload(session, fixture.path, "unspecified.bin", content, fixture.chunk_size)
    upload.start("an upload in SHA256, the algorithm UploadFile leaves UNSPECIFIED")
    request, data = upload.chunk()
    request.send_chunk.digest.algorithm = pb.DIGEST_ALGORITHM_UNSPECIFIED
    session.call(
        request,
        [upload.expected_reply()],
        "the last chunk with the SHA-256 digest, its algorithm UNSPECIFIED (stands for SHA256)",
        data,
    )
    fixture.model.add_file("unspecified.bin", content)
    check_listing(fixture, "the file is stored")


@CASES.define(
    "7.2/3",
    "uploads and downloads with every digest algorithm the server announces, a resumed upload included",
    "the transfer uses the algorithm it asked for, confirmed in TransferAccepted; the last "
    "chunk's digest is of that algorithm, and one of another algorithm is ERROR BAD_REQUEST (7.2)",
    "the files stored and sent back intact, each digest of the algorithm asked",
)
def _digest_algorithms(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    size = multi_chunk_size(fixture.chunk_size)
    for algorithm in ctx.server_limits().digest_algorithms:
        label = algorithm_name(algorithm)
        name = f"digest-{label.lower()}.bin"
        content = content_of(size, name)
        upload = Upload(
            session, fixture.path, name, content, fixture.chunk_size, digest_algorithm=algorithm
        )
        upload.start(f"upload {name} with {label}")
        upload.send_next(f"its first chunk ({label})")
        session.goodbye(f"interrupt the {label} upload")
        fixture.session = upload.session = session = ctx.open_session()
        upload.start(f"resume {name} with {label}", resume=True, staged=fixture.chunk_size)
        upload.finish(f"the rest of {name}: the digest covers the staged part too")
        fixture.model.add_file(name, content)
        download = Download(
            session, upload.path, content, fixture.chunk_size, digest_algorithm=algorithm
        )
        download.start(f"download {name} with {label}")
        download.finish(f"download {name} with {label}")
        others = list(ctx.server_limits().digest_algorithms)
        if algorithm != pb.DIGEST_ALGORITHM_SHA256:
            others.append(pb.DIGEST_ALGORITHM_UNSPECIFIED)  # stands for SHA256
        for other in others:
            if other == algorithm:
                continue
            one_chunk = content[: fixture.chunk_size]
            wrong = Upload(
                session,
                fixture.path,
                "wrong-digest.bin",
                one_chunk,
                fixture.chunk_size,
                digest_algorithm=algorithm,
            )
            wrong.start(f"an upload of one chunk with {label}")
            request, data = wrong.chunk(digest=False)
            request.send_chunk.digest.CopyFrom(
                messages.digest_of(one_chunk, effective_algorithm(other))
            )
            request.send_chunk.digest.algorithm = other
            named = "UNSPECIFIED (SHA256)" if other == 0 else algorithm_name(other)
            session.call(
                request,
                [bad_request()],
                f"its chunk with a digest of {named} instead",
                data,
            )
            check_state(session, State.IDLE, wrong)
            discard_staged(session, wrong)
    check_listing(fixture, "the files are stored whole")


# -- 7.3 compression -------------------------------------------------------------------------------


def _needs_zlib(ctx: CaseContext) -> None:
    if pb.COMPRESSION_ZLIB not in ctx.server_limits().compressions:
        ctx.skip("the server does not announce COMPRESSION_ZLIB")


@CASES.define(
    "7.3/1",
    "uploads and downloads with COMPRESSION_ZLIB, an empty file included",
    "each zlib chunk is one complete stream; sizes, offsets and digests count uncompressed bytes (7.3)",
    "the files stored and sent back intact",
)
def _zlib_round_trip(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    _needs_zlib(ctx)
    for name, content in (
        ("zlib.bin", content_of(multi_chunk_size(fixture.chunk_size), "zlib")),
        ("zlib-text.txt", b"compressible text " * (fixture.chunk_size // 6)),
        ("zlib-empty.bin", b""),
    ):
        upload = Upload(
            session, fixture.path, name, content, fixture.chunk_size, pb.COMPRESSION_ZLIB
        )
        upload.start(f"upload {name} with ZLIB")
        upload.finish(f"upload {name} with ZLIB")
        fixture.model.add_file(name, content)
        for compression in (pb.COMPRESSION_NONE, pb.COMPRESSION_ZLIB):
            download = Download(
                session, upload.path, content, fixture.chunk_size, compression=compression
            )
            label = pb.Compression.Name(compression)
            download.start(f"download {name} with {label}")
            download.finish(f"download {name} with {label}")
    check_listing(fixture, "the files are listed with their uncompressed sizes")


@CASES.define(
    "7.3/2",
    "ZLIB upload chunks that are not exactly one stream of the chunk's size",
    "undecodable data, a stream inflating to more bytes, extra bytes after the stream and "
    "an empty frame are ERROR BAD_REQUEST (7.3.1, 7.3.3, 4.9.2)",
    "ERROR BAD_REQUEST each; the state returns to IDLE",
)
def _bad_zlib(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    _needs_zlib(ctx)
    content = content_of(multi_chunk_size(fixture.chunk_size), "bad-zlib")
    first = content[: fixture.chunk_size]
    for what, size, data in (
        ("bytes that are not zlib", len(content), b"not a zlib stream at all"),
        ("a stream one byte too long once inflated", len(content), zlib.compress(first + b"!")),
        ("a stream one byte too short once inflated", len(content), zlib.compress(first[:-1])),
        ("a stream followed by extra bytes", len(content), zlib.compress(first) + b"extra"),
        ("an empty frame for an empty file", 0, b""),
    ):
        upload = Upload(
            session,
            fixture.path,
            "bad-zlib.bin",
            content[:size],
            fixture.chunk_size,
            pb.COMPRESSION_ZLIB,
        )
        upload.start(f"{what}: start a ZLIB upload")
        request, _ = upload.chunk()
        session.call(request, [bad_request()], f"a chunk of {what}", data)
        check_state(session, State.IDLE, upload)
        discard_staged(session, upload)
    check_listing(fixture, "no file was stored")
