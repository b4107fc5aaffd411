"""Small downloaded files written on worker threads while the next ones arrive.

Creating a file costs the kernel far more than moving 4 KiB over loopback (0.3 to 0.6 ms
of system time per file on the benchmark machine). Written in the client's one thread,
a tree of small files would move at the rate of file creation; a few writer threads
let creation overlap with the protocol and use the second core. What is queued is
bounded (:data:`MAX_PENDING_FILES` jobs: a file of at most one chunk, or a batch of
files of at most one batch's data, batches.py), so memory stays bounded whatever the
tree.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

#: Files written at once.
WRITER_THREADS = 4

#: Jobs (files, or batches of files) received but not written yet, at most; the
#: download waits beyond that.
MAX_PENDING_FILES = 16


class LocalWriter:
    """Runs file-writing jobs on a few threads; :meth:`finish` reports the first failure."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(MAX_PENDING_FILES)
        self._errors: list[BaseException] = []

    def submit(self, job: Callable[[], None]) -> None:
        """Queue ``job``; blocks while :data:`MAX_PENDING_FILES` jobs are pending."""
        self._slots.acquire()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(WRITER_THREADS, thread_name_prefix="remofile-write")
        try:
            future = self._executor.submit(job)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        error = future.exception()
        if error is not None:
            self._errors.append(error)
        self._slots.release()

    def finish(self) -> None:
        """Wait for every job, then raise the first failure, if any."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._errors:
            raise self._errors[0]
