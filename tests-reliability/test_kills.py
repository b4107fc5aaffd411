"""SIGKILL of the client, or of the server, at random moments of uploads, downloads,
replacing uploads and removals: no partial file is ever visible, a tree is either all
there or gone, and every transfer resumes to a byte-identical file.

The victim is a process started here and killed by its own handle. The client's
operations are slowed a little per chunk so that the random moments fall all along
them. Sessions time out fast, so a killed client's session does not hold the server.
"""

from __future__ import annotations

import hashlib
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from figures import scaled
from remofile.client import Client
from remofile.core import ServerBusyError
from server_harness import TOKEN, RunningServer, serve_in_process

SESSION_TIMEOUT_MS = 300
CHUNK_BYTES = 32 * 1024
FILE_BYTES = 700_000
TREE_FILES = 1500

#: A client doing one operation, slowly, until it is killed (or done).
CLIENT_SCRIPT = r"""
import sys, time
from remofile.client import Client
operation, endpoint, token, local, remote = sys.argv[1:6]
client = Client(endpoint, None, token)
pause = lambda *_: time.sleep(0.004)
if operation == "upload":
    client.upload_file(local, "/", chunk_size=32768, process_chunk=pause, resume=True,
                       timeout=5000)
elif operation == "replace":
    client.upload_file(local, "/", chunk_size=32768, process_chunk=pause, resume=True,
                       replace=True, timeout=5000)
elif operation == "download":
    client.download_file(remote, local, chunk_size=32768, process_chunk=pause, resume=True,
                         timeout=5000)
else:
    client.delete_file(remote, 5000, process_removal=lambda *_: time.sleep(0.01))
client.close()
"""

OPERATIONS = ["upload", "replace", "download", "remove"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Stage:
    """A served root and a local directory, with the files each operation works on."""

    def __init__(self, base: Path) -> None:
        self.root = base / "served"
        self.local = base / "local"
        self.root.mkdir()
        self.local.mkdir()
        self.new = random.Random(1).randbytes(FILE_BYTES)
        self.old = random.Random(2).randbytes(FILE_BYTES // 2)
        (self.local / "up.bin").write_bytes(self.new)
        (self.local / "replaced.bin").write_bytes(self.new)
        (self.root / "down.bin").write_bytes(self.new)

    def reset(self, operation: str) -> None:
        """Put the files of ``operation`` back as they were before it."""
        if operation == "upload":
            _unlink(self.root / "up.bin")
        elif operation == "replace":
            (self.root / "replaced.bin").write_bytes(self.old)
        elif operation == "download":
            _unlink(self.local / "down.bin")
        else:
            tree = self.root / "tree"
            if not tree.exists():
                (tree / "sub").mkdir(parents=True)
                for index in range(TREE_FILES):
                    (tree / ("sub" if index % 2 else "") / f"f{index}").write_bytes(b"x")

    def check_after_kill(self, operation: str, figures: Counter[str]) -> None:
        """What a user may see after a kill: never a partial or mixed file, never a
        half-removed tree."""
        partial = False
        if operation == "upload":
            up = self.root / "up.bin"
            partial = up.exists() and up.read_bytes() != self.new
        elif operation == "replace":
            partial = (self.root / "replaced.bin").read_bytes() not in (self.old, self.new)
        elif operation == "download":
            down = self.local / "down.bin"
            partial = down.exists() and down.read_bytes() != self.new
        else:
            tree = self.root / "tree"
            partial = tree.exists() and len(list(tree.rglob("f*"))) != TREE_FILES
        figures["partial files or trees seen after kills"] += int(partial)
        assert not partial, f"{operation}: a partial file or tree is visible"

    def resume(self, client: Client, operation: str) -> None:
        """Finish ``operation`` with resume, and check the result byte for byte."""
        if operation == "upload":
            if not (self.root / "up.bin").exists():  # else the kill came after the end
                client.upload_file(self.local / "up.bin", "/", resume=True, timeout=5000)
            assert _digest(self.root / "up.bin") == _digest(self.local / "up.bin")
        elif operation == "replace":
            client.upload_file(
                self.local / "replaced.bin", "/", resume=True, replace=True, timeout=5000
            )
            assert (self.root / "replaced.bin").read_bytes() == self.new
        elif operation == "download":
            if not (self.local / "down.bin").exists():
                client.download_file("/down.bin", self.local, resume=True, timeout=5000)
            assert (self.local / "down.bin").read_bytes() == self.new
        else:
            if (self.root / "tree").exists():
                client.delete_file("/tree", 5000)
            assert not (self.root / "tree").exists()


def _unlink(path: Path) -> None:
    if path.exists():
        path.unlink()


def _client_process(operation: str, endpoint: str, stage: Stage) -> subprocess.Popen[bytes]:
    local = {
        "upload": stage.local / "up.bin",
        "replace": stage.local / "replaced.bin",
        "download": stage.local,
        "remove": stage.local,
    }[operation]
    remote = {"download": "/down.bin", "remove": "/tree"}.get(operation, "")
    return subprocess.Popen(
        [sys.executable, "-c", CLIENT_SCRIPT, operation, endpoint, TOKEN, str(local), remote],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _resume(endpoint: str, stage: Stage, operation: str) -> None:
    deadline = time.monotonic() + 15
    while True:
        client = Client(endpoint, None, TOKEN)
        try:
            stage.resume(client, operation)
            return
        except ServerBusyError:  # the killed client's session has not expired yet
            assert time.monotonic() < deadline
            time.sleep(SESSION_TIMEOUT_MS / 1000)
        finally:
            client.close()


@pytest.fixture
def stage(tmp_path: Path) -> Stage:
    return Stage(tmp_path)


@pytest.fixture
def server(stage: Stage) -> Iterator[RunningServer]:
    with serve_in_process(stage.root, session_timeout_ms=SESSION_TIMEOUT_MS) as running:
        yield running


@pytest.mark.parametrize("operation", OPERATIONS)
def test_killing_the_client_loses_nothing_and_everything_resumes(
    stage: Stage, server: RunningServer, operation: str, figures: Counter[str]
) -> None:
    chooser = random.Random(operation)
    for _ in range(scaled(3, 100)):
        stage.reset(operation)
        process = _client_process(operation, server.endpoint, stage)
        time.sleep(chooser.uniform(0.2, 1.2))
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        figures[f"clients killed during: {operation}"] += 1
        stage.check_after_kill(operation, figures)
        assert server.process is not None
        assert server.process.poll() is None, "the server died"
        _resume(server.endpoint, stage, operation)
        figures["transfers resumed byte-identical (or removals finished)"] += 1


@pytest.mark.parametrize("operation", OPERATIONS)
def test_killing_the_server_loses_nothing_and_everything_resumes(
    stage: Stage, operation: str, figures: Counter[str]
) -> None:
    chooser = random.Random(operation + "server")
    for _ in range(scaled(2, 50)):
        stage.reset(operation)
        with serve_in_process(stage.root, session_timeout_ms=SESSION_TIMEOUT_MS) as running:
            assert running.process is not None
            client = _client_process(operation, running.endpoint, stage)
            time.sleep(chooser.uniform(0.3, 1.2))
            running.process.send_signal(signal.SIGKILL)
            running.process.wait(30)
            client.kill()
            client.wait(30)
        figures[f"servers killed during: {operation}"] += 1
        stage.check_after_kill(operation, figures)
        with serve_in_process(stage.root, session_timeout_ms=SESSION_TIMEOUT_MS) as again:
            _resume(again.endpoint, stage, operation)
        figures["transfers resumed byte-identical (or removals finished)"] += 1
