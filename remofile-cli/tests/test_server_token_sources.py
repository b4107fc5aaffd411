"""Where `remofile run` takes its token from: the argument, even one that starts with
'-', a --token-file, or REMOFILE_TOKEN, so that it need not show in the process list."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from cli_support import ServerProcess, invoke, start_server


def _serves_with(server: ServerProcess, token: str) -> bool:
    env = {**server.env, "REMOFILE_TOKEN": token}
    return invoke(["list", "/", "-t", "3000"], env).exit_code == 0


@pytest.mark.parametrize(
    "token",
    ["-abcdefgh12345678", "-v1234567", "-Token_with-dash~.x"],
    ids=["dash", "dash-then-a-flag-letter", "dash-and-symbols"],
)
def test_a_token_that_starts_with_a_dash_is_the_token(tmp_path: Path, token: str) -> None:
    server = start_server(tmp_path, token, extra=["--address", "127.0.0.1"])
    try:
        assert server.token == token
        assert _serves_with(server, token)
    finally:
        server.stop(signal.SIGKILL)


def test_the_token_from_a_file_and_from_the_environment(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("fromAFile_12345678\n")
    (tmp_path / "served").mkdir()
    server = start_server(tmp_path / "served", None, extra=["--token-file", str(token_file)])
    try:
        assert server.token == "fromAFile_12345678"
        assert _serves_with(server, "fromAFile_12345678")
        assert not any("fromAFile" in line for line in server.banner if "Generated" in line)
    finally:
        server.stop(signal.SIGKILL)
    server = start_server(tmp_path / "served", None, env={"REMOFILE_TOKEN": "fromTheEnvironment"})
    try:
        assert server.token == "fromTheEnvironment"
        assert _serves_with(server, "fromTheEnvironment")
    finally:
        server.stop(signal.SIGKILL)


def test_two_token_sources_or_an_empty_file_are_usage_errors(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("fromAFile_12345678")
    both = invoke(["run", str(tmp_path), "0", "argumentToken1", "--token-file", str(token_file)])
    assert both.exit_code == 2
    assert "not both" in both.output
    token_file.write_text("\n")
    empty = invoke(["run", str(tmp_path), "0", "--token-file", str(token_file)])
    assert empty.exit_code == 2
    assert "empty" in empty.output
