"""Remofile as an fsspec filesystem: ``fsspec.open("remofile://host:6768/data/x.csv")``.

Installed with ``pip install remofile-client[fsspec]``, the class registers itself under
the protocol ``remofile`` through fsspec's ``fsspec.specs`` entry point, so pandas,
pyarrow, dask and the other users of fsspec reach a Remofile server without an import.

The few primitives fsspec needs map onto the protocol one to one (``ls`` is LIST_FILES,
``cp_file`` COPY_FILE, ``mv`` MOVE_FILE, ``checksum`` FILE_DIGEST); fsspec derives the
rest (``find``, ``glob``, ``walk``, ``du``...). Where the protocol does better than one
request per file, the generic methods are overridden: ``put`` and ``get`` gather the
files fsspec's own path logic chooses and move them in one pipelined transfer, and
``rm`` of a directory is one DELETE.

A server serves one session at a time, and a file open for reading holds that session
in its DOWNLOAD state. So every filesystem object of a process that names the same
server, token and key shares one :class:`~remofile.client.Client`, behind one lock, and
any request first *suspends* the reader that holds the session: the reader keeps what
it has received and starts a new download at its position when read again.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import io
import os
import posixpath
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fsspec.spec import AbstractFileSystem
from remofile.client.client import Client
from remofile.client.downloads import DownloadJob, run_downloads
from remofile.client.remote_file import RemoteReader, RemoteWriter
from remofile.client.uploads import UploadJob, upload_requests
from remofile.core.exceptions import DestinationNotFound, SourceNotFound
from remofile.core.limits import DEFAULT_CHUNK_SIZE_BYTES, DEFAULT_PORT
from remofile.core.paths import split_remote_path
from remofile.v1 import remofile_pb2 as pb

#: The environment variables read when a storage option is not given (as the CLI does).
HOSTNAME_VARIABLE = "REMOFILE_HOSTNAME"
PORT_VARIABLE = "REMOFILE_PORT"
SERVER_VARIABLE = "REMOFILE_SERVER"
TOKEN_VARIABLE = "REMOFILE_TOKEN"
PUBLIC_KEY_VARIABLE = "REMOFILE_PUBLIC_KEY"
#: Milliseconds to wait for each response; unset waits for as long as it takes.
TIMEOUT_VARIABLE = "REMOFILE_TIMEOUT"


@dataclass(frozen=True)
class ServerSettings:
    """Where a server is and how to get in, from storage options and the environment."""

    hostname: str
    port: int
    token: str
    public_key: str | None
    timeout_ms: int | None

    @classmethod
    def resolve(
        cls,
        host: str | None,
        port: int | str | None,
        token: str | None,
        public_key: str | None,
        timeout: int | str | None,
    ) -> ServerSettings:
        """Fill what the caller left out from ``REMOFILE_*`` variables.

        :raises ValueError: naming the option and the variable when one is missing.
        """
        environ = os.environ
        if host is None:
            host = environ.get(HOSTNAME_VARIABLE)
            if host is not None and port is None:
                port = environ.get(PORT_VARIABLE)
        if host is None and SERVER_VARIABLE in environ:
            host, _, server_port = environ[SERVER_VARIABLE].rpartition(":")
            host = host.strip("[]")
            port = port if port is not None else server_port
        if not host:
            raise ValueError(
                f"no Remofile server: give host= (and port=) or set {HOSTNAME_VARIABLE} "
                f"(and {PORT_VARIABLE}) or {SERVER_VARIABLE}=host:port"
            )
        token = token if token is not None else environ.get(TOKEN_VARIABLE)
        if not token:
            raise ValueError(
                f"no token for the Remofile server: give token= or set {TOKEN_VARIABLE}"
            )
        if public_key is None:
            public_key = environ.get(PUBLIC_KEY_VARIABLE) or None
        if timeout is None:
            timeout = environ.get(TIMEOUT_VARIABLE) or None
        return cls(
            hostname=host,
            port=int(port) if port not in (None, "") else DEFAULT_PORT,
            token=token,
            public_key=public_key,
            timeout_ms=int(timeout) if timeout is not None else None,
        )


class SharedClient:
    """The one client of a process for one server, the lock that serializes its use,
    and the reader that may hold its session in the DOWNLOAD state."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.lock = threading.RLock()
        self.reading: RemoteReader | None = None
        self._client: Client | None = None
        self._pid = os.getpid()

    @property
    def client(self) -> Client:
        """The client, made when first needed (again after :meth:`close`, and in a
        forked child, which must not touch its parent's ZeroMQ sockets)."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._client = None
            self.reading = None
            self.lock = threading.RLock()
        if self._client is None:
            settings = self.settings
            self._client = Client(
                settings.hostname, settings.port, settings.token, settings.public_key
            )
        return self._client

    def claim(self, reader: RemoteReader | None = None) -> Client:
        """Make the session free for a request (or for ``reader``); call with the lock."""
        holder = self.reading
        if holder is not None and holder is not reader:
            if not holder.closed:
                holder.suspend()
            self.reading = None
        if reader is not None:
            self.reading = reader
        return self.client

    def close(self) -> None:
        """End the session and free the server; a later request opens a new one."""
        with self.lock:
            self.claim()
            client, self._client = self._client, None
            if client is not None:
                client.close()


_shared_clients: dict[tuple[str, int, str, str | None], SharedClient] = {}
_shared_clients_lock = threading.Lock()


def _shared_client(settings: ServerSettings) -> SharedClient:
    key = (settings.hostname, settings.port, settings.token, settings.public_key)
    with _shared_clients_lock:
        shared = _shared_clients.get(key)
        if shared is None:
            shared = _shared_clients[key] = SharedClient(settings)
        return shared


def _release_all() -> None:
    """Close every shared client (at exit, and in a child after fork: not its sockets)."""
    with _shared_clients_lock:
        for shared in _shared_clients.values():
            with contextlib.suppress(Exception):
                shared.close()
        _shared_clients.clear()


def _forget_all() -> None:
    # A forked child must not use (nor close) the parent's ZeroMQ sockets.
    _shared_clients.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_all)


class _Reader(RemoteReader):
    """A remote file read through the filesystem: it claims the shared session to read."""

    def __init__(self, shared: SharedClient, path: str, chunk_size: int, timeout: int | None):
        self._shared = shared
        with shared.lock:
            super().__init__(shared.claim(), path, chunk_size, timeout)
            shared.reading = self

    def readinto(self, buffer: Any) -> int:
        with self._shared.lock:
            client = self._shared.claim(self)
            if client is not self._client:
                # The session was closed (close_session) and the shared client made
                # anew: the old transfer is gone, the next read starts one.
                self._client = client
                self._active = False
                self._in_flight = 0
                self._session_info = None
            return super().readinto(buffer)

    def close(self) -> None:
        with self._shared.lock:
            if self._shared.reading is self:
                self._shared.reading = None
            super().close()


class RemofileBufferedReader(io.BufferedReader):
    """What ``open(path, 'rb')`` returns: a buffered, seekable reader with the
    attributes fsspec's files have (``fs``, ``path``, ``size``, ``mode``)."""

    def __init__(self, fs: RemofileFileSystem, path: str, raw: _Reader, buffer_size: int):
        super().__init__(raw, buffer_size=buffer_size)
        self.fs = fs
        self.path = path
        self.size = raw.size

    @property
    def mode(self) -> str:
        return "rb"


class _Writer(RemoteWriter):
    """A remote file written through the filesystem: published whole when closed."""

    def __init__(
        self,
        shared: SharedClient,
        path: str,
        exclusive: bool,
        chunk_size: int,
        timeout: int | None,
        fs: RemofileFileSystem,
    ):
        self._shared = shared
        self.fs = fs
        self.path = path
        with shared.lock:
            super().__init__(shared.claim(), path, exclusive, chunk_size, timeout)

    @property
    def mode(self) -> str:
        return "xb" if self._exclusive else "wb"

    def close(self) -> None:
        if self.closed:
            return
        with self._shared.lock:
            self._client = self._shared.claim()  # the current one, after a close_session
            super().close()


def _as_fsspec_error(error: Exception, path: str) -> Exception:
    """The built-in exception fsspec's callers test for, for a Remofile one."""
    if isinstance(error, SourceNotFound | DestinationNotFound):
        return FileNotFoundError(2, str(error), path)
    return error


class RemofileFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """A Remofile server as an fsspec filesystem.

    ``fsspec.filesystem("remofile", host="127.0.0.1", port=6768, token="...")``, or a URL
    ``remofile://127.0.0.1:6768/data/file.csv`` with ``storage_options={"token": ...}``.
    Options not given come from the environment, as for the command line:
    ``REMOFILE_HOSTNAME``/``REMOFILE_PORT`` (or ``REMOFILE_SERVER=host:port``),
    ``REMOFILE_TOKEN``, ``REMOFILE_PUBLIC_KEY`` and ``REMOFILE_TIMEOUT`` (milliseconds).
    Paths are absolute paths of the served directory; ``host`` may also be a whole
    ZeroMQ endpoint (``ipc:///run/remofile.sock``).

    :param host: the server's address, or a ZeroMQ endpoint.
    :param port: the server's TCP port (6768 by default).
    :param token: the server's token.
    :param public_key: the server's CURVE public key, if it encrypts.
    :param timeout: milliseconds to wait for each response (None: no limit).
    :param chunk_size: bytes per chunk of every transfer.
    :raises ValueError: if no server or no token is given, by option or variable.
    """

    protocol = "remofile"
    root_marker = "/"

    def __init__(
        self,
        host: str | None = None,
        port: int | str | None = None,
        token: str | None = None,
        public_key: str | None = None,
        timeout: int | str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE_BYTES,
        **storage_options: Any,
    ) -> None:
        super().__init__(**storage_options)
        self.settings = ServerSettings.resolve(host, port, token, public_key, timeout)
        self.chunk_size = chunk_size
        self.blocksize = chunk_size
        self._shared = _shared_client(self.settings)
        #: Transfers gathered by put()/get() while fsspec chooses the paths.
        self._gathering: list[tuple[str, str]] | None = None

    # -- paths ------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = os.fspath(path)
        if path.startswith("remofile://"):
            path = urllib.parse.urlsplit(path).path
        elif path.startswith("remofile::"):
            path = path[len("remofile::") :]
        return "/" + "/".join(part for part in path.split("/") if part not in ("", "."))

    @staticmethod
    def _get_kwargs_from_urls(path: str) -> dict[str, Any]:
        parts = urllib.parse.urlsplit(path)
        options: dict[str, Any] = {}
        if parts.scheme == "remofile" and parts.hostname:
            options["host"] = parts.hostname
            if parts.port is not None:
                options["port"] = parts.port
        return options

    def unstrip_protocol(self, name: str) -> str:
        if name.startswith("remofile://"):
            return name
        host = self.settings.hostname
        if "://" in host:
            return f"remofile://{self._strip_protocol(name)}"
        host = f"[{host}]" if ":" in host else host
        return f"remofile://{host}:{self.settings.port}{self._strip_protocol(name)}"

    # -- the session --------------------------------------------------------------

    @contextlib.contextmanager
    def _client(self, path: str = "") -> Iterator[Client]:
        """The shared client, free for a request, with Remofile's not-found errors as
        fsspec's callers expect them."""
        with self._shared.lock:
            try:
                yield self._shared.claim()
            except (SourceNotFound, DestinationNotFound) as error:
                raise _as_fsspec_error(error, path) from error

    @property
    def client(self) -> Client:
        """The :class:`~remofile.client.Client` behind this filesystem (shared)."""
        return self._shared.client

    @property
    def timeout(self) -> int | None:
        return self.settings.timeout_ms

    def close_session(self) -> None:
        """End the session, so that other clients may use the server; the next call
        opens a new one. Files open for reading read on in the new session."""
        self._shared.close()

    # -- listing ------------------------------------------------------------------

    def _entry(self, directory: str, entry: pb.FileEntry) -> dict[str, Any]:
        return {
            "name": posixpath.join(directory, entry.name),
            "size": entry.size,
            "type": "directory" if entry.is_directory else "file",
            "mtime": entry.modification_time_ns / 1e9,
        }

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        try:
            with self._client(path) as client:
                entries = client.list_entries(path, self.timeout)
        except NotADirectoryError:
            infos = [self.info(path)]
        else:
            infos = [self._entry(path, entry) for entry in entries]
        return infos if detail else [info["name"] for info in infos]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        if path == "/":
            return {"name": "/", "size": 0, "type": "directory"}
        parent, name = posixpath.split(path)
        try:
            with self._client(path) as client:
                entries = client.list_entries(parent, self.timeout)
        except (FileNotFoundError, NotADirectoryError):
            raise FileNotFoundError(2, "no such file or directory", path) from None
        for entry in entries:
            if entry.name == name:
                return self._entry(parent, entry)
        raise FileNotFoundError(2, "no such file or directory", path)

    def find(
        self,
        path: str,
        maxdepth: int | None = None,
        withdirs: bool = False,
        detail: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Every file below ``path`` (and directories, ``withdirs``), from one recursive
        listing rather than one per directory."""
        if maxdepth is not None:
            return super().find(path, maxdepth=maxdepth, withdirs=withdirs, detail=detail, **kwargs)
        path = self._strip_protocol(path)
        try:
            with self._client(path) as client:
                entries = client.list_entries(path, self.timeout, recursive=True)
        except FileNotFoundError:
            entries = []
            found: dict[str, dict[str, Any]] = {}
        except NotADirectoryError:
            info = self.info(path)
            found = {path: info}
            return found if detail else list(found)
        else:
            found = {}
            if withdirs:
                found[path] = self.info(path)
        for entry in entries:
            info = self._entry(path, entry)
            if withdirs or info["type"] == "file":
                found[info["name"]] = info
        found = dict(sorted(found.items()))
        return found if detail else list(found)

    def modified(self, path: str) -> datetime.datetime:
        """When the file was last modified (the server's clock, UTC)."""
        info = self.info(path)
        return datetime.datetime.fromtimestamp(info.get("mtime", 0.0), tz=datetime.timezone.utc)

    def created(self, path: str) -> datetime.datetime:
        """Not known: the protocol records no creation time (an upload may even carry
        the local file's modification time), so none is made up.

        :raises NotImplementedError: always.
        """
        raise NotImplementedError("a Remofile server records no creation time; use modified()")

    # -- digests ------------------------------------------------------------------

    def checksum(self, path: str) -> int:
        """The server's digest of the file (BLAKE3, or SHA-256), as an integer."""
        return int(self.ukey(path), 16)

    def ukey(self, path: str) -> str:
        """The server's digest of the file, hexadecimal: it changes when the content does."""
        path = self._strip_protocol(path)
        with self._client(path) as client:
            return client.file_digest(path, timeout=self.timeout).digest

    # -- directories ----------------------------------------------------------------

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        if create_parents:
            parent = posixpath.dirname(path)
            if parent != "/":
                self.makedirs(parent, exist_ok=True)
        parent, name = posixpath.split(path)
        if not name:
            raise FileExistsError(17, "the root directory exists", path)
        with self._client(path) as client:
            try:
                client.make_directory(name, parent, self.timeout)
            except (NotADirectoryError, FileNotFoundError) as error:
                raise FileNotFoundError(2, f"no such directory: {parent}", path) from error

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        path = self._strip_protocol(path)
        components = split_remote_path(path)
        for depth in range(1, len(components) + 1):
            parent = "/" + "/".join(components[: depth - 1])
            last = depth == len(components)
            with self._client(path) as client:
                try:
                    client.make_directory(components[depth - 1], parent, self.timeout)
                except FileExistsError:
                    target = "/" + "/".join(components[:depth])
                    if self.info(target)["type"] != "directory":
                        raise NotADirectoryError(20, "a file has that name", target) from None
                    if last and not exist_ok:
                        raise
        if not components and not exist_ok:
            raise FileExistsError(17, "the root directory exists", path)

    def rmdir(self, path: str) -> None:
        path = self._strip_protocol(path)
        if self.info(path)["type"] != "directory":
            raise NotADirectoryError(20, "not a directory", path)
        if self.ls(path, detail=False):
            raise OSError(39, "directory not empty", path)
        self.rm_file(path)

    # -- removing -------------------------------------------------------------------

    def rm_file(self, path: str) -> None:
        path = self._strip_protocol(path)
        with self._client(path) as client:
            client.delete_file(path, self.timeout)

    def _rm(self, path: str) -> None:
        self.rm_file(path)

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        """Remove files, and with ``recursive`` directories with all they hold; a
        directory goes in one request, however much it holds."""
        if not recursive or maxdepth is not None:
            super().rm(path, recursive=recursive, maxdepth=maxdepth)
            return
        removed: list[str] = []
        for target in self.expand_path(path, recursive=False):
            if any(target.startswith(done.rstrip("/") + "/") for done in removed):
                continue
            self.rm_file(target)
            removed.append(target)

    # -- files ----------------------------------------------------------------------

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> io.IOBase:
        path = self._strip_protocol(path)
        chunk_size = self.chunk_size
        if mode == "rb":
            try:
                raw = _Reader(self._shared, path, chunk_size, self.timeout)
            except (SourceNotFound, IsADirectoryError) as error:
                if self.isdir(path):
                    raise IsADirectoryError(21, "is a directory", path) from error
                raise FileNotFoundError(2, "no such file", path) from error
            return RemofileBufferedReader(self, path, raw, block_size or chunk_size)
        if mode in ("wb", "xb"):
            if not autocommit:
                raise NotImplementedError("Remofile files are published on close: no transactions")
            try:
                return _Writer(self._shared, path, mode == "xb", chunk_size, self.timeout, self)
            except FileNotFoundError:
                # Its directory is missing: make it, as fsspec's object stores do.
                self.makedirs(posixpath.dirname(path), exist_ok=True)
            return _Writer(self._shared, path, mode == "xb", chunk_size, self.timeout, self)
        raise ValueError(f"unsupported mode {mode!r}: Remofile files open as 'rb', 'wb' or 'xb'")

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        """Write ``value`` as the whole file: ``mode="create"`` fails if it exists, and
        the check and the write are one atomic upload."""
        with self.open(path, "xb" if mode == "create" else "wb", **kwargs) as file:
            file.write(value)

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        with self.open(path, "rb", **kwargs) as file:
            size = file.size
            first = 0 if start is None else (start if start >= 0 else max(0, size + start))
            last = size if end is None else (end if end >= 0 else max(0, size + end))
            if first:
                file.seek(first)
            data: bytes = file.read(max(0, last - first))
            return data

    def touch(self, path: str, truncate: bool = True, **kwargs: Any) -> None:
        if not truncate and self.exists(path):
            raise NotImplementedError("Remofile cannot update a file's time without writing it")
        self.pipe_file(path, b"")

    # -- copies and moves on the server -------------------------------------------------

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Copy a file on the server (COPY_FILE: the data never leaves it), replacing
        the target atomically; a directory is made, not copied with its content."""
        source = self._strip_protocol(path1)
        target = self._strip_protocol(path2)
        if self.isdir(source):
            self.makedirs(target, exist_ok=True)
            return
        parent, name = posixpath.split(target)
        self.makedirs(parent, exist_ok=True)
        with self._client(source) as client:
            client.copy_file(source, parent, name=name, replace=True, timeout=self.timeout)

    def mv(
        self,
        path1: Any,
        path2: Any,
        recursive: bool = False,
        maxdepth: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Move on the server (MOVE_FILE: one atomic rename). A single path moved to a
        name is one request; globs and lists fall back to fsspec's copy and remove."""
        single = (
            isinstance(path1, str)
            and isinstance(path2, str)
            and maxdepth is None
            and not any(character in path1 for character in "*?[")
        )
        if not single:
            super().mv(path1, path2, recursive=recursive, maxdepth=maxdepth, **kwargs)
            return
        source = self._strip_protocol(path1)
        target = self._strip_protocol(path2)
        if source == target:
            return
        is_directory = self.isdir(source)
        if is_directory and not recursive:
            super().mv(path1, path2, recursive=recursive, maxdepth=maxdepth, **kwargs)
            return
        if path2.endswith("/") or self.isdir(target):
            parent, name = target, posixpath.basename(source)
        else:
            parent, name = posixpath.split(target)
            self.makedirs(parent, exist_ok=True)
        with self._client(source) as client:
            client.move_file(
                source, parent, name=name, replace=not is_directory, timeout=self.timeout
            )

    # -- transfers with the local filesystem ----------------------------------------------

    def put_file(
        self,
        lpath: str,
        rpath: str,
        callback: Any = None,
        mode: str = "overwrite",
        **kwargs: Any,
    ) -> None:
        rpath = self._strip_protocol(rpath)
        if os.path.isdir(lpath):
            self.makedirs(rpath, exist_ok=True)
            return
        if self._gathering is not None and mode == "overwrite":
            self._gathering.append((os.fspath(lpath), rpath))
            return
        parent, name = posixpath.split(rpath)
        self.makedirs(parent, exist_ok=True)
        with self._client(rpath) as client:
            client.upload_file(
                lpath,
                parent,
                name=name,
                chunk_size=self.chunk_size,
                timeout=self.timeout,
                replace=mode != "create",
            )

    def put(
        self,
        lpath: Any,
        rpath: Any,
        recursive: bool = False,
        callback: Any = None,
        maxdepth: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Upload files (and trees, with ``recursive``). fsspec's own rules choose what
        goes where; the files then travel in one pipelined transfer, not one round trip
        per chunk or per file. Existing remote files are replaced atomically."""
        gathered: list[tuple[str, str]] = []
        self._gathering = gathered
        try:
            options = {} if callback is None else {"callback": callback}
            super().put(lpath, rpath, recursive=recursive, maxdepth=maxdepth, **options, **kwargs)
        finally:
            self._gathering = None
        if gathered:
            self._upload_many(gathered)

    def _upload_many(self, pairs: list[tuple[str, str]]) -> None:
        directories = sorted({posixpath.dirname(remote) for _, remote in pairs})
        for directory in directories:
            self.makedirs(directory, exist_ok=True)
        jobs = [
            UploadJob(
                local,
                split_remote_path(posixpath.dirname(remote)),
                posixpath.basename(remote),
                True,
            )
            for local, remote in pairs
        ]
        with self._client() as client:
            if not client._supports(pb.FEATURE_REPLACE, self.timeout):
                # A server of protocol 1.0 cannot replace: file by file through open().
                for local, remote in pairs:
                    with open(local, "rb") as source, client.open(remote, "wb") as target:
                        while block := source.read(self.chunk_size):
                            target.write(block)
                return
            requests = upload_requests(client, iter(jobs), self.chunk_size, None, False, False)
            client._run(requests, self.timeout)

    def get_file(
        self,
        rpath: str,
        lpath: Any,
        callback: Any = None,
        outfile: Any = None,
        **kwargs: Any,
    ) -> None:
        rpath = self._strip_protocol(rpath)
        if outfile is not None or not isinstance(lpath, str | os.PathLike):
            target = outfile if outfile is not None else lpath
            with self.open(rpath, "rb") as source:
                while block := source.read(self.chunk_size):
                    target.write(block)
            return
        lpath = os.fspath(lpath)
        if self.isdir(rpath):
            os.makedirs(lpath, exist_ok=True)
            return
        if self._gathering is not None:
            self._gathering.append((rpath, lpath))
            return
        directory, name = os.path.split(os.path.abspath(lpath))
        os.makedirs(directory, exist_ok=True)
        with self._client(rpath) as client:
            client.download_file(
                rpath,
                directory,
                name=name,
                chunk_size=self.chunk_size,
                timeout=self.timeout,
                replace=True,
            )

    def get(
        self,
        rpath: Any,
        lpath: Any,
        recursive: bool = False,
        callback: Any = None,
        maxdepth: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Download files (and trees, with ``recursive``), chosen by fsspec's rules,
        in one pipelined transfer; local files are replaced once verified."""
        gathered: list[tuple[str, str]] = []
        self._gathering = gathered
        try:
            options = {} if callback is None else {"callback": callback}
            super().get(rpath, lpath, recursive=recursive, maxdepth=maxdepth, **options, **kwargs)
        finally:
            self._gathering = None
        if gathered:
            self._download_many(gathered)

    def _download_many(self, pairs: list[tuple[str, str]]) -> None:
        sizes: dict[str, int] = {}
        for directory in sorted({posixpath.dirname(remote) for remote, _ in pairs}):
            with self._client(directory) as client:
                for entry in client.list_entries(directory, self.timeout):
                    sizes[posixpath.join(directory, entry.name)] = entry.size
        jobs: list[DownloadJob | str] = []
        for remote, local in pairs:
            directory, name = os.path.split(os.path.abspath(local))
            os.makedirs(directory, exist_ok=True)
            jobs.append(
                DownloadJob(split_remote_path(remote), directory, name, sizes.get(remote), True)
            )
        with self._client() as client:
            run_downloads(
                client, iter(jobs), self.chunk_size, None, False, False, self.timeout, True
            )


atexit.register(_release_all)

__all__ = ["RemofileBufferedReader", "RemofileFileSystem", "ServerSettings"]
