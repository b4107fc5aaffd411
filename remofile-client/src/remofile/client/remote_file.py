"""Remote files opened from code: ``with client.open('/logs/today.txt') as f: f.read()``.

Reading streams the file through the DOWNLOAD state, a window of chunks ahead of the
reader; seeking starts a new download at the new offset (SPEC.md section 4.10.1 lets a
download begin anywhere). Writing collects the data in a local spooled temporary file
and uploads it when the file is closed, because an upload states its size first; the
remote file appears whole, or not at all, when ``close()`` returns.
"""

from __future__ import annotations

import contextlib
import hmac
import io
import os
import tempfile
from collections import deque
from types import TracebackType
from typing import Any

from remofile.client.session import Session
from remofile.core.digests import Hasher, new_hasher
from remofile.core.exceptions import CorruptedResponse, DigestMismatchError, SourceNotFound
from remofile.core.paths import join_remote_path, split_remote_path
from remofile.v1 import remofile_pb2 as pb

#: Data a written remote file keeps in memory before spilling to a temporary file.
SPOOL_MEMORY_BYTES = 8 * 1024 * 1024

#: Chunk size of the transfer a seek starts: a random read fetches this much, or less.
SEEK_CHUNK_BYTES = 64 * 1024

#: Bytes read on from a seek after which a reader streams with full chunks again.
STREAK_BYTES = 4 * SEEK_CHUNK_BYTES


class RemoteReader(io.RawIOBase):
    """The raw reading side of a remote file; wrap it in io.BufferedReader.

    Read from the start, a file streams: a window of full chunks is kept in flight ahead
    of the reader. A seek costs nothing until the next read, which then ends the transfer
    in progress and starts one at the new position with its first chunk asked for in the
    same breath (CANCEL_TRANSFER, DOWNLOAD_FILE and RECEIVE_CHUNK sent together, SPEC.md
    6.1): one round trip per random read. Such a transfer moves small chunks, one at a
    time, so a random read fetches little; once the reader has gone on reading from
    there for a while, it streams with full chunks again.
    """

    def __init__(self, client: Session, path: str, chunk_size: int, timeout: int | None) -> None:
        super().__init__()
        self._client = client
        self._path = join_remote_path(split_remote_path(path))
        #: The chunk size of streaming transfers, and that of the transfer in progress.
        self._stream_chunk_size = chunk_size
        self._chunk_size = chunk_size
        self._timeout = timeout
        self._position = 0
        self._size = 0
        self._requested_until = 0  # file offset up to which chunks are asked for
        self._in_flight = 0
        self._pending: deque[memoryview] = deque()
        self._active = False
        self._window = 1
        self._received_until = 0
        self._digest: Hasher | None = None
        self._algorithm: pb.DigestAlgorithm.ValueType = pb.DIGEST_ALGORITHM_UNSPECIFIED
        #: Where the transfer in progress began, and whether a seek started it.
        self._transfer_offset = 0
        self._random = False
        #: A seek moved the position away from the transfer in progress.
        self._moved = False
        #: The session's limits, as known when the transfer in progress began.
        self._session_info: pb.SessionOpened | None = None
        self._start(0)

    # -- the transfer -------------------------------------------------------

    def _request(self, offset: int, chunk_size: int) -> pb.DownloadFile:
        #: The digest algorithm asked for, which the hasher of the transfer must use.
        self._algorithm = self._client._digest_algorithm()
        return pb.DownloadFile(
            path=self._path,
            chunk_size=chunk_size,
            offset=offset,
            digest_algorithm=self._algorithm,
        )

    def _accepted(self, offset: int, chunk_size: int, limit: int, response: pb.Response) -> None:
        """Take the TRANSFER_ACCEPTED of a download that begins at ``offset``; ``limit``
        is the server's limit of requests in flight (SPEC 6.1)."""
        self._size = response.transfer_accepted.file_size
        self._chunk_size = chunk_size
        self._window = 1 if self._random else min(self._client.window, max(1, limit))
        self._position = offset
        self._transfer_offset = offset
        self._requested_until = offset
        self._received_until = offset
        self._in_flight = 0
        # A download read from byte 0 to the end is checked against the server's digest.
        self._digest = new_hasher(self._algorithm) if offset == 0 else None
        self._active = True
        self._moved = False
        self._pending.clear()

    def _start(self, offset: int) -> None:
        """Start a transfer at ``offset``, waiting for its answer (no chunk asked for)."""
        self._stop()
        # With the session open first, the digest is the fastest both ends have (BLAKE3
        # where they can), not the SHA-256 that a client assumes before it knows.
        self._session_info = self._client.server_info(self._timeout)
        chunk_size = self._transfer_chunk_size(self._session_info)
        response = self._client._call(
            "download_file",
            self._request(offset, chunk_size),
            self._timeout,
            pb.REASON_TRANSFER_ACCEPTED,
        )
        # The session is fresh after the call: its limit costs no request.
        self._session_info = self._client.server_info(self._timeout)
        self._accepted(offset, chunk_size, self._session_info.max_requests_in_flight, response)

    def _transfer_chunk_size(self, session: pb.SessionOpened | None = None) -> int:
        if not self._random:
            return self._stream_chunk_size
        if session is None:
            session = self._client.server_info(self._timeout)
        return max(session.min_chunk_size, min(SEEK_CHUNK_BYTES, self._stream_chunk_size))

    def _restart(self, offset: int) -> None:
        """End the transfer in progress (if any) and start one at ``offset`` with its
        first chunk asked for, all in one round trip."""
        if not self._active or self._session_info is None:
            # Nothing is in flight: (re)open the session now if it needs it, since no
            # HELLO may go out once the requests below are on their way.
            self._session_info = self._client.server_info(self._timeout)
        session = self._session_info
        chunk_size = self._transfer_chunk_size(session)
        # The chunks asked for finish the old transfer by themselves if they reach its
        # end; otherwise it must be cancelled, after them.
        cancel = self._active and (
            self._requested_until < self._size or self._received_until == self._requested_until
        )
        try:
            if cancel:
                self._client.send_request("cancel_transfer", pb.CancelTransfer(), None)
            self._client.send_request("download_file", self._request(offset, chunk_size), None)
            self._client.send_request("receive_chunk", pb.ReceiveChunk(), None)
            while self._in_flight:
                self._client.receive_response(self._timeout)
                self._in_flight -= 1
            self._active = False
            if cancel:
                response, _ = self._client.receive_response(self._timeout)
                if response.reason != pb.REASON_TRANSFER_CANCELLED:
                    self._client.receive_response(self._timeout)
                    self._client.receive_response(self._timeout)
                    raise self._client._failure("cancel_transfer", response)
            response, _ = self._client.receive_response(self._timeout)
        except BaseException:
            self._client._abandon()
            self._active = False
            self._in_flight = 0
            raise
        if response.reason != pb.REASON_TRANSFER_ACCEPTED:
            # The chunk request then met no transfer: its answer is an error to drop.
            try:
                self._client.receive_response(self._timeout)
            except BaseException:
                self._client._abandon()
                raise
            if response.reason == pb.REASON_SESSION_EXPIRED:
                self._start(offset)  # reopens the session, then the slow way
                return
            raise self._client._failure("download_file", response)
        self._accepted(offset, chunk_size, session.max_requests_in_flight, response)
        self._in_flight = 1
        self._requested_until = offset + min(chunk_size, self._size - offset)

    def _stop(self) -> None:
        """Leave the DOWNLOAD state: drain answers in flight, then cancel if unfinished."""
        if not self._active:
            return
        try:
            # Chunks asked for up to the end finish the transfer by themselves: then
            # the server is IDLE again and there is nothing to cancel.
            finished = False
            while self._in_flight:
                response, _ = self._client.receive_response(self._timeout)
                self._in_flight -= 1
                finished = finished or response.reason == pb.REASON_TRANSFER_COMPLETED
            if not finished:
                self._client._call(
                    "cancel_transfer",
                    pb.CancelTransfer(),
                    self._timeout,
                    pb.REASON_TRANSFER_CANCELLED,
                )
        except Exception:
            self._client._abandon()
        finally:
            self._active = False
            self._in_flight = 0

    def _fill(self) -> None:
        """Keep a window of chunk requests in flight, and take the oldest answer."""
        while self._in_flight < self._window and self._requested_until < self._size:
            self._client.send_request("receive_chunk", pb.ReceiveChunk(), None)
            self._in_flight += 1
            self._requested_until += min(self._chunk_size, self._size - self._requested_until)
        response, data = self._client.receive_response(self._timeout)
        self._in_flight -= 1
        if response.reason not in (pb.REASON_CHUNK_SENT, pb.REASON_TRANSFER_COMPLETED):
            raise self._client._failure("receive_chunk", response)
        expected = min(self._chunk_size, self._size - self._received_until)
        if data is None or response.chunk.offset != self._received_until or len(data) != expected:
            raise CorruptedResponse("chunk without data, at the wrong offset or of the wrong size")
        self._received_until += expected
        if self._digest is not None:
            self._digest.update(data)
        if response.reason == pb.REASON_TRANSFER_COMPLETED:
            self._active = False
            digest = response.chunk.digest
            if self._digest is not None and not hmac.compare_digest(
                digest.value, self._digest.digest()
            ):
                raise DigestMismatchError(f"{self._path}: the data read does not match the file")
        self._pending.append(memoryview(data))

    # -- RawIOBase ----------------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        if self._position >= self._size or not target.nbytes:
            return 0
        if not self._pending:
            if self._moved or not self._active:
                self._restart(self._position)
            self._fill()
        chunk = self._pending[0]
        count = min(chunk.nbytes, target.nbytes)
        target[:count] = chunk[:count]
        if count == chunk.nbytes:
            self._pending.popleft()
        else:
            self._pending[0] = chunk[count:]
        self._position += count
        if self._random and self._position - self._transfer_offset >= STREAK_BYTES:
            # Read on from a seek for a while: stream with full chunks from here.
            self._random = False
            self._moved = True
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        target = base + offset
        if target < 0:
            raise ValueError("negative seek position")
        if target == self._position:
            return target
        ahead = target - self._position
        if 0 < ahead <= sum(chunk.nbytes for chunk in self._pending):
            # Forward within what has arrived: skip it.
            while ahead:
                chunk = self._pending[0]
                if chunk.nbytes <= ahead:
                    ahead -= chunk.nbytes
                    self._pending.popleft()
                else:
                    self._pending[0] = chunk[ahead:]
                    ahead = 0
        else:
            # Past the end is a position like any other, as for a local file: reads
            # there return nothing, and tell() and SEEK_CUR count from it.
            self._pending.clear()
            self._moved = True
            self._random = True
        self._position = target
        return target

    def tell(self) -> int:
        return self._position

    @property
    def size(self) -> int:
        """The size of the file, as the server gave it when the last download began."""
        return self._size

    def suspend(self) -> None:
        """Leave the server's DOWNLOAD state, so that the client may send other requests.

        Data already received stays readable; the next read past it starts a new
        download at the position reached (SPEC.md 4.10.1), so a reader can be suspended
        and resumed any number of times.
        """
        self._stop()

    def close(self) -> None:
        if not self.closed:
            self._stop()
        super().close()


class RemoteWriter(io.BufferedIOBase):
    """The writing side of a remote file: uploaded, complete, when closed.

    Leaving a ``with`` block by an exception discards what was written, as does
    :meth:`discard`: a failed write never publishes a partial file.
    """

    def __init__(
        self, client: Session, path: str, exclusive: bool, chunk_size: int, timeout: int | None
    ) -> None:
        super().__init__()
        # Only an explicit close() of a writer that opened publishes the file: io calls
        # close() from the finalizer too, even for an object whose __init__ raised.
        self._publish = False
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115
        components = split_remote_path(path)
        if not components:
            raise IsADirectoryError("the root directory cannot be written as a file")
        self._client = client
        self._path = join_remote_path(components)
        self._directory = join_remote_path(components[:-1])
        self._name = components[-1]
        self._exclusive = exclusive
        self._chunk_size = chunk_size
        self._timeout = timeout
        listing = client.list_files(self._directory, timeout)
        existing = listing.get(self._name)
        if existing is not None and (exclusive or existing.is_directory):
            raise FileExistsError(f"already exists: {self._path}")
        self._publish = True

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("write to a closed remote file")
        return self._spool.write(data)

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._publish:
                self._upload()
        finally:
            self._spool.close()
            super().close()

    def __del__(self) -> None:
        # A writer dropped without close() is discarded: no transfer from a finalizer.
        self._publish = False
        super().__del__()

    def discard(self) -> None:
        """Close without uploading: the remote file stays as it was."""
        self._publish = False
        self.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # io's __exit__ would close(), publishing what a failed block half wrote.
        if exc_type is not None:
            self.discard()
        else:
            self.close()

    def _upload(self) -> None:
        self._spool.flush()
        with tempfile.NamedTemporaryFile(prefix="remofile-", delete=False) as staged:
            self._spool.seek(0)
            while block := self._spool.read(1 << 20):
                staged.write(block)
        try:
            replace = not self._exclusive
            if replace and not self._client._supports(pb.FEATURE_REPLACE, self._timeout):
                # A server of protocol 1.0 cannot replace: remove, then upload.
                replace = False
                with contextlib.suppress(FileNotFoundError):
                    self._client.delete_file(self._path, self._timeout)
            self._client.upload_file(
                staged.name,
                self._directory,
                name=self._name,
                chunk_size=self._chunk_size,
                timeout=self._timeout,
                replace=replace,
            )
        finally:
            os.unlink(staged.name)


def open_remote(
    client: Session, path: str, mode: str, chunk_size: int, timeout: int | None
) -> io.BufferedReader | RemoteWriter:
    """Open a remote file in binary mode ('rb', 'wb' or 'xb')."""
    if mode in ("r", "rb"):
        try:
            raw = RemoteReader(client, path, chunk_size, timeout)
        except IsADirectoryError as error:
            raise SourceNotFound(f"not a file: {path}") from error
        return io.BufferedReader(raw, buffer_size=chunk_size)
    if mode in ("w", "wb", "x", "xb"):
        return RemoteWriter(client, path, mode.startswith("x"), chunk_size, timeout)
    raise ValueError(f"unsupported mode {mode!r}: use 'rb', 'wb' or 'xb'")


__all__ = ["RemoteReader", "RemoteWriter", "open_remote"]
