"""The command line end to end against `remofile run` on both backends: a local directory
and an S3 bucket (``remofile run s3://bucket/prefix`` on a real SeaweedFS)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import (
    TOKEN,
    ServerProcess,
    client_environment,
    expect,
    free_port,
    invoke,
    is_ready,
    run_process,
    start_server,
)

#: Sizes of the files of the test tree: empty, small, and one stored in several parts.
FILE_SIZES = {"empty.txt": 0, "notes.txt": 1300, "a/b/deep.bin": 70_000, "big.bin": 19 << 20}


def _tree(top: Path) -> dict[str, str]:
    """Every entry below ``top``: "dir" or the SHA-256 of the file."""
    result: dict[str, str] = {}
    for directory, directories, files in os.walk(top):
        for name in directories:
            result[os.path.relpath(os.path.join(directory, name), top)] = "dir"
        for name in files:
            path = os.path.join(directory, name)
            result[os.path.relpath(path, top)] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return result


def _make_tree(top: Path) -> None:
    for relative, size in FILE_SIZES.items():
        path = top / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
    (top / "empty-directory").mkdir()


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def served(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """`remofile run` serving a fresh local directory, or a fresh prefix of a bucket."""
    env: dict[str, str] = {}
    root: Any
    if backend == "local":
        root = tmp_path / "served"
        root.mkdir()
    else:
        env = request.getfixturevalue("seaweedfs").environment
        root = request.getfixturevalue("s3_root")
    server = start_server(root, env=env)
    try:
        yield server
    finally:
        assert server.stop() == 0, "\n".join(server.stderr.lines)


def test_upload_list_download_digest_copy_move_remove(
    served: ServerProcess, backend: str, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    _make_tree(source)
    expect(invoke(["upload", "-r", str(source), "/"], served.env), 0)
    listing = expect(invoke(["list", "-r", "/source"], served.env), 0).stdout
    for relative in [*FILE_SIZES, "empty-directory", "a", "a/b"]:
        assert relative in listing, listing
    copy = tmp_path / "copy"
    copy.mkdir()
    expect(invoke(["download", "-r", "/source", str(copy)], served.env), 0)
    assert _tree(copy / "source") == _tree(source)
    digests = expect(invoke(["digest", "-a", "sha256", "/source/big.bin"], served.env), 0).stdout
    assert hashlib.sha256((source / "big.bin").read_bytes()).hexdigest() in digests
    expect(invoke(["copy", "/source/big.bin", "/source/a/big-copy.bin"], served.env), 0)
    again = tmp_path / "again"
    again.mkdir()
    expect(invoke(["download", "/source/a/big-copy.bin", str(again)], served.env), 0)
    assert (again / "big-copy.bin").read_bytes() == (source / "big.bin").read_bytes()
    # S3 has no rename: that server does not offer moves (docs/DESIGN.md, "S3 storage").
    moved = invoke(["move", "/source/a/big-copy.bin", "/source/moved.bin"], served.env)
    expect(moved, 0 if backend == "local" else 5)
    expect(invoke(["remove", "/source"], served.env), 0)
    assert "source" not in expect(invoke(["list", "/"], served.env), 0).stdout


def test_sync_both_ways_with_a_replaced_file_and_checksums(
    served: ServerProcess, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    _make_tree(local)
    expect(invoke(["folder", "mirror", "/"], served.env), 0)
    expect(invoke(["sync", "local", str(local), "/mirror"], served.env), 0)
    # A changed file of the same size, with a later time: replaced, the rest left alone.
    changed = local / "notes.txt"
    changed.write_bytes(os.urandom(1300))
    later = time.time_ns() + 5_000_000_000
    os.utime(changed, ns=(later, later))
    second = expect(invoke(["sync", "local", str(local), "/mirror"], served.env), 0)
    assert "notes.txt" in second.stdout, second.stdout
    assert "big.bin" not in second.stdout, second.stdout
    checked = expect(invoke(["sync", "local", "-c", str(local), "/mirror"], served.env), 0)
    assert "transfer" not in checked.stdout, checked.stdout
    assert "replace" not in checked.stdout, checked.stdout
    back = tmp_path / "back"
    back.mkdir()
    expect(invoke(["sync", "remote", str(back), "/mirror"], served.env), 0)
    assert _tree(back) == _tree(local)


def test_a_daemon_serves_a_bucket_and_stops(seaweedfs: Any, s3_root: str, tmp_path: Path) -> None:
    """`remofile start s3://...` opens the bucket again after it detaches (a daemon closes
    the sockets it inherits), serves it, and `remofile stop` stops it."""
    pidfile = tmp_path / "daemon.pid"
    port = free_port()
    started = run_process(
        ["start", s3_root, str(port), TOKEN, "--pidfile", str(pidfile)],
        env=seaweedfs.environment,
        cwd=tmp_path,
    )
    expect(started, 0)
    env = client_environment(port)
    deadline = time.monotonic() + 20
    while not is_ready(env) and time.monotonic() < deadline:
        time.sleep(0.1)
    (tmp_path / "hello.txt").write_text("hello")
    expect(invoke(["upload", str(tmp_path / "hello.txt"), "/"], env), 0)
    assert "hello.txt" in expect(invoke(["list", "/"], env), 0).stdout
    expect(run_process(["stop", "--pidfile", str(pidfile)], cwd=tmp_path), 0)
