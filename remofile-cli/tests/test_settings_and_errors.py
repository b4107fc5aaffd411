"""Where client commands find the server (REMOFILE_* variables), and how each kind of
failure ends a command: its exit status and one line on stderr, never a traceback."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import (
    RMF,
    TOKEN,
    ServerProcess,
    expect,
    expect_error,
    free_port,
    invoke,
    run_process,
    start_server,
)
from remofile.cli.settings import SettingError, client_settings
from remofile.client import Client

#: Every client command, with arguments that need nothing to exist but the server.
CLIENT_COMMANDS = [
    ["list", "/"],
    ["file", "name.txt", "/"],
    ["folder", "name", "/"],
    ["directory", "name", "/"],
    ["upload", "local.txt", "/"],
    ["download", "/remote.txt", "."],
    ["remove", "/remote.txt"],
    ["move", "/remote.txt", "/moved.txt"],
    ["mv", "/remote.txt", "/moved.txt"],
    ["copy", "/remote.txt", "/copied.txt"],
    ["cp", "/remote.txt", "/copied.txt"],
    ["digest", "/remote.txt"],
    ["sync", "local", "local-directory", "/"],
    ["sync", "remote", "local-directory", "/"],
]


@pytest.fixture
def files(cwd: Path) -> Path:
    """What the commands of CLIENT_COMMANDS need locally."""
    (cwd / "local.txt").write_bytes(b"local")
    (cwd / "local-directory").mkdir()
    return cwd


# -- the settings -------------------------------------------------------------------


def test_hostname_and_port(server: ServerProcess, remote: str) -> None:
    for host in ("127.0.0.1", "localhost"):
        env = {
            "REMOFILE_HOSTNAME": host,
            "REMOFILE_PORT": str(server.port),
            "REMOFILE_TOKEN": TOKEN,
        }
        assert remote.lstrip("/") + "/" in expect(invoke(["list"], env), 0).stdout.splitlines()


def test_port_defaults_to_6768() -> None:
    settings = client_settings({"REMOFILE_HOSTNAME": "example.org", "REMOFILE_TOKEN": TOKEN})
    assert (settings.hostname, settings.port, settings.token) == ("example.org", 6768, TOKEN)
    assert settings.public_key is None
    blank = client_settings(
        {"REMOFILE_HOSTNAME": "example.org", "REMOFILE_PORT": " ", "REMOFILE_TOKEN": TOKEN}
    )
    assert blank.port == 6768


def test_server_variable(server: ServerProcess, remote: str) -> None:
    env = {"REMOFILE_SERVER": f"127.0.0.1:{server.port}", "REMOFILE_TOKEN": TOKEN}
    assert remote.lstrip("/") + "/" in expect(invoke(["list", "/"], env), 0).stdout.splitlines()
    process = expect(
        run_process(["list", "/"], {**env, "REMOFILE_SERVER": f"localhost:{server.port}"}), 0
    )
    assert remote.lstrip("/") + "/" in process.stdout.splitlines()
    settings = client_settings({"REMOFILE_SERVER": "[::1]:7000", "REMOFILE_TOKEN": TOKEN})
    assert (settings.hostname, settings.port) == ("::1", 7000)


@pytest.mark.parametrize(
    ("environment", "variable"),
    [
        ({"REMOFILE_TOKEN": TOKEN}, "REMOFILE_HOSTNAME"),
        ({"REMOFILE_PORT": "7000", "REMOFILE_TOKEN": TOKEN}, "REMOFILE_HOSTNAME"),
        ({"REMOFILE_HOSTNAME": "127.0.0.1"}, "REMOFILE_TOKEN"),
        ({"REMOFILE_SERVER": "127.0.0.1:7000"}, "REMOFILE_TOKEN"),
        (
            {"REMOFILE_HOSTNAME": "h", "REMOFILE_PORT": "http", "REMOFILE_TOKEN": TOKEN},
            "REMOFILE_PORT",
        ),
        (
            {"REMOFILE_HOSTNAME": "h", "REMOFILE_PORT": "70000", "REMOFILE_TOKEN": TOKEN},
            "REMOFILE_PORT",
        ),
        ({"REMOFILE_SERVER": "no-port-here", "REMOFILE_TOKEN": TOKEN}, "REMOFILE_SERVER"),
        ({"REMOFILE_SERVER": "host:port", "REMOFILE_TOKEN": TOKEN}, "REMOFILE_SERVER"),
    ],
)
def test_a_missing_or_bad_setting_names_the_variable(
    environment: dict[str, str], variable: str
) -> None:
    with pytest.raises(SettingError, match=variable):
        client_settings(environment)
    expect_error(invoke(["list", "/"], environment), 2, variable)


@pytest.mark.parametrize("command", CLIENT_COMMANDS, ids=" ".join)
def test_every_client_command_stops_without_settings(files: Path, command: list[str]) -> None:
    expect_error(invoke(command, {}), 2, "REMOFILE_HOSTNAME", "REMOFILE_SERVER")
    expect_error(invoke(command, {"REMOFILE_HOSTNAME": "127.0.0.1"}), 2, "REMOFILE_TOKEN")


def test_missing_settings_in_a_process(files: Path) -> None:
    result = run_process(["upload", "local.txt", "/"], {}, files)
    assert expect_error(result, 2, "REMOFILE_HOSTNAME").startswith("remofile: ")
    assert result.stdout == ""


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    result = expect(invoke(["generate-keys", "--json"]), 0)
    pair = json.loads(result.stdout)
    return pair["public_key"], pair["private_key"]


@pytest.fixture(scope="module")
def encrypted(
    tmp_path_factory: pytest.TempPathFactory, keys: tuple[str, str]
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("encrypted")
    (root / "secret.txt").write_bytes(b"only over CURVE")
    running = start_server(root, extra=["--private-key", keys[1]])
    try:
        yield running
    finally:
        assert running.stop() == 0


def test_public_key(encrypted: ServerProcess, keys: tuple[str, str], cwd: Path) -> None:
    assert encrypted.settings["REMOFILE_PUBLIC_KEY"] == keys[0]
    env = {**encrypted.env, "REMOFILE_PUBLIC_KEY": keys[0]}
    assert expect(invoke(["list", "/"], env), 0).stdout == "secret.txt\n"
    expect(invoke(["download", "/secret.txt", "."], env), 0)
    assert (cwd / "secret.txt").read_bytes() == b"only over CURVE"
    # Without the key, or with another one, the handshake fails, and the command says
    # which at once, well before its timeout.
    plain = {key: value for key, value in env.items() if key != "REMOFILE_PUBLIC_KEY"}
    started = time.monotonic()
    expect_error(invoke(["list", "/"], plain), 7, "encrypts", "REMOFILE_PUBLIC_KEY")
    other = json.loads(expect(invoke(["generate-keys", "--json"]), 0).stdout)
    wrong = {**env, "REMOFILE_PUBLIC_KEY": other["public_key"]}
    expect_error(invoke(["list", "/"], wrong), 7, "not the public key of this server")
    assert time.monotonic() - started < 10
    malformed = {**env, "REMOFILE_PUBLIC_KEY": "not a key"}
    expect_error(invoke(["list", "/"], malformed), 2, "key")


# -- exit statuses --------------------------------------------------------------------


def test_not_found_is_3(env: dict[str, str], remote: str) -> None:
    expect_error(invoke(["list", f"{remote}/missing"], env), 3, f"{remote}/missing")
    expect_error(invoke(["file", "x", f"{remote}/missing"], env), 3)
    expect_error(invoke(["remove", f"{remote}/missing"], env), 3)
    process = run_process(["list", f"{remote}/missing"], env)
    assert expect_error(process, 3, "missing").startswith("remofile: ")


def test_exists_is_4(env: dict[str, str], remote: str) -> None:
    expect(invoke(["folder", "taken", remote], env), 0)
    expect_error(invoke(["folder", "taken", remote], env), 4, "exists")
    expect_error(invoke(["file", "taken", remote], env), 4, "exists")
    expect_error(invoke(["directory", "taken", remote], env), 4, "exists")


def test_busy_is_5(server: ServerProcess, env: dict[str, str], remote: str) -> None:
    with Client("127.0.0.1", server.port, server.token) as holder:
        holder.list_files(remote, 5000)  # opens the session and keeps it
        expect_error(invoke(["list", remote], env), 5, "busy")
        expect_error(invoke(["file", "f", remote], env), 5, "busy")
        holder.list_files(remote, 5000)
    expect(invoke(["list", remote], env), 0)


def test_auth_is_6(server: ServerProcess, env: dict[str, str]) -> None:
    wrong = {**env, "REMOFILE_TOKEN": "WrongToken_0123456789"}
    expect_error(invoke(["list", "/"], wrong), 6, "token")
    expect_error(run_process(["list", "/"], wrong), 6, "token")
    malformed = {**env, "REMOFILE_TOKEN": "bad token!"}
    expect_error(invoke(["list", "/"], malformed), 2, "token")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port where connections are accepted (by the kernel) and nothing ever answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


@pytest.mark.parametrize("command", CLIENT_COMMANDS, ids=" ".join)
def test_timeout_is_7_on_every_client_command(
    files: Path, command: list[str], silent_port: int
) -> None:
    silent = {
        "REMOFILE_HOSTNAME": "127.0.0.1",
        "REMOFILE_PORT": str(silent_port),
        "REMOFILE_TOKEN": TOKEN,
    }
    started = time.monotonic()
    expect_error(invoke([*command, "-t", "300"], silent), 7, "300 ms")
    assert time.monotonic() - started < 5
    expect_error(invoke([*command, "--timeout", "200"], silent), 7, "200 ms")


@pytest.mark.parametrize("command", CLIENT_COMMANDS, ids=" ".join)
def test_a_server_that_is_not_running_is_said_at_once(files: Path, command: list[str]) -> None:
    dead = {
        "REMOFILE_HOSTNAME": "127.0.0.1",
        "REMOFILE_PORT": str(free_port()),
        "REMOFILE_TOKEN": TOKEN,
    }
    started = time.monotonic()
    expect_error(invoke(command, dead), 7, "connection refused")
    assert time.monotonic() - started < 5


def test_timeout_in_a_process(silent_port: int) -> None:
    silent = {"REMOFILE_SERVER": f"127.0.0.1:{silent_port}", "REMOFILE_TOKEN": TOKEN}
    started = time.monotonic()
    expect_error(run_process(["list", "/", "-t", "300"], silent, program=RMF), 7, "300")
    assert time.monotonic() - started < 10


def test_usage_is_2(env: dict[str, str], remote: str) -> None:
    for args in (
        ["list", "--bogus"],
        ["list", "-t", "0"],
        ["list", "-t", "soon"],
        ["upload"],
        ["download"],
        ["remove"],
        ["move", "/only-one"],
        ["copy", "/only-one"],
        ["digest"],
        ["digest", "-a", "md5", "/x"],
        ["file"],
        ["sync"],
        ["sync", "local", "only-one"],
        ["no-such-command"],
    ):
        result = expect(invoke(args, env), 2)
        assert "Error" in result.stderr or "Usage" in result.stderr, args
    # Remote paths a server would never accept are refused before asking it.
    expect_error(invoke(["list", "relative/path"], env), 2, "absolute")
    expect_error(invoke(["list", "/a/../b"], env), 2, "..")
    expect_error(invoke(["remove", "/"], env), 2, "root")
    expect_error(invoke(["file", "bad/name", remote], env), 5, "name")


def test_errors_as_json(env: dict[str, str], remote: str) -> None:
    result = expect(invoke(["list", "--json", f"{remote}/missing"], env), 3)
    assert json.loads(result.stdout)["error"] == "not_found"
    assert result.stderr.count("\n") == 1
