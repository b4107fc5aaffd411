"""What every client command shares: settings, the client, errors and --json output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from remofile.cli.exit_codes import ExitStatus, exit_status_of
from remofile.cli.settings import SettingError, client_settings
from remofile.client import Client

#: Timeout of a client command when -t is not given: long enough for a busy disk,
#: short enough that a script never hangs on a dead server.
DEFAULT_TIMEOUT_MS = 30_000

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, status: ExitStatus, as_json: bool = False) -> None:
    """End the command: one line on standard error (and a JSON object with --json)."""
    if as_json:
        click.echo(json.dumps({"error": status.name.lower(), "message": message}))
    click.echo(f"remofile: {message}", err=True)
    sys.exit(int(status))


def client_options(command: F) -> F:
    """Add -t/--timeout and --json to a client command."""
    command = click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print the result as JSON, for scripts.",
    )(command)
    command = click.option(
        "-t",
        "--timeout",
        type=click.IntRange(min=1),
        default=DEFAULT_TIMEOUT_MS,
        show_default=True,
        help="Milliseconds to wait for each response of the server before giving up.",
    )(command)
    return command


@contextmanager
def connected(as_json: bool) -> Iterator[Client]:
    """A client for the configured server; any failure ends the command cleanly."""
    try:
        settings = client_settings()
    except SettingError as error:
        fail(str(error), ExitStatus.USAGE, as_json)
        raise AssertionError("unreachable") from error
    try:
        client = Client(settings.hostname, settings.port, settings.token, settings.public_key)
    except ValueError as error:
        fail(f"bad setting: {error}", ExitStatus.USAGE, as_json)
        raise AssertionError("unreachable") from error
    try:
        yield client
    except click.exceptions.Exit:
        raise
    except (click.ClickException, click.Abort):
        raise
    except KeyboardInterrupt:
        fail("interrupted", ExitStatus.INTERRUPTED, as_json)
    except Exception as error:
        fail(describe(error), exit_status_of(error), as_json)
    finally:
        client.close()


def describe(error: BaseException) -> str:
    """A one-line description of a failure, without a traceback."""
    if isinstance(error, OSError) and error.strerror and error.filename:
        return f"{error.strerror}: {error.filename}"
    return str(error) or type(error).__name__


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=None, sort_keys=True))
