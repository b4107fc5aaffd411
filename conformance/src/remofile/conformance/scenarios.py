"""How a client reaches each state, moves files, and tells which state the server is in.

A case builds a :class:`Fixture` (its own directory with known entries), reaches the
state its row starts from with :func:`reach`, sends its request, and then checks the
state the server is in with :func:`check_state`. No request reports the state (4.2.4),
so the check sends the request that tells it: the next chunk of an upload must be
accepted in UPLOAD, the next chunk of a download must come in DOWNLOAD, the removal
must go on in DELETE, and in IDLE the request that would have continued the former
transfer must be illegal (ERROR BAD_REQUEST), as must CANCEL_TRANSFER.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field

from remofile.conformance import messages
from remofile.conformance.expect import (
    Accept,
    CaseFailure,
    ReplyCheck,
    accepted,
    all_of,
    bad_request,
    refused,
)
from remofile.conformance.model import TreeModel, join, listing_check
from remofile.conformance.session import Session
from remofile.conformance.spec import DIGEST_BYTES
from remofile.conformance.wire import Reply
from remofile.core.digests import algorithm_name, effective_algorithm, new_hasher
from remofile.core.transitions import State
from remofile.v1 import remofile_pb2 as pb

#: Chunk size the cases use when the server's range allows it: small, so files are small.
PREFERRED_CHUNK_BYTES = 1024

#: Name of the file every fixture holds, of two and a half chunks.
DATA_FILE = "data.bin"


def chunk_size_for(limits: pb.SessionOpened) -> int:
    """A chunk size inside the server's range, as close to 1 KiB as it allows."""
    return min(max(PREFERRED_CHUNK_BYTES, limits.min_chunk_size), limits.max_chunk_size)


def content_of(size: int, seed: str) -> bytes:
    """Bytes that look random but are the same for the same seed."""
    return random.Random(seed).randbytes(size)


def multi_chunk_size(chunk_size: int) -> int:
    """A size of three chunks, the last one partial."""
    return 2 * chunk_size + chunk_size // 2


# -- checks of payloads ----------------------------------------------------------------


def transfer_accepted_check(
    file_size: int,
    chunk_size: int,
    offsets: range,
    compression: int,
    modification_time_ns: int | None = None,
    digest_algorithm: int = pb.DIGEST_ALGORITHM_UNSPECIFIED,
) -> ReplyCheck:
    """TransferAccepted holds what was asked (4.9.1, 4.10.1); ``offsets`` are the ones
    allowed, a range because a resumed upload may start anywhere up to its staged data."""

    def check(reply: Reply) -> str | None:
        accepted_ = reply.response.transfer_accepted
        if accepted_.file_size != file_size:
            return f"transfer_accepted.file_size is {accepted_.file_size}, expected {file_size}"
        if accepted_.chunk_size != chunk_size:
            return f"transfer_accepted.chunk_size is {accepted_.chunk_size}, expected {chunk_size}"
        if accepted_.offset not in offsets:
            return (
                f"transfer_accepted.offset is {accepted_.offset}, expected "
                f"{offsets.start if len(offsets) == 1 else f'{offsets.start} to {offsets.stop - 1}'}"
            )
        wanted = {compression}
        if compression in (pb.COMPRESSION_UNSPECIFIED, pb.COMPRESSION_NONE):
            wanted = {pb.COMPRESSION_NONE, pb.COMPRESSION_UNSPECIFIED}
        if accepted_.compression not in wanted:
            return (
                f"transfer_accepted.compression is {accepted_.compression}, expected {compression}"
            )
        in_force = effective_algorithm(accepted_.digest_algorithm)
        if in_force != effective_algorithm(digest_algorithm):
            return (
                f"transfer_accepted.digest_algorithm is {algorithm_name(in_force)}, "
                f"expected {algorithm_name(digest_algorithm)} (7.2)"
            )
        if (
            modification_time_ns is not None
            and accepted_.modification_time_ns != modification_time_ns
        ):
            return (
                f"transfer_accepted.modification_time_ns is {accepted_.modification_time_ns}, "
                f"the listing says {modification_time_ns}"
            )
        return None

    return check


def chunk_offset_check(offset: int) -> ReplyCheck:
    def check(reply: Reply) -> str | None:
        if reply.response.chunk.offset != offset:
            return f"chunk.offset is {reply.response.chunk.offset}, expected {offset}"
        return None

    return check


def digest_check(content: bytes, algorithm: int = pb.DIGEST_ALGORITHM_SHA256) -> ReplyCheck:
    """The digest on a download's TRANSFER_COMPLETED covers the whole file, with the
    transfer's algorithm (4.10.2, 7.2)."""
    algorithm = effective_algorithm(algorithm)
    name = algorithm_name(algorithm)
    hasher = new_hasher(algorithm)
    hasher.update(content)
    expected = hasher.digest()

    def check(reply: Reply) -> str | None:
        digest = reply.response.chunk.digest
        if not reply.response.chunk.HasField("digest"):
            return "the last chunk of a download must carry the file's digest"
        if digest.algorithm != algorithm or len(digest.value) != DIGEST_BYTES:
            return f"the digest must be {name} with a value of {DIGEST_BYTES} bytes"
        if digest.value != expected:
            return f"the digest is not the {name} of the whole file"
        return None

    return check


def optional_digest_check(
    content: bytes, algorithm: int = pb.DIGEST_ALGORITHM_SHA256
) -> ReplyCheck:
    """An upload's TRANSFER_COMPLETED MAY carry the stored file's digest (4.9.2)."""

    def check(reply: Reply) -> str | None:
        if reply.response.chunk.HasField("digest"):
            return digest_check(content, algorithm)(reply)
        return None

    return check


# -- the case's directory ----------------------------------------------------------------


@dataclass
class Fixture:
    """A directory of the served tree that one case owns, and a model of its content."""

    session: Session
    path: str
    chunk_size: int
    model: TreeModel = field(default_factory=TreeModel)

    def remote(self, relative: str = "") -> str:
        return f"{self.path}/{relative}" if relative else self.path

    def create_file(self, relative: str) -> None:
        parent, _, name = relative.rpartition("/")
        self.session.call(
            messages.create_file(self.remote(parent), name),
            [accepted("FILE_CREATED")],
            f"set-up: create the empty file {relative}",
        )
        self.model.add_file(relative, b"")

    def make_directory(self, relative: str) -> None:
        parent, _, name = relative.rpartition("/")
        self.session.call(
            messages.make_directory(self.remote(parent), name),
            [accepted("DIRECTORY_CREATED")],
            f"set-up: make the directory {relative}",
        )
        self.model.add_directory(relative)

    def upload(self, relative: str, content: bytes, modification_time_ns: int = 0) -> None:
        parent, _, name = relative.rpartition("/")
        upload = Upload(
            self.session,
            self.remote(parent),
            name,
            content,
            self.chunk_size,
            modification_time_ns=modification_time_ns,
        )
        upload.start(step=f"set-up: upload {relative}")
        upload.finish(step=f"set-up: upload {relative}")
        self.model.add_file(relative, content)

    def bulk_files(self, directory: str, count: int) -> None:
        """Create ``count`` empty files in ``directory``, pipelined, noted once."""
        self.session.connection.transcript.note(f"set-up: {count} CREATE_FILE requests pipelined")
        calls = []
        for index in range(count):
            name = f"f{index:05d}"
            calls.append(
                (
                    messages.create_file(self.remote(directory), name),
                    None,
                    [accepted("FILE_CREATED")],
                    f"set-up: create {directory}/{name}",
                )
            )
            self.model.add_file(join(directory, name))
        transcript = self.session.connection.transcript
        mark = len(transcript.events)
        self.session.pipeline(calls)
        del transcript.events[mark:]

    def listing_request(self, relative: str = "", recursive: bool = False) -> pb.Request:
        return messages.list_files(self.remote(relative), recursive)


def standard_fixture(session: Session, path: str, limits: pb.SessionOpened) -> Fixture:
    """The entries most cases need::

    data.bin        two and a half chunks of data
    empty.txt       an empty file
    victim.txt      an empty file that illegal requests must leave alone
    sub/            a directory holding inner.txt (100 bytes)
    emptydir/       an empty directory
    """
    chunk = chunk_size_for(limits)
    fixture = Fixture(session, path, chunk)
    fixture.upload(DATA_FILE, content_of(multi_chunk_size(chunk), DATA_FILE))
    fixture.create_file("empty.txt")
    fixture.create_file("victim.txt")
    fixture.make_directory("sub")
    fixture.upload("sub/inner.txt", content_of(100, "inner"))
    fixture.make_directory("emptydir")
    return fixture


# -- transfers -----------------------------------------------------------------------------


def encode_chunk(data: bytes, compression: int) -> bytes:
    """Chunk data as it travels: each zlib chunk is one complete stream (7.3)."""
    return zlib.compress(data) if compression == pb.COMPRESSION_ZLIB else data


@dataclass
class Upload:
    """An upload driven chunk by chunk (4.9)."""

    session: Session
    directory: str
    name: str
    content: bytes
    chunk_size: int
    compression: int = pb.COMPRESSION_NONE
    digest_algorithm: int = pb.DIGEST_ALGORITHM_UNSPECIFIED
    #: What to do if the name is taken (4.5.5): refuse unless REPLACE.
    conflict_mode: int = pb.CONFLICT_MODE_UNSPECIFIED
    #: The modification time to give the file; 0 leaves the time of the upload.
    modification_time_ns: int = 0
    #: The next offset to send; set by :meth:`start` from TransferAccepted.
    offset: int = 0
    done: bool = False

    @property
    def file_size(self) -> int:
        return len(self.content)

    @property
    def path(self) -> str:
        return f"{self.directory}/{self.name}"

    def request(self, resume: bool = False) -> pb.Request:
        return messages.upload_file(
            self.directory,
            self.name,
            self.file_size,
            self.chunk_size,
            resume,
            self.compression,
            self.digest_algorithm,
            self.conflict_mode,
            self.modification_time_ns,
        )

    def start(self, step: str = "start an upload", resume: bool = False, staged: int = 0) -> Reply:
        """UPLOAD_FILE; a resume starts exactly where the chunks the server accepted end
        (``staged``): a server that did not restart keeps all of them (7.1.4)."""
        reply = self.session.call(
            self.request(resume),
            [
                accepted(
                    "TRANSFER_ACCEPTED",
                    transfer_accepted_check(
                        self.file_size,
                        self.chunk_size,
                        range(staged, staged + 1),
                        self.compression,
                        digest_algorithm=self.digest_algorithm,
                    ),
                    f"offset {staged}",
                )
            ],
            step,
        )
        self.offset = reply.response.transfer_accepted.offset
        self.done = False
        return reply

    def next_size(self) -> int:
        return min(self.chunk_size, self.file_size - self.offset)

    def is_last(self) -> bool:
        return self.offset + self.next_size() >= self.file_size

    def chunk(self, digest: bool = True) -> tuple[pb.Request, bytes]:
        """The next chunk as it must be sent; the last one carries the digest."""
        data = self.content[self.offset : self.offset + self.next_size()]
        algorithm = effective_algorithm(self.digest_algorithm)
        last = digest and self.is_last()
        sent_digest = messages.digest_of(self.content, algorithm) if last else None
        return messages.send_chunk(self.offset, sent_digest), encode_chunk(data, self.compression)

    def expected_reply(self) -> Accept:
        if self.is_last():
            return accepted(
                "TRANSFER_COMPLETED",
                all_of(
                    chunk_offset_check(self.offset),
                    optional_digest_check(self.content, effective_algorithm(self.digest_algorithm)),
                ),
                f"chunk.offset {self.offset}",
            )
        return accepted(
            "CHUNK_ACCEPTED", chunk_offset_check(self.offset), f"chunk.offset {self.offset}"
        )

    def send_next(self, step: str, digest: bool = True) -> Reply:
        """Send the next chunk; it must be accepted."""
        last = self.is_last()
        request, data = self.chunk(digest)
        reply = self.session.call(request, [self.expected_reply()], step, data)
        self.offset += self.next_size()
        if last:
            self.done = True
        return reply

    def finish(self, step: str = "send the remaining chunks") -> None:
        while not self.done:
            self.send_next(f"{step} (offset {self.offset})")

    def pipelined(self, step: str) -> list[tuple[pb.Request, bytes | None, list[Accept], str]]:
        """Every remaining chunk with the reply it must get, to send without waiting."""
        calls: list[tuple[pb.Request, bytes | None, list[Accept], str]] = []
        while not self.done:
            last = self.is_last()
            request, data = self.chunk()
            calls.append((request, data, [self.expected_reply()], f"{step} (offset {self.offset})"))
            self.offset += self.next_size()
            self.done = last
        return calls


@dataclass
class Download:
    """A download driven chunk by chunk (4.10)."""

    session: Session
    path: str
    content: bytes
    chunk_size: int
    offset: int = 0
    compression: int = pb.COMPRESSION_NONE
    done: bool = False
    modification_time_ns: int | None = None
    digest_algorithm: int = pb.DIGEST_ALGORITHM_UNSPECIFIED

    def start(self, step: str = "start a download") -> Reply:
        reply = self.session.call(
            messages.download_file(
                self.path, self.chunk_size, self.offset, self.compression, self.digest_algorithm
            ),
            [
                accepted(
                    "TRANSFER_ACCEPTED",
                    transfer_accepted_check(
                        len(self.content),
                        self.chunk_size,
                        range(self.offset, self.offset + 1),
                        self.compression,
                        self.modification_time_ns,
                        self.digest_algorithm,
                    ),
                    f"file_size {len(self.content)}, offset {self.offset}",
                )
            ],
            step,
        )
        self.done = False
        return reply

    def next_size(self) -> int:
        return min(self.chunk_size, len(self.content) - self.offset)

    def is_last(self) -> bool:
        return self.offset + self.next_size() >= len(self.content)

    def expected_reply(self) -> Accept:
        expected = self.content[self.offset : self.offset + self.next_size()]
        data_check = self._data_check(expected, self.offset)
        if self.is_last():
            return accepted(
                "TRANSFER_COMPLETED",
                all_of(
                    chunk_offset_check(self.offset),
                    all_of(data_check, digest_check(self.content, self.digest_algorithm)),
                ),
                f"the last {len(expected)} bytes at offset {self.offset} and the file's digest",
            )
        return accepted(
            "CHUNK_SENT",
            all_of(chunk_offset_check(self.offset), data_check),
            f"{len(expected)} bytes at offset {self.offset}",
        )

    def _data_check(self, expected: bytes, offset: int) -> ReplyCheck:
        compression = self.compression

        def check(reply: Reply) -> str | None:
            data = reply.data or b""
            if compression == pb.COMPRESSION_ZLIB:
                inflater = zlib.decompressobj()
                try:
                    data = inflater.decompress(data, len(expected) + 1)
                except zlib.error as error:
                    return f"the chunk is not a zlib stream: {error}"
                if not inflater.eof or inflater.unconsumed_tail or inflater.unused_data:
                    return "the chunk is not exactly one complete zlib stream (7.3)"
            if data != expected:
                return (
                    f"the data frame holds {len(data)} bytes that are not the file's "
                    f"{len(expected)} bytes at offset {offset}"
                )
            return None

        return check

    def receive_next(self, step: str) -> Reply:
        last = self.is_last()
        reply = self.session.call(messages.receive_chunk(), [self.expected_reply()], step)
        self.offset += self.next_size()
        if last:
            self.done = True
        return reply

    def finish(self, step: str = "receive the remaining chunks") -> None:
        while not self.done:
            self.receive_next(f"{step} (offset {self.offset})")

    def pipelined(self, step: str) -> list[tuple[pb.Request, bytes | None, list[Accept], str]]:
        """A RECEIVE_CHUNK for every remaining chunk with the reply it must get."""
        calls: list[tuple[pb.Request, bytes | None, list[Accept], str]] = []
        while not self.done:
            last = self.is_last()
            calls.append(
                (
                    messages.receive_chunk(),
                    None,
                    [self.expected_reply()],
                    f"{step} (offset {self.offset})",
                )
            )
            self.offset += self.next_size()
            self.done = last
        return calls


@dataclass
class Removal:
    """The removal of a non-empty directory through the DELETE state (4.11)."""

    session: Session
    path: str
    total: int
    removed: int = 0
    done: bool = False

    def start(self, step: str = "start removing a tree") -> Reply:
        total = self.total

        def check(reply: Reply) -> str | None:
            progress = reply.response.removal
            if progress.removed != 0 or progress.remaining != total:
                return (
                    f"removal is removed={progress.removed} remaining={progress.remaining}, "
                    f"expected removed=0 remaining={total} (the entries beneath it)"
                )
            return None

        reply = self.session.call(
            messages.remove_file(self.path),
            [accepted("REMOVAL_STARTED", check, f"removed 0, remaining {total}")],
            step,
        )
        self.done = False
        return reply

    def continue_once(self, step: str) -> Reply:
        """One CONTINUE_REMOVAL: ENTRIES_REMOVED with progress, or FILE_REMOVED at the end."""
        total, before = self.total, self.removed

        def progress_check(reply: Reply) -> str | None:
            progress = reply.response.removal
            if not before < progress.removed <= total:
                return f"removal.removed is {progress.removed}; it must grow, up to {total}"
            if progress.removed + progress.remaining != total:
                return (
                    f"removed {progress.removed} + remaining {progress.remaining} is not the "
                    f"{total} entries of the unchanged tree"
                )
            return None

        def final_check(reply: Reply) -> str | None:
            if reply.response.HasField("removal") and reply.response.removal.remaining != 0:
                return "FILE_REMOVED says entries remain"
            return None

        reply = self.session.call(
            messages.continue_removal(),
            [
                accepted(
                    "ENTRIES_REMOVED", progress_check, "removed grows, removed + remaining = total"
                ),
                accepted("FILE_REMOVED", final_check),
            ],
            step,
        )
        if reply.response.reason == pb.REASON_FILE_REMOVED:
            self.done = True
        else:
            self.removed = reply.response.removal.removed
        return reply

    def finish(self, step: str = "finish the removal") -> None:
        for _ in range(self.total + 2):
            if self.done:
                return
            self.continue_once(step)
        raise CaseFailure(step, f"the removal of {self.total} entries never ended")


Pending = Upload | Download | Removal | None


# -- reaching a state and checking it ------------------------------------------------------

#: The tree a fixture removes to reach DELETE: four entries beneath it.
DELETE_TREE = "tree"


def make_small_tree(fixture: Fixture, top: str = DELETE_TREE) -> None:
    """``top/`` holding ``a``, ``b`` and ``c/d``: four entries beneath it."""
    fixture.make_directory(top)
    fixture.create_file(f"{top}/a")
    fixture.create_file(f"{top}/b")
    fixture.make_directory(f"{top}/c")
    fixture.create_file(f"{top}/c/d")


def reach(fixture: Fixture, state: State, step: str = "") -> Pending:
    """Bring the server from IDLE to ``state`` the way a client does."""
    prefix = f"{step}: " if step else ""
    session = fixture.session
    if state is State.IDLE:
        return None
    if state is State.UPLOAD:
        content = content_of(multi_chunk_size(fixture.chunk_size), "pending")
        upload = Upload(session, fixture.path, "pending.bin", content, fixture.chunk_size)
        upload.start(f"{prefix}reach UPLOAD with UPLOAD_FILE")
        return upload
    if state is State.DOWNLOAD:
        download = Download(
            session, fixture.remote(DATA_FILE), fixture.model.content(DATA_FILE), fixture.chunk_size
        )
        download.start(f"{prefix}reach DOWNLOAD with DOWNLOAD_FILE")
        return download
    if not fixture.model.exists(DELETE_TREE):
        make_small_tree(fixture)
    removal = Removal(session, fixture.remote(DELETE_TREE), fixture.model.beneath(DELETE_TREE))
    removal.start(f"{prefix}reach DELETE with REMOVE_FILE of a non-empty directory")
    fixture.model.remove(DELETE_TREE)
    return removal


def continuation(pending: Pending) -> tuple[pb.Request, bytes | None] | None:
    """The request that would continue a transfer: illegal once the server is IDLE."""
    if isinstance(pending, Upload):
        if pending.done:
            return messages.send_chunk(pending.file_size), b""
        return pending.chunk()
    if isinstance(pending, Download):
        return messages.receive_chunk(), None
    if isinstance(pending, Removal):
        return messages.continue_removal(), None
    return None


def check_state(session: Session, state: State, pending: Pending, why: str = "") -> None:
    """Check that the server is in ``state``, by what the next request gets.

    :param pending: the transfer under way in ``state``; for IDLE, the one that just
        ended (if any), whose continuation must now be illegal.
    """
    suffix = f" ({why})" if why else ""
    if state is State.IDLE:
        following = continuation(pending)
        if following is not None:
            request, data = following
            session.call(
                request,
                [bad_request("illegal in IDLE")],
                f"state check: the server must be IDLE, so {messages.kind_of(request).upper()} "
                f"is illegal{suffix}",
                data,
            )
        session.call(
            messages.cancel_transfer(),
            [bad_request("illegal in IDLE")],
            f"state check: the server must be IDLE, so CANCEL_TRANSFER is illegal{suffix}",
        )
        return
    if state is State.UPLOAD:
        assert isinstance(pending, Upload)
        pending.send_next(
            f"state check: the server must be in UPLOAD, so the next chunk is accepted{suffix}"
        )
    elif state is State.DOWNLOAD:
        assert isinstance(pending, Download)
        pending.receive_next(
            f"state check: the server must be in DOWNLOAD, so the next chunk comes{suffix}"
        )
    else:
        assert isinstance(pending, Removal)
        pending.continue_once(
            f"state check: the server must be in DELETE, so the removal goes on{suffix}"
        )


def discard_staged(session: Session, upload: Upload) -> None:
    """Resume an interrupted upload and cancel it, so no staged data is left behind (4.12)."""
    session.quietly(upload.request(resume=True), "clean-up: resume the interrupted upload")
    session.quietly(messages.cancel_transfer(), "clean-up: cancel it, discarding its staged data")


def check_listing(fixture: Fixture, step: str, relative: str = "", recursive: bool = False) -> None:
    """The fixture's directory lists exactly what the model holds."""
    expected = fixture.model.listing(relative, recursive)
    fixture.session.call(
        fixture.listing_request(relative, recursive),
        [
            accepted(
                "FILES_LISTED",
                listing_check(expected),
                f"exactly {[entry.name for entry in expected]}",
            )
        ],
        step,
    )


#: Size of the big file of the cases that digest or copy: more than one read of 1 MiB.
BIG_FILE_BYTES = (1 << 20) + 3

#: Chunk size the big file is moved with, when the server's range allows it.
BIG_CHUNK_BYTES = 256 * 1024


def big_chunk_size(limits: pb.SessionOpened) -> int:
    """A chunk size inside the server's range, as close to 256 KiB as it allows."""
    return min(max(BIG_CHUNK_BYTES, limits.min_chunk_size), limits.max_chunk_size)


def upload_big_file(fixture: Fixture, relative: str, limits: pb.SessionOpened) -> bytes | None:
    """Upload a file of a little more than 1 MiB in big chunks, unless the server's size
    limit forbids it (None then): bugs of streaming show past the first buffer."""
    if limits.file_size_limit < BIG_FILE_BYTES:
        return None
    content = content_of(BIG_FILE_BYTES, relative)
    parent, _, name = relative.rpartition("/")
    upload = Upload(fixture.session, fixture.remote(parent), name, content, big_chunk_size(limits))
    upload.start(f"set-up: upload {relative} of {BIG_FILE_BYTES} bytes")
    upload.finish(f"set-up: upload {relative}")
    fixture.model.add_file(relative, content)
    return content


def check_tree(fixture: Fixture, step: str, chunk_size: int | None = None) -> None:
    """The whole tree below the fixture is what the model holds: a recursive listing
    with the right names, kinds and sizes, and every non-empty file downloaded whole."""
    check_listing(fixture, f"{step}: the recursive listing", recursive=True)
    for relative in sorted(fixture.model.nodes):
        if fixture.model.is_file(relative) and fixture.model.content(relative):
            check_content(
                fixture, relative, f"{step}: {relative} holds its bytes", chunk_size=chunk_size
            )


def check_content(
    fixture: Fixture,
    relative: str,
    step: str,
    content: bytes | None = None,
    chunk_size: int | None = None,
) -> None:
    """Download a file of the fixture and compare it with ``content`` (the model's by
    default), byte for byte and by its digest."""
    expected = fixture.model.content(relative) if content is None else content
    download = Download(
        fixture.session, fixture.remote(relative), expected, chunk_size or fixture.chunk_size
    )
    download.start(f"{step}: download it")
    download.finish(f"{step}: download it")


def check_gone(session: Session, path: str, step: str) -> None:
    """Nothing exists at ``path`` any more: listing it is FILE_NOT_FOUND (4.6)."""
    session.call(messages.list_files(path), [refused("FILE_NOT_FOUND", "nothing there")], step)


def listed(session: Session, directory: str, step: str) -> dict[str, pb.FileEntry]:
    """Every entry below ``directory`` (recursively), by its relative name."""
    reply = session.call(
        messages.list_files(directory, recursive=True), [accepted("FILES_LISTED")], step
    )
    return {entry.name: entry for entry in reply.response.file_list.entries}


def modification_times_check(
    expected: dict[str, int], what: str = "the modification time was kept"
) -> ReplyCheck:
    """A FILES_LISTED check: the entries named in ``expected`` have these times."""

    def check(reply: Reply) -> str | None:
        times = {
            entry.name: entry.modification_time_ns for entry in reply.response.file_list.entries
        }
        for name, time_ns in expected.items():
            if times.get(name) != time_ns:
                return f"{name} has modification_time_ns {times.get(name)}, not {time_ns}: {what}"
        return None

    return check


def check_times(fixture: Fixture, expected: dict[str, int], step: str, what: str) -> None:
    """The listing of the fixture shows these modification times (relative names)."""
    fixture.session.call(
        fixture.listing_request(recursive=True),
        [accepted("FILES_LISTED", modification_times_check(expected, what), what)],
        step,
    )


def file_digest_check(
    content: bytes,
    algorithm: int = pb.DIGEST_ALGORITHM_UNSPECIFIED,
    modification_time_ns: int | None = None,
) -> ReplyCheck:
    """FileDigestResult holds the digest of the whole file with the algorithm asked (never
    UNSPECIFIED), and the size and time of the file digested (4.16)."""
    algorithm = effective_algorithm(algorithm)
    name = algorithm_name(algorithm)
    hasher = new_hasher(algorithm)
    hasher.update(content)
    expected = hasher.digest()

    def check(reply: Reply) -> str | None:
        result = reply.response.file_digest_result
        if result.digest.algorithm != algorithm:
            return (
                f"file_digest_result.digest.algorithm is {result.digest.algorithm}, "
                f"expected {name} (4.16)"
            )
        if result.digest.value != expected:
            return f"the digest is not the {name} of the file's {len(content)} bytes (4.16)"
        if result.file_size != len(content):
            return f"file_digest_result.file_size is {result.file_size}, expected {len(content)}"
        if modification_time_ns is not None and result.modification_time_ns != modification_time_ns:
            return (
                f"file_digest_result.modification_time_ns is {result.modification_time_ns}, "
                f"the listing says {modification_time_ns}"
            )
        if result.modification_time_ns <= 0:
            return "file_digest_result.modification_time_ns is not set"
        return None

    return check


def check_digest(
    session: Session,
    path: str,
    content: bytes,
    step: str,
    algorithm: int = pb.DIGEST_ALGORITHM_UNSPECIFIED,
    modification_time_ns: int | None = None,
) -> Reply:
    """FILE_DIGEST of ``path`` is the digest of ``content`` (4.16)."""
    return session.call(
        messages.file_digest(path, algorithm),
        [
            accepted(
                "FILE_DIGESTED",
                file_digest_check(content, algorithm, modification_time_ns),
                f"the {algorithm_name(effective_algorithm(algorithm))} of {len(content)} bytes",
            )
        ],
        step,
    )
