"""Killing a synchronization that replaces files never loses one (SPEC.md 4.5.5).

Each scenario changes every file of a small tree, starts a synchronization that must
replace them all, and kills the client or the server with SIGKILL at a random moment of
it. Then every file on the side being written to must be the complete old version or
the complete new one: never missing, never a mix, no partial file in sight. After the
last kill a plain rerun must finish the job. Only processes started here are killed, by
their own handles; every wait is bounded.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_support import REMOFILE, ServerProcess, clean_environment, start_server
from remofile.client import Client, synchronize_download, synchronize_upload

#: Kills per scenario.
KILLS = 50

#: The files of the tree: several, of different sizes, each of many chunks.
FILE_SIZES = {"a.bin": 600_000, "b.bin": 1_100_000, "sub/c.bin": 300_000, "sub/d.bin": 5}

CHUNK_BYTES = 64 * 1024

#: How long a killed session holds the server: short, so the next run gets in soon.
SESSION_TIMEOUT_MS = 250

#: Longest a client may wait for an answer, so one whose server died gives up soon.
CLIENT_TIMEOUT_MS = 1500

#: Longest any one process of a scenario may take.
PROCESS_TIMEOUT_S = 30.0

#: A client that syncs through the Python API, slowed a little per chunk so that the
#: random moments spread over the whole transfer, not only its start.
CLIENT_SCRIPT = r"""
import sys, time
from remofile.client import Client, synchronize_download, synchronize_upload
direction, local, remote, endpoint, token, chunk, timeout = sys.argv[1:8]
client = Client(endpoint, None, token)
pause = lambda *_: time.sleep(0.002)
print("start", flush=True)
if direction == "upload":
    synchronize_upload(client, local, remote, chunk_size=int(chunk), process_chunk=pause,
                       timeout=int(timeout))
else:
    synchronize_download(client, remote, local, chunk_size=int(chunk), process_chunk=pause,
                         timeout=int(timeout))
client.close()
print("done", flush=True)
"""


def _write_version(top: Path, version: int) -> dict[str, str]:
    """Write version ``version`` of the tree under ``top``; its files' SHA-256 digests."""
    digests: dict[str, str] = {}
    for relative, size in FILE_SIZES.items():
        path = top / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        content = random.Random(f"{relative}-{version}").randbytes(size + version % 7)
        path.write_bytes(content)
        # A time of its own per version, so size and time always tell it changed.
        stamp = 1_700_000_000_000_000_000 + version * 1_000_000_000
        os.utime(path, ns=(stamp, stamp))
        digests[relative] = hashlib.sha256(content).hexdigest()
    return digests


def _is_work_file(name: str) -> bool:
    """A file a transfer works in before it takes its name: the server's reserved names
    (no client can see them) and a download's hidden partial file."""
    return name.startswith(".remofile-") or name.endswith(".remofile-partial")


def _digests(top: Path, work_files: bool = False) -> dict[str, str]:
    """Every file below ``top`` by relative path: its SHA-256. The staging area is left
    out, and so are work files unless ``work_files``: a kill may leave one, which the
    next run of the same transfer reuses or removes."""
    found: dict[str, str] = {}
    for directory, directories, files in os.walk(top):
        directories[:] = [name for name in directories if name != ".remofile-staging"]
        for name in files:
            if _is_work_file(name) and not work_files:
                continue
            path = Path(directory, name)
            found[str(path.relative_to(top))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _assert_old_or_new(top: Path, old: dict[str, str], new: dict[str, str], moment: str) -> None:
    found = _digests(top)
    assert sorted(found) == sorted(new), f"{moment}: files missing or extra: {sorted(found)}"
    for relative, digest in found.items():
        assert digest in (old[relative], new[relative]), f"{moment}: {relative} is a mix"


@dataclass
class Sides:
    local: Path
    root: Path
    remote: str = "/mirror"

    @property
    def mirror(self) -> Path:
        return self.root / "mirror"


@pytest.fixture
def sides(tmp_path: Path) -> Sides:
    (tmp_path / "local").mkdir()
    (tmp_path / "served").mkdir()
    return Sides(tmp_path / "local", tmp_path / "served")


@pytest.fixture
def server(sides: Sides) -> Iterator[ServerProcess]:
    running = _start(sides.root)
    try:
        yield running
    finally:
        running.stop(signal.SIGKILL)


def _start(root: Path, port: int | None = None) -> ServerProcess:
    return start_server(root, extra=["--session-timeout", str(SESSION_TIMEOUT_MS)], port=port)


def _endpoint(server: ServerProcess) -> str:
    return f"tcp://127.0.0.1:{server.port}"


def _client(server: ServerProcess) -> Client:
    return Client(_endpoint(server), None, server.token)


def _sync_now(server: ServerProcess, sides: Sides, direction: str) -> None:
    """One synchronization that runs to its end, retried while a killed session still
    holds the server."""
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    while True:
        client = _client(server)
        try:
            if direction == "upload":
                synchronize_upload(client, sides.local, sides.remote, timeout=CLIENT_TIMEOUT_MS)
            else:
                synchronize_download(client, sides.remote, sides.local, timeout=CLIENT_TIMEOUT_MS)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(SESSION_TIMEOUT_MS / 1000)
        finally:
            client.close()


def _spawn_api_client(server: ServerProcess, sides: Sides, direction: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            CLIENT_SCRIPT,
            direction,
            str(sides.local),
            sides.remote,
            _endpoint(server),
            server.token,
            str(CHUNK_BYTES),
            str(CLIENT_TIMEOUT_MS),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _spawn_cli_client(server: ServerProcess, sides: Sides, direction: str) -> subprocess.Popen[str]:
    where = "local" if direction == "upload" else "remote"
    environment = clean_environment()
    environment.update(server.env)
    return subprocess.Popen(
        [REMOFILE, "sync", where, str(sides.local), sides.remote, "-t", str(CLIENT_TIMEOUT_MS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=environment,
    )


Spawn = Callable[[ServerProcess, Sides, str], "subprocess.Popen[str]"]


def _timed_run(spawn: Spawn, server: ServerProcess, sides: Sides, direction: str) -> float:
    """Seconds a whole uninterrupted synchronization takes, from its process's start."""
    started = time.monotonic()
    process = spawn(server, sides, direction)
    process.communicate(timeout=PROCESS_TIMEOUT_S)
    assert process.returncode == 0, "an uninterrupted synchronization failed"
    return time.monotonic() - started


def _wait_free(server: ServerProcess) -> None:
    """Until the session of a killed client has expired on the server."""
    time.sleep(SESSION_TIMEOUT_MS / 1000 * 1.2)


@pytest.mark.parametrize(
    ("spawn", "direction"),
    [
        (_spawn_api_client, "upload"),
        (_spawn_cli_client, "upload"),
        (_spawn_api_client, "download"),
    ],
    ids=["synchronize_upload", "sync-local", "synchronize_download"],
)
def test_killing_the_client_while_it_replaces_files_loses_none(
    server: ServerProcess, sides: Sides, spawn: Spawn, direction: str
) -> None:
    source = sides.local if direction == "upload" else sides.mirror
    target = sides.mirror if direction == "upload" else sides.local
    sides.mirror.mkdir()
    current = _write_version(target, 0)
    _write_version(source, 1)
    duration = _timed_run(spawn, server, sides, direction)
    current = _digests(target)
    chooser = random.Random(2026)
    finished = 0
    for version in range(2, KILLS + 2):
        new = _write_version(source, version)
        _wait_free(server)
        process = spawn(server, sides, direction)
        time.sleep(chooser.uniform(0.05, duration))
        process.send_signal(signal.SIGKILL)
        process.wait(PROCESS_TIMEOUT_S)
        finished += process.returncode == 0
        _assert_old_or_new(target, current, new, f"kill {version - 1}")
        current = _digests(target)
    _wait_free(server)
    _sync_now(server, sides, direction)
    assert _digests(target, work_files=direction == "download") == _digests(source)
    # On a busy machine some kills come after a run ended; most must interrupt one.
    assert finished < KILLS * 0.8, f"{finished} of {KILLS} kills came after the end"


@pytest.mark.parametrize(
    ("spawn", "direction"),
    [(_spawn_api_client, "upload"), (_spawn_cli_client, "upload")],
    ids=["synchronize_upload", "sync-local"],
)
def test_killing_the_server_while_it_replaces_files_loses_none(
    sides: Sides, spawn: Spawn, direction: str
) -> None:
    sides.mirror.mkdir()
    current = _write_version(sides.mirror, 0)
    _write_version(sides.local, 1)
    server = _start(sides.root)
    try:
        duration = _timed_run(spawn, server, sides, direction)
        current = _digests(sides.mirror)
        chooser = random.Random(1918)
        for version in range(2, KILLS + 2):
            new = _write_version(sides.local, version)
            process = spawn(server, sides, direction)
            time.sleep(chooser.uniform(0.05, duration))
            server.stop(signal.SIGKILL)
            # What the client does next cannot change the server's files: no need to
            # wait for it to give up.
            process.kill()
            process.communicate(timeout=PROCESS_TIMEOUT_S)
            _assert_old_or_new(sides.mirror, current, new, f"kill {version - 1}")
            current = _digests(sides.mirror)
            server = _start(sides.root, port=server.port)
        _sync_now(server, sides, direction)
        assert _digests(sides.mirror) == _digests(sides.local)
    finally:
        server.stop(signal.SIGKILL)
