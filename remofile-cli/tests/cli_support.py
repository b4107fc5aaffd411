"""Helpers of the CLI tests: real `remofile run` servers, CliRunner and subprocess calls.

Every wait is bounded, and only processes these helpers started are signalled, by PID.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from click.testing import CliRunner, Result
from remofile.cli.main import cli
from remofile.server import LocalStorage, Server
from remofile.v1 import remofile_pb2 as pb

#: Where the venv installed the two entry points (next to the running interpreter).
BIN = Path(sys.executable).parent
REMOFILE = str(BIN / "remofile")
RMF = str(BIN / "rmf")

#: A fixed valid token for the shared servers (8 to 256 of A-Z a-z 0-9 _ . ~ -).
TOKEN = "cliTestsToken_0123456789"

#: Longest a single CLI subprocess may take before the test fails.
PROCESS_TIMEOUT_S = 30.0

#: Longest a server may take to print its settings and answer a listing.
SERVER_READY_S = 15.0


def free_port(address: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port


def clean_environment() -> dict[str, str]:
    """This process's environment without any REMOFILE_* setting."""
    return {key: value for key, value in os.environ.items() if not key.startswith("REMOFILE_")}


def client_environment(port: int, token: str = TOKEN, host: str = "127.0.0.1") -> dict[str, str]:
    return {"REMOFILE_HOSTNAME": host, "REMOFILE_PORT": str(port), "REMOFILE_TOKEN": token}


def invoke(
    args: Sequence[str], env: Mapping[str, str | None] | None = None, input: str | None = None
) -> Result:
    """Run the click app in this process; settings come from ``env`` only."""
    environment: dict[str, str | None] = {
        key: None for key in os.environ if key.startswith("REMOFILE_")
    }
    environment.update(env or {})
    return CliRunner().invoke(cli, list(args), env=environment, input=input, prog_name="remofile")


def run_process(
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    program: str = REMOFILE,
    timeout: float = PROCESS_TIMEOUT_S,
) -> subprocess.CompletedProcess[str]:
    """Run ``remofile ARGS`` (or ``rmf``) as a real process with only ``env``'s settings."""
    environment = clean_environment()
    environment.update(env or {})
    return subprocess.run(
        [program, *args],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def describe(result: Result | subprocess.CompletedProcess[str]) -> str:
    """Everything a failed assertion should show about a command's run."""
    if isinstance(result, Result):
        return (
            f"exit {result.exit_code}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}\n"
            f"exception: {result.exception!r}"
        )
    return f"exit {result.returncode}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"


def status_of(result: Result | subprocess.CompletedProcess[str]) -> int:
    return result.exit_code if isinstance(result, Result) else result.returncode


def expect(
    result: Result | subprocess.CompletedProcess[str], status: int
) -> Result | subprocess.CompletedProcess[str]:
    """Assert the exit status; never a traceback, and a status-0 run has no exception."""
    assert status_of(result) == status, describe(result)
    assert "Traceback" not in result.stderr, describe(result)
    if isinstance(result, Result) and result.exception is not None:
        assert isinstance(result.exception, SystemExit), describe(result)
    return result


def expect_error(
    result: Result | subprocess.CompletedProcess[str], status: int, *words: str
) -> str:
    """Assert a failure: the status, and one line on stderr holding ``words``."""
    expect(result, status)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, describe(result)
    for word in words:
        assert word.lower() in lines[0].lower(), describe(result)
    return lines[0]


class LineReader:
    """Collects the lines of a pipe from a thread, so reads can wait with a deadline."""

    def __init__(self, pipe: IO[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(pipe,), daemon=True)
        self._thread.start()

    def _pump(self, pipe: IO[str]) -> None:
        with contextlib.suppress(ValueError, OSError):
            for line in pipe:
                self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def read_until(self, done: str, timeout: float) -> list[str] | None:
        """Lines read until one starts with ``done``; None at end of file or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                return None
            if line is None:
                self._queue.put(None)
                return None
            self.lines.append(line)
            if line.startswith(done):
                return list(self.lines)

    def rest(self, timeout: float = 5.0) -> list[str]:
        """Every line until the end of file (once the process has exited)."""
        self._thread.join(timeout)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is None:
                self._queue.put(None)
                break
            self.lines.append(line)
        return list(self.lines)


@dataclass
class ServerProcess:
    """A `remofile run` process we started, and the settings it printed."""

    process: subprocess.Popen[str]
    root: Path
    port: int
    settings: dict[str, str]
    stdout: LineReader
    stderr: LineReader
    banner: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def token(self) -> str:
        return self.settings["REMOFILE_TOKEN"]

    @property
    def env(self) -> dict[str, str]:
        """The client settings it printed, as an environment."""
        return dict(self.settings)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> int:
        """Signal our process by its PID and wait for it (killed if it will not stop)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
                raise
        self.stdout.rest()
        self.stderr.rest()
        return self.process.returncode


def _parse_settings(lines: list[str]) -> dict[str, str]:
    settings: dict[str, str] = {}
    for line in lines:
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            settings[key] = value.strip("'")
    return settings


def is_ready(env: Mapping[str, str], timeout_ms: int = 300) -> bool:
    """Whether `remofile list /` succeeds against the server ``env`` names."""
    return invoke(["list", "/", "-t", str(timeout_ms)], env).exit_code == 0


def start_server(
    root: str | os.PathLike[str],
    token: str | None = TOKEN,
    extra: Sequence[str] = (),
    *,
    program: str = REMOFILE,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    attempts: int = 5,
    wait_ready: bool = True,
    port: int | None = None,
) -> ServerProcess:
    """`remofile run ROOT PORT [TOKEN] EXTRA...` on a free port, once it answers.

    ``root`` is passed as given (relative to ``cwd`` if relative). A port taken between
    choosing and binding it makes a new attempt on another port.
    """
    environment = clean_environment()
    environment.update(env or {})
    failures: list[str] = []
    for _ in range(attempts):
        asked = free_port() if port is None else port
        args = [program, "run", os.fspath(root), str(asked)]
        args += [token] if token is not None else []
        args += list(extra)
        process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
            cwd=cwd,
        )
        stdout = LineReader(process.stdout)  # type: ignore[arg-type]
        stderr = LineReader(process.stderr)  # type: ignore[arg-type]
        banner = stdout.read_until("export REMOFILE_TOKEN=", SERVER_READY_S)
        encrypting = "--private-key" in args or "REMOFILE_PRIVATE_KEY" in environment
        if banner is not None and encrypting:
            # An encrypting server prints the public key after the token.
            banner = stdout.read_until("export REMOFILE_PUBLIC_KEY=", SERVER_READY_S)
        settings = _parse_settings(banner or [])
        server = ServerProcess(
            process,
            Path(root) if cwd is None else Path(cwd, root),
            int(settings.get("REMOFILE_PORT", asked)),
            settings,
            stdout,
            stderr,
            banner or [],
        )
        if banner is not None and (not wait_ready or _wait_until_ready(server)):
            return server
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.stop(signal.SIGKILL)
        failures.append("\n".join(stdout.rest() + stderr.rest()))
        if not any("listen" in text for text in failures[-1:]):
            break
    raise RuntimeError("the server did not start:\n" + "\n---\n".join(failures))


def _wait_until_ready(server: ServerProcess) -> bool:
    deadline = time.monotonic() + SERVER_READY_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        if is_ready(server.env):
            return True
        time.sleep(0.05)
    return False


@contextlib.contextmanager
def running_server(
    root: str | os.PathLike[str],
    token: str | None = TOKEN,
    extra: Sequence[str] = (),
    **options: object,
) -> Iterator[ServerProcess]:
    server = start_server(root, token, extra, **options)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


class PlainStorage(LocalStorage):
    """A backend that declares none of the optional abilities of protocol 1.1."""

    can_replace = False
    can_move = False
    can_copy = False


class OldServer(Server):
    """A server as one of protocol 1.0 looks to a client: it announces no feature (not
    even FILE_DIGEST) and its storage can neither replace, move nor copy."""

    def __init__(self, root: str | os.PathLike[str], token: str) -> None:
        super().__init__(root, token, storage_factory=PlainStorage)

    def _session_opened(
        self, session_id: bytes, features: list[pb.Feature.ValueType]
    ) -> pb.SessionOpened:
        return super()._session_opened(session_id, [])


@contextlib.contextmanager
def server_in_thread(server: Server) -> Iterator[dict[str, str]]:
    """Run ``server`` in a thread on a free 127.0.0.1 port; yields the client settings."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            server.run(0, "127.0.0.1")
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)

    thread = threading.Thread(target=run, name="remofile-cli-test-server", daemon=True)
    thread.start()
    try:
        assert server.wait_until_ready(SERVER_READY_S), f"server did not start: {errors}"
        assert server.endpoint is not None
        port = int(server.endpoint.rpartition(":")[2])
        yield client_environment(port)
    finally:
        with contextlib.suppress(RuntimeError):  # it never started
            server.terminate()
        thread.join(SERVER_READY_S)
        assert not thread.is_alive(), "server thread did not stop"
    assert not errors, errors


def is_gone(pid: int) -> bool:
    """Whether no process runs with this pid (a zombie awaiting its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            state = handle.read().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    return state in ("Z", "X")


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_gone(pid):
            return True
        time.sleep(0.02)
    return is_gone(pid)


def kill_if_ours(pid: int, marker: str) -> None:
    """SIGKILL a process we started, if it still runs and its command line holds marker."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command_line = handle.read().decode(errors="replace")
    except OSError:
        return
    if marker in command_line and not is_gone(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_gone(pid, 5)
