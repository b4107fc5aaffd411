"""Commands that work on remote files where they are, nothing crossing the network:
move (mv), copy (cp) and digest. They need a server of protocol 1.1."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

import click
from remofile.cli.common import client_options, connected, describe, fail, print_json
from remofile.cli.completion import complete_remote_path
from remofile.cli.exit_codes import ExitStatus, exit_status_of
from remofile.cli.remote_paths import RemoteArguments
from remofile.client import Client
from remofile.core.exceptions import FileNameError, InvalidDestinationError, SourceNotFound
from remofile.core.paths import join_remote_path, split_remote_path

#: Characters that make the last component of a remote path a glob pattern.
GLOB_CHARACTERS = frozenset("*?[")


def _placement(client: Client, source: str, destination: str, timeout: int) -> tuple[str, str, str]:
    """``(directory, name, path)`` where SOURCE goes, by mv's and cp's rules.

    An existing remote directory receives the entry under its own name; any other
    DESTINATION is the new path, its parent an existing directory and its last
    component the new name. A DESTINATION ending with / must be an existing directory.
    """
    components = split_remote_path(source)
    if not components:
        raise ValueError("the root directory cannot be moved or copied")
    own_name = components[-1]
    target = split_remote_path(destination)
    if not target:
        return "/", own_name, join_remote_path((own_name,))
    parent = join_remote_path(target[:-1])
    existing = client.list_files(parent, timeout).get(target[-1])
    if existing is not None and existing.is_directory:
        return join_remote_path(target), own_name, join_remote_path((*target, own_name))
    if destination.endswith("/"):
        raise NotADirectoryError(f"no such remote directory: {join_remote_path(target)}")
    return parent, target[-1], join_remote_path(target)


def _is_directory(client: Client, path: str, timeout: int) -> bool:
    components = split_remote_path(path)
    entry = client.list_files(join_remote_path(components[:-1]), timeout).get(components[-1])
    return entry is not None and entry.is_directory


def _move_or_copy(
    operation: str, source: str, destination: str, force: bool, timeout: int, as_json: bool
) -> None:
    remote = RemoteArguments()
    source_path = join_remote_path(split_remote_path(remote.path(source, "source")))
    destination = remote.path(destination, "destination")
    with connected(as_json, timeout, remote.server) as client:
        directory, name, target = _placement(client, source_path, destination, timeout)
        if target == source_path:
            fail(f"{source_path} and {target} are the same file", ExitStatus.USAGE, as_json)
        call = client.move_file if operation == "move" else client.copy_file
        try:
            call(source_path, directory, name, replace=force, timeout=timeout)
        except FileExistsError:
            hint = "a directory replaces nothing" if force else "-f replaces it"
            fail(f"already exists: {target} ({hint})", ExitStatus.EXISTS, as_json)
        except IsADirectoryError:
            if not (force and _is_directory(client, target, timeout)):
                raise  # a directory to copy: the server's message names it
            fail(f"a directory cannot be replaced: {target}", ExitStatus.NOT_FOUND, as_json)
        except InvalidDestinationError:
            fail(f"cannot move {source_path} into itself ({target})", ExitStatus.REFUSED, as_json)
    if as_json:
        print_json({"source": source_path, "destination": target})


@click.command("move")
@click.argument("source", shell_complete=complete_remote_path)
@click.argument("destination", shell_complete=complete_remote_path)
@click.option(
    "-f",
    "--force",
    is_flag=True,
    help="Replace a file of that name, atomically (a directory is never replaced).",
)
@client_options
def move_command(source: str, destination: str, force: bool, timeout: int, as_json: bool) -> None:
    """Move or rename a remote file or directory, like mv (alias: mv).

    DESTINATION is an existing remote directory, which receives SOURCE under its own
    name, or the new path of SOURCE, whose parent must exist (a DESTINATION ending with
    / must be a directory). A taken name fails with status 4 unless -f is given. The
    move is atomic, and a directory moves with everything it holds; moving a directory
    into itself is refused (status 5).

    \b
    Example:
      remofile move /www/old.html /archive
    """
    _move_or_copy("move", source, destination, force, timeout, as_json)


@click.command("copy")
@click.argument("source", shell_complete=complete_remote_path)
@click.argument("destination", shell_complete=complete_remote_path)
@click.option(
    "-f",
    "--force",
    is_flag=True,
    help="Replace a file of that name, atomically (a directory is never replaced).",
)
@client_options
def copy_command(source: str, destination: str, force: bool, timeout: int, as_json: bool) -> None:
    """Copy a remote file on the server, like cp (alias: cp); nothing crosses the network.

    SOURCE must be a file. DESTINATION is an existing remote directory, which receives
    the copy under the name of SOURCE, or the path of the copy, whose parent must exist
    (a DESTINATION ending with / must be a directory). A taken name fails with status 4
    unless -f is given. The copy keeps the modification time of SOURCE and appears
    complete or not at all.

    \b
    Example:
      remofile copy /www/index.html /www/index.bak
    """
    _move_or_copy("copy", source, destination, force, timeout, as_json)


def _files_named(client: Client, path: str, remote: str, timeout: int) -> Iterator[tuple[str, str]]:
    """``(shown, remote)`` of each file PATH (``remote`` once parsed) names: itself, or
    the files its last component matches when that is a glob pattern (shown with the
    prefix as typed)."""
    components = split_remote_path(remote)
    if not components or not any(c in GLOB_CHARACTERS for c in components[-1]):
        yield path, remote
        return
    prefix = path.rpartition("/")[0]
    listing = client.list_entries(join_remote_path(components[:-1]), timeout)
    names = [
        entry.name
        for entry in listing
        if not entry.is_directory and fnmatch.fnmatchcase(entry.name, components[-1])
    ]
    if not names:
        raise SourceNotFound(f"no file matches {join_remote_path(components)}")
    for name in names:
        shown = f"{prefix}/{name}" if "/" in path else name
        yield shown, join_remote_path((*components[:-1], name))


#: Failures that concern one PATH of digest; the others end the command.
_PER_PATH_FAILURES = (
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    SourceNotFound,
    FileNameError,
    ValueError,
)


@click.command("digest")
@click.argument(
    "paths", nargs=-1, required=True, metavar="PATH...", shell_complete=complete_remote_path
)
@click.option(
    "-a",
    "--algorithm",
    type=click.Choice(["blake3", "sha256"]),
    help="The hash function; by default the fastest one both ends have (BLAKE3).",
)
@client_options
def digest_command(
    paths: tuple[str, ...], algorithm: str | None, timeout: int, as_json: bool
) -> None:
    """Print the digest of remote files, computed by the server, like b3sum or sha256sum.

    Each line is the hexadecimal digest, two spaces and the PATH as typed, so the
    output can be checked with 'b3sum -c' or 'sha256sum -c' where the files were
    downloaded (the paths are remote and absolute: take off the leading / with
    sed 's|  /|  |' to check a copy below the working directory). The last component of a PATH may be a glob
    pattern such as '/logs/*.txt' (quote it from the shell): every matching file is
    digested. A PATH that fails is reported and the others are still printed; the exit
    status is then that of the first failure.

    \b
    Example:
      remofile digest -a sha256 '/my-os-isos/*.iso'
    """
    results: list[dict[str, object]] = []
    failure: ExitStatus | None = None
    arguments = RemoteArguments()
    parsed = [arguments.path(path) for path in paths]
    with connected(as_json, timeout, arguments.server) as client:
        for path, absolute in zip(paths, parsed, strict=True):
            try:
                for shown, remote in _files_named(client, path, absolute, timeout):
                    digest = client.file_digest(remote, algorithm, timeout)
                    if as_json:
                        results.append(
                            {
                                "algorithm": digest.algorithm,
                                "digest": digest.digest,
                                "size": digest.size,
                                "path": shown,
                            }
                        )
                    else:
                        click.echo(f"{digest.digest}  {shown}")
            except _PER_PATH_FAILURES as error:
                status = exit_status_of(error)
                failure = status if failure is None else failure
                if as_json:
                    results.append(
                        {"path": path, "error": status.name.lower(), "message": describe(error)}
                    )
                click.echo(f"remofile: {describe(error)}", err=True)
    if as_json:
        print_json(results)
    if failure is not None:
        raise SystemExit(int(failure))
