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


class RemoteReader(io.RawIOBase):
    """The raw reading side of a remote file; wrap it in io.BufferedReader."""

    def __init__(self, client: Session, path: str, chunk_size: int, timeout: int | None) -> None:
        super().__init__()
        self._client = client
        self._path = join_remote_path(split_remote_path(path))
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
        self._start(0)

    # -- the transfer -------------------------------------------------------

    def _start(self, offset: int) -> None:
        self._stop()
        algorithm = self._client._digest_algorithm()
        request = pb.DownloadFile(
            path=self._path,
            chunk_size=self._chunk_size,
            offset=offset,
            digest_algorithm=algorithm,
        )
        response = self._client._call(
            "download_file", request, self._timeout, pb.REASON_TRANSFER_ACCEPTED
        )
        self._size = response.transfer_accepted.file_size
        # The session is fresh after the call: its limit costs no request (SPEC 6.1).
        limit = self._client.server_info(self._timeout).max_requests_in_flight
        self._window = min(self._client.window, max(1, limit))
        self._position = offset
        self._requested_until = offset
        self._received_until = offset
        # A download read from byte 0 to the end is checked against the server's digest.
        self._digest = new_hasher(algorithm) if offset == 0 else None
        self._active = True
        self._pending.clear()

    def _stop(self) -> None:
        """Leave the DOWNLOAD state: drain answers in flight, then cancel if unfinished."""
        if not self._active:
            return
        try:
            while self._in_flight:
                self._client.receive_response(self._timeout)
                self._in_flight -= 1
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
            if not self._active:
                self._start(self._position)
            self._fill()
        chunk = self._pending[0]
        count = min(chunk.nbytes, target.nbytes)
        target[:count] = chunk[:count]
        if count == chunk.nbytes:
            self._pending.popleft()
        else:
            self._pending[0] = chunk[count:]
        self._position += count
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        target = base + offset
        if target < 0:
            raise ValueError("negative seek position")
        if target != self._position:
            self._stop()
            self._pending.clear()
            # Past the end is a position like any other, as for a local file: reads
            # there return nothing, and tell() and SEEK_CUR count from it.
            self._position = target
        return target

    def tell(self) -> int:
        return self._position

    @property
    def size(self) -> int:
        """The size of the file, as the server gave it when the download began."""
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
