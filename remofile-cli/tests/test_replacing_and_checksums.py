"""What upload and download do with names that exist (-f/--force, --ignore-existing),
and sync's atomic replacing and -c/--checksum, against a real `remofile run` server
(through CliRunner and as processes) and a server of protocol 1.0."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from blake3 import blake3
from cli_support import (
    TOKEN,
    OldServer,
    ServerProcess,
    expect,
    expect_error,
    invoke,
    run_process,
    running_server,
    server_in_thread,
)


def tree(top: Path) -> dict[str, bytes | None]:
    """Every entry below ``top``: relative path to content, None for a directory."""
    return {
        path.relative_to(top).as_posix(): None if path.is_dir() else path.read_bytes()
        for path in sorted(top.rglob("*"))
        if not path.relative_to(top).as_posix().startswith(".remofile-")
    }


def make_tree(top: Path, files: dict[str, bytes]) -> Path:
    for relative, content in files.items():
        path = top / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return top


LOCAL = {
    "one.txt": b"new one\n",
    "two.txt": b"new two\n",
    "folder/inner.txt": b"new inner\n",
    "folder/deeper/deepest.txt": b"new deepest\n",
}

REMOTE = {
    "one.txt": b"old one\n",
    "folder/inner.txt": b"old inner\n",
    "folder/remote-only.txt": b"remote only\n",
}


@pytest.fixture
def sides(server: ServerProcess, remote: str, cwd: Path) -> tuple[Path, Path]:
    """(the remote directory on the server's disk, the local working directory), where
    one.txt and folder/inner.txt exist on both sides with different contents."""
    return make_tree(server.root / remote.lstrip("/"), REMOTE), make_tree(cwd, LOCAL)


# -- upload -----------------------------------------------------------------------------


def test_upload_stops_at_a_taken_name_and_says_how_to_go_on(
    env: dict[str, str], remote: str, sides: tuple[Path, Path]
) -> None:
    served, _ = sides
    for args in (["one.txt"], ["-r", "folder"], ["-r", "folder/deeper", "one.txt"]):
        line = expect_error(invoke(["upload", *args, remote], env), 4, "already exists")
        assert args[-1] in line
        assert "-f" in line
        assert "--ignore-existing" in line
    # The taken name is found before anything is sent: folder/deeper, free, was not
    # uploaded either.
    assert tree(served) == {"folder": None, **REMOTE}


@pytest.mark.parametrize("flag", ["-f", "--force"])
def test_upload_force_replaces_files_and_merges_directories(
    env: dict[str, str], remote: str, sides: tuple[Path, Path], flag: str
) -> None:
    served, _ = sides
    result = expect(invoke(["upload", flag, "-r", "one.txt", "two.txt", "folder", remote], env), 0)
    assert (result.stdout, result.stderr) == ("", "")
    assert tree(served) == {
        "folder": None,
        "folder/deeper": None,
        **LOCAL,
        "folder/remote-only.txt": b"remote only\n",
    }
    # A directory is never replaced by a file.
    (served / "dir-there").mkdir()
    (Path.cwd() / "dir-there").write_bytes(b"a file")
    expect_error(invoke(["upload", flag, "dir-there", remote], env), 3, "directory")
    assert (served / "dir-there").is_dir()


def test_upload_ignore_existing_skips_and_says_so(
    env: dict[str, str], remote: str, sides: tuple[Path, Path]
) -> None:
    served, _ = sides
    args = ["upload", "--ignore-existing", "-r", "one.txt", "two.txt", "folder", remote]
    result = expect(invoke(args, env), 0)
    assert result.stdout.splitlines() == [
        "skipped (exists): one.txt",
        "skipped (exists): folder/inner.txt",
    ]
    assert result.stderr == "2 skipped (exists)\n"
    assert tree(served) == {
        **REMOTE,
        "folder": None,
        "folder/deeper": None,
        "folder/deeper/deepest.txt": LOCAL["folder/deeper/deepest.txt"],
        "two.txt": LOCAL["two.txt"],
    }
    (Path.cwd() / "folder" / "late.txt").write_bytes(b"late\n")
    shown = expect(invoke(["upload", "-p", *args[1:]], env), 0)
    assert re.findall(r"total: +(\d+)%", shown.stderr)[-1] == "100", shown.stderr
    assert (served / "folder" / "late.txt").read_bytes() == b"late\n"
    again = expect(invoke(["upload", "--json", *args[1:]], env), 0)
    assert json.loads(again.stdout) == {
        "destination": remote,
        "uploaded": ["folder"],
        "skipped": [],
        "skipped_existing": [
            "one.txt",
            "two.txt",
            "folder/inner.txt",
            "folder/late.txt",
            "folder/deeper/deepest.txt",
        ],
        "bytes": 0,
        "skipped_links": [],
    }
    assert again.stderr == ""


def test_upload_ignore_existing_as_a_process(
    env: dict[str, str], remote: str, sides: tuple[Path, Path], cwd: Path
) -> None:
    result = expect(
        run_process(["upload", "--ignore-existing", "one.txt", "two.txt", remote], env, cwd), 0
    )
    assert result.stdout == "skipped (exists): one.txt\n"
    assert result.stderr == "1 skipped (exists)\n"
    assert (sides[0] / "two.txt").read_bytes() == LOCAL["two.txt"]


# -- download ---------------------------------------------------------------------------


@pytest.fixture
def into(cwd: Path) -> Path:
    """A local directory holding older copies of what the remote directory has."""
    return make_tree(cwd / "into", {"one.txt": b"local one\n", "folder/inner.txt": b"local\n"})


def test_download_stops_at_a_taken_name_and_says_how_to_go_on(
    env: dict[str, str], remote: str, sides: tuple[Path, Path], into: Path
) -> None:
    before = tree(into)
    for args in ([f"{remote}/one.txt"], ["-r", f"{remote}/folder"]):
        line = expect_error(invoke(["download", *args, "into"], env), 4, "already exists")
        assert args[-1].rpartition("/")[2] in line
        assert "-f" in line
    assert tree(into) == before


def test_download_force_replaces_files_and_merges_directories(
    env: dict[str, str], remote: str, sides: tuple[Path, Path], into: Path
) -> None:
    (into / "folder" / "local-only.txt").write_bytes(b"mine")
    args = ["download", "-f", "-r", f"{remote}/one.txt", f"{remote}/folder", "into"]
    result = expect(invoke(args, env), 0)
    assert (result.stdout, result.stderr) == ("", "")
    assert tree(into) == {
        "folder": None,
        **REMOTE,
        "folder/local-only.txt": b"mine",
    }
    # The same through a glob, with --force.
    (into / "one.txt").write_bytes(b"changed again")
    expect(invoke(["download", "--force", f"{remote}/*.txt", "into"], env), 0)
    assert (into / "one.txt").read_bytes() == REMOTE["one.txt"]


def test_download_ignore_existing_skips_and_says_so(
    server: ServerProcess, env: dict[str, str], remote: str, sides: tuple[Path, Path], into: Path
) -> None:
    (sides[0] / "three.txt").write_bytes(b"three\n")
    args = [f"{remote}/one.txt", f"{remote}/t*.txt", f"{remote}/folder", "into"]
    result = expect(invoke(["download", "--ignore-existing", "-r", *args], env), 0)
    assert result.stdout.splitlines() == [
        f"skipped (exists): {remote}/one.txt",
        f"skipped (exists): {remote}/folder/inner.txt",
    ]
    assert result.stderr == "2 skipped (exists)\n"
    assert tree(into) == {
        "one.txt": b"local one\n",
        "three.txt": b"three\n",
        "folder": None,
        "folder/inner.txt": b"local\n",
        "folder/remote-only.txt": b"remote only\n",
    }
    # The progress bars count only what is transferred: the total reaches 100%.
    (sides[0] / "folder" / "late.txt").write_bytes(b"late\n")
    shown = expect(invoke(["download", "-p", "--ignore-existing", "-r", *args], env), 0)
    assert re.findall(r"total: +(\d+)%", shown.stderr)[-1] == "100", shown.stderr
    assert (into / "folder" / "late.txt").read_bytes() == b"late\n"
    again = expect(invoke(["download", "--json", "--ignore-existing", "-r", *args], env), 0)
    reported = json.loads(again.stdout)
    assert reported["skipped_existing"] == [
        f"{remote}/one.txt",
        f"{remote}/three.txt",
        f"{remote}/folder/inner.txt",
        f"{remote}/folder/late.txt",
        f"{remote}/folder/remote-only.txt",
    ]
    assert reported["skipped"] == []


@pytest.mark.parametrize("command", ["upload", "download"])
def test_force_and_ignore_existing_exclude_each_other(
    env: dict[str, str], remote: str, sides: tuple[Path, Path], command: str
) -> None:
    source = "one.txt" if command == "upload" else f"{remote}/one.txt"
    target = remote if command == "upload" else "."
    for flags in (["-f", "--ignore-existing"], ["--force", "--ignore-existing"]):
        result = expect(invoke([command, *flags, source, target], env), 2)
        assert "exclude each other" in result.stderr
    assert tree(sides[0]) == {"folder": None, **REMOTE}
    assert (Path.cwd() / "one.txt").read_bytes() == LOCAL["one.txt"]


# -- sync -------------------------------------------------------------------------------


def test_sync_checksum_compares_contents_not_times(
    server: ServerProcess, env: dict[str, str], remote: str, cwd: Path
) -> None:
    served = make_tree(server.root / remote.lstrip("/"), {"same.txt": b"AAAA", "touched": b"x"})
    local = make_tree(cwd / "mine", {"same.txt": b"BBBB", "touched": b"x"})
    when = 1_700_000_000_000_000_000
    os.utime(served / "same.txt", ns=(when, when))
    os.utime(local / "same.txt", ns=(when, when))  # same size and time, other bytes
    os.utime(local / "touched", ns=(when, when))  # same bytes, another time
    plain = expect(invoke(["sync", "local", "-n", "mine", remote], env), 0)
    assert plain.stdout == "would replace touched\n"
    for flag in ("-c", "--checksum"):
        dry = expect(invoke(["sync", "local", flag, "-n", "mine", remote], env), 0)
        assert dry.stdout == "would replace same.txt\n"
        assert dry.stderr == (
            "would transfer 1 (1 to replace, 4 bytes), would remove 0, 1 unchanged\n"
        )
    reported = json.loads(
        expect(invoke(["sync", "local", "-c", "--json", "mine", remote], env), 0).stdout
    )
    assert reported == {
        "created_directories": [],
        "transferred": ["same.txt"],
        "replaced": ["same.txt"],
        "removed": [],
        "unchanged": 1,
        "skipped": [],
        "bytes": 4,
        "dry_run": False,
    }
    assert (served / "same.txt").read_bytes() == b"BBBB"
    # And the other way: the remote copy changes, keeping its size and time.
    (served / "same.txt").write_bytes(b"CCCC")
    os.utime(served / "same.txt", ns=(when, when))
    os.utime(local / "same.txt", ns=(when, when))
    unchanged = expect(invoke(["sync", "remote", "mine", remote], env), 0)
    assert "would" not in unchanged.stderr
    assert "same.txt" not in unchanged.stdout
    result = expect(invoke(["sync", "remote", "--checksum", "mine", remote], env), 0)
    assert "replace same.txt" in result.stdout.splitlines()
    assert (local / "same.txt").read_bytes() == b"CCCC"


def test_sync_dry_run_says_would_on_every_line_as_a_process(
    server: ServerProcess, env: dict[str, str], remote: str, cwd: Path
) -> None:
    served = make_tree(server.root / remote.lstrip("/"), {"old.txt": b"old", "gone.txt": b"g"})
    make_tree(cwd / "mine", {"old.txt": b"newer", "new/file.txt": b"f"})
    before = tree(served)
    result = expect(run_process(["sync", "local", "-n", "--delete", "mine", remote], env, cwd), 0)
    assert result.stdout.splitlines() == [
        "would create new/",
        "would transfer new/file.txt",
        "would replace old.txt",
        "would remove gone.txt",
    ]
    assert result.stderr == (
        "would transfer 2 (1 to replace, 6 bytes), would remove 1, 0 unchanged\n"
    )
    assert tree(served) == before
    reported = json.loads(
        expect(run_process(["sync", "local", "-n", "--json", "mine", remote], env, cwd), 0).stdout
    )
    assert reported["dry_run"] is True
    assert reported["replaced"] == ["old.txt"]
    done = expect(run_process(["sync", "local", "--delete", "mine", remote], env, cwd), 0)
    assert done.stdout.splitlines() == [
        "create new/",
        "transfer new/file.txt",
        "replace old.txt",
        "remove gone.txt",
    ]
    assert done.stderr == "2 transferred (1 replaced, 6 bytes), 1 removed, 0 unchanged\n"
    assert tree(served) == {"new": None, "new/file.txt": b"f", "old.txt": b"newer"}


# -- a server of protocol 1.0 -----------------------------------------------------------


def test_replacing_and_checksums_on_a_server_of_protocol_1_0(tmp_path: Path, cwd: Path) -> None:
    served = make_tree(tmp_path / "served", {"a.txt": b"old"})
    make_tree(cwd, {"a.txt": b"new", "mine/a.txt": b"new"})
    with server_in_thread(OldServer(served, TOKEN)) as env:
        expect_error(invoke(["upload", "-f", "a.txt", "/"], env), 5, "does not support", "REPLACE")
        expect_error(
            invoke(["sync", "local", "-c", "mine", "/"], env), 5, "does not support", "DIGEST"
        )
        # What needs nothing new of the server still works.
        skipped = expect(invoke(["upload", "--ignore-existing", "a.txt", "/"], env), 0)
        assert skipped.stdout == "skipped (exists): a.txt\n"
        expect(invoke(["download", "-f", "/a.txt", "."], env), 0)
    assert (served / "a.txt").read_bytes() == b"old"
    assert (cwd / "a.txt").read_bytes() == b"old"


# -- the README's examples --------------------------------------------------------------


def test_the_readme_examples_of_protocol_1_1(tmp_path: Path, cwd: Path) -> None:
    """The lines of README.md's command-line block that protocol 1.1 added, as written
    (quotes removed as a shell would), as processes."""
    served = make_tree(
        tmp_path / "served",
        {
            "backup/src/main.py": b"old main",
            "www/old.html": b"old page",
            "www/index.html": b"index",
            "my-os-isos/ubuntu.iso": b"iso image",
        },
    )
    (served / "archive").mkdir()
    make_tree(
        cwd,
        {
            "src/main.py": b"new main",
            "docs/guide.md": b"guide",
            "restore/backup/src/main.py": b"restored earlier",
            "site/index.html": b"index",
        },
    )
    with running_server(served) as server:
        env = server.env

        def run(*args: str) -> str:
            return expect(run_process(list(args), env, cwd), 0).stdout

        assert run("upload", "-f", "-r", "src/", "docs/", "/backup") == ""
        assert (served / "backup" / "src" / "main.py").read_bytes() == b"new main"
        assert run("download", "--ignore-existing", "-r", "/backup", "./restore") == (
            "skipped (exists): /backup/src/main.py\n"
        )
        assert (cwd / "restore" / "backup" / "src" / "main.py").read_bytes() == b"restored earlier"
        assert (cwd / "restore" / "backup" / "docs" / "guide.md").read_bytes() == b"guide"
        assert run("move", "/www/old.html", "/archive") == ""
        assert (served / "archive" / "old.html").read_bytes() == b"old page"
        assert run("copy", "/www/index.html", "/www/index.bak") == ""
        assert (served / "www" / "index.bak").read_bytes() == b"index"
        digest = blake3(b"iso image").hexdigest()
        assert run("digest", "/my-os-isos/*.iso") == f"{digest}  /my-os-isos/ubuntu.iso\n"
        # index.html has the same bytes on both sides, but another modification time.
        assert run("sync", "local", "./site", "/www") == "replace index.html\n"
        assert run("sync", "local", "-c", "-n", "./site", "/www") == ""
        (cwd / "site" / "index.html").write_bytes(b"INDEX")
        os.utime(
            cwd / "site" / "index.html", ns=(0, (served / "www" / "index.html").stat().st_mtime_ns)
        )
        assert run("sync", "local", "./site", "/www") == ""  # same size and time
        assert run("sync", "local", "-c", "-n", "./site", "/www") == "would replace index.html\n"
        assert (served / "www" / "index.html").read_bytes() == b"index"
