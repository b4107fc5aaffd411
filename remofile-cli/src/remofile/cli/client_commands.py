"""The client-related commands: list, file, folder, upload, download, remove, sync.

Every argument is checked before anything is sent: remote paths are absolute (or
remofile:// URLs, see remote_paths), local sources exist, and for transfers the taken
names at the destination are found before the first byte moves (see transfer_plans).
"""

from __future__ import annotations

import contextlib
import glob
import os
import sys
import time
from collections.abc import Iterator

import click
from remofile.cli.common import (
    F,
    client_options,
    connected,
    describe,
    detail,
    fail,
    note,
    print_json,
    verbosity,
)
from remofile.cli.completion import complete_remote_directory, complete_remote_path
from remofile.cli.exit_codes import ExitStatus
from remofile.cli.progress import TransferProgress, human_size
from remofile.cli.remote_paths import RemoteArguments, RemotePathError, is_url, looks_remote
from remofile.cli.transfer_plans import Item, Plan, plan_download, plan_upload
from remofile.client import (
    Client,
    SyncReport,
    synchronize_download,
    synchronize_upload,
    upload_files,
)
from remofile.client.algorithms import ChangeCallback, download_files
from remofile.client.chunks import Compress
from remofile.core.exceptions import DestinationNotFound, FileSizeError, SourceNotFound
from remofile.core.paths import join_remote_path, split_remote_path


def _time_text(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


@click.command("list")
@click.argument("directory", default="/", required=False, shell_complete=complete_remote_directory)
@click.option(
    "-a",
    "-l",
    "--all",
    "show_all",
    is_flag=True,
    help="Show the type, size and modification time of each file.",
)
@click.option(
    "-H",
    "--human-readable",
    is_flag=True,
    help="With -l, sizes in binary units (1.5 KiB, 800 MiB) instead of bytes.",
)
@click.option(
    "-r", "--recursive", is_flag=True, help="List sub-directories and their contents too."
)
@client_options
def list_command(
    directory: str,
    show_all: bool,
    human_readable: bool,
    recursive: bool,
    timeout: int,
    as_json: bool,
) -> None:
    """List files in the remote directory, like ls.

    DIRECTORY is an absolute path of an existing remote directory (or a
    remofile://HOST:PORT/PATH URL); the root (/) by default. With -a (or -l) each line
    shows the type (d for a directory, - for a file), the size in bytes (with -H in
    KiB, MiB...), the modification time and the name.

    \b
    Example:
      remofile list -l -H /my-os-isos
    """
    remote = RemoteArguments()
    directory = remote.path(directory, "directory")
    with connected(as_json, timeout, remote.server) as client:
        entries = client.list_entries(directory, timeout, recursive=recursive)
        if as_json:
            print_json(
                [
                    {
                        "name": entry.name,
                        "is_directory": entry.is_directory,
                        "size": entry.size,
                        "modification_time": entry.modification_time_ns / 1e9,
                    }
                    for entry in entries
                ]
            )
            return
        if not show_all:
            for entry in entries:
                click.echo(entry.name + ("/" if entry.is_directory else ""))
            return
        sizes = [human_size(e.size) if human_readable else str(e.size) for e in entries]
        width = max((len(size) for size in sizes), default=1)
        for entry, size in zip(entries, sizes, strict=True):
            kind = "d" if entry.is_directory else "-"
            when = _time_text(entry.modification_time_ns / 1e9)
            click.echo(f"{kind} {size:>{width}} {when} {entry.name}")


def _create(
    kind: str, name: str, directory: str, update: bool, timeout: int, as_json: bool
) -> None:
    remote = RemoteArguments()
    directory = remote.path(directory, "directory")
    with connected(as_json, timeout, remote.server) as client:
        create = client.create_file if kind == "file" else client.make_directory
        created = True
        try:
            create(name, directory, timeout)
        except FileExistsError:
            if not update:
                raise
            # -u accepts an existing entry of the same kind only, as mkdir -p does.
            existing = client.list_files(directory, timeout).get(name)
            if existing is None or existing.is_directory != (kind == "folder"):
                path = join_remote_path((*split_remote_path(directory), name))
                raise FileExistsError(f"already exists and is not a {kind}: {path}") from None
            created = False
        if as_json:
            path = join_remote_path((*split_remote_path(directory), name))
            print_json({"path": path, "created": created})


@click.command("file")
@click.argument("name")
@click.argument("directory", default="/", required=False, shell_complete=complete_remote_directory)
@click.option(
    "-u",
    "--update",
    is_flag=True,
    help="Succeed, leaving it unchanged, if the file already exists.",
)
@client_options
def file_command(name: str, directory: str, update: bool, timeout: int, as_json: bool) -> None:
    """Create an empty file NAME in the remote DIRECTORY (the root by default), like touch.

    It fails if the name is taken, unless -u is given; unlike touch it never changes
    an existing file's time.

    \b
    Example:
      remofile file notes.txt /my-os-isos
    """
    _create("file", name, directory, update, timeout, as_json)


@click.command("folder")
@click.argument("name")
@click.argument("directory", default="/", required=False, shell_complete=complete_remote_directory)
@click.option(
    "-u",
    "--update",
    is_flag=True,
    help="Succeed, leaving it unchanged, if the folder already exists.",
)
@client_options
def folder_command(name: str, directory: str, update: bool, timeout: int, as_json: bool) -> None:
    """Create an empty folder NAME in the remote DIRECTORY (the root by default), like mkdir.

    It fails if the name is taken, unless -u is given.

    \b
    Example:
      remofile folder my-os-isos /
    """
    _create("folder", name, directory, update, timeout, as_json)


def _existing_options(command: F) -> F:
    """-f/--force and --ignore-existing: what a transfer does with a name that exists."""
    command = click.option(
        "--ignore-existing",
        is_flag=True,
        help="Skip files whose name exists at the destination, saying so, like rsync's.",
    )(command)
    command = click.option(
        "-f",
        "--force",
        is_flag=True,
        help="Replace existing files, atomically; directories merge into existing ones.",
    )(command)
    return command


def _check_existing_choice(force: bool, ignore_existing: bool) -> None:
    if force and ignore_existing:
        raise click.UsageError("-f/--force and --ignore-existing exclude each other")


@contextlib.contextmanager
def _taken_name_explained(as_json: bool, where: str = "") -> Iterator[None]:
    """A name taken at the destination ends the command naming it, and the ways out."""
    try:
        yield
    except FileExistsError as error:
        hint = "-f replaces it, --ignore-existing skips it"
        fail(f"{describe(error)}{where} ({hint})", ExitStatus.EXISTS, as_json)


def _report_skipped(skipped: list[str], as_json: bool) -> None:
    """One line per file skipped because its name exists, and how many (--ignore-existing)."""
    if as_json:
        return
    for path in skipped:
        click.echo(f"skipped (exists): {path}")
    note(f"{len(skipped)} skipped (exists)")


def _summarize(bars: TransferProgress, verb: str, progress: bool, as_json: bool) -> None:
    """The closing line of a transfer (files, bytes, time, rate) on standard error: with
    -p or -v, or when standard error is a terminal; never with -q or --json."""
    if as_json or verbosity() < 0:
        return
    if progress or verbosity() > 0 or sys.stderr.isatty():
        click.echo(bars.summary(verb), err=True)


def _warn_skipped(plan: Plan, verb: str) -> None:
    for path in plan.skipped_directories:
        note(f"remofile: skipping directory {path} (use -r to {verb} directories)")
    for link, target in plan.skipped_links:
        note(f"remofile: skipping symbolic link {link} -> {target} (use -L to follow links)")


def _conflicts(
    plan: Plan, taken: dict[str, bool], force: bool, ignore_existing: bool, where: str
) -> list[Item]:
    """The items whose name is taken at the destination (``taken``: relative path ->
    is a directory). Without -f or --ignore-existing the first one ends the command,
    before anything is transferred."""
    clashing = [item for item in plan.items if item.relative in taken]
    if clashing and not (force or ignore_existing):
        raise FileExistsError(f"already exists: {join_path(where, clashing[0].relative)}")
    return clashing


def _check_size_limit(client: Client, plan: Plan, left_alone: set[str], timeout: int) -> None:
    """A file over the server's size limit ends the command before anything moves
    (status 5): the limit is announced when the session opens."""
    limit = client.server_info(timeout).file_size_limit
    if not limit:
        return
    for item in plan.items:
        if item.relative in left_alone:
            continue
        for path, size in plan.files_of(item):
            if size > limit:
                raise FileSizeError(
                    f"{path} is {size} bytes, over the server's limit of {limit} bytes "
                    f"(nothing was transferred)"
                )


def join_path(directory: str, relative: str) -> str:
    return directory.rstrip("/") + "/" + relative if directory != "/" else "/" + relative


def _remote_destination_exists(client: Client, destination: str, timeout: int) -> bool:
    """Whether the remote destination directory exists; False when only its last
    component is missing (it is then made, as scp and rsync do).

    :raises DestinationNotFound: if its parent is missing, or it is a file.
    """
    components = split_remote_path(destination)
    if not components:
        return True
    parent = join_remote_path(components[:-1])
    try:
        entry = client.list_files(parent, timeout).get(components[-1])
    except (FileNotFoundError, NotADirectoryError) as error:
        raise DestinationNotFound(
            f"no such remote directory: {parent} (only the last component of the "
            f"destination is made)"
        ) from error
    if entry is not None and not entry.is_directory:
        raise DestinationNotFound(f"the destination is a file, not a directory: {destination}")
    return entry is not None


def _make_remote_parents(
    client: Client, destination: str, parents: tuple[str, ...], known: set[str], timeout: int
) -> str:
    """Make the sub-directories ``parents`` of the destination that are missing."""
    top = split_remote_path(destination)
    for end in range(1, len(parents) + 1):
        relative = "/".join(parents[:end])
        if relative not in known:
            client.make_directory(
                parents[end - 1], join_remote_path((*top, *parents[: end - 1])), timeout
            )
            known.add(relative)
    return join_remote_path((*top, *parents))


def _compress_mode(compress: bool, auto_compress: bool) -> Compress:
    """What -z and --auto-compress ask of the library: False, True or "auto"."""
    return "auto" if auto_compress else compress


@click.command("upload")
@click.argument(
    "paths",
    nargs=-1,
    required=True,
    metavar="SOURCE... [DESTINATION]",
    shell_complete=complete_remote_path,
)
@click.option("-r", "--recursive", is_flag=True, help="Upload directories and their contents.")
@click.option(
    "-L",
    "--copy-links",
    is_flag=True,
    help="Follow symbolic links inside directories (they are skipped, with a warning, without it).",
)
@click.option(
    "-p",
    "--progress",
    is_flag=True,
    help="Show progress bars: per file and in total, with rate and ETA.",
)
@click.option("--resume", is_flag=True, help="Continue interrupted uploads of the same files.")
@click.option(
    "-z",
    "--compress",
    is_flag=True,
    help="Compress the data on the wire (zstd where both ends have it, else zlib).",
)
@click.option(
    "--auto-compress",
    is_flag=True,
    help="Compress only the files that shrink: not those named as compressed already "
    "(.gz, .zip, .jpg, .mp4...), nor one whose first chunk hardly shrinks.",
)
@_existing_options
@client_options
def upload_command(
    paths: tuple[str, ...],
    recursive: bool,
    copy_links: bool,
    progress: bool,
    resume: bool,
    compress: bool,
    auto_compress: bool,
    force: bool,
    ignore_existing: bool,
    timeout: int,
    as_json: bool,
) -> None:
    """Upload local files and directories into a remote directory, like scp.

    With several arguments the last one is the remote DESTINATION, an absolute path
    (it starts with /) or a remofile://HOST:PORT/PATH URL; with one, the destination is
    the root. A missing DESTINATION is made if its parent exists. Directories are
    uploaded only with -r; without it they are skipped with a warning and the command
    exits with status 1, as cp does. A quoted pattern such as 'logs/**/*.txt' keeps the
    structure below its fixed part (logs/a/x.txt lands in DESTINATION/a/x.txt).
    Symbolic links inside directories are skipped with a warning unless -L is given;
    a link named as a SOURCE is followed.

    Every argument is checked before anything is sent. A name that exists in the
    destination stops the upload (status 4), naming it, before any transfer. With -f
    the remote file is replaced atomically: it stays whole until the new one is
    complete; a directory then merges into the remote one of its name. With
    --ignore-existing each such file is left alone and listed as 'skipped (exists):
    PATH'.

    \b
    Examples:
      remofile upload -p ubuntu.iso /my-os-isos
      remofile upload -r src/ docs/ /backup
      remofile upload 'logs/**/*.txt' /logs
    """
    _check_existing_choice(force, ignore_existing)
    remote = RemoteArguments()
    if len(paths) > 1:
        last = paths[-1]
        if not looks_remote(last):
            raise RemotePathError(
                f"the destination {last!r} is not a remote path: remote paths are "
                f"absolute, from the root (write '/{last.lstrip('./')}'); to upload "
                f"every argument to the root, end with /"
            )
        sources, destination = list(paths[:-1]), remote.path(last, "destination")
    else:
        sources, destination = list(paths), "/"
    for source in sources:
        if is_url(source):
            raise click.UsageError(f"{source!r} is remote: upload's sources are local")
    try:
        plan = plan_upload(sources, recursive, copy_links)
    except SourceNotFound as error:
        fail(describe(error), ExitStatus.NOT_FOUND, as_json)
        raise
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    _warn_skipped(plan, "upload")
    uploaded: list[str] = []
    existing: list[str] = []
    moved = 0
    with connected(as_json, timeout, remote.server) as client, _taken_name_explained(as_json):
        exists = _remote_destination_exists(client, destination, timeout)
        taken: dict[str, bool] = {}
        if exists:
            deep = any(item.parents for item in plan.items)
            listing = client.list_files(destination, timeout, recursive=deep)
            taken = {name: entry.is_directory for name, entry in listing.items()}
        clashing = _conflicts(plan, taken, force, ignore_existing, destination)
        left_alone = {
            item.relative for item in clashing if ignore_existing and not item.is_directory
        }
        _check_size_limit(client, plan, left_alone, timeout)
        total = sum(item.size for item in plan.items if item.relative not in left_alone)
        if not exists:
            components = split_remote_path(destination)
            client.make_directory(components[-1], join_remote_path(components[:-1]), timeout)
            detail(f"remofile: made {destination}")
        known = {name for name, is_directory in taken.items() if is_directory}
        with TransferProgress(total, progress and not as_json) as bars:
            for item in plan.items:
                if item.relative in left_alone:
                    existing.append(item.source)
                    continue
                target = _make_remote_parents(client, destination, item.parents, known, timeout)
                if item.is_directory:
                    local = os.path.abspath(item.source)
                    parent = os.path.dirname(local)
                    excluded = [
                        glob.escape(os.path.relpath(link, parent).replace(os.sep, "/"))
                        for link, _ in plan.skipped_links
                        if os.path.abspath(link).startswith(local + os.sep)
                    ]

                    def skip(path: str, top: str = local, source: str = item.source) -> None:
                        existing.append(os.path.join(source, os.path.relpath(path, top)))
                        bars.skip(os.path.getsize(path) if os.path.isfile(path) else 0)

                    upload_files(
                        client,
                        glob.escape(os.path.basename(local)),
                        target,
                        parent,
                        recursive=True,
                        exclude_files=excluded,
                        process_chunk=bars.on_chunk,
                        timeout=timeout,
                        compress=_compress_mode(compress, auto_compress),
                        replace=force,
                        ignore_existing=ignore_existing,
                        process_skipped=skip,
                    )
                else:
                    client.upload_file(
                        item.source,
                        target,
                        process_chunk=bars.on_chunk,
                        timeout=timeout,
                        resume=resume,
                        compress=_compress_mode(compress, auto_compress),
                        replace=force,
                    )
                uploaded.append(item.source)
                detail(f"uploaded {item.source} -> {join_path(destination, item.relative)}")
            moved = bars.bytes_moved
            _summarize(bars, "uploaded", progress, as_json)
    if ignore_existing:
        _report_skipped(existing, as_json)
    if as_json:
        print_json(
            {
                "destination": destination,
                "uploaded": uploaded,
                "skipped": plan.skipped_directories,
                "skipped_links": [link for link, _ in plan.skipped_links],
                "skipped_existing": existing,
                "bytes": moved,
            }
        )
    if plan.skipped_directories:
        raise SystemExit(int(ExitStatus.FAILURE))


def _local_destination_exists(destination: str, as_json: bool) -> bool:
    """Whether the local destination directory exists; False when only its last
    component is missing (it is then made). Anything else ends the command."""
    if os.path.isdir(destination):
        return True
    if os.path.lexists(destination):
        fail(f"the destination is not a directory: {destination}", ExitStatus.NOT_FOUND, as_json)
    parent = os.path.dirname(os.path.abspath(destination))
    if not os.path.isdir(parent):
        fail(
            f"no such local directory: {parent} (only the last component of the "
            f"destination is made)",
            ExitStatus.NOT_FOUND,
            as_json,
        )
    return False


@click.command("download")
@click.argument(
    "paths",
    nargs=-1,
    required=True,
    metavar="SOURCE... [DESTINATION]",
    shell_complete=complete_remote_path,
)
@click.option("-r", "--recursive", is_flag=True, help="Download directories and their contents.")
@click.option(
    "-p",
    "--progress",
    is_flag=True,
    help="Show progress bars: per file and in total, with rate and ETA.",
)
@click.option(
    "--resume", is_flag=True, help="Keep partial files of interrupted downloads and continue them."
)
@click.option(
    "-z",
    "--compress",
    is_flag=True,
    help="Compress the data on the wire (zstd where both ends have it, else zlib).",
)
@click.option(
    "--auto-compress",
    is_flag=True,
    help="Compress only the files that shrink: not those named as compressed already "
    "(.gz, .zip, .jpg, .mp4...), nor one whose first chunk hardly shrinks.",
)
@_existing_options
@client_options
def download_command(
    paths: tuple[str, ...],
    recursive: bool,
    progress: bool,
    resume: bool,
    compress: bool,
    auto_compress: bool,
    force: bool,
    ignore_existing: bool,
    timeout: int,
    as_json: bool,
) -> None:
    """Download remote files and directories into a local directory, like scp.

    Every SOURCE is an absolute remote path (it starts with /) or a
    remofile://HOST:PORT/PATH URL. With one argument the DESTINATION is the current
    directory; with more, the last one is the local DESTINATION, made if missing when
    its parent exists. A SOURCE may hold glob patterns (quote them from the shell):
    '/logs/*.txt', or '/logs/**/*.txt' at any depth, which keeps the structure below
    /logs. Directories are downloaded only with -r; without it they are skipped with a
    warning and the command exits with status 1.

    Every argument is checked before anything is transferred. A name that exists in
    the destination stops the download (status 4), naming it. With -f the local file
    is replaced in one rename once the new copy is complete and verified; a directory
    then merges into the local one of its name. With --ignore-existing each such file
    is left alone and listed as 'skipped (exists): PATH' (its remote path).

    \b
    Examples:
      remofile download /my-os-isos/ubuntu.iso .
      remofile download -r /backup ./restore
      remofile download '/logs/**/*.txt' ./logs
    """
    _check_existing_choice(force, ignore_existing)
    remote = RemoteArguments()
    if len(paths) > 1:
        named, destination = paths[:-1], paths[-1]
        if is_url(destination):
            raise click.UsageError(f"the destination {destination!r} must be a local directory")
    else:
        named, destination = paths, "."
    sources = [remote.path(path, "source") for path in named]
    exists = _local_destination_exists(destination, as_json)
    downloaded: list[str] = []
    existing: list[str] = []
    moved = 0
    with connected(as_json, timeout, remote.server) as client, _taken_name_explained(as_json):
        plan = plan_download(client, sources, recursive, timeout)
        _warn_skipped(plan, "download")
        taken = {
            item.relative: os.path.isdir(os.path.join(destination, *item.parents, item.name))
            for item in plan.items
            if os.path.lexists(os.path.join(destination, *item.parents, item.name))
        }
        clashing = _conflicts(plan, taken, force, ignore_existing, destination)
        left_alone = {
            item.relative for item in clashing if ignore_existing and not item.is_directory
        }
        _check_size_limit(client, plan, left_alone, timeout)
        total = sum(item.size for item in plan.items if item.relative not in left_alone)
        if not exists:
            os.mkdir(destination)
            detail(f"remofile: made {destination}")
        with TransferProgress(total, progress and not as_json) as bars:

            def skip(path: str) -> None:
                existing.append(path)
                bars.skip(plan.sizes.get(path, 0))

            for item in plan.items:
                if item.relative in left_alone:
                    existing.append(item.source)
                    continue
                target = os.path.join(destination, *item.parents)
                os.makedirs(target, exist_ok=True)
                if item.is_directory:
                    components = split_remote_path(item.source)
                    pattern = join_remote_path((*components[:-1], glob.escape(components[-1])))
                    download_files(
                        client,
                        pattern,
                        target,
                        recursive=True,
                        process_chunk=bars.on_chunk,
                        timeout=timeout,
                        resume=resume,
                        compress=_compress_mode(compress, auto_compress),
                        replace=force,
                        ignore_existing=ignore_existing,
                        process_skipped=skip,
                    )
                else:
                    client.download_file(
                        item.source,
                        target,
                        process_chunk=bars.on_chunk,
                        timeout=timeout,
                        resume=resume,
                        compress=_compress_mode(compress, auto_compress),
                        replace=force,
                    )
                downloaded.append(item.source)
                detail(f"downloaded {item.source} -> {os.path.join(target, item.name)}")
            moved = bars.bytes_moved
            _summarize(bars, "downloaded", progress, as_json)
    if ignore_existing:
        _report_skipped(existing, as_json)
    if as_json:
        print_json(
            {
                "destination": destination,
                "downloaded": downloaded,
                "skipped": plan.skipped_directories,
                "skipped_existing": existing,
                "bytes": moved,
            }
        )
    if plan.skipped_directories:
        raise SystemExit(int(ExitStatus.FAILURE))


@click.command("remove")
@click.argument("name", shell_complete=complete_remote_path)
@click.argument("directory", required=False, shell_complete=complete_remote_directory)
@click.option(
    "-p", "--progress", is_flag=True, help="Show how many entries of a directory tree remain."
)
@client_options
def remove_command(
    name: str, directory: str | None, progress: bool, timeout: int, as_json: bool
) -> None:
    """Remove a file or a folder (with everything in it) from the remote directory, like rm -r.

    Give either an absolute path (remofile remove /foo/bar) or a NAME and the remote
    DIRECTORY that holds it (remofile remove bar /foo). The root itself cannot be
    removed.

    \b
    Examples:
      remofile remove /my-os-isos/ubuntu.iso
      remofile remove ubuntu.iso /my-os-isos
    """
    remote = RemoteArguments()
    if directory is None:
        path = remote.path(name)
    else:
        if "/" in name:
            raise click.UsageError(
                f"NAME {name!r} holds a /: give one absolute path, or a name and its directory"
            )
        path = join_remote_path((*split_remote_path(remote.path(directory, "directory")), name))

    def report(removed: int, remaining: int) -> None:
        if progress and not as_json:
            click.echo(f"\rremoved {removed} entries, {remaining} remaining", err=True, nl=False)

    with connected(as_json, timeout, remote.server) as client:
        client.delete_file(path, timeout, process_removal=report)
    if progress and not as_json:
        click.echo("", err=True)
    if as_json:
        print_json({"removed": path})


def _sync_options(command: F) -> F:
    command = click.option("-p", "--progress", is_flag=True, help="Show progress bars.")(command)
    command = click.option("-n", "--dry-run", is_flag=True, help="Only say what would be done.")(
        command
    )
    command = click.option(
        "--exclude",
        multiple=True,
        metavar="PATTERN",
        help="Leave out paths matching PATTERN (repeatable), e.g. '*.tmp' or 'build/*'.",
    )(command)
    command = click.option(
        "--delete", is_flag=True, help="Also remove what the other side does not have."
    )(command)
    command = click.option(
        "-c",
        "--checksum",
        is_flag=True,
        help="Compare files of the same size by content (the server's digest against a "
        "local hash) instead of by modification time, like rsync -c.",
    )(command)
    return command


@click.group("sync")
def sync_group() -> None:
    """Synchronize a local and a remote directory, moving only what differs.

    'sync local' makes the remote directory match the local one (uploads);
    'sync remote' makes the local directory match the remote one (downloads). A file
    is sent when it is missing or differs in size or modification time (with -c: in
    size or content). A changed file replaces the old copy atomically, which stays
    whole until the new one is complete. Each change is printed as it is made ('would
    ...' with -n): create DIR/, transfer PATH, replace PATH, remove PATH; a summary goes
    to stderr.

    \b
    Examples:
      remofile sync local ./site /www
      remofile sync local -c -n ./site /www
      remofile sync remote ./site /www
    """


def _change_printer(dry_run: bool, as_json: bool) -> ChangeCallback:
    """Prints each change of a sync as it is made (stdout), 'would ...' in a dry run."""
    prefix = "would " if dry_run else ""

    def show(change: str, path: str) -> None:
        if as_json:
            return
        if change == "skip":
            skipping = "would skip" if dry_run else "skipping"
            note(f"remofile: {skipping} {path}: a directory holding excluded entries is in the way")
        elif change == "create":
            click.echo(f"{prefix}create {path}/")
        else:
            click.echo(f"{prefix}{change} {path}")

    return show


def _print_report(report: SyncReport, as_json: bool) -> None:
    """The report in JSON, or the summary on stderr (the changes were printed as made)."""
    if as_json:
        print_json(
            {
                "created_directories": report.created_directories,
                "transferred": report.transferred,
                "replaced": report.replaced,
                "removed": report.removed,
                "unchanged": len(report.unchanged),
                "skipped": report.skipped,
                "bytes": report.bytes_transferred,
                "dry_run": report.dry_run,
            }
        )
        return
    replaced = set(report.replaced)
    transferred, removed, skipped = (
        len(report.transferred),
        len(report.removed),
        len(report.skipped),
    )
    size = f"{report.bytes_transferred} bytes"
    if report.dry_run:
        summary = (
            f"would transfer {transferred} ({len(replaced)} to replace, {size}), "
            f"would remove {removed}, {len(report.unchanged)} unchanged"
        ) + (f", would skip {skipped}" if skipped else "")
    else:
        summary = (
            f"{transferred} transferred ({len(replaced)} replaced, {size}), "
            f"{removed} removed, {len(report.unchanged)} unchanged"
        ) + (f", {skipped} skipped" if skipped else "")
    note(summary)


@sync_group.command("local")
@click.argument("local_directory", type=click.Path(file_okay=False))
@click.argument("remote_directory", shell_complete=complete_remote_directory)
@_sync_options
@client_options
def sync_local(
    local_directory: str,
    remote_directory: str,
    delete: bool,
    exclude: tuple[str, ...],
    dry_run: bool,
    progress: bool,
    checksum: bool,
    timeout: int,
    as_json: bool,
) -> None:
    """Make REMOTE_DIRECTORY match LOCAL_DIRECTORY: upload what is new or changed.

    REMOTE_DIRECTORY is an absolute remote path or a remofile://HOST:PORT/PATH URL; it
    is made if only its last component is missing.

    \b
    Example:
      remofile sync local --delete ./site /www
    """
    remote = RemoteArguments()
    remote_directory = remote.path(remote_directory, "remote directory")
    with (
        connected(as_json, timeout, remote.server) as client,
        TransferProgress(0, progress and not as_json) as bars,
    ):
        report = synchronize_upload(
            client,
            local_directory,
            remote_directory,
            delete=delete,
            exclude_files=exclude,
            dry_run=dry_run,
            process_chunk=bars.on_chunk,
            timeout=timeout,
            checksum=checksum,
            process_change=_change_printer(dry_run, as_json),
        )
    _print_report(report, as_json)


@sync_group.command("remote")
@click.argument("local_directory", type=click.Path(file_okay=False))
@click.argument("remote_directory", shell_complete=complete_remote_directory)
@_sync_options
@client_options
def sync_remote(
    local_directory: str,
    remote_directory: str,
    delete: bool,
    exclude: tuple[str, ...],
    dry_run: bool,
    progress: bool,
    checksum: bool,
    timeout: int,
    as_json: bool,
) -> None:
    """Make LOCAL_DIRECTORY match REMOTE_DIRECTORY: download what is new or changed.

    REMOTE_DIRECTORY is an absolute remote path or a remofile://HOST:PORT/PATH URL;
    LOCAL_DIRECTORY is made if only its last component is missing.

    \b
    Example:
      remofile sync remote ./site /www
    """
    remote = RemoteArguments()
    remote_directory = remote.path(remote_directory, "remote directory")
    with (
        connected(as_json, timeout, remote.server) as client,
        TransferProgress(0, progress and not as_json) as bars,
    ):
        report = synchronize_download(
            client,
            remote_directory,
            local_directory,
            delete=delete,
            exclude_files=exclude,
            dry_run=dry_run,
            process_chunk=bars.on_chunk,
            timeout=timeout,
            checksum=checksum,
            process_change=_change_printer(dry_run, as_json),
        )
    _print_report(report, as_json)
