"""Renaming an entry without ever replacing one (SPEC.md section 4.14).

``os.rename`` silently replaces an existing file, and checking the name first leaves a
moment in which another process can take it. Linux's ``renameat2`` with
``RENAME_NOREPLACE`` checks and renames in one step; Python has no binding for it, so it
is called through ctypes. Where it is missing (another system, an old C library, a file
system that refuses the flag) a file is moved with link and unlink, which never replace
either, and only a directory falls back to checking first.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from collections.abc import Callable

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1

#: Errors that mean "this system cannot do it", not "this rename failed".
_UNAVAILABLE = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP}


def _load_renameat2() -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function: Callable[..., int] = libc.renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [  # type: ignore[attr-defined]
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    function.restype = ctypes.c_int  # type: ignore[attr-defined]
    return function


_renameat2 = _load_renameat2()


def rename_without_replacing(
    source: str, destination: str, *, source_directory: int | None = None
) -> None:
    """Rename ``source`` (relative to the directory descriptor ``source_directory`` if
    given) to ``destination`` atomically; FileExistsError if the name is taken,
    whatever by."""
    source_fd = _AT_FDCWD if source_directory is None else source_directory
    if _renameat2 is not None:
        result = _renameat2(
            source_fd, os.fsencode(source), _AT_FDCWD, os.fsencode(destination), _RENAME_NOREPLACE
        )
        if result == 0:
            return
        code = ctypes.get_errno()
        if code not in _UNAVAILABLE:
            raise OSError(code, os.strerror(code), destination)
    info = os.stat(source, dir_fd=source_directory, follow_symlinks=False)
    if not stat.S_ISDIR(info.st_mode):
        # link() never replaces; the entry has both names for a moment, never neither.
        os.link(source, destination, src_dir_fd=source_directory, follow_symlinks=False)
        os.unlink(source, dir_fd=source_directory)
        return
    if os.path.lexists(destination):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), destination)
    os.rename(source, destination, src_dir_fd=source_directory)
