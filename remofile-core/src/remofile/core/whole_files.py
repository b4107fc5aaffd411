"""Writing a small file that is already whole in memory, so that it appears complete.

Both ends receive many small files: the server on uploads, the client on downloads. The
usual way (write a hidden temporary name, link it in place, unlink the temporary name)
costs three directory operations per file. With Linux's O_TMPFILE the file is written
as an unnamed inode in its destination directory and linked in place once complete:
one directory operation, nothing to clean up if anything fails, and never a partial
file under its name. :func:`write_whole_file` does that, and reports where it cannot
(not Linux, no /proc, a file system without O_TMPFILE) so that the caller falls back to
its own temporary name.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading

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
    directory: str, name: str, data: memoryview, modification_time_ns: int, sync: bool
) -> bool:
    """Create ``directory/name`` holding ``data``, visible only once complete.

    The file gets ``modification_time_ns`` when it is not 0, and is fsynced before it is
    named when ``sync`` is set. It never replaces an entry: FileExistsError if the name
    is taken. Safe to call from several threads at once.

    :returns: False, having done nothing, where unnamed files are not available here.
    """
    descriptors = _descriptor_directory()
    if descriptors is None:
        return False
    try:
        fd = os.open(directory, _TMPFILE_FLAGS, 0o644)
    except OSError as error:
        if error.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            return False  # this file system has no O_TMPFILE
        raise
    try:
        while data:
            data = data[os.write(fd, data) :]
        if modification_time_ns:
            os.utime(fd, ns=(modification_time_ns, modification_time_ns))
        if sync:
            os.fsync(fd)
        # linkat(AT_SYMLINK_FOLLOW) of /proc/self/fd/N names the unnamed inode; like
        # link(), it never replaces an existing entry.
        os.link(str(fd), os.path.join(directory, name), src_dir_fd=descriptors)
    finally:
        os.close(fd)
    return True
