"""move (mv), copy (cp) and digest against a real `remofile run` server, through
CliRunner and as processes, and against a server of protocol 1.0."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from blake3 import blake3
from cli_support import (
    RMF,
    TOKEN,
    OldServer,
    ServerProcess,
    expect,
    expect_error,
    invoke,
    run_process,
    server_in_thread,
)


def tree(top: Path) -> dict[str, bytes | None]:
    """Every entry below ``top``: relative path to content, None for a directory."""
    return {
        path.relative_to(top).as_posix(): None if path.is_dir() else path.read_bytes()
        for path in sorted(top.rglob("*"))
        if not path.relative_to(top).as_posix().startswith(".remofile-")
    }


@pytest.fixture
def top(server: ServerProcess, remote: str) -> Path:
    """This test's remote directory as the server stores it, with a few entries."""
    folder = server.root / remote.lstrip("/")
    (folder / "a.txt").write_bytes(b"alpha\n")
    (folder / "b.txt").write_bytes(b"beta\n")
    (folder / "dir" / "sub").mkdir(parents=True)
    (folder / "dir" / "inner.txt").write_bytes(b"inner\n")
    return folder


# -- move -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["move", "mv"])
def test_move_renames_or_moves_into_an_existing_directory(
    env: dict[str, str], remote: str, top: Path, command: str
) -> None:
    result = expect(invoke([command, f"{remote}/a.txt", f"{remote}/renamed.txt"], env), 0)
    assert (result.stdout, result.stderr) == ("", "")
    # An existing directory receives the entry under its own name (with or without /).
    expect(invoke([command, f"{remote}/renamed.txt", f"{remote}/dir"], env), 0)
    expect(invoke([command, f"{remote}/b.txt", f"{remote}/dir/sub/"], env), 0)
    # A directory moves with everything it holds; relative paths are refused.
    relative = expect(invoke([command, f"{remote}/dir".lstrip("/"), f"{remote}/moved"], env), 2)
    assert "absolute" in relative.stderr
    expect(invoke([command, f"{remote}/dir", f"{remote}/moved"], env), 0)
    assert tree(top) == {
        "moved": None,
        "moved/inner.txt": b"inner\n",
        "moved/renamed.txt": b"alpha\n",
        "moved/sub": None,
        "moved/sub/b.txt": b"beta\n",
    }


def test_move_refuses_a_taken_name_unless_forced(
    env: dict[str, str], remote: str, top: Path
) -> None:
    line = expect_error(invoke(["move", f"{remote}/a.txt", f"{remote}/b.txt"], env), 4, "exists")
    assert f"{remote}/b.txt" in line
    assert "-f" in line
    (top / "dir" / "a.txt").write_bytes(b"taken")
    line = expect_error(invoke(["mv", f"{remote}/a.txt", f"{remote}/dir"], env), 4, "exists")
    assert f"{remote}/dir/a.txt" in line
    assert (top / "a.txt").read_bytes() == b"alpha\n"
    assert (top / "b.txt").read_bytes() == b"beta\n"
    expect(invoke(["move", "-f", f"{remote}/a.txt", f"{remote}/b.txt"], env), 0)
    assert not (top / "a.txt").exists()
    assert (top / "b.txt").read_bytes() == b"alpha\n"
    expect(invoke(["mv", "--force", f"{remote}/b.txt", f"{remote}/dir"], env), 0)
    assert (top / "dir" / "a.txt").read_bytes() == b"taken"
    assert (top / "dir" / "b.txt").read_bytes() == b"alpha\n"


def test_move_never_replaces_a_directory_nor_with_one(
    env: dict[str, str], remote: str, top: Path
) -> None:
    (top / "dir" / "a.txt").mkdir()
    line = expect_error(
        invoke(["move", "-f", f"{remote}/a.txt", f"{remote}/dir"], env), 3, "directory"
    )
    assert f"{remote}/dir/a.txt" in line
    line = expect_error(
        invoke(["move", "-f", f"{remote}/dir", f"{remote}/b.txt"], env), 4, "exists"
    )
    assert f"{remote}/b.txt" in line
    assert (top / "a.txt").read_bytes() == b"alpha\n"
    assert (top / "b.txt").read_bytes() == b"beta\n"
    assert (top / "dir" / "a.txt").is_dir()


def test_move_a_directory_into_itself_is_refused(
    env: dict[str, str], remote: str, top: Path
) -> None:
    before = tree(top)
    line = expect_error(
        invoke(["move", f"{remote}/dir", f"{remote}/dir/sub"], env), 5, "into itself"
    )
    assert f"{remote}/dir" in line
    expect_error(invoke(["move", f"{remote}/dir", f"{remote}/dir/sub/new"], env), 5, "itself")
    assert tree(top) == before


def test_move_errors(env: dict[str, str], remote: str, top: Path) -> None:
    before = tree(top)
    expect_error(invoke(["move", f"{remote}/missing", f"{remote}/x"], env), 3, "missing")
    expect_error(invoke(["move", f"{remote}/a.txt", f"{remote}/nowhere/x"], env), 3, "nowhere")
    expect_error(invoke(["move", f"{remote}/a.txt", f"{remote}/nowhere/"], env), 3, "nowhere")
    expect_error(invoke(["move", f"{remote}/a.txt", f"{remote}/b.txt/"], env), 3, "b.txt")
    expect_error(invoke(["move", f"{remote}/a.txt", f"{remote}/a.txt"], env), 2, "same file")
    expect_error(invoke(["move", "-f", f"{remote}/a.txt", remote], env), 2, "same file")
    expect_error(invoke(["move", "/", f"{remote}/x"], env), 2, "root")
    expect_error(invoke(["move", f"{remote}/a.txt", f"{remote}/bad:name"], env), 5, "name")
    expect(invoke(["move", f"{remote}/a.txt"], env), 2)
    assert tree(top) == before


def test_move_json(env: dict[str, str], remote: str, top: Path) -> None:
    result = expect(invoke(["move", "--json", f"{remote}/a.txt", f"{remote}/dir"], env), 0)
    assert json.loads(result.stdout) == {
        "source": f"{remote}/a.txt",
        "destination": f"{remote}/dir/a.txt",
    }
    failed = expect(invoke(["mv", "--json", f"{remote}/b.txt", f"{remote}/dir/inner.txt"], env), 4)
    assert json.loads(failed.stdout)["error"] == "exists"
    assert (top / "dir" / "a.txt").read_bytes() == b"alpha\n"


# -- copy -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["copy", "cp"])
def test_copy_keeps_the_source_and_its_time(
    env: dict[str, str], remote: str, top: Path, command: str
) -> None:
    os.utime(top / "a.txt", ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    result = expect(invoke([command, f"{remote}/a.txt", f"{remote}/dir"], env), 0)
    assert (result.stdout, result.stderr) == ("", "")
    expect(invoke([command, f"{remote}/a.txt", f"{remote}/dir/sub/copy.txt"], env), 0)
    assert (top / "a.txt").read_bytes() == b"alpha\n"
    for copy in (top / "dir" / "a.txt", top / "dir" / "sub" / "copy.txt"):
        assert copy.read_bytes() == b"alpha\n"
        assert copy.stat().st_mtime_ns == 1_600_000_000_000_000_000


def test_copy_refuses_a_taken_name_unless_forced(
    env: dict[str, str], remote: str, top: Path
) -> None:
    line = expect_error(invoke(["copy", f"{remote}/a.txt", f"{remote}/b.txt"], env), 4, "exists")
    assert f"{remote}/b.txt" in line
    assert (top / "b.txt").read_bytes() == b"beta\n"
    expect(invoke(["cp", "-f", f"{remote}/a.txt", f"{remote}/b.txt"], env), 0)
    assert (top / "b.txt").read_bytes() == b"alpha\n"
    assert (top / "a.txt").read_bytes() == b"alpha\n"
    (top / "dir" / "a.txt").mkdir()
    line = expect_error(
        invoke(["copy", "--force", f"{remote}/a.txt", f"{remote}/dir"], env), 3, "directory"
    )
    assert f"{remote}/dir/a.txt" in line


def test_copy_copies_files_only(env: dict[str, str], remote: str, top: Path) -> None:
    before = tree(top)
    expect_error(invoke(["copy", f"{remote}/dir", f"{remote}/other"], env), 3, f"{remote}/dir")
    expect_error(invoke(["copy", "-f", f"{remote}/dir", f"{remote}/b.txt"], env), 3, "dir")
    expect_error(invoke(["copy", f"{remote}/missing", f"{remote}/x"], env), 3, "missing")
    expect_error(invoke(["copy", f"{remote}/a.txt", f"{remote}/a.txt"], env), 2, "same file")
    assert tree(top) == before


def test_copy_json(env: dict[str, str], remote: str, top: Path) -> None:
    result = expect(invoke(["cp", "--json", f"{remote}/b.txt", f"{remote}/c.txt"], env), 0)
    assert json.loads(result.stdout) == {
        "source": f"{remote}/b.txt",
        "destination": f"{remote}/c.txt",
    }
    assert (top / "c.txt").read_bytes() == b"beta\n"


def test_move_and_copy_as_processes(env: dict[str, str], remote: str, top: Path) -> None:
    expect(run_process(["cp", f"{remote}/a.txt", f"{remote}/dir"], env, program=RMF), 0)
    expect(run_process(["move", f"{remote}/dir", f"{remote}/renamed"], env), 0)
    taken = run_process(["mv", f"{remote}/b.txt", f"{remote}/renamed/a.txt"], env)
    assert expect_error(taken, 4, "exists").startswith("remofile: ")
    itself = run_process(["mv", f"{remote}/renamed", f"{remote}/renamed/sub"], env)
    expect_error(itself, 5, "itself")
    assert sorted(tree(top)) == [
        "a.txt",
        "b.txt",
        "renamed",
        "renamed/a.txt",
        "renamed/inner.txt",
        "renamed/sub",
    ]


# -- digest -----------------------------------------------------------------------------


def test_digest_prints_lines_like_b3sum_and_sha256sum(
    env: dict[str, str], remote: str, top: Path
) -> None:
    content = os.urandom(3 * 1024 * 1024 + 17)
    (top / "big.bin").write_bytes(content)
    paths = [f"{remote}/a.txt", f"{remote}/big.bin"]
    default = expect(invoke(["digest", *paths], env), 0)
    assert default.stderr == ""
    expected = [
        f"{blake3(path.read_bytes()).hexdigest()}  {remote}/{path.name}"
        for path in (top / "a.txt", top / "big.bin")
    ]
    assert default.stdout.splitlines() == expected
    for flags in (["-a", "blake3"], ["--algorithm", "blake3"]):
        assert expect(invoke(["digest", *flags, *paths], env), 0).stdout == default.stdout
    sha = expect(invoke(["digest", "-a", "sha256", *paths], env), 0)
    assert sha.stdout.splitlines() == [
        f"{hashlib.sha256(b'alpha' + bytes([10])).hexdigest()}  {remote}/a.txt",
        f"{hashlib.sha256(content).hexdigest()}  {remote}/big.bin",
    ]
    expect(invoke(["digest", "-a", "md5", *paths], env), 2)


def test_digest_a_glob_and_paths_as_typed(env: dict[str, str], remote: str, top: Path) -> None:
    (top / "dir.txt").mkdir()  # a directory that matches is left out
    result = expect(invoke(["digest", "-a", "sha256", f"{remote}/*.txt"], env), 0)
    assert [line.split("  ")[1] for line in result.stdout.splitlines()] == [
        f"{remote}/a.txt",
        f"{remote}/b.txt",
    ]
    result = expect(invoke(["digest", f"{remote}/dir/inner.txt", f"{remote}/?.txt"], env), 0)
    assert [line.split("  ")[1] for line in result.stdout.splitlines()] == [
        f"{remote}/dir/inner.txt",
        f"{remote}/a.txt",
        f"{remote}/b.txt",
    ]
    url = f"remofile://127.0.0.1:{env['REMOFILE_PORT']}{remote}/a.txt"
    result = expect(invoke(["digest", url], env), 0)
    assert result.stdout.split("  ")[1] == f"{url}\n"


def test_digest_reports_each_failure_and_prints_the_others(
    env: dict[str, str], remote: str, top: Path
) -> None:
    result = invoke(
        ["digest", f"{remote}/missing", f"{remote}/a.txt", f"{remote}/dir", f"{remote}/*.none"],
        env,
    )
    expect(result, 3)
    assert [line.split("  ")[1] for line in result.stdout.splitlines()] == [f"{remote}/a.txt"]
    errors = result.stderr.splitlines()
    assert len(errors) == 3, errors
    assert all(line.startswith("remofile: ") for line in errors)
    assert f"{remote}/missing" in errors[0]
    assert f"{remote}/dir" in errors[1]
    assert f"{remote}/*.none" in errors[2]
    expect_error(invoke(["digest", f"{remote}/../a.txt"], env), 2, "..")
    expect(invoke(["digest"], env), 2)


def test_digest_json(env: dict[str, str], remote: str, top: Path) -> None:
    result = invoke(["digest", "--json", "-a", "sha256", f"{remote}/b.txt", f"{remote}/nope"], env)
    expect(result, 3)
    assert json.loads(result.stdout) == [
        {
            "algorithm": "sha256",
            "digest": hashlib.sha256(b"beta\n").hexdigest(),
            "size": 5,
            "path": f"{remote}/b.txt",
        },
        {
            "path": f"{remote}/nope",
            "error": "not_found",
            "message": f"no such file or directory: {remote}/nope",
        },
    ]
    default = json.loads(expect(invoke(["digest", "--json", f"{remote}/*.txt"], env), 0).stdout)
    assert [(entry["algorithm"], entry["size"]) for entry in default] == [
        ("blake3", 6),
        ("blake3", 5),
    ]


def test_digest_as_a_process_checks_with_sha256sum(
    env: dict[str, str], remote: str, top: Path, cwd: Path
) -> None:
    # The paths are remote (absolute): checked where a downloaded copy has them below
    # the working directory, with the leading / taken off.
    result = expect(run_process(["digest", "-a", "sha256", f"{remote}/*.txt"], env), 0)
    (cwd / "SHA256SUMS").write_text(result.stdout.replace("  /", "  "))
    shutil.copytree(top, cwd / remote.lstrip("/"))
    if shutil.which("sha256sum") is None:
        pytest.skip("no sha256sum here")
    checked = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count(": OK") == 2


# -- a server of protocol 1.0 -----------------------------------------------------------


def test_a_server_of_protocol_1_0_gets_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"old")
    (tmp_path / "dir").mkdir()
    with server_in_thread(OldServer(tmp_path, TOKEN)) as env:
        for args, feature in (
            (["move", "/a.txt", "/b.txt"], "MOVE"),
            (["mv", "/a.txt", "/dir"], "MOVE"),
            (["copy", "/a.txt", "/b.txt"], "COPY"),
            (["digest", "/a.txt"], "FILE_DIGEST"),
            (["digest", "--json", "/a.txt"], "FILE_DIGEST"),
        ):
            line = expect_error(invoke(args, env), 5, "does not support", feature)
            assert line.startswith("remofile: ")
        # Listings and plain transfers still work.
        assert expect(invoke(["list", "/"], env), 0).stdout == "a.txt\ndir/\n"
    assert tree(tmp_path) == {"a.txt": b"old", "dir": None}
