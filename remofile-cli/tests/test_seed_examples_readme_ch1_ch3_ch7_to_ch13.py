"""Every command-line example of the README and of the documentation (the user guide of
chapter 1, the reference of chapters 3 and 7, and chapters 8 to 13), typed as written,
as real processes, against servers started with `remofile run` (on a free port instead
of 6768). Where a shell would expand a glob, the expanded list is passed."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import (
    REMOFILE,
    RMF,
    ServerProcess,
    expect,
    expect_error,
    free_port,
    invoke,
    is_gone,
    is_ready,
    kill_if_ours,
    run_process,
    start_server,
)

ISO = "ubuntu-16.04.3-desktop-amd64.iso"
README_TOKEN = "TTA3rMB8VtNYv25kdipkaJ"
GUIDE_TOKEN = "qRkVWJcFRqi7rsNMbagaDd"


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's working directory, where the examples' local files are."""
    return tmp_path_factory.mktemp("shell")


@pytest.fixture(scope="module")
def guide_server(shell: Path) -> Iterator[ServerProcess]:
    """Chapter 8: mkdir my-shared-directory; remofile run my-shared-directory/ 6768 qRk..."""
    (shell / "my-shared-directory").mkdir()
    server = start_server("my-shared-directory/", GUIDE_TOKEN, cwd=shell)
    try:
        yield server
    finally:
        assert server.stop() == 0


def guide_env(server: ServerProcess) -> dict[str, str]:
    """Chapter 9's environment (chapter 11 and the user guide use the same server)."""
    return {
        "REMOFILE_HOSTNAME": "localhost",
        "REMOFILE_PORT": str(server.port),
        "REMOFILE_TOKEN": GUIDE_TOKEN,
    }


def sh(args: str, env: dict[str, str], cwd: Path, program: str = REMOFILE) -> str:
    """Run one example line (without its program name); it must succeed."""
    return expect(run_process(args.split(), env, cwd, program), 0).stdout


def test_chapter_8_the_server_runs_as_written(guide_server: ServerProcess, shell: Path) -> None:
    assert guide_server.banner[0] == (
        f"Serving {shell / 'my-shared-directory'} on 127.0.0.1:{guide_server.port}."
        " Client settings:"
    )
    assert guide_server.settings["REMOFILE_TOKEN"] == GUIDE_TOKEN


def test_readme_real_life_examples(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    server = start_server(served, README_TOKEN)
    try:
        env = {"REMOFILE_SERVER": f"localhost:{server.port}", "REMOFILE_TOKEN": README_TOKEN}
        iso = os.urandom(300_000)
        (tmp_path / ISO).write_bytes(iso)
        assert sh("list /", env, tmp_path) == ""
        assert sh("directory my-os-isos /", env, tmp_path) == ""
        assert sh(f"upload {ISO} /", env, tmp_path) == ""
        assert sh("list /", env, tmp_path).splitlines() == ["my-os-isos/", ISO]
        assert (served / ISO).read_bytes() == iso
        # As written, the README removes the ISO from my-os-isos/, where it never went.
        remove = f"remove /my-os-isos/{ISO}".split()
        expect_error(run_process(remove, env, tmp_path), 3, f"/my-os-isos/{ISO}")
        sh(f"upload {ISO} /my-os-isos", env, tmp_path)
        assert (served / "my-os-isos" / ISO).read_bytes() == iso
        assert sh(f"remove /my-os-isos/{ISO}", env, tmp_path) == ""
        assert not (served / "my-os-isos" / ISO).exists()
        assert (served / ISO).exists()
    finally:
        assert server.stop() == 0


def test_chapter_1_user_guide(guide_server: ServerProcess, shell: Path, tmp_path: Path) -> None:
    env = guide_env(guide_server)
    served = shell / "my-shared-directory"
    token = sh("generate-token", {}, tmp_path).strip()
    assert re.fullmatch(r"[A-Za-z0-9_.~-]{22}", token)
    work = tmp_path / "work"
    (work / "a-directory" / "nested").mkdir(parents=True)
    (work / "single-file.txt").write_bytes(b"single\n")
    (work / "a-directory" / "in-dir.txt").write_bytes(b"in dir\n")
    (work / "a-directory" / "nested" / "deep.txt").write_bytes(b"deep\n")
    (work / "texts").mkdir()
    (work / "texts" / "some-text-files1.txt").write_bytes(b"1\n")
    (work / "texts" / "some-text-files2.txt").write_bytes(b"2\n")
    sh("list /", env, work)
    # remofile upload single-file.txt a-directory/ **/some-text-files*.txt /  (with -r)
    expanded = sorted(str(p.relative_to(work)) for p in work.glob("*/some-text-files*.txt"))
    assert expanded == ["texts/some-text-files1.txt", "texts/some-text-files2.txt"]
    sh(f"upload -r single-file.txt a-directory/ {' '.join(expanded)} /", env, work)
    assert (served / "a-directory" / "nested" / "deep.txt").read_bytes() == b"deep\n"
    assert (served / "some-text-files2.txt").read_bytes() == b"2\n"
    names = [line.split()[-1] for line in sh("list / -l -r", env, work).splitlines()]
    for name in ("a-directory", "a-directory/nested/deep.txt", "single-file.txt"):
        assert name in names
    # remofile download single-file.txt a-directory/ .  As written, its remote paths
    # are relative, which the same chapter says the command line refuses: nothing is
    # downloaded, and the message says what to type.
    back = tmp_path / "back"
    back.mkdir()
    result = run_process(["download", "-r", "single-file.txt", "a-directory/", "."], env, back)
    expect_error(result, 2, "absolute", "'/single-file.txt'")
    assert os.listdir(back) == []
    sh("download -r /single-file.txt /a-directory/ .", env, back)
    assert (back / "single-file.txt").read_bytes() == b"single\n"
    assert (back / "a-directory" / "nested" / "deep.txt").read_bytes() == b"deep\n"
    # Without -r: the directory is skipped with a warning (status 1).
    again = tmp_path / "again"
    again.mkdir()
    result = run_process(["download", "/single-file.txt", "/a-directory/", "."], env, again)
    expect_error(result, 1, "skipping directory", "-r")
    assert sorted(os.listdir(again)) == ["single-file.txt"]


def test_chapter_3_reference_upload_and_download(
    guide_server: ServerProcess, shell: Path, tmp_path: Path
) -> None:
    env = guide_env(guide_server)
    served = shell / "my-shared-directory"
    (tmp_path / "src" / "my-directory" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "my-file.txt").write_bytes(b"my file\n")
    (tmp_path / "src" / "my-directory" / "sub" / "f.txt").write_bytes(b"f\n")
    expect(invoke(["directory", "dst", "/"], env), 0)
    out = expect(
        run_process(
            ["upload", "-r", "-p", "src/my-file.txt", "src/my-directory/", "/dst"],
            env,
            tmp_path,
            RMF,
        ),
        0,
    )
    assert "total" in out.stderr
    assert (served / "dst" / "my-file.txt").read_bytes() == b"my file\n"
    assert (served / "dst" / "my-directory" / "sub" / "f.txt").read_bytes() == b"f\n"
    expect(invoke(["folder", "src", "/"], env), 0)
    for name in ("my-file.txt", "my-directory"):
        shutil.copytree(served / "dst", served / "src", dirs_exist_ok=True)
        assert (served / "src" / name).exists()
    (tmp_path / "dst").mkdir()
    out = expect(
        run_process(
            ["download", "-r", "-p", "/src/my-file.txt", "/src/my-directory/", "dst/"],
            env,
            tmp_path,
            RMF,
        ),
        0,
    )
    assert "total" in out.stderr
    assert (tmp_path / "dst" / "my-file.txt").read_bytes() == b"my file\n"
    assert (tmp_path / "dst" / "my-directory" / "sub" / "f.txt").read_bytes() == b"f\n"


def test_chapter_9_upload_with_progress(
    guide_server: ServerProcess, shell: Path, tmp_path: Path
) -> None:
    env = guide_env(guide_server)
    iso = os.urandom(1_500_000)
    (tmp_path / ISO).write_bytes(iso)
    result = expect(run_process(["upload", "--progress", ISO, "/"], env, tmp_path), 0)
    assert ISO[-30:] in result.stderr
    assert "100%" in result.stderr
    assert result.stdout == ""
    assert (shell / "my-shared-directory" / ISO).read_bytes() == iso


def test_chapter_10_sync(guide_server: ServerProcess, shell: Path, tmp_path: Path) -> None:
    env = guide_env(guide_server)
    served = shell / "my-shared-directory"
    (tmp_path / "foo" / "deeper").mkdir(parents=True)
    (tmp_path / "foo" / "a.txt").write_bytes(b"a")
    (tmp_path / "foo" / "deeper" / "b.txt").write_bytes(b"b")
    expect(invoke(["directory", "bar", "/"], env), 0)  # the example's remote 'bar'
    # synchronize the local 'foo' directory with the remote 'bar' directory
    sh("sync local foo /bar", env, tmp_path)
    assert (served / "bar" / "deeper" / "b.txt").read_bytes() == b"b"
    assert sh("sync local foo /bar", env, tmp_path) == ""
    # synchronize the remote 'bar' directory with the local 'foo' directory
    (served / "bar" / "from-server.txt").write_bytes(b"s")
    # (The files just uploaded come back too: uploads get the server's time, and a
    # download is skipped only when the times are equal.)
    assert "transfer from-server.txt" in sh("sync remote foo /bar", env, tmp_path).splitlines()
    assert (tmp_path / "foo" / "from-server.txt").read_bytes() == b"s"
    assert sh("sync remote foo /bar", env, tmp_path) == ""


def test_chapter_11_scriptable(guide_server: ServerProcess, shell: Path, tmp_path: Path) -> None:
    env = guide_env(guide_server)
    served = shell / "my-shared-directory"
    # list files the remote (root) directory
    sh("list /", env, tmp_path)
    # create a directory then a file in the remote directory
    sh("directory foo /", env, tmp_path)
    sh("file      bar /foo", env, tmp_path)
    assert (served / "foo" / "bar").read_bytes() == b""
    assert "foo/" in sh("list /", env, tmp_path).splitlines()
    # delete the file and the directory we just created
    sh("remove /foo/bar", env, tmp_path)
    assert not (served / "foo" / "bar").exists()
    sh("remove /foo", env, tmp_path)
    assert not (served / "foo").exists()


def test_chapter_13_generate_keys(tmp_path: Path) -> None:
    lines = sh("generate-keys", {}, tmp_path).splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"public key: \S{40}", lines[0])
    assert re.fullmatch(r"private key: \S{40}", lines[1])


def test_chapter_7_run_start_and_stop(tmp_path: Path) -> None:
    # mkdir my-directory; rmf run my-directory/ 6768 my-custom-token
    (tmp_path / "my-directory").mkdir()
    (tmp_path / "my-directory" / "shared.txt").write_bytes(b"shared")
    server = start_server("my-directory/", "my-custom-token", program=RMF, cwd=tmp_path)
    try:
        env = {"REMOFILE_SERVER": f"127.0.0.1:{server.port}", "REMOFILE_TOKEN": "my-custom-token"}
        assert expect(invoke(["list", "/"], env), 0).stdout == "shared.txt\n"
    finally:
        assert server.stop() == 0
    # The same server in the background, then: remofile stop (daemon.pid, here)
    port = free_port()
    started = run_process(
        ["start", "my-directory/", str(port), "my-custom-token"], {}, tmp_path, RMF
    )
    expect(started, 0)
    pidfile = tmp_path / "daemon.pid"
    pid = 0
    try:
        for _ in range(500):
            if pidfile.exists() and pidfile.read_text().strip():
                pid = int(pidfile.read_text())
                break
            time.sleep(0.01)
        assert pid, "no daemon.pid in the working directory"
        env = {"REMOFILE_SERVER": f"127.0.0.1:{port}", "REMOFILE_TOKEN": "my-custom-token"}
        for _ in range(100):  # a refused connection fails at once: wait between tries
            if is_ready(env):
                break
            time.sleep(0.1)
        assert expect(invoke(["list", "/"], env), 0).stdout == "shared.txt\n"
        assert sh("stop", {}, tmp_path) == f"Server {pid} stopped.\n"
        assert is_gone(pid)
        assert not pidfile.exists()
    finally:
        if pid:
            kill_if_ours(pid, "my-custom-token")
