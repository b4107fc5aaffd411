"""Early write-back: send an upload's data towards the disk while it is still arriving.

An upload is fsynced before it is placed (SPEC.md 4.9.2). Left alone, the kernel keeps
the whole file dirty in memory and the final fsync writes all of it while the client
waits; measured on the benchmark machine, a 1 GiB upload then spent longer in write()
and fsync() than on the network. Linux's ``sync_file_range(SYNC_FILE_RANGE_WRITE)``
starts writing a range without waiting for it, so the data goes to the disk as it comes
and the final fsync finds almost nothing left (1 GiB written and synced: 0.3 s with it,
0.5 to 2.7 s without; ``bench/run.py`` shows the effect on whole uploads).

Python's ``os`` module has no binding for it, so it is called through ctypes; where the
call does not exist (not Linux) or fails, write-back is left to the kernel and the
final fsync does all the work, which is correct, only slower.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable

#: Bytes written between two calls: large enough that the call costs nothing, small
#: enough that little is left for the final fsync.
WRITEBACK_INTERVAL_BYTES = 16 * 1024 * 1024

#: ``SYNC_FILE_RANGE_WRITE`` from <fcntl.h>: start writing dirty pages, do not wait.
_SYNC_FILE_RANGE_WRITE = 2

#: ``(fd, offset, length) -> started``
RangeWriter = Callable[[int, int, int], bool]


def _load() -> RangeWriter | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    function.restype = ctypes.c_int

    def start_writeback(fd: int, offset: int, length: int) -> bool:
        return bool(function(fd, offset, length, _SYNC_FILE_RANGE_WRITE) == 0)

    return start_writeback


#: Starts the write-back of a range of a file; None where the system has no such call.
start_writeback = _load()


class WritebackTracker:
    """Counts what is written to one file and starts its write-back every interval."""

    def __init__(self, fd: int, offset: int) -> None:
        self._fd = fd
        #: Start of the bytes written since the last call.
        self._pending_from = offset
        self._written_to = offset

    def wrote(self, size: int) -> None:
        self._written_to += size
        if start_writeback is None:
            return
        if self._written_to - self._pending_from >= WRITEBACK_INTERVAL_BYTES:
            # A failure (a file system without it) only costs speed: the fsync still runs.
            start_writeback(self._fd, self._pending_from, self._written_to - self._pending_from)
            self._pending_from = self._written_to
