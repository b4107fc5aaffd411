"""The client-related commands: list, file, folder, upload, download, remove, sync."""

from __future__ import annotations

import contextlib
import os
import time

import click
from remofile.cli.common import F, client_options, connected, fail, print_json
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
@client_options
def upload_command(
    paths: tuple[str, ...],
    recursive: bool,
    progress: bool,
    resume: bool,
    compress: bool,
    timeout: int,
    as_json: bool,
) -> None:
    """Upload local files and directories to a remote directory.

    The last argument is the DESTINATION when it is an absolute remote path (it starts
    with /) and more than one argument is given; otherwise every argument is a SOURCE
    and the destination is the root. Shell globs expand to several sources. Directories
    are uploaded only with -r; without it they are skipped with a warning and the
    command exits with status 1, as cp does.
    """
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
    with connected(as_json) as client, TransferProgress(total, progress and not as_json) as bars:
        for source in chosen:
            if os.path.isdir(source):
                uploaded.extend(
                    upload_files(
                        client,
                        os.path.abspath(source),
                        destination,
                        recursive=True,
                        process_chunk=bars.on_chunk,
                        timeout=timeout,
                        compress=compress,
                    )
                )
            else:
                if not os.path.isfile(source):
                    fail(f"no such local file: {source}", ExitStatus.NOT_FOUND, as_json)
                client.upload_file(
                    source,
                    destination,
                    process_chunk=bars.on_chunk,
                    timeout=timeout,
                    resume=resume,
                    compress=compress,
                )
                uploaded.append(source)
    if as_json:
        print_json(
            {"destination": destination, "uploaded": uploaded, "skipped": skipped, "bytes": total}
        )
    if skipped:
        raise SystemExit(int(ExitStatus.FAILURE))


def _remote_total(client: Client, sources: list[str], timeout: int) -> int:
    total = 0
    for source in sources:
        components = split_remote_path(source)
        parent = client.list_files(join_remote_path(components[:-1]), timeout)
        metadata = parent.get(components[-1]) if components else None
        if metadata is None:
            continue
        if metadata.is_directory:
            listing = client.list_files(source, timeout, recursive=True)
            total += sum(entry.size for entry in listing.values())
        else:
            total += metadata.size
    return total


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
@client_options
def download_command(
    paths: tuple[str, ...],
    recursive: bool,
    progress: bool,
    resume: bool,
    compress: bool,
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
    """
    if len(paths) > 1:
        sources, destination = [_remote(path) for path in paths[:-1]], paths[-1]
    else:
        sources, destination = [_remote(paths[0])], "."
    downloaded: list[str] = []
    skipped: list[str] = []
    with connected(as_json) as client:
        plain = [source for source in sources if not any(c in source for c in "*?[")]
        total = _remote_total(client, plain, timeout) if progress else 0
        with TransferProgress(total, progress and not as_json) as bars:
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
                        client.download_file(
                            source,
                            destination,
                            process_chunk=bars.on_chunk,
                            timeout=timeout,
                            resume=resume,
                            compress=compress,
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
                    )
                )
    if as_json:
        print_json({"destination": destination, "downloaded": downloaded, "skipped": skipped})
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
    return command


@click.group("sync")
def sync_group() -> None:
    """Synchronize a local and a remote directory, moving only what differs.

    'sync local' makes the remote directory match the local one (uploads);
    'sync remote' makes the local directory match the remote one (downloads).
    """


def _print_report(report: SyncReport, as_json: bool, dry_run: bool) -> None:
    if as_json:
        print_json(
            {
                "created_directories": report.created_directories,
                "transferred": report.transferred,
                "removed": report.removed,
                "unchanged": len(report.unchanged),
                "skipped": report.skipped,
                "bytes": report.bytes_transferred,
                "dry_run": dry_run,
            }
        )
        return
    prefix = "would " if dry_run else ""
    for path in report.created_directories:
        click.echo(f"{prefix}create {path}/")
    for path in report.transferred:
        click.echo(f"{prefix}transfer {path}")
    for path in report.removed:
        click.echo(f"{prefix}remove {path}")
    for path in report.skipped:
        click.echo(
            f"remofile: skipping {path}: a directory holding excluded entries is in the way",
            err=True,
        )
    click.echo(
        f"{len(report.transferred)} transferred ({report.bytes_transferred} bytes), "
        f"{len(report.removed)} removed, {len(report.unchanged)} unchanged"
        + (f", {len(report.skipped)} skipped" if report.skipped else ""),
        err=True,
    )


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
        )
    _print_report(report, as_json, dry_run)


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
        )
    _print_report(report, as_json, dry_run)
