"""Cases of protocol 1.1, which changes what exists: atomic replacement (SPEC.md 4.5.5),
MOVE_FILE (4.14), COPY_FILE (4.15), FILE_DIGEST (4.16) and the features a server
announces (8.5, FEATURE_BATCH of protocol 1.2 included; the batches' own cases are in
:mod:`remofile.conformance.batch_cases`).

Each case needs the features it uses and is skipped, with the feature named, when the
server does not announce them: a client must not use what is not announced, and a
server of protocol 1.0 announces nothing (8.5). Effects are always checked through the
wire: listings, downloads compared byte for byte, and digests.
"""

from __future__ import annotations

from remofile.conformance import messages
from remofile.conformance.batches import BatchEntry, download_batch, sent, stored, upload_batch
from remofile.conformance.case import CaseList
from remofile.conformance.context import CaseContext
from remofile.conformance.expect import Accept, accepted, bad_request, refused, require
from remofile.conformance.model import join
from remofile.conformance.scenarios import (
    DATA_FILE,
    Fixture,
    Upload,
    big_chunk_size,
    check_content,
    check_digest,
    check_gone,
    check_listing,
    check_state,
    check_times,
    check_tree,
    content_of,
    listed,
    multi_chunk_size,
    standard_fixture,
    upload_big_file,
)
from remofile.conformance.session import Session
from remofile.conformance.spec import feature_name
from remofile.conformance.wire import Reply
from remofile.core.digests import algorithm_name
from remofile.core.transitions import State
from remofile.v1 import remofile_pb2 as pb

CASES = CaseList()

REFUSE = pb.CONFLICT_MODE_REFUSE
REPLACE = pb.CONFLICT_MODE_REPLACE

#: Conflict modes that must refuse a taken name (4.5.5 rules 1 and 6), with their names.
REFUSING_MODES: tuple[tuple[int, str], ...] = (
    (pb.CONFLICT_MODE_UNSPECIFIED, "UNSPECIFIED"),
    (pb.CONFLICT_MODE_REFUSE, "REFUSE"),
    (7, "7 (undefined, treated as REFUSE)"),
)

#: A modification time far from now (2009-02-13), given to files whose time must be kept,
#: so that a kept time cannot be mistaken for the time of the request.
PAST_TIME_NS = 1_234_567_890_123_456_789

FILE_MOVED = accepted("FILE_MOVED")
FILE_COPIED = accepted("FILE_COPIED")
TAKEN = refused("FILE_ALREADY_EXISTS")
NOT_A_FILE = refused("NOT_A_FILE")


def _fixture(ctx: CaseContext, *features: int) -> tuple[Session, Fixture]:
    """A session and the standard fixture, once the server announces ``features``."""
    session = ctx.open_session()
    ctx.require_feature(*features)
    return session, standard_fixture(session, ctx.case_directory(session), ctx.server_limits())


def _move(
    fixture: Fixture,
    source: str,
    directory: str,
    name: str,
    accept: Accept,
    step: str,
    mode: int = pb.CONFLICT_MODE_UNSPECIFIED,
) -> Reply:
    """MOVE_FILE of entries of the fixture (relative paths); the model follows if moved."""
    reply = fixture.session.call(
        messages.move_file(fixture.remote(source), fixture.remote(directory), name, mode),
        [accept],
        step,
    )
    if reply.response.reason == pb.REASON_FILE_MOVED:
        fixture.model.move(source, join(directory, name))
    return reply


def _copy(
    fixture: Fixture,
    source: str,
    directory: str,
    name: str,
    accept: Accept,
    step: str,
    mode: int = pb.CONFLICT_MODE_UNSPECIFIED,
) -> Reply:
    """COPY_FILE of a file of the fixture (relative paths); the model follows if copied."""
    reply = fixture.session.call(
        messages.copy_file(fixture.remote(source), fixture.remote(directory), name, mode),
        [accept],
        step,
    )
    if reply.response.reason == pb.REASON_FILE_COPIED:
        fixture.model.add_file(join(directory, name), fixture.model.content(source))
    return reply


def _times(fixture: Fixture, step: str) -> dict[str, int]:
    """The modification time of every entry below the fixture, by relative path."""
    return {
        name: entry.modification_time_ns
        for name, entry in listed(fixture.session, fixture.path, step).items()
    }


# -- 4.5.5 conflict modes and atomic replacement ---------------------------------------------


def _replacement(fixture: Fixture, relative: str, content: bytes) -> Upload:
    """An upload with REPLACE of ``content`` to a path of the fixture."""
    directory, _, name = relative.rpartition("/")
    return Upload(
        fixture.session,
        fixture.remote(directory),
        name,
        content,
        fixture.chunk_size,
        conflict_mode=REPLACE,
    )


@CASES.define(
    "4.5.5/1",
    "a replacing upload stopped half-way, the old file checked, then resumed and completed",
    "the existing file stays whole and readable under its name until the new content is "
    "complete; a replacing upload resumes like any other (4.5.5 rule 3, 7.1.5)",
    "data.bin listed and downloaded byte-identical half-way; resumed from at most the bytes "
    "sent; "
    "then the new content",
)
def _atomic_replace(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx, pb.FEATURE_REPLACE)
    chunk = fixture.chunk_size
    old = fixture.model.content(DATA_FILE)
    times = _times(fixture, "read data.bin's modification time")
    new = content_of(4 * chunk, "the replacement")
    upload = _replacement(fixture, DATA_FILE, new)
    upload.start("start replacing data.bin by 4 chunks of new content (REPLACE)")
    upload.send_next("send the first chunk of the replacement")
    upload.send_next("send the second chunk of the replacement")
    check_listing(fixture, "half-way, data.bin is still listed with its old size")
    check_times(
        fixture,
        {DATA_FILE: times[DATA_FILE]},
        "half-way, data.bin keeps its old modification time",
        "the old file is untouched until the new one is complete",
    )
    session.goodbye("interrupt the replacing upload with GOODBYE")
    fixture.session = upload.session = session = ctx.open_session()
    check_listing(fixture, "after the interruption, data.bin is still listed with its old size")
    check_content(fixture, DATA_FILE, "after the interruption, the old data.bin is whole", old)
    if ctx.has_feature(pb.FEATURE_FILE_DIGEST):
        check_digest(session, fixture.remote(DATA_FILE), old, "the old data.bin's digest")
    # A server may report fewer staged bytes than it was sent, even none (7.1.4).
    upload.start("resume the replacing upload (resume and REPLACE)", resume=True, staged=2 * chunk)
    check_listing(fixture, "resumed, data.bin is still the old file")
    upload.finish("send the rest of the replacement")
    fixture.model.add_file(DATA_FILE, new)
    check_content(fixture, DATA_FILE, "data.bin now holds the new content")
    check_tree(fixture, "only data.bin changed")
    check_state(session, State.IDLE, upload)


@CASES.define(
    "4.5.5/2",
    "UPLOAD_FILE of a taken name with conflict mode UNSPECIFIED, REFUSE and an undefined one",
    "UNSPECIFIED and REFUSE refuse a taken name and leave the existing entry alone; an "
    "undefined mode is treated as REFUSE; so does a server of protocol 1.0 (4.5.5 rules 1, 6)",
    "REFUSED FILE_ALREADY_EXISTS each; the old file byte-identical",
)
def _refusing_modes(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    new = content_of(fixture.chunk_size // 2, "not stored")
    for mode, label in REFUSING_MODES:
        for what, resume in (("", False), (", resuming", True)):
            for name in (DATA_FILE, "empty.txt", "sub"):
                upload = Upload(
                    session, fixture.path, name, new, fixture.chunk_size, conflict_mode=mode
                )
                session.call(
                    upload.request(resume),
                    [TAKEN],
                    f"UPLOAD_FILE of the taken name {name}, conflict mode {label}{what}",
                )
    check_tree(fixture, "the existing entries are untouched")
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.5.5/3",
    "UPLOAD_FILE with REPLACE of the name of a directory, empty or not",
    "a directory is never replaced: REFUSED NOT_A_FILE (4.5.5 rule 2, 4.9.1 check 4)",
    "REFUSED NOT_A_FILE; the directories and what they hold unchanged",
)
def _replace_directory(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx, pb.FEATURE_REPLACE)
    content = content_of(fixture.chunk_size, "not stored")
    for name in ("sub", "emptydir"):
        upload = _replacement(fixture, name, content)
        session.call(upload.request(), [NOT_A_FILE], f"UPLOAD_FILE with REPLACE of {name}/")
    check_tree(fixture, "the directories are untouched")
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.5.5/4",
    "replacing uploads that fail: a wrong digest, a cancel, a chunk of the wrong size",
    "the existing file stays whole until the new content is complete and verified; a "
    "server must not replace by removing the old file first (4.5.5 rule 3)",
    "the old file byte-identical after each",
)
def _failed_replacements(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx, pb.FEATURE_REPLACE)
    chunk = fixture.chunk_size
    new = content_of(multi_chunk_size(chunk), "failed replacement")

    mismatch = _replacement(fixture, DATA_FILE, new)
    mismatch.start("replace data.bin: start")
    while not mismatch.is_last():
        mismatch.send_next(f"replace data.bin: chunk at offset {mismatch.offset}")
    request, data = mismatch.chunk(digest=False)
    request.send_chunk.digest.CopyFrom(messages.digest_of(new + b"!"))
    session.call(request, [refused("DIGEST_MISMATCH")], "the last chunk with a wrong digest", data)
    check_content(fixture, DATA_FILE, "after DIGEST_MISMATCH the old data.bin is whole")

    cancelled = _replacement(fixture, "sub/inner.txt", new)
    cancelled.start("replace sub/inner.txt: start")
    cancelled.send_next("replace sub/inner.txt: the first chunk")
    session.call(messages.cancel_transfer(), [accepted("TRANSFER_CANCELLED")], "cancel it")
    check_content(fixture, "sub/inner.txt", "after CANCEL_TRANSFER the old inner.txt is whole")

    broken = _replacement(fixture, "empty.txt", new)
    broken.start("replace the empty file empty.txt: start")
    request, data = broken.chunk()
    session.call(request, [bad_request()], "its first chunk one byte short", data[:-1])
    check_tree(fixture, "every old file is whole")
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.5.5/5",
    "replacements by a longer, a shorter, an empty and a one-chunk file; REPLACE of a free name",
    "REPLACE puts the new file under the name once it is complete; a free name is simply "
    "created (4.5.5, 4.9.2)",
    "ACCEPTED TRANSFER_COMPLETED each; the new contents listed and downloaded",
)
def _replacements(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx, pb.FEATURE_REPLACE)
    chunk = fixture.chunk_size
    for what, name, content in (
        ("a longer file", "empty.txt", content_of(multi_chunk_size(chunk), "longer")),
        ("a shorter file", DATA_FILE, content_of(chunk // 3, "shorter")),
        ("an empty file", "sub/inner.txt", b""),
        ("a file of one chunk", "victim.txt", content_of(chunk, "one chunk")),
        ("a file of a free name", "free.bin", content_of(chunk + 1, "free")),
    ):
        upload = _replacement(fixture, name, content)
        upload.start(f"REPLACE {name} by {what}: start")
        upload.finish(f"REPLACE {name} by {what}")
        fixture.model.add_file(name, content)
        check_content(fixture, name, f"{name} holds {what}")
    check_tree(fixture, "every file holds its new content")
    check_state(session, State.IDLE, None)


# -- 4.14 MOVE_FILE ------------------------------------------------------------------------------


@CASES.define(
    "4.14/1",
    "a file renamed in place, then moved into another directory",
    "the entry is under its new name only, and keeps its content and modification time (4.14)",
    "ACCEPTED FILE_MOVED; nothing at the old paths; bytes and time unchanged",
)
def _move_file(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx, pb.FEATURE_MOVE)
    content = content_of(multi_chunk_size(fixture.chunk_size), "travelling")
    fixture.upload("file.bin", content, PAST_TIME_NS)
    time_ns = _times(fixture, "read the file's modification time")["file.bin"]
    _move(fixture, "file.bin", "", "renamed.bin", FILE_MOVED, "rename file.bin to renamed.bin")
    check_gone(session, fixture.remote("file.bin"), "nothing is left at file.bin")
    check_content(fixture, "renamed.bin", "renamed.bin holds the file's bytes")
    _move(fixture, "renamed.bin", "sub", "moved.bin", FILE_MOVED, "move it into sub/")
    check_gone(session, fixture.remote("renamed.bin"), "nothing is left at renamed.bin")
    check_content(fixture, "sub/moved.bin", "sub/moved.bin holds the file's bytes")
    check_tree(fixture, "the file is only in sub/")
    check_times(
        fixture,
        {"sub/moved.bin": time_ns},
        "the moved file's modification time",
        "a moved file keeps its modification time (4.14)",
    )
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.14/2",
    "a directory tree moved into another directory under a new name",
    "a directory keeps everything beneath it, each entry its content and time (4.14)",
    "ACCEPTED FILE_MOVED; the tree listed and downloaded under its new path only",
)
def _move_tree(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx, pb.FEATURE_MOVE)
    fixture.make_directory("tree")
    fixture.upload("tree/a.bin", content_of(multi_chunk_size(fixture.chunk_size), "a"))
    fixture.make_directory("tree/c")
    fixture.upload("tree/c/d.txt", content_of(100, "d"), PAST_TIME_NS)
    fixture.make_directory("tree/c/e")
    before = _times(fixture, "read the times of the tree's files")
    _move(fixture, "tree", "emptydir", "moved", FILE_MOVED, "move tree/ to emptydir/moved/")
    for gone in ("tree", "tree/c"):
        check_gone(session, fixture.remote(gone), f"nothing is left at {gone}")
    check_listing(fixture, "the moved tree, recursively", "emptydir/moved", recursive=True)
    check_tree(fixture, "the tree is only under emptydir/moved, with its bytes")
    check_times(
        fixture,
        {
            "emptydir/moved/a.bin": before["tree/a.bin"],
            "emptydir/moved/c/d.txt": before["tree/c/d.txt"],
        },
        "the times of the moved files",
        "the files of a moved tree keep their modification times",
    )
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.14/3",
    "MOVE_FILE onto a taken name with conflict mode UNSPECIFIED, REFUSE and an undefined one",
    "without REPLACE a taken name is refused and both entries are left alone (4.14 check 6, "
    "4.5.5 rules 1 and 6)",
    "REFUSED FILE_ALREADY_EXISTS each; both files byte-identical",
)
def _move_refused(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx, pb.FEATURE_MOVE)
    fixture.upload("other.bin", content_of(fixture.chunk_size + 7, "other"))
    for mode, label in REFUSING_MODES:
        for source, directory, name in (
            (DATA_FILE, "", "other.bin"),
            ("other.bin", "", DATA_FILE),
            (DATA_FILE, "sub", "inner.txt"),
            (DATA_FILE, "", "empty.txt"),
        ):
            _move(
                fixture,
                source,
                directory,
                name,
                TAKEN,
                f"move {source} onto {join(directory, name)}, conflict mode {label}",
                mode,
            )
    check_tree(fixture, "both files of every attempt are byte-identical")
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.14/4",
    "MOVE_FILE with REPLACE over a file, over a directory, and of a directory over a file",
    "REPLACE replaces a file in the same atomic step; a directory is never replaced "
    "(NOT_A_FILE) and replaces nothing (FILE_ALREADY_EXISTS) (4.14, 4.5.5)",
    "FILE_MOVED, the source gone and its bytes and time at the destination; then "
    "NOT_A_FILE and FILE_ALREADY_EXISTS",
)
def _move_replacing(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx, pb.FEATURE_MOVE)
    fixture.upload("new.bin", content_of(fixture.chunk_size + 3, "new"), PAST_TIME_NS)
    time_ns = _times(fixture, "read the source's modification time")["new.bin"]
    _move(fixture, "new.bin", "", DATA_FILE, FILE_MOVED, "move new.bin over data.bin", REPLACE)
    check_gone(session, fixture.remote("new.bin"), "nothing is left at new.bin")
    check_content(fixture, DATA_FILE, "data.bin holds new.bin's bytes")
    check_times(
        fixture,
        {DATA_FILE: time_ns},
        "data.bin's modification time",
        "the moved file keeps its time",
    )
    _move(fixture, DATA_FILE, "", "sub", NOT_A_FILE, "move data.bin over sub/", REPLACE)
    _move(fixture, DATA_FILE, "", "emptydir", NOT_A_FILE, "move data.bin over emptydir/", REPLACE)
    _move(fixture, "sub", "", "victim.txt", TAKEN, "move sub/ over victim.txt", REPLACE)
    _move(
        fixture,
        DATA_FILE,
        "",
        DATA_FILE,
        FILE_MOVED,
        "move data.bin onto its own path with REPLACE: nothing changes",
        REPLACE,
    )
    check_tree(fixture, "only data.bin changed, and new.bin is gone")
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.14/5",
    "a directory moved into itself and beneath itself; then into a sibling that shares its prefix",
    "a directory cannot be moved into itself or beneath itself: INVALID_DESTINATION (4.14 "
    "check 5); a sibling whose name merely starts with the same letters is not beneath it",
    "REFUSED INVALID_DESTINATION, the tree unchanged; then ACCEPTED FILE_MOVED",
)
def _move_into_itself(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx, pb.FEATURE_MOVE)
    fixture.make_directory("sub/deeper")
    fixture.make_directory("sub/deeper/deepest")
    fixture.make_directory("subway")
    invalid = refused("INVALID_DESTINATION")
    for directory in ("sub", "sub/deeper", "sub/deeper/deepest"):
        _move(fixture, "sub", directory, "x", invalid, f"move sub/ into {directory}/")
    _move(fixture, "sub", "sub", "sub", invalid, "move sub/ into itself under its own name")
    check_tree(fixture, "nothing moved")
    _move(fixture, "sub", "subway", "sub", FILE_MOVED, "move sub/ into its sibling subway/")
    _move(
        fixture,
        "subway",
        "emptydir",
        "subway",
        FILE_MOVED,
        "move subway/ into emptydir/",
    )
    check_tree(fixture, "sub/ is under emptydir/subway/ with everything it held")
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.14/6",
    "MOVE_FILE of the root, written '/', '//', '/.' and '//./'",
    "the root cannot be moved: ERROR BAD_REQUEST (4.14 check 1)",
    "ERROR BAD_REQUEST each; the root and the case's directory unchanged",
)
def _move_root(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx, pb.FEATURE_MOVE)
    scratch_name = ctx.scratch.strip("/").split("/")[0]  # the root's entry on the way
    for root in ("/", "//", "/.", "//./"):
        for mode, label in ((0, ""), (REPLACE, " with REPLACE")):
            session.call(
                messages.move_file(root, fixture.path, "root", mode),
                [bad_request("the source is the root")],
                f"move the root {root!r} into the case's directory{label}",
            )
    check_tree(fixture, "the case's directory is unchanged")

    def scratch_listed(reply: Reply) -> str | None:
        names = {entry.name for entry in reply.response.file_list.entries}
        if not reply.response.file_list.truncated and scratch_name not in names:
            return f"the root no longer holds {scratch_name}"
        return None

    session.call(
        messages.list_files("/"),
        [accepted("FILES_LISTED", scratch_listed, f"{scratch_name} listed")],
        "the root still holds the suite's directory",
    )
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.14/7",
    "MOVE_FILE requests that break several checks at once",
    "the first failing check of section 4.14 gives the answer: paths, name, source, "
    "directory, destination inside the source, taken name",
    "the reason of the first check that fails",
)
def _move_order(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx, pb.FEATURE_MOVE)
    remote = fixture.remote
    for what, request, answer in (
        (
            "a relative source and an invalid name",
            messages.move_file(remote(DATA_FILE).lstrip("/"), fixture.path, ""),
            bad_request(),
        ),
        (
            "the root as the source and an invalid name",
            messages.move_file("/", "/", ".."),
            bad_request(),
        ),
        (
            "an invalid name and a missing source",
            messages.move_file(remote("missing"), fixture.path, "a/b"),
            refused("INVALID_FILE_NAME"),
        ),
        (
            "a missing source and a file as the directory",
            messages.move_file(remote("missing"), remote(DATA_FILE), "x"),
            refused("FILE_NOT_FOUND"),
        ),
        (
            "a directory moved into a file beneath it",
            messages.move_file(remote("sub"), remote("sub/inner.txt"), "x"),
            refused("NOT_A_DIRECTORY"),
        ),
        (
            "a directory moved into itself onto a taken name",
            messages.move_file(remote("sub"), remote("sub"), "inner.txt"),
            refused("INVALID_DESTINATION"),
        ),
        (
            "a file onto a directory's name, without REPLACE",
            messages.move_file(remote(DATA_FILE), fixture.path, "sub"),
            TAKEN,
        ),
    ):
        session.call(request, [answer], f"MOVE_FILE of {what}")
    check_tree(fixture, "nothing moved")
    check_state(session, State.IDLE, None)


# -- 4.15 COPY_FILE ---------------------------------------------------------------------------------


@CASES.define(
    "4.15/1",
    "copies of files of 2.5 chunks, two chunks, one chunk, none and over 1 MiB, compared by "
    "download and digest",
    "the copy is byte-identical to the source, and the source stays as it was (4.15)",
    "ACCEPTED FILE_COPIED; both files downloaded and digested alike",
)
def _copy_identical(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx, pb.FEATURE_COPY)
    chunk = fixture.chunk_size
    fixture.upload("two.bin", content_of(2 * chunk, "two"))
    fixture.upload("one.bin", content_of(chunk, "one"))
    sources = [(DATA_FILE, ""), ("two.bin", "sub"), ("one.bin", "emptydir"), ("empty.txt", "")]
    if upload_big_file(fixture, "big.bin", ctx.server_limits()) is not None:
        sources.append(("big.bin", "sub"))
    digests = ctx.has_feature(pb.FEATURE_FILE_DIGEST)
    big_chunk = big_chunk_size(ctx.server_limits())
    for source, directory in sources:
        name = "copy-" + source
        _copy(fixture, source, directory, name, FILE_COPIED, f"copy {source} to {name}")
        copy = join(directory, name)
        check_content(fixture, copy, f"the copy {copy} is byte-identical", chunk_size=big_chunk)
        check_content(fixture, source, f"the source {source} is unchanged", chunk_size=big_chunk)
        if digests:
            content = fixture.model.content(source)
            for path in (source, copy):
                check_digest(session, fixture.remote(path), content, f"the digest of {path}")
    check_listing(fixture, "the sources and their copies", recursive=True)
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.15/2",
    "copies of a file with a modification time in the past, to a free name and over a file",
    "the copy gets the source's modification time; the source keeps it (4.15)",
    "the listing shows the source's time on both",
)
def _copy_time(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx, pb.FEATURE_COPY)
    fixture.upload("old.bin", content_of(fixture.chunk_size + 1, "old"), PAST_TIME_NS)
    source_time = _times(fixture, "read the source's modification time")["old.bin"]
    _copy(fixture, "old.bin", "sub", "copy.bin", FILE_COPIED, "copy old.bin into sub/")
    _copy(fixture, "old.bin", "", DATA_FILE, FILE_COPIED, "copy old.bin over data.bin", REPLACE)
    check_times(
        fixture,
        {"old.bin": source_time, "sub/copy.bin": source_time, DATA_FILE: source_time},
        "the times of the source and its copies",
        "a copy has its source's modification time, and the source keeps it (4.15)",
    )
    check_tree(fixture, "the copies hold the source's bytes")
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.15/3",
    "COPY_FILE onto taken names: refusing modes, REPLACE over a file, a directory and itself",
    "without REPLACE a taken name is refused and left alone; REPLACE replaces a file "
    "atomically with the source's bytes, never a directory (NOT_A_FILE); a copy onto its "
    "own path with REPLACE leaves the file as it was (4.15, 4.5.5)",
    "FILE_ALREADY_EXISTS, then FILE_COPIED, NOT_A_FILE, FILE_COPIED",
)
def _copy_conflicts(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx, pb.FEATURE_COPY)
    for mode, label in REFUSING_MODES:
        for directory, name in (("", "empty.txt"), ("sub", "inner.txt"), ("", "sub")):
            _copy(
                fixture,
                DATA_FILE,
                directory,
                name,
                TAKEN,
                f"copy data.bin onto {join(directory, name)}, conflict mode {label}",
                mode,
            )
    check_tree(fixture, "every file refused is untouched")
    _copy(
        fixture,
        DATA_FILE,
        "sub",
        "inner.txt",
        FILE_COPIED,
        "copy data.bin over sub/inner.txt",
        REPLACE,
    )
    check_content(fixture, "sub/inner.txt", "sub/inner.txt holds data.bin's bytes")
    for name in ("sub", "emptydir"):
        _copy(fixture, DATA_FILE, "", name, NOT_A_FILE, f"copy data.bin over {name}/", REPLACE)
    _copy(
        fixture,
        DATA_FILE,
        "",
        DATA_FILE,
        FILE_COPIED,
        "copy data.bin onto its own path with REPLACE",
        REPLACE,
    )
    check_tree(fixture, "data.bin as it was, sub/inner.txt its copy, the directories untouched")
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.15/4",
    "COPY_FILE of a directory, an empty directory and the root",
    "only a regular file can be copied: REFUSED NOT_A_FILE (4.15 check 4)",
    "REFUSED NOT_A_FILE each; nothing created",
)
def _copy_directory(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx, pb.FEATURE_COPY)
    for what, source in (
        ("sub/", fixture.remote("sub")),
        ("emptydir/", fixture.remote("emptydir")),
        ("the root", "/"),
    ):
        for mode, label in ((0, ""), (REPLACE, " with REPLACE")):
            session.call(
                messages.copy_file(source, fixture.path, "copy", mode),
                [NOT_A_FILE],
                f"copy {what}{label}",
            )
    check_tree(fixture, "nothing was created")
    check_state(session, State.IDLE, None)


# -- 4.16 FILE_DIGEST --------------------------------------------------------------------------------


@CASES.define(
    "4.16/1",
    "FILE_DIGEST of files uploaded empty, of one byte, one chunk, two chunks, 2.5 chunks and over "
    "1 MiB, with every algorithm announced",
    "the digest is that of the whole file with the algorithm asked, UNSPECIFIED meaning "
    "SHA256 (4.16, 7.2)",
    "ACCEPTED FILE_DIGESTED with the digest of the bytes uploaded",
)
def _digests(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx, pb.FEATURE_FILE_DIGEST)
    chunk = fixture.chunk_size
    files = {
        "empty.bin": b"",
        "one.bin": content_of(chunk, "one"),
        "two.bin": content_of(2 * chunk, "two"),
        "more.bin": content_of(multi_chunk_size(chunk), "more"),
        "byte.bin": b"\x00",
    }
    for name, content in files.items():
        fixture.upload(name, content)
    big = upload_big_file(fixture, "big.bin", ctx.server_limits())
    if big is not None:
        files["big.bin"] = big
    algorithms = [pb.DIGEST_ALGORITHM_UNSPECIFIED, *ctx.server_limits().digest_algorithms]
    for name, content in files.items():
        for algorithm in algorithms:
            label = algorithm_name(algorithm) if algorithm else "UNSPECIFIED (SHA256)"
            check_digest(
                session,
                fixture.remote(name),
                content,
                f"FILE_DIGEST of {name} with {label}",
                algorithm,
            )
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.16/2",
    "FILE_DIGEST of files, compared with their listing",
    "FileDigestResult holds the size and the modification time of the file digested (4.16)",
    "file_size and modification_time_ns as the listing shows them",
)
def _digest_metadata(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx, pb.FEATURE_FILE_DIGEST)
    fixture.upload("old.bin", content_of(fixture.chunk_size * 3, "old"), PAST_TIME_NS)
    times = _times(fixture, "read the files' sizes and times")
    for name in (DATA_FILE, "old.bin", "empty.txt", "sub/inner.txt"):
        check_digest(
            session,
            fixture.remote(name),
            fixture.model.content(name),
            f"FILE_DIGEST of {name}",
            modification_time_ns=times[name],
        )
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.16/3",
    "FILE_DIGEST with algorithms the server does not announce",
    "an algorithm the server does not announce is refused UNSUPPORTED_FEATURE (4.16 check 4)",
    "REFUSED UNSUPPORTED_FEATURE",
)
def _digest_unannounced(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx, pb.FEATURE_FILE_DIGEST)
    announced = set(ctx.server_limits().digest_algorithms)
    unannounced = [99, 3] + [
        value
        for value in pb.DigestAlgorithm.values()
        if value != pb.DIGEST_ALGORITHM_UNSPECIFIED and value not in announced
    ]
    for algorithm in unannounced:
        session.call(
            messages.file_digest(fixture.remote(DATA_FILE), algorithm),
            [refused("UNSUPPORTED_FEATURE")],
            f"FILE_DIGEST of data.bin with {algorithm_name(algorithm)}",
        )
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.16/4",
    "FILE_DIGEST of a file before and after it is replaced by one of the same size, moved and copied",
    "a digest is of the file as it is now: a server may answer from digests computed before "
    "only if it can tell the file has not changed (4.16)",
    "each digest that of the current content",
)
def _digest_follows_changes(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx, pb.FEATURE_FILE_DIGEST)
    path = fixture.remote(DATA_FILE)
    old = fixture.model.content(DATA_FILE)
    check_digest(session, path, old, "the digest of data.bin")
    if ctx.has_feature(pb.FEATURE_REPLACE):
        new = content_of(len(old), "same size, other bytes")
        upload = _replacement(fixture, DATA_FILE, new)
        upload.start("replace data.bin by other bytes of the same size")
        upload.finish("replace data.bin by other bytes of the same size")
        fixture.model.add_file(DATA_FILE, new)
        check_digest(session, path, new, "the digest of the replaced data.bin")
    content = fixture.model.content(DATA_FILE)
    if ctx.has_feature(pb.FEATURE_MOVE):
        check_digest(
            session,
            fixture.remote("sub/inner.txt"),
            fixture.model.content("sub/inner.txt"),
            "the digest of sub/inner.txt",
        )
        _move(
            fixture,
            DATA_FILE,
            "sub",
            "inner.txt",
            FILE_MOVED,
            "move data.bin over sub/inner.txt",
            REPLACE,
        )
        check_digest(
            session, fixture.remote("sub/inner.txt"), content, "the digest of the file moved there"
        )
        session.call(
            messages.file_digest(path), [refused("FILE_NOT_FOUND")], "no digest at the old path"
        )
        path = fixture.remote("sub/inner.txt")
    if ctx.has_feature(pb.FEATURE_COPY):
        check_digest(
            session, fixture.remote("victim.txt"), b"", "the digest of the empty victim.txt"
        )
        session.call(
            messages.copy_file(path, fixture.path, "victim.txt", REPLACE),
            [FILE_COPIED],
            "copy the file over victim.txt",
        )
        check_digest(session, fixture.remote("victim.txt"), content, "the digest of the copy")
    check_state(session, State.IDLE, None)


# -- 8.5 features ---------------------------------------------------------------------------------


@CASES.define(
    "8.5/1",
    "the features the server announces, each used once",
    "SessionOpened.features lists the optional requests and modes the server has; each one "
    "listed works (8.5); a server of protocol 1.0 lists none",
    "no FEATURE_UNSPECIFIED; every feature listed carried out",
)
def _features(ctx: CaseContext) -> None:
    session = ctx.open_session()
    features = list(ctx.server_limits().features)
    names = ", ".join(feature_name(feature) for feature in features) or "none"
    ctx.transcript.note(f"features announced: {names}")
    require(
        pb.FEATURE_UNSPECIFIED not in features,
        "HELLO",
        "SessionOpened.features holds FEATURE_UNSPECIFIED, which is no feature (8.5)",
    )
    fixture = standard_fixture(session, ctx.case_directory(session), ctx.server_limits())
    if pb.FEATURE_REPLACE in features:
        new = content_of(fixture.chunk_size // 2, "FEATURE_REPLACE")
        upload = _replacement(fixture, "victim.txt", new)
        upload.start("FEATURE_REPLACE: replace victim.txt")
        upload.finish("FEATURE_REPLACE: replace victim.txt")
        fixture.model.add_file("victim.txt", new)
    if pb.FEATURE_MOVE in features:
        _move(fixture, "victim.txt", "sub", "moved.txt", FILE_MOVED, "FEATURE_MOVE: move a file")
    if pb.FEATURE_COPY in features:
        _copy(fixture, DATA_FILE, "emptydir", "copy.bin", FILE_COPIED, "FEATURE_COPY: copy a file")
    if pb.FEATURE_FILE_DIGEST in features:
        check_digest(
            session,
            fixture.remote(DATA_FILE),
            fixture.model.content(DATA_FILE),
            "FEATURE_FILE_DIGEST: the digest of a file",
        )
    if pb.FEATURE_BATCH in features:
        content = content_of(fixture.chunk_size // 3, "FEATURE_BATCH")
        upload_batch(
            session,
            [BatchEntry(fixture.remote("emptydir"), "batch.bin", content)],
            [stored()],
            "FEATURE_BATCH: upload a batch of one file",
        )
        fixture.model.add_file("emptydir/batch.bin", content)
        download_batch(
            session,
            [fixture.remote("emptydir/batch.bin"), fixture.remote(DATA_FILE)],
            [sent(content), sent(fixture.model.content(DATA_FILE))],
            "FEATURE_BATCH: download a batch of two files",
            ctx.server_limits().max_chunk_size,
        )
    check_tree(fixture, "the tree holds what the features did")
    check_state(session, State.IDLE, None)
