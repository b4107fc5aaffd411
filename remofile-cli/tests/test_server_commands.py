"""The server commands: run, start, stop, generate-token, generate-keys, and the server
options (--file-size-limit, --min/--max-chunk-size, --address, --private-key and
REMOFILE_PRIVATE_KEY), each observed from a real client."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from cli_support import (
    REMOFILE,
    RMF,
    TOKEN,
    client_environment,
    expect,
    expect_error,
    free_port,
    invoke,
    is_gone,
    is_ready,
    kill_if_ours,
    run_process,
    running_server,
    start_server,
    wait_gone,
)
from remofile.client import Client
from remofile.core.credentials import is_token_valid
from remofile.core.exceptions import ChunkSizeError

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_.~-]{22}$")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    served = tmp_path / "served"
    served.mkdir()
    (served / "hello.txt").write_bytes(b"hello")
    return served


# -- run ------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_generates_a_token_prints_the_settings_and_stops_on_a_signal(
    root: Path, sig: int
) -> None:
    server = start_server(root, token=None)
    try:
        generated, serving, *exports = server.banner
        match = re.fullmatch(
            r"Generated token: (\S+) \(kept in (\S+) for the next start\)", generated
        )
        assert match, server.banner
        assert TOKEN_PATTERN.match(match.group(1)), server.banner
        assert serving == f"Serving {root} on 127.0.0.1:{server.port}. Client settings:"
        assert exports == [
            "export REMOFILE_HOSTNAME=127.0.0.1",
            f"export REMOFILE_PORT={server.port}",
            f"export REMOFILE_TOKEN={match.group(1)}",
        ]
        assert expect(invoke(["list"], server.env), 0).stdout == "hello.txt\n"
        started = time.monotonic()
        status = server.stop(sig)
        assert time.monotonic() - started < 3
    finally:
        server.stop(signal.SIGKILL)
    assert status == 0, server.stderr.lines
    # Each session (the readiness check's, the listing's) is logged in one line (see
    # test_first_day), then the stop.
    *sessions, stopped = server.stderr.lines
    assert len(sessions) == 2, server.stderr.lines
    assert all("INFO session from 127.0.0.1 " in line for line in sessions), sessions
    assert stopped == "Server stopped."


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_stops_on_a_signal_sent_as_soon_as_the_settings_are_printed(
    root: Path, sig: int
) -> None:
    """A supervisor may stop the server at once: the signal must not be lost."""
    for _ in range(2):
        server = start_server(root, wait_ready=False)
        os.kill(server.pid, sig)
        try:
            server.process.wait(5)
        except subprocess.TimeoutExpired:
            server.stop(signal.SIGKILL)
            pytest.fail(f"{signal.Signals(sig).name} right after the banner was ignored")
        assert server.stop() == 0, server.stderr.rest()


def test_run_on_port_0_prints_the_port_it_chose(root: Path) -> None:
    with running_server(root, port=0) as server:
        assert server.port != 0
        assert f"export REMOFILE_PORT={server.port}" in server.banner
        assert expect(invoke(["list"], server.env), 0).stdout == "hello.txt\n"


def test_run_refuses_a_bad_directory(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    for directory in (tmp_path / "missing", tmp_path / "a-file"):
        result = expect(invoke(["run", str(directory), str(free_port()), TOKEN]), 2)
        assert "DIRECTORY" in result.stderr
        assert str(directory.name) in result.stderr
        assert result.stdout == ""
    process = run_process(["run", str(tmp_path / "missing"), str(free_port()), TOKEN])
    assert "does not exist" in expect(process, 2).stderr


@pytest.mark.timeout(30)
def test_run_refuses_bad_options(root: Path) -> None:
    # Refused before anything listens, so click's runner is safe here.
    port = str(free_port())
    for args, words in (
        (["bad token!"], ("token",)),
        ([TOKEN, "--min-chunk-size", "1000", "--max-chunk-size", "999"], ("--max-chunk-size",)),
        ([TOKEN, "--file-size-limit", "0"], ("--file-size-limit",)),
        ([TOKEN, "--private-key", "not-a-key"], ("key",)),
        ([TOKEN, "--session-timeout", "0"], ("--session-timeout",)),
    ):
        result = expect(invoke(["run", str(root), port, *args]), 2)
        assert all(word in result.stderr for word in words), result.stderr
        assert result.stdout == ""
    expect_error(run_process(["run", str(root), port, "bad token!"]), 2, "token")


def test_run_and_start_on_a_port_in_use_say_so(root: Path) -> None:
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)  # as another server holds its port
    try:
        router.bind("tcp://127.0.0.1:*")
        endpoint = router.getsockopt(zmq.LAST_ENDPOINT)
        assert isinstance(endpoint, bytes)
        port = int(endpoint.rsplit(b":", 1)[1])
        for args in (
            ["run", str(root), str(port), TOKEN],
            ["start", str(root), str(port), TOKEN, "--pidfile", "x.pid"],
        ):
            result = run_process(args, cwd=root.parent)
            line = expect_error(result, 1, f"cannot listen on 127.0.0.1:{port}", "in use")
            assert line.startswith("remofile: ")
        assert not (root.parent / "x.pid").exists()
    finally:
        router.close(linger=0)
        context.term()


# -- server options -------------------------------------------------------------------


def test_file_size_limit(root: Path, cwd: Path) -> None:
    (cwd / "small.bin").write_bytes(os.urandom(4000))
    (cwd / "large.bin").write_bytes(os.urandom(6000))
    (root / "large-remote.bin").write_bytes(os.urandom(6000))
    with running_server(root, extra=["--file-size-limit", "5000"]) as server:
        expect(invoke(["upload", "small.bin", "/"], server.env), 0)
        expect_error(invoke(["upload", "large.bin", "/"], server.env), 5, "5000")
        expect_error(run_process(["upload", "large.bin", "/"], server.env, cwd), 5, "5000")
        expect_error(invoke(["download", "/large-remote.bin", "."], server.env), 5, "5000")
        with Client("127.0.0.1", server.port, TOKEN) as client:
            assert client.server_info(5000).file_size_limit == 5000
    assert (root / "small.bin").stat().st_size == 4000
    assert not (root / "large.bin").exists()
    assert not (cwd / "large-remote.bin").exists()


def test_chunk_size_range(root: Path, cwd: Path) -> None:
    (cwd / "file.bin").write_bytes(os.urandom(3000))
    extra = ["--min-chunk-size", "600", "--max-chunk-size", "700000"]
    with running_server(root, extra=extra) as server:
        # The command line sends 1 MiB chunks: over this server's maximum.
        expect_error(invoke(["upload", "file.bin", "/"], server.env), 5, "chunk")
        with Client("127.0.0.1", server.port, TOKEN) as client:
            info = client.server_info(5000)
            assert (info.min_chunk_size, info.max_chunk_size) == (600, 700000)
            with pytest.raises(ChunkSizeError):
                client.upload_file(cwd / "file.bin", "/", chunk_size=599, timeout=5000)
            with pytest.raises(ChunkSizeError):
                client.upload_file(cwd / "file.bin", "/", chunk_size=700001, timeout=5000)
            client.upload_file(cwd / "file.bin", "/", chunk_size=600, timeout=5000)
    assert (root / "file.bin").read_bytes() == (cwd / "file.bin").read_bytes()


def test_address(root: Path) -> None:
    with running_server(root, extra=["--address", "127.0.0.2"]) as server:
        assert server.settings["REMOFILE_HOSTNAME"] == "127.0.0.2"
        assert f"on 127.0.0.2:{server.port}" in server.banner[0]
        assert expect(invoke(["list"], server.env), 0).stdout == "hello.txt\n"
        elsewhere = client_environment(server.port, host="127.0.0.1")
        expect_error(invoke(["list", "-t", "300"], elsewhere), 7, "connection refused")


def test_private_key_from_the_environment_with_keys_from_generate_keys(root: Path) -> None:
    output = expect(invoke(["generate-keys"]), 0).stdout.splitlines()
    assert len(output) == 2
    assert output[0].startswith("public key: ")
    assert output[1].startswith("private key: ")
    public, private = output[0][len("public key: ") :], output[1][len("private key: ") :]
    assert len(public) == len(private) == 40
    assert public != private
    server = start_server(root, env={"REMOFILE_PRIVATE_KEY": private})
    try:
        assert server.settings["REMOFILE_PUBLIC_KEY"] == public
        assert expect(invoke(["list"], server.env), 0).stdout == "hello.txt\n"
        plain = {k: v for k, v in server.env.items() if k != "REMOFILE_PUBLIC_KEY"}
        expect_error(invoke(["list", "-t", "300"], plain), 7, "encrypts", "REMOFILE_PUBLIC_KEY")
    finally:
        assert server.stop() == 0


# -- generate-token, generate-keys ----------------------------------------------------


def test_generate_token() -> None:
    tokens = {expect(invoke(["generate-token"]), 0).stdout for _ in range(3)}
    tokens.add(expect(run_process(["generate-token"], program=RMF), 0).stdout)
    assert len(tokens) == 4
    for output in tokens:
        token = output.rstrip("\n")
        assert output == token + "\n"
        assert TOKEN_PATTERN.match(token)
        assert is_token_valid(token)


def test_generate_keys_json() -> None:
    pair = json.loads(expect(invoke(["generate-keys", "--json"]), 0).stdout)
    assert sorted(pair) == ["private_key", "public_key"]
    text = expect(invoke(["generate-keys"]), 0).stdout
    assert re.fullmatch(r"public key: \S{40}\nprivate key: \S{40}\n", text)


# -- start and stop -------------------------------------------------------------------


def read_pid(pidfile: Path, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            text = pidfile.read_text().strip()
        except FileNotFoundError:
            text = ""
        if text:
            return int(text)
        time.sleep(0.01)
    raise AssertionError(f"no pid in {pidfile} after {timeout} s")


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[list[int]]:
    """Daemons a test started: any still running at the end is killed, by PID."""
    started: list[int] = []
    yield started
    for pid in started:
        kill_if_ours(pid, str(tmp_path))


def start_daemon(
    root: Path, pidfile: Path, daemons: list[int], *extra: str
) -> tuple[subprocess.CompletedProcess[str], int, dict[str, str]]:
    for _ in range(3):
        port = free_port()
        result = run_process(
            ["start", str(root), str(port), TOKEN, "--pidfile", str(pidfile), *extra]
        )
        if result.returncode == 1 and "cannot listen" in result.stderr:
            continue
        expect(result, 0)
        pid = read_pid(pidfile)
        daemons.append(pid)
        return result, pid, client_environment(port)
    raise AssertionError("no free port for the daemon")


def wait_ready(env: dict[str, str], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not is_ready(env):
        assert time.monotonic() < deadline, "the daemon does not answer"
        time.sleep(0.05)  # a refused connection fails at once


def test_start_serves_refuses_a_second_start_and_stop_waits(
    root: Path, tmp_path: Path, daemons: list[int]
) -> None:
    pidfile = tmp_path / "run" / "server.pid"
    pidfile.parent.mkdir()
    result, pid, env = start_daemon(root, pidfile, daemons)
    assert f"export REMOFILE_PORT={env['REMOFILE_PORT']}" in result.stdout.splitlines()
    assert "in the background" in result.stdout
    wait_ready(env)
    assert expect(invoke(["list"], env), 0).stdout == "hello.txt\n"
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        assert b"start" in handle.read()

    second = run_process(["start", str(root), str(free_port()), TOKEN, "--pidfile", str(pidfile)])
    expect_error(second, 1, "already running", str(pid))
    assert read_pid(pidfile) == pid
    assert not is_gone(pid)
    assert expect(invoke(["list"], env), 0).stdout == "hello.txt\n"

    stopped = expect(run_process(["stop", "--pidfile", str(pidfile)]), 0)
    assert stopped.stdout == f"Server {pid} stopped.\n"
    assert is_gone(pid), "stop returned before the daemon exited"
    assert not pidfile.exists()
    expect_error(invoke(["list", "-t", "300"], env), 7)
    expect_error(run_process(["stop", "--pidfile", str(pidfile)]), 3, "no pidfile")


def test_start_fails_visibly_when_the_daemon_could_not_write_its_files(
    root: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "missing"
    port = free_port()
    env = client_environment(port)
    for extra, words in (
        (["--pidfile", str(missing / "server.pid")], ("pidfile", "server.pid")),
        (["--pidfile", "ok.pid", "--log-file", str(missing / "log")], ("log file", "missing")),
    ):
        result = run_process(["start", str(root), str(port), TOKEN, *extra], cwd=tmp_path)
        expect_error(result, 1, *words)
        assert result.stdout == ""  # no settings of a server that will not run
        assert not (tmp_path / "ok.pid").exists()
        expect_error(invoke(["list", "-t", "300"], env), 7)


def test_stop_with_a_stale_pidfile(tmp_path: Path) -> None:
    finished = subprocess.Popen(["true"])
    finished.wait(10)
    pidfile = tmp_path / "stale.pid"
    pidfile.write_text(f"{finished.pid}\n")
    line = expect_error(
        run_process(["stop", "--pidfile", str(pidfile)]), 3, "stale", str(finished.pid)
    )
    assert line.startswith("remofile: ")
    assert not pidfile.exists()
    # A live process that is not a remofile server is never signalled, even one whose
    # command line mentions remofile.
    sleeper = subprocess.Popen(["sh", "-c", "sleep 30", "rmf-remofile-notes.txt"])
    try:
        pidfile.write_text(f"{sleeper.pid}\n")
        expect_error(invoke(["stop", "--pidfile", str(pidfile)]), 3, "stale")
        assert sleeper.poll() is None
        assert not pidfile.exists()
    finally:
        sleeper.kill()
        sleeper.wait(5)
    pidfile.write_text("garbage\n")
    expect_error(invoke(["stop", "--pidfile", str(pidfile)]), 3, "stale")
    assert not pidfile.exists()


def test_stop_without_a_pidfile(tmp_path: Path) -> None:
    expect_error(run_process(["stop"], cwd=tmp_path), 3, "daemon.pid")
    expect_error(invoke(["stop", "--pidfile", str(tmp_path / "none.pid")]), 3, "none.pid")


def test_a_daemon_stops_on_sigterm_sent_as_soon_as_its_pidfile_appears(
    root: Path, tmp_path: Path, daemons: list[int]
) -> None:
    for attempt in range(2):
        pidfile = tmp_path / f"quick-{attempt}.pid"
        _, pid, _ = start_daemon(root, pidfile, daemons)
        os.kill(pid, signal.SIGTERM)
        assert wait_gone(pid, 5), "SIGTERM right after the pidfile was written was ignored"


HELPER = r"""
import ctypes, json, os, subprocess, sys, time
remofile, root, port, token, pidfile = sys.argv[1:]
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    print(json.dumps({"skip": "no child subreaper here"}))
    sys.exit(0)
subprocess.run([remofile, "start", root, port, token, "--pidfile", pidfile],
               capture_output=True, timeout=20, check=True)
deadline = time.monotonic() + 10
while not (os.path.exists(pidfile) and open(pidfile).read().strip()):
    assert time.monotonic() < deadline
    time.sleep(0.01)
pid = int(open(pidfile).read())
time.sleep(0.3)
started = time.monotonic()
stop = subprocess.run([remofile, "stop", "--pidfile", pidfile], capture_output=True,
                      text=True, timeout=40)
elapsed = time.monotonic() - started
reaped = []
while True:  # the daemon and its first fork are our children now: reap them
    try:
        child, _ = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if child == 0:
        if time.monotonic() - started > 20:
            break
        time.sleep(0.01)
        continue
    reaped.append(child)
print(json.dumps({"status": stop.returncode, "stderr": stop.stderr, "elapsed": elapsed,
                  "pid": pid, "reaped": pid in reaped}))
"""


def test_stop_does_not_wait_for_the_daemon_to_be_reaped(root: Path, tmp_path: Path) -> None:
    """Under an init that does not reap at once (a container's), the stopped daemon stays
    a zombie for a while: stop must see it has exited rather than wait it out."""
    pidfile = tmp_path / "reaper.pid"
    helper = subprocess.run(
        [sys.executable, "-c", HELPER, REMOFILE, str(root), str(free_port()), TOKEN, str(pidfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert helper.returncode == 0, helper.stderr
    report = json.loads(helper.stdout)
    if "skip" in report:
        pytest.skip(report["skip"])
    assert report["reaped"], report
    assert report["status"] == 0, report
    assert report["elapsed"] < 5, report
    assert not pidfile.exists()
