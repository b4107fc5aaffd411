"""The staging areas of the local storage: unfinished uploads and trees being removed.

Each file system the server writes to has its own staging area, a reserved directory
``.remofile-staging`` at the top of that file system inside the root, so that placing an
upload or hiding a tree is always one rename on one file system (SPEC.md 4.5.4). An
area is trusted only once checked: real directories (opened with ``O_NOFOLLOW``) owned
by the server's user. From then on everything inside it is done through those open
descriptors, never through its path, so a symbolic link planted later in the served
directory cannot lead the server anywhere else. Trees are removed with ``os.fwalk``,
which never follows a link either.

Staged uploads have a budget of age and bytes; the oldest are discarded first when an
upload needs room, and all the others when the disk is full, so leftovers of
interrupted uploads never block new ones.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from remofile.core.limits import RESERVED_NAME_PREFIX
from remofile.server.renames import rename_without_replacing
from remofile.server.writeback import WritebackTracker

logger = logging.getLogger("remofile.server")

#: The staging directory's name at the top of each file system inside the root.
STAGING_DIRECTORY_NAME = RESERVED_NAME_PREFIX + "staging"

#: Staged data of interrupted uploads kept at most this long by default (SPEC.md 7.1.4).
DEFAULT_STAGED_MAX_AGE_S = 7 * 24 * 3600

#: By default staged data may take up to this share of its file system's size.
DEFAULT_STAGED_SHARE_OF_DISK = 0.25

#: How long a purge that met entries it cannot remove waits before trying again.
PURGE_RETRY_S = 600.0

#: Errors that mean the storage is full.
FULL_STORAGE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT})

_OPEN_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class StagingError(RuntimeError):
    """A staging area is not what the server made (a link, a file, another user's): the
    server refuses to use it."""


class InsufficientStorageError(OSError):
    """The storage is full, even after discarding what interrupted uploads left."""

    def __init__(self) -> None:
        super().__init__(errno.ENOSPC, "no space left on the server's storage")


def is_full_storage_error(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in FULL_STORAGE_ERRORS


@dataclass(frozen=True)
class StagedBudget:
    """How much staged data of interrupted uploads an area keeps (SPEC.md 7.1.4)."""

    max_age_s: float = DEFAULT_STAGED_MAX_AGE_S
    #: None: a quarter of the file system the area is on.
    max_bytes: int | None = None


def _trusted_directory(parent_fd: int, name: str, shown: str) -> int:
    """A descriptor of the directory ``name`` in ``parent_fd``, made if missing, after
    checking it is a real directory of ours."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o700, dir_fd=parent_fd)
    try:
        fd = os.open(name, _OPEN_DIRECTORY, dir_fd=parent_fd)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise StagingError(
                f"{shown} is not a real directory (a symbolic link or a file): "
                "remove it, and the server makes its staging area anew"
            ) from None
        raise
    owner = os.fstat(fd).st_uid
    if owner != os.geteuid():
        os.close(fd)
        raise StagingError(
            f"{shown} belongs to user {owner}, not to this server's user {os.geteuid()}"
        )
    return fd


class StagingArea:
    """The staging area of one file system: ``<top>/.remofile-staging/{uploads,trash}``."""

    def __init__(self, top: str, budget: StagedBudget) -> None:
        self.path = os.path.join(top, STAGING_DIRECTORY_NAME)
        top_fd = os.open(top, _OPEN_DIRECTORY)
        try:
            self.fd = _trusted_directory(top_fd, STAGING_DIRECTORY_NAME, self.path)
        finally:
            os.close(top_fd)
        self.uploads_fd = _trusted_directory(self.fd, "uploads", self.path + "/uploads")
        self.trash_fd = _trusted_directory(self.fd, "trash", self.path + "/trash")
        self.device = os.fstat(self.fd).st_dev
        self.budget = budget
        if budget.max_bytes is None:
            size = os.statvfs(self.fd)
            self._max_bytes = int(size.f_blocks * size.f_frsize * DEFAULT_STAGED_SHARE_OF_DISK)
        else:
            self._max_bytes = budget.max_bytes

    def close(self) -> None:
        for fd in (self.uploads_fd, self.trash_fd, self.fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- staged uploads ---------------------------------------------------------

    def staged_names(self) -> list[tuple[str, os.stat_result]]:
        """The staged files with their status, oldest first."""
        found: list[tuple[str, os.stat_result]] = []
        with os.scandir(self.uploads_fd) as entries:
            for entry in entries:
                with contextlib.suppress(FileNotFoundError):
                    found.append((entry.name, entry.stat(follow_symlinks=False)))
        found.sort(key=lambda item: item[1].st_mtime_ns)
        return found

    def discard(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self.uploads_fd)

    def discard_matching(self, prefix: str, keep: str = "") -> None:
        """Discard the staged files whose names start with ``prefix``, but ``keep``."""
        self.discard_matching_any((prefix,), keep)

    def discard_matching_any(self, prefixes: Iterable[str], keep: str = "") -> None:
        """Discard the staged files whose names start with one of ``prefixes``, but
        ``keep``: one listing of names for them all, and no status of any entry, as
        every small file stored asks this (a batch asks it once)."""
        wanted = tuple(prefixes)
        if not wanted:
            return
        for name in os.listdir(self.uploads_fd):
            if name.startswith(wanted) and name != keep:
                self.discard(name)

    def reclaim(self, needed: int, keep: str = "", everything: bool = False) -> int:
        """Make room for ``needed`` more staged bytes within the budget: discard staged
        files older than the budget's age, then the oldest while over its size (every
        one but ``keep`` if ``everything``). Returns the bytes freed."""
        staged = [(name, info) for name, info in self.staged_names() if name != keep]
        total = sum(info.st_size for _name, info in staged) + needed
        oldest_kept = time.time() - self.budget.max_age_s
        freed = 0
        for name, info in staged:
            too_old = info.st_mtime < oldest_kept
            if not (everything or too_old or total > self._max_bytes or not _is_file(info)):
                continue
            self.discard(name)
            logger.info("discarded %d staged bytes of an interrupted upload", info.st_size)
            total -= info.st_size
            freed += info.st_size
        return freed

    # -- trees being removed ----------------------------------------------------

    def hide(self, local: str) -> str:
        """Move the entry ``local`` into the trash in one rename; its name there."""
        name = secrets.token_hex(8)
        os.rename(local, name, dst_dir_fd=self.trash_fd)
        return name

    def trash_names(self) -> list[str]:
        return sorted(os.listdir(self.trash_fd))


def _is_file(info: os.stat_result) -> bool:
    return stat.S_ISREG(info.st_mode)


class StagedFile:
    """The staged data of one upload, written in order, placed whole by :meth:`commit`."""

    def __init__(
        self,
        area: StagingArea,
        name: str,
        final_path: str,
        resume: bool,
        sync: bool,
        replace: bool,
    ) -> None:
        self.area = area
        self.name = name
        self._final_path = final_path
        self._sync = sync
        self._replace = replace
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        if not resume:
            flags |= os.O_TRUNC
        self._fd = os.open(name, flags, 0o644, dir_fd=area.uploads_fd)
        self.offset = os.lseek(self._fd, 0, os.SEEK_END)
        # Data that will be fsynced goes to the disk as it comes (see writeback.py).
        self._writeback = WritebackTracker(self._fd, self.offset) if sync else None

    def write(self, data: memoryview) -> None:
        """Append ``data``; when the disk is full, discard the other staged uploads and
        try once more before giving up with InsufficientStorageError."""
        try:
            self._write_all(data)
        except OSError as error:
            if not is_full_storage_error(error):
                raise
            if not self.area.reclaim(0, keep=self.name, everything=True):
                raise InsufficientStorageError() from None
            try:
                self._write_all(data)
            except OSError as again:
                if is_full_storage_error(again):
                    raise InsufficientStorageError() from None
                raise

    def _write_all(self, data: memoryview) -> None:
        start = os.lseek(self._fd, 0, os.SEEK_CUR)
        size = data.nbytes
        try:
            while data:
                data = data[os.write(self._fd, data) :]
        except OSError:
            os.ftruncate(self._fd, start)  # nothing of a chunk that failed stays
            os.lseek(self._fd, start, os.SEEK_SET)
            raise
        if self._writeback is not None:
            self._writeback.wrote(size)

    def staged_data(self, block_bytes: int) -> Iterator[memoryview]:
        """The bytes staged before this upload resumed, to bring a digest up to date."""
        remaining = self.offset
        position = 0
        while remaining:
            block = os.pread(self._fd, min(remaining, block_bytes), position)
            if not block:
                raise OSError("staged data became shorter while resuming")
            remaining -= len(block)
            position += len(block)
            yield memoryview(block)

    def commit(self, modification_time_ns: int = 0) -> None:
        """Sync, then place the file: over an existing file in one rename when it
        replaces, else by a link that never replaces anything (FileExistsError)."""
        if modification_time_ns:
            os.utime(self._fd, ns=(modification_time_ns, modification_time_ns))
        if self._sync:
            os.fsync(self._fd)
        self._close()
        uploads = self.area.uploads_fd
        if self._replace:
            try:
                os.rename(self.name, self._final_path, src_dir_fd=uploads)
            except IsADirectoryError:
                # A directory took the name meanwhile: never replaced, data discarded.
                self.area.discard(self.name)
                raise FileExistsError(self._final_path) from None
            return
        try:
            os.link(self.name, self._final_path, src_dir_fd=uploads, follow_symlinks=False)
        except FileExistsError:
            self.area.discard(self.name)
            raise
        except OSError:
            # File systems without hard links: a rename that never replaces.
            try:
                rename_without_replacing(self.name, self._final_path, source_directory=uploads)
            except FileExistsError:
                self.area.discard(self.name)
                raise
            return
        self.area.discard(self.name)
        # The directory is not synced: the data is, and the new entry is journaled with
        # the file system's next commit; a directory fsync per file would halve the rate
        # of small uploads (measured: 0.4 ms each).

    def abandon(self, keep_for_resume: bool) -> None:
        self._close()
        if not keep_for_resume:
            self.area.discard(self.name)

    def _close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class TreeRemoval:
    """A tree in the trash, removed an entry at a time, never following a link.

    Entries that cannot be removed are counted in :attr:`failed` and left; the walk
    goes on with the others.
    """

    def __init__(self, area: StagingArea, name: str, original: str | None) -> None:
        self.area = area
        self.name = name
        #: Where the tree was before it was hidden, if known: what cannot be removed
        #: goes back there.
        self.original = original
        self.total = sum(1 for _ in _bottom_up(area.trash_fd, name)) - 1
        self.removed = 0
        self.failed = 0
        self._entries = _bottom_up(area.trash_fd, name)

    def remove(self, limit: int) -> bool:
        """Try up to ``limit`` entries; True once every entry was tried, the top last."""
        for count, (directory_fd, entry, is_directory) in enumerate(self._entries, start=1):
            try:
                _remove_entry(directory_fd, entry, is_directory)
            except FileNotFoundError:
                pass
            except OSError as error:
                self.failed += 1
                if self.failed == 1:
                    logger.debug("cannot remove an entry of a tree: %s", error.strerror)
                if directory_fd == self.area.trash_fd:
                    return True  # the top, which stays: the walk is over
                continue
            if directory_fd == self.area.trash_fd:
                return True
            self.removed += 1
            if count >= limit:
                return False
        return True

    def restore(self) -> bool:
        """Put what is left of the tree back where it was; False if it cannot be."""
        if self.original is None:
            return False
        try:
            rename_without_replacing(self.name, self.original, source_directory=self.area.trash_fd)
        except OSError:
            return False
        return True

    def restart(self) -> None:
        """Walk what is left again, for another attempt."""
        self.failed = 0
        self._entries = _bottom_up(self.area.trash_fd, self.name)


def _bottom_up(trash_fd: int, name: str) -> Iterator[tuple[int, str, bool]]:
    """``(directory descriptor, name, is_directory)`` of every entry of the tree
    ``name`` in the trash, children first, the tree's top last; links are entries,
    never followed. Each descriptor is valid until the next item is asked for."""
    try:
        walk = os.fwalk(name, topdown=False, dir_fd=trash_fd, follow_symlinks=False)
        for _path, directories, files, directory_fd in walk:
            for file_name in files:
                yield directory_fd, file_name, False
            for directory in directories:
                yield directory_fd, directory, True
    except NotADirectoryError:
        pass  # not a directory: the top alone
    yield trash_fd, name, True


def _remove_entry(directory_fd: int, name: str, is_directory: bool) -> None:
    if not is_directory:
        os.unlink(name, dir_fd=directory_fd)
        return
    try:
        os.rmdir(name, dir_fd=directory_fd)
    except NotADirectoryError:
        os.unlink(name, dir_fd=directory_fd)  # a link to a directory, or a file


class Purger:
    """Removes, a batch at a time and never failing, the trees nobody waits for: those of
    cancelled or expired removals and those left in the trash by an earlier run."""

    def __init__(self) -> None:
        self._pending: list[TreeRemoval] = []
        self._stuck: list[TreeRemoval] = []
        self._retry_at = 0.0

    def add(self, removal: TreeRemoval) -> None:
        self._pending.append(removal)

    def adopt_trash(self, area: StagingArea) -> None:
        """Queue what an earlier run left in ``area``'s trash."""
        for name in area.trash_names():
            try:
                self._pending.append(TreeRemoval(area, name, None))
            except OSError as error:
                logger.warning("cannot look into a tree left to remove: %s", error.strerror)

    def step(self, limit: int) -> bool:
        """Work on up to ``limit`` entries; True if more is to be done now."""
        if self._stuck and time.monotonic() >= self._retry_at:
            for removal in self._stuck:
                removal.restart()
            self._pending.extend(self._stuck)
            self._stuck.clear()
        while self._pending and limit > 0:
            removal = self._pending[0]
            before = removal.removed + removal.failed
            try:
                done = removal.remove(limit)
            except OSError as error:  # the tree vanished or its walk failed
                logger.warning("removing a tree failed: %s", error.strerror)
                done = True
            limit -= max(removal.removed + removal.failed - before, 1)
            if done:
                self._pending.pop(0)
                if removal.failed:
                    logger.warning(
                        "could not remove %d entries of a removed tree; trying again in %d s",
                        removal.failed,
                        PURGE_RETRY_S,
                    )
                    self._stuck.append(removal)
                    self._retry_at = time.monotonic() + PURGE_RETRY_S
        return bool(self._pending)
