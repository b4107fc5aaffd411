"""Cases of protocol 1.2: batches of whole files, UPLOAD_FILES (SPEC.md 4.17) and
DOWNLOAD_FILES (4.18), with the frames they travel in (2.2.1, 2.2.2).

Every case needs FEATURE_BATCH and is skipped, with the feature named, when the server
does not announce it (8.5). A batch is judged file by file: one result per file, in the
order of the request, each the answer the file alone would have had. What a batch
stores is checked through the wire (recursive listings, downloads compared byte for
byte), and so is what a batch answered as a whole must not have written.
"""

from __future__ import annotations

from remofile.conformance import messages
from remofile.conformance.batches import (
    BatchEntry,
    FileOutcome,
    compression_label,
    compressions_to_try,
    digest_value,
    download_batch,
    encode,
    refused_file,
    sent,
    stored,
    upload_batch,
    upload_request,
)
from remofile.conformance.case import CaseList
from remofile.conformance.context import CaseContext
from remofile.conformance.expect import accepted, bad_request, refused
from remofile.conformance.scenarios import (
    DATA_FILE,
    Fixture,
    Upload,
    big_chunk_size,
    check_content,
    check_listing,
    check_state,
    check_times,
    check_tree,
    content_of,
    listed,
    multi_chunk_size,
    standard_fixture,
)
from remofile.conformance.session import Session
from remofile.conformance.spec import MAX_BATCH_FILES
from remofile.conformance.transition_cases import (
    BATCH_BYTES_TRIED,
    INVALID_NAMES,
    bad_upload_batches,
    batch_entry,
    oversize_upload_batch,
    unsupported_compression,
    unsupported_digest,
)
from remofile.conformance.wire import DELIMITER
from remofile.core.digests import algorithm_name
from remofile.core.transitions import State
from remofile.v1 import remofile_pb2 as pb

CASES = CaseList()

REPLACE = pb.CONFLICT_MODE_REPLACE

#: A modification time far from now (2009-02-13), so a kept time cannot be mistaken for
#: the time of the request.
PAST_TIME_NS = 1_234_567_890_123_456_789

#: Conflict modes that must refuse a taken name (4.5.5 rules 1 and 6), with their names.
REFUSING_MODES: tuple[tuple[int, str], ...] = (
    (pb.CONFLICT_MODE_UNSPECIFIED, "UNSPECIFIED"),
    (pb.CONFLICT_MODE_REFUSE, "REFUSE"),
    (7, "7 (undefined, treated as REFUSE)"),
)

TAKEN = "FILE_ALREADY_EXISTS"

#: Room the small files sent with a file over file_size_limit take in the data frame.
OTHER_FILES_BYTES = 1024


def _fixture(ctx: CaseContext, *features: int) -> tuple[Session, Fixture]:
    """A session and the standard fixture, once the server announces FEATURE_BATCH and
    ``features``."""
    session = ctx.open_session()
    ctx.require_feature(pb.FEATURE_BATCH, *features)
    return session, standard_fixture(session, ctx.case_directory(session), ctx.server_limits())


def _max_bytes(ctx: CaseContext) -> int:
    return ctx.server_limits().max_chunk_size


def _stored_in_model(fixture: Fixture, files: list[tuple[str, bytes]]) -> None:
    for relative, content in files:
        fixture.model.add_file(relative, content)


def _upload_big(fixture: Fixture, relative: str, content: bytes, limits: pb.SessionOpened) -> None:
    """Upload a big file in big chunks, pipelined, for the cases of sizes (set-up)."""
    parent, _, name = relative.rpartition("/")
    upload = Upload(fixture.session, fixture.remote(parent), name, content, big_chunk_size(limits))
    upload.start(f"set-up: upload {relative} of {len(content)} bytes")
    fixture.session.pipeline(upload.pipelined(f"set-up: upload {relative}"))
    fixture.model.add_file(relative, content)


# -- 4.17 UPLOAD_FILES -----------------------------------------------------------------------


@CASES.define(
    "4.17/1",
    "UPLOAD_FILES of files of several sizes into several directories, some with a time",
    "every file is stored whole under its name, with the modification time sent with it, "
    "and has its own result, in the order of the request (4.17)",
    "ACCEPTED FILES_UPLOADED, TRANSFER_COMPLETED for each; the files listed and downloaded",
)
def _upload_batch(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    chunk = fixture.chunk_size
    big = min(64 * 1024, _max_bytes(ctx) // 4)
    files = [
        ("batch-a.bin", content_of(multi_chunk_size(chunk), "batch-a"), 0),
        ("batch-empty.bin", b"", PAST_TIME_NS),
        ("sub/one-byte.bin", b"\x00", PAST_TIME_NS + 1),
        ("emptydir/one-chunk.bin", content_of(chunk, "one chunk"), 0),
        ("text.txt", b"a line of text\n" * 200, PAST_TIME_NS + 2),
        ("nom ünïcode é.bin", content_of(77, "unicode"), 0),
        ("big.bin", content_of(big, "big"), PAST_TIME_NS + 3),
    ]
    entries = [
        batch_entry(fixture, relative, content, modification_time_ns=time_ns)
        for relative, content, time_ns in files
    ]
    upload_batch(session, entries, [stored() for _ in entries], f"a batch of {len(files)} files")
    _stored_in_model(fixture, [(relative, content) for relative, content, _ in files])
    check_tree(fixture, "every file of the batch is stored whole")
    check_times(
        fixture,
        {relative: time_ns for relative, _, time_ns in files if time_ns},
        "the times sent are the files'",
        "a file of a batch has the modification time sent with it (4.17)",
    )
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.17/2",
    "UPLOAD_FILES with every digest algorithm announced and UNSPECIFIED; a digest of another "
    "algorithm",
    "every digest is of the request's algorithm, UNSPECIFIED meaning SHA256; the answer names "
    "the algorithm in force; a digest of other bytes or another algorithm is DIGEST_MISMATCH "
    "(4.17, 7.2)",
    "TRANSFER_COMPLETED for the right digests, DIGEST_MISMATCH for the others",
)
def _upload_digests(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    algorithms = [pb.DIGEST_ALGORITHM_UNSPECIFIED, *ctx.server_limits().digest_algorithms]
    for index, algorithm in enumerate(algorithms):
        label = algorithm_name(algorithm) if algorithm else "UNSPECIFIED (SHA256)"
        content = content_of(300 + index, f"digest {index}")
        others = [other for other in algorithms if other not in (0, algorithm)]
        entries = [
            batch_entry(fixture, f"digest-{index}.bin", content),
            batch_entry(fixture, f"digest-{index}-empty.bin", b""),
            batch_entry(
                fixture,
                f"digest-{index}-wrong.bin",
                content,
                digest=digest_value(content + b"!", algorithm),
            ),
        ]
        outcomes = [stored(), stored(), refused_file("DIGEST_MISMATCH")]
        if others:
            entries.append(
                batch_entry(
                    fixture,
                    f"digest-{index}-other.bin",
                    content,
                    digest=digest_value(content, others[0]),
                )
            )
            outcomes.append(refused_file("DIGEST_MISMATCH"))
        upload_batch(session, entries, outcomes, f"a batch with {label}", algorithm=algorithm)
        _stored_in_model(
            fixture, [(f"digest-{index}.bin", content), (f"digest-{index}-empty.bin", b"")]
        )
    check_tree(fixture, "the files with the right digests are stored, the others are not")
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.17/3",
    "UPLOAD_FILES of good files between files refused for their name, digest, directory and "
    "a taken name",
    "each file is judged on its own: a file that fails changes nothing, and the others are "
    "stored regardless, each result in the order of the request (4.17: a batch is not a "
    "transaction)",
    "INVALID_FILE_NAME, DIGEST_MISMATCH, FILE_NOT_FOUND, NOT_A_DIRECTORY, FILE_ALREADY_EXISTS "
    "where they fall; TRANSFER_COMPLETED for the good files",
)
def _upload_refusals(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    remote = fixture.remote
    content = content_of(200, "refused")
    good = [("first.bin", content_of(10, "first")), ("sub/middle.bin", content_of(20, "mid"))]
    entries: list[BatchEntry] = [batch_entry(fixture, good[0][0], good[0][1])]
    outcomes: list[FileOutcome] = [stored()]
    for _, name in INVALID_NAMES:
        entries.append(BatchEntry(fixture.path, name, content))
        outcomes.append(refused_file("INVALID_FILE_NAME"))
    entries.append(batch_entry(fixture, "mismatch.bin", content, digest=digest_value(b"", 0)))
    outcomes.append(refused_file("DIGEST_MISMATCH"))
    entries.append(batch_entry(fixture, good[1][0], good[1][1]))
    outcomes.append(stored())
    for directory, reason in (
        (remote("missing"), "FILE_NOT_FOUND"),
        (remote("missing/deeper"), "FILE_NOT_FOUND"),
        (remote(f"{DATA_FILE}/below"), "FILE_NOT_FOUND"),
        (remote(DATA_FILE), "NOT_A_DIRECTORY"),
        (remote("empty.txt"), "NOT_A_DIRECTORY"),
    ):
        entries.append(BatchEntry(directory, "new.bin", content))
        outcomes.append(refused_file(reason))
    for relative in (DATA_FILE, "empty.txt", "sub", "emptydir", "sub/inner.txt"):
        entries.append(batch_entry(fixture, relative, content))
        outcomes.append(refused_file(TAKEN))
    good.append(("emptydir/last.bin", b""))
    entries.append(batch_entry(fixture, good[2][0], good[2][1]))
    outcomes.append(stored())
    upload_batch(session, entries, outcomes, f"a batch of {len(entries)} files, most refused")
    _stored_in_model(fixture, good)
    check_tree(fixture, "the good files are stored; every refused one changed nothing")
    check_state(session, State.IDLE, None)


def _over_limit(ctx: CaseContext) -> int | None:
    """A size over file_size_limit that a batch may still carry, or None."""
    limits = ctx.server_limits()
    if limits.file_size_limit >= limits.max_chunk_size:
        return None
    size = limits.file_size_limit + 1
    fits = size + OTHER_FILES_BYTES <= limits.max_chunk_size
    return size if fits and size <= BATCH_BYTES_TRIED else None


@CASES.define(
    "4.17/4",
    "UPLOAD_FILES of files that fail several of the checks of a file at once",
    "each file gets the first check it fails, in the order of 4.17: name, size limit, "
    "digest, directory, taken name",
    "the reason of the first failing check, for each file",
)
def _upload_order(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    remote = fixture.remote
    content = content_of(100, "order")
    wrong = digest_value(content + b"!", 0)
    entries = [
        BatchEntry(remote("missing"), "a/b", content, digest=wrong),
        BatchEntry(remote(DATA_FILE), "..", content),
        BatchEntry(fixture.path, ".remofile-x", content, digest=wrong),
        BatchEntry(remote("missing"), "x.bin", content, digest=wrong),
        BatchEntry(remote(DATA_FILE), "x.bin", content, digest=wrong),
        BatchEntry(fixture.path, DATA_FILE, content, digest=wrong),
        BatchEntry(remote(f"{DATA_FILE}/below"), "inner.txt", content),
        BatchEntry(remote("empty.txt"), "x.bin", content),
    ]
    outcomes = [
        refused_file("INVALID_FILE_NAME"),
        refused_file("INVALID_FILE_NAME"),
        refused_file("INVALID_FILE_NAME"),
        refused_file("DIGEST_MISMATCH"),
        refused_file("DIGEST_MISMATCH"),
        refused_file("DIGEST_MISMATCH"),
        refused_file("FILE_NOT_FOUND"),
        refused_file("NOT_A_DIRECTORY"),
    ]
    size = _over_limit(ctx)
    if size is not None:
        big = content_of(size, "over the limit")
        entries.append(BatchEntry(remote("missing"), "big.bin", big, digest=wrong))
        outcomes.append(refused_file("INCORRECT_FILE_SIZE"))
        if 2 * size + OTHER_FILES_BYTES <= ctx.server_limits().max_chunk_size:
            entries.append(BatchEntry(fixture.path, "..", big))
            outcomes.append(refused_file("INVALID_FILE_NAME"))
    else:
        ctx.transcript.note("file_size_limit is not below max_chunk_size: its check is not tried")
    upload_batch(session, entries, outcomes, "files that each fail several checks")
    check_tree(fixture, "nothing was stored")
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.17/5",
    "UPLOAD_FILES of a file one byte over file_size_limit, between good files",
    "a file over file_size_limit is refused INCORRECT_FILE_SIZE on its own; the others are "
    "stored (4.17 check 2 of a file)",
    "INCORRECT_FILE_SIZE for it, TRANSFER_COMPLETED for the others",
)
def _upload_over_limit(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    size = _over_limit(ctx)
    if size is None:
        ctx.skip(
            "file_size_limit is not below max_chunk_size (or far above what the suite sends): "
            "a file over it is refused with the whole batch (4.17 check 5)"
        )
    limit = size - 1
    room = ctx.server_limits().max_chunk_size - size - 10
    last = ("at-limit.bin", content_of(limit, "at")) if limit <= room else ("after.bin", b"after")
    files = [("before.bin", content_of(10, "before")), last]
    entries = [
        batch_entry(fixture, files[0][0], files[0][1]),
        batch_entry(fixture, "over.bin", content_of(size, "over")),
        batch_entry(fixture, files[1][0], files[1][1]),
    ]
    outcomes = [stored(), refused_file("INCORRECT_FILE_SIZE"), stored()]
    upload_batch(session, entries, outcomes, f"a file of {size} bytes, over the limit {limit}")
    _stored_in_model(fixture, files)
    check_tree(fixture, "the file over the limit is not stored, the others are")
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.17/6",
    "UPLOAD_FILES onto taken names with conflict mode UNSPECIFIED, REFUSE and an undefined one",
    "without REPLACE a taken name is refused FILE_ALREADY_EXISTS and left alone, and free "
    "names in the same batch are stored (4.17 check 5 of a file, 4.5.5 rules 1 and 6)",
    "FILE_ALREADY_EXISTS for the taken names, TRANSFER_COMPLETED for the free ones",
)
def _upload_refusing_modes(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    content = content_of(fixture.chunk_size // 2, "not stored")
    for index, (mode, label) in enumerate(REFUSING_MODES):
        free = (f"free-{index}.bin", content_of(40 + index, label))
        entries = [
            batch_entry(fixture, relative, content)
            for relative in (DATA_FILE, "empty.txt", "sub", "sub/inner.txt")
        ]
        entries.append(batch_entry(fixture, free[0], free[1]))
        outcomes = [refused_file(TAKEN)] * 4 + [stored()]
        upload_batch(
            session, entries, outcomes, f"taken names, conflict mode {label}", conflict_mode=mode
        )
        _stored_in_model(fixture, [free])
    check_tree(fixture, "the taken names hold what they held")
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.17/7",
    "UPLOAD_FILES with REPLACE over files, over directories, to a free name, and with a wrong "
    "digest over a file",
    "REPLACE replaces a file with the new bytes and time, never a directory (NOT_A_FILE); a "
    "replacing file that fails its digest leaves the old file whole (4.17, 4.5.5 rules 2 "
    "and 3)",
    "TRANSFER_COMPLETED, NOT_A_FILE, DIGEST_MISMATCH where they fall; the old files whole",
)
def _upload_replace(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx, pb.FEATURE_REPLACE)
    chunk = fixture.chunk_size
    new = {
        DATA_FILE: content_of(chunk // 3, "shorter"),
        "empty.txt": content_of(multi_chunk_size(chunk), "longer"),
        "sub/inner.txt": b"",
        "free.bin": content_of(chunk + 1, "free"),
    }
    victim = content_of(500, "victim, wrong digest")
    entries = [
        batch_entry(fixture, relative, content, modification_time_ns=PAST_TIME_NS)
        for relative, content in new.items()
    ]
    entries += [
        batch_entry(fixture, "sub", victim),
        batch_entry(fixture, "emptydir", victim),
        batch_entry(fixture, "victim.txt", victim, digest=digest_value(b"", 0)),
    ]
    outcomes = [stored() for _ in new] + [
        refused_file("NOT_A_FILE"),
        refused_file("NOT_A_FILE"),
        refused_file("DIGEST_MISMATCH"),
    ]
    upload_batch(session, entries, outcomes, "a replacing batch", conflict_mode=REPLACE)
    _stored_in_model(fixture, list(new.items()))
    check_tree(fixture, "the files replaced hold their new bytes, the rest is whole")
    check_times(
        fixture,
        dict.fromkeys(new, PAST_TIME_NS),
        "the replaced files have the time sent",
        "a file of a batch has the modification time sent with it (4.17)",
    )
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.17/8",
    "UPLOAD_FILES that break a check of the whole request, good files around the fault",
    "no files or more than 256, a bad directory, sizes and data that do not add up, a digest "
    "that is not 32 bytes, a file_size over max_chunk_size, or more data than max_chunk_size: "
    "ERROR BAD_REQUEST, and nothing of the batch is written (4.17 checks 2, 4 and 5)",
    "ERROR BAD_REQUEST each; the tree unchanged",
)
def _upload_bad_requests(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    limits = ctx.server_limits()
    variants = bad_upload_batches(fixture, limits) + oversize_upload_batch(fixture, limits)
    for what, request, data in variants:
        session.call(request, [bad_request("nothing written")], f"UPLOAD_FILES of {what}", data)
        check_listing(fixture, f"after the batch of {what}, nothing is written", recursive=True)
    check_tree(fixture, "nothing of any batch was written")
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.17/9",
    "UPLOAD_FILES that break several checks of the whole request at once; 256 files",
    "the first failing check of the whole request gives the answer, before any file is "
    "judged: count, then compression, digest algorithm and conflict mode, then paths, then "
    "sizes and data; 256 files is a batch (4.17, section 5)",
    "the answer of the first check that fails; FILES_UPLOADED with 256 results for 256 files",
)
def _upload_whole_order(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    limits = ctx.server_limits()
    compression = unsupported_compression(limits)
    algorithm = unsupported_digest(limits)
    free = content_of(30, "free")
    good = batch_entry(fixture, "good.bin", free)
    short_digest = batch_entry(fixture, "x.bin", free, digest=b"short")
    bad_directory = BatchEntry(fixture.path + "/../x", "x.bin", free)
    many = [batch_entry(fixture, f"m{index:03d}", b"") for index in range(MAX_BATCH_FILES + 1)]
    unsupported = refused("UNSUPPORTED_FEATURE")
    whole = bad_request("nothing written")
    invalid = BatchEntry(fixture.path, "..", free)
    taken = batch_entry(fixture, DATA_FILE, free)
    for what, entries, answer, request_compression, request_algorithm in (
        ("no files and an unannounced compression", [], whole, compression, 0),
        ("257 files and an unannounced digest algorithm", many, whole, 0, algorithm),
        (
            "a bad directory and an unannounced compression",
            [bad_directory],
            unsupported,
            compression,
            0,
        ),
        ("a short digest and digest algorithm 99", [short_digest], unsupported, 0, 99),
        ("an invalid name and a digest of 5 bytes", [invalid, good, short_digest], whole, 0, 0),
        ("a taken name and a bad directory", [taken, bad_directory], whole, 0, 0),
    ):
        request, data = upload_request(entries, request_compression, request_algorithm)
        session.call(request, [answer], f"UPLOAD_FILES with {what}", data)
    if pb.FEATURE_REPLACE not in limits.features:
        request, data = upload_request([bad_directory], conflict_mode=REPLACE)
        session.call(request, [unsupported], "REPLACE, not announced, and a bad directory", data)
    check_tree(fixture, "nothing of any batch was written")
    # The most a batch holds: one file stored, the others refused for their names, which
    # costs the server no write (a batch of 256 writes can outlast a short session).
    invalid_names = [name for _, name in INVALID_NAMES]
    entries = [batch_entry(fixture, "emptydir/the-one.bin", free)]
    entries += [
        BatchEntry(fixture.path, invalid_names[index % len(invalid_names)], b"")
        for index in range(MAX_BATCH_FILES - 1)
    ]
    upload_batch(
        session,
        entries,
        [stored()] + [refused_file("INVALID_FILE_NAME")] * (MAX_BATCH_FILES - 1),
        f"a batch of {MAX_BATCH_FILES} files, the most a batch holds",
    )
    fixture.model.add_file("emptydir/the-one.bin", free)
    check_listing(fixture, "the one good file is listed", "emptydir")
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.17/10",
    "UPLOAD_FILES compressed with each compression announced, and with NONE and UNSPECIFIED",
    "each file is encoded on its own as one chunk is; encoded_size counts encoded bytes, "
    "file_size and digests the file's; the answer names the compression in force, NONE for "
    "UNSPECIFIED (4.17, 7.3)",
    "TRANSFER_COMPLETED for each; the files stored intact",
)
def _upload_compressed(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    chunk = fixture.chunk_size
    compressions = [
        pb.COMPRESSION_UNSPECIFIED,
        pb.COMPRESSION_NONE,
        *compressions_to_try(ctx.server_limits()),
    ]
    for compression in compressions:
        label = compression_label(compression)
        files = [
            (f"{label}-random.bin", content_of(multi_chunk_size(chunk), label)),
            (f"{label}-text.txt", b"compressible text " * (chunk // 6)),
            (f"{label}-empty.bin", b""),
            (f"sub/{label}-byte.bin", b"z"),
        ]
        entries = [batch_entry(fixture, relative, content) for relative, content in files]
        upload_batch(
            session,
            entries,
            [stored() for _ in entries],
            f"a batch with {label}",
            compression=compression,
        )
        _stored_in_model(fixture, files)
    check_tree(fixture, "every file is stored with its uncompressed bytes")
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.17/11",
    "compressed UPLOAD_FILES whose data does not decode to exactly each file",
    "data that is not a stream, a stream that inflates to more or fewer bytes than the file, "
    "a stream followed by extra bytes, an empty encoding: ERROR BAD_REQUEST, nothing "
    "written (4.17 check 5, 7.3.3)",
    "ERROR BAD_REQUEST each; the tree unchanged",
)
def _upload_undecodable(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    compressions = compressions_to_try(ctx.server_limits())
    if not compressions:
        ctx.skip("the server announces no compression the suite can encode (7.3)")
    content = content_of(fixture.chunk_size, "undecodable")
    for compression in compressions:
        label = compression_label(compression)
        good = batch_entry(
            fixture, f"{label}-good.bin", content, encoded=encode(content, compression)
        )
        for what, size, encoded in (
            ("bytes that are not a stream", len(content), b"not a compressed stream at all"),
            ("a stream one byte too long", len(content), encode(content + b"!", compression)),
            ("a stream one byte too short", len(content), encode(content[:-1], compression)),
            ("a stream followed by extra bytes", len(content), encode(content, compression) + b"x"),
            ("an empty encoding of an empty file", 0, b""),
            ("a stream of a mebibyte of zeros", 10, encode(bytes(1 << 20), compression)),
        ):
            bad = batch_entry(fixture, "bad.bin", content[:size], encoded=encoded)
            request, data = upload_request([good, bad], compression)
            session.call(request, [bad_request("nothing written")], f"{label}: {what}", data)
            check_listing(fixture, f"after {label}: {what}, nothing is written", recursive=True)
    check_tree(fixture, "nothing of any batch was written")
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.17/12",
    "UPLOAD_FILES of a file whose UPLOAD_FILE was interrupted, then that upload resumed",
    "staged data of an interrupted upload of the same destination is discarded, as by a new "
    "UPLOAD_FILE (4.17, 7.1)",
    "the batch stores the file; a resume of the old upload starts from 0",
)
def _upload_discards_staged(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    chunk = fixture.chunk_size
    old = content_of(4 * chunk, "interrupted")
    upload = Upload(session, fixture.path, "staged.bin", old, chunk)
    upload.start("start an upload of staged.bin, four chunks")
    upload.send_next("send its first chunk")
    upload.send_next("send its second chunk")
    session.goodbye("interrupt the upload with GOODBYE: its chunks stay staged (7.1)")
    fixture.session = upload.session = session = ctx.open_session()
    new = content_of(chunk // 2, "the batch's")
    upload_batch(session, [batch_entry(fixture, "staged.bin", new)], [stored()], "the batch")
    fixture.model.add_file("staged.bin", new)
    check_content(fixture, "staged.bin", "staged.bin holds the batch's bytes")
    session.call(
        messages.remove_file(fixture.remote("staged.bin")),
        [accepted("FILE_REMOVED")],
        "remove staged.bin, so the old upload can be resumed",
    )
    fixture.model.remove("staged.bin")
    upload.start("resume the old upload: its staged data is gone", resume=True, staged=0)
    session.call(messages.cancel_transfer(), [accepted("TRANSFER_CANCELLED")], "cancel it")
    check_tree(fixture, "staged.bin is gone")
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.17/13",
    "UPLOAD_FILES naming the same destination twice, without and with REPLACE",
    "files of a batch are stored in the order of the request: without REPLACE the earlier "
    "takes the name and the later is refused FILE_ALREADY_EXISTS; with REPLACE both are "
    "stored and the later wins (4.17)",
    "TRANSFER_COMPLETED then FILE_ALREADY_EXISTS, the first file's bytes; then two "
    "TRANSFER_COMPLETED and the second file's bytes",
)
def _upload_same_name_twice(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    first, second = content_of(100, "first"), content_of(120, "second")
    entries = [batch_entry(fixture, "twice.bin", first), batch_entry(fixture, "twice.bin", second)]
    upload_batch(session, entries, [stored(), FileOutcome((TAKEN,))], "twice.bin twice, in order")
    fixture.model.add_file("twice.bin", first)
    check_content(fixture, "twice.bin", "twice.bin holds the earlier file")
    if ctx.has_feature(pb.FEATURE_REPLACE):
        upload_batch(
            session,
            [batch_entry(fixture, "again.bin", first), batch_entry(fixture, "again.bin", second)],
            [stored(), stored()],
            "again.bin twice, with REPLACE",
            conflict_mode=REPLACE,
        )
        fixture.model.add_file("again.bin", second)
        check_content(fixture, "again.bin", "again.bin holds the later file")
    check_tree(fixture, "one file of each name")
    check_state(session, State.IDLE, None)


# -- 4.18 DOWNLOAD_FILES ---------------------------------------------------------------------


def _times(fixture: Fixture, step: str) -> dict[str, int]:
    """The modification time of every entry below the fixture, by relative path."""
    return {
        name: entry.modification_time_ns
        for name, entry in listed(fixture.session, fixture.path, step).items()
    }


@CASES.define(
    "4.18/1",
    "DOWNLOAD_FILES of files of several sizes, one twice, with every digest algorithm "
    "announced and UNSPECIFIED",
    "each file has its size, modification time, digest (of the batch's algorithm) and "
    "encoded size; the data frame holds the files one after another in the order of the "
    "paths, with nothing between them (4.18, 7.2)",
    "ACCEPTED FILES_DOWNLOADED, TRANSFER_COMPLETED for each; the bytes of each file in order",
)
def _download_batch(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    chunk = fixture.chunk_size
    fixture.upload("one-byte.bin", b"\xff", PAST_TIME_NS)
    fixture.upload("one-chunk.bin", content_of(chunk, "one chunk"))
    fixture.upload("sub/text.txt", b"line of text\n" * 300)
    times = _times(fixture, "read the files' modification times")
    names = [DATA_FILE, "empty.txt", "one-byte.bin", "sub/inner.txt", "one-chunk.bin"]
    names += ["sub/text.txt", DATA_FILE]
    outcomes = [sent(fixture.model.content(name), times[name]) for name in names]
    paths = [fixture.remote(name) for name in names]
    for algorithm in [pb.DIGEST_ALGORITHM_UNSPECIFIED, *ctx.server_limits().digest_algorithms]:
        label = algorithm_name(algorithm) if algorithm else "UNSPECIFIED (SHA256)"
        download_batch(
            session,
            paths,
            outcomes,
            f"a batch of {len(paths)} files with {label}",
            _max_bytes(ctx),
            algorithm=algorithm,
        )
    check_tree(fixture, "downloading changed nothing")
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.18/2",
    "DOWNLOAD_FILES of good files between paths that do not exist or are not files",
    "each path is judged on its own: FILE_NOT_FOUND for what does not exist (an ancestor "
    "that is a file included, 4.5.3), NOT_A_FILE for a directory; the files that pass are "
    "sent, and only they take room in the data frame (4.18)",
    "FILE_NOT_FOUND, NOT_A_FILE where they fall; the good files sent in order",
)
def _download_refusals(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    remote = fixture.remote
    paths: list[str] = []
    outcomes: list[FileOutcome] = []

    def good(name: str) -> None:
        paths.append(remote(name))
        outcomes.append(sent(fixture.model.content(name)))

    def bad(path: str, reason: str) -> None:
        paths.append(path)
        outcomes.append(refused_file(reason))

    good(DATA_FILE)
    bad(remote("missing.bin"), "FILE_NOT_FOUND")
    bad(remote("missing/x.bin"), "FILE_NOT_FOUND")
    good("empty.txt")
    bad(remote(f"{DATA_FILE}/x"), "FILE_NOT_FOUND")
    bad(remote("sub"), "NOT_A_FILE")
    bad(remote("emptydir"), "NOT_A_FILE")
    bad("/", "NOT_A_FILE")
    good("sub/inner.txt")
    bad(remote("sub/missing.txt"), "FILE_NOT_FOUND")
    download_batch(session, paths, outcomes, "a batch of files, most refused", _max_bytes(ctx))
    check_state(session, State.IDLE, None)


def _sizes_testable(ctx: CaseContext) -> None:
    limits = ctx.server_limits()
    if limits.max_chunk_size > BATCH_BYTES_TRIED:
        ctx.skip(
            f"max_chunk_size is {limits.max_chunk_size} bytes: the suite does not upload "
            f"files that large (it goes up to {BATCH_BYTES_TRIED})"
        )


@CASES.define(
    "4.18/3",
    "DOWNLOAD_FILES of a file larger than max_chunk_size, and of two files that do not both "
    "fit in one data frame, then a small one",
    "a file larger than max_chunk_size, or whose data does not fit in what is left of the "
    "data frame, is refused INCORRECT_FILE_SIZE; the files after it are still judged, and "
    "the data frame holds at most max_chunk_size bytes (4.18 check 3, section 5)",
    "INCORRECT_FILE_SIZE for the big file and the second half; the others sent",
)
def _download_sizes(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    _sizes_testable(ctx)
    limits = ctx.server_limits()
    maximum = limits.max_chunk_size
    half = maximum // 2 + 1
    big = maximum + 1 <= limits.file_size_limit
    halves = half <= limits.file_size_limit
    if not big and not halves:
        ctx.skip(
            f"file_size_limit {limits.file_size_limit} is below half of max_chunk_size: no "
            "file the suite can store is too large for a batch"
        )
    paths: list[str] = []
    outcomes: list[FileOutcome] = []
    if big:
        _upload_big(fixture, "big.bin", content_of(maximum + 1, "big"), limits)
        paths.append(fixture.remote("big.bin"))
        outcomes.append(refused_file("INCORRECT_FILE_SIZE"))
    if halves:
        for name in ("half-1.bin", "half-2.bin"):
            _upload_big(fixture, name, content_of(half, name), limits)
        paths += [fixture.remote("half-1.bin"), fixture.remote("half-2.bin")]
        outcomes += [sent(fixture.model.content("half-1.bin")), refused_file("INCORRECT_FILE_SIZE")]
    paths.append(fixture.remote("sub/inner.txt"))
    outcomes.append(sent(fixture.model.content("sub/inner.txt")))
    download_batch(session, paths, outcomes, "files too large for one batch", maximum)
    if halves:
        download_batch(
            session,
            [fixture.remote("half-2.bin")],
            [sent(fixture.model.content("half-2.bin"))],
            "the second half alone fits",
            maximum,
        )
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.18/4",
    "DOWNLOAD_FILES that break several checks of the whole request at once; 256 paths",
    "no paths or more than 256 is ERROR BAD_REQUEST before anything else; an unannounced "
    "compression or digest algorithm comes before a bad path; 256 paths is a batch (4.18, "
    "section 5)",
    "the answer of the first check that fails; FILES_DOWNLOADED for 256 paths",
)
def _download_whole_order(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    limits = ctx.server_limits()
    compression = unsupported_compression(limits)
    algorithm = unsupported_digest(limits)
    empty = fixture.remote("empty.txt")
    bad_path = fixture.path + "/../x"
    for what, request, accept in (
        (
            "no paths and an unannounced compression",
            messages.download_files([], compression),
            bad_request(),
        ),
        (
            "257 paths and an unannounced digest algorithm",
            messages.download_files([empty] * (MAX_BATCH_FILES + 1), digest_algorithm=algorithm),
            bad_request(),
        ),
        (
            "a bad path and an unannounced compression",
            messages.download_files([bad_path], compression),
            refused("UNSUPPORTED_FEATURE"),
        ),
        (
            "a missing file and a bad path",
            messages.download_files([fixture.remote("missing"), bad_path]),
            bad_request(),
        ),
    ):
        session.call(request, [accept], f"DOWNLOAD_FILES with {what}")
    download_batch(
        session,
        [empty] * MAX_BATCH_FILES,
        [sent(b"") for _ in range(MAX_BATCH_FILES)],
        f"a batch of {MAX_BATCH_FILES} paths, the most a batch names",
        _max_bytes(ctx),
    )
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.18/5",
    "DOWNLOAD_FILES compressed with each compression announced, and with NONE",
    "each file is encoded on its own as one chunk is, encoded_size counting its encoded "
    "bytes; file_size and the digest are of the file (4.18, 7.3)",
    "TRANSFER_COMPLETED for each; each file's data one complete stream of its bytes",
)
def _download_compressed(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    fixture.upload("text.txt", b"compressible text " * (fixture.chunk_size // 6))
    names = [DATA_FILE, "empty.txt", "text.txt", "sub/inner.txt"]
    outcomes = [sent(fixture.model.content(name)) for name in names]
    paths = [fixture.remote(name) for name in names]
    for compression in [pb.COMPRESSION_NONE, *compressions_to_try(ctx.server_limits())]:
        download_batch(
            session,
            paths,
            outcomes,
            f"a batch with {compression_label(compression)}",
            _max_bytes(ctx),
            compression=compression,
        )
    check_state(session, State.IDLE, None)


@CASES.define(
    "4.18/6",
    "compressed DOWNLOAD_FILES of a file that fits in the data frame only once encoded",
    "whether a file fits is judged by its encoded data against what is left of the data "
    "frame, not by its size (4.18 check 3)",
    "TRANSFER_COMPLETED for both files",
)
def _download_fits_encoded(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    _sizes_testable(ctx)
    limits = ctx.server_limits()
    compressions = compressions_to_try(limits)
    if not compressions:
        ctx.skip("the server announces no compression the suite can encode (7.3)")
    maximum = limits.max_chunk_size
    if maximum * 3 // 5 > limits.file_size_limit:
        ctx.skip(f"file_size_limit {limits.file_size_limit} is below 3/5 of max_chunk_size")
    random = content_of(maximum * 3 // 5, "incompressible")
    zeros = bytes(maximum // 2)
    _upload_big(fixture, "random.bin", random, limits)
    _upload_big(fixture, "zeros.bin", zeros, limits)
    for compression in compressions:
        download_batch(
            session,
            [fixture.remote("random.bin"), fixture.remote("zeros.bin")],
            [sent(random), sent(zeros)],
            f"{compression_label(compression)}: {len(random)} random bytes, then "
            f"{len(zeros)} zeros that encode to a few KiB",
            maximum,
            compression=compression,
        )
    check_state(session, State.IDLE, None)


# -- 2.2.1, 2.2.2 frames of a batch ------------------------------------------------------------


@CASES.define(
    "2.2.1/3",
    "UPLOAD_FILES without its data frame and with two; a batch of empty files with an empty "
    "data frame",
    "an UPLOAD_FILES request has exactly two frames after the delimiter, its data frame "
    "empty only for a batch of empty files; any other count is ERROR BAD_REQUEST and writes "
    "nothing (2.2.1, 2.2.3)",
    "ERROR BAD_REQUEST, then FILES_UPLOADED",
)
def _upload_frames(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    content = content_of(64, "frames")
    request, data = upload_request([batch_entry(fixture, "frames.bin", content)])
    stamped = session.stamp(request)
    frame = stamped.SerializeToString()
    empty = session.stamp(upload_request([batch_entry(fixture, "frames-empty.bin", b"")])[0])
    for what, frames, decoded in (
        ("UPLOAD_FILES without its data frame", [DELIMITER, frame], stamped),
        ("UPLOAD_FILES with two data frames", [DELIMITER, frame, data, data], stamped),
        (
            "UPLOAD_FILES with its data split in two frames",
            [DELIMITER, frame, data[:10], data[10:]],
            stamped,
        ),
        (
            "UPLOAD_FILES of an empty file without a data frame",
            [DELIMITER, empty.SerializeToString()],
            empty,
        ),
    ):
        session.connection.send_frames(frames, decoded, note=what)
        session.receive(decoded, [bad_request("malformed (2.2.3)")], what)
    check_tree(fixture, "nothing was written")
    upload_batch(
        session,
        [batch_entry(fixture, "frames-empty.bin", b"")],
        [stored()],
        "a batch of one empty file, its data frame empty",
    )
    fixture.model.add_file("frames-empty.bin", b"")
    check_listing(fixture, "the empty file is listed")
    check_state(session, State.IDLE, None)


@CASES.define(
    "2.2.2/1",
    "DOWNLOAD_FILES that sends no file, and one that sends only empty files; the answers to "
    "UPLOAD_FILES and to refused batches",
    "FILES_DOWNLOADED always has exactly one data frame, empty when nothing was sent; every "
    "other answer to a batch has none (2.2.2)",
    "one empty data frame for each FILES_DOWNLOADED; no data frame otherwise",
)
def _download_frames(ctx: CaseContext) -> None:
    session, fixture = _fixture(ctx)
    maximum = _max_bytes(ctx)
    download_batch(
        session,
        [fixture.remote("missing"), fixture.remote("sub")],
        [refused_file("FILE_NOT_FOUND"), refused_file("NOT_A_FILE")],
        "a batch of which no file is sent: one empty data frame",
        maximum,
    )
    download_batch(
        session,
        [fixture.remote("empty.txt"), fixture.remote("victim.txt")],
        [sent(b""), sent(b"")],
        "a batch of two empty files: one empty data frame",
        maximum,
    )
    session.call(
        messages.download_files([fixture.remote(DATA_FILE)], 99),
        [refused("UNSUPPORTED_FEATURE")],
        "a refused DOWNLOAD_FILES has no data frame",
    )
    session.call(
        messages.download_files([]), [bad_request()], "an ERROR to DOWNLOAD_FILES has no data frame"
    )
    upload_batch(
        session,
        [batch_entry(fixture, "frame.bin", b"x")],
        [stored()],
        "FILES_UPLOADED has no data frame",
    )
    fixture.model.add_file("frame.bin", b"x")
    check_listing(fixture, "frame.bin is listed")
    check_state(session, State.IDLE, None)
