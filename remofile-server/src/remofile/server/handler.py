"""One session's protocol work: requests in, responses out, files through a Storage.

:class:`RequestHandler` drives the sans-IO :class:`~remofile.core.transitions.ProtocolMachine`:
it asks the machine whether a request is allowed, does the work through the storage
backend, and settles the machine with the reason of the answer. Exceptions become
reasons through one table, :data:`REASON_OF_EXCEPTION`. It knows nothing of sockets.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from concurrent.futures import Future
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass
from typing import Any

from remofile.core.compression import SUPPORTED_COMPRESSIONS as SUPPORTED_COMPRESSIONS
from remofile.core.compression import UndecodableChunk, compress_chunk, inflate_chunk
from remofile.core.digests import (
    DIGEST_BYTES,
    SUPPORTED_DIGEST_ALGORITHMS,
    Hasher,
    algorithm_name,
    effective_algorithm,
    new_hasher,
)
from remofile.core.framing import Frame
from remofile.core.limits import (
    MAX_BATCH_FILES,
    MAX_BATCH_MESSAGE_BYTES,
    MAX_LIST_ENTRIES,
    REMOVAL_BATCH_ENTRIES,
    max_message_bytes,
)
from remofile.core.names import is_file_name_valid
from remofile.core.paths import RemotePath, RemotePathError, split_remote_path
from remofile.core.transitions import (
    IllegalTransition,
    InvalidOutcome,
    ProtocolMachine,
    RequestKind,
    State,
)
from remofile.server.placement import Placer
from remofile.server.staging import is_full_storage_error
from remofile.server.storage import (
    FileReader,
    InvalidDestinationError,
    Removal,
    Storage,
    UploadTarget,
    WholeFile,
)
from remofile.v1 import remofile_pb2 as pb

logger = logging.getLogger("remofile.server")

#: Bytes of a listing entry besides its name: field tags, lengths and varints, at most.
LIST_ENTRY_OVERHEAD_BYTES = 32

#: Room kept in a listing response for everything but the entries.
LIST_MESSAGE_SLACK_BYTES = 1024


class Refusal(Exception):
    """The request is well formed but cannot be met: answered REFUSED ``reason``."""

    def __init__(self, reason: pb.Reason.ValueType, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class BadRequest(Exception):
    """The request breaks the protocol: answered ERROR BAD_REQUEST."""


class NameTakenError(FileExistsError):
    """An upload's name was taken by someone else before it could be placed: the file is
    not replaced, its staged data is discarded, and the last chunk is answered REFUSED
    FILE_ALREADY_EXISTS (SPEC.md section 4.9.2)."""

    def __init__(self) -> None:
        super().__init__("the name was taken by another process during the upload")


#: How exceptions raised while doing the work become reasons; first match wins.
REASON_OF_EXCEPTION: tuple[tuple[type[BaseException], pb.Reason.ValueType], ...] = (
    (BadRequest, pb.REASON_BAD_REQUEST),
    (RemotePathError, pb.REASON_BAD_REQUEST),
    (FileNotFoundError, pb.REASON_FILE_NOT_FOUND),
    (NotADirectoryError, pb.REASON_NOT_A_DIRECTORY),
    (FileExistsError, pb.REASON_FILE_ALREADY_EXISTS),
    (IsADirectoryError, pb.REASON_NOT_A_FILE),
    (InvalidDestinationError, pb.REASON_INVALID_DESTINATION),
)


@dataclass(frozen=True)
class Limits:
    """What the server accepts (SPEC.md section 5)."""

    file_size_limit: int
    min_chunk_size: int
    max_chunk_size: int
    #: fsync an upload before it becomes visible. Only turn it off where durability
    #: does not matter (a scratch file system, a benchmark).
    sync_writes: bool = True
    #: The digest algorithms transfers may use (SPEC.md section 7.2), SHA-256 among them.
    digest_algorithms: tuple[pb.DigestAlgorithm.ValueType, ...] = SUPPORTED_DIGEST_ALGORITHMS

    @property
    def max_message_size(self) -> int:
        return max_message_bytes(self.max_chunk_size)


@dataclass
class Reply:
    """A response and, for download chunks, its data frame."""

    response: pb.Response
    data: Frame | None = None
    #: A small upload being stored on a worker thread (placement.py): the response is
    #: sent once it is done, and becomes ERROR UNKNOWN_ERROR if it failed.
    pending: Future[None] | None = None
    #: Completes the response with what :attr:`pending` found (a batch's results).
    complete: Callable[[pb.Response], None] | None = None

    def settled(self) -> pb.Response:
        """The response to send, once :attr:`pending` (if any) is done."""
        if self.pending is None:
            return self.response
        error = self.pending.exception()
        if error is None:
            if self.complete is not None:
                self.complete(self.response)
            return self.response
        if is_full_storage_error(error):
            logger.warning("an upload was refused: the storage is full")
            return pb.Response(
                type=pb.RESPONSE_TYPE_REFUSED,
                reason=pb.REASON_INSUFFICIENT_STORAGE,
                message="no space left on the server's storage",
            )
        if isinstance(error, NameTakenError):
            return pb.Response(
                type=pb.RESPONSE_TYPE_REFUSED,
                reason=pb.REASON_FILE_ALREADY_EXISTS,
                message=str(error),
            )
        if not isinstance(error, OSError):
            logger.warning("storing an upload failed", exc_info=error)
        return pb.Response(
            type=pb.RESPONSE_TYPE_ERROR,
            reason=pb.REASON_UNKNOWN_ERROR,
            message=_message_of(error),
        )


def _inflate(upload: _Upload, data: Frame, expected: int) -> bytes:
    """A compressed upload chunk's bytes; BAD_REQUEST if it is not exactly ``expected``."""
    try:
        return inflate_chunk(data, upload.compression, expected)
    except UndecodableChunk as error:
        raise BadRequest(str(error)) from error


def _message_of(error: BaseException) -> str:
    """A message for the client that never reveals local paths."""
    if isinstance(error, OSError) and error.errno is not None:
        return error.strerror or type(error).__name__
    return str(error) or type(error).__name__


@dataclass
class _Upload:
    #: None for a file that arrives in one chunk: it is stored whole by
    #: :meth:`Storage.store_file`, and nothing is staged before.
    target: UploadTarget | None
    directory: RemotePath
    file_name: str
    file_size: int
    chunk_size: int
    next_offset: int
    compression: pb.Compression.ValueType
    digest_algorithm: pb.DigestAlgorithm.ValueType
    digest: Hasher
    modification_time_ns: int
    replace: bool

    @property
    def path(self) -> str:
        return "/".join((*self.directory, self.file_name))


@dataclass
class _Download:
    reader: FileReader
    file_size: int
    chunk_size: int
    next_offset: int
    compression: pb.Compression.ValueType
    digest_algorithm: pb.DigestAlgorithm.ValueType
    #: The digest of the data sent so far, for a download from byte 0. A download
    #: from an offset has none: its digest (of the whole file) is computed only if it
    #: reaches the end, so a read at an offset that is cancelled (a seek) costs no
    #: hashing of the bytes before it.
    digest: Hasher | None
    path: str


_Result = tuple["pb.Reason.ValueType", dict[str, Any], "Frame | None"]


class RequestHandler:
    """Answers the requests of the live session, one at a time, in order."""

    def __init__(self, storage: Storage, limits: Limits, placer: Placer | None = None) -> None:
        self.storage = storage
        self.limits = limits
        self.machine = ProtocolMachine()
        #: Stores one-chunk uploads on worker threads when the storage allows it.
        self._placer = placer if storage.stores_concurrently else None
        #: Files being stored by the placer, with their names.
        self._placing: dict[Future[None], frozenset[str]] = {}
        #: Set by the request being handled when its answer waits for the placer, with
        #: what completes the answer then.
        self._deferred: Future[None] | None = None
        self._complete: Callable[[pb.Response], None] | None = None
        self._upload: _Upload | None = None
        self._download: _Download | None = None
        self._removal: Removal | None = None
        self._handlers: dict[RequestKind, Callable[[Any, Frame | None], _Result]] = {
            RequestKind.LIST_FILES: self._list_files,
            RequestKind.CREATE_FILE: self._create_file,
            RequestKind.MAKE_DIRECTORY: self._make_directory,
            RequestKind.UPLOAD_FILE: self._upload_file,
            RequestKind.SEND_CHUNK: self._send_chunk,
            RequestKind.DOWNLOAD_FILE: self._download_file,
            RequestKind.RECEIVE_CHUNK: self._receive_chunk,
            RequestKind.CANCEL_TRANSFER: self._cancel_transfer,
            RequestKind.REMOVE_FILE: self._remove_file,
            RequestKind.CONTINUE_REMOVAL: self._continue_removal,
            RequestKind.MOVE_FILE: self._move_file,
            RequestKind.COPY_FILE: self._copy_file,
            RequestKind.FILE_DIGEST: self._file_digest,
            RequestKind.UPLOAD_FILES: self._upload_files,
            RequestKind.DOWNLOAD_FILES: self._download_files,
        }

    @property
    def state(self) -> State:
        return self.machine.state

    @property
    def features(self) -> list[pb.Feature.ValueType]:
        """The optional requests and modes this server has (SPEC.md 8.5): FILE_DIGEST
        always, the others as the storage declares them."""
        declared = (
            (self.storage.can_replace, pb.FEATURE_REPLACE),
            (self.storage.can_move, pb.FEATURE_MOVE),
            (self.storage.can_copy, pb.FEATURE_COPY),
            (True, pb.FEATURE_FILE_DIGEST),
            (self.storage.can_batch, pb.FEATURE_BATCH),
        )
        return [feature for has, feature in declared if has]

    def handle(self, request: pb.Request, kind_name: str, data: Frame | None) -> Reply:
        """Answer one request of the live session."""
        kind = RequestKind(kind_name)
        try:
            self.machine.rule_for(kind)
        except IllegalTransition as error:
            return Reply(
                pb.Response(
                    type=pb.RESPONSE_TYPE_ERROR, reason=pb.REASON_BAD_REQUEST, message=str(error)
                )
            )
        message = ""
        payload: dict[str, Any] = {}
        out_data: Frame | None = None
        self._deferred = self._complete = None
        try:
            reason, payload, out_data = self._handlers[kind](getattr(request, kind_name), data)
        except Refusal as refusal:
            reason, message = refusal.reason, str(refusal)
        except Exception as error:
            reason, message = self._reason_of(error, kind), _message_of(error)
        try:
            outcome = self.machine.settle(kind, reason)
        except InvalidOutcome:
            logger.error("bug: %s answered with %s", kind.name, pb.Reason.Name(reason))
            reason, message, payload, out_data = pb.REASON_UNKNOWN_ERROR, message, {}, None
            outcome = self.machine.settle(kind, reason)
        if outcome.next_state is State.IDLE:
            self._release_transfer(keep_for_resume=True)
        if outcome.response_type == pb.RESPONSE_TYPE_ERROR and not message:
            message = pb.Reason.Name(reason)
        return Reply(
            pb.Response(type=outcome.response_type, reason=reason, message=message, **payload),
            out_data,
            self._deferred,
            self._complete,
        )

    def wait_for_placements(self, names: AbstractSet[str] | None = None) -> None:
        """Wait until the files being stored (only those with one of ``names``, if given)
        are in place, so that the next request sees them (read your writes)."""
        self._placing = {
            future: taken for future, taken in self._placing.items() if not future.done()
        }
        waited = [
            future
            for future, taken in self._placing.items()
            if names is None or not taken.isdisjoint(names)
        ]
        if waited:
            futures_wait(waited)

    def end_session(self) -> None:
        """The session ended: abandon any transfer (keeping uploads resumable)."""
        self._release_transfer(keep_for_resume=True)
        self.machine.reset()

    # -- helpers ------------------------------------------------------------

    def _reason_of(self, error: BaseException, kind: RequestKind) -> pb.Reason.ValueType:
        for exception_type, reason in REASON_OF_EXCEPTION:
            if isinstance(error, exception_type):
                return reason
        if is_full_storage_error(error):
            # A condition of the moment, not a failure: one line, no traceback.
            logger.warning("%s refused: the storage is full", kind.name)
            rule = self.machine.rule_for(kind)
            if any(o.reason == pb.REASON_INSUFFICIENT_STORAGE for o in rule.outcomes):
                return pb.REASON_INSUFFICIENT_STORAGE
            return pb.REASON_UNKNOWN_ERROR
        logger.warning("request failed on the server", exc_info=error)
        return pb.REASON_UNKNOWN_ERROR

    def _release_transfer(self, keep_for_resume: bool) -> None:
        if self._upload is not None:
            if self._upload.target is not None:
                self._upload.target.abandon(keep_for_resume)
            self._upload = None
        if self._download is not None:
            self._download.reader.close()
            self._download = None
        if self._removal is not None:
            self.storage.abandon_removal(self._removal)
            self._removal = None

    def _check_name(self, name: str) -> None:
        if not is_file_name_valid(name):
            raise Refusal(pb.REASON_INVALID_FILE_NAME, f"invalid file name: {name!r}")

    def _check_chunk_size(self, chunk_size: int) -> None:
        if not self.limits.min_chunk_size <= chunk_size <= self.limits.max_chunk_size:
            raise Refusal(
                pb.REASON_INCORRECT_CHUNK_SIZE,
                f"chunk size must be between {self.limits.min_chunk_size} "
                f"and {self.limits.max_chunk_size} bytes",
            )

    def _check_file_size(self, file_size: int) -> None:
        if file_size > self.limits.file_size_limit:
            raise Refusal(
                pb.REASON_INCORRECT_FILE_SIZE,
                f"file is larger than the limit of {self.limits.file_size_limit} bytes",
            )

    def _replaces(self, mode: pb.ConflictMode.ValueType) -> bool:
        """Whether a request with this conflict mode replaces a file (SPEC.md 4.5.5);
        modes this version does not define refuse."""
        if mode != pb.CONFLICT_MODE_REPLACE:
            return False
        if not self.storage.can_replace:
            raise Refusal(pb.REASON_UNSUPPORTED_FEATURE, "this server cannot replace files")
        return True

    @staticmethod
    def _compression(value: pb.Compression.ValueType) -> pb.Compression.ValueType:
        if value == pb.COMPRESSION_UNSPECIFIED:
            return pb.COMPRESSION_NONE
        if value not in SUPPORTED_COMPRESSIONS:  # ZSTD only where this installation has it
            raise Refusal(pb.REASON_UNSUPPORTED_FEATURE, f"unsupported compression {value}")
        return value

    def _digest_algorithm(
        self, value: pb.DigestAlgorithm.ValueType
    ) -> pb.DigestAlgorithm.ValueType:
        algorithm = effective_algorithm(value)
        if algorithm not in self.limits.digest_algorithms:
            raise Refusal(
                pb.REASON_UNSUPPORTED_FEATURE, f"unsupported digest {algorithm_name(value)}"
            )
        return algorithm

    # -- 4.6 to 4.8 ---------------------------------------------------------

    def _list_files(self, request: pb.ListFiles, _data: Frame | None) -> _Result:
        directory = split_remote_path(request.directory)
        entries = self.storage.list_directory(directory, request.recursive)
        if request.start_after:
            entries = [entry for entry in entries if entry.name > request.start_after]
        limit = min(request.limit or MAX_LIST_ENTRIES, MAX_LIST_ENTRIES)
        file_list = pb.FileList()
        add = file_list.entries.add
        budget = self.limits.max_message_size - LIST_MESSAGE_SLACK_BYTES
        for count, entry in enumerate(entries):
            # An entry costs its name and at most ~32 bytes of fields and tags.
            budget -= len(entry.name.encode("utf-8")) + LIST_ENTRY_OVERHEAD_BYTES
            if count == limit or budget < 0:
                file_list.truncated = True
                break
            add(
                name=entry.name,
                is_directory=entry.is_directory,
                size=entry.size,
                modification_time_ns=entry.modification_time_ns,
            )
        return pb.REASON_FILES_LISTED, {"file_list": file_list}, None

    def _create_file(self, request: pb.CreateFile, _data: Frame | None) -> _Result:
        directory = split_remote_path(request.directory)
        self._check_name(request.name)
        self.storage.create_file(directory, request.name)
        logger.info("created file %s in /%s", request.name, "/".join(directory))
        return pb.REASON_FILE_CREATED, {}, None

    def _make_directory(self, request: pb.MakeDirectory, _data: Frame | None) -> _Result:
        directory = split_remote_path(request.directory)
        self._check_name(request.name)
        self.storage.make_directory(directory, request.name)
        logger.info("created directory %s in /%s", request.name, "/".join(directory))
        return pb.REASON_DIRECTORY_CREATED, {}, None

    # -- 4.9 upload ---------------------------------------------------------

    def _upload_file(self, request: pb.UploadFile, _data: Frame | None) -> _Result:
        directory = split_remote_path(request.directory)
        self._check_name(request.name)
        # A file of that name still being stored must be in place before the check.
        self.wait_for_placements({request.name})
        replace = self._replaces(request.conflict_mode)
        self.storage.check_new_entry(directory, request.name, replace)
        self._check_file_size(request.file_size)
        self._check_chunk_size(request.chunk_size)
        compression = self._compression(request.compression)
        digest_algorithm = self._digest_algorithm(request.digest_algorithm)
        digest = new_hasher(digest_algorithm)
        target: UploadTarget | None = None
        # A file of one chunk that does not resume is stored whole when it arrives.
        if request.resume or request.file_size > request.chunk_size:
            target = self.storage.begin_upload(
                directory,
                request.name,
                request.file_size,
                request.resume,
                self.limits.sync_writes,
                replace,
            )
            try:
                for block in target.staged_data():
                    digest.update(block)
            except Exception:
                target.abandon(keep_for_resume=False)
                raise
        offset = 0 if target is None else target.offset
        self._upload = _Upload(
            target,
            directory,
            request.name,
            request.file_size,
            request.chunk_size,
            offset,
            compression,
            digest_algorithm,
            digest,
            max(request.modification_time_ns, 0),
            replace,
        )
        accepted = pb.TransferAccepted(
            file_size=request.file_size,
            chunk_size=request.chunk_size,
            offset=offset,
            compression=compression,
            digest_algorithm=digest_algorithm,
        )
        return pb.REASON_TRANSFER_ACCEPTED, {"transfer_accepted": accepted}, None

    def _send_chunk(self, request: pb.SendChunk, data: Frame | None) -> _Result:
        upload = self._upload
        assert upload is not None
        assert data is not None
        if request.offset != upload.next_offset:
            raise BadRequest(f"chunk offset {request.offset}, expected {upload.next_offset}")
        expected = min(upload.chunk_size, upload.file_size - upload.next_offset)
        is_last = upload.next_offset + expected == upload.file_size
        if request.HasField("digest"):
            if not is_last:
                raise BadRequest("only the last chunk may carry a digest")
            # UNSPECIFIED stands for SHA256 here as everywhere (SPEC.md 4.9.2, 7.2).
            if effective_algorithm(request.digest.algorithm) != upload.digest_algorithm:
                raise BadRequest(
                    f"this upload's digest is {algorithm_name(upload.digest_algorithm)}, "
                    f"not {algorithm_name(request.digest.algorithm)}"
                )
            if len(request.digest.value) != DIGEST_BYTES:
                raise BadRequest(f"a digest is {DIGEST_BYTES} bytes")
        payload: Frame = (
            data if upload.compression == pb.COMPRESSION_NONE else _inflate(upload, data, expected)
        )
        view = memoryview(payload)
        if view.nbytes != expected:
            raise BadRequest(f"chunk of {view.nbytes} bytes, expected {expected}")
        if upload.target is not None:
            self._write_or_end(upload.target, lambda target: target.write(view))
        upload.digest.update(view)
        upload.next_offset += expected
        chunk = pb.ChunkInfo(offset=request.offset)
        if not is_last:
            return pb.REASON_CHUNK_ACCEPTED, {"chunk": chunk}, None
        if request.HasField("digest") and not hmac.compare_digest(
            request.digest.value, upload.digest.digest()
        ):
            if upload.target is not None:
                upload.target.abandon(keep_for_resume=False)
            self._upload = None
            raise Refusal(pb.REASON_DIGEST_MISMATCH, "the file received does not match")
        if upload.target is None:
            self._upload = None
            self._store_whole(upload, view)
            return pb.REASON_TRANSFER_COMPLETED, {"chunk": chunk}, None
        try:
            self._write_or_end(
                upload.target, lambda target: target.commit(upload.modification_time_ns)
            )
        except FileExistsError:
            self._upload = None
            raise NameTakenError() from None
        # Any other failure leaves the upload to _release_transfer, which keeps its data.
        self._upload = None
        logger.info("uploaded /%s (%d bytes)", upload.path, upload.file_size)
        return pb.REASON_TRANSFER_COMPLETED, {"chunk": chunk}, None

    def _write_or_end(self, target: UploadTarget, write: Callable[[UploadTarget], None]) -> None:
        """Write to a staged upload; when the storage is full, the upload ends and its
        staged data goes, so it blocks no other (SPEC.md 4.3)."""
        try:
            write(target)
        except OSError as error:
            if is_full_storage_error(error):
                target.abandon(keep_for_resume=False)
                self._upload = None
            raise

    def _store_whole(self, upload: _Upload, data: memoryview) -> None:
        """Store a file that came in one chunk: on the placer, the answer then waiting
        for it (:attr:`Reply.pending`), or here and now."""

        def store() -> None:
            try:
                self.storage.store_file(
                    upload.directory,
                    upload.file_name,
                    data,
                    upload.modification_time_ns,
                    self.limits.sync_writes,
                    upload.replace,
                )
            except FileExistsError:
                raise NameTakenError() from None
            logger.info("uploaded /%s (%d bytes)", upload.path, upload.file_size)

        if self._placer is None:
            store()
            return
        self._deferred = self._placer.submit(store)
        self._placing[self._deferred] = frozenset({upload.file_name})

    # -- 4.10 download ------------------------------------------------------

    def _download_file(self, request: pb.DownloadFile, _data: Frame | None) -> _Result:
        path = split_remote_path(request.path)
        info = self.storage.file_info(path)
        self._check_file_size(info.size)
        if request.offset > info.size:
            raise Refusal(
                pb.REASON_INCORRECT_FILE_SIZE,
                f"offset {request.offset} is past the end of the file ({info.size} bytes)",
            )
        self._check_chunk_size(request.chunk_size)
        compression = self._compression(request.compression)
        digest_algorithm = self._digest_algorithm(request.digest_algorithm)
        reader = self.storage.open_file(path)
        self._download = _Download(
            reader,
            info.size,
            request.chunk_size,
            request.offset,
            compression,
            digest_algorithm,
            new_hasher(digest_algorithm) if request.offset == 0 else None,
            "/".join(path),
        )
        accepted = pb.TransferAccepted(
            file_size=info.size,
            chunk_size=request.chunk_size,
            offset=request.offset,
            compression=compression,
            modification_time_ns=info.modification_time_ns,
            digest_algorithm=digest_algorithm,
        )
        return pb.REASON_TRANSFER_ACCEPTED, {"transfer_accepted": accepted}, None

    def _receive_chunk(self, _request: pb.ReceiveChunk, _data: Frame | None) -> _Result:
        download = self._download
        assert download is not None
        offset = download.next_offset
        size = min(download.chunk_size, download.file_size - offset)
        chunk_data = download.reader.read(offset, size)
        if download.digest is not None:
            download.digest.update(chunk_data)
        download.next_offset += size
        out = compress_chunk(chunk_data, download.compression)
        if download.next_offset < download.file_size:
            return pb.REASON_CHUNK_SENT, {"chunk": pb.ChunkInfo(offset=offset)}, out
        if download.digest is None:
            # A download that began at an offset reached the end: the digest covers the
            # whole file (SPEC 4.10.2), read once more from the file opened at the start.
            download.digest = new_hasher(download.digest_algorithm)
            position = 0
            while position < download.file_size:
                block = download.reader.read(position, min(download.file_size - position, 1 << 20))
                if not block:
                    break
                download.digest.update(block)
                position += len(block)
        digest = pb.Digest(
            algorithm=download.digest_algorithm,
            value=download.digest.digest(),
        )
        download.reader.close()
        self._download = None
        logger.info("downloaded /%s (%d bytes)", download.path, download.file_size)
        return (
            pb.REASON_TRANSFER_COMPLETED,
            {"chunk": pb.ChunkInfo(offset=offset, digest=digest)},
            out,
        )

    # -- 4.11 removal, 4.12 cancel ------------------------------------------

    def _remove_file(self, request: pb.RemoveFile, _data: Frame | None) -> _Result:
        path = split_remote_path(request.path)
        if not path:
            raise BadRequest("the root directory cannot be removed")
        try:
            removal = self.storage.remove(path)
        except NotADirectoryError as error:
            # An ancestor that is a file: the path names nothing (SPEC.md 4.11.1).
            raise FileNotFoundError(f"no such file or directory: /{'/'.join(path)}") from error
        if removal is None:
            logger.info("removed /%s", "/".join(path))
            return pb.REASON_FILE_REMOVED, {}, None
        self._removal = removal
        progress = pb.RemovalProgress(removed=0, remaining=removal.total)
        return pb.REASON_REMOVAL_STARTED, {"removal": progress}, None

    def _continue_removal(self, _request: pb.ContinueRemoval, _data: Frame | None) -> _Result:
        removal = self._removal
        assert removal is not None
        done = removal.remove_batch(REMOVAL_BATCH_ENTRIES)
        if done and removal.failed:
            self._removal = None
            logger.warning(
                "removed %d entries of a tree; %d could not be removed and are back in place",
                removal.removed,
                removal.failed,
            )
            incomplete = pb.RemovalProgress(removed=removal.removed, failed=removal.failed)
            return pb.REASON_REMOVAL_INCOMPLETE, {"removal": incomplete}, None
        progress = pb.RemovalProgress(
            removed=removal.removed, remaining=max(removal.total - removal.removed, 0)
        )
        if not done:
            return pb.REASON_ENTRIES_REMOVED, {"removal": progress}, None
        self._removal = None
        logger.info("removed a tree of %d entries", removal.total)
        return (
            pb.REASON_FILE_REMOVED,
            {"removal": pb.RemovalProgress(removed=removal.removed)},
            None,
        )

    # -- 4.14 to 4.16: moving, copying and digesting ----------------------

    def _move_file(self, request: pb.MoveFile, _data: Frame | None) -> _Result:
        source = split_remote_path(request.source)
        directory = split_remote_path(request.directory)
        if not self.storage.can_move:
            raise BadRequest("this server does not move files (no FEATURE_MOVE)")
        if not source:
            raise BadRequest("the root directory cannot be moved")
        self._check_name(request.name)
        replace = request.conflict_mode == pb.CONFLICT_MODE_REPLACE
        self.storage.move(source, directory, request.name, replace)
        logger.info("moved /%s to /%s", "/".join(source), "/".join((*directory, request.name)))
        return pb.REASON_FILE_MOVED, {}, None

    def _copy_file(self, request: pb.CopyFile, _data: Frame | None) -> _Result:
        source = split_remote_path(request.source)
        directory = split_remote_path(request.directory)
        if not self.storage.can_copy:
            raise BadRequest("this server does not copy files (no FEATURE_COPY)")
        self._check_name(request.name)
        replace = request.conflict_mode == pb.CONFLICT_MODE_REPLACE
        self.storage.copy_file(source, directory, request.name, replace, self.limits.sync_writes)
        logger.info("copied /%s to /%s", "/".join(source), "/".join((*directory, request.name)))
        return pb.REASON_FILE_COPIED, {}, None

    def _file_digest(self, request: pb.FileDigest, _data: Frame | None) -> _Result:
        path = split_remote_path(request.path)
        self.storage.file_info(path)  # FILE_NOT_FOUND and NOT_A_FILE come first (4.16)
        algorithm = self._digest_algorithm(request.algorithm)
        result = self.storage.file_digest(path, algorithm)
        digested = pb.FileDigestResult(
            digest=pb.Digest(algorithm=algorithm, value=result.value),
            file_size=result.size,
            modification_time_ns=result.modification_time_ns,
        )
        return pb.REASON_FILE_DIGESTED, {"file_digest_result": digested}, None

    # -- 4.17, 4.18: batches of whole files ----------------------------------

    def _batch_settings(
        self,
        count: int,
        compression: pb.Compression.ValueType,
        algorithm: pb.DigestAlgorithm.ValueType,
    ) -> tuple[pb.Compression.ValueType, pb.DigestAlgorithm.ValueType]:
        """The checks every batch starts with, in the order of SPEC.md 4.17 and 4.18."""
        if not self.storage.can_batch:
            raise BadRequest("this server takes no batches (no FEATURE_BATCH)")
        if not 1 <= count <= MAX_BATCH_FILES:
            raise BadRequest(f"a batch names 1 to {MAX_BATCH_FILES} files, not {count}")
        return self._compression(compression), self._digest_algorithm(algorithm)

    def _upload_files(self, request: pb.UploadFiles, data: Frame | None) -> _Result:
        compression, algorithm = self._batch_settings(
            len(request.files), request.compression, request.digest_algorithm
        )
        replace = self._replaces(request.conflict_mode)
        assert data is not None
        directories = [split_remote_path(file.directory) for file in request.files]
        contents = self._batch_contents(request, data, compression)
        results = [pb.FileResult() for _ in request.files]
        stored: list[WholeFile] = []
        positions: list[int] = []
        files = zip(request.files, directories, contents, strict=True)
        for index, (file, directory, content) in enumerate(files):
            try:
                self._check_name(file.name)
                self._check_file_size(file.file_size)
                hasher = new_hasher(algorithm)
                hasher.update(content)
                if not hmac.compare_digest(file.digest, hasher.digest()):
                    raise Refusal(pb.REASON_DIGEST_MISMATCH, "the file received does not match")
            except Exception as error:
                self._fill_refusal(results[index], error, RequestKind.UPLOAD_FILES)
                continue
            stored.append(
                WholeFile(directory, file.name, content, max(file.modification_time_ns, 0), replace)
            )
            positions.append(index)
        # Files of these names still being stored must be in place first, in order.
        names = frozenset(file.name for file in stored)
        self.wait_for_placements(names)

        def store() -> None:
            outcomes = self.storage.store_files(stored, self.limits.sync_writes)
            for index, outcome in zip(positions, outcomes, strict=True):
                if outcome is None:
                    results[index].type = pb.RESPONSE_TYPE_ACCEPTED
                    results[index].reason = pb.REASON_TRANSFER_COMPLETED
                else:
                    self._fill_refusal(results[index], outcome, RequestKind.UPLOAD_FILES)
            done = sum(outcome is None for outcome in outcomes)
            logger.info("uploaded %d of a batch of %d files", done, len(results))

        def complete(response: pb.Response) -> None:
            response.batch.files.extend(results)

        batch = pb.BatchResult(compression=compression, digest_algorithm=algorithm)
        if self._placer is None or not stored:
            store()
            batch.files.extend(results)
        else:
            self._deferred = self._placer.submit(store)
            self._complete = complete
            self._placing[self._deferred] = names
        return pb.REASON_FILES_UPLOADED, {"batch": batch}, None

    def _batch_contents(
        self, request: pb.UploadFiles, data: Frame, compression: pb.Compression.ValueType
    ) -> list[memoryview]:
        """Each file's bytes, out of the data frame; BAD_REQUEST, before anything is
        written, if the sizes and the data do not add up (SPEC.md 4.17)."""
        view = memoryview(data)
        if view.nbytes > self.limits.max_chunk_size:
            raise BadRequest(f"a batch carries at most {self.limits.max_chunk_size} bytes")
        if sum(file.encoded_size for file in request.files) != view.nbytes:
            raise BadRequest("the files' encoded sizes do not add up to the data frame")
        contents: list[memoryview] = []
        offset = 0
        for file in request.files:
            if file.file_size > self.limits.max_chunk_size:
                raise BadRequest(f"a file of a batch holds at most {self.limits.max_chunk_size}")
            if len(file.digest) != DIGEST_BYTES:
                raise BadRequest(f"a digest is {DIGEST_BYTES} bytes")
            encoded = view[offset : offset + file.encoded_size]
            offset += file.encoded_size
            if compression == pb.COMPRESSION_NONE:
                content = encoded
            else:
                try:
                    content = memoryview(inflate_chunk(encoded, compression, file.file_size))
                except UndecodableChunk as error:
                    raise BadRequest(f"{file.name!r}: {error}") from error
            if content.nbytes != file.file_size:
                raise BadRequest(f"{file.name!r}: {content.nbytes} bytes, not {file.file_size}")
            contents.append(content)
        return contents

    def _download_files(self, request: pb.DownloadFiles, _data: Frame | None) -> _Result:
        compression, algorithm = self._batch_settings(
            len(request.paths), request.compression, request.digest_algorithm
        )
        paths = [split_remote_path(path) for path in request.paths]
        room = self.limits.max_chunk_size
        largest = min(self.limits.max_chunk_size, self.limits.file_size_limit)
        batch = pb.BatchResult(compression=compression, digest_algorithm=algorithm)
        pieces: list[Frame] = []
        for path in paths:
            result = batch.files.add()
            try:
                # Uncompressed, a file must fit in the room left; compressed, it is read
                # if it may (SPEC.md 4.18: what must fit is its encoded data).
                most = min(largest, room) if compression == pb.COMPRESSION_NONE else largest
                read = self.storage.read_whole(path, most)
                if read.data is None:
                    raise Refusal(
                        pb.REASON_INCORRECT_FILE_SIZE,
                        f"{read.info.size} bytes: too large for this batch, use DOWNLOAD_FILE",
                    )
                encoded = compress_chunk(read.data, compression)
                if len(encoded) > room:
                    raise Refusal(
                        pb.REASON_INCORRECT_FILE_SIZE, "too large for this batch, use DOWNLOAD_FILE"
                    )
            except Exception as error:
                self._fill_refusal(result, error, RequestKind.DOWNLOAD_FILES)
                continue
            hasher = new_hasher(algorithm)
            hasher.update(read.data)
            room -= len(encoded)
            pieces.append(encoded)
            result.type = pb.RESPONSE_TYPE_ACCEPTED
            result.reason = pb.REASON_TRANSFER_COMPLETED
            result.file_size = read.info.size
            result.modification_time_ns = read.info.modification_time_ns
            result.digest = hasher.digest()
            result.encoded_size = len(encoded)
        sent = len(pieces)
        logger.info("downloaded %d of a batch of %d files", sent, len(paths))
        return pb.REASON_FILES_DOWNLOADED, {"batch": batch}, b"".join(pieces)

    def _fill_refusal(self, result: pb.FileResult, error: BaseException, kind: RequestKind) -> None:
        """A file of a batch that was not transferred: the answer the same fault gets
        as a request of its own (REFUSED, or ERROR UNKNOWN_ERROR), and a short message."""
        if isinstance(error, Refusal):
            reason = error.reason
        elif isinstance(error, NotADirectoryError) and kind is RequestKind.DOWNLOAD_FILES:
            reason = pb.REASON_FILE_NOT_FOUND  # an ancestor is a file: nothing there (4.5.3)
        elif is_full_storage_error(error):
            reason = pb.REASON_INSUFFICIENT_STORAGE
        else:
            reason = self._reason_of(error, kind)
        result.type = (
            pb.RESPONSE_TYPE_ERROR
            if reason in (pb.REASON_UNKNOWN_ERROR, pb.REASON_BAD_REQUEST)
            else pb.RESPONSE_TYPE_REFUSED
        )
        result.reason = reason
        message = _message_of(error).encode("utf-8")[:MAX_BATCH_MESSAGE_BYTES]
        result.message = message.decode("utf-8", "ignore")

    def _cancel_transfer(self, _request: pb.CancelTransfer, _data: Frame | None) -> _Result:
        self._release_transfer(keep_for_resume=False)
        return pb.REASON_TRANSFER_CANCELLED, {}, None
