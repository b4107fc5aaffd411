"""Batches of whole files (SPEC.md 4.17 UPLOAD_FILES, 4.18 DOWNLOAD_FILES): how the suite
builds them, and how it judges the answers, file by file.

A batch is sent as a client would send it: one BatchFile per file and the files' encoded
data one after another in the data frame. Any part of a file can be made wrong on
purpose (its digest, its sizes, its encoded bytes) to see the server refuse it or the
whole request. The compressions are written here again from section 7.3 (zlib, and zstd
where this installation has it), not borrowed from Remofile's own code.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

from remofile.conformance import messages
from remofile.conformance.expect import ReplyCheck, accepted
from remofile.conformance.session import Session
from remofile.conformance.spec import MAX_BATCH_MESSAGE_BYTES, TYPE_OF_REASON, reason_name
from remofile.conformance.wire import Reply
from remofile.core.digests import algorithm_name, effective_algorithm, new_hasher
from remofile.v1 import remofile_pb2 as pb

#: What a file that was transferred is answered, in a batch (4.17, 4.18).
DONE = "TRANSFER_COMPLETED"


def _zstd_module() -> ModuleType | None:
    """zstd as the standard library (3.14) or its backport has it; None without either."""
    try:
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        try:
            from backports import zstd  # type: ignore[import-not-found,unused-ignore,no-redef]
        except ImportError:
            return None
    return zstd  # type: ignore[no-any-return,unused-ignore]


_zstd = _zstd_module()


def can_encode(compression: int) -> bool:
    """Whether the suite can encode and decode ``compression`` here."""
    if compression == pb.COMPRESSION_ZSTD:
        return _zstd is not None
    return compression in (pb.COMPRESSION_UNSPECIFIED, pb.COMPRESSION_NONE, pb.COMPRESSION_ZLIB)


def compressions_to_try(limits: pb.SessionOpened) -> list[int]:
    """The real compressions the server announces and the suite can encode (7.3)."""
    return [
        value
        for value in (pb.COMPRESSION_ZLIB, pb.COMPRESSION_ZSTD)
        if value in limits.compressions and can_encode(value)
    ]


def compression_label(compression: int) -> str:
    try:
        return pb.Compression.Name(compression)  # type: ignore[arg-type]
    except ValueError:
        return f"compression {compression}"


def in_force(compression: int) -> int:
    """UNSPECIFIED means NONE (7.3)."""
    return pb.COMPRESSION_NONE if compression == pb.COMPRESSION_UNSPECIFIED else compression


def encode(content: bytes, compression: int) -> bytes:
    """A file's data as it travels in a batch: each file one complete stream (4.17, 7.3).
    A compression the suite does not know leaves the bytes as they are."""
    if compression == pb.COMPRESSION_ZLIB:
        return zlib.compress(content)
    if compression == pb.COMPRESSION_ZSTD and _zstd is not None:
        compressed: bytes = _zstd.compress(content)
        return compressed
    return content


def decode(data: bytes, compression: int, size: int) -> bytes | str:
    """The bytes ``data`` decodes to, never more than ``size`` + 1; or what is wrong."""
    if compression == pb.COMPRESSION_ZLIB:
        inflater = zlib.decompressobj()
        try:
            out = inflater.decompress(data, size + 1)
        except zlib.error as error:
            return f"not a zlib stream: {error}"
        if not inflater.eof or inflater.unconsumed_tail or inflater.unused_data:
            return "not exactly one complete zlib stream (7.3)"
        return out
    if compression == pb.COMPRESSION_ZSTD and _zstd is not None:
        decompressor = _zstd.ZstdDecompressor()
        try:
            out = decompressor.decompress(data, max_length=size + 1)
        except _zstd.ZstdError as error:
            return f"not a zstd frame: {error}"
        if not decompressor.eof or decompressor.unused_data:
            return "not exactly one complete zstd frame (7.3)"
        return bytes(out)
    return data


def digest_value(content: bytes, algorithm: int) -> bytes:
    """The digest of ``content`` with ``algorithm``; SHA-256 for one the suite lacks (a
    request that names it is refused before its digests are looked at)."""
    try:
        hasher = new_hasher(algorithm)
    except (KeyError, ValueError):
        hasher = new_hasher(pb.DIGEST_ALGORITHM_SHA256)
    hasher.update(content)
    return hasher.digest()


@dataclass(frozen=True)
class BatchEntry:
    """One file of an UPLOAD_FILES request, and what to make wrong in it on purpose."""

    directory: str
    name: str
    content: bytes
    modification_time_ns: int = 0
    #: The digest sent; None for the right one.
    digest: bytes | None = None
    #: The bytes sent in the data frame; None for the content, encoded.
    encoded: bytes | None = None
    #: The sizes announced; None for the true ones.
    file_size: int | None = None
    encoded_size: int | None = None


def upload_request(
    entries: Sequence[BatchEntry],
    compression: int = pb.COMPRESSION_UNSPECIFIED,
    algorithm: int = pb.DIGEST_ALGORITHM_UNSPECIFIED,
    conflict_mode: int = pb.CONFLICT_MODE_UNSPECIFIED,
) -> tuple[pb.Request, bytes]:
    """UPLOAD_FILES of ``entries`` and its data frame, as a client builds them (4.17)."""
    files: list[pb.BatchFile] = []
    pieces: list[bytes] = []
    for entry in entries:
        encoded = entry.encoded if entry.encoded is not None else encode(entry.content, compression)
        digest = entry.digest
        if digest is None:
            digest = digest_value(entry.content, algorithm)
        files.append(
            messages.batch_file(
                entry.directory,
                entry.name,
                len(entry.content) if entry.file_size is None else entry.file_size,
                digest,
                len(encoded) if entry.encoded_size is None else entry.encoded_size,
                entry.modification_time_ns,
            )
        )
        pieces.append(encoded)
    return messages.upload_files(files, compression, algorithm, conflict_mode), b"".join(pieces)


@dataclass(frozen=True)
class FileOutcome:
    """What one file of a batch may be answered, and for a file sent, what it holds."""

    #: The reasons the spec allows for this file (more than one where it allows a choice).
    reasons: tuple[str, ...]
    #: For a file downloaded: its bytes, and its modification time if it is known.
    content: bytes = b""
    modification_time_ns: int | None = None

    def describe(self) -> str:
        return " or ".join(self.reasons)


def stored() -> FileOutcome:
    """A file of an upload batch that must be stored."""
    return FileOutcome((DONE,))


def sent(content: bytes, modification_time_ns: int | None = None) -> FileOutcome:
    """A file of a download batch that must be sent, with these bytes."""
    return FileOutcome((DONE,), content, modification_time_ns)


def refused_file(*reasons: str) -> FileOutcome:
    """A file of a batch that must get one of these refusals (or errors)."""
    return FileOutcome(reasons)


def _result_problem(index: int, result: pb.FileResult, outcome: FileOutcome) -> str | None:
    """What is wrong with one FileResult, whatever the batch."""
    reason = reason_name(result.reason)
    if reason not in outcome.reasons:
        return f"file {index + 1}: {reason}, expected {outcome.describe()}"
    wanted_type = TYPE_OF_REASON.get(result.reason)
    if result.type != wanted_type:
        return f"file {index + 1}: {reason} comes with type {wanted_type}, not {result.type}"
    if len(result.message.encode("utf-8")) > MAX_BATCH_MESSAGE_BYTES:
        return (
            f"file {index + 1}: its message is longer than {MAX_BATCH_MESSAGE_BYTES} bytes (4.17)"
        )
    return None


def _settings_problem(batch: pb.BatchResult, count: int, compression: int, algorithm: int) -> str:
    """What is wrong with the parts of a BatchResult every batch has; '' if nothing."""
    if len(batch.files) != count:
        return f"batch.files holds {len(batch.files)} results for {count} files, not one each"
    if batch.compression != in_force(compression):
        return (
            f"batch.compression is {compression_label(batch.compression)}, expected "
            f"{compression_label(in_force(compression))} (never UNSPECIFIED)"
        )
    wanted = effective_algorithm(algorithm)
    if batch.digest_algorithm != wanted:
        return (
            f"batch.digest_algorithm is {algorithm_name(batch.digest_algorithm)}, expected "
            f"{algorithm_name(wanted)} (never UNSPECIFIED)"
        )
    return ""


def uploaded_check(outcomes: Sequence[FileOutcome], compression: int, algorithm: int) -> ReplyCheck:
    """FILES_UPLOADED: one result per file in the order of the request, each one the spec
    allows, with only type, reason and message set (4.17)."""

    def check(reply: Reply) -> str | None:
        batch = reply.response.batch
        problem = _settings_problem(batch, len(outcomes), compression, algorithm)
        if problem:
            return problem
        for index, (result, outcome) in enumerate(zip(batch.files, outcomes, strict=True)):
            problem_of_file = _result_problem(index, result, outcome)
            if problem_of_file:
                return problem_of_file
            if result.file_size or result.modification_time_ns or result.digest:
                return f"file {index + 1}: an upload's result sets fields other than its answer"
            if result.encoded_size:
                return f"file {index + 1}: an upload's result sets encoded_size"
        return None

    return check


def downloaded_check(
    outcomes: Sequence[FileOutcome],
    compression: int,
    algorithm: int,
    max_bytes: int,
) -> ReplyCheck:
    """FILES_DOWNLOADED: one result per path in order; each file sent with its size,
    time, digest and encoded size, its data in the data frame in order with nothing
    between; the frame at most ``max_bytes`` (4.18)."""
    used = in_force(compression)

    def check(reply: Reply) -> str | None:
        batch = reply.response.batch
        problem = _settings_problem(batch, len(outcomes), compression, algorithm)
        if problem:
            return problem
        data = reply.data or b""
        if len(data) > max_bytes:
            return f"the data frame holds {len(data)} bytes, more than max_chunk_size {max_bytes}"
        offset = 0
        for index, (result, outcome) in enumerate(zip(batch.files, outcomes, strict=True)):
            problem_of_file = _result_problem(index, result, outcome)
            if problem_of_file:
                return problem_of_file
            if result.reason != pb.REASON_TRANSFER_COMPLETED:
                if result.encoded_size:
                    return f"file {index + 1} was not sent, but its encoded_size is set"
                continue
            content = outcome.content
            if result.file_size != len(content):
                return f"file {index + 1}: file_size is {result.file_size}, not {len(content)}"
            if result.digest != digest_value(content, algorithm):
                return (
                    f"file {index + 1}: digest is not the "
                    f"{algorithm_name(effective_algorithm(algorithm))} of the file"
                )
            wanted_time = outcome.modification_time_ns
            if wanted_time is not None and result.modification_time_ns != wanted_time:
                return (
                    f"file {index + 1}: modification_time_ns is {result.modification_time_ns}, "
                    f"the listing says {wanted_time}"
                )
            if result.modification_time_ns <= 0:
                return f"file {index + 1}: modification_time_ns is not set"
            piece = data[offset : offset + result.encoded_size]
            if len(piece) != result.encoded_size:
                return f"file {index + 1}: encoded_size {result.encoded_size} runs past the data"
            offset += result.encoded_size
            decoded = decode(piece, used, len(content))
            if isinstance(decoded, str):
                return f"file {index + 1}: its data is {decoded}"
            if decoded != content:
                return f"file {index + 1}: its data is not the file's {len(content)} bytes"
        if offset != len(data):
            return (
                f"the data frame holds {len(data)} bytes, but the files sent take {offset}: "
                "nothing may be between or after them"
            )
        return None

    return check


def upload_batch(
    session: Session,
    entries: Sequence[BatchEntry],
    outcomes: Sequence[FileOutcome],
    step: str,
    compression: int = pb.COMPRESSION_UNSPECIFIED,
    algorithm: int = pb.DIGEST_ALGORITHM_UNSPECIFIED,
    conflict_mode: int = pb.CONFLICT_MODE_UNSPECIFIED,
) -> Reply:
    """Send UPLOAD_FILES; it must be FILES_UPLOADED with these results."""
    request, data = upload_request(entries, compression, algorithm, conflict_mode)
    note = ", ".join(outcome.describe() for outcome in outcomes)
    check = uploaded_check(outcomes, compression, algorithm)
    return session.call(request, [accepted("FILES_UPLOADED", check, note)], step, data)


def download_batch(
    session: Session,
    paths: Sequence[str],
    outcomes: Sequence[FileOutcome],
    step: str,
    max_bytes: int,
    compression: int = pb.COMPRESSION_UNSPECIFIED,
    algorithm: int = pb.DIGEST_ALGORITHM_UNSPECIFIED,
) -> Reply:
    """Send DOWNLOAD_FILES; it must be FILES_DOWNLOADED with these results and data."""
    request = messages.download_files(list(paths), compression, algorithm)
    note = ", ".join(outcome.describe() for outcome in outcomes)
    check = downloaded_check(outcomes, compression, algorithm, max_bytes)
    return session.call(request, [accepted("FILES_DOWNLOADED", check, note)], step)
