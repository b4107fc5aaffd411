"""What every client command shares: settings, the client, errors, verbosity and --json."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from remofile.cli.client_keys import held_client_key
from remofile.cli.exit_codes import ExitStatus, exit_status_of
from remofile.cli.reachability import UnreachableError, check_reachable
from remofile.cli.settings import SettingError, client_settings, server_names
from remofile.client import Client
from remofile.core.exceptions import AccessDeniedError

#: Timeout of a client command when -t is not given: long enough for a busy disk,
#: short enough that a script never hangs on a dead server.
DEFAULT_TIMEOUT_MS = 30_000

#: Keys of click's ctx.meta where the common options leave their values.
VERBOSITY_KEY = "remofile.verbosity"
PROFILE_KEY = "remofile.profile"

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, status: ExitStatus, as_json: bool = False) -> None:
    """End the command: one line on standard error (and a JSON object with --json)."""
    if as_json:
        click.echo(json.dumps({"error": status.name.lower(), "message": message}))
    click.echo(f"remofile: {message}", err=True)
    sys.exit(int(status))


def verbosity() -> int:
    """-1 with -q, 0 by default, 1 with -v (more with -vv)."""
    context = click.get_current_context(silent=True)
    return 0 if context is None else int(context.meta.get(VERBOSITY_KEY, 0))


def note(message: str) -> None:
    """A line on standard error that -q silences: warnings, summaries."""
    if verbosity() >= 0:
        click.echo(message, err=True)


def detail(message: str) -> None:
    """A line on standard error shown only with -v: what is done, as it is done."""
    if verbosity() > 0:
        click.echo(message, err=True)


def _store(key: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(context: click.Context, _parameter: click.Parameter, value: Any) -> None:
        if key == VERBOSITY_KEY:
            value = context.meta.get(key, 0) + value
        if value is not None:
            context.meta[key] = value

    return callback


#: The callback of --server, on the group and on each client command.
store_profile = _store(PROFILE_KEY)


def _complete_server_names(
    _context: click.Context, _parameter: click.Parameter, incomplete: str
) -> list[str]:
    return [name for name in server_names() if name.startswith(incomplete)]


def client_options(command: F) -> F:
    """Add -t/--timeout, --json, -v/--verbose, -q/--quiet and --server to a client command."""
    command = click.option(
        "--server",
        "profile",
        metavar="NAME",
        expose_value=False,
        callback=store_profile,
        shell_complete=_complete_server_names,
        help="Use the server NAME of the config file (~/.config/remofile/config.toml); "
        "or set REMOFILE_PROFILE.",
    )(command)
    command = click.option(
        "-q",
        "--quiet",
        flag_value=-1,
        default=0,
        expose_value=False,
        callback=_store(VERBOSITY_KEY),
        help="Print only errors: no warnings, progress or summary.",
    )(command)
    command = click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=_store(VERBOSITY_KEY),
        help="Say what is done as it is done (each file, the server reached).",
    )(command)
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
def connected(
    as_json: bool,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    url_server: tuple[str, int | None] | None = None,
) -> Iterator[Client]:
    """A client for the configured server; any failure ends the command cleanly.

    The server is first probed (see reachability), so a server that is not running,
    a name that does not resolve or a wrong public key is reported at once.
    """
    context = click.get_current_context(silent=True)
    profile = None if context is None else context.meta.get(PROFILE_KEY)
    try:
        settings = client_settings(profile=profile, url_server=url_server)
    except SettingError as error:
        fail(str(error), ExitStatus.USAGE, as_json)
        raise AssertionError("unreachable") from error
    with held_client_key(f"{settings.hostname}:{settings.port}") as client_key:
        try:
            client = Client(
                settings.hostname,
                settings.port,
                settings.token,
                settings.public_key,
                client_key=client_key,
            )
        except ValueError as error:
            fail(f"bad setting: {error}", ExitStatus.USAGE, as_json)
            raise AssertionError("unreachable") from error
        with _failures_reported(client, settings.public_key, timeout_ms, as_json):
            yield client


@contextmanager
def _failures_reported(
    client: Client, public_key: str | None, timeout_ms: int, as_json: bool
) -> Iterator[None]:
    """Run the command's block with ``client``: any failure ends the command cleanly,
    with a message and the exit status of its kind; the client is closed in any case."""
    try:
        try:
            check_reachable(client.endpoint, public_key, timeout_ms)
        except UnreachableError as error:
            fail(str(error), ExitStatus.TIMEOUT, as_json)
        detail(f"remofile: connected to {client.endpoint}")
        yield
    except click.exceptions.Exit:
        raise
    except (click.ClickException, click.Abort):
        raise
    except KeyboardInterrupt:
        fail("interrupted", ExitStatus.INTERRUPTED, as_json)
    except AccessDeniedError as error:
        message = describe(error)
        if "token" not in message:
            message += " (the server refused the token: check REMOFILE_TOKEN)"
        fail(message, ExitStatus.AUTH, as_json)
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
