"""Processes the benchmark starts, and what they cost: CPU seconds and peak memory.

Everything here is Linux: CPU time comes from ``/proc/<pid>/stat`` (the process and the
children it has reaped) and from ``os.wait4``; peak memory from ``VmHWM`` in
``/proc/<pid>/status``, which ``/proc/<pid>/clear_refs`` resets so that a long-lived
process reports the peak of one operation. Every wait has a deadline, and only
processes started here (or started by them) are ever signalled, by PID.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- /proc ---------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat_file:
            text = stat_file.read()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process and of the children it has reaped."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    # After the name: state ppid ... utime(11) stime(12) cutime(13) cstime(14), 0-based.
    ticks = sum(int(fields[index]) for index in (11, 12, 13, 14))
    return ticks / CLOCK_TICKS


def children_of(pid: int) -> list[int]:
    """Direct children of a process (from every thread's children list)."""
    found: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in threads:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as children:
                found.extend(int(child) for child in children.read().split())
        except (OSError, ValueError):
            continue
    return found


def tree(pid: int, limit: int = 10_000) -> list[int]:
    """A process and its live descendants (at most ``limit``)."""
    result = [pid]
    index = 0
    while index < len(result) and len(result) < limit:
        result.extend(children_of(result[index]))
        index += 1
    return result


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process tree: each live process, plus what it reaped from its children."""
    return sum(cpu_seconds(member) or 0.0 for member in tree(pid))


def _status_kib(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def peak_rss_bytes(pid: int) -> int | None:
    """The peak resident memory of a process (VmHWM), or None if unknown."""
    kib = _status_kib(pid, "VmHWM:")
    return None if kib is None else kib * 1024


def reset_peak_rss(pid: int) -> bool:
    """Restart a process's peak resident memory from its current size (Linux >= 4.0)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


class TreeSampler:
    """Samples the peak memory of the processes under some roots, in a thread.

    Short-lived processes (an sshd session and its sftp-server) cannot be asked once they
    are gone, so their ``VmHWM`` is read every ``interval`` seconds while they live; the
    result is the sum over processes of each one's peak, excluding the roots themselves
    when ``include_roots`` is false (the listening sshd is not part of a session).
    """

    def __init__(self, roots: Sequence[int], interval: float = 0.05, include_roots: bool = True):
        self._roots = list(roots)
        self._interval = interval
        self._include_roots = include_roots
        self._peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)

    def _sample(self) -> None:
        for root in self._roots:
            for pid in tree(root, limit=200):
                if pid == root and not self._include_roots:
                    continue
                peak = peak_rss_bytes(pid)
                if peak is not None and peak > self._peaks.get(pid, 0):
                    self._peaks[pid] = peak

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> TreeSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def peak_sum(self) -> int | None:
        return sum(self._peaks.values()) if self._peaks else None


def wait_childless(pid: int, timeout: float) -> bool:
    """Wait until a process has no children left (its sessions ended and were reaped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not children_of(pid):
            return True
        time.sleep(0.01)
    return False


# -- running processes ----------------------------------------------------------


@dataclass
class Finished:
    """A process that ran to its end."""

    argv: list[str]
    returncode: int
    wall_seconds: float
    cpu_seconds: float
    #: Largest resident set of the process or of any child it reaped.
    max_rss_bytes: int
    output: str

    def check(self) -> Finished:
        if self.returncode != 0:
            tail = self.output.strip().splitlines()[-5:]
            raise RuntimeError(
                f"{os.path.basename(self.argv[0])} exited with {self.returncode}: "
                + " | ".join(tail)
            )
        return self


class Timeout(RuntimeError):
    """A process the benchmark started did not finish in time (it was killed)."""


def _wait_pidfd(pid: int, timeout: float) -> bool:
    """Block until ``pid`` exits or ``timeout`` passes, using no CPU; True if it exited."""
    try:
        fd = os.pidfd_open(pid)
    except (OSError, AttributeError):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
            time.sleep(0.002)
        return False
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)


def stop_process(process: subprocess.Popen[Any], timeout: float = 5.0) -> None:
    """Stop a process this benchmark started: SIGTERM, then SIGKILL after ``timeout``."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout)


def reap(process: subprocess.Popen[Any], started: float, timeout: float) -> tuple[int, float, Any]:
    """Wait (bounded) for a started process; its return code, wall time and rusage.

    :raises Timeout: if it is still running after ``timeout`` seconds (it is killed).
    """
    if not _wait_pidfd(process.pid, timeout):
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(10)
        raise Timeout(f"{process.args!r} did not finish within {timeout:.0f} s")
    wall = time.perf_counter() - started
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, wall, usage


def run_once(
    argv: Sequence[str],
    *,
    timeout: float,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    log_path: str | None = None,
) -> Finished:
    """Run a command to its end, timing it and measuring its CPU and peak memory.

    Its output (stdout and stderr together) goes to ``log_path``, or is discarded.
    """
    sink: IO[bytes]
    with open(log_path or os.devnull, "w+b") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
        )
        returncode, wall, usage = reap(process, started, timeout)
        sink.seek(0)
        output = sink.read(65536).decode("utf-8", "replace") if log_path else ""
    return Finished(
        list(argv),
        returncode,
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss * 1024,
        output,
    )


class LineReader:
    """Reads lines from a child's pipe, each wait bounded by a deadline."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._fd = stream.fileno()
        self._buffer = b""

    def read_line(self, timeout: float) -> bytes:
        """The next line, waiting at most ``timeout`` seconds.

        :raises Timeout: if no complete line came in time; EOFError if the pipe closed.
        """
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Timeout(f"no answer within {timeout:.0f} s")
            readable, _, _ = select.select([self._fd], [], [], remaining)
            if not readable:
                continue
            block = os.read(self._fd, 1 << 16)
            if not block:
                raise EOFError("the process closed its output")
            self._buffer += block
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def measured(*pids: int) -> Iterator[list[tuple[float, int | None]]]:
    """CPU seconds and peak memory of long-lived processes over a block of code.

    Yields a list that, after the block, holds ``(cpu_seconds, peak_rss_bytes)`` for each
    PID, in order.
    """
    for pid in pids:
        reset_peak_rss(pid)
    before = [tree_cpu_seconds(pid) for pid in pids]
    result: list[tuple[float, int | None]] = []
    yield result
    for pid, cpu_before in zip(pids, before, strict=True):
        result.append((tree_cpu_seconds(pid) - cpu_before, peak_rss_bytes(pid)))
