"""Worker threads for the server's background jobs, which keep working while the
interpreter shuts down.

concurrent.futures.ThreadPoolExecutor refuses new jobs once the main thread has ended
("cannot schedule new futures after interpreter shutdown"), even while a non-daemon
thread still runs. A program that starts ``Server.run`` on a thread and lets its main
thread end (the README's example, run as a script) keeps serving on that thread, so
the server's own jobs must not depend on the main thread: these workers stop only when
the server that owns them says so.
"""

from __future__ import annotations

import contextlib
import functools
import queue
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")
A = TypeVar("A")

#: What a worker takes from the queue: a job and its future, or None to stop.
_Job = tuple[Callable[[], object], Future[object]] | None


class WorkerThreads:
    """A fixed set of threads running submitted jobs in order; ``Future`` per job.

    The threads are daemons, so a server that is never shut down cannot hold the
    process open, but nothing else stops them: :meth:`shutdown` finishes what was
    submitted and then ends them.
    """

    def __init__(self, workers: int, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{index}", daemon=True)
            for index in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Callable[[], T]) -> Future[T]:
        """Run ``job`` on a worker; its future holds the result or the exception.

        :raises RuntimeError: after :meth:`shutdown`.
        """
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker threads are shut down")
            self._jobs.put((job, future))  # type: ignore[arg-type]
        return future

    def map(self, job: Callable[[A], T], items: Iterable[A]) -> Iterator[T]:
        """``job(item)`` for every item, run on the workers, the results in order."""
        futures = [self.submit(functools.partial(job, item)) for item in items]
        return (future.result() for future in futures)

    def shutdown(self, wait: bool = True) -> None:
        """Finish the jobs submitted, then end the threads (wait for them with ``wait``)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for _ in self._threads:
                self._jobs.put(None)
        if wait:
            for thread in self._threads:
                thread.join()

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = job()
            except BaseException as error:
                future.set_exception(error)
            else:
                future.set_result(result)


class LoopWaker:
    """Wakes the server loop from a worker: a socket pair whose reading end the loop
    polls beside its ZeroMQ socket."""

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        #: Readable once :meth:`wake` was called: the loop polls it.
        self.fd = self._reader.fileno()

    def wake(self, _future: object = None) -> None:
        """Make :attr:`fd` readable; usable as a future's done callback."""
        with contextlib.suppress(OSError):  # full: the loop is awake already
            self._writer.send(b"x")

    def clear(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._reader.recv(4096):
                pass

    def close(self) -> None:
        self._reader.close()
        self._writer.close()
