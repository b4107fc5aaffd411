"""The live session's work, on a thread of its own.

The server loop reads every message and answers at once what needs no file system
work: another client's HELLO (SERVER_BUSY), a wrong token, a malformed or oversized
message. What the live session asks for (a listing of 100,000 entries, the fsync of a
big upload, the digest of a big file) and the purge of removed trees run here, one job
after the other in the order the requests came, so the protocol state is only ever
touched by this thread and no busy refusal waits for it (a refusal used to take up to
1.5 s behind a big listing). A finished job wakes the loop through a socket pair it
polls, so its answer goes out at once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from remofile.server.workers import LoopWaker, WorkerThreads

logger = logging.getLogger("remofile.server")

T = TypeVar("T")

#: Entries of removed trees purged per job, between the session's own jobs.
PURGE_BATCH_ENTRIES = 200


class SessionWorker:
    """Runs the session's jobs in order on one thread; purges removed trees between."""

    def __init__(self, purge_step: Callable[[int], bool]) -> None:
        self._thread = WorkerThreads(1, "remofile-session")
        self._purge_step = purge_step
        #: A purge job is queued (touched on the worker thread only).
        self._purge_queued = False
        self._waker = LoopWaker()
        #: Readable when a job has finished: the loop polls it with its socket.
        self.wake_fd = self._waker.fd
        self._thread.submit(lambda: self._queue_purge(self._purge(0)))

    def submit(self, job: Callable[[], T]) -> Future[T]:
        """Run ``job`` after those submitted before; the loop is woken when it is done."""

        def run() -> T:
            try:
                return job()
            finally:
                self._queue_purge(self._purge(0))

        future = self._thread.submit(run)
        future.add_done_callback(self._waker.wake)  # once the result is in the future
        return future

    def clear_wakeups(self) -> None:
        self._waker.clear()

    def close(self) -> None:
        """Finish the jobs submitted (a purge under way stops at its batch), then stop."""
        self._thread.shutdown(wait=True)
        self._waker.close()

    def _queue_purge(self, more: bool) -> None:
        """Queue one batch of purging behind the session's jobs, if trees remain."""
        if not more or self._purge_queued:
            return
        self._purge_queued = True

        def batch() -> None:
            self._purge_queued = False
            self._queue_purge(self._purge(PURGE_BATCH_ENTRIES))

        with contextlib.suppress(RuntimeError):  # shut down: the next run purges
            self._thread.submit(batch)

    def _purge(self, limit: int) -> bool:
        try:
            return self._purge_step(limit)
        except Exception:  # a purge must never stop the session's work
            logger.warning("purging removed trees failed", exc_info=True)
            return False
