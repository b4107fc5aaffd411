"""Where the server keeps files: the storage interface and the jailed local directory.

The protocol layer never touches the disk itself; it calls a :class:`Storage`. Like
paramiko's SFTPServerInterface, the interface speaks in Python's own terms: methods
raise FileNotFoundError, NotADirectoryError, FileExistsError, IsADirectoryError or
:class:`~remofile.core.paths.RemotePathError`, and the server turns them into protocol
reasons in one table. :class:`LocalStorage`, the default, serves one directory and
guarantees that nothing outside it is ever read, written or listed.
"""

from __future__ import annotations

import abc
import contextlib
import errno
import fcntl
import functools
import hashlib
import logging
import os
import secrets
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from remofile.core.digests import Hasher, new_hasher
from remofile.core.names import is_reserved_name
from remofile.core.paths import RemotePath
from remofile.core.whole_files import (
    fill_whole_file,
    name_unnamed_file,
    open_unnamed_file,
    write_whole_file,
)
from remofile.server.renames import rename_without_replacing
from remofile.server.staging import STAGING_DIRECTORY_NAME as STAGING_DIRECTORY_NAME
from remofile.server.staging import (
    Purger,
    StagedBudget,
    StagedFile,
    StagingArea,
    TreeRemoval,
)
from remofile.server.workers import WorkerThreads

logger = logging.getLogger("remofile.server")


@dataclass(frozen=True)
class EntryInfo:
    """One entry of a listing."""

    name: str
    is_directory: bool
    size: int
    modification_time_ns: int


@dataclass(frozen=True)
class FileInfo:
    """What a download needs to know about a file before it starts."""

    size: int
    modification_time_ns: int


@dataclass(frozen=True)
class DigestResult:
    """The digest of a stored file and what it was computed over (SPEC.md 4.16)."""

    value: bytes
    size: int
    modification_time_ns: int


@dataclass(frozen=True)
class WholeFile:
    """A file of a batch, whole in memory, to be stored as ``directory/name``."""

    directory: RemotePath
    name: str
    data: memoryview
    modification_time_ns: int
    replace: bool


@dataclass(frozen=True)
class WholeRead:
    """A file read whole for a batch: its status, and its bytes unless it was larger
    than the caller could take (then ``data`` is None and nothing was read)."""

    info: FileInfo
    data: bytes | None


class InvalidDestinationError(Exception):
    """A directory cannot be moved into itself or beneath itself (SPEC.md 4.14)."""


#: Flags to open a directory for fsync.
_OPEN_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)

#: Files of a batch synced at once (store_files): the file system merges their commits.
SYNC_THREADS = 8

#: Bytes read at a time when a file is digested or copied without kernel help.
STREAM_BLOCK_BYTES = 1 << 20


class UploadTarget(abc.ABC):
    """A file being uploaded: written in order, invisible until :meth:`commit`."""

    #: Bytes already staged (non-zero when an interrupted upload is resumed).
    offset: int

    @abc.abstractmethod
    def write(self, data: memoryview) -> None:
        """Append ``data`` at the current offset."""

    @abc.abstractmethod
    def staged_data(self) -> Iterator[memoryview]:
        """The bytes staged before this upload resumed, to bring a digest up to date."""

    @abc.abstractmethod
    def commit(self, modification_time_ns: int = 0) -> None:
        """Make the file visible under its name, complete, or raise FileExistsError.

        A non-zero ``modification_time_ns`` becomes the file's modification time.
        """

    @abc.abstractmethod
    def abandon(self, keep_for_resume: bool) -> None:
        """Stop writing; keep the staged bytes for a later resume, or discard them."""


class FileReader(abc.ABC):
    """A file being downloaded."""

    @abc.abstractmethod
    def read(self, offset: int, size: int) -> bytes:
        """Exactly ``size`` bytes at ``offset``; OSError if the file became shorter."""

    @abc.abstractmethod
    def close(self) -> None: ...


class Removal(abc.ABC):
    """A directory tree being removed, already out of sight, a batch at a time."""

    total: int
    removed: int
    #: Entries that could not be removed; once done, what is left is back in place.
    failed: int = 0

    @abc.abstractmethod
    def remove_batch(self, limit: int) -> bool:
        """Remove up to ``limit`` entries; True once everything, the tree's top included,
        is gone."""


class Storage(abc.ABC):
    """What a Remofile server needs from the place it serves files from.

    A small required core (list, create, upload, download, remove) and optional
    abilities that a backend declares with the ``can_*`` flags; the server announces
    them to clients (SPEC.md 8.5) and never calls one a backend does not declare.
    """

    #: Uploads may replace an existing file atomically (``replace=True``, SPEC.md 4.5.5).
    can_replace = False
    #: :meth:`move` is implemented, atomic (SPEC.md 4.14).
    can_move = False
    #: :meth:`copy_file` is implemented (SPEC.md 4.15).
    can_copy = False
    #: Batches of whole files, UPLOAD_FILES and DOWNLOAD_FILES (SPEC.md 4.17, 4.18), go
    #: through :meth:`store_files` and :meth:`read_whole`, which every backend has.
    can_batch = True

    @abc.abstractmethod
    def list_directory(self, directory: RemotePath, recursive: bool) -> list[EntryInfo]:
        """The entries of a directory (and its sub-directories when recursive)."""

    @abc.abstractmethod
    def check_new_entry(self, directory: RemotePath, name: str, replace: bool = False) -> None:
        """Check that ``name`` can be created in ``directory``: FileNotFoundError or
        NotADirectoryError for the directory, FileExistsError if the name is taken and
        not to be replaced, IsADirectoryError if it is to be replaced but names a
        directory."""

    @abc.abstractmethod
    def create_file(self, directory: RemotePath, name: str) -> None:
        """Create an empty file; FileExistsError if the name is taken."""

    @abc.abstractmethod
    def make_directory(self, directory: RemotePath, name: str) -> None:
        """Create an empty directory; FileExistsError if the name is taken."""

    @abc.abstractmethod
    def begin_upload(
        self,
        directory: RemotePath,
        name: str,
        file_size: int,
        resume: bool,
        sync: bool,
        replace: bool = False,
    ) -> UploadTarget:
        """Prepare to receive a file of ``file_size`` bytes, resuming if asked and
        possible; its commit replaces an existing file of that name if ``replace``."""

    #: Whether :meth:`store_file` may run on worker threads, several at once, while the
    #: server goes on with the next requests. A backend that sets it guarantees that
    #: concurrent calls to :meth:`store_file` are safe.
    stores_concurrently = False

    def store_file(
        self,
        directory: RemotePath,
        name: str,
        data: memoryview,
        modification_time_ns: int,
        sync: bool,
        replace: bool = False,
    ) -> None:
        """Store a whole file that arrived in one chunk, and place it (replacing a file
        of that name if ``replace``), or raise FileExistsError if the name was taken
        meanwhile. Staged data kept for that destination is discarded, as a new upload
        does (SPEC.md 4.9.1).

        The default goes through :meth:`begin_upload`; a backend may do better.
        """
        target = self.begin_upload(directory, name, data.nbytes, False, sync, replace)
        try:
            target.write(data)
            target.commit(modification_time_ns)
        except BaseException:
            target.abandon(keep_for_resume=False)
            raise

    def store_files(self, files: Sequence[WholeFile], sync: bool) -> list[BaseException | None]:
        """Store a batch of whole files (SPEC.md 4.17): each as :meth:`store_file` would,
        none depending on another. Returns, for each file in order, None where it is in
        place, or the exception that kept it out; other files are stored regardless.
        When ``sync``, every file stored is durable, data and name, before this returns.

        The default checks and stores one file after another; a backend may share the
        cost of durability across the batch.
        """
        return [self.store_checked(file, sync) for file in files]

    def store_checked(self, file: WholeFile, sync: bool) -> BaseException | None:
        """One file of a batch, checked (:meth:`check_new_entry`) and stored
        (:meth:`store_file`): None once in place, else the exception that kept it out."""
        try:
            self.check_new_entry(file.directory, file.name, file.replace)
            self.store_file(
                file.directory, file.name, file.data, file.modification_time_ns, sync, file.replace
            )
        except Exception as error:
            return error
        return None

    def read_whole(self, path: RemotePath, max_bytes: int) -> WholeRead:
        """A regular file's status and, if it holds at most ``max_bytes``, its bytes, for
        a batch download (SPEC.md 4.18); FileNotFoundError or IsADirectoryError as for
        :meth:`file_info`. The default opens the file through :meth:`open_file`."""
        info = self.file_info(path)
        if info.size > max_bytes:
            return WholeRead(info, None)
        reader = self.open_file(path)
        try:
            return WholeRead(info, reader.read(0, info.size))
        finally:
            reader.close()

    @abc.abstractmethod
    def file_info(self, path: RemotePath) -> FileInfo:
        """Size and modification time of a file; IsADirectoryError for a directory."""

    @abc.abstractmethod
    def open_file(self, path: RemotePath) -> FileReader:
        """Open a file for reading."""

    def file_digest(self, path: RemotePath, algorithm: int) -> DigestResult:
        """The digest of a whole file, read as a stream (SPEC.md 4.16).

        The default reads through :meth:`open_file`; a backend that stores digests may
        answer from them.
        """
        info = self.file_info(path)
        hasher = new_hasher(algorithm)
        reader = self.open_file(path)
        try:
            offset = 0
            while offset < info.size:
                block = reader.read(offset, min(STREAM_BLOCK_BYTES, info.size - offset))
                hasher.update(block)
                offset += len(block)
        finally:
            reader.close()
        return DigestResult(hasher.digest(), info.size, info.modification_time_ns)

    def move(self, source: RemotePath, directory: RemotePath, name: str, replace: bool) -> None:
        """Rename ``source`` to ``name`` in ``directory`` in one atomic step (SPEC.md 4.14).

        Raises FileNotFoundError, NotADirectoryError, FileExistsError,
        IsADirectoryError (replacing a directory) or :class:`InvalidDestinationError`.
        Only called when :attr:`can_move` is set.
        """
        raise NotImplementedError

    def copy_file(
        self, source: RemotePath, directory: RemotePath, name: str, replace: bool, sync: bool
    ) -> None:
        """Copy a regular file to ``name`` in ``directory``, placed whole (SPEC.md 4.15).

        Raises as :meth:`move` does, and IsADirectoryError if the source is not a
        regular file. Only called when :attr:`can_copy` is set.
        """
        raise NotImplementedError

    @abc.abstractmethod
    def remove(self, path: RemotePath) -> Removal | None:
        """Remove a file, link or empty directory now (None), or hide a tree and return
        the removal of its entries."""

    @abc.abstractmethod
    def abandon_removal(self, removal: Removal) -> None:
        """Leave the rest of a cancelled removal to :meth:`purge_step`."""

    @abc.abstractmethod
    def purge_step(self, limit: int) -> bool:
        """Remove up to ``limit`` entries of trees left behind by cancelled removals.

        :returns: True if more remain.
        """


def _attempt(operation: Callable[[int], None], fd: int) -> BaseException | None:
    """Run ``operation(fd)``; the exception it raised, or None."""
    try:
        operation(fd)
    except Exception as error:
        return error
    return None


def _is_inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def _is_listable_name(name: str) -> bool:
    """Names that are not valid Unicode (undecodable bytes) cannot travel as proto strings."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _LocalReader(FileReader):
    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))

    def read(self, offset: int, size: int) -> bytes:
        data = os.pread(self._fd, size, offset)
        if len(data) != size:
            # A short read happens only if another process truncated the file.
            parts = [data]
            got = len(data)
            while got < size:
                more = os.pread(self._fd, size - got, offset + got)
                if not more:
                    raise OSError(f"file became shorter while downloading (at byte {offset + got})")
                parts.append(more)
                got += len(more)
            data = b"".join(parts)
        return data

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class _LocalUpload(UploadTarget):
    """An upload staged in the staging area of its destination's file system."""

    def __init__(self, staged: StagedFile) -> None:
        self._staged = staged
        self.offset = staged.offset

    def write(self, data: memoryview) -> None:
        self._staged.write(data)

    def staged_data(self) -> Iterator[memoryview]:
        return self._staged.staged_data(STREAM_BLOCK_BYTES)

    def commit(self, modification_time_ns: int = 0) -> None:
        self._staged.commit(modification_time_ns)

    def abandon(self, keep_for_resume: bool) -> None:
        self._staged.abandon(keep_for_resume)


class _LocalRemoval(Removal):
    """A tree hidden in a trash, removed a batch at a time (staging.TreeRemoval)."""

    def __init__(self, tree: TreeRemoval) -> None:
        self.tree = tree
        self.total = tree.total
        self.removed = 0

    def remove_batch(self, limit: int) -> bool:
        done = self.tree.remove(limit)
        self.removed = self.tree.removed
        self.failed = self.tree.failed
        if done and self.tree.failed and not self.tree.restore():
            logger.warning(
                "could not remove %d entries of a tree, nor put them back", self.tree.failed
            )
        return done


def _hash_descriptor(fd: int, hasher: Hasher) -> int:
    """Feed a file to ``hasher`` from its start to its end; the bytes hashed."""
    buffer = bytearray(STREAM_BLOCK_BYTES)
    view = memoryview(buffer)
    total = 0
    with open(fd, "rb", buffering=0, closefd=False) as stream:
        while read := stream.readinto(buffer):
            hasher.update(view[:read])
            total += read
    return total


#: ioctl that makes a file share another's blocks (Linux FICLONE: btrfs, XFS, ...).
_FICLONE = 0x40049409


def _copy_descriptor(source: int, destination: int, size: int) -> None:
    """Copy ``size`` bytes from the start of ``source`` to ``destination`` as cheaply as
    the system allows: a reflink, then copy_file_range, then reads and writes."""
    with contextlib.suppress(OSError):
        fcntl.ioctl(destination, _FICLONE, source)
        return
    offset = 0
    copy_range = getattr(os, "copy_file_range", None)
    while offset < size:
        count = min(size - offset, 1 << 30)
        copied = 0
        if copy_range is not None:
            try:
                copied = copy_range(source, destination, count, offset, offset)
            except OSError as error:
                if error.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                copy_range = None
                continue
        else:
            block = os.pread(source, min(count, STREAM_BLOCK_BYTES), offset)
            copied = len(block)
            written = 0
            while written < copied:
                written += os.pwrite(destination, block[written:], offset + written)
        if copied == 0:
            break  # the source became shorter: copy what there is
        offset += copied


class LocalStorage(Storage):
    """The jailed local directory.

    Every remote path is resolved inside ``root``; symbolic links are followed only when
    they resolve inside it, and anything that would leave it is treated as not existing.
    Partial uploads and trees being removed live in ``<root>/.remofile-staging``, which
    is never listed and cannot be named by a client.
    """

    def __init__(
        self, root: str | os.PathLike[str], staged_budget: StagedBudget | None = None
    ) -> None:
        self.root = os.path.realpath(os.fspath(root))
        if not os.path.isdir(self.root):
            raise NotADirectoryError(f"not a directory: {self.root}")
        self._budget = staged_budget or StagedBudget()
        self._purger = Purger()
        #: The staging area of each file system written to, by device number.
        self._areas: dict[int, StagingArea] = {}
        # The root's staging area is checked now: a server refuses to start without one.
        self._root_area = self._area_at(self.root)
        #: Threads that sync the files of a batch together (store_files), made on first use.
        self._syncers: WorkerThreads | None = None
        self._syncers_lock = threading.Lock()

    def _area_at(self, top: str) -> StagingArea:
        area = StagingArea(top, self._budget)
        self._areas[area.device] = area
        self._purger.adopt_trash(area)
        return area

    def _area_for(self, local_directory: str) -> StagingArea:
        """The staging area of the file system ``local_directory`` (a real path inside
        the root) is on: made at the top of that file system inside the root."""
        device = os.stat(local_directory).st_dev
        area = self._areas.get(device)
        if area is not None:
            return area
        top = local_directory
        while top != self.root:
            parent = os.path.dirname(top)
            if os.stat(parent).st_dev != device:
                break
            top = parent
        return self._area_at(top)

    def close(self) -> None:
        for area in self._areas.values():
            area.close()
        if self._syncers is not None:
            self._syncers.shutdown()
            self._syncers = None

    # -- paths --------------------------------------------------------------

    def _resolve(self, path: RemotePath) -> str:
        """The real local path of an existing remote path inside the root.

        :raises FileNotFoundError: if it does not exist or resolves outside the root.
        """
        # One lstat per component; only a symbolic link costs a full resolution.
        local = self.root
        for component in path:
            local = os.path.join(local, component)
            try:
                info = os.lstat(local)
            except (FileNotFoundError, NotADirectoryError):
                raise FileNotFoundError(f"no such file or directory: /{'/'.join(path)}") from None
            if stat.S_ISLNK(info.st_mode):
                local = os.path.realpath(local)
                if (
                    not _is_inside(local, self.root)
                    or self._is_staging(local)
                    or not os.path.exists(local)
                ):
                    raise FileNotFoundError(f"no such file or directory: /{'/'.join(path)}")
        return local

    def _is_staging(self, real: str) -> bool:
        """Whether a real path inside the root lies in a staging area (or any entry of
        a reserved name), which no client may reach, even through a link."""
        relative = os.path.relpath(real, self.root)
        return any(is_reserved_name(part) for part in relative.split(os.sep))

    def _directory(self, path: RemotePath) -> str:
        real = self._resolve(path)
        if not os.path.isdir(real):
            raise NotADirectoryError(f"not a directory: /{'/'.join(path)}")
        return real

    def check_new_entry(self, directory: RemotePath, name: str, replace: bool = False) -> None:
        self._new_entry(directory, name, replace)

    def _new_entry(self, directory: RemotePath, name: str, replace: bool = False) -> str:
        """The local path for a new entry ``name`` in ``directory``, checked free, or
        holding something that is not a directory when it is to be replaced."""
        local = os.path.join(self._directory(directory), name)
        self._check_name_free(local, name, replace)
        return local

    def _check_name_free(self, local: str, name: str, replace: bool) -> None:
        """FileExistsError if ``local`` exists and is not to be replaced;
        IsADirectoryError if it is to be replaced but is a directory as clients see it
        (a link to a directory inside the root included)."""
        try:
            info = os.lstat(local)
        except FileNotFoundError:
            return
        if not replace:
            raise FileExistsError(f"already exists: {name}")
        is_directory = stat.S_ISDIR(info.st_mode)
        if stat.S_ISLNK(info.st_mode):
            target = os.path.realpath(local)
            is_directory = _is_inside(target, self.root) and os.path.isdir(target)
        if is_directory:
            raise IsADirectoryError(f"a directory cannot be replaced: {name}")

    # -- listing ------------------------------------------------------------

    def _entry_info(self, entry: os.DirEntry[str], name: str) -> EntryInfo | None:
        try:
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if not _is_inside(target, self.root) or self._is_staging(target):
                    return None
            info = entry.stat()
        except OSError:
            return None  # vanished, or a dangling link: nothing to show
        is_directory = stat.S_ISDIR(info.st_mode)
        if not is_directory and not stat.S_ISREG(info.st_mode):
            return None  # FIFOs, sockets and devices cannot be transferred
        return EntryInfo(name, is_directory, 0 if is_directory else info.st_size, info.st_mtime_ns)

    def list_directory(self, directory: RemotePath, recursive: bool) -> list[EntryInfo]:
        top = self._directory(directory)
        result: list[EntryInfo] = []
        pending: list[tuple[str, str]] = [(top, "")]
        while pending:
            local, prefix = pending.pop()
            with os.scandir(local) as entries:
                for entry in entries:
                    if is_reserved_name(entry.name) or not _is_listable_name(entry.name):
                        continue
                    info = self._entry_info(entry, prefix + entry.name)
                    if info is None:
                        continue
                    result.append(info)
                    if recursive and info.is_directory and not entry.is_symlink():
                        pending.append((entry.path, info.name + "/"))
        result.sort(key=lambda entry: entry.name)
        return result

    # -- creation -----------------------------------------------------------

    def create_file(self, directory: RemotePath, name: str) -> None:
        local = self._new_entry(directory, name)
        fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.close(fd)

    def make_directory(self, directory: RemotePath, name: str) -> None:
        os.mkdir(self._new_entry(directory, name), 0o755)

    # -- transfers ----------------------------------------------------------

    @staticmethod
    def _staging_key(directory: RemotePath, name: str) -> str:
        """What the staged data of a destination is named after."""
        return hashlib.sha256("/".join((*directory, name)).encode("utf-8")).hexdigest()

    can_replace = True
    can_move = True
    can_copy = True

    def begin_upload(
        self,
        directory: RemotePath,
        name: str,
        file_size: int,
        resume: bool,
        sync: bool,
        replace: bool = False,
    ) -> UploadTarget:
        final_path = self._new_entry(directory, name, replace)
        area = self._area_for(os.path.dirname(final_path))
        key = self._staging_key(directory, name)
        staged_name = f"{key}-{file_size}.part"
        # One staged upload per destination: data staged for another size is stale.
        area.discard_matching(key, keep=staged_name)
        area.reclaim(file_size, keep=staged_name)
        staged = StagedFile(area, staged_name, final_path, resume, sync, replace)
        if staged.offset > file_size:
            staged.abandon(keep_for_resume=False)
            staged = StagedFile(area, staged_name, final_path, False, sync, replace)
        return _LocalUpload(staged)

    stores_concurrently = True

    def store_file(
        self,
        directory: RemotePath,
        name: str,
        data: memoryview,
        modification_time_ns: int,
        sync: bool,
        replace: bool = False,
    ) -> None:
        """Write the file unnamed in its directory and link it in place (whole_files.py):
        one directory entry instead of three (staging name, link, unlink), no contention
        for the staging directory, nothing left behind by a failure. Thread-safe: it
        only resolves paths and works on its own descriptors. Falls back to the staging
        area where unnamed files are not available.
        """
        parent = os.path.dirname(self._new_entry(directory, name, replace))
        self._area_for(parent).discard_matching(self._staging_key(directory, name))
        try:
            written = write_whole_file(parent, name, data, modification_time_ns, sync, replace)
        except IsADirectoryError:
            raise FileExistsError(name) from None  # a directory took the name meanwhile
        if not written:
            super().store_file(directory, name, data, modification_time_ns, sync, replace)

    def store_files(self, files: Sequence[WholeFile], sync: bool) -> list[BaseException | None]:
        """Write every file unnamed in its directory first, then make them all durable,
        then name them, then make the names durable: one pass of each over the batch,
        so the disk's flushes overlap instead of coming one file after another, and no
        name ever points at data that a power cut could lose."""
        outcomes: list[BaseException | None] = [None] * len(files)
        unnamed: list[tuple[int, int, str]] = []  # (index in files, descriptor, directory)
        #: Each directory of the batch resolved once, with its staging area.
        directories: dict[RemotePath, tuple[str, StagingArea]] = {}
        #: The staged data to discard, of each destination that passed its checks.
        discarded: dict[StagingArea, list[str]] = {}
        try:
            for index, file in enumerate(files):
                try:
                    written = self._write_unnamed(file, directories, discarded)
                except Exception as error:
                    outcomes[index] = error
                    continue
                if written is None:  # no unnamed files here: the usual way, whole
                    outcomes[index] = self.store_checked(file, sync)
                else:
                    unnamed.append((index, *written))
            for area, keys in discarded.items():
                try:
                    area.discard_matching_any(keys)
                except OSError as error:  # left for the staged budget to reclaim later
                    logger.warning("could not discard staged data: %s", error.strerror)
            if sync:
                synced = self._sync_all([fd for _, fd, _ in unnamed])
                for (index, _, _), outcome in zip(unnamed, synced, strict=True):
                    outcomes[index] = outcome
            named_in: set[str] = set()
            for index, fd, parent in unnamed:
                if outcomes[index] is not None:
                    continue
                file = files[index]
                try:
                    name_unnamed_file(fd, parent, file.name, file.replace)
                except IsADirectoryError:
                    outcomes[index] = FileExistsError(file.name)  # a directory took the name
                except Exception as error:
                    outcomes[index] = error
                else:
                    named_in.add(parent)
        finally:
            for _, fd, _ in unnamed:
                os.close(fd)
        if sync:
            self._sync_directories(named_in)
        return outcomes

    def _sync_all(self, descriptors: list[int]) -> list[BaseException | None]:
        """fsync every descriptor, several at once: the file system then commits them
        together (one journal commit for many files) instead of one after another."""
        if len(descriptors) < 2:
            return [_attempt(os.fsync, fd) for fd in descriptors]
        with self._syncers_lock:
            if self._syncers is None:
                self._syncers = WorkerThreads(SYNC_THREADS, "remofile-sync")
            syncers = self._syncers
        futures = [syncers.submit(functools.partial(os.fsync, fd)) for fd in descriptors]
        return [future.exception() for future in futures]

    def _sync_directories(self, directories: set[str]) -> None:
        """Make the new names in ``directories`` durable. A failure is logged, not
        reported: the files are durable and named, and the file system's next commit
        keeps the names."""
        descriptors: list[int] = []
        try:
            for local in directories:
                with contextlib.suppress(OSError):
                    descriptors.append(os.open(local, _OPEN_DIRECTORY))
            for error in self._sync_all(descriptors):
                if isinstance(error, OSError):
                    logger.warning("could not sync a directory after a batch: %s", error.strerror)
        finally:
            for fd in descriptors:
                os.close(fd)

    def _write_unnamed(
        self,
        file: WholeFile,
        directories: dict[RemotePath, tuple[str, StagingArea]],
        discarded: dict[StagingArea, list[str]],
    ) -> tuple[int, str] | None:
        """An unnamed file holding ``file``'s bytes in its directory, and that directory;
        None where unnamed files are not available. ``directories`` keeps the batch's
        directories once resolved: a batch's files mostly share a few, and resolving
        one costs a system call per component. The staged data of the destination, once
        its checks passed, is added to ``discarded``, discarded for the whole batch at once."""
        known = directories.get(file.directory)
        if known is None:
            parent = self._directory(file.directory)
            known = directories[file.directory] = (parent, self._area_for(parent))
        parent, area = known
        self._check_name_free(os.path.join(parent, file.name), file.name, file.replace)
        discarded.setdefault(area, []).append(self._staging_key(file.directory, file.name))
        fd = open_unnamed_file(parent)
        if fd is None:
            return None
        try:
            remaining = file.data
            while remaining:
                remaining = remaining[os.write(fd, remaining) :]
            if file.modification_time_ns:
                os.utime(fd, ns=(file.modification_time_ns, file.modification_time_ns))
        except BaseException:
            os.close(fd)
            raise
        return fd, parent

    def read_whole(self, path: RemotePath, max_bytes: int) -> WholeRead:
        """One descriptor for the status and the bytes, so they belong together."""
        fd, status = self._open_regular(path)
        try:
            info = FileInfo(status.st_size, status.st_mtime_ns)
            if status.st_size > max_bytes:
                return WholeRead(info, None)
            data = os.pread(fd, status.st_size, 0)
            while len(data) < status.st_size:  # short reads: rare, but allowed
                more = os.pread(fd, status.st_size - len(data), len(data))
                if not more:
                    raise OSError(errno.EIO, "the file became shorter while it was read")
                data += more
            return WholeRead(info, data)
        finally:
            os.close(fd)

    def file_info(self, path: RemotePath) -> FileInfo:
        real = self._resolve(path)
        info = os.stat(real)
        if not stat.S_ISREG(info.st_mode):
            # Directories, and FIFOs or devices, which could block the server on open.
            raise IsADirectoryError(f"not a regular file: /{'/'.join(path)}")
        return FileInfo(info.st_size, info.st_mtime_ns)

    def open_file(self, path: RemotePath) -> FileReader:
        return _LocalReader(self._resolve(path))

    def _open_regular(self, path: RemotePath) -> tuple[int, os.stat_result]:
        """A descriptor of a regular file and its status; IsADirectoryError otherwise."""
        fd = os.open(self._resolve(path), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise IsADirectoryError(f"not a regular file: /{'/'.join(path)}")
        return fd, info

    def file_digest(self, path: RemotePath, algorithm: int) -> DigestResult:
        """Hash the file from the one descriptor whose status is reported, into one
        reused buffer: what is digested is what the size and time describe."""
        fd, info = self._open_regular(path)
        try:
            hasher = new_hasher(algorithm)
            size = _hash_descriptor(fd, hasher)
        finally:
            os.close(fd)
        return DigestResult(hasher.digest(), size, info.st_mtime_ns)

    # -- moving and copying -------------------------------------------------

    def _existing_entry(self, path: RemotePath) -> str:
        """The local path of an existing entry itself (a link, not its target), as
        removal names it: FileNotFoundError if it does not exist for clients."""
        try:
            local = os.path.join(self._directory(path[:-1]), path[-1])
        except NotADirectoryError:
            raise FileNotFoundError(f"no such file or directory: /{'/'.join(path)}") from None
        if not os.path.lexists(local):
            raise FileNotFoundError(f"no such file or directory: /{'/'.join(path)}")
        if os.path.islink(local):
            target = os.path.realpath(local)
            if (
                not os.path.exists(target)
                or not _is_inside(target, self.root)
                or self._is_staging(target)
            ):
                raise FileNotFoundError(f"no such file or directory: /{'/'.join(path)}")
        return local

    def move(self, source: RemotePath, directory: RemotePath, name: str, replace: bool) -> None:
        if not source:
            raise PermissionError("the root directory cannot be moved")
        source_local = self._existing_entry(source)
        parent = self._directory(directory)
        destination = os.path.join(parent, name)
        source_is_directory = os.path.isdir(source_local) and not os.path.islink(source_local)
        if source_is_directory and _is_inside(parent, source_local):
            raise InvalidDestinationError("a directory cannot be moved into itself")
        if destination == source_local:
            if not replace:
                raise FileExistsError(f"already exists: {name}")
            return  # onto itself: nothing to do
        self._check_name_free(destination, name, replace)
        if not replace:
            rename_without_replacing(source_local, destination)
            return
        if source_is_directory and os.path.lexists(destination):
            raise FileExistsError(f"a directory replaces nothing: {name}")
        os.rename(source_local, destination)

    def copy_file(
        self, source: RemotePath, directory: RemotePath, name: str, replace: bool, sync: bool
    ) -> None:
        """Copy in the kernel (a reflink where the file system shares blocks, else
        copy_file_range) into an unnamed file, placed like a small upload."""
        fd, info = self._open_regular(source)
        try:
            destination = self._new_entry(directory, name, replace)

            def fill(out: int) -> None:
                _copy_descriptor(fd, out, info.st_size)

            try:
                placed = fill_whole_file(
                    os.path.dirname(destination), name, fill, info.st_mtime_ns, sync, replace
                )
            except IsADirectoryError:
                raise FileExistsError(name) from None  # a directory took the name meanwhile
            if not placed:
                self._copy_through_staging(fd, info, destination, replace, sync)
        finally:
            os.close(fd)

    def _copy_through_staging(
        self, fd: int, info: os.stat_result, destination: str, replace: bool, sync: bool
    ) -> None:
        """Where unnamed files are not available: a staging file, placed as uploads are."""
        area = self._area_for(os.path.dirname(destination))
        target = StagedFile(
            area, f"copy-{secrets.token_hex(8)}.part", destination, False, sync, replace
        )
        try:
            offset = 0
            while offset < info.st_size:
                block = os.pread(fd, min(STREAM_BLOCK_BYTES, info.st_size - offset), offset)
                if not block:
                    break
                target.write(memoryview(block))
                offset += len(block)
            target.commit(info.st_mtime_ns)
        except BaseException:
            target.abandon(keep_for_resume=False)
            raise

    # -- removal ------------------------------------------------------------

    def remove(self, path: RemotePath) -> Removal | None:
        if not path:
            raise PermissionError("the root directory cannot be removed")
        parent = self._directory(path[:-1])
        local = os.path.join(parent, path[-1])
        if not os.path.lexists(local):
            raise FileNotFoundError(f"no such file or directory: /{'/'.join(path)}")
        if os.path.islink(local):
            # The link itself, whatever it leads to: a link to nothing or to outside is
            # not listed, but it takes its name, so it must be removable (SPEC 4.11.1).
            # Its target is never touched.
            os.unlink(local)
            return None
        if not os.path.isdir(local):
            os.unlink(local)
            return None
        try:
            os.rmdir(local)
            return None
        except OSError:
            pass  # not empty: hide it, then remove it a batch at a time
        area = self._area_for(os.path.dirname(local))
        return _LocalRemoval(TreeRemoval(area, area.hide(local), local))

    def abandon_removal(self, removal: Removal) -> None:
        """Leave the rest of a cancelled removal to :meth:`purge_step`."""
        if isinstance(removal, _LocalRemoval):
            removal.tree.original = None  # nobody waits for it now: it stays hidden
            self._purger.add(removal.tree)

    def purge_step(self, limit: int) -> bool:
        return self._purger.step(limit)
