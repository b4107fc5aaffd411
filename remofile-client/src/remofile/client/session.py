"""What the job modules need from a client, so that none of them imports client.py.

uploads.py, downloads.py and remote_file.py work on a :class:`Session`, which
:class:`~remofile.client.client.Client` is without naming it: client.py imports them,
and they never import it back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, Protocol

from remofile.client.pipeline import Outgoing
from remofile.core.framing import Frame
from remofile.v1 import remofile_pb2 as pb

#: ``process_chunk(chunk_data, remaining_bytes, file_size, file_name)``
ChunkCallback = Callable[[bytes, int, int, str], Any]


class FileMetadata(NamedTuple):
    """Metadata of a listed file: ``(is_directory, size, modification_time)``.

    ``size`` is 0 for a directory; ``modification_time`` is in seconds since the
    epoch, as ``os.stat().st_mtime``.
    """

    is_directory: bool
    size: int
    modification_time: float


class FileDigest(NamedTuple):
    """The digest of a remote file: ``(algorithm, digest, size, modification_time)``.

    ``algorithm`` is ``'blake3'`` or ``'sha256'``, ``digest`` is hexadecimal, ``size``
    and ``modification_time`` (seconds since the epoch) describe the file digested.
    """

    algorithm: str
    digest: str
    size: int
    modification_time: float


class Session(Protocol):
    """A client with its session: the requests, answers and calls the jobs are made of."""

    #: Chunk requests kept in flight during transfers.
    window: int

    def send_request(self, kind: str, message: Any, data: Frame | None) -> None: ...

    def receive_response(self, timeout_ms: int | None) -> tuple[pb.Response, Frame | None]: ...

    def server_info(self, timeout: int | None) -> pb.SessionOpened: ...

    def list_files(
        self, directory: str | os.PathLike[str], timeout: int | None
    ) -> dict[str, FileMetadata]: ...

    def upload_file(
        self,
        source: str | os.PathLike[str],
        destination: str | os.PathLike[str],
        *,
        name: str,
        chunk_size: int,
        timeout: int | None,
        replace: bool,
    ) -> None: ...

    def _supports(self, feature: pb.Feature.ValueType, timeout: int | None) -> bool:
        """Whether the server announces ``feature`` (SPEC.md 8.5)."""
        ...

    def delete_file(self, path: str | os.PathLike[str], timeout: int | None) -> None: ...

    def _call(self, kind: str, message: Any, timeout: int | None, *accepted: int) -> pb.Response:
        """One request and its answer, in a session opened (or reopened) as needed."""
        ...

    def _run(self, requests: Iterator[Outgoing], timeout: int | None) -> None:
        """Run a pipeline of transfer requests, resetting the server's state on failure."""
        ...

    def _failure(self, kind: str, response: pb.Response) -> Exception:
        """The exception an unexpected answer to a ``kind`` request stands for."""
        ...

    def _compressions(self) -> Sequence[int]:
        """The compressions the server announced for this session's transfers."""
        ...

    def _digest_algorithm(self) -> pb.DigestAlgorithm.ValueType:
        """The digest algorithm of this session's transfers."""
        ...

    def _abandon(self) -> None:
        """Forget an exchange that failed half-way; the session is reopened before the next."""
        ...
