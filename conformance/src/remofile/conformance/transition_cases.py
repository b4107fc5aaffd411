"""One case for every row of the transition table (SPEC.md section 4.13).

Each row is (state, request) -> (response, reason, next state). Its case builds the
standard fixture, reaches the state the way a client does, sends requests that must get
exactly that outcome (several variants where the spec names several ways to get it),
checks the payload, that nothing else changed in the tree, and the state afterwards.
Outcomes that only a failing server produces are listed in :data:`UNPROVOKABLE_REASONS`
and skipped, and every illegal pair shares one body (:func:`_illegal`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from remofile.conformance import messages
from remofile.conformance.batches import (
    BatchEntry,
    download_batch,
    sent,
    stored,
    upload_batch,
    upload_request,
)
from remofile.conformance.context import CaseContext
from remofile.conformance.expect import Accept, CaseFailure, accepted, refused
from remofile.conformance.model import Entry, listing_check
from remofile.conformance.scenarios import (
    DATA_FILE,
    Download,
    Fixture,
    Pending,
    Removal,
    Upload,
    check_digest,
    check_gone,
    check_listing,
    check_state,
    check_times,
    check_tree,
    content_of,
    discard_staged,
    listed,
    multi_chunk_size,
    reach,
    standard_fixture,
)
from remofile.conformance.session import Session
from remofile.conformance.spec import MAX_BATCH_FILES, has_reserved_prefix, reason_name
from remofile.conformance.wire import Reply
from remofile.core.digests import algorithm_name
from remofile.core.transitions import ILLEGAL_SECTION, Outcome, RequestKind, Rule, State
from remofile.v1 import remofile_pb2 as pb

#: Reasons no correct request can bring about: the server failed, or its storage is in
#: a state that only someone with access to its machine can make (a full disk, an entry
#: that cannot be removed).
UNPROVOKABLE_REASONS = frozenset(
    {
        pb.REASON_UNKNOWN_ERROR,
        pb.REASON_INSUFFICIENT_STORAGE,
        pb.REASON_REMOVAL_INCOMPLETE,
    }
)

#: Outcomes of one request that no client can bring about, although their reason can be
#: provoked elsewhere: only someone on the server's machine can take an upload's name
#: while the server is in UPLOAD, since no other request is allowed then (4.9.2).
UNPROVOKABLE_OUTCOMES = frozenset({(RequestKind.SEND_CHUNK, pb.REASON_FILE_ALREADY_EXISTS)})


def is_unprovokable(rule: Rule, outcome: Outcome) -> bool:
    """Whether no request sent through the wire can bring ``outcome`` about."""
    return (
        outcome.reason in UNPROVOKABLE_REASONS
        or (rule.kind, outcome.reason) in UNPROVOKABLE_OUTCOMES
    )


#: Entries of the tree removed to see ENTRIES_REMOVED: more than one batch (4.11.2).
BIG_TREE_FILES = 1001

#: Largest uint64 and uint32: what a field can hold at most.
UINT64_MAX = (1 << 64) - 1
UINT32_MAX = (1 << 32) - 1

Body = Callable[[CaseContext], None]


@dataclass
class Row:
    """A running case of one row: its session, its fixture and the outcome it pins."""

    ctx: CaseContext
    rule: Rule
    outcome: Outcome
    session: Session
    fixture: Fixture

    @property
    def limits(self) -> pb.SessionOpened:
        return self.ctx.server_limits()

    @property
    def accept(self) -> Accept:
        """The outcome of the row as an acceptable reply, without payload checks."""
        return Accept(self.outcome.response_type, self.outcome.reason)

    def step(self, what: str) -> str:
        return f"{self.rule.kind.name} in {self.rule.state.name}: {what}"


#: The feature a server announces when it has a request of protocol 1.1 (8.5).
FEATURE_OF_KIND: dict[RequestKind, int] = {
    RequestKind.MOVE_FILE: pb.FEATURE_MOVE,
    RequestKind.COPY_FILE: pb.FEATURE_COPY,
    RequestKind.FILE_DIGEST: pb.FEATURE_FILE_DIGEST,
    RequestKind.UPLOAD_FILES: pb.FEATURE_BATCH,
    RequestKind.DOWNLOAD_FILES: pb.FEATURE_BATCH,
}


def required_features(rule: Rule, outcome: Outcome) -> tuple[int, ...]:
    """The features (8.5) a row needs: a request or a mode of protocol 1.1 or 1.2.

    Illegal pairs need none: a server that does not know the request answers it ERROR
    BAD_REQUEST and changes nothing (2.2.3/3), which is what the row expects anyway.
    """
    if rule.section == ILLEGAL_SECTION:
        return ()
    if rule.kind in FEATURE_OF_KIND:
        return (FEATURE_OF_KIND[rule.kind],)
    if rule.kind is RequestKind.UPLOAD_FILE and outcome.reason == pb.REASON_NOT_A_FILE:
        return (pb.FEATURE_REPLACE,)
    return ()


def _row(ctx: CaseContext, rule: Rule, outcome: Outcome) -> Row:
    session = ctx.open_session()
    ctx.require_feature(*required_features(rule, outcome))
    path = ctx.case_directory(session)
    fixture = standard_fixture(session, path, ctx.server_limits())
    return Row(ctx, rule, outcome, session, fixture)


# -- requests that must be refused, or are in error, and change nothing ---------------------

#: (what the variant is, the request, its data frame) for a row.
Variants = list[tuple[str, pb.Request, bytes | None]]


def _refusal(
    make_variants: Callable[[Row], Variants], whole_tree: bool = False
) -> Callable[[Row], None]:
    """A row whose every variant gets the row's outcome and changes nothing.

    :param whole_tree: check every entry below the fixture and every file's bytes, not
        only the listing of its top (for requests that write where they are told).
    """

    def provoke(row: Row) -> None:
        variants = make_variants(row)
        pending = reach(row.fixture, row.rule.state)
        for what, request, data in variants:
            row.session.call(request, [row.accept], row.step(what), data)
        if whole_tree:
            check_tree(row.fixture, "the tree is unchanged")
        else:
            check_listing(row.fixture, "the tree is unchanged")
        check_state(row.session, row.outcome.next_state, pending)

    return provoke


def _bad_paths(fixture: Fixture) -> list[tuple[str, str]]:
    """Paths that break section 4.5.1 but would name the fixture if resolved."""
    top = fixture.path.rsplit("/", 1)[1]
    return [
        ("a relative path", fixture.path.lstrip("/")),
        ("an empty path", ""),
        ("a path holding '..'", f"{fixture.path}/../{top}"),
        ("a path holding NUL", f"{fixture.path}\x00"),
        *_long_and_reserved_paths(fixture.path),
    ]


def _long_and_reserved_paths(path: str) -> list[tuple[str, str]]:
    """Paths that break rules 5 and 6 of section 4.5.1: every fault of the BAD_REQUEST
    rows of the table, not only the first four."""
    return [
        # Empty components are ignored, so this names ``path``, but it is too long as sent.
        ("a path of 4097 bytes", path + "/" * (4097 - len(path.encode("utf-8")))),
        ("a path with a component of 256 bytes", f"{path}/{'c' * 256}"),
        ("a path through the reserved prefix", f"{path}/.Remofile-staging"),
    ]


#: Names that break one rule of section 4.4 each (C1 controls and letter case: 4.4/n).
INVALID_NAMES: tuple[tuple[str, str], ...] = (
    ("an empty name", ""),
    ("'.'", "."),
    ("'..'", ".."),
    *((f"a name holding {character!r}", f"a{character}b") for character in "<>:/\\|?*"),
    ("a name holding a C0 control character", "a\x01b"),
    ("a name holding DEL", "a\x7fb"),
    ("a name of 256 bytes", "n" * 256),
    ("a name with the reserved prefix", ".remofile-new"),
)


def _missing_directories(fixture: Fixture) -> list[tuple[str, str]]:
    return [
        ("a directory that does not exist", fixture.remote("missing")),
        ("a directory whose parent does not exist", fixture.remote("missing/deeper")),
        ("a directory below a file (4.5.3)", fixture.remote(f"{DATA_FILE}/below")),
    ]


def _files_as_directories(fixture: Fixture) -> list[tuple[str, str]]:
    return [
        ("a file as the directory", fixture.remote(DATA_FILE)),
        ("an empty file as the directory", fixture.remote("empty.txt")),
    ]


def _taken_names(fixture: Fixture) -> list[tuple[str, str, str]]:
    return [
        ("the name of a file", fixture.path, DATA_FILE),
        ("the name of an empty file", fixture.path, "empty.txt"),
        ("the name of a directory", fixture.path, "sub"),
        ("the name of a file in a sub-directory", fixture.remote("sub"), "inner.txt"),
    ]


NewEntry = Callable[[Row, str, str], pb.Request]


def _create_like(kind: RequestKind) -> NewEntry:
    """How to ask for a new entry ``name`` in ``directory`` with a request of ``kind``."""

    def build(row: Row, directory: str, name: str) -> pb.Request:
        if kind is RequestKind.CREATE_FILE:
            return messages.create_file(directory, name)
        if kind is RequestKind.MAKE_DIRECTORY:
            return messages.make_directory(directory, name)
        return messages.upload_file(directory, name, 10, row.fixture.chunk_size)

    return build


def _new_entry_refusals(kind: RequestKind) -> dict[str, Callable[[Row], Variants]]:
    """The refusals CREATE_FILE, MAKE_DIRECTORY and UPLOAD_FILE share (4.7, 4.8, 4.9.1)."""
    build = _create_like(kind)

    def invalid(row: Row) -> Variants:
        return [(what, build(row, row.fixture.path, name), None) for what, name in INVALID_NAMES]

    def missing(row: Row) -> Variants:
        return [
            (what, build(row, path, "new"), None)
            for what, path in _missing_directories(row.fixture)
        ]

    def not_directory(row: Row) -> Variants:
        return [
            (what, build(row, path, "new"), None)
            for what, path in _files_as_directories(row.fixture)
        ]

    def taken(row: Row) -> Variants:
        variants: Variants = [
            (what, build(row, directory, name), None)
            for what, directory, name in _taken_names(row.fixture)
        ]
        if kind is RequestKind.UPLOAD_FILE:
            for mode, label in _REFUSING_MODES[1:]:
                request = build(row, row.fixture.path, DATA_FILE)
                request.upload_file.conflict_mode = mode  # type: ignore[assignment]
                variants.append(
                    (f"the name of a file, conflict mode {label} (4.5.5)", request, None)
                )
        return variants

    def bad(row: Row) -> Variants:
        return [(what, build(row, path, "new"), None) for what, path in _bad_paths(row.fixture)]

    return {
        "INVALID_FILE_NAME": invalid,
        "FILE_NOT_FOUND": missing,
        "NOT_A_DIRECTORY": not_directory,
        "FILE_ALREADY_EXISTS": taken,
        "BAD_REQUEST": bad,
    }


#: Conflict modes that refuse a taken name (4.5.5 rules 1 and 6), with their names.
_REFUSING_MODES: tuple[tuple[int, str], ...] = (
    (pb.CONFLICT_MODE_UNSPECIFIED, "UNSPECIFIED"),
    (pb.CONFLICT_MODE_REFUSE, "REFUSE"),
    (7, "7, which this version does not define"),
)

_REPLACE = pb.CONFLICT_MODE_REPLACE


def _upload_replaces_directory(row: Row) -> Variants:
    """UPLOAD_FILE with REPLACE of a name a directory has (4.5.5 rule 2, 4.9.1 check 4)."""
    fixture, chunk = row.fixture, row.fixture.chunk_size
    variants: Variants = [
        (
            f"REPLACE of the {what}",
            messages.upload_file(fixture.path, name, 10, chunk, conflict_mode=_REPLACE),
            None,
        )
        for what, name in (
            ("directory sub, which holds a file", "sub"),
            ("empty directory", "emptydir"),
        )
    ]
    variants.append(
        (
            "REPLACE of a directory, resuming",
            messages.upload_file(fixture.path, "sub", 10, chunk, True, conflict_mode=_REPLACE),
            None,
        )
    )
    limit = row.limits.file_size_limit
    if limit < UINT64_MAX:
        variants.append(
            (
                "REPLACE of a directory by a file over the size limit: the name is checked first",
                messages.upload_file(fixture.path, "sub", limit + 1, chunk, conflict_mode=_REPLACE),
                None,
            )
        )
    return variants


def unsupported_compression(limits: pb.SessionOpened) -> int:
    """A compression the server does not announce; a value v1 does not define if none."""
    for value in pb.Compression.values():
        if value != pb.COMPRESSION_UNSPECIFIED and value not in limits.compressions:
            return value
    return 99


def _chunk_sizes_out_of_range(limits: pb.SessionOpened) -> list[tuple[str, int]]:
    sizes = [("chunk size 0", 0)]
    if limits.min_chunk_size > 1:
        sizes.append(
            (
                f"chunk size {limits.min_chunk_size - 1}, below the minimum",
                limits.min_chunk_size - 1,
            )
        )
    if limits.max_chunk_size < UINT32_MAX:
        sizes.append(
            (
                f"chunk size {limits.max_chunk_size + 1}, above the maximum",
                limits.max_chunk_size + 1,
            )
        )
    return sizes


def _upload_too_large(row: Row) -> Variants:
    limit = row.limits.file_size_limit
    if limit >= UINT64_MAX:
        row.ctx.skip("the file size limit is the largest size a request can carry")
    variants: Variants = [
        (
            f"file size {limit + 1}, one byte over the limit",
            messages.upload_file(row.fixture.path, "big.bin", limit + 1, row.fixture.chunk_size),
            None,
        )
    ]
    if limit + 1 < UINT64_MAX:
        variants.append(
            (
                "the largest file size",
                messages.upload_file(
                    row.fixture.path, "big.bin", UINT64_MAX, row.fixture.chunk_size
                ),
                None,
            )
        )
    return variants


def _upload_bad_chunk_size(row: Row) -> Variants:
    variants: Variants = [
        (what, messages.upload_file(row.fixture.path, "new.bin", 10, size), None)
        for what, size in _chunk_sizes_out_of_range(row.limits)
    ]
    # An empty file's chunk size is checked like any other (4.9.1, chunk_size).
    variants.append(
        ("an empty file with chunk size 0", messages.upload_file(row.fixture.path, "e", 0, 0), None)
    )
    return variants


def unsupported_digest(limits: pb.SessionOpened) -> int:
    """A digest algorithm the server does not announce; a value v1 does not define if none."""
    for value in pb.DigestAlgorithm.values():
        if value != pb.DIGEST_ALGORITHM_UNSPECIFIED and value not in limits.digest_algorithms:
            return value
    return 99


def _upload_unsupported(row: Row) -> Variants:
    value = unsupported_compression(row.limits)
    digest = unsupported_digest(row.limits)
    path, size = row.fixture.path, row.fixture.chunk_size
    return [
        (
            f"compression {value}, which the server does not announce",
            messages.upload_file(path, "new.bin", 10, size, compression=value),
            None,
        ),
        (
            f"digest algorithm {digest}, which the server does not announce",
            messages.upload_file(path, "new.bin", 10, size, digest_algorithm=digest),
            None,
        ),
    ]


def _download(row: Row, path: str, **fields: int) -> pb.Request:
    return messages.download_file(path, fields.pop("chunk_size", row.fixture.chunk_size), **fields)


def _download_missing(row: Row) -> Variants:
    fixture = row.fixture
    return [
        ("a file that does not exist", _download(row, fixture.remote("missing.bin")), None),
        (
            "a file whose parent does not exist",
            _download(row, fixture.remote("missing/x.bin")),
            None,
        ),
        ("a path below a file (4.5.3)", _download(row, fixture.remote(f"{DATA_FILE}/x")), None),
    ]


def _download_not_file(row: Row) -> Variants:
    return [
        ("a directory", _download(row, row.fixture.remote("sub")), None),
        ("an empty directory", _download(row, row.fixture.remote("emptydir")), None),
    ]


def _download_bad_offset(row: Row) -> Variants:
    size = len(row.fixture.model.content(DATA_FILE))
    path = row.fixture.remote(DATA_FILE)
    return [
        (
            f"offset {size + 1}, past the end of a file of {size} bytes",
            _download(row, path, offset=size + 1),
            None,
        ),
        ("an offset far past the end", _download(row, path, offset=1 << 40), None),
        (
            "offset 1 in an empty file",
            _download(row, row.fixture.remote("empty.txt"), offset=1),
            None,
        ),
    ]


def _download_bad_chunk_size(row: Row) -> Variants:
    path = row.fixture.remote(DATA_FILE)
    return [
        (what, _download(row, path, chunk_size=size), None)
        for what, size in _chunk_sizes_out_of_range(row.limits)
    ]


def _download_unsupported(row: Row) -> Variants:
    value = unsupported_compression(row.limits)
    digest = unsupported_digest(row.limits)
    path = row.fixture.remote(DATA_FILE)
    return [
        (
            f"compression {value}, which the server does not announce",
            _download(row, path, compression=value),
            None,
        ),
        (
            f"digest algorithm {digest}, which the server does not announce",
            _download(row, path, digest_algorithm=digest),
            None,
        ),
    ]


def _download_bad_path(row: Row) -> Variants:
    return [(what, _download(row, path), None) for what, path in _bad_paths(row.fixture)]


def _remove_missing(row: Row) -> Variants:
    fixture = row.fixture
    return [
        ("a path that does not exist", messages.remove_file(fixture.remote("missing")), None),
        (
            "a path whose parent does not exist",
            messages.remove_file(fixture.remote("missing/x")),
            None,
        ),
        (
            "a path below a file (4.5.3)",
            messages.remove_file(fixture.remote(f"{DATA_FILE}/x")),
            None,
        ),
    ]


def _remove_bad_path(row: Row) -> Variants:
    fixture = row.fixture
    victim = fixture.remote("victim.txt")
    variants: Variants = [
        ("a relative path", messages.remove_file(victim.lstrip("/")), None),
        ("a path holding '..'", messages.remove_file(fixture.remote("sub/../victim.txt")), None),
        ("a path holding NUL", messages.remove_file(victim + "\x00"), None),
        ("an empty path", messages.remove_file(""), None),
        *[
            (what, messages.remove_file(path), None)
            for what, path in _long_and_reserved_paths(victim)
        ],
    ]
    if row.ctx.target.allow_root_removal:
        variants += [
            ("the root '/'", messages.remove_file("/"), None),
            ("the root written '//./'", messages.remove_file("//./"), None),
        ]
    return variants


def _list_variants(paths: Callable[[Fixture], list[tuple[str, str]]]) -> Callable[[Row], Variants]:
    def make(row: Row) -> Variants:
        return [(what, messages.list_files(path), None) for what, path in paths(row.fixture)]

    return make


# -- outcomes that change something ------------------------------------------------------


def _list_files_listed(row: Row) -> None:
    """FILES_LISTED: exact entries, recursion, paging, order, and the root (4.6)."""
    fixture, session = row.fixture, row.session
    # Names whose order tells code-point order from a case-blind or a per-component
    # sort: 'Z' (U+005A) sorts before 'd', and 'sub.txt' between 'sub' and 'sub/...'
    # because '.' is U+002E and '/' U+002F (4.6.4).
    fixture.create_file("Zed.txt")
    fixture.create_file("sub.txt")
    pending = reach(fixture, row.rule.state)
    model = fixture.model
    for relative, recursive in (("", False), ("", True), ("sub", False), ("emptydir", False)):
        expected = model.listing(relative, recursive)
        session.call(
            fixture.listing_request(relative, recursive),
            [
                accepted(
                    "FILES_LISTED",
                    listing_check(expected),
                    f"exactly {[entry.name for entry in expected]}, sorted",
                )
            ],
            row.step(f"list {'recursively ' if recursive else ''}{fixture.remote(relative)}"),
        )
    everything = model.listing("", recursive=True)
    rest = everything[2:]
    pages: tuple[tuple[str, str, int, list[Entry], bool], ...] = (
        ("the first page of 2 entries", "", 2, everything[:2], True),
        ("the page after it", everything[1].name, 0, rest, False),
        ("the page after the last entry", everything[-1].name, 0, [], False),
        # A page exactly full because the listing ends there is not truncated (4.6.5).
        (
            "the rest, with a limit of exactly its length",
            everything[1].name,
            len(rest),
            rest,
            False,
        ),
        (
            "the rest, with a limit one short of it",
            everything[1].name,
            len(rest) - 1,
            rest[:-1],
            True,
        ),
        ("everything, with a limit above 65536", "", 70_000, everything, False),
    )
    for what, start_after, limit, expected, truncated in pages:
        session.call(
            messages.list_files(fixture.path, True, start_after, limit),
            [
                accepted(
                    "FILES_LISTED",
                    listing_check(expected, truncated),
                    f"{[entry.name for entry in expected]}, truncated {truncated}",
                )
            ],
            row.step(f"page through a recursive listing: {what}"),
        )
    # The root's entry on the way to the suite's directory (that directory itself, or
    # the one --directory named).
    scratch_name = row.ctx.scratch.strip("/").split("/")[0]

    def root_check(reply: Reply) -> str | None:
        names = {entry.name: entry for entry in reply.response.file_list.entries}
        hidden = [name for name in names if has_reserved_prefix(name)]
        if hidden:
            return f"the listing shows reserved names {hidden} (4.5.4, 4.6)"
        if not reply.response.file_list.truncated and not (
            scratch_name in names and names[scratch_name].is_directory
        ):
            return f"the listing of / lacks the directory {scratch_name}"
        return None

    session.call(
        messages.list_files("/"),
        [accepted("FILES_LISTED", root_check, f"{scratch_name} listed, no reserved name")],
        row.step("list the root /"),
    )
    check_state(session, row.outcome.next_state, pending)


def _create_accepted(kind: RequestKind) -> Callable[[Row], None]:
    """FILE_CREATED, DIRECTORY_CREATED: the entry appears, empty (4.7, 4.8)."""
    reason = "FILE_CREATED" if kind is RequestKind.CREATE_FILE else "DIRECTORY_CREATED"
    build = _create_like(kind)

    def provoke(row: Row) -> None:
        fixture = row.fixture
        for directory, name in (("", "new.txt"), ("", "new name, ünïcode"), ("sub", "in-sub")):
            row.session.call(
                build(row, fixture.remote(directory), name),
                [accepted(reason)],
                row.step(f"create {name!r} in {fixture.remote(directory)}"),
            )
            relative = f"{directory}/{name}" if directory else name
            if kind is RequestKind.CREATE_FILE:
                fixture.model.add_file(relative)
            else:
                fixture.model.add_directory(relative)
        check_listing(fixture, "the new entries are listed")
        check_listing(fixture, "the new entry in sub is listed", "sub")
        if kind is RequestKind.MAKE_DIRECTORY:
            check_listing(fixture, "the new directory is empty", "new.txt")
        check_state(row.session, State.IDLE, None)

    return provoke


def _upload_accepted(row: Row) -> None:
    """TRANSFER_ACCEPTED for an upload: offset 0, the file invisible until complete (4.9.1)."""
    fixture = row.fixture
    content = content_of(multi_chunk_size(fixture.chunk_size), "up.bin")
    upload = Upload(row.session, fixture.path, "up.bin", content, fixture.chunk_size)
    upload.start(row.step("start an upload of 2.5 chunks"))
    check_listing(fixture, "a file being uploaded is not listed (4.9)")
    check_state(row.session, State.UPLOAD, upload)
    row.session.call(
        messages.cancel_transfer(), [accepted("TRANSFER_CANCELLED")], "cancel the upload"
    )
    unspecified = Upload(
        row.session, fixture.path, "up.bin", content, fixture.chunk_size, pb.COMPRESSION_UNSPECIFIED
    )
    unspecified.start(row.step("start an upload with compression UNSPECIFIED, which means NONE"))
    check_state(row.session, State.UPLOAD, unspecified)


def _send_chunk_accepted(row: Row) -> None:
    """CHUNK_ACCEPTED: not the last chunk; the state stays UPLOAD (4.9.2)."""
    upload = reach(row.fixture, State.UPLOAD)
    assert isinstance(upload, Upload)
    upload.send_next(row.step("send the first of three chunks"))
    check_listing(row.fixture, "a partly uploaded file is not listed (4.9)")
    check_state(row.session, State.UPLOAD, upload)


def _send_chunk_completed(row: Row) -> None:
    """TRANSFER_COMPLETED: the last chunk puts the whole file in place (4.9.2)."""
    fixture, session = row.fixture, row.session
    chunk = fixture.chunk_size
    sizes = (
        ("2.5 chunks", multi_chunk_size(chunk), True),
        ("an empty file: one empty chunk", 0, True),
        ("exactly one chunk", chunk, True),
        ("exactly two chunks", 2 * chunk, True),
        ("2.5 chunks, the last without a digest", multi_chunk_size(chunk), False),
    )
    for index, (what, size, digest) in enumerate(sizes):
        name = f"done-{index}.bin"
        content = content_of(size, name)
        upload = Upload(session, fixture.path, name, content, chunk)
        upload.start(row.step(f"upload {what}: start"))
        while not upload.done:
            upload.send_next(row.step(f"upload {what}: chunk at offset {upload.offset}"), digest)
        fixture.model.add_file(name, content)
        check_state(session, State.IDLE, upload, "after the last chunk")
        download = Download(session, fixture.remote(name), content, chunk)
        download.start(row.step(f"download {what} back"))
        download.finish(row.step(f"download {what} back"))
    check_listing(fixture, "the uploaded files are listed with their sizes")


def _send_chunk_digest_mismatch(row: Row) -> None:
    """DIGEST_MISMATCH: the file is discarded and the state returns to IDLE (4.9.2)."""
    fixture = row.fixture
    content = content_of(multi_chunk_size(fixture.chunk_size), "mismatch")
    upload = Upload(row.session, fixture.path, "mismatch.bin", content, fixture.chunk_size)
    upload.start(row.step("start an upload"))
    while not upload.is_last():
        upload.send_next(row.step(f"chunk at offset {upload.offset}"))
    request, data = upload.chunk(digest=False)
    request.send_chunk.digest.CopyFrom(messages.digest_of(content + b"!"))
    row.session.call(
        request, [row.accept], row.step("the last chunk with the digest of other data"), data
    )
    check_state(row.session, State.IDLE, upload)
    check_listing(fixture, "the rejected file is not listed")


def _bad_chunks(row: Row) -> list[tuple[str, int, Callable[[Upload], tuple[pb.Request, bytes]]]]:
    """(what, chunks sent first, how to make the bad chunk) for 4.9.2/…/BAD_REQUEST."""
    chunk = row.fixture.chunk_size

    def at(offset_of: Callable[[Upload], int]) -> Callable[[Upload], tuple[pb.Request, bytes]]:
        def make(upload: Upload) -> tuple[pb.Request, bytes]:
            _, data = upload.chunk()
            return messages.send_chunk(offset_of(upload)), data

        return make

    def resized(change: int) -> Callable[[Upload], tuple[pb.Request, bytes]]:
        def make(upload: Upload) -> tuple[pb.Request, bytes]:
            request, data = upload.chunk()
            return request, (data + b"\x00" * change if change > 0 else data[:change])

        return make

    return [
        ("the first chunk at offset C instead of 0", 0, at(lambda upload: chunk)),
        (
            "the first chunk at an offset past the end of the file",
            0,
            at(lambda upload: upload.file_size + chunk),
        ),
        ("the second chunk at offset 0 again", 1, at(lambda upload: 0)),
        ("a chunk one byte short", 0, resized(-1)),
        ("a chunk one byte long", 0, resized(1)),
        ("the last, partial chunk one byte long", 2, resized(1)),
        ("an empty data frame for a full chunk", 1, lambda upload: (upload.chunk()[0], b"")),
    ]


def _send_chunk_bad_request(row: Row) -> None:
    """BAD_REQUEST: wrong offset or size abandons the upload, back to IDLE (4.9.2)."""
    fixture, session = row.fixture, row.session
    content = content_of(multi_chunk_size(fixture.chunk_size), "bad-chunk")
    for index, (what, before, make) in enumerate(_bad_chunks(row)):
        upload = Upload(session, fixture.path, f"bad-{index}.bin", content, fixture.chunk_size)
        upload.start(row.step(f"{what}: start an upload of 2.5 chunks"))
        for _ in range(before):
            upload.send_next(row.step(f"{what}: a good chunk at offset {upload.offset}"))
        request, data = make(upload)
        session.call(request, [row.accept], row.step(what), data)
        check_state(session, State.IDLE, upload, "the upload was abandoned")
        discard_staged(session, upload)
    empty = Upload(session, fixture.path, "bad-empty.bin", b"", fixture.chunk_size)
    empty.start(row.step("an empty file: start"))
    session.call(
        messages.send_chunk(0), [row.accept], row.step("an empty file sent a chunk of 1 byte"), b"x"
    )
    check_state(session, State.IDLE, empty, "the upload was abandoned")
    discard_staged(session, empty)
    check_listing(fixture, "no abandoned upload is listed")


def _cancel(row: Row) -> None:
    """TRANSFER_CANCELLED: the operation is abandoned, the state returns to IDLE (4.12)."""
    pending = reach(row.fixture, row.rule.state)
    if isinstance(pending, Upload):
        pending.send_next(row.step("send one chunk first"))
    row.session.call(messages.cancel_transfer(), [row.accept], row.step("cancel"))
    check_state(row.session, State.IDLE, pending)
    check_listing(row.fixture, "nothing of the cancelled operation is visible")
    if isinstance(pending, Upload):
        pending.start(
            row.step("resume the cancelled upload: its staged data is gone (4.12)"), resume=True
        )
        row.session.call(messages.cancel_transfer(), [row.accept], row.step("cancel again"))


def _download_accepted(row: Row) -> None:
    """TRANSFER_ACCEPTED for a download, from offset 0 and from further on (4.10.1)."""
    fixture, session = row.fixture, row.session
    listing = session.call(
        fixture.listing_request(), [accepted("FILES_LISTED")], "read the file's modification time"
    )
    times = {entry.name: entry.modification_time_ns for entry in listing.response.file_list.entries}
    content = fixture.model.content(DATA_FILE)
    starts = (
        ("from offset 0", DATA_FILE, 0),
        ("from offset 10", DATA_FILE, 10),
        ("from an offset equal to the size: one empty chunk", DATA_FILE, len(content)),
        ("of an empty file", "empty.txt", 0),
    )
    for what, name, offset in starts:
        download = Download(
            session,
            fixture.remote(name),
            fixture.model.content(name),
            fixture.chunk_size,
            offset,
            modification_time_ns=times.get(name),
        )
        download.start(row.step(f"download {what}"))
        check_state(session, State.DOWNLOAD, download)
        if not download.done:
            session.call(
                messages.cancel_transfer(), [accepted("TRANSFER_CANCELLED")], "cancel the download"
            )


def _receive_chunk_sent(row: Row) -> None:
    """CHUNK_SENT: the next chunk in the data frame; the state stays DOWNLOAD (4.10.2)."""
    download = reach(row.fixture, State.DOWNLOAD)
    assert isinstance(download, Download)
    download.receive_next(row.step("receive the first of three chunks"))
    check_state(row.session, State.DOWNLOAD, download)


def _receive_completed(row: Row) -> None:
    """TRANSFER_COMPLETED: the last chunk with the whole file's digest (4.10.2)."""
    fixture, session = row.fixture, row.session
    chunk = fixture.chunk_size
    fixture.upload("one.bin", content_of(chunk, "one.bin"))
    fixture.upload("two.bin", content_of(2 * chunk, "two.bin"))
    for what, name in (
        ("2.5 chunks", DATA_FILE),
        ("an empty file", "empty.txt"),
        ("exactly one chunk", "one.bin"),
        ("exactly two chunks", "two.bin"),
    ):
        download = Download(session, fixture.remote(name), fixture.model.content(name), chunk)
        download.start(row.step(f"download {what}: start"))
        download.finish(row.step(f"download {what}"))
        check_state(session, State.IDLE, download, "after the last chunk")


def _remove_file(row: Row) -> None:
    """FILE_REMOVED: a file or an empty directory goes at once (4.11.1)."""
    fixture, session = row.fixture, row.session

    def progress(reply: Reply) -> str | None:
        if reply.response.HasField("removal"):
            removal = reply.response.removal
            if (removal.removed, removal.remaining) != (1, 0):
                return f"removal is removed={removal.removed} remaining={removal.remaining}, not 1 and 0"
        return None

    for what, name in (
        ("a file", "victim.txt"),
        ("an empty file", "empty.txt"),
        ("an empty directory", "emptydir"),
    ):
        session.call(
            messages.remove_file(fixture.remote(name)),
            [accepted("FILE_REMOVED", progress, "removal, if set, 1 removed and 0 remaining")],
            row.step(f"remove {what}"),
        )
        fixture.model.remove(name)
        session.call(
            messages.list_files(fixture.remote(name)),
            [refused("FILE_NOT_FOUND")],
            f"the removed {what} is gone",
        )
    check_listing(fixture, "the removed entries are not listed")
    check_state(session, State.IDLE, None)


def _removal_started(row: Row) -> None:
    """REMOVAL_STARTED: the tree is out of sight at once; the state is DELETE (4.11.1)."""
    removal = reach(row.fixture, State.DELETE)
    row.session.call(
        messages.list_files(row.fixture.remote("tree")),
        [refused("FILE_NOT_FOUND")],
        "the tree being removed cannot be listed",
    )
    check_listing(row.fixture, "the tree being removed is not listed")
    check_state(row.session, State.DELETE, removal)


def _entries_removed(row: Row) -> None:
    """ENTRIES_REMOVED: a tree larger than one batch takes several requests (4.11.2)."""
    fixture = row.fixture
    fixture.make_directory("big")
    fixture.bulk_files("big", BIG_TREE_FILES)
    removal = Removal(row.session, fixture.remote("big"), BIG_TREE_FILES)
    removal.start(row.step(f"remove a directory of {BIG_TREE_FILES} files"))
    fixture.model.remove("big")
    before = removal.removed

    def first_batch(reply: Reply) -> str | None:
        progress = reply.response.removal
        if not before < progress.removed <= 1000:
            return f"removal.removed is {progress.removed}: a batch removes 1 to 1000 entries"
        if progress.removed + progress.remaining != BIG_TREE_FILES:
            return f"removed + remaining is not {BIG_TREE_FILES}"
        return None

    reply = row.session.call(
        messages.continue_removal(),
        [accepted("ENTRIES_REMOVED", first_batch, "at most 1000 removed, the rest remaining")],
        row.step("the first batch"),
    )
    removal.removed = reply.response.removal.removed
    check_listing(fixture, "the tree being removed is not listed")
    check_state(row.session, State.DELETE, removal)
    removal.finish(row.step("remove the rest"))


def _removal_finished(row: Row) -> None:
    """FILE_REMOVED after CONTINUE_REMOVAL: the tree is gone, the state is IDLE (4.11.2)."""
    removal = reach(row.fixture, State.DELETE)
    assert isinstance(removal, Removal)
    removal.finish(row.step("continue until the tree is gone"))
    row.session.call(
        messages.list_files(row.fixture.remote("tree")),
        [refused("FILE_NOT_FOUND")],
        "the removed tree is gone",
    )
    check_state(row.session, State.IDLE, removal)


# -- MOVE_FILE, COPY_FILE, FILE_DIGEST (4.14 to 4.16) ------------------------------------------

#: Builds MOVE_FILE or COPY_FILE: (source, directory, name, conflict mode).
Placing = Callable[[str, str, str, int], pb.Request]


def _placing(kind: RequestKind) -> Placing:
    return messages.move_file if kind is RequestKind.MOVE_FILE else messages.copy_file


def _place_invalid_names(kind: RequestKind) -> Callable[[Row], Variants]:
    build = _placing(kind)

    def make(row: Row) -> Variants:
        source = row.fixture.remote(DATA_FILE)
        variants: Variants = [
            (f"{what} as the new name", build(source, row.fixture.path, name, 0), None)
            for what, name in INVALID_NAMES
        ]
        variants.append(
            (
                "'..' as the new name, with REPLACE",
                build(source, row.fixture.path, "..", _REPLACE),
                None,
            )
        )
        return variants

    return make


def _place_missing(kind: RequestKind) -> Callable[[Row], Variants]:
    build = _placing(kind)

    def make(row: Row) -> Variants:
        fixture = row.fixture
        sources = [
            ("a source that does not exist", fixture.remote("missing")),
            ("a source whose parent does not exist", fixture.remote("missing/x")),
            ("a source below a file (4.5.3)", fixture.remote(f"{DATA_FILE}/x")),
        ]
        variants: Variants = [
            (what, build(path, fixture.path, "new", 0), None) for what, path in sources
        ]
        variants += [
            (what, build(fixture.remote(DATA_FILE), path, "new", 0), None)
            for what, path in _missing_directories(fixture)
        ]
        return variants

    return make


def _place_not_directory(kind: RequestKind) -> Callable[[Row], Variants]:
    build = _placing(kind)

    def make(row: Row) -> Variants:
        source = row.fixture.remote("sub/inner.txt")
        return [
            (what, build(source, path, "new", mode), None)
            for what, path in _files_as_directories(row.fixture)
            for mode in (0, _REPLACE)
        ]

    return make


def _place_taken(kind: RequestKind) -> Callable[[Row], Variants]:
    """Names taken, and no REPLACE; for MOVE_FILE also a directory with REPLACE (4.14)."""
    build = _placing(kind)

    def make(row: Row) -> Variants:
        fixture = row.fixture
        data, path = fixture.remote(DATA_FILE), fixture.path
        variants: Variants = [
            (
                f"a file over a file, conflict mode {label}",
                build(data, path, "empty.txt", mode),
                None,
            )
            for mode, label in _REFUSING_MODES
        ]
        variants += [
            ("a file over a directory", build(data, path, "sub", 0), None),
            ("a file over an empty directory", build(data, path, "emptydir", 0), None),
            ("a file onto its own path", build(data, path, DATA_FILE, 0), None),
            (
                "a file over a file in another directory",
                build(fixture.remote("victim.txt"), fixture.remote("sub"), "inner.txt", 0),
                None,
            ),
        ]
        if kind is RequestKind.MOVE_FILE:
            sub, emptydir = fixture.remote("sub"), fixture.remote("emptydir")
            variants += [
                ("a directory over a file", build(sub, path, "victim.txt", 0), None),
                ("a directory over a directory", build(emptydir, path, "sub", 0), None),
                (
                    "a directory over a file with REPLACE: a directory replaces nothing",
                    build(sub, path, "victim.txt", _REPLACE),
                    None,
                ),
                (
                    "an empty directory over an empty file with REPLACE",
                    build(emptydir, path, "empty.txt", _REPLACE),
                    None,
                ),
            ]
        return variants

    return make


def _place_over_directory(kind: RequestKind) -> Callable[[Row], Variants]:
    """REPLACE of a name a directory has (4.5.5 rule 2); for COPY_FILE also sources that
    are not regular files (4.15 check 4)."""
    build = _placing(kind)

    def make(row: Row) -> Variants:
        fixture = row.fixture
        data, path = fixture.remote(DATA_FILE), fixture.path
        variants: Variants = [
            ("a file over a directory with REPLACE", build(data, path, "sub", _REPLACE), None),
            (
                "a file over an empty directory with REPLACE",
                build(data, path, "emptydir", _REPLACE),
                None,
            ),
        ]
        if kind is RequestKind.MOVE_FILE:
            variants.append(
                (
                    "a directory over a directory with REPLACE (4.14 check 6: the taken "
                    "name's kind is checked before the source's)",
                    build(fixture.remote("emptydir"), path, "sub", _REPLACE),
                    None,
                )
            )
        else:
            variants += [
                ("a directory as the source", build(fixture.remote("sub"), path, "new", 0), None),
                (
                    "an empty directory as the source",
                    build(fixture.remote("emptydir"), path, "new", 0),
                    None,
                ),
                ("the root as the source", build("/", path, "new", 0), None),
                (
                    "a directory to a missing directory: the source is checked first",
                    build(fixture.remote("sub"), fixture.remote("missing"), "new", 0),
                    None,
                ),
                (
                    "a directory over a file with REPLACE",
                    build(fixture.remote("sub"), path, "victim.txt", _REPLACE),
                    None,
                ),
            ]
        return variants

    return make


def _place_bad_paths(kind: RequestKind) -> Callable[[Row], Variants]:
    build = _placing(kind)

    def make(row: Row) -> Variants:
        fixture = row.fixture
        data = fixture.remote(DATA_FILE)
        variants: Variants = [
            (f"{what} as the source", build(path, fixture.path, "new", 0), None)
            for what, path in _bad_paths(fixture)
        ]
        variants += [
            (f"{what} as the directory", build(data, path, "new", 0), None)
            for what, path in _bad_paths(fixture)
        ]
        variants += [
            (
                "a source through a reserved name (4.5.1 rule 6)",
                build("/.remofile-staging/x", fixture.path, "new", 0),
                None,
            ),
            (
                "a directory through a reserved name",
                build(data, "/.Remofile-staging", "new", 0),
                None,
            ),
        ]
        if kind is RequestKind.MOVE_FILE:
            variants += [
                (
                    f"the root written {root!r} as the source",
                    build(root, fixture.path, "r", 0),
                    None,
                )
                for root in ("/", "//./", "/.")
            ]
        return variants

    return make


def _invalid_destinations(row: Row) -> Variants:
    """A directory moved into itself or beneath itself (4.14 check 5)."""
    fixture = row.fixture
    fixture.make_directory("sub/deeper")
    sub = fixture.remote("sub")
    return [
        ("a directory into itself", messages.move_file(sub, sub, "x"), None),
        (
            "a directory into its child",
            messages.move_file(sub, fixture.remote("sub/deeper"), "x"),
            None,
        ),
        (
            "a directory into its child, the path written with '//' and '/./'",
            messages.move_file(sub, sub + "//./deeper/", "x"),
            None,
        ),
        (
            "a directory into itself, onto a taken name with REPLACE: checked before the name",
            messages.move_file(sub, sub, "inner.txt", _REPLACE),
            None,
        ),
        (
            "the case's directory into a directory beneath it",
            messages.move_file(fixture.path, fixture.remote("sub/deeper"), "x"),
            None,
        ),
    ]


def _moved_origins(origin: dict[str, str], source: str, destination: str) -> dict[str, str]:
    """Where each entry was at the start, after a move of ``source`` to ``destination``."""
    if source == destination:
        return origin
    moved: dict[str, str] = {}
    for now, was in origin.items():
        if now == source or now.startswith(source + "/"):
            moved[destination + now[len(source) :]] = was
        elif now != destination and not now.startswith(destination + "/"):
            moved[now] = was
    return moved


def _moved(row: Row) -> None:
    """FILE_MOVED: the entry is under its new name only, with its bytes and time (4.14)."""
    fixture, session = row.fixture, row.session
    before = listed(session, fixture.path, "read the modification times before the moves")
    # (what, source, directory, name, conflict mode): each relative to the fixture.
    moves = (
        ("rename a file in place", DATA_FILE, "", "renamed.bin", 0),
        ("move a file into another directory", "renamed.bin", "sub", "moved.bin", 0),
        ("move an empty file into an empty directory", "empty.txt", "emptydir", "empty.txt", 0),
        ("move a directory tree into another directory", "sub", "emptydir", "tree", 0),
        ("move a file with REPLACE to a free name", "victim.txt", "", "victim-2.txt", _REPLACE),
        (
            "move a file over another with REPLACE",
            "emptydir/tree/inner.txt",
            "emptydir",
            "empty.txt",
            _REPLACE,
        ),
        (
            "move a file onto its own path with REPLACE: nothing changes",
            "emptydir/tree/moved.bin",
            "emptydir/tree",
            "moved.bin",
            _REPLACE,
        ),
    )
    origin = {relative: relative for relative in fixture.model.nodes}
    for what, source, directory, name, mode in moves:
        destination = f"{directory}/{name}" if directory else name
        session.call(
            messages.move_file(fixture.remote(source), fixture.remote(directory), name, mode),
            [row.accept],
            row.step(what),
        )
        fixture.model.move(source, destination)
        origin = _moved_origins(origin, source, destination)
        if source != destination:
            check_gone(session, fixture.remote(source), f"{what}: nothing is left at {source}")
    check_tree(fixture, "every entry is under its new name, with its bytes")
    files = [relative for relative in fixture.model.nodes if fixture.model.is_file(relative)]
    check_times(
        fixture,
        {now: before[origin[now]].modification_time_ns for now in files},
        "read the modification times after the moves",
        "a moved file keeps its modification time (4.14)",
    )
    check_state(session, State.IDLE, None)


def _copied(row: Row) -> None:
    """FILE_COPIED: a byte-identical copy with the source's time; the source stays (4.15)."""
    fixture, session = row.fixture, row.session
    # (what, source, directory, name, conflict mode): each relative to the fixture.
    copies = (
        ("copy a file of 2.5 chunks in its directory", DATA_FILE, "", "copy.bin", 0),
        ("copy a file into another directory", DATA_FILE, "sub", DATA_FILE, 0),
        ("copy an empty file", "empty.txt", "emptydir", "empty-copy.txt", 0),
        (
            "copy a file with REPLACE to a free name",
            "sub/inner.txt",
            "",
            "inner-copy.txt",
            _REPLACE,
        ),
        ("copy a file over another with REPLACE", "sub/inner.txt", "", "victim.txt", _REPLACE),
        (
            "copy a file onto its own path with REPLACE: it stays as it was",
            DATA_FILE,
            "",
            DATA_FILE,
            _REPLACE,
        ),
    )
    times: dict[str, int] = {}
    for what, source, directory, name, mode in copies:
        destination = f"{directory}/{name}" if directory else name
        source_time = listed(session, fixture.path, f"{what}: read the source's time")[source]
        session.call(
            messages.copy_file(fixture.remote(source), fixture.remote(directory), name, mode),
            [row.accept],
            row.step(what),
        )
        fixture.model.add_file(destination, fixture.model.content(source))
        times[destination] = times[source] = source_time.modification_time_ns
    check_tree(fixture, "the copies and their sources hold the sources' bytes")
    check_times(
        fixture,
        times,
        "read the modification times of the copies",
        "a copy has its source's modification time, and the source keeps it (4.15)",
    )
    check_state(session, State.IDLE, None)


def _digested(row: Row) -> None:
    """FILE_DIGESTED: the digest of the whole file, with its size and time (4.16)."""
    fixture, session = row.fixture, row.session
    fixture.upload("one.bin", content_of(fixture.chunk_size, "one.bin"))
    entries = listed(session, fixture.path, "read the files' modification times")
    algorithms = [pb.DIGEST_ALGORITHM_UNSPECIFIED, *row.limits.digest_algorithms]
    for relative in (DATA_FILE, "empty.txt", "one.bin", "sub/inner.txt"):
        for algorithm in algorithms:
            label = algorithm_name(algorithm) if algorithm else "UNSPECIFIED"
            check_digest(
                session,
                fixture.remote(relative),
                fixture.model.content(relative),
                row.step(f"the digest of {relative} with {label}"),
                algorithm,
                entries[relative].modification_time_ns,
            )
    check_tree(fixture, "digesting changed nothing")
    check_state(session, State.IDLE, None)


def _digest_missing(row: Row) -> Variants:
    fixture = row.fixture
    return [
        ("a file that does not exist", messages.file_digest(fixture.remote("missing.bin")), None),
        (
            "a file whose parent does not exist",
            messages.file_digest(fixture.remote("missing/x")),
            None,
        ),
        (
            "a path below a file (4.5.3)",
            messages.file_digest(fixture.remote(f"{DATA_FILE}/x")),
            None,
        ),
    ]


def _digest_not_file(row: Row) -> Variants:
    fixture = row.fixture
    return [
        ("a directory", messages.file_digest(fixture.remote("sub")), None),
        ("an empty directory", messages.file_digest(fixture.remote("emptydir")), None),
        ("the root", messages.file_digest("/"), None),
        (
            "a directory, with an algorithm the server does not announce: the path comes first",
            messages.file_digest(fixture.remote("sub"), 99),
            None,
        ),
    ]


def _digest_unsupported(row: Row) -> Variants:
    path = row.fixture.remote(DATA_FILE)
    variants: Variants = [
        ("algorithm 99, which version 1 does not define", messages.file_digest(path, 99), None)
    ]
    unannounced = unsupported_digest(row.limits)
    if unannounced != 99:
        variants.append(
            (
                f"{algorithm_name(unannounced)}, which the server does not announce",
                messages.file_digest(path, unannounced),
                None,
            )
        )
    return variants


def _digest_bad_path(row: Row) -> Variants:
    variants: Variants = [
        (what, messages.file_digest(path), None) for what, path in _bad_paths(row.fixture)
    ]
    variants.append(
        ("a path through a reserved name", messages.file_digest("/.remofile-staging/x"), None)
    )
    return variants


# -- UPLOAD_FILES, DOWNLOAD_FILES (4.17, 4.18) ------------------------------------------------


def batch_entry(
    fixture: Fixture,
    relative: str,
    content: bytes,
    *,
    modification_time_ns: int = 0,
    digest: bytes | None = None,
    encoded: bytes | None = None,
    file_size: int | None = None,
    encoded_size: int | None = None,
) -> BatchEntry:
    """A file of an upload batch to ``relative`` (a path of the fixture), with the faults
    given."""
    directory, _, name = relative.rpartition("/")
    return BatchEntry(
        fixture.remote(directory),
        name,
        content,
        modification_time_ns,
        digest,
        encoded,
        file_size,
        encoded_size,
    )


def _files_uploaded(row: Row) -> None:
    """FILES_UPLOADED: each file stored whole with its time, one result each, in order;
    the state stays IDLE (4.17)."""
    fixture, session = row.fixture, row.session
    chunk = fixture.chunk_size
    files = (
        ("up-a.bin", content_of(multi_chunk_size(chunk), "up-a"), 0),
        ("up-empty.bin", b"", 0),
        ("sub/up-b.txt", b"batch " * 50, 1_234_567_890_123_456_789),
        ("emptydir/up-c.bin", content_of(chunk, "up-c"), 0),
    )
    entries = [
        batch_entry(fixture, relative, content, modification_time_ns=time_ns)
        for relative, content, time_ns in files
    ]
    upload_batch(session, entries, [stored() for _ in entries], row.step("a batch of four files"))
    for relative, content, _ in files:
        fixture.model.add_file(relative, content)
    check_tree(fixture, "the four files are stored whole")
    check_times(
        fixture,
        {"sub/up-b.txt": files[2][2]},
        "the time sent is the file's",
        "a file of a batch has the modification time sent with it (4.17)",
    )
    check_state(session, State.IDLE, None)


def unsupported_upload_batches(fixture: Fixture, limits: pb.SessionOpened) -> Variants:
    """UPLOAD_FILES whose compression, digest algorithm or conflict mode the server does
    not announce (4.17 check 3); their data is raw, as it is never looked at."""
    good = [batch_entry(fixture, "unsupported.bin", content_of(100, "unsupported"))]
    compression = unsupported_compression(limits)
    digest = unsupported_digest(limits)
    variants: Variants = []
    for what, request_compression, algorithm in (
        (f"compression {compression}, which the server does not announce", compression, 0),
        ("compression 99, which version 1 does not define", 99, 0),
        (f"digest algorithm {digest}, which the server does not announce", 0, digest),
        ("digest algorithm 99, which version 1 does not define", 0, 99),
    ):
        request, data = upload_request(good, request_compression, algorithm)
        variants.append((what, request, data))
    if pb.FEATURE_REPLACE not in limits.features:
        request, data = upload_request(good, conflict_mode=_REPLACE)
        variants.append(("REPLACE, which the server does not announce", request, data))
    return variants


def bad_upload_batches(fixture: Fixture, limits: pb.SessionOpened) -> Variants:
    """UPLOAD_FILES the whole of which is ERROR BAD_REQUEST (4.17 checks 2, 4 and 5): each
    holds good files before and after its fault, which must not be written either."""
    maximum = limits.max_chunk_size

    def around(*faulty: BatchEntry) -> list[BatchEntry]:
        return [
            batch_entry(fixture, "bad-before.bin", content_of(50, "before")),
            *faulty,
            batch_entry(fixture, "sub/bad-after.bin", content_of(70, "after")),
        ]

    free = content_of(30, "free")
    variants: Variants = []

    def add(what: str, entries: list[BatchEntry], data: bytes | None = None) -> None:
        request, encoded = upload_request(entries)
        variants.append((what, request, encoded if data is None else data))

    add("no files, an empty data frame", [])
    add("no files, a data frame of bytes", [], b"stray bytes")
    add(
        f"{MAX_BATCH_FILES + 1} files, one more than a batch may hold",
        [batch_entry(fixture, f"many-{index:03d}", b"") for index in range(MAX_BATCH_FILES + 1)],
    )
    add(
        "encoded sizes adding up to one byte less than the data frame",
        around(batch_entry(fixture, "x.bin", free, encoded_size=len(free) - 1)),
    )
    add(
        "encoded sizes adding up to one byte more than the data frame",
        around(batch_entry(fixture, "x.bin", free, encoded_size=len(free) + 1)),
    )
    add(
        "a file's data one byte short of its file_size",
        around(batch_entry(fixture, "x.bin", free, file_size=len(free) + 1)),
    )
    add(
        "a file's data one byte longer than its file_size",
        around(batch_entry(fixture, "x.bin", free, file_size=len(free) - 1)),
    )
    for length in (31, 33, 0):
        add(
            f"a digest of {length} bytes",
            around(batch_entry(fixture, "x.bin", free, digest=bytes(range(length)))),
        )
    add(
        f"a file_size of {maximum + 1}, over max_chunk_size, and no data",
        around(batch_entry(fixture, "x.bin", b"", file_size=maximum + 1)),
    )
    add(
        "the largest file_size, and no data",
        around(batch_entry(fixture, "x.bin", b"", file_size=UINT64_MAX)),
    )
    for what, path in _bad_paths(fixture):
        add(
            f"{what} as a file's directory",
            around(BatchEntry(path, "x.bin", free)),
        )
    return variants


def oversize_upload_batch(fixture: Fixture, limits: pb.SessionOpened) -> Variants:
    """Two files each within max_chunk_size whose data together are one byte over it
    (4.17 check 5); none when that is too much for the suite to send."""
    maximum = limits.max_chunk_size
    if maximum > BATCH_BYTES_TRIED:
        return []
    first = content_of(maximum // 2, "half")
    second = content_of(maximum - len(first) + 1, "other half")
    request, data = upload_request(
        [batch_entry(fixture, "half-1.bin", first), batch_entry(fixture, "half-2.bin", second)]
    )
    return [(f"two files of {maximum + 1} bytes together, over max_chunk_size", request, data)]


#: Largest max_chunk_size the suite fills a batch up to (a few round trips of that size).
BATCH_BYTES_TRIED = 16 * 1024 * 1024


def _files_downloaded(row: Row) -> None:
    """FILES_DOWNLOADED: each file with its size, time and digest, the data in order in
    one data frame; the state stays IDLE (4.18)."""
    fixture, session = row.fixture, row.session
    times = listed(session, fixture.path, "read the files' modification times")
    names = (DATA_FILE, "empty.txt", "sub/inner.txt", DATA_FILE)
    outcomes = [
        sent(fixture.model.content(name), times[name].modification_time_ns) for name in names
    ]
    download_batch(
        session,
        [fixture.remote(name) for name in names],
        outcomes,
        row.step("a batch of four files, one of them twice"),
        row.limits.max_chunk_size,
    )
    outcomes = [sent(fixture.model.content("sub/inner.txt"))]
    download_batch(
        session,
        [fixture.remote("sub//./inner.txt/")],
        outcomes,
        row.step("a file named with '//' and '/./'"),
        row.limits.max_chunk_size,
    )
    check_tree(fixture, "downloading changed nothing")
    check_state(session, State.IDLE, None)


def unsupported_download_batches(fixture: Fixture, limits: pb.SessionOpened) -> Variants:
    """DOWNLOAD_FILES whose compression or digest algorithm is not announced (4.18)."""
    paths = [fixture.remote(DATA_FILE)]
    compression = unsupported_compression(limits)
    digest = unsupported_digest(limits)
    return [
        (
            f"compression {compression}, which the server does not announce",
            messages.download_files(paths, compression),
            None,
        ),
        (
            f"digest algorithm {digest}, which the server does not announce",
            messages.download_files(paths, digest_algorithm=digest),
            None,
        ),
        (
            "digest algorithm 99 and a directory: the algorithm comes first",
            messages.download_files([fixture.remote("sub")], digest_algorithm=99),
            None,
        ),
    ]


def bad_download_batches(fixture: Fixture, limits: pb.SessionOpened) -> Variants:
    """DOWNLOAD_FILES the whole of which is ERROR BAD_REQUEST (4.18 checks 2 and 4)."""
    good = fixture.remote(DATA_FILE)
    variants: Variants = [
        ("no paths", messages.download_files([]), None),
        (
            f"{MAX_BATCH_FILES + 1} paths, one more than a batch may name",
            messages.download_files([fixture.remote("empty.txt")] * (MAX_BATCH_FILES + 1)),
            None,
        ),
    ]
    variants += [
        (f"{what} between two good paths", messages.download_files([good, path, good]), None)
        for what, path in _bad_paths(fixture)
    ]
    return variants


def _batch_variants(
    make: Callable[[Fixture, pb.SessionOpened], Variants],
) -> Callable[[Row], Variants]:
    def variants(row: Row) -> Variants:
        return make(row.fixture, row.limits)

    return variants


# -- the table of provokers ------------------------------------------------------------------

Provoker = Callable[[Row], None]


def _provokers() -> dict[tuple[RequestKind, str], Provoker]:
    table: dict[tuple[RequestKind, str], Provoker] = {
        (RequestKind.LIST_FILES, "FILES_LISTED"): _list_files_listed,
        (RequestKind.LIST_FILES, "FILE_NOT_FOUND"): _refusal(_list_variants(_missing_directories)),
        (RequestKind.LIST_FILES, "NOT_A_DIRECTORY"): _refusal(
            _list_variants(_files_as_directories)
        ),
        (RequestKind.LIST_FILES, "BAD_REQUEST"): _refusal(_list_variants(_bad_paths)),
        (RequestKind.CREATE_FILE, "FILE_CREATED"): _create_accepted(RequestKind.CREATE_FILE),
        (RequestKind.MAKE_DIRECTORY, "DIRECTORY_CREATED"): _create_accepted(
            RequestKind.MAKE_DIRECTORY
        ),
        (RequestKind.UPLOAD_FILE, "TRANSFER_ACCEPTED"): _upload_accepted,
        (RequestKind.UPLOAD_FILE, "INCORRECT_FILE_SIZE"): _refusal(_upload_too_large),
        (RequestKind.UPLOAD_FILE, "INCORRECT_CHUNK_SIZE"): _refusal(_upload_bad_chunk_size),
        (RequestKind.UPLOAD_FILE, "UNSUPPORTED_FEATURE"): _refusal(_upload_unsupported),
        (RequestKind.SEND_CHUNK, "CHUNK_ACCEPTED"): _send_chunk_accepted,
        (RequestKind.SEND_CHUNK, "TRANSFER_COMPLETED"): _send_chunk_completed,
        (RequestKind.SEND_CHUNK, "DIGEST_MISMATCH"): _send_chunk_digest_mismatch,
        (RequestKind.SEND_CHUNK, "BAD_REQUEST"): _send_chunk_bad_request,
        (RequestKind.CANCEL_TRANSFER, "TRANSFER_CANCELLED"): _cancel,
        (RequestKind.DOWNLOAD_FILE, "TRANSFER_ACCEPTED"): _download_accepted,
        (RequestKind.DOWNLOAD_FILE, "FILE_NOT_FOUND"): _refusal(_download_missing),
        (RequestKind.DOWNLOAD_FILE, "NOT_A_FILE"): _refusal(_download_not_file),
        (RequestKind.DOWNLOAD_FILE, "INCORRECT_FILE_SIZE"): _refusal(_download_bad_offset),
        (RequestKind.DOWNLOAD_FILE, "INCORRECT_CHUNK_SIZE"): _refusal(_download_bad_chunk_size),
        (RequestKind.DOWNLOAD_FILE, "UNSUPPORTED_FEATURE"): _refusal(_download_unsupported),
        (RequestKind.DOWNLOAD_FILE, "BAD_REQUEST"): _refusal(_download_bad_path),
        (RequestKind.RECEIVE_CHUNK, "CHUNK_SENT"): _receive_chunk_sent,
        (RequestKind.RECEIVE_CHUNK, "TRANSFER_COMPLETED"): _receive_completed,
        (RequestKind.REMOVE_FILE, "FILE_REMOVED"): _remove_file,
        (RequestKind.REMOVE_FILE, "REMOVAL_STARTED"): _removal_started,
        (RequestKind.REMOVE_FILE, "FILE_NOT_FOUND"): _refusal(_remove_missing),
        (RequestKind.REMOVE_FILE, "BAD_REQUEST"): _refusal(_remove_bad_path),
        (RequestKind.CONTINUE_REMOVAL, "ENTRIES_REMOVED"): _entries_removed,
        (RequestKind.CONTINUE_REMOVAL, "FILE_REMOVED"): _removal_finished,
    }
    for kind in (RequestKind.CREATE_FILE, RequestKind.MAKE_DIRECTORY, RequestKind.UPLOAD_FILE):
        for reason, variants in _new_entry_refusals(kind).items():
            table[(kind, reason)] = _refusal(variants)
    table[(RequestKind.UPLOAD_FILE, "NOT_A_FILE")] = _refusal(
        _upload_replaces_directory, whole_tree=True
    )
    for kind in (RequestKind.MOVE_FILE, RequestKind.COPY_FILE):
        for reason, make in (
            ("INVALID_FILE_NAME", _place_invalid_names),
            ("FILE_NOT_FOUND", _place_missing),
            ("NOT_A_DIRECTORY", _place_not_directory),
            ("FILE_ALREADY_EXISTS", _place_taken),
            ("NOT_A_FILE", _place_over_directory),
            ("BAD_REQUEST", _place_bad_paths),
        ):
            table[(kind, reason)] = _refusal(make(kind), whole_tree=True)
    table.update(
        {
            (RequestKind.MOVE_FILE, "FILE_MOVED"): _moved,
            (RequestKind.MOVE_FILE, "INVALID_DESTINATION"): _refusal(
                _invalid_destinations, whole_tree=True
            ),
            (RequestKind.COPY_FILE, "FILE_COPIED"): _copied,
            (RequestKind.FILE_DIGEST, "FILE_DIGESTED"): _digested,
            (RequestKind.FILE_DIGEST, "FILE_NOT_FOUND"): _refusal(_digest_missing, True),
            (RequestKind.FILE_DIGEST, "NOT_A_FILE"): _refusal(_digest_not_file, True),
            (RequestKind.FILE_DIGEST, "UNSUPPORTED_FEATURE"): _refusal(_digest_unsupported, True),
            (RequestKind.FILE_DIGEST, "BAD_REQUEST"): _refusal(_digest_bad_path, True),
            (RequestKind.UPLOAD_FILES, "FILES_UPLOADED"): _files_uploaded,
            (RequestKind.UPLOAD_FILES, "UNSUPPORTED_FEATURE"): _refusal(
                _batch_variants(unsupported_upload_batches), True
            ),
            (RequestKind.UPLOAD_FILES, "BAD_REQUEST"): _refusal(
                _batch_variants(bad_upload_batches), True
            ),
            (RequestKind.DOWNLOAD_FILES, "FILES_DOWNLOADED"): _files_downloaded,
            (RequestKind.DOWNLOAD_FILES, "UNSUPPORTED_FEATURE"): _refusal(
                _batch_variants(unsupported_download_batches), True
            ),
            (RequestKind.DOWNLOAD_FILES, "BAD_REQUEST"): _refusal(
                _batch_variants(bad_download_batches), True
            ),
        }
    )
    return table


PROVOKERS = _provokers()


# -- illegal pairs (4.13) ----------------------------------------------------------------------


def plausible_request(fixture: Fixture, kind: RequestKind) -> tuple[pb.Request, bytes | None]:
    """A request of ``kind`` that would be carried out in the state where it is legal."""
    chunk = fixture.chunk_size
    if kind is RequestKind.LIST_FILES:
        return messages.list_files(fixture.path), None
    if kind is RequestKind.CREATE_FILE:
        return messages.create_file(fixture.path, "illegal-new.txt"), None
    if kind is RequestKind.MAKE_DIRECTORY:
        return messages.make_directory(fixture.path, "illegal-dir"), None
    if kind is RequestKind.UPLOAD_FILE:
        return messages.upload_file(fixture.path, "illegal-up.bin", 10, chunk), None
    if kind is RequestKind.SEND_CHUNK:
        return messages.send_chunk(0), content_of(chunk, "illegal-chunk")
    if kind is RequestKind.DOWNLOAD_FILE:
        return messages.download_file(fixture.remote(DATA_FILE), chunk), None
    if kind is RequestKind.RECEIVE_CHUNK:
        return messages.receive_chunk(), None
    if kind is RequestKind.CANCEL_TRANSFER:
        return messages.cancel_transfer(), None
    if kind is RequestKind.REMOVE_FILE:
        return messages.remove_file(fixture.remote("victim.txt")), None
    if kind is RequestKind.MOVE_FILE:
        return messages.move_file(fixture.remote("victim.txt"), fixture.path, "moved.txt"), None
    if kind is RequestKind.COPY_FILE:
        return messages.copy_file(fixture.remote(DATA_FILE), fixture.path, "copied.bin"), None
    if kind is RequestKind.FILE_DIGEST:
        return messages.file_digest(fixture.remote(DATA_FILE)), None
    if kind is RequestKind.UPLOAD_FILES:
        return upload_request([batch_entry(fixture, "illegal-batch.bin", b"illegal batch")])
    if kind is RequestKind.DOWNLOAD_FILES:
        return messages.download_files([fixture.remote(DATA_FILE)]), None
    return messages.continue_removal(), None


def _illegal(row: Row) -> None:
    """A pair not in the table: ERROR BAD_REQUEST, nothing done, state unchanged (4.13)."""
    pending: Pending = reach(row.fixture, row.rule.state)
    request, data = plausible_request(row.fixture, row.rule.kind)
    row.session.call(request, [row.accept], row.step("not allowed in this state"), data)
    check_listing(row.fixture, "the illegal request changed nothing in the tree")
    check_state(row.session, row.rule.state, pending, "unchanged")


# -- cases ------------------------------------------------------------------------------------


def body_for(rule: Rule, index: int) -> Body | None:
    """The body of case ``case_id(rule, index)``, or None if no client can provoke it."""
    outcome = rule.outcomes[index - 1]
    if is_unprovokable(rule, outcome):
        return None
    if rule.section == ILLEGAL_SECTION:
        provoke: Provoker | None = _illegal
    else:
        provoke = PROVOKERS.get((rule.kind, reason_name(outcome.reason)))
    if provoke is None:
        missing = f"{rule.kind.name} -> {reason_name(outcome.reason)}"

        def no_scenario(ctx: CaseContext) -> None:
            raise CaseFailure("the suite", f"the suite has no scenario for {missing}")

        return no_scenario
    chosen = provoke

    def body(ctx: CaseContext) -> None:
        chosen(_row(ctx, rule, outcome))

    return body


def has_scenario(rule: Rule, index: int) -> bool:
    """Whether the suite knows how to provoke this outcome (for the drift test)."""
    outcome = rule.outcomes[index - 1]
    return (
        is_unprovokable(rule, outcome)
        or rule.section == ILLEGAL_SECTION
        or (rule.kind, reason_name(outcome.reason)) in PROVOKERS
    )
