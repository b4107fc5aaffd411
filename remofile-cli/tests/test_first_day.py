"""A first day without surprises (issue 15): each numbered defect, reproduced with the
command line as a real process against a real `remofile run` server.

Each test names the defect it pins down; all failed before the fix.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from pathlib import Path

import pytest
from cli_support import (
    TOKEN,
    ServerProcess,
    expect,
    expect_error,
    free_port,
    run_process,
    running_server,
)


def tree(top: Path) -> dict[str, bytes | None]:
    """Every entry below ``top`` (the staging area left out): path -> content, None for
    a directory."""
    return {
        path.relative_to(top).as_posix(): None if path.is_dir() else path.read_bytes()
        for path in sorted(top.rglob("*"))
        if not path.relative_to(top).as_posix().startswith(".remofile-")
    }


def on_server(server: ServerProcess, remote: str) -> Path:
    return server.root / remote.lstrip("/")


# -- 1. destinations: the last component is made, a missing parent is an error ----------


def test_1_readme_lines_make_the_last_component_of_the_destination(
    server: ServerProcess, env: dict[str, str], remote: str, cwd: Path
) -> None:
    (cwd / "src" / "pkg").mkdir(parents=True)
    (cwd / "src" / "pkg" / "a.py").write_bytes(b"a")
    (cwd / "docs").mkdir()
    (cwd / "docs" / "index.md").write_bytes(b"# docs")
    # remofile upload -r src/ docs/ /backup  (here below this test's directory)
    expect(run_process(["upload", "-r", "src/", "docs/", f"{remote}/backup"], env, cwd), 0)
    assert tree(on_server(server, remote)) == {
        "backup": None,
        "backup/docs": None,
        "backup/docs/index.md": b"# docs",
        "backup/src": None,
        "backup/src/pkg": None,
        "backup/src/pkg/a.py": b"a",
    }
    # remofile download -r /backup ./restore
    expect(run_process(["download", "-r", f"{remote}/backup", "./restore"], env, cwd), 0)
    assert tree(cwd / "restore") == {
        "backup": None,
        "backup/docs": None,
        "backup/docs/index.md": b"# docs",
        "backup/src": None,
        "backup/src/pkg": None,
        "backup/src/pkg/a.py": b"a",
    }
    # Only the last component: a missing parent is an error, on both sides.
    expect_error(
        run_process(["upload", "-r", "src", f"{remote}/no/where"], env, cwd), 3, f"{remote}/no"
    )
    expect_error(run_process(["download", "-r", f"{remote}/backup", "no/where"], env, cwd), 3, "no")
    assert not (cwd / "no").exists()
    assert not on_server(server, f"{remote}/no").exists()


# -- 2. relative remote paths -----------------------------------------------------------


def test_2_a_relative_remote_path_is_refused_by_every_command_before_anything_moves(
    server: ServerProcess, env: dict[str, str], remote: str, cwd: Path
) -> None:
    (cwd / "newfile.txt").write_bytes(b"new")
    (cwd / "local").mkdir()
    relative = remote.lstrip("/")
    result = run_process(["upload", "newfile.txt", "my-os-isos"], env, cwd)
    line = expect_error(result, 2, "not a remote path", "'/my-os-isos'")
    assert line.startswith("remofile: ")
    assert not (server.root / "newfile.txt").exists()
    for args in (
        ["download", f"{relative}/x.txt", "."],
        ["download", f"{remote}/x.txt", f"{relative}/y.txt", "."],
        ["remove", relative],
        ["remove", "x.txt", relative],
        ["sync", "local", "local", relative],
        ["sync", "remote", "local", relative],
        ["list", relative],
        ["folder", "made", relative],
        ["file", "made", relative],
        ["move", f"{remote}/x.txt", relative],
        ["copy", relative, f"{remote}/y.txt"],
        ["digest", relative],
    ):
        result = run_process(args, env, cwd)
        expect_error(result, 2, "relative", "absolute", f"'/{relative}")
    assert tree(on_server(server, remote)) == {}
    assert sorted(os.listdir(cwd)) == ["local", "newfile.txt"]


# -- 3. conflicting settings ------------------------------------------------------------


def test_3_remofile_server_with_remofile_hostname_is_an_error_naming_both(
    env: dict[str, str],
) -> None:
    both = {**env, "REMOFILE_SERVER": f"127.0.0.1:{env['REMOFILE_PORT']}"}
    expect_error(run_process(["list", "/"], both), 2, "REMOFILE_SERVER", "REMOFILE_HOSTNAME")
    port_too = {
        "REMOFILE_SERVER": f"127.0.0.1:{env['REMOFILE_PORT']}",
        "REMOFILE_PORT": env["REMOFILE_PORT"],
        "REMOFILE_TOKEN": env["REMOFILE_TOKEN"],
    }
    expect_error(run_process(["list", "/"], port_too), 2, "REMOFILE_SERVER", "REMOFILE_PORT")


# -- 4. why a server cannot be reached, in seconds ------------------------------------


def test_4_a_server_that_is_not_running_is_said_at_once(cwd: Path) -> None:
    dead = {"REMOFILE_SERVER": f"127.0.0.1:{free_port()}", "REMOFILE_TOKEN": TOKEN}
    started = time.monotonic()
    expect_error(run_process(["list", "/"], dead), 7, "connection refused")
    assert time.monotonic() - started < 5  # the timeout is 30 s


def test_4_a_name_that_does_not_resolve_is_said_at_once(cwd: Path) -> None:
    nowhere = {"REMOFILE_HOSTNAME": "no-such-host.invalid", "REMOFILE_TOKEN": TOKEN}
    started = time.monotonic()
    expect_error(run_process(["list", "/"], nowhere), 7, "cannot resolve", "no-such-host.invalid")
    assert time.monotonic() - started < 15  # the resolver's own time, not 30 s


def test_4_a_wrong_public_key_is_said_at_once(tmp_path: Path) -> None:
    keys = json.loads(expect(run_process(["generate-keys", "--json"]), 0).stdout)
    other = json.loads(expect(run_process(["generate-keys", "--json"]), 0).stdout)
    (tmp_path / "served").mkdir()
    with running_server(
        tmp_path / "served", extra=["--private-key", keys["private_key"]]
    ) as encrypted:
        env = {**encrypted.env, "REMOFILE_PUBLIC_KEY": other["public_key"]}
        started = time.monotonic()
        expect_error(run_process(["list", "/"], env), 7, "not the public key of this server")
        plain = {k: v for k, v in env.items() if k != "REMOFILE_PUBLIC_KEY"}
        expect_error(run_process(["list", "/"], plain), 7, "encrypts", "REMOFILE_PUBLIC_KEY")
        assert time.monotonic() - started < 10
        right = {**env, "REMOFILE_PUBLIC_KEY": keys["public_key"]}
        expect(run_process(["list", "/"], right), 0)


def test_4_a_server_that_never_answers_still_times_out(cwd: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        silent = {
            "REMOFILE_SERVER": f"127.0.0.1:{listener.getsockname()[1]}",
            "REMOFILE_TOKEN": TOKEN,
        }
        expect_error(run_process(["list", "/", "-t", "500"], silent), 7, "500 ms")


# -- 5. progress and summaries ---------------------------------------------------------


def test_5_progress_in_binary_units_and_a_summary_line(
    env: dict[str, str], remote: str, cwd: Path
) -> None:
    (cwd / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    result = expect(run_process(["upload", "-p", "big.bin", remote], env, cwd), 0)
    assert "3.0 MiB/3.0 MiB" in result.stderr, result.stderr
    assert re.search(r"\d+(\.\d)? [KMG]iB/s", result.stderr), result.stderr
    assert not re.search(r"\d[KMG]?B/s", result.stderr), result.stderr  # never MB/s
    assert re.search(r"uploaded 1 file, 3\.0 MiB in [\d.]+ s \(", result.stderr), result.stderr
    result = expect(run_process(["download", "-v", f"{remote}/big.bin", "back"], env, cwd), 0)
    assert re.search(r"downloaded 1 file, 3\.0 MiB in", result.stderr), result.stderr
    quiet = expect(run_process(["download", "-q", "-f", f"{remote}/big.bin", "back"], env, cwd), 0)
    assert quiet.stderr == ""


def test_5_sync_lists_each_change_as_it_is_made(tmp_path: Path, cwd: Path) -> None:
    # The server refuses the last file: the changes made before are already listed.
    (tmp_path / "served").mkdir()
    (cwd / "site" / "sub").mkdir(parents=True)
    (cwd / "site" / "a.txt").write_bytes(b"small")
    (cwd / "site" / "z.bin").write_bytes(b"z" * 5000)
    with running_server(tmp_path / "served", extra=["--file-size-limit", "1000"]) as server:
        result = run_process(["sync", "local", "site", "/www"], server.env, cwd)
    assert result.returncode == 5, result.stderr
    assert result.stdout.splitlines() == ["transfer a.txt", "create sub/", "transfer z.bin"]
    assert (tmp_path / "served" / "www" / "a.txt").read_bytes() == b"small"


# -- 6. directories skipped by a glob without -r -----------------------------------


def test_6_a_glob_without_r_warns_about_each_directory_and_exits_1(
    server: ServerProcess, env: dict[str, str], remote: str, cwd: Path
) -> None:
    folder = on_server(server, remote)
    (folder / "a.txt").write_bytes(b"a")
    (folder / "sub").mkdir()
    (folder / "sub" / "b.txt").write_bytes(b"b")
    result = run_process(["download", f"{remote}/*", "dest"], env, cwd)
    expect_error(result, 1, "skipping directory", f"{remote}/sub", "-r")
    assert tree(cwd / "dest") == {"a.txt": b"a"}


# -- 7. symbolic links ---------------------------------------------------------------


def test_7_links_inside_an_uploaded_tree_are_skipped_unless_l(
    server: ServerProcess, env: dict[str, str], remote: str, cwd: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not for the server")
    (cwd / "tree" / "sub").mkdir(parents=True)
    (cwd / "tree" / "kept.txt").write_bytes(b"kept")
    (cwd / "tree" / "passwd").symlink_to(secret)
    (cwd / "tree" / "sub-link").symlink_to(cwd / "tree" / "sub")
    result = run_process(["upload", "-r", "tree", remote], env, cwd)
    expect(result, 0)
    assert "skipping symbolic link tree/passwd" in result.stderr, result.stderr
    assert "-L" in result.stderr
    assert tree(on_server(server, remote)) == {
        "tree": None,
        "tree/kept.txt": b"kept",
        "tree/sub": None,
    }
    expect(run_process(["upload", "-r", "-L", "-f", "tree", remote], env, cwd), 0)
    assert (on_server(server, remote) / "tree" / "passwd").read_bytes() == b"not for the server"


# -- 8. ** keeps the structure -----------------------------------------------------------


def test_8_double_star_keeps_the_relative_structure_both_ways(
    server: ServerProcess, env: dict[str, str], remote: str, cwd: Path
) -> None:
    for directory in ("logs/a", "logs/b/c"):
        (cwd / directory).mkdir(parents=True)
        (cwd / directory / "same.log").write_bytes(directory.encode())
    (cwd / "logs" / "other.txt").write_bytes(b"not a log")
    expect(run_process(["upload", "logs/**/*.log", f"{remote}/up"], env, cwd), 0)
    assert tree(on_server(server, f"{remote}/up")) == {
        "a": None,
        "a/same.log": b"logs/a",
        "b": None,
        "b/c": None,
        "b/c/same.log": b"logs/b/c",
    }
    expect(run_process(["download", f"{remote}/up/**/*.log", "down"], env, cwd), 0)
    assert tree(cwd / "down") == {
        "a": None,
        "a/same.log": b"logs/a",
        "b": None,
        "b/c": None,
        "b/c/same.log": b"logs/b/c",
    }


# -- 9. nothing transferred before a known stop ------------------------------------------


def test_9_a_taken_name_stops_before_anything_is_transferred(
    server: ServerProcess, env: dict[str, str], remote: str, cwd: Path
) -> None:
    (cwd / "first.txt").write_bytes(b"first")
    (cwd / "taken.txt").write_bytes(b"mine")
    (on_server(server, remote) / "taken.txt").write_bytes(b"theirs")
    result = run_process(["upload", "first.txt", "taken.txt", remote], env, cwd)
    expect_error(result, 4, f"{remote}/taken.txt", "-f", "--ignore-existing")
    assert tree(on_server(server, remote)) == {"taken.txt": b"theirs"}
    (on_server(server, remote) / "first.txt").write_bytes(b"remote first")
    (cwd / "down").mkdir()
    (cwd / "down" / "taken.txt").write_bytes(b"local")
    result = run_process(
        ["download", f"{remote}/first.txt", f"{remote}/taken.txt", "down"], env, cwd
    )
    expect_error(result, 4, "taken.txt")
    assert tree(cwd / "down") == {"taken.txt": b"local"}
    # A missing source is found before the others are sent, too.
    result = run_process(["upload", "first.txt", "missing.txt", f"{remote}/new"], env, cwd)
    expect_error(result, 3, "missing.txt")
    assert not on_server(server, f"{remote}/new").exists()


def test_9_a_file_over_the_size_limit_stops_before_anything_is_transferred(
    tmp_path: Path, cwd: Path
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "small.txt").write_bytes(b"small")
    (served / "big.bin").write_bytes(b"b" * 5000)
    (served / "up").mkdir()
    (cwd / "down").mkdir()
    (cwd / "tree" / "inner").mkdir(parents=True)
    (cwd / "small.txt").write_bytes(b"small")
    (cwd / "tree" / "inner" / "big.bin").write_bytes(b"b" * 5000)
    with running_server(served, extra=["--file-size-limit", "1000"]) as server:
        result = run_process(["upload", "-r", "small.txt", "tree", "/up"], server.env, cwd)
        expect_error(result, 5, "big.bin", "5000 bytes", "limit of 1000 bytes")
        assert tree(served / "up") == {}
        result = run_process(["download", "/small.txt", "/big.bin", "down"], server.env, cwd)
        expect_error(result, 5, "/big.bin", "limit")
        assert tree(cwd / "down") == {}


# -- 10. one log line per session ------------------------------------------------------


def _sessions_of(lines: list[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_10_one_log_line_per_session_with_the_peer_bytes_and_files(
    tmp_path: Path, cwd: Path
) -> None:
    (tmp_path / "served").mkdir()
    (cwd / "up.bin").write_bytes(b"u" * 5000)
    with running_server(tmp_path / "served", extra=["--log-format", "json"]) as server:
        expect(run_process(["upload", "up.bin", "/"], server.env, cwd), 0)
        expect(run_process(["download", "/up.bin", "back"], server.env, cwd), 0)
        wrong = {**server.env, "REMOFILE_TOKEN": "WrongToken_0123456789"}
        expect_error(run_process(["list", "/"], wrong), 6, "access denied")
    records = _sessions_of(server.stderr.lines)
    sessions = [record for record in records if record["event"] == "session"]
    assert all(record["peer"] == "127.0.0.1" for record in records), records
    assert all(record["token"] == "accepted" for record in sessions), records
    assert all(record["end"] == "closed" for record in sessions), records
    moved = [(r["files_up"], r["bytes_up"], r["files_down"], r["bytes_down"]) for r in sessions]
    assert (1, 5000, 0, 0) in moved, records
    assert (0, 0, 1, 5000) in moved, records
    assert all(isinstance(record["duration_s"], float) for record in sessions)
    refused = [record for record in records if record["event"] == "session_refused"]
    assert [(r["token"], r["reason"]) for r in refused] == [("refused", "access_denied")]
    # In text, at the default verbosity: a line for people.
    with running_server(tmp_path / "served") as server:
        expect(run_process(["list", "/"], server.env), 0)
    text = [line for line in server.stderr.lines if "session from 127.0.0.1" in line]
    assert text, server.stderr.lines
    assert "token accepted, closed after" in text[-1]


# -- 11. the token of a served directory survives restarts ------------------------------


def test_11_the_token_of_a_directory_is_kept_across_restarts_outside_it(
    tmp_path: Path,
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    with running_server(served, token=None) as first:
        match = re.fullmatch(
            r"Generated token: (\S+) \(kept in (\S+) for the next start\)", first.banner[0]
        )
        assert match, first.banner
    kept = Path(match.group(2))
    assert first.token == match.group(1)
    assert served.resolve() not in kept.resolve().parents  # never inside what is served
    assert Path(os.environ["XDG_STATE_HOME"]) in kept.parents
    assert kept.stat().st_mode & 0o777 == 0o600
    assert kept.parent.stat().st_mode & 0o777 == 0o700
    # Restarted, by another name of the same directory: the same token.
    (tmp_path / "alias").symlink_to(served)
    with running_server(tmp_path / "alias", token=None) as second:
        assert second.token == first.token
        assert second.banner[0] == (
            f"Token kept for this directory in {kept} (--new-token makes another)"
        )
        expect(run_process(["list", "/"], {**second.env, "REMOFILE_TOKEN": first.token}), 0)
    # Told otherwise: a new token, kept from then on; a given token is kept nowhere.
    with running_server(served, token=None, extra=["--new-token"]) as third:
        assert third.token != first.token
    with running_server(served, token=TOKEN) as given:
        assert given.token == TOKEN
    with running_server(served, token=None) as fourth:
        assert fourth.token == third.token


# -- 12. -v, -q, -V and human-readable sizes ---------------------------------------------


def test_12_verbosity_version_and_human_sizes(
    server: ServerProcess, env: dict[str, str], remote: str, cwd: Path
) -> None:
    version = expect(run_process(["-V"]), 0).stdout
    assert version == expect(run_process(["--version"]), 0).stdout
    assert version.startswith("remofile, version ")
    (on_server(server, remote) / "big.bin").write_bytes(b"\0" * (1536 * 1024))
    (on_server(server, remote) / "dir").mkdir()
    listing = expect(run_process(["list", "-l", "-H", remote], env), 0).stdout
    assert re.search(r"^- +1\.5 MiB .* big\.bin$", listing, re.MULTILINE), listing
    plain = expect(run_process(["list", "-l", remote], env), 0).stdout
    assert re.search(r"^- 1572864 .* big\.bin$", plain, re.MULTILINE), plain
    (cwd / "a.txt").write_bytes(b"a")
    loud = expect(run_process(["upload", "-v", "a.txt", remote], env, cwd), 0)
    assert f"uploaded a.txt -> {remote}/a.txt" in loud.stderr
    assert "connected to tcp://127.0.0.1" in loud.stderr
    warned = run_process(["download", f"{remote}/dir", "."], env, cwd)
    expect_error(warned, 1, "skipping directory")
    silent = run_process(["upload", "-q", "-f", "a.txt", remote], env, cwd)
    assert (silent.returncode, silent.stderr) == (0, "")


# -- beyond: URLs, named servers, completion ---------------------------------------------


def test_remofile_urls_name_the_server_wherever_a_remote_path_goes(
    server: ServerProcess, env: dict[str, str], remote: str, cwd: Path
) -> None:
    url = f"remofile://127.0.0.1:{server.port}{remote}"
    token_only = {"REMOFILE_TOKEN": server.token}
    (cwd / "a.txt").write_bytes(b"by url")
    expect(run_process(["upload", "a.txt", url], token_only, cwd), 0)
    assert expect(run_process(["list", url], token_only), 0).stdout == "a.txt\n"
    expect(run_process(["download", f"{url}/a.txt", "back"], token_only, cwd), 0)
    assert (cwd / "back" / "a.txt").read_bytes() == b"by url"
    other = f"remofile://127.0.0.1:{free_port()}/x"
    expect_error(run_process(["move", f"{url}/a.txt", other], token_only), 2, "two servers")


def test_named_servers_of_the_config_file(
    server: ServerProcess, env: dict[str, str], remote: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    token_file = tmp_path / "token"
    token_file.write_text(server.token + "\n")
    config.write_text(
        "[servers.here]\n"
        f'host = "127.0.0.1"\nport = {server.port}\ntoken_file = "{token_file}"\n'
        "[servers.elsewhere]\n"
        f'host = "127.0.0.1"\nport = {free_port()}\ntoken = "{TOKEN}"\n'
    )
    settings = {"REMOFILE_CONFIG": str(config)}
    name = remote.lstrip("/") + "/"
    listed = expect(run_process(["list", "--server", "here", "/"], settings), 0).stdout
    assert name in listed.splitlines()
    by_variable = {**settings, "REMOFILE_PROFILE": "here"}
    assert name in expect(run_process(["list", "/"], by_variable), 0).stdout.splitlines()
    # The variables override the named server.
    overridden = {**settings, "REMOFILE_PROFILE": "elsewhere", "REMOFILE_PORT": str(server.port)}
    assert name in expect(run_process(["list", "/"], overridden), 0).stdout.splitlines()
    expect_error(run_process(["list", "--server", "nope", "/"], settings), 2, "nope", "here")


def test_remote_paths_complete_in_the_shell(
    server: ServerProcess, env: dict[str, str], remote: str
) -> None:
    (on_server(server, remote) / "alpha.txt").write_bytes(b"a")
    (on_server(server, remote) / "alps").mkdir()
    (on_server(server, remote) / "beta.txt").write_bytes(b"b")
    completion = {
        **env,
        "_REMOFILE_COMPLETE": "bash_complete",
        "COMP_WORDS": f"remofile list {remote}/al",
        "COMP_CWORD": "2",
    }
    result = expect(run_process([], completion), 0)
    assert result.stdout.splitlines() == [f"plain,{remote}/alps/"]
    completion["COMP_WORDS"] = f"remofile download {remote}/al"
    result = expect(run_process([], completion), 0)
    assert result.stdout.splitlines() == [
        f"plain,{remote}/alpha.txt",
        f"plain,{remote}/alps/",
        f"file,{remote}/al",
    ]
    # Without settings, or with a dead server, nothing is offered, at once.
    dead = {**completion, "REMOFILE_PORT": str(free_port())}
    started = time.monotonic()
    assert expect(run_process([], dead), 0).stdout.splitlines() == [f"file,{remote}/al"]
    assert time.monotonic() - started < 5


@pytest.fixture(autouse=True)
def _no_config_of_the_developer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config-home"))
