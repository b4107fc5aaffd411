"""The Remofile client: its session, and every primitive file operation as a method.

The methods check their arguments and keep the session; the transfers they start are
built by uploads.py, downloads.py and trees.py, and open() is remote_file.py.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from remofile.client.chunks import Compress, check_compress
from remofile.client.connection import Connection
from remofile.client.downloads import DownloadJob, prepare_download, run_downloads
from remofile.client.errors import exception_for
from remofile.client.pipeline import Channel, Outgoing, run_pipeline
from remofile.client.remote_file import RemoteWriter, open_remote
from remofile.client.session import ChunkCallback, FileDigest, FileMetadata
from remofile.client.trees import download_tree_jobs, upload_tree_jobs
from remofile.client.uploads import UploadJob, conflict_mode, prepare_upload, upload_requests
from remofile.core.credentials import validate_key, validate_token
from remofile.core.digests import algorithm_from_name, algorithm_name, preferred_algorithm
from remofile.core.exceptions import (
    CorruptedResponse,
    FileNameError,
    RemovalIncompleteError,
    SourceNotFound,
    UnsupportedError,
)
from remofile.core.framing import Frame
from remofile.core.limits import (
    DEFAULT_CHUNK_SIZE_BYTES,
    DEFAULT_PORT,
    DEFAULT_WINDOW_CHUNKS,
    PROTOCOL_VERSION,
)
from remofile.core.names import is_file_name_valid
from remofile.core.paths import join_remote_path, normalize_remote_path, split_remote_path
from remofile.v1 import remofile_pb2 as pb

#: How the client names itself in HELLO.
CLIENT_NAME = "remofile-python/1.0"

#: How long :meth:`Client.close` waits for the server to acknowledge GOODBYE.
GOODBYE_TIMEOUT_MS = 1000

#: Bytes of the client key drawn for each client (SPEC.md 3.7 allows 16 to 64).
CLIENT_KEY_BYTES = 32
MIN_CLIENT_KEY_BYTES = 16
MAX_CLIENT_KEY_BYTES = 64

#: ``process_removal(removed_entries, remaining_entries)``
RemovalCallback = Callable[[int, int], Any]


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
    :param client_key: 16 to 64 random bytes naming this client to the server (SPEC.md
        3.7), by default drawn anew. A session is never lost to a lost answer: the
        client's next HELLO carries the key and takes its own session back at once.
        To get back in as quickly after the process restarts (to resume an upload),
        keep :attr:`client_key` somewhere and pass it again; never give one key to two
        clients that run at the same time, or they take the server from each other.
    :raises ValueError: if the token, the public key or the client key is not valid.
    """

    def __init__(
        self,
        hostname: str,
        port: int | None,
        token: str,
        public_key: str | None = None,
        *,
        window: int = DEFAULT_WINDOW_CHUNKS,
        client_key: bytes | None = None,
    ) -> None:
        self._token = validate_token(token)
        if client_key is None:
            client_key = secrets.token_bytes(CLIENT_KEY_BYTES)
        if not MIN_CLIENT_KEY_BYTES <= len(client_key) <= MAX_CLIENT_KEY_BYTES:
            raise ValueError(
                f"client_key must be {MIN_CLIENT_KEY_BYTES} to {MAX_CLIENT_KEY_BYTES} bytes"
            )
        self._client_key = bytes(client_key)
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
        #: Whether the server last announced FEATURE_SESSION_RECOVERY (SPEC.md 3.7).
        self._recovers = False
        self._needs_reset = False
        #: When the last request was sent (time.monotonic()), to tell a silent session.
        self._last_sent = 0.0

    @property
    def endpoint(self) -> str:
        return self._connection.endpoint

    @property
    def client_key(self) -> bytes:
        """The key this client sends in HELLO (SPEC.md 3.7): pass it to the Client of a
        restarted process to take this one's session over without waiting."""
        return self._client_key

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
        or after a silence long enough for the server to have closed it.

        HELLO carries our last session id and our client key, so it replaces our own
        session whether or not we still know its id (SPEC.md 3.2.5, 3.7). When the
        server announced session recovery, a HELLO whose answer is lost is sent once
        more: the retry replaces the session the lost answer opened, so getting back in
        costs one timeout and one round trip, never the session timeout.
        """
        if self._session is not None and not self._needs_reset and not self._may_have_expired():
            return self._session
        hello = pb.Hello(
            protocol_version=PROTOCOL_VERSION,
            client_name=CLIENT_NAME,
            client_key=self._client_key,
        )
        retries = 1 if self._recovers else 0
        while True:
            try:
                response, _ = self._exchange("hello", hello, timeout)
                break
            except TimeoutError:
                if retries == 0:
                    raise
                retries -= 1
        if response.reason == pb.REASON_SESSION_OPENED and response.HasField("session_opened"):
            self._session = response.session_opened
            self._session_id = response.session_opened.session_id
            self._recovers = pb.FEATURE_SESSION_RECOVERY in self._session.features
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

    def _compressions(self) -> Sequence[int]:
        """The compressions the server announced (NONE alone before a session)."""
        return self._session.compressions if self._session is not None else ()

    def _digest_algorithm(self) -> pb.DigestAlgorithm.ValueType:
        """The fastest digest algorithm both ends have, for the transfers of this session."""
        announced = self._session.digest_algorithms if self._session is not None else ()
        return preferred_algorithm(announced)

    def server_info(self, timeout: int | None = None) -> pb.SessionOpened:
        """What the server announced when the session opened: limits and capabilities."""
        return self._ensure_session(timeout)

    def _supports(self, feature: pb.Feature.ValueType, timeout: int | None) -> bool:
        """Whether the server announces ``feature`` (SPEC.md 8.5)."""
        return feature in self._ensure_session(timeout).features

    def _require(self, feature: pb.Feature.ValueType, timeout: int | None) -> None:
        """Raise UnsupportedError unless the server announces ``feature`` (SPEC.md 8.5):
        a request it does not know must not be sent."""
        if not self._supports(feature, timeout):
            name = pb.Feature.Name(feature).removeprefix("FEATURE_")
            raise UnsupportedError(
                f"the server does not support {name} (it announces no FEATURE_{name}; "
                "a server of protocol 1.0 has none of replace, move, copy and digest)"
            )

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
        compress: Compress = False,
        replace: bool = False,
    ) -> None:
        """Upload a file to a directory of the remote directory.

        The file lands under its own name, or ``name``, and becomes visible only once
        complete and verified. ``process_chunk(chunk_data, remaining_bytes, file_size,
        file_name)`` is called with each chunk before it is sent; ``remaining_bytes``
        includes the current chunk. With ``resume``, an upload of the same file that was
        interrupted (not cancelled) continues where it stopped. With ``compress``, chunks
        travel compressed, with zstd where both ends have it, else zlib; with
        ``compress='auto'``, only if the file is worth it (not compressed already: by its
        name and its first chunk). With ``replace``, a remote file of that name is
        replaced atomically once the new one is complete: until then it stays whole, and
        an interrupted replacing upload leaves it as it was (and can be resumed).

        :raises ValueError: if the destination is not absolute or the chunk size invalid.
        :raises SourceNotFound: if the source does not exist or is not a file.
        :raises DestinationNotFound: if the destination does not exist or is not a directory.
        :raises FileExistsError: if the name is taken in the destination (and not to be
            replaced).
        :raises IsADirectoryError: if ``replace`` is set and the name is a directory.
        :raises FileNameError: if the name is not valid.
        :raises FileSizeError: if the file is over the server's file size limit.
        :raises ChunkSizeError: if the chunk size is outside the server's range.
        :raises UnsupportedError: if ``replace`` is set and the server cannot replace.
        :raises TimeoutError: if a response took longer than ``timeout`` milliseconds.
        """
        check_compress(compress)
        local, remote, final_name = prepare_upload(
            source, destination, name, chunk_size, want_directory=False
        )
        if replace:
            self._require(pb.FEATURE_REPLACE, timeout)
        jobs = iter([UploadJob(local, remote, final_name, replace)])
        self._run(upload_requests(self, jobs, chunk_size, process_chunk, resume, compress), timeout)

    def upload_directory(
        self,
        source: str | os.PathLike[str],
        destination: str | os.PathLike[str],
        name: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE_BYTES,
        process_chunk: ChunkCallback | None = None,
        timeout: int | None = None,
        *,
        compress: Compress = False,
        exclude: Callable[[str], bool] | None = None,
        replace: bool = False,
    ) -> None:
        """Upload a whole directory into a directory of the remote directory.

        Files and sub-directories are created in order; requests for many small files
        are pipelined, so a tree does not cost a round trip per file. Symbolic links are
        followed. Raises as :meth:`upload_file`, with SourceNotFound if the source is
        not a directory. ``exclude(relative_path)`` returning True leaves that file or
        directory (a path relative to the source, with ``/`` separators) out. With
        ``replace``, the tree is merged into a remote directory of that name: existing
        sub-directories are kept and files replace those of their names atomically.
        """
        check_compress(compress)
        local, remote, final_name = prepare_upload(
            source, destination, name, chunk_size, want_directory=True
        )
        merge_into: set[str] | None = None
        if replace:
            self._require(pb.FEATURE_REPLACE, timeout)
            merge_into = self._remote_directories((*remote, final_name), timeout)
        jobs = upload_tree_jobs(local, remote, final_name, exclude, merge_into)
        self._run(upload_requests(self, jobs, chunk_size, process_chunk, False, compress), timeout)

    def _remote_directories(self, top: tuple[str, ...], timeout: int | None) -> set[str]:
        """The directories of the remote tree ``top`` relative to it ("" for ``top``
        itself); empty if there is no such directory (a file there is left for the
        upload to refuse)."""
        try:
            entries = self.list_entries(join_remote_path(top), timeout, recursive=True)
        except (FileNotFoundError, NotADirectoryError):
            return set()
        return {""} | {entry.name for entry in entries if entry.is_directory}

    # -- downloading (SPEC 4.10) ------------------------------------------------

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
        compress: Compress = False,
        replace: bool = False,
    ) -> None:
        """Download a file of the remote directory into a local directory.

        The data is written to a hidden partial file, verified against the server's
        digest and only then moved to its name, which keeps the server's modification
        time. A failed download leaves nothing behind, unless ``resume`` is set: then
        the partial file is kept and a later call with ``resume`` continues from it.
        With ``replace``, a local file of that name is replaced in one rename once the
        new one is complete and verified; until then it stays as it was.

        :raises ValueError: if the source is not an absolute path or the chunk size invalid.
        :raises SourceNotFound: if the source does not exist or is not a file.
        :raises DestinationNotFound: if the destination is not an existing directory.
        :raises FileExistsError: if the name is taken in the destination (and not to be
            replaced).
        :raises IsADirectoryError: if ``replace`` is set and the name is a directory.
        :raises FileNameError: if the name is not valid.
        :raises DigestMismatchError: if the data received does not match the file.
        :raises TimeoutError: if a response took longer than ``timeout`` milliseconds.
        """
        check_compress(compress)
        remote, local, final_name = prepare_download(source, destination, name, chunk_size, replace)
        job = DownloadJob(remote, local, final_name, replace=replace)
        jobs: Iterator[DownloadJob | str] = iter([job])
        run_downloads(self, jobs, chunk_size, process_chunk, resume, compress, timeout, replace)

    def download_directory(
        self,
        source: str | os.PathLike[str],
        destination: str | os.PathLike[str],
        name: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE_BYTES,
        process_chunk: ChunkCallback | None = None,
        timeout: int | None = None,
        *,
        compress: Compress = False,
        exclude: Callable[[str], bool] | None = None,
        replace: bool = False,
    ) -> None:
        """Download a whole remote directory into a local directory.

        One recursive listing gives every file and its size, so the requests of all
        files are pipelined. Raises as :meth:`download_file`, with SourceNotFound if
        the source is not a directory. ``exclude(relative_path)`` returning True leaves
        that file or directory out. With ``replace``, the tree is merged into a local
        directory of that name, files replacing those of their names atomically.
        """
        check_compress(compress)
        remote, local, final_name = prepare_download(source, destination, name, chunk_size, replace)
        try:
            entries = self.list_entries(join_remote_path(remote), timeout, recursive=True)
        except (FileNotFoundError, NotADirectoryError) as error:
            raise SourceNotFound(f"source is not a remote directory: {source}") from error
        jobs = download_tree_jobs(
            remote, os.path.join(local, final_name), entries, exclude, replace
        )
        run_downloads(self, jobs, chunk_size, process_chunk, False, compress, timeout, replace)

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
        :raises RemovalIncompleteError: if some entries could not be removed (they are
            back in place; the others are gone).
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
                if response.reason == pb.REASON_REMOVAL_INCOMPLETE:
                    raise RemovalIncompleteError(
                        f"{response.removal.failed} entries of {join_remote_path(components)} "
                        "could not be removed; they are back in place",
                        response.removal.removed,
                        response.removal.failed,
                    )
                if response.reason not in (pb.REASON_ENTRIES_REMOVED, pb.REASON_FILE_REMOVED):
                    raise self._failure("continue_removal", response)
        except BaseException:
            self._abandon()
            raise

    # -- moving, copying and digesting (SPEC 4.14 to 4.16) ------------------------

    def _move_or_copy(
        self,
        kind: str,
        source: str | os.PathLike[str],
        destination: str | os.PathLike[str],
        name: str | None,
        replace: bool,
        timeout: int | None,
    ) -> None:
        """MOVE_FILE or COPY_FILE (same fields, same checks), the arguments checked and
        the feature required before any request."""
        components = split_remote_path(source)
        if not components:
            raise ValueError("the root directory cannot be moved or copied")
        directory = normalize_remote_path(destination)
        final_name = components[-1] if name is None else name
        if not is_file_name_valid(final_name):
            raise FileNameError(f"invalid file name: {final_name!r}")
        feature, message, accepted = {
            "move_file": (pb.FEATURE_MOVE, pb.MoveFile, pb.REASON_FILE_MOVED),
            "copy_file": (pb.FEATURE_COPY, pb.CopyFile, pb.REASON_FILE_COPIED),
        }[kind]
        self._require(feature, timeout)
        request = message(
            source=join_remote_path(components),
            directory=directory,
            name=final_name,
            conflict_mode=conflict_mode(replace),
        )
        self._call(kind, request, timeout, accepted)

    def move_file(
        self,
        source: str | os.PathLike[str],
        destination: str | os.PathLike[str],
        name: str | None = None,
        replace: bool = False,
        timeout: int | None = None,
    ) -> None:
        """Move a file or a directory of the remote directory into the directory
        ``destination``, under its own name or ``name``: a rename when ``destination``
        is its own directory. The move is atomic, and a directory moves with everything
        it holds. With ``replace``, a file of that name is replaced in the same step.

        :raises ValueError: if a path is not absolute, or the source is the root.
        :raises FileNotFoundError: if the source or the destination does not exist.
        :raises NotADirectoryError: if the destination is not a directory.
        :raises FileExistsError: if the name is taken (and not to be replaced, or the
            source is a directory, which replaces nothing).
        :raises IsADirectoryError: if ``replace`` is set and the name is a directory.
        :raises InvalidDestinationError: if a directory would move into itself.
        :raises FileNameError: if the name is not valid.
        :raises UnsupportedError: if the server cannot move files.
        """
        self._move_or_copy("move_file", source, destination, name, replace, timeout)

    def copy_file(
        self,
        source: str | os.PathLike[str],
        destination: str | os.PathLike[str],
        name: str | None = None,
        replace: bool = False,
        timeout: int | None = None,
    ) -> None:
        """Copy a remote file into the directory ``destination``, under its own name or
        ``name``, on the server: nothing crosses the network. The copy keeps the
        source's modification time and appears complete or not at all. With
        ``replace``, a file of that name is replaced atomically. Raises as
        :meth:`move_file`, and:

        :raises IsADirectoryError: if the source is not a file, or ``replace`` is set
            and the name is a directory.
        """
        self._move_or_copy("copy_file", source, destination, name, replace, timeout)

    def file_digest(
        self,
        path: str | os.PathLike[str],
        algorithm: str | None = None,
        timeout: int | None = None,
    ) -> FileDigest:
        """The digest of a remote file, computed by the server without sending the file.

        ``algorithm`` is ``'blake3'`` or ``'sha256'``; by default the fastest one both
        ends have. Returns a :class:`FileDigest` ``(algorithm, digest, size,
        modification_time)``; ``digest`` is hexadecimal, as ``sha256sum`` and ``b3sum``
        print it.

        :raises ValueError: if the path is not absolute or the algorithm unknown.
        :raises FileNotFoundError: if the file does not exist.
        :raises IsADirectoryError: if the path is not a file.
        :raises UnsupportedError: if the server cannot digest files or lacks the algorithm.
        """
        normalized = normalize_remote_path(path)
        self._require(pb.FEATURE_FILE_DIGEST, timeout)
        chosen = self._digest_algorithm() if algorithm is None else algorithm_from_name(algorithm)
        request = pb.FileDigest(path=normalized, algorithm=chosen)
        response = self._call("file_digest", request, timeout, pb.REASON_FILE_DIGESTED)
        result = response.file_digest_result
        if result.digest.algorithm != chosen:
            raise CorruptedResponse("digest computed with another algorithm than asked")
        return FileDigest(
            algorithm_name(chosen).lower(),
            result.digest.value.hex(),
            result.file_size,
            result.modification_time_ns / 1e9,
        )

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


__all__ = ["ChunkCallback", "Client", "FileDigest", "FileMetadata", "RemovalCallback"]
