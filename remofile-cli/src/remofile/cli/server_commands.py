"""The server-related commands: run, start, stop, generate-token, generate-keys."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import click
from remofile.cli.common import fail
from remofile.cli.exit_codes import ExitStatus
from remofile.cli.log_format import configure_logging
from remofile.cli.settings import PRIVATE_KEY_VARIABLE, TOKEN_VARIABLE
from remofile.cli.token_store import store_token, stored_token, token_path
from remofile.core import generate_keys, generate_token
from remofile.core.credentials import is_token_valid, public_key_of, validate_key, validate_token
from remofile.core.limits import (
    DEFAULT_CHUNK_SIZE_RANGE_BYTES,
    DEFAULT_FILE_SIZE_LIMIT_BYTES,
    DEFAULT_PORT,
    DEFAULT_SESSION_TIMEOUT_MS,
)
from remofile.server import Server
from remofile.server.locations import check_storage, is_storage_url

#: Where `start` and `stop` keep the daemon's process id when --pidfile is not given.
DEFAULT_PIDFILE = "daemon.pid"

#: How long `stop` waits for the daemon to exit after asking it to.
STOP_TIMEOUT_S = 15.0

#: The address `run` and `start` listen on by default: this machine only.
DEFAULT_ADDRESS = "127.0.0.1"


class ServerCommand(click.Command):
    """run and start: a TOKEN argument that starts with '-' is still the token.

    Tokens made by older versions of generate-token start with '-' one time in 64, and
    click would read one as an option. An argument of the token's form that is not an
    option of the command (nor a bundle of its one-letter flags) is moved behind '--',
    where it stays the last positional argument, which TOKEN is.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" not in args:
            flags = {
                name[1]
                for parameter in self.params
                for name in getattr(parameter, "opts", [])
                if len(name) == 2 and name.startswith("-")
            }
            names = {name for parameter in self.params for name in getattr(parameter, "opts", [])}
            tokens = [
                argument
                for argument in args
                if argument.startswith("-")
                and not argument.startswith("--")
                and argument not in names
                and is_token_valid(argument)
                and not set(argument[1:]) <= flags
            ]
            if len(tokens) == 1:
                args = [argument for argument in args if argument != tokens[0]]
                args += ["--", tokens[0]]
        return super().parse_args(ctx, args)


def _server_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--address",
            default=DEFAULT_ADDRESS,
            show_default=True,
            help="IP address to listen on; 0.0.0.0 (or ::) listens on every interface.",
        ),
        click.option(
            "--file-size-limit",
            type=click.IntRange(min=1),
            default=DEFAULT_FILE_SIZE_LIMIT_BYTES,
            show_default=True,
            help="Refuse to transfer files larger than this many bytes.",
        ),
        click.option(
            "--min-chunk-size",
            type=click.IntRange(min=1),
            default=DEFAULT_CHUNK_SIZE_RANGE_BYTES[0],
            show_default=True,
            help="Refuse transfers whose chunks are smaller than this many bytes.",
        ),
        click.option(
            "--max-chunk-size",
            type=click.IntRange(min=1),
            default=DEFAULT_CHUNK_SIZE_RANGE_BYTES[1],
            show_default=True,
            help="Refuse transfers whose chunks are larger than this many bytes.",
        ),
        click.option(
            "--session-timeout",
            type=click.IntRange(min=1),
            default=DEFAULT_SESSION_TIMEOUT_MS,
            show_default=True,
            help="Milliseconds of silence after which a client loses the server.",
        ),
        click.option(
            "--private-key",
            envvar=PRIVATE_KEY_VARIABLE,
            help=f"CURVE private key to encrypt all traffic (or set {PRIVATE_KEY_VARIABLE}); "
            "see generate-keys.",
        ),
        click.option(
            "-v",
            "--verbose",
            count=True,
            help="Log more (-v: operations, -vv: every request); one line per session is "
            "always logged.",
        ),
        click.option(
            "--log-format",
            type=click.Choice(["text", "json"]),
            default="text",
            show_default=True,
            help="Log lines for people, or one JSON object per line for log collectors.",
        ),
        click.option(
            "--new-token",
            is_flag=True,
            help="Make a new token (and keep it) instead of the one kept for DIRECTORY.",
        ),
        click.option(
            "--token-file",
            type=click.File("r"),
            help=f"Read the token from this file (or set {TOKEN_VARIABLE}), so that it does "
            "not show in the process list.",
        ),
        click.argument("token", required=False),
        click.argument("port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, required=False),
        click.argument("directory", type=_ServedRoot()),
    ]
    for option in options:
        command = option(command)
    return command


class _ServedRoot(click.ParamType[Any]):
    """An existing directory, or ``s3://bucket/prefix`` (endpoint and credentials from
    the ``AWS_*`` variables, never from the command line)."""

    name = "directory"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and is_storage_url(value):
            return value
        return click.Path(exists=True, file_okay=False).convert(value, param, ctx)


def _token_of(argument: str | None, token_file: Any) -> str | None:
    """The token from the command line, a --token-file or REMOFILE_TOKEN, in that order;
    None to generate one. Two sources at once are a usage error."""
    if argument is not None and token_file is not None:
        fail("give the token as an argument or with --token-file, not both", ExitStatus.USAGE)
    if token_file is not None:
        token = str(token_file.read()).strip()
        if not token:
            fail(f"the token file {token_file.name} is empty", ExitStatus.USAGE)
        return token
    return argument if argument is not None else os.environ.get(TOKEN_VARIABLE) or None


def _token_for(directory: str, token: str | None, new_token: bool) -> tuple[str | None, str]:
    """The token to serve ``directory`` with, and a line saying where it comes from.

    A token given (argument, --token-file, REMOFILE_TOKEN) is used as it is and kept
    nowhere. Without one, the token kept for the directory is used again (see
    token_store), or a new one is made and kept, as with --new-token.
    """
    if token is not None:
        if new_token:
            fail("--new-token makes a token: give none with it", ExitStatus.USAGE)
        return token, ""
    if not new_token:
        kept = stored_token(directory)
        if kept is not None and is_token_valid(kept):
            return (
                kept,
                f"Token kept for this directory in {token_path(directory)} (--new-token makes another)",
            )
    made = generate_token()
    try:
        where = store_token(directory, made)
    except OSError as error:
        return made, f"Generated token: {made} (not kept: {error.strerror}: {error.filename})"
    return made, f"Generated token: {made} (kept in {where} for the next start)"


def _build_server(
    directory: str,
    token: str | None,
    file_size_limit: int,
    min_chunk_size: int,
    max_chunk_size: int,
    session_timeout: int,
    private_key: str | None,
) -> tuple[Server, str, bool]:
    """The server the options describe, its token, and whether the token was generated."""
    generated = token is None
    token = generate_token() if token is None else token
    if max_chunk_size < min_chunk_size:
        fail("--max-chunk-size must not be below --min-chunk-size", ExitStatus.USAGE)
    try:
        validate_token(token)
        if private_key is not None:
            validate_key(private_key)
        if is_storage_url(directory):
            # A bucket is tried now, so that a wrong name or credentials fail here; the
            # server opens it again once running (a daemon closes inherited sockets).
            check_storage(directory)
        server = Server(
            directory,
            token,
            private_key,
            file_size_limit=file_size_limit,
            chunk_size_range=(min_chunk_size, max_chunk_size),
            session_timeout_ms=session_timeout,
        )
    except (ValueError, NotADirectoryError) as error:
        fail(str(error), ExitStatus.USAGE)
        raise
    return server, token, generated


def _client_settings_text(address: str, port: int, token: str, private_key: str | None) -> str:
    host = "127.0.0.1" if address in ("0.0.0.0", "*") else "::1" if address == "::" else address
    lines = [
        f"export REMOFILE_HOSTNAME={host}",
        f"export REMOFILE_PORT={port}",
        f"export REMOFILE_TOKEN={token}",
    ]
    if private_key is not None:
        lines.append(f"export REMOFILE_PUBLIC_KEY='{public_key_of(private_key)}'")
    return "\n".join(lines)


def _check_port_free(address: str, port: int) -> int:
    """Fail now, while the error can still be shown, if the port is taken.

    :returns: the port to listen on: a free one chosen now for port 0, so that the
        settings printed for clients name the real port.
    """
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    bind_address = "" if address in ("0.0.0.0", "*") else address
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((bind_address, port))
        except OSError as error:
            fail(f"cannot listen on {address}:{port}: {error.strerror}", ExitStatus.FAILURE)
        chosen: int = probe.getsockname()[1]
        return chosen


class _Stopper:
    """Stops the server on SIGINT or SIGTERM, whenever the signal comes.

    Python runs a signal handler only between bytecodes of the main thread, and that
    thread may sit in the server's poll with no timeout when the signal arrived just
    before it got there; before the server runs, terminate() refuses. So the handlers
    only write a byte (as does the C handler, through the wakeup fd) and a thread waiting
    for it stops the server as soon as it runs.
    """

    def __init__(self, server: Server) -> None:
        self._server = server
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)

    @property
    def files(self) -> list[socket.socket]:
        """What a daemon must keep open across its detaching."""
        return [self._reader, self._writer]

    def handle(self, _signal: int, _frame: object) -> None:
        with contextlib.suppress(OSError):
            self._writer.send(b"\0")

    def arm(self) -> None:
        """In the serving process, from the main thread: catch the signals from now on."""
        signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, self.handle)
        signal.signal(signal.SIGINT, self.handle)
        threading.Thread(target=self._stop_when_signalled, daemon=True).start()

    def _stop_when_signalled(self) -> None:
        self._reader.recv(1)
        while True:
            if self._server.wait_until_ready(0.05):
                with contextlib.suppress(RuntimeError):
                    self._server.terminate()
                    return


def _serve(server: Server, port: int, address: str) -> None:
    try:
        server.run(port, None if address == "*" else address)
    except RuntimeError as error:
        fail(str(error), ExitStatus.FAILURE)


@click.command("run", cls=ServerCommand)
@_server_options
def run_command(
    directory: str,
    port: int,
    token: str | None,
    token_file: Any,
    new_token: bool,
    address: str,
    file_size_limit: int,
    min_chunk_size: int,
    max_chunk_size: int,
    session_timeout: int,
    private_key: str | None,
    verbose: int,
    log_format: str,
) -> None:
    """Serve DIRECTORY in the foreground until interrupted (Ctrl-C).

    DIRECTORY must exist; it is jailed: clients see it as / and nothing outside it.
    It may be s3://BUCKET/PREFIX, served from an S3-compatible store whose endpoint and
    credentials come from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    PORT is 6768 by default (0 picks a free one). The token comes from TOKEN,
    --token-file or REMOFILE_TOKEN (the last two keep it out of the process list); when
    there is none, the token of the last start for DIRECTORY is used again, or one is
    generated and kept (mode 0600, in ~/.local/state/remofile/, outside DIRECTORY);
    --new-token replaces it. The command prints the settings a client needs, ready to
    paste into a shell.

    \b
    Examples:
      remofile run my-directory/ 6768
      remofile run --address 0.0.0.0 --token-file /etc/remofile/token my-directory/
    """
    configure_logging(verbose, log_format)
    token, origin = _token_for(directory, _token_of(token, token_file), new_token)
    server, token, _ = _build_server(
        directory,
        token,
        file_size_limit,
        min_chunk_size,
        max_chunk_size,
        session_timeout,
        private_key,
    )
    port = _check_port_free(address, port)
    _Stopper(server).arm()
    if origin:
        click.echo(origin)
    click.echo(f"Serving {server.root_directory} on {address}:{port}. Client settings:")
    click.echo(_client_settings_text(address, port, token, private_key))
    sys.stdout.flush()
    _serve(server, port, address)
    click.echo("Server stopped.", err=True)


def _read_pid(pidfile: str) -> int | None:
    try:
        with open(pidfile, encoding="ascii") as handle:
            return int(handle.read().strip() or "0") or None
    except FileNotFoundError:
        return None
    except ValueError:
        return None


def _is_alive(pid: int) -> bool:
    """Whether the process runs; a zombie (exited, not yet reaped by init) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rpartition(b")")[2].split()[:1]
    except OSError:
        return True  # no /proc: trust the signal
    return state not in ([b"Z"], [b"X"])


def _looks_like_remofile(pid: int) -> bool:
    """Whether the process is a remofile server, so a recycled pid is never signalled."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command_line = handle.read()
    except OSError:
        return True  # no /proc: trust the live process the pidfile names
    # The daemon's command line: [python] .../remofile (or rmf, or -m remofile.cli) start ...
    arguments = [os.path.basename(argument) for argument in command_line.split(b"\0")]
    commands = {b"remofile", b"rmf", b"remofile.cli"}
    return b"start" in arguments and not commands.isdisjoint(arguments)


@click.command("start", cls=ServerCommand)
@click.option(
    "--pidfile",
    type=click.Path(dir_okay=False),
    default=DEFAULT_PIDFILE,
    show_default=True,
    help="Where to write the daemon's process id; stop reads it.",
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False),
    help="Append the daemon's log to this file (nothing is logged without it).",
)
@_server_options
def start_command(
    directory: str,
    port: int,
    token: str | None,
    pidfile: str,
    log_file: str | None,
    token_file: Any,
    new_token: bool,
    address: str,
    file_size_limit: int,
    min_chunk_size: int,
    max_chunk_size: int,
    session_timeout: int,
    private_key: str | None,
    verbose: int,
    log_format: str,
) -> None:
    """Serve DIRECTORY in the background, as a daemon; stop it with 'remofile stop'.

    Takes the same arguments as 'run', plus the location of the pidfile (daemon.pid in
    the current directory by default). The settings a client needs are printed before
    the server detaches from the terminal.

    \b
    Example:
      remofile start my-directory/ 6768 --pidfile /run/remofile.pid --log-file remofile.log
    """
    import daemon
    import daemon.pidfile

    pidfile = os.path.abspath(pidfile)
    # The daemon writes the pidfile once detached, where no failure can be shown.
    if not os.access(os.path.dirname(pidfile), os.W_OK | os.X_OK):
        fail(f"cannot write the pidfile {pidfile}: no such writable directory", ExitStatus.FAILURE)
    existing = _read_pid(pidfile)
    if existing is not None and _is_alive(existing) and _looks_like_remofile(existing):
        fail(f"a server is already running with pid {existing} ({pidfile})", ExitStatus.FAILURE)
    if existing is not None or os.path.exists(pidfile):
        click.echo(f"remofile: removing stale pidfile {pidfile}", err=True)
        os.unlink(pidfile)
    token, origin = _token_for(directory, _token_of(token, token_file), new_token)
    server, token, _ = _build_server(
        directory,
        token,
        file_size_limit,
        min_chunk_size,
        max_chunk_size,
        session_timeout,
        private_key,
    )
    port = _check_port_free(address, port)
    try:
        log = open(log_file, "a", encoding="utf-8") if log_file else None  # noqa: SIM115
    except OSError as error:
        fail(f"cannot open the log file {log_file}: {error.strerror}", ExitStatus.FAILURE)
        raise
    if origin:
        click.echo(origin)
    click.echo(
        f"Serving {server.root_directory} on {address}:{port} in the background. Client settings:"
    )
    click.echo(_client_settings_text(address, port, token, private_key))
    sys.stdout.flush()
    stopper = _Stopper(server)
    context = daemon.DaemonContext(
        working_directory=os.getcwd(),
        umask=0o022,
        pidfile=daemon.pidfile.TimeoutPIDLockFile(pidfile, acquire_timeout=5),
        stdout=log,
        stderr=log,
        files_preserve=stopper.files,
        # Caught (not ignored) from before the pidfile is written, so stop is never lost.
        signal_map={
            signal.SIGTERM: stopper.handle,
            signal.SIGINT: stopper.handle,
            signal.SIGHUP: None,
        },
    )
    with context:
        stopper.arm()
        if log is not None:
            configure_logging(max(verbose, 1), log_format)
        _serve(server, port, address)


@click.command("stop")
@click.option(
    "--pidfile",
    type=click.Path(dir_okay=False),
    default=DEFAULT_PIDFILE,
    show_default=True,
    help="The pidfile written by 'remofile start'.",
)
def stop_command(pidfile: str) -> None:
    """Stop a server started with 'remofile start', and wait until it has exited.

    A pidfile whose process no longer runs (or is not a remofile server) is reported
    as stale and removed; nothing is signalled then.

    \b
    Example:
      remofile stop --pidfile /run/remofile.pid
    """
    pid = _read_pid(pidfile)
    if pid is None:
        if os.path.exists(pidfile):
            os.unlink(pidfile)
            fail(f"stale pidfile {pidfile}: it holds no process id; removed", ExitStatus.NOT_FOUND)
        fail(f"no pidfile at {pidfile}: is a server running from here?", ExitStatus.NOT_FOUND)
        return
    if not _is_alive(pid) or not _looks_like_remofile(pid):
        os.unlink(pidfile)
        fail(
            f"stale pidfile {pidfile}: no remofile server runs with pid {pid}; removed",
            ExitStatus.NOT_FOUND,
        )
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _is_alive(pid):
        fail(f"server {pid} did not stop within {STOP_TIMEOUT_S:.0f} s", ExitStatus.FAILURE)
    # The daemon removes its pidfile on exit; remove it if it could not.
    try:
        os.unlink(pidfile)
    except OSError as error:
        if error.errno != errno.ENOENT:
            raise
    click.echo(f"Server {pid} stopped.")


@click.command("generate-token")
def generate_token_command() -> None:
    """Print a new random token (128 bits) for a server and its clients.

    \b
    Example:
      remofile generate-token > token && remofile run --token-file token my-directory/
    """
    click.echo(generate_token())


@click.command("generate-keys")
@click.option("--json", "as_json", is_flag=True, help="Print the keys as JSON.")
def generate_keys_command(as_json: bool) -> None:
    """Print a new pair of CURVE keys to encrypt the communication.

    Keep the private key secret and give it to the server (--private-key or
    REMOFILE_PRIVATE_KEY); give the public key to its clients (REMOFILE_PUBLIC_KEY).

    \b
    Example:
      remofile generate-keys --json
    """
    public_key, private_key = generate_keys()
    if as_json:
        import json

        click.echo(json.dumps({"public_key": public_key, "private_key": private_key}))
        return
    click.echo(f"public key: {public_key}")
    click.echo(f"private key: {private_key}")
