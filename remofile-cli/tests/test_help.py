"""--help (and -h) for every command: it works, and holds no placeholder text."""

from __future__ import annotations

import re

import click
import pytest
from cli_support import RMF, expect, invoke, run_process
from remofile.cli.main import cli

PLACEHOLDERS = ("Foobar", "To be written", "TODO", "Rest of the description")


def command_paths(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    context = click.Context(group)
    paths: list[list[str]] = [list(prefix)]
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None
        if isinstance(command, click.Group):
            paths += command_paths(command, (*prefix, name))
        else:
            paths.append([*prefix, name])
    return paths


#: The aliases of commands, which show their command's help.
ALIASES = {"directory": "folder", "mv": "move", "cp": "copy"}

ALL_COMMANDS = [*command_paths(), *([alias] for alias in ALIASES)]


def test_every_command_is_listed() -> None:
    names = {" ".join(path) for path in ALL_COMMANDS}
    assert names >= {
        "list",
        "file",
        "folder",
        "directory",
        "upload",
        "download",
        "remove",
        "move",
        "mv",
        "copy",
        "cp",
        "digest",
        "sync",
        "sync local",
        "sync remote",
        "run",
        "start",
        "stop",
        "generate-token",
        "generate-keys",
    }


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda path: " ".join(path) or "remofile")
def test_help(path: list[str]) -> None:
    for flag in ("--help", "-h"):
        result = expect(invoke([*path, flag]), 0)
        shown = [ALIASES.get(name, name) for name in path]
        assert result.stdout.startswith(" ".join(["Usage: remofile", *shown, "[OPTIONS]"]))
        assert result.stderr == ""
        assert "-h, --help" in result.stdout
        # Every command shows how it is typed: an example line (issue 15).
        assert re.search(r"^  Examples?:\n    remofile ", result.stdout, re.MULTILINE), path
        for placeholder in PLACEHOLDERS:
            assert placeholder.lower() not in result.stdout.lower(), (path, placeholder)


def test_every_option_has_help_text() -> None:
    context = click.Context(cli)
    for path in ALL_COMMANDS:
        command: click.Command = cli
        for name in path:
            assert isinstance(command, click.Group)
            found = command.get_command(context, name)
            assert found is not None
            command = found
        assert command.help, path
        for parameter in command.params:
            if isinstance(parameter, click.Option):
                assert parameter.help, (path, parameter.name)
                for placeholder in PLACEHOLDERS:
                    assert placeholder.lower() not in parameter.help.lower()


@pytest.mark.parametrize(("alias", "command"), ALIASES.items())
def test_help_of_an_alias_is_its_command_help(alias: str, command: str) -> None:
    assert invoke([alias, "--help"]).stdout == invoke([command, "--help"]).stdout


def test_help_as_a_process() -> None:
    result = expect(run_process(["--help"], program=RMF), 0)
    assert "Commands:" in result.stdout
    version = expect(invoke(["--version"]), 0)
    assert version.stdout.startswith("remofile, version ")
