"""Worker threads that store small uploads while the server loop goes on.

A file that arrives in one chunk costs the server almost nothing but file system work:
create, write, fsync, link. Done in the loop, each file waits for the previous one's
disk round trips; done on a few threads, the file system overlaps them (several fsyncs
share one journal commit). Measured on the benchmark machine: twice the files per
second for the file system work alone, 5-15% more for whole uploads, whose cost there
is mostly the kernel's CPU time to create a file. The response to such an upload is held back until its file is in
place, and the responses after it wait behind it, so the client sees exactly what a
one-at-a-time server would answer (SPEC.md sections 4.9.2 and 6.2).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future

from remofile.server.workers import LoopWaker, WorkerThreads

#: Files stored at once: enough to overlap the disk's latency, few enough to stay
#: well inside any window of requests in flight.
PLACEMENT_WORKERS = 4


class Placer:
    """Runs store jobs on worker threads and wakes the server loop when one is done."""

    def __init__(self, workers: int = PLACEMENT_WORKERS) -> None:
        # Not a ThreadPoolExecutor: it stops taking jobs when the main thread ends.
        self._executor = WorkerThreads(workers, "remofile-store")
        self._waker = LoopWaker()
        #: Readable when a job has finished: the loop polls it with its socket.
        self.wake_fd = self._waker.fd

    def submit(self, job: Callable[[], None]) -> Future[None]:
        future = self._executor.submit(job)
        future.add_done_callback(self._waker.wake)
        return future

    def clear_wakeups(self) -> None:
        self._waker.clear()

    def close(self) -> None:
        """Finish the jobs under way, then release the threads."""
        self._executor.shutdown(wait=True)
        self._waker.close()
