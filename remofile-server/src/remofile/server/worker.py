"""The live session's work, on a thread of its own.

The server loop reads every message and answers at once what needs no file system
work: another client's HELLO (SERVER_BUSY), a wrong token, a malformed or oversized
message. What the live session asks for (a listing of 100,000 entries, the fsync of a
big upload, the digest of a big file, the purge of removed trees) runs here, one job
after the other in the order the requests came, so the protocol state is only ever
touched by this thread, and no busy refusal waits for it (issue: a refusal used to
take up to 1.5 s behind a big listing). Finished jobs wake the loop through a socket
pair it polls, so their answers go out at once, in order.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

logger = logging.getLogger("remofile.server")

T = TypeVar("T")

#: Entries of removed trees purged per step while the worker has nothing else to do.
PURGE_BATCH_ENTRIES = 200


class SessionWorker:
    """Runs jobs in order on one thread; between jobs, purges removed trees."""

    def __init__(self, purge_step: Callable[[int], bool]) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._purge_step = purge_step
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        #: Readable when a job has finished: the loop polls it with its socket.
        self.wake_fd = self._wake_reader.fileno()
        self._thread = threading.Thread(target=self._run, name="remofile-session", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(job())
            except BaseException as error:
                future.set_exception(error)
            with contextlib.suppress(OSError):  # full: the loop is awake already
                self._wake_writer.send(b"x")

        self._jobs.put(run)
        return future

    def clear_wakeups(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._wake_reader.recv(4096):
                pass

    def close(self) -> None:
        """Finish the jobs submitted, then stop the thread."""
        self._jobs.put(None)
        self._thread.join()
        self._wake_reader.close()
        self._wake_writer.close()

    def _run(self) -> None:
        purging = self._purge(0)
        while True:
            try:
                job = self._jobs.get(block=not purging)
            except queue.Empty:
                purging = self._purge(PURGE_BATCH_ENTRIES)
                continue
            if job is None:
                return
            job()
            purging = self._purge(0)

    def _purge(self, limit: int) -> bool:
        try:
            return self._purge_step(limit)
        except Exception:  # a purge must never stop the session's work
            logger.warning("purging removed trees failed", exc_info=True)
            return False
