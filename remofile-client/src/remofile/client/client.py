"""The Remofile client: every primitive file operation of the protocol."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import io
import math
import os
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from remofile.client.connection import Connection
from remofile.client.errors import exception_for
from remofile.client.local_writer import LocalWriter
from remofile.client.pipeline import Channel, Outgoing, run_pipeline
from remofile.client.remote_file import RemoteWriter, open_remote
from remofile.core.credentials import validate_key, validate_token
from remofile.core.digests import (
    Hasher,
    effective_algorithm,
    new_hasher,
    preferred_algorithm,
)
from remofile.core.exceptions import (
    CorruptedResponse,
    DestinationNotFound,
    DigestMismatchError,
    FileNameError,
    SourceNotFound,
)
from remofile.core.framing import Frame
from remofile.core.limits import (
    DEFAULT_CHUNK_SIZE_BYTES,
    DEFAULT_PORT,
    DEFAULT_WINDOW_CHUNKS,
    MAX_NAME_BYTES,
    PROTOCOL_VERSION,
)
from remofile.core.names import is_file_name_valid
from remofile.core.paths import (
    RemotePath,
    join_remote_path,
    normalize_remote_path,
    split_remote_path,
)
from remofile.core.whole_files import write_whole_file
from remofile.v1 import remofile_pb2 as pb

#: How the client names itself in HELLO.
CLIENT_NAME = "remofile-python/1.0"

#: Suffix of the hidden file a download is written to before it is complete.
PARTIAL_SUFFIX = ".remofile-partial"

#: How long :meth:`Client.close` waits for the server to acknowledge GOODBYE.
GOODBYE_TIMEOUT_MS = 1000

#: Level used to compress upload chunks when compression is asked for.
ZLIB_LEVEL = 1

#: ``process_chunk(chunk_data, remaining_bytes, file_size, file_name)``
ChunkCallback = Callable[[bytes, int, int, str], Any]

#: ``process_removal(removed_entries, remaining_entries)``
RemovalCallback = Callable[[int, int], Any]


class FileMetadata(NamedTuple):
    """Metadata of a listed file: ``(is_directory, size, modification_time)``.

    ``size`` is 0 for a directory; ``modification_time`` is in seconds since the
    epoch, as ``os.stat().st_mtime``.
    """

    is_directory: bool
    size: int
    modification_time: float


def _chunk_count(file_size: int, offset: int, chunk_size: int) -> int:
    """Chunks a transfer takes: at least one, so an empty file is one empty chunk."""
    return max(1, math.ceil((file_size - offset) / chunk_size))


def _hash_prefix(fd: int, length: int, algorithm: pb.DigestAlgorithm.ValueType) -> Hasher:
    """The digest state after the first ``length`` bytes of a file, to resume a transfer."""
    digest = new_hasher(algorithm)
    position = 0
    while position < length:
        block = os.pread(fd, min(1 << 20, length - position), position)
        if not block:
            raise OSError("local file became shorter while resuming")
        digest.update(block)
        position += len(block)
    return digest


def _partial_name(name: str) -> str:
    """The hidden name a download of ``name`` is written to until it is complete.

    ``.<name>.remofile-partial``, or, when that would be longer than a file name may be,
    a digest of the name in its place: the same for every attempt, so resuming works.
    """
    partial = f".{name}{PARTIAL_SUFFIX}"
    if len(partial.encode("utf-8")) <= MAX_NAME_BYTES:
        return partial
    return f".{hashlib.sha256(name.encode('utf-8')).hexdigest()}{PARTIAL_SUFFIX}"


def _write_download(final: str, partial: str, data: memoryview, modification_time_ns: int) -> None:
    """Write a downloaded file that is whole in memory: unnamed until complete where the
    system allows (whole_files.py), else through its partial file. Runs on a writer thread."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(partial)  # left by an earlier download that was kept for a resume
    directory, name = os.path.split(final)
    if write_whole_file(directory, name, data, modification_time_ns, sync=False):
        return
    fd = os.open(
        partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644
    )
    try:
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)
    os.utime(partial, ns=(modification_time_ns, modification_time_ns))
    try:
        _place(partial, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise


def _place(partial: str, final: str) -> None:
    """Move a complete download into place without ever replacing an existing file."""
    try:
        os.link(partial, final)
    except FileExistsError:
        raise
    except OSError:
        if os.path.lexists(final):
            raise FileExistsError(final) from None
        os.rename(partial, final)
        return
    os.unlink(partial)


@dataclass
class _UploadJob:
    local_path: str
    directory: RemotePath
    name: str


@dataclass
class _DownloadJob:
    remote_path: RemotePath
    local_directory: str
    name: str
    #: Size from a listing: lets the chunk requests be pipelined without waiting.
    expected_size: int | None = None


class _Download:
    """One file being downloaded: a hidden partial file, moved into place when verified.

    A file that comes in one chunk (and is not resumed) never gets a partial file: it is
    verified in memory and written whole by the ``writer``'s threads (local_writer.py).
    """

    def __init__(
        self,
        job: _DownloadJob,
        chunk_size: int,
        process_chunk: ChunkCallback | None,
        resume: bool,
        failure: Callable[[str, pb.Response], Exception],
        digest_algorithm: pb.DigestAlgorithm.ValueType,
        writer: LocalWriter,
    ) -> None:
        self.job = job
        self.final = os.path.join(job.local_directory, job.name)
        if os.path.lexists(self.final):
            raise FileExistsError(f"already exists: {self.final}")
        self.partial = os.path.join(job.local_directory, _partial_name(job.name))
        self._chunk_size = chunk_size
        self._process_chunk = process_chunk
        self._resume = resume
        self._failure = failure
        self._writer = writer
        # A resumed download starts from its partial file; any other opens one (_open)
        # only if the file takes more than one chunk.
        self._fd = self._open(os.O_RDWR) if resume else -1
        self.offset = os.lseek(self._fd, 0, os.SEEK_END) if resume else 0
        self.next_offset = self.offset
        self.file_size = 0
        self.compression: int = pb.COMPRESSION_NONE
        self.modification_time_ns = 0
        self.digest_algorithm = digest_algorithm
        self.digest = (
            _hash_prefix(self._fd, self.offset, digest_algorithm)
            if self.offset
            else new_hasher(digest_algorithm)
        )
        self.completed = False

    def on_accepted(self, response: pb.Response, _data: Frame | None) -> None:
        if response.reason != pb.REASON_TRANSFER_ACCEPTED:
            if response.reason == pb.REASON_INCORRECT_FILE_SIZE and self.offset:
                # The file is now shorter than our partial copy: it changed, so the copy
                # is of no use and the next attempt starts from 0 (SPEC.md 7.1).
                os.ftruncate(self._fd, 0)
            raise self._failure("download_file", response)
        accepted = response.transfer_accepted
        if accepted.offset != self.offset:
            raise CorruptedResponse("download accepted at another offset")
        if effective_algorithm(accepted.digest_algorithm) != self.digest_algorithm:
            raise CorruptedResponse("download accepted with another digest algorithm")
        expected = self.job.expected_size
        if expected is not None and accepted.file_size != expected:
            raise SourceNotFound(f"{self.job.name} changed on the server during the transfer")
        self.file_size = accepted.file_size
        self.compression = accepted.compression
        self.modification_time_ns = accepted.modification_time_ns

    def on_chunk(self, response: pb.Response, data: Frame | None) -> None:
        if response.reason not in (pb.REASON_CHUNK_SENT, pb.REASON_TRANSFER_COMPLETED):
            raise self._failure("receive_chunk", response)
        if data is None or response.chunk.offset != self.next_offset:
            raise CorruptedResponse("chunk without data or at the wrong offset")
        expected = min(self._chunk_size, self.file_size - self.next_offset)
        chunk: Frame = data
        if self.compression == pb.COMPRESSION_ZLIB:
            chunk = _inflate(data, expected)
        view = memoryview(chunk)
        if view.nbytes != expected:
            raise CorruptedResponse(f"chunk of {view.nbytes} bytes, expected {expected}")
        if self._process_chunk is not None:
            remaining = self.file_size - self.next_offset
            self._process_chunk(bytes(view), remaining, self.file_size, self.job.name)
        self.digest.update(view)
        self.next_offset += expected
        last = response.reason == pb.REASON_TRANSFER_COMPLETED
        if last and self._fd < 0:
            self._verify(response.chunk.digest)
            self._writer.submit(
                functools.partial(
                    _write_download, self.final, self.partial, view, self.modification_time_ns
                )
            )
            self.completed = True
            return
        if self._fd < 0:
            self._fd = self._open(os.O_WRONLY | os.O_TRUNC)
        while view:
            view = view[os.write(self._fd, view) :]
        if last:
            self._complete(response.chunk.digest)

    def _open(self, flags: int) -> int:
        return os.open(self.partial, flags | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)

    def _verify(self, digest: pb.Digest) -> None:
        if self.next_offset != self.file_size:
            raise CorruptedResponse("transfer completed before the end of the file")
        if digest.algorithm != self.digest_algorithm:
            raise CorruptedResponse(
                "the last chunk of a download carries no digest of its algorithm"
            )
        if not hmac.compare_digest(digest.value, self.digest.digest()):
            if self._fd >= 0:
                os.ftruncate(self._fd, 0)
            raise DigestMismatchError(f"{self.job.name}: the file received is corrupted")

    def _complete(self, digest: pb.Digest) -> None:
        self._verify(digest)
        os.close(self._fd)
        self._fd = -1
        mtime = self.modification_time_ns
        os.utime(self.partial, ns=(mtime, mtime))
        _place(self.partial, self.final)
        self.completed = True

    def abandon(self) -> None:
        """Release the partial file: kept for a resume if asked, removed otherwise."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if not self.completed and not self._resume:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.partial)


class Client(Channel):
    """Remofile client.

    A synchronous and "connectionless" interface to a remote directory: a connection
    and a session are made behind the scenes when needed and made again after a timeout
    or an expired session, so the caller only deals with exceptions. All production code
    should pass a timeout; a call that waits longer raises TimeoutError.

    :param hostname: the server's address ("localhost", an IP address), or a full
        ZeroMQ endpoint such as ``tcp://127.0.0.1:6768`` or ``ipc:///run/remofile.sock``
        (then ``port`` is ignored).
    :param port: the server's TCP port.
    :param token: the server's token.
    :param public_key: the server's CURVE public key, if it encrypts.
    :param window: chunk requests kept in flight during transfers.
    :raises ValueError: if the token or the public key is not valid.
    """

    def __init__(
        self,
        hostname: str,
        port: int | None,
        token: str,
        public_key: str | None = None,
        *,
        window: int = DEFAULT_WINDOW_CHUNKS,
    ) -> None:
        self._token = validate_token(token)
        if public_key is not None:
            validate_key(public_key)
        if "://" in hostname:
            endpoint = hostname
        else:
            host = f"[{hostname}]" if ":" in hostname else hostname
            endpoint = f"tcp://{host}:{port if port is not None else DEFAULT_PORT}"
        if window < 1:
            raise ValueError("window must be at least 1")
        self.window = window
        self._connection = Connection(endpoint, public_key)
        self._session_id = b""
        self._session: pb.SessionOpened | None = None
        self._needs_reset = False
        #: When the last request was sent (time.monotonic()), to tell a silent session.
        self._last_sent = 0.0

    @property
    def endpoint(self) -> str:
        return self._connection.endpoint

    def close(self) -> None:
        """End the session (so the server is free for others) and release the socket."""
        if self._session is not None:
            # GOODBYE ends the session whatever state a failed call left it in.
            with contextlib.suppress(Exception):
                self._exchange("goodbye", pb.Goodbye(), GOODBYE_TIMEOUT_MS)
        self._session = None
        self._session_id = b""
        self._connection.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- the channel ----------------------------------------------------------

    def send_request(self, kind: str, message: Any, data: Frame | None) -> None:
        request = pb.Request(token=self._token, session_id=self._session_id)
        getattr(request, kind).CopyFrom(message)
        self._connection.send(request, data)
        self._last_sent = time.monotonic()

    def receive_response(self, timeout_ms: int | None) -> tuple[pb.Response, Frame | None]:
        try:
            return self._connection.receive(timeout_ms)
        except TimeoutError:
            self._needs_reset = True
            raise

    def _exchange(
        self, kind: str, message: Any, timeout: int | None
    ) -> tuple[pb.Response, Frame | None]:
        self.send_request(kind, message, None)
        return self.receive_response(timeout)

    # -- sessions -------------------------------------------------------------

    def _ensure_session(self, timeout: int | None) -> pb.SessionOpened:
        """Open a session, or reopen ours to bring the server back to IDLE after a failure
        or after a silence long enough for the server to have closed it."""
        if self._session is not None and not self._needs_reset and not self._may_have_expired():
            return self._session
        response, _ = self._exchange(
            "hello", pb.Hello(protocol_version=PROTOCOL_VERSION, client_name=CLIENT_NAME), timeout
        )
        if response.reason == pb.REASON_SESSION_OPENED and response.HasField("session_opened"):
            self._session = response.session_opened
            self._session_id = response.session_opened.session_id
            self._needs_reset = False
            return self._session
        raise self._failure("hello", response)

    def _may_have_expired(self) -> bool:
        """Whether we were silent for half the session timeout or more.

        The server may then have closed the session, and a transfer would start with a
        SESSION_EXPIRED that cannot be retried without replaying chunks: reopen first
        (HELLO with our id simply replaces a session that is still live). Half leaves
        room for the time requests spend on the way.
        """
        assert self._session is not None
        timeout_ms = self._session.session_timeout_ms
        return timeout_ms > 0 and (time.monotonic() - self._last_sent) * 2000 >= timeout_ms

    def _digest_algorithm(self) -> pb.DigestAlgorithm.ValueType:
        """The fastest digest algorithm both ends have, for the transfers of this session."""
        announced = self._session.digest_algorithms if self._session is not None else ()
        return preferred_algorithm(announced)

    def server_info(self, timeout: int | None = None) -> pb.SessionOpened:
        """What the server announced when the session opened: limits and capabilities."""
        return self._ensure_session(timeout)

    def _failure(self, kind: str, response: pb.Response) -> Exception:
        if response.type in (pb.RESPONSE_TYPE_REFUSED, pb.RESPONSE_TYPE_ERROR):
            if response.reason == pb.REASON_SESSION_EXPIRED:
                self._session = None
                self._session_id = b""
            return exception_for(kind, response)
        return CorruptedResponse(
            f"unexpected answer to {kind}",
            f"{pb.ResponseType.Name(response.type)} {pb.Reason.Name(response.reason)}",
        )

    def _call(self, kind: str, message: Any, timeout: int | None, *accepted: int) -> pb.Response:
        """One request and its answer; an expired session is reopened once, transparently."""
        for attempt in (1, 2):
            self._ensure_session(timeout)
            response, _ = self._exchange(kind, message, timeout)
            if response.reason == pb.REASON_SESSION_EXPIRED and attempt == 1:
                self._session = None
                continue
            if response.type == pb.RESPONSE_TYPE_ACCEPTED and response.reason in accepted:
                return response
            raise self._failure(kind, response)
        raise AssertionError("unreachable")

    def _run(self, requests: Iterator[Outgoing], timeout: int | None) -> None:
        """Run a pipeline of transfer requests; on any failure, reset the server's state."""
        window = min(self.window, max(1, self._ensure_session(timeout).max_requests_in_flight))
        try:
            run_pipeline(self, requests, window, timeout)
        except BaseException:
            self._abandon()
            raise

    def _abandon(self) -> None:
        """Forget an exchange that failed half-way.

        Answers may still be in flight and the server may be mid-transfer: drop the
        socket, and reopen our session before the next request, which brings the
        server back to IDLE (SPEC.md section 3.2).
        """
        self._connection.reset()
        self._needs_reset = True

    # -- listing and creating (SPEC 4.6 to 4.8) -------------------------------

    def list_entries(
        self, directory: str | os.PathLike[str], timeout: int | None = None, recursive: bool = False
    ) -> list[pb.FileEntry]:
        """All entries of a remote directory, every page, sorted by name."""
        path = normalize_remote_path(directory)
        entries: list[pb.FileEntry] = []
        start_after = ""
        while True:
            request = pb.ListFiles(directory=path, recursive=recursive, start_after=start_after)
            response = self._call("list_files", request, timeout, pb.REASON_FILES_LISTED)
            entries.extend(response.file_list.entries)
            if not response.file_list.truncated or not response.file_list.entries:
                return entries
            start_after = response.file_list.entries[-1].name

    def list_files(
        self, directory: str | os.PathLike[str], timeout: int | None = None, recursive: bool = False
    ) -> dict[str, FileMetadata]:
        """List files in the remote directory.

        Returns a dictionary associating file names with their metadata, a
        :class:`FileMetadata` tuple ``(is_directory, size, modification_time)``::

            {'foo.bin': (False, 423, 1654646515.0), 'bar': (True, 0, 1654646515.0)}

        With ``recursive``, sub-directories are listed too and the keys are paths
        relative to ``directory`` (``'bar/baz.txt'``).

        :param directory: the remote directory, an absolute path.
        :param timeout: how many milliseconds to wait before giving up.
        :raises ValueError: if the directory is not an absolute path.
        :raises FileNotFoundError: if the directory does not exist.
        :raises NotADirectoryError: if the directory is not a directory.
        :raises TimeoutError: if no response came within the timeout.
        """
        return {
            entry.name: FileMetadata(
                entry.is_directory, entry.size, entry.modification_time_ns / 1e9
            )
            for entry in self.list_entries(directory, timeout, recursive)
        }

    def create_file(
        self, name: str, directory: str | os.PathLike[str], timeout: int | None = None
    ) -> None:
        """Create an empty file ``name`` in a remote directory.

        :raises ValueError: if the directory is not an absolute path.
        :raises FileNotFoundError: if the directory does not exist.
        :raises NotADirectoryError: if the directory is not a directory.
        :raises FileNameError: if the name is not a valid file name.
        :raises FileExistsError: if the name is taken by a file or directory.
        :raises TimeoutError: if no response came within the timeout.
        """
        path = normalize_remote_path(directory)
        if not is_file_name_valid(name):
            raise FileNameError(f"invalid file name: {name!r}")
        request = pb.CreateFile(name=name, directory=path)
        self._call("create_file", request, timeout, pb.REASON_FILE_CREATED)

    def make_directory(
        self, name: str, directory: str | os.PathLike[str], timeout: int | None = None
    ) -> None:
        """Create an empty directory ``name`` in a remote directory.

        Raises as :meth:`create_file`.
        """
        path = normalize_remote_path(directory)
        if not is_file_name_valid(name):
            raise FileNameError(f"invalid file name: {name!r}")
        request = pb.MakeDirectory(name=name, directory=path)
        self._call("make_directory", request, timeout, pb.REASON_DIRECTORY_CREATED)

    # -- uploading (SPEC 4.9) ---------------------------------------------------

    def _check_chunk_size(self, chunk_size: int) -> None:
        if not isinstance(chunk_size, int) or chunk_size <= 0:
            raise ValueError("chunk size must be a positive number of bytes")

    def _upload_requests(
        self,
        jobs: Iterator[_UploadJob | tuple[RemotePath, str]],
        chunk_size: int,
        process_chunk: ChunkCallback | None,
        resume: bool,
        compress: bool,
    ) -> Iterator[Outgoing]:
        """The requests of a series of uploads (and the directories they go in)."""
        top = True
        for job in jobs:
            if isinstance(job, tuple):
                parent, name = job
                # The first directory is the top of an upload_directory: a destination
                # that is missing or not a directory is its DestinationNotFound.
                kind = "upload_directory" if top else "make_directory"
                top = False
                yield Outgoing(
                    "make_directory",
                    pb.MakeDirectory(name=name, directory=join_remote_path(parent)),
                    self._expect(kind, pb.REASON_DIRECTORY_CREATED),
                )
                continue
            yield from self._one_upload(job, chunk_size, process_chunk, resume, compress)

    def _expect(self, kind: str, *reasons: int) -> Callable[[pb.Response, Frame | None], None]:
        def check(response: pb.Response, _data: Frame | None) -> None:
            if response.type != pb.RESPONSE_TYPE_ACCEPTED or response.reason not in reasons:
                raise self._failure(kind, response)

        return check

    def _one_upload(
        self,
        job: _UploadJob,
        chunk_size: int,
        process_chunk: ChunkCallback | None,
        resume: bool,
        compress: bool,
    ) -> Iterator[Outgoing]:
        fd = os.open(job.local_path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            info = os.fstat(fd)
            file_size, modification_time_ns = info.st_size, info.st_mtime_ns
            started_at = [0]  # where the server wants the data from, set on acceptance
            compression = pb.COMPRESSION_ZLIB if compress else pb.COMPRESSION_NONE
            digest_algorithm = self._digest_algorithm()

            def on_accepted(response: pb.Response, _data: Frame | None) -> None:
                if response.reason != pb.REASON_TRANSFER_ACCEPTED:
                    raise self._failure("upload_file", response)
                accepted = response.transfer_accepted
                if accepted.offset > file_size or accepted.file_size != file_size:
                    raise CorruptedResponse("upload accepted with an impossible offset or size")
                if effective_algorithm(accepted.digest_algorithm) != digest_algorithm:
                    raise CorruptedResponse("upload accepted with another digest algorithm")
                started_at[0] = accepted.offset

            def on_chunk(response: pb.Response, _data: Frame | None) -> None:
                if response.reason not in (pb.REASON_CHUNK_ACCEPTED, pb.REASON_TRANSFER_COMPLETED):
                    raise self._failure("send_chunk", response)

            yield Outgoing(
                "upload_file",
                pb.UploadFile(
                    name=job.name,
                    directory=join_remote_path(job.directory),
                    file_size=file_size,
                    chunk_size=chunk_size,
                    resume=resume,
                    compression=compression,
                    modification_time_ns=modification_time_ns,
                    digest_algorithm=digest_algorithm,
                ),
                on_accepted,
                barrier=resume,
            )
            offset = started_at[0]
            digest = (
                _hash_prefix(fd, offset, digest_algorithm)
                if offset
                else new_hasher(digest_algorithm)
            )
            count = _chunk_count(file_size, offset, chunk_size)
            for index in range(count):
                size = min(chunk_size, file_size - offset)
                chunk = os.pread(fd, size, offset) if size else b""
                if len(chunk) != size:
                    raise OSError(f"{job.local_path} became shorter while uploading")
                digest.update(chunk)
                if process_chunk is not None:
                    process_chunk(chunk, file_size - offset, file_size, job.name)
                message = pb.SendChunk(offset=offset)
                if index == count - 1:
                    message.digest.algorithm = digest_algorithm
                    message.digest.value = digest.digest()
                data = zlib.compress(chunk, ZLIB_LEVEL) if compress else chunk
                yield Outgoing("send_chunk", message, on_chunk, data)
                offset += size
        finally:
            os.close(fd)

    def _prepare_upload(
        self,
        source: str | os.PathLike[str],
        destination: str | os.PathLike[str],
        name: str | None,
        chunk_size: int,
        want_directory: bool,
    ) -> tuple[str, RemotePath, str]:
        remote = split_remote_path(destination)
        self._check_chunk_size(chunk_size)
        local = os.path.abspath(os.fspath(source))
        is_right_kind = os.path.isdir(local) if want_directory else os.path.isfile(local)
        if not is_right_kind:
            kind = "directory" if want_directory else "file"
            raise SourceNotFound(f"source is not an existing {kind}: {os.fspath(source)}")
        final_name = os.path.basename(local.rstrip(os.sep)) if name is None else name
        if not is_file_name_valid(final_name):
            raise FileNameError(f"invalid file name: {final_name!r}")
        return local, remote, final_name

    def upload_file(
        self,
        source: str | os.PathLike[str],
        destination: str | os.PathLike[str],
        name: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE_BYTES,
        process_chunk: ChunkCallback | None = None,
        timeout: int | None = None,
        *,
        resume: bool = False,
        compress: bool = False,
    ) -> None:
        """Upload a file to a directory of the remote directory.

        The file lands under its own name, or ``name``, and becomes visible only once
        complete and verified. ``process_chunk(chunk_data, remaining_bytes, file_size,
        file_name)`` is called with each chunk before it is sent; ``remaining_bytes``
        includes the current chunk. With ``resume``, an upload of the same file that was
        interrupted (not cancelled) continues where it stopped. With ``compress``, chunks
        travel compressed with zlib.

        :raises ValueError: if the destination is not absolute or the chunk size invalid.
        :raises SourceNotFound: if the source does not exist or is not a file.
        :raises DestinationNotFound: if the destination does not exist or is not a directory.
        :raises FileExistsError: if the name is taken in the destination.
        :raises FileNameError: if the name is not valid.
        :raises FileSizeError: if the file is over the server's file size limit.
        :raises ChunkSizeError: if the chunk size is outside the server's range.
        :raises TimeoutError: if a response took longer than ``timeout`` milliseconds.
        """
        local, remote, final_name = self._prepare_upload(
            source, destination, name, chunk_size, want_directory=False
        )
        jobs = iter([_UploadJob(local, remote, final_name)])
        self._run(self._upload_requests(jobs, chunk_size, process_chunk, resume, compress), timeout)

    def upload_directory(
        self,
        source: str | os.PathLike[str],
        destination: str | os.PathLike[str],
        name: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE_BYTES,
        process_chunk: ChunkCallback | None = None,
        timeout: int | None = None,
        *,
        compress: bool = False,
        exclude: Callable[[str], bool] | None = None,
    ) -> None:
        """Upload a whole directory into a directory of the remote directory.

        Files and sub-directories are created in order; requests for many small files
        are pipelined, so a tree does not cost a round trip per file. Symbolic links are
        followed. Raises as :meth:`upload_file`, with SourceNotFound if the source is
        not a directory. ``exclude(relative_path)`` returning True leaves that file or
        directory (a path relative to the source, with ``/`` separators) out.
        """
        local, remote, final_name = self._prepare_upload(
            source, destination, name, chunk_size, want_directory=True
        )
        self._run(
            self._upload_requests(
                self._directory_jobs(local, (*remote, final_name), remote, final_name, exclude),
                chunk_size,
                process_chunk,
                False,
                compress,
            ),
            timeout,
        )

    def _directory_jobs(
        self,
        local: str,
        top: RemotePath,
        parent: RemotePath,
        name: str,
        exclude: Callable[[str], bool] | None = None,
    ) -> Iterator[_UploadJob | tuple[RemotePath, str]]:
        yield (parent, name)
        pending: list[tuple[str, RemotePath]] = [(local, top)]
        while pending:
            local_directory, remote_directory = pending.pop()
            with os.scandir(local_directory) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
            for entry in entries:
                relative = "/".join((*remote_directory[len(top) :], entry.name))
                if exclude is not None and exclude(relative):
                    continue
                if not is_file_name_valid(entry.name):
                    raise FileNameError(f"invalid file name: {entry.path!r}")
                if entry.is_dir():
                    yield (remote_directory, entry.name)
                    pending.append((entry.path, (*remote_directory, entry.name)))
                elif entry.is_file():
                    yield _UploadJob(entry.path, remote_directory, entry.name)

    # -- downloading (SPEC 4.10) ------------------------------------------------

    def _download_requests(
        self,
        jobs: Iterator[_DownloadJob | str],
        chunk_size: int,
        process_chunk: ChunkCallback | None,
        resume: bool,
        compress: bool,
        started: list[_Download],
        writer: LocalWriter,
    ) -> Iterator[Outgoing]:
        """The requests of a series of downloads; each download is added to ``started``."""
        for job in jobs:
            if isinstance(job, str):
                os.mkdir(job)
                continue
            download = _Download(
                job,
                chunk_size,
                process_chunk,
                resume,
                self._failure,
                self._digest_algorithm(),
                writer,
            )
            started.append(download)
            request = pb.DownloadFile(
                path=join_remote_path(job.remote_path),
                chunk_size=chunk_size,
                offset=download.offset,
                compression=pb.COMPRESSION_ZLIB if compress else pb.COMPRESSION_NONE,
                digest_algorithm=download.digest_algorithm,
            )
            # Without a size from a listing, the chunk count is known only once accepted.
            barrier = job.expected_size is None
            yield Outgoing("download_file", request, download.on_accepted, barrier=barrier)
            file_size = download.file_size if barrier else job.expected_size
            assert file_size is not None
            for _ in range(_chunk_count(file_size, download.offset, chunk_size)):
                yield Outgoing("receive_chunk", pb.ReceiveChunk(), download.on_chunk)

    def _run_downloads(
        self,
        jobs: Iterator[_DownloadJob | str],
        chunk_size: int,
        process_chunk: ChunkCallback | None,
        resume: bool,
        compress: bool,
        timeout: int | None,
    ) -> None:
        started: list[_Download] = []
        writer = LocalWriter()
        try:
            self._run(
                self._download_requests(
                    jobs, chunk_size, process_chunk, resume, compress, started, writer
                ),
                timeout,
            )
            writer.finish()  # every file received is written, or the first failure raised
            for download in started:
                if not download.completed:
                    raise CorruptedResponse(f"{download.job.name}: the transfer did not complete")
        except BaseException:
            with contextlib.suppress(Exception):
                writer.finish()  # the files already verified are still written
            raise
        finally:
            for download in started:
                download.abandon()

    def _prepare_download(
        self,
        source: str | os.PathLike[str],
        destination: str | os.PathLike[str],
        name: str | None,
        chunk_size: int,
    ) -> tuple[RemotePath, str, str]:
        remote = split_remote_path(source)
        if not remote and name is None:
            # The root can be downloaded as a directory, but under a name given for it.
            raise SourceNotFound("the root directory has no name of its own: pass name=")
        self._check_chunk_size(chunk_size)
        local = os.path.abspath(os.fspath(destination))
        if not os.path.isdir(local):
            raise DestinationNotFound(f"destination is not an existing directory: {local}")
        final_name = remote[-1] if name is None else name
        if not is_file_name_valid(final_name):
            raise FileNameError(f"invalid file name: {final_name!r}")
        if os.path.lexists(os.path.join(local, final_name)):
            raise FileExistsError(f"already exists: {os.path.join(local, final_name)}")
        return remote, local, final_name

    def download_file(
        self,
        source: str | os.PathLike[str],
        destination: str | os.PathLike[str],
        name: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE_BYTES,
        process_chunk: ChunkCallback | None = None,
        timeout: int | None = None,
        *,
        resume: bool = False,
        compress: bool = False,
    ) -> None:
        """Download a file of the remote directory into a local directory.

        The data is written to a hidden partial file, verified against the server's
        digest and only then moved to its name, which keeps the server's modification
        time. A failed download leaves nothing behind, unless ``resume`` is set: then
        the partial file is kept and a later call with ``resume`` continues from it.

        :raises ValueError: if the source is not an absolute path or the chunk size invalid.
        :raises SourceNotFound: if the source does not exist or is not a file.
        :raises DestinationNotFound: if the destination is not an existing directory.
        :raises FileExistsError: if the name is taken in the destination.
        :raises FileNameError: if the name is not valid.
        :raises DigestMismatchError: if the data received does not match the file.
        :raises TimeoutError: if a response took longer than ``timeout`` milliseconds.
        """
        remote, local, final_name = self._prepare_download(source, destination, name, chunk_size)
        jobs: Iterator[_DownloadJob | str] = iter([_DownloadJob(remote, local, final_name)])
        self._run_downloads(jobs, chunk_size, process_chunk, resume, compress, timeout)

    def download_directory(
        self,
        source: str | os.PathLike[str],
        destination: str | os.PathLike[str],
        name: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE_BYTES,
        process_chunk: ChunkCallback | None = None,
        timeout: int | None = None,
        *,
        compress: bool = False,
        exclude: Callable[[str], bool] | None = None,
    ) -> None:
        """Download a whole remote directory into a local directory.

        One recursive listing gives every file and its size, so the requests of all
        files are pipelined. Raises as :meth:`download_file`, with SourceNotFound if
        the source is not a directory. ``exclude(relative_path)`` returning True leaves
        that file or directory out.
        """
        remote, local, final_name = self._prepare_download(source, destination, name, chunk_size)
        try:
            entries = self.list_entries(join_remote_path(remote), timeout, recursive=True)
        except (FileNotFoundError, NotADirectoryError) as error:
            raise SourceNotFound(f"source is not a remote directory: {source}") from error
        top = os.path.join(local, final_name)

        def jobs() -> Iterator[_DownloadJob | str]:
            yield top
            excluded: list[str] = []
            for entry in entries:
                if any(entry.name.startswith(prefix) for prefix in excluded):
                    continue
                if exclude is not None and exclude(entry.name):
                    if entry.is_directory:
                        excluded.append(entry.name + "/")
                    continue
                parts = entry.name.split("/")
                if not all(is_file_name_valid(part) for part in parts):
                    raise FileNameError(f"remote name not valid here: {entry.name!r}")
                if entry.is_directory:
                    yield os.path.join(top, *parts)
                else:
                    yield _DownloadJob(
                        (*remote, *parts), os.path.join(top, *parts[:-1]), parts[-1], entry.size
                    )

        self._run_downloads(jobs(), chunk_size, process_chunk, False, compress, timeout)

    # -- removing (SPEC 4.11) -------------------------------------------------

    def delete_file(
        self,
        path: str | os.PathLike[str],
        timeout: int | None = None,
        process_removal: RemovalCallback | None = None,
    ) -> None:
        """Delete a file, or a directory with everything in it, in the remote directory.

        A directory tree disappears from listings at once; its entries are then removed
        in batches, ``process_removal(removed, remaining)`` being called after each.

        :raises ValueError: if the path is not absolute, or is the root directory.
        :raises FileNotFoundError: if nothing has that path.
        :raises TimeoutError: if a response took longer than ``timeout`` milliseconds.
        """
        components = split_remote_path(path)
        if not components:
            raise ValueError("the root directory cannot be deleted")
        request = pb.RemoveFile(path=join_remote_path(components))
        response = self._call(
            "remove_file", request, timeout, pb.REASON_FILE_REMOVED, pb.REASON_REMOVAL_STARTED
        )
        if response.reason == pb.REASON_FILE_REMOVED:
            return
        try:
            while True:
                if process_removal is not None:
                    process_removal(response.removal.removed, response.removal.remaining)
                if response.reason == pb.REASON_FILE_REMOVED:
                    return
                response, _ = self._exchange("continue_removal", pb.ContinueRemoval(), timeout)
                if response.reason not in (pb.REASON_ENTRIES_REMOVED, pb.REASON_FILE_REMOVED):
                    raise self._failure("continue_removal", response)
        except BaseException:
            self._abandon()
            raise

    # -- direct remote file I/O -------------------------------------------------

    def open(
        self,
        path: str | os.PathLike[str],
        mode: str = "rb",
        chunk_size: int = DEFAULT_CHUNK_SIZE_BYTES,
        timeout: int | None = None,
    ) -> io.BufferedReader | RemoteWriter:
        """Open a remote file as a binary file object.

        ``'rb'`` streams the file from the server, reading ahead a window of chunks, and
        supports ``seek()``. ``'wb'`` (replace) and ``'xb'`` (must not exist) collect
        what is written and upload it on ``close()``, so the remote file appears whole
        or not at all; leaving the ``with`` block by an exception, or calling the
        writer's ``discard()``, publishes nothing. While a file is open for reading the server is busy with it: use
        no other method of this client until it is closed.

        :raises ValueError: if the path is not absolute or the mode is not supported.
        :raises SourceNotFound: if a file opened for reading does not exist.
        :raises FileExistsError: for ``'xb'`` if the file exists.
        """
        return open_remote(self, os.fspath(path), mode, chunk_size, timeout)


def _inflate(data: Frame, expected: int) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, expected + 1)
    except zlib.error as error:
        raise CorruptedResponse("chunk is not valid zlib data", str(error)) from error
    if len(out) != expected or not inflater.eof or inflater.unused_data:
        raise CorruptedResponse(f"compressed chunk does not inflate to {expected} bytes")
    return out
