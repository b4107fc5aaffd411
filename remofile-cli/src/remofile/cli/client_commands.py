"""The client-related commands: list, file, folder, upload, download, remove, sync."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

import click
from remofile.cli.common import F, client_options, connected, describe, fail, print_json
from remofile.cli.exit_codes import ExitStatus
from remofile.cli.progress import TransferProgress
from remofile.client import (
    Client,
    SyncReport,
    synchronize_download,
    synchronize_upload,
    upload_files,
)
from remofile.client.algorithms import download_files
from remofile.core.paths import join_remote_path, split_remote_path


def _remote(path: str) -> str:
    """A remote path from the command line; relative ones start at the root."""
    return path if path.startswith("/") else "/" + path


def _time_text(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


@click.command("list")
@click.argument("directory", default="/", required=False)
@click.option(
    "-a",
    "-l",
    "--all",
    "show_all",
    is_flag=True,
    help="Show the type, size and modification time of each file.",
)
@click.option(
    "-r", "--recursive", is_flag=True, help="List sub-directories and their contents too."
)
@client_options
def list_command(
    directory: str, show_all: bool, recursive: bool, timeout: int, as_json: bool
) -> None:
    """List files in the remote directory, like ls.

    DIRECTORY is an absolute path of an existing remote directory; the root (/) by
    default. With -a (or -l) each line shows the type (d for a directory, - for a file),
    the size in bytes, the modification time and the name.
    """
    with connected(as_json) as client:
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
        width = max((len(str(entry.size)) for entry in entries), default=1)
        for entry in entries:
            kind = "d" if entry.is_directory else "-"
            when = _time_text(entry.modification_time_ns / 1e9)
            click.echo(f"{kind} {entry.size:>{width}} {when} {entry.name}")


def _create(
    kind: str, name: str, directory: str, update: bool, timeout: int, as_json: bool
) -> None:
    with connected(as_json) as client:
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
@click.argument("directory", default="/", required=False)
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
    """
    _create("file", name, directory, update, timeout, as_json)


@click.command("folder")
@click.argument("name")
@click.argument("directory", default="/", required=False)
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
    """
    _create("folder", name, directory, update, timeout, as_json)


def _local_size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(directory, name))
    return total


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
    click.echo(f"{len(skipped)} skipped (exists)", err=True)


@click.command("upload")
@click.argument("paths", nargs=-1, required=True, metavar="[SOURCE]... DESTINATION")
@click.option("-r", "--recursive", is_flag=True, help="Upload directories and their contents.")
@click.option(
    "-p",
    "--progress",
    is_flag=True,
    help="Show progress bars: per file and in total, with rate and ETA.",
)
@click.option("--resume", is_flag=True, help="Continue interrupted uploads of the same files.")
@click.option("-z", "--compress", is_flag=True, help="Compress the data on the wire (zlib).")
@_existing_options
@client_options
def upload_command(
    paths: tuple[str, ...],
    recursive: bool,
    progress: bool,
    resume: bool,
    compress: bool,
    force: bool,
    ignore_existing: bool,
    timeout: int,
    as_json: bool,
) -> None:
    """Upload local files and directories to a remote directory.

    The last argument is the DESTINATION when it is an absolute remote path (it starts
    with /) and more than one argument is given; otherwise every argument is a SOURCE
    and the destination is the root. Shell globs expand to several sources. Directories
    are uploaded only with -r; without it they are skipped with a warning and the
    command exits with status 1, as cp does.

    A name that exists in the destination stops the upload (status 4), naming it. With
    -f the remote file is replaced atomically: it stays whole until the new one is
    complete. A directory then merges into the remote one of its name. With
    --ignore-existing each such file is left alone and listed as 'skipped (exists):
    PATH'.
    """
    _check_existing_choice(force, ignore_existing)
    if len(paths) > 1 and paths[-1].startswith("/"):
        sources, destination = paths[:-1], paths[-1]
    else:
        sources, destination = paths, "/"
    skipped = [source for source in sources if os.path.isdir(source) and not recursive]
    chosen = [source for source in sources if source not in skipped]
    for source in skipped:
        click.echo(
            f"remofile: skipping directory {source} (use -r to upload directories)", err=True
        )
    total = sum(_local_size(source) for source in chosen if os.path.exists(source))
    uploaded: list[str] = []
    existing: list[str] = []
    with (
        connected(as_json) as client,
        TransferProgress(total, progress and not as_json) as bars,
        _taken_name_explained(as_json, f" in {destination}"),
    ):
        taken: set[str] = set()
        if ignore_existing or (not force and any(os.path.isdir(s) for s in chosen)):
            taken = set(client.list_files(destination, timeout))
        for source in chosen:
            if os.path.isdir(source):
                top = os.path.abspath(source)
                if not (force or ignore_existing) and os.path.basename(top) in taken:
                    # Checked here: the client, pipelining a tree's requests, would add
                    # its new files to the existing directory before it reports the name.
                    raise FileExistsError(f"already exists: {os.path.basename(top)}")

                def skip(path: str, source: str = source, top: str = top) -> None:
                    existing.append(os.path.join(source, os.path.relpath(path, top)))
                    bars.skip(_local_size(path))

                sent = upload_files(
                    client,
                    top,
                    destination,
                    recursive=True,
                    process_chunk=bars.on_chunk,
                    timeout=timeout,
                    compress=compress,
                    replace=force,
                    ignore_existing=ignore_existing,
                    process_skipped=skip,
                )
                uploaded.extend(source if path == top else path for path in sent)
            else:
                if not os.path.isfile(source):
                    fail(f"no such local file: {source}", ExitStatus.NOT_FOUND, as_json)
                if ignore_existing and os.path.basename(source) in taken:
                    existing.append(source)
                    bars.skip(_local_size(source))
                    continue
                client.upload_file(
                    source,
                    destination,
                    process_chunk=bars.on_chunk,
                    timeout=timeout,
                    resume=resume,
                    compress=compress,
                    replace=force,
                )
                uploaded.append(source)
    if ignore_existing:
        _report_skipped(existing, as_json)
    if as_json:
        print_json(
            {
                "destination": destination,
                "uploaded": uploaded,
                "skipped": skipped,
                "skipped_existing": existing,
                "bytes": total - sum(_local_size(path) for path in existing),
            }
        )
    if skipped:
        raise SystemExit(int(ExitStatus.FAILURE))


def _remote_sizes(client: Client, sources: list[str], timeout: int) -> dict[str, int]:
    """The size of every remote file the sources name, by its absolute path."""
    sizes: dict[str, int] = {}
    for source in sources:
        components = split_remote_path(source)
        parent = client.list_files(join_remote_path(components[:-1]), timeout)
        metadata = parent.get(components[-1]) if components else None
        if metadata is None:
            continue
        if metadata.is_directory:
            listing = client.list_files(source, timeout, recursive=True)
            for name, entry in listing.items():
                if not entry.is_directory:
                    sizes[join_remote_path((*components, *name.split("/")))] = entry.size
        else:
            sizes[join_remote_path(components)] = metadata.size
    return sizes


@click.command("download")
@click.argument("paths", nargs=-1, required=True, metavar="[SOURCE]... DESTINATION")
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
@click.option("-z", "--compress", is_flag=True, help="Compress the data on the wire (zlib).")
@_existing_options
@client_options
def download_command(
    paths: tuple[str, ...],
    recursive: bool,
    progress: bool,
    resume: bool,
    compress: bool,
    force: bool,
    ignore_existing: bool,
    timeout: int,
    as_json: bool,
) -> None:
    """Download remote files and directories into a local directory.

    With one argument it is the SOURCE and the DESTINATION is the current directory;
    with more, the last one is the local DESTINATION, which must exist. Remote paths
    start at the root (/) whether or not they start with a slash; the last component of
    a source may be a glob pattern such as '/logs/*.txt' (quote it from the shell).
    Directories are downloaded only with -r; without it they are skipped with a warning
    and the command exits with status 1.

    A name that exists in the destination stops the download (status 4), naming it.
    With -f the local file is replaced in one rename once the new copy is complete and
    verified; a directory then merges into the local one of its name. With
    --ignore-existing each such file is left alone and listed as 'skipped (exists):
    PATH' (its remote path).
    """
    _check_existing_choice(force, ignore_existing)
    if len(paths) > 1:
        sources, destination = [_remote(path) for path in paths[:-1]], paths[-1]
    else:
        sources, destination = [_remote(paths[0])], "."
    downloaded: list[str] = []
    skipped: list[str] = []
    existing: list[str] = []
    with connected(as_json) as client:
        plain = [source for source in sources if not any(c in source for c in "*?[")]
        sizes = _remote_sizes(client, plain, timeout) if progress else {}
        with (
            TransferProgress(sum(sizes.values()), progress and not as_json) as bars,
            _taken_name_explained(as_json),
        ):

            def skip(path: str) -> None:
                existing.append(path)
                bars.skip(sizes.get(path, 0))

            for source in sources:
                components = split_remote_path(source)
                if not any(c in source for c in "*?[") and components:
                    parent = client.list_files(join_remote_path(components[:-1]), timeout)
                    metadata = parent.get(components[-1])
                    if metadata is not None and metadata.is_directory and not recursive:
                        click.echo(
                            f"remofile: skipping directory {source} (use -r to download directories)",
                            err=True,
                        )
                        skipped.append(source)
                        continue
                    if metadata is not None and not metadata.is_directory:
                        local = os.path.join(destination, components[-1])
                        if ignore_existing and os.path.lexists(local):
                            skip(join_remote_path(components))
                            continue
                        client.download_file(
                            source,
                            destination,
                            process_chunk=bars.on_chunk,
                            timeout=timeout,
                            resume=resume,
                            compress=compress,
                            replace=force,
                        )
                        downloaded.append(source)
                        continue
                downloaded.extend(
                    download_files(
                        client,
                        source,
                        destination,
                        recursive=recursive,
                        process_chunk=bars.on_chunk,
                        timeout=timeout,
                        resume=resume,
                        compress=compress,
                        replace=force,
                        ignore_existing=ignore_existing,
                        process_skipped=skip,
                    )
                )
    if ignore_existing:
        _report_skipped(existing, as_json)
    if as_json:
        print_json(
            {
                "destination": destination,
                "downloaded": downloaded,
                "skipped": skipped,
                "skipped_existing": existing,
            }
        )
    if skipped:
        raise SystemExit(int(ExitStatus.FAILURE))


@click.command("remove")
@click.argument("name")
@click.argument("directory", required=False)
@click.option(
    "-p", "--progress", is_flag=True, help="Show how many entries of a directory tree remain."
)
@client_options
def remove_command(
    name: str, directory: str | None, progress: bool, timeout: int, as_json: bool
) -> None:
    """Remove a file or a folder (with everything in it) from the remote directory, like rm -r.

    Give either an absolute path (remofile remove /foo/bar) or a NAME and the remote
    DIRECTORY that holds it (remofile remove bar /foo); a NAME alone is taken from the
    root. The root itself cannot be removed.
    """
    if directory is None:
        path = _remote(name)
    else:
        path = join_remote_path((*split_remote_path(directory), name))

    def report(removed: int, remaining: int) -> None:
        if progress and not as_json:
            click.echo(f"\rremoved {removed} entries, {remaining} remaining", err=True, nl=False)

    with connected(as_json) as client:
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
    whole until the new one is complete. Each change is printed ('would ...' with -n):
    create DIR/, transfer PATH, replace PATH, remove PATH; a summary goes to stderr.
    """


def _print_report(report: SyncReport, as_json: bool) -> None:
    """One line per change ('would ...' in a dry run) on stdout, a summary on stderr."""
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
    prefix = "would " if report.dry_run else ""
    replaced = set(report.replaced)
    for path in report.created_directories:
        click.echo(f"{prefix}create {path}/")
    for path in report.transferred:
        click.echo(f"{prefix}{'replace' if path in replaced else 'transfer'} {path}")
    for path in report.removed:
        click.echo(f"{prefix}remove {path}")
    skipping = "would skip" if report.dry_run else "skipping"
    for path in report.skipped:
        click.echo(
            f"remofile: {skipping} {path}: a directory holding excluded entries is in the way",
            err=True,
        )
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
    click.echo(summary, err=True)


@sync_group.command("local")
@click.argument("local_directory", type=click.Path(file_okay=False))
@click.argument("remote_directory")
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
    """Make REMOTE_DIRECTORY match LOCAL_DIRECTORY: upload what is new or changed."""
    with connected(as_json) as client, TransferProgress(0, progress and not as_json) as bars:
        report = synchronize_upload(
            client,
            local_directory,
            _remote(remote_directory),
            delete=delete,
            exclude_files=exclude,
            dry_run=dry_run,
            process_chunk=bars.on_chunk,
            timeout=timeout,
            checksum=checksum,
        )
    _print_report(report, as_json)


@sync_group.command("remote")
@click.argument("local_directory", type=click.Path(file_okay=False))
@click.argument("remote_directory")
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
    """Make LOCAL_DIRECTORY match REMOTE_DIRECTORY: download what is new or changed."""
    with connected(as_json) as client, TransferProgress(0, progress and not as_json) as bars:
        report = synchronize_download(
            client,
            _remote(remote_directory),
            local_directory,
            delete=delete,
            exclude_files=exclude,
            dry_run=dry_run,
            process_chunk=bars.on_chunk,
            timeout=timeout,
            checksum=checksum,
        )
    _print_report(report, as_json)
