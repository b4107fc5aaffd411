"""Writing a small file that is already whole in memory, so that it appears complete.

Both ends receive many small files: the server on uploads, the client on downloads. The
usual way (write a hidden temporary name, link it in place, unlink the temporary name)
costs three directory operations per file. With Linux's O_TMPFILE the file is written
as an unnamed inode in its destination directory and linked in place once complete:
one directory operation, nothing to clean up if anything fails, and never a partial
file under its name. Replacing a file costs one more (a hidden name, then a rename over
the old file), so the old file stays whole until the new one takes its name. :func:`write_whole_file` does that, and reports where it cannot
(not Linux, no /proc, a file system without O_TMPFILE) so that the caller falls back to
its own temporary name.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import threading
from collections.abc import Callable

from remofile.core.limits import RESERVED_NAME_PREFIX

#: Flags of an unnamed file (0 for O_TMPFILE where the system has none).
_TMPFILE_FLAGS = getattr(os, "O_TMPFILE", 0) | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)

#: This process's /proc/self/fd, opened once per process: ``(pid, descriptor)``.
_descriptors_of_process: tuple[int, int | None] | None = None
_descriptors_lock = threading.Lock()


def _descriptor_directory() -> int | None:
    """A descriptor of /proc/self/fd, through which an unnamed file can be linked; None
    where there is none. Opened again in a forked child, whose own descriptors it must
    name."""
    global _descriptors_of_process
    pid = os.getpid()
    with _descriptors_lock:
        if _descriptors_of_process is None or _descriptors_of_process[0] != pid:
            descriptor = None
            if getattr(os, "O_TMPFILE", 0):
                with contextlib.suppress(OSError):
                    descriptor = os.open(
                        "/proc/self/fd",
                        os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0),
                    )
            _descriptors_of_process = (pid, descriptor)
        return _descriptors_of_process[1]


def write_whole_file(
    directory: str,
    name: str,
    data: memoryview,
    modification_time_ns: int,
    sync: bool,
    replace: bool = False,
) -> bool:
    """Create ``directory/name`` holding ``data``, visible only once complete.

    The file gets ``modification_time_ns`` when it is not 0, and is fsynced before it is
    named when ``sync`` is set. Without ``replace`` it never replaces an entry:
    FileExistsError if the name is taken. With ``replace`` it takes the name of an
    existing file in one atomic rename (IsADirectoryError for a directory). Safe to
    call from several threads at once.

    :returns: False, having done nothing, where unnamed files are not available here.
    """

    def fill(fd: int) -> None:
        remaining = data
        while remaining:
            remaining = remaining[os.write(fd, remaining) :]

    return fill_whole_file(directory, name, fill, modification_time_ns, sync, replace)


def fill_whole_file(
    directory: str,
    name: str,
    fill: Callable[[int], None],
    modification_time_ns: int,
    sync: bool,
    replace: bool = False,
) -> bool:
    """Like :func:`write_whole_file`, the content written by ``fill(descriptor)``."""
    fd = open_unnamed_file(directory)
    if fd is None:
        return False
    try:
        fill(fd)
        if modification_time_ns:
            os.utime(fd, ns=(modification_time_ns, modification_time_ns))
        if sync:
            os.fsync(fd)
        name_unnamed_file(fd, directory, name, replace)
    finally:
        os.close(fd)
    return True


def open_unnamed_file(directory: str) -> int | None:
    """A descriptor of a new file without a name in ``directory``, for writing; None
    where unnamed files are not available here (then nothing was created)."""
    if _descriptor_directory() is None:
        return None
    try:
        return os.open(directory, _TMPFILE_FLAGS, 0o644)
    except OSError as error:
        if error.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            return None  # this file system has no O_TMPFILE
        raise


def name_unnamed_file(fd: int, directory: str, name: str, replace: bool) -> None:
    """Give the unnamed file ``fd`` (from :func:`open_unnamed_file`) its name: never over
    an existing entry (FileExistsError) unless ``replace``, and then in one atomic
    rename over a file (IsADirectoryError for a directory)."""
    descriptors = _descriptor_directory()
    assert descriptors is not None  # the file was opened unnamed
    # linkat(AT_SYMLINK_FOLLOW) of /proc/self/fd/N names the unnamed inode; like
    # link(), it never replaces an existing entry.
    if not replace:
        os.link(str(fd), os.path.join(directory, name), src_dir_fd=descriptors)
        return
    # To replace, the inode gets a hidden name first, then takes the final one in
    # one rename, so the old file stays whole until that moment.
    temporary = os.path.join(directory, temporary_name())
    os.link(str(fd), temporary, src_dir_fd=descriptors)
    try:
        os.rename(temporary, os.path.join(directory, name))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def temporary_name() -> str:
    """A fresh name for a file being prepared in the directory it will be placed in:
    reserved (SPEC.md 4.5.4), so no client lists or names it."""
    return f"{RESERVED_NAME_PREFIX}tmp-{secrets.token_hex(8)}"
