"""Batches of whole small files (SPEC 4.17, 4.18): many files per request and answer.

A tree of small files sent one UPLOAD_FILE and one SEND_CHUNK per file costs two
requests, two answers and two turns of the server's loop per file, whatever the size.
Where the server announces FEATURE_BATCH, files that fit in one chunk travel instead in
UPLOAD_FILES and DOWNLOAD_FILES requests of up to MAX_BATCH_FILES files each, and the
server makes a whole batch durable at once. Each file still succeeds or fails on its
own; the first file that fails raises, as it would have on its own request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from remofile.client.pipeline import Outgoing
from remofile.client.session import Session
from remofile.core.exceptions import CorruptedResponse
from remofile.core.framing import Frame
from remofile.core.limits import MAX_BATCH_FILES, MESSAGE_OVERHEAD_BYTES
from remofile.v1 import remofile_pb2 as pb

#: Largest file sent in a batch rather than with UPLOAD_FILE/DOWNLOAD_FILE of its own.
BATCH_FILE_BYTES = 256 * 1024

#: Data a batch carries at most: a few batches fill the pipeline, so the server stores
#: one while the next arrives.
BATCH_DATA_BYTES = 2 * 1024 * 1024

#: Room kept in a request for its fields besides the files' entries.
_REQUEST_SLACK_BYTES = 4096

#: Bytes of a BatchFile or a path entry besides its names: tags, varints, the digest.
_ENTRY_BYTES = 64


def batch_limits(session: Session, chunk_size: int) -> tuple[int, int] | None:
    """``(largest file, most data per batch)`` for transfers in chunks of ``chunk_size``
    with this session's server, or None to send every file on its own: the server takes
    no batches (no FEATURE_BATCH: protocol 1.0 or 1.1), or the chunk size is outside its
    range, which only UPLOAD_FILE and DOWNLOAD_FILE report (ChunkSizeError)."""
    opened = session.server_info(None)
    if pb.FEATURE_BATCH not in opened.features:
        return None
    if not opened.min_chunk_size <= chunk_size <= opened.max_chunk_size:
        return None
    data = min(BATCH_DATA_BYTES, opened.max_chunk_size)
    return min(BATCH_FILE_BYTES, chunk_size, data), data


def failure_of(session: Session, kind: str, path: str, result: pb.FileResult) -> Exception:
    """The exception a file of a batch that failed stands for: the one its own request
    would have raised, its message naming the file."""
    message = f"{path}: {result.message or pb.Reason.Name(result.reason)}"
    response = pb.Response(type=result.type, reason=result.reason, message=message)
    return session._failure(kind, response)


@dataclass
class UploadBatch:
    """Files gathered for one UPLOAD_FILES request."""

    compression: pb.Compression.ValueType
    digest_algorithm: pb.DigestAlgorithm.ValueType
    conflict_mode: pb.ConflictMode.ValueType
    files: list[pb.BatchFile] = field(default_factory=list)
    data: list[Frame] = field(default_factory=list)
    data_bytes: int = 0
    #: An estimate of the Request frame's size, kept under MESSAGE_OVERHEAD_BYTES.
    request_bytes: int = _REQUEST_SLACK_BYTES

    def fits(self, encoded_size: int, directory: str, name: str, most_data: int) -> bool:
        entry = _ENTRY_BYTES + len(directory.encode()) + len(name.encode())
        return (
            len(self.files) < MAX_BATCH_FILES
            and self.data_bytes + encoded_size <= most_data
            and self.request_bytes + entry <= MESSAGE_OVERHEAD_BYTES
        )

    def add(self, file: pb.BatchFile, encoded: Frame) -> None:
        self.files.append(file)
        self.data.append(encoded)
        self.data_bytes += len(encoded)
        self.request_bytes += _ENTRY_BYTES + len(file.directory.encode()) + len(file.name.encode())

    def matches(
        self,
        compression: pb.Compression.ValueType,
        digest_algorithm: pb.DigestAlgorithm.ValueType,
        conflict_mode: pb.ConflictMode.ValueType,
    ) -> bool:
        return (compression, digest_algorithm, conflict_mode) == (
            self.compression,
            self.digest_algorithm,
            self.conflict_mode,
        )

    def request(self, session: Session) -> Outgoing:
        """The UPLOAD_FILES request, and the check of its answer."""
        files = self.files
        message = pb.UploadFiles(
            files=files,
            compression=self.compression,
            digest_algorithm=self.digest_algorithm,
            conflict_mode=self.conflict_mode,
        )

        def check(response: pb.Response, _data: Frame | None) -> None:
            results = _results(session, "upload_file", response, pb.REASON_FILES_UPLOADED)
            if len(results) != len(files):
                raise CorruptedResponse("a batch answered with another number of files")
            for file, result in zip(files, results, strict=True):
                if result.type != pb.RESPONSE_TYPE_ACCEPTED:
                    path = f"{file.directory.rstrip('/')}/{file.name}"
                    raise failure_of(session, "upload_file", path, result)

        return Outgoing("upload_files", message, check, b"".join(self.data))


def download_batch_request(
    session: Session,
    paths: list[str],
    compression: pb.Compression.ValueType,
    digest_algorithm: pb.DigestAlgorithm.ValueType,
    on_file: Callable[[int, pb.FileResult, memoryview], None],
    on_end: Callable[[], None],
) -> Outgoing:
    """A DOWNLOAD_FILES request for ``paths``; ``on_file(index, result, encoded)`` is
    called for each file of the answer in order, with its data as it travelled, then
    ``on_end()``, even when a file raised (what was verified before is still kept)."""
    message = pb.DownloadFiles(
        paths=paths, compression=compression, digest_algorithm=digest_algorithm
    )

    def check(response: pb.Response, data: Frame | None) -> None:
        results = _results(session, "download_file", response, pb.REASON_FILES_DOWNLOADED)
        if len(results) != len(paths):
            raise CorruptedResponse("a batch answered with another number of files")
        if response.batch.compression != compression:
            raise CorruptedResponse("a batch answered with another compression")
        view = memoryview(data if data is not None else b"")
        if sum(result.encoded_size for result in results) != view.nbytes:
            raise CorruptedResponse("a batch's sizes do not add up to its data")
        offset = 0
        try:
            for index, result in enumerate(results):
                on_file(index, result, view[offset : offset + result.encoded_size])
                offset += result.encoded_size
        finally:
            on_end()

    return Outgoing("download_files", message, check)


def path_entry_bytes(path: str) -> int:
    """What a path adds to a DOWNLOAD_FILES request, at most."""
    return _ENTRY_BYTES + len(path.encode())


def _results(
    session: Session, kind: str, response: pb.Response, reason: int
) -> list[pb.FileResult]:
    if response.type != pb.RESPONSE_TYPE_ACCEPTED or response.reason != reason:
        raise session._failure(kind, response)
    return list(response.batch.files)
