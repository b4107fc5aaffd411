"""The client commands against a real `remofile run` server: list, file, folder (and its
alias directory), upload, download, remove and sync, through CliRunner and as processes."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path

import pytest
from cli_support import (
    RMF,
    ServerProcess,
    expect,
    expect_error,
    invoke,
    run_process,
)
from remofile.client import Client

LONG_LINE = re.compile(r"^([d-]) +(\d+) (\d{4}-\d\d-\d\d \d\d:\d\d) (.+)$")


def tree(top: Path) -> dict[str, bytes | None]:
    """Every entry below ``top``: relative path to content, None for a directory."""
    found: dict[str, bytes | None] = {}
    for path in sorted(top.rglob("*")):
        relative = path.relative_to(top).as_posix()
        if relative.startswith(".remofile-"):
            continue
        found[relative] = None if path.is_dir() else path.read_bytes()
    return found


def on_server(server: ServerProcess, remote: str) -> Path:
    """Where a remote path lives in the served directory (to observe the real effect)."""
    return server.root / remote.lstrip("/")


def make_tree(top: Path, files: dict[str, bytes]) -> Path:
    for relative, content in files.items():
        path = top / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return top


def unique(name: str) -> str:
    return f"{uuid.uuid4().hex[:8]}-{name}"


# -- list -----------------------------------------------------------------------------


@pytest.fixture
def listed(server: ServerProcess, remote: str) -> str:
    make_tree(on_server(server, remote), {"a.txt": b"hello", "sub/b.txt": b"0123456789"})
    return remote


def test_list_shows_names_with_a_slash_for_directories(env: dict[str, str], listed: str) -> None:
    result = expect(invoke(["list", listed], env), 0)
    assert result.stdout.splitlines() == ["a.txt", "sub/"]
    assert result.stderr == ""


@pytest.mark.parametrize("flag", ["-a", "-l", "--all"])
def test_list_all_shows_type_size_and_time(env: dict[str, str], listed: str, flag: str) -> None:
    lines = expect(invoke(["list", flag, listed], env), 0).stdout.splitlines()
    parsed = [LONG_LINE.match(line) for line in lines]
    assert all(parsed), lines
    rows = [(m.group(1), int(m.group(2)), m.group(4)) for m in parsed if m]
    assert rows == [("-", 5, "a.txt"), ("d", 0, "sub")]
    today = time.strftime("%Y-%m-%d")
    assert all(m.group(3).startswith(today[:4]) for m in parsed if m)


def test_list_recursive(env: dict[str, str], listed: str) -> None:
    result = expect(invoke(["list", "-r", listed], env), 0)
    assert result.stdout.splitlines() == ["a.txt", "sub/", "sub/b.txt"]
    long = expect(invoke(["list", listed, "-l", "-r"], env), 0).stdout.splitlines()
    assert [line.split()[-1] for line in long] == ["a.txt", "sub", "sub/b.txt"]
    assert long[2].split()[:2] == ["-", "10"]


def test_list_json(env: dict[str, str], listed: str) -> None:
    result = expect(invoke(["list", "--json", "-r", listed], env), 0)
    entries = json.loads(result.stdout)
    assert [(e["name"], e["is_directory"], e["size"]) for e in entries] == [
        ("a.txt", False, 5),
        ("sub", True, 0),
        ("sub/b.txt", False, 10),
    ]
    assert all(abs(e["modification_time"] - time.time()) < 3600 for e in entries)


def test_list_defaults_to_the_root(env: dict[str, str], listed: str) -> None:
    result = expect(invoke(["list"], env), 0)
    assert listed.lstrip("/") + "/" in result.stdout.splitlines()
    assert ".remofile-staging/" not in result.stdout.splitlines()


def test_list_as_a_process(env: dict[str, str], listed: str) -> None:
    result = expect(run_process(["list", "-l", "-r", listed], env, program=RMF), 0)
    assert [line.split()[-1] for line in result.stdout.splitlines()] == [
        "a.txt",
        "sub",
        "sub/b.txt",
    ]


# -- file, folder, directory ----------------------------------------------------------


def test_file_creates_an_empty_file_and_refuses_a_taken_name(
    server: ServerProcess, env: dict[str, str], remote: str
) -> None:
    expect(invoke(["file", "notes.txt", remote], env), 0)
    created = on_server(server, remote) / "notes.txt"
    assert created.is_file()
    assert created.read_bytes() == b""
    created.write_bytes(b"kept")
    expect_error(invoke(["file", "notes.txt", remote], env), 4, "exists")
    expect(invoke(["file", "-u", "notes.txt", remote], env), 0)
    expect(invoke(["file", "--update", "notes.txt", remote], env), 0)
    assert created.read_bytes() == b"kept"


def test_file_defaults_to_the_root_and_reports_json(
    server: ServerProcess, env: dict[str, str]
) -> None:
    name = unique("at-root.txt")
    result = expect(invoke(["file", "--json", name], env), 0)
    assert json.loads(result.stdout) == {"path": "/" + name, "created": True}
    assert (server.root / name).is_file()
    again = expect(invoke(["file", "--json", "-u", name, "/"], env), 0)
    assert json.loads(again.stdout) == {"path": "/" + name, "created": False}


@pytest.mark.parametrize("command", ["folder", "directory"])
def test_folder_and_its_alias_directory(
    server: ServerProcess, env: dict[str, str], remote: str, command: str
) -> None:
    expect(invoke([command, "things", remote], env), 0)
    created = on_server(server, remote) / "things"
    assert created.is_dir()
    (created / "inside").write_bytes(b"x")
    expect_error(invoke([command, "things", remote], env), 4, "exists")
    expect(invoke([command, "-u", "things", remote], env), 0)
    assert (created / "inside").read_bytes() == b"x"
    expect(invoke([command, "nested", remote + "/things"], env), 0)
    assert (created / "nested").is_dir()


def test_update_accepts_only_an_entry_of_the_same_kind(
    server: ServerProcess, env: dict[str, str], remote: str
) -> None:
    top = make_tree(on_server(server, remote), {"a-file": b"content"})
    (top / "a-folder").mkdir()
    for command in ("folder", "directory"):
        expect_error(invoke([command, "-u", "a-file", remote], env), 4, "not a folder")
    expect_error(invoke(["file", "-u", "a-folder", remote], env), 4, "not a file")
    assert (top / "a-file").read_bytes() == b"content"
    assert (top / "a-folder").is_dir()


@pytest.mark.parametrize("command", ["folder", "directory"])
def test_folder_defaults_to_the_root(
    server: ServerProcess, env: dict[str, str], command: str
) -> None:
    name = unique("top")
    expect(invoke([command, name], env), 0)
    assert (server.root / name).is_dir()


def test_folder_as_a_process(server: ServerProcess, env: dict[str, str], remote: str) -> None:
    # (The seed examples run file, directory and the other commands as processes.)
    expect(run_process(["folder", "made", remote], env, program=RMF), 0)
    assert (on_server(server, remote) / "made").is_dir()


# -- upload -------------------------------------------------------------------------


@pytest.fixture
def local(cwd: Path) -> Path:
    """Local files to upload, in the working directory."""
    return make_tree(
        cwd,
        {
            "one.txt": b"first file\n",
            "two.bin": os.urandom(3000),
            "folder/inner.txt": b"inner\n",
            "folder/deeper/deepest.txt": b"deepest\n",
            "folder/empty-file": b"",
        },
    )


def test_upload_several_sources_and_a_directory_with_r(
    server: ServerProcess, env: dict[str, str], remote: str, local: Path
) -> None:
    result = expect(invoke(["upload", "-r", "one.txt", "two.bin", "folder", remote], env), 0)
    assert result.stderr == ""
    assert tree(on_server(server, remote)) == {
        **{name: (local / name).read_bytes() for name in ("one.txt", "two.bin")},
        **{f"folder/{k}": v for k, v in tree(local / "folder").items()},
        "folder": None,
    }


def test_upload_skips_directories_without_r(
    server: ServerProcess, env: dict[str, str], remote: str, local: Path
) -> None:
    result = invoke(["upload", "one.txt", "folder", "two.bin", remote], env)
    line = expect_error(result, 1, "skipping directory folder", "-r")
    assert line.startswith("remofile:")
    assert sorted(tree(on_server(server, remote))) == ["one.txt", "two.bin"]


def test_upload_destination_defaults_to_the_root(
    server: ServerProcess, env: dict[str, str], cwd: Path
) -> None:
    name = unique("to-root.txt")
    (cwd / name).write_bytes(b"rooted")
    expect(invoke(["upload", name], env), 0)
    assert (server.root / name).read_bytes() == b"rooted"
    # Several arguments: the last is the destination, which must be a remote path; a
    # relative one is refused before anything is sent, saying what to type.
    other = unique("also-root.txt")
    (cwd / other).write_bytes(b"also")
    (cwd / "third.txt").write_bytes(b"3")
    result = expect(invoke(["upload", other, "third.txt"], env), 2)
    assert "write '/third.txt'" in result.stderr
    assert "end with /" in result.stderr
    assert not (server.root / other).exists()
    expect(invoke(["upload", other, "third.txt", "/"], env), 0)
    assert (server.root / other).read_bytes() == b"also"
    assert (server.root / "third.txt").read_bytes() == b"3"
    (server.root / "third.txt").unlink()


def test_upload_progress_only_with_p(
    server: ServerProcess, env: dict[str, str], remote: str, cwd: Path
) -> None:
    (cwd / "big.bin").write_bytes(os.urandom(2_500_000))
    quiet = expect(invoke(["upload", "big.bin", remote], env), 0)
    assert quiet.stderr == ""
    assert quiet.stdout == ""
    expect(invoke(["folder", "again", remote], env), 0)
    for flag in ("-p", "--progress"):
        target = f"{remote}/again" if flag == "-p" else remote + "/p2"
        if flag == "--progress":
            expect(invoke(["folder", "p2", remote], env), 0)
        shown = expect(invoke(["upload", flag, "big.bin", target], env), 0)
        for text in ("big.bin", "total", "100%", "2.4 MiB", "uploaded 1 file, 2.4 MiB in"):
            assert text in shown.stderr, shown.stderr
        assert shown.stdout == ""
        assert (on_server(server, target) / "big.bin").read_bytes() == (
            cwd / "big.bin"
        ).read_bytes()


def test_upload_compressed(
    server: ServerProcess, env: dict[str, str], remote: str, cwd: Path
) -> None:
    content = b"compressible line of text\n" * 100_000
    (cwd / "text.log").write_bytes(content)
    expect(invoke(["upload", "-z", "text.log", remote], env), 0)
    expect(invoke(["folder", "long", remote], env), 0)
    expect(invoke(["upload", "--compress", "text.log", remote + "/long"], env), 0)
    assert (on_server(server, remote) / "text.log").read_bytes() == content
    assert (on_server(server, remote) / "long" / "text.log").read_bytes() == content


def test_auto_compress_moves_every_kind_of_file_whole(
    server: ServerProcess, env: dict[str, str], remote: str, cwd: Path
) -> None:
    """--auto-compress compresses only what shrinks (the choice itself is tested in the
    client's test_compression_choice.py); whatever it chose, the files arrive whole."""
    files = {
        "text.log": b"compressible line of text\n" * 50_000,
        "photo.jpg": os.urandom(200_000),
        "noise.bin": os.urandom(200_000),
    }
    for name, content in files.items():
        (cwd / name).write_bytes(content)
    expect(invoke(["upload", "--auto-compress", *files, remote], env), 0)
    back = cwd / "back"
    back.mkdir()
    sources = [f"{remote}/{name}" for name in files]
    expect(invoke(["download", "--auto-compress", *sources, str(back)], env), 0)
    for name, content in files.items():
        assert (on_server(server, remote) / name).read_bytes() == content
        assert (back / name).read_bytes() == content


class Interrupt(Exception):
    pass


def test_upload_resume_continues_an_interrupted_upload(
    server: ServerProcess, env: dict[str, str], remote: str, cwd: Path
) -> None:
    content = os.urandom(4 * 1024 * 1024 + 123)
    (cwd / "large.iso").write_bytes(content)
    sent: list[int] = []

    def staged_bytes() -> int:
        parts = (server.root / ".remofile-staging").rglob("*.part")
        return max((path.stat().st_size for path in parts), default=0)

    def stop_after_two_chunks(chunk: bytes, *_: object) -> None:
        sent.append(len(chunk))
        if len(sent) > 2:
            # The first chunks are on their way, not yet written: interrupt once the
            # server has staged some of them, as a user's Ctrl-C mid-upload would.
            deadline = time.monotonic() + 10
            while staged_bytes() == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            raise Interrupt

    with Client("127.0.0.1", server.port, server.token) as client, pytest.raises(Interrupt):
        client.upload_file("large.iso", remote, process_chunk=stop_after_two_chunks, timeout=5000)
    assert not (on_server(server, remote) / "large.iso").exists()
    assert staged_bytes() > 0
    result = expect(invoke(["upload", "--resume", "-p", "large.iso", remote], env), 0)
    assert (on_server(server, remote) / "large.iso").read_bytes() == content
    # The bars count what the interrupted upload had sent, so they reach 100%; the
    # summary says what went over the wire this time, less than the size.
    totals = re.findall(r"total: +(\d+)%", result.stderr)
    assert totals, result.stderr
    assert int(totals[-1]) == 100, result.stderr
    moved = re.search(r"uploaded 1 file, ([\d.]+) MiB in", result.stderr)
    assert moved is not None, result.stderr
    assert float(moved.group(1)) < 4.0, result.stderr


def test_upload_errors(
    server: ServerProcess, env: dict[str, str], remote: str, local: Path
) -> None:
    expect_error(invoke(["upload", "missing.txt", remote], env), 3, "missing.txt")
    # Only the last component of the destination is made.
    expect_error(invoke(["upload", "one.txt", remote + "/nowhere/deeper"], env), 3, "nowhere")
    expect(invoke(["upload", "one.txt", remote + "/made"], env), 0)
    assert (on_server(server, remote) / "made" / "one.txt").is_file()
    expect(invoke(["upload", "one.txt", remote], env), 0)
    expect_error(invoke(["upload", "one.txt", remote], env), 4, "exists")


# -- download -----------------------------------------------------------------------


@pytest.fixture
def stored(server: ServerProcess, remote: str) -> str:
    make_tree(
        on_server(server, remote),
        {
            "a.txt": b"alpha\n",
            "b.txt": b"beta\n",
            "c.bin": b"\x00\x01" * 5000,
            "dir/x.txt": b"x\n",
            "dir/sub/y.txt": b"y\n",
        },
    )
    return remote


def test_download_several_sources_with_r(env: dict[str, str], stored: str, cwd: Path) -> None:
    (cwd / "into").mkdir()
    result = expect(invoke(["download", "-r", f"{stored}/a.txt", f"{stored}/dir", "into"], env), 0)
    assert result.stderr == ""
    assert tree(cwd / "into") == {
        "a.txt": b"alpha\n",
        "dir": None,
        "dir/sub": None,
        "dir/sub/y.txt": b"y\n",
        "dir/x.txt": b"x\n",
    }


def test_download_skips_directories_without_r(env: dict[str, str], stored: str, cwd: Path) -> None:
    result = invoke(["download", f"{stored}/dir", f"{stored}/b.txt", "."], env)
    expect_error(result, 1, "skipping directory", "-r")
    assert tree(cwd) == {"b.txt": b"beta\n"}


def test_download_destination_defaults_to_the_working_directory(
    env: dict[str, str], stored: str, cwd: Path
) -> None:
    expect(invoke(["download", f"{stored}/c.bin"], env), 0)
    assert (cwd / "c.bin").read_bytes() == b"\x00\x01" * 5000


def test_download_a_glob(env: dict[str, str], stored: str, cwd: Path) -> None:
    expect(invoke(["download", f"{stored}/*.txt", "."], env), 0)
    assert tree(cwd) == {"a.txt": b"alpha\n", "b.txt": b"beta\n"}


def test_download_relative_sources_are_refused_before_anything_moves(
    env: dict[str, str], stored: str, cwd: Path
) -> None:
    relative = stored.lstrip("/")
    result = invoke(["download", "-r", f"{stored}/b.txt", f"{relative}/dir/", "."], env)
    expect_error(result, 2, "relative", "absolute", f"'/{relative}/dir/'")
    assert tree(cwd) == {}


def test_download_progress_only_with_p(
    server: ServerProcess, env: dict[str, str], remote: str, cwd: Path
) -> None:
    content = os.urandom(2_200_000)
    (on_server(server, remote) / "big.bin").write_bytes(content)
    (cwd / "quiet").mkdir()
    (cwd / "shown").mkdir()
    quiet = expect(invoke(["download", f"{remote}/big.bin", "quiet"], env), 0)
    assert quiet.stderr == ""
    assert quiet.stdout == ""
    shown = expect(invoke(["download", "-p", f"{remote}/big.bin", "shown"], env), 0)
    assert "total" in shown.stderr, shown.stderr
    assert "100%" in shown.stderr, shown.stderr
    assert shown.stdout == ""
    assert (cwd / "shown" / "big.bin").read_bytes() == content


def test_download_compressed(
    server: ServerProcess, env: dict[str, str], remote: str, cwd: Path
) -> None:
    content = b"0123456789abcdef" * 200_000
    (on_server(server, remote) / "big.txt").write_bytes(content)
    expect(invoke(["download", "-z", f"{remote}/big.txt"], env), 0)
    assert (cwd / "big.txt").read_bytes() == content


def test_download_errors(env: dict[str, str], stored: str, cwd: Path) -> None:
    expect_error(invoke(["download", f"{stored}/missing.txt", "."], env), 3, "missing.txt")
    expect_error(invoke(["download", f"{stored}/nowhere/a.txt", "."], env), 3, "nowhere")
    expect_error(invoke(["download", f"{stored}/a.txt", "no-such/dir"], env), 3, "no-such")
    expect(invoke(["download", f"{stored}/a.txt", "made-dir"], env), 0)
    assert (cwd / "made-dir" / "a.txt").is_file()
    (cwd / "a.txt").write_bytes(b"mine")
    expect_error(invoke(["download", f"{stored}/a.txt", "."], env), 4, "exists")
    assert (cwd / "a.txt").read_bytes() == b"mine"


# -- remove -------------------------------------------------------------------------


def test_remove_by_name_and_directory_or_by_path(
    server: ServerProcess, env: dict[str, str], remote: str
) -> None:
    top = make_tree(
        on_server(server, remote),
        {"f1.txt": b"1", "f2.txt": b"2", "full/a/b/c.txt": b"c", "full/d.txt": b"d"},
    )
    expect(invoke(["remove", "f1.txt", remote], env), 0)
    assert not (top / "f1.txt").exists()
    expect(invoke(["remove", f"{remote}/f2.txt"], env), 0)
    assert not (top / "f2.txt").exists()
    expect(invoke(["remove", f"{remote}/full"], env), 0)
    assert tree(top) == {}
    expect_error(invoke(["remove", f"{remote}/full"], env), 3, "full")
    expect_error(invoke(["remove", "nothing", remote], env), 3, "nothing")


def test_remove_a_large_tree_with_progress(
    server: ServerProcess, env: dict[str, str], remote: str
) -> None:
    top = on_server(server, remote)
    for index in range(21):  # 1071 entries: more than one batch of 1000
        folder = top / "tree" / f"d{index:02}"
        folder.mkdir(parents=True)
        for name in range(50):
            (folder / f"f{name:02}").write_bytes(b"")
    result = expect(invoke(["remove", "-p", "tree", remote], env), 0)
    assert "removed" in result.stderr, result.stderr
    assert "remaining" in result.stderr, result.stderr
    assert not (top / "tree").exists()
    expect(invoke(["list", "-r", remote], env), 0)


# -- sync ---------------------------------------------------------------------------


def test_sync_local_uploads_only_what_differs(
    server: ServerProcess, env: dict[str, str], remote: str, cwd: Path
) -> None:
    make_tree(cwd / "mine", {"a.txt": b"a", "sub/b.txt": b"b", "skip.tmp": b"t"})
    first = expect(invoke(["sync", "local", "mine", remote, "--exclude", "*.tmp"], env), 0)
    assert "total" not in first.stderr
    assert sorted(first.stdout.splitlines()) == [
        "create sub/",
        "transfer a.txt",
        "transfer sub/b.txt",
    ]
    assert tree(on_server(server, remote)) == {"a.txt": b"a", "sub": None, "sub/b.txt": b"b"}
    second = expect(invoke(["sync", "local", "mine", remote, "--exclude", "*.tmp"], env), 0)
    assert second.stdout == ""
    assert "0 transferred" in second.stderr
    assert "2 unchanged" in second.stderr
    # A change, a deletion and an extra remote file: dry run first, which changes nothing.
    (cwd / "mine" / "a.txt").write_bytes(b"changed")
    (cwd / "mine" / "sub" / "b.txt").unlink()
    (on_server(server, remote) / "extra.txt").write_bytes(b"e")
    before = tree(on_server(server, remote))
    dry = expect(
        invoke(["sync", "local", "-n", "--delete", "mine", remote, "--exclude", "*.tmp"], env), 0
    )
    assert dry.stdout.splitlines() == [
        "would replace a.txt",
        "would remove extra.txt",
        "would remove sub/b.txt",
    ]
    assert dry.stderr == ("would transfer 1 (1 to replace, 7 bytes), would remove 2, 0 unchanged\n")
    assert tree(on_server(server, remote)) == before
    json_dry = expect(invoke(["sync", "local", "--dry-run", "--json", "mine", remote], env), 0)
    reported = json.loads(json_dry.stdout)
    assert reported["dry_run"] is True
    assert reported["replaced"] == ["a.txt"]
    assert reported["transferred"] == ["a.txt", "skip.tmp"]
    assert tree(on_server(server, remote)) == before
    done = expect(
        invoke(["sync", "local", "--delete", "--exclude", "*.tmp", "mine", remote], env), 0
    )
    assert done.stdout.splitlines() == ["replace a.txt", "remove extra.txt", "remove sub/b.txt"]
    assert done.stderr == "1 transferred (1 replaced, 7 bytes), 2 removed, 0 unchanged\n"
    assert tree(on_server(server, remote)) == {"a.txt": b"changed", "sub": None}
    without_delete = expect(invoke(["sync", "local", "mine", remote], env), 0)
    assert without_delete.stdout == "transfer skip.tmp\n"


def test_sync_remote_downloads_only_what_differs(
    server: ServerProcess, env: dict[str, str], remote: str, cwd: Path
) -> None:
    top = make_tree(on_server(server, remote), {"a.txt": b"a", "sub/b.txt": b"b", "c.log": b"c"})
    (cwd / "copy").mkdir()
    first = expect(invoke(["sync", "remote", "-p", "copy", remote, "--exclude", "*.log"], env), 0)
    assert "total" in first.stderr
    assert sorted(first.stdout.splitlines()) == [
        "create sub/",
        "transfer a.txt",
        "transfer sub/b.txt",
    ]
    assert tree(cwd / "copy") == {"a.txt": b"a", "sub": None, "sub/b.txt": b"b"}
    second = expect(invoke(["sync", "remote", "copy", remote, "--exclude", "*.log"], env), 0)
    assert second.stdout == ""
    assert "0 transferred" in second.stderr
    (cwd / "copy" / "local-only.txt").write_bytes(b"l")
    (top / "a.txt").write_bytes(b"new a")
    before = tree(cwd / "copy")
    dry = expect(invoke(["sync", "remote", "--dry-run", "--delete", "copy", remote], env), 0)
    assert dry.stdout.splitlines() == [
        "would replace a.txt",
        "would transfer c.log",
        "would remove local-only.txt",
    ]
    assert dry.stderr.startswith("would transfer 2 (1 to replace, 6 bytes), would remove 1, ")
    assert tree(cwd / "copy") == before
    expect(invoke(["sync", "remote", "--delete", "copy", remote], env), 0)
    assert tree(cwd / "copy") == {
        "a.txt": b"new a",
        "c.log": b"c",
        "sub": None,
        "sub/b.txt": b"b",
    }
