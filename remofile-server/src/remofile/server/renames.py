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


def rename_without_replacing(source: str, destination: str) -> None:
    """Rename ``source`` to ``destination`` atomically; FileExistsError if the name is
    taken, whatever by."""
    if _renameat2 is not None:
        result = _renameat2(
            _AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(destination), _RENAME_NOREPLACE
        )
        if result == 0:
            return
        code = ctypes.get_errno()
        if code not in _UNAVAILABLE:
            raise OSError(code, os.strerror(code), destination)
    if not os.path.isdir(source) or os.path.islink(source):
        # link() never replaces; the entry has both names for a moment, never neither.
        os.link(source, destination, follow_symlinks=False)
        os.unlink(source)
        return
    if os.path.lexists(destination):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), destination)
    os.rename(source, destination)
