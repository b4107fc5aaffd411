"""Advanced file operations built on the primitive ones: globs, excludes and sync.

``upload_files`` and ``download_files`` move one file, a directory or a set of files
named by glob patterns; ``synchronize_upload`` and ``synchronize_download`` make one
side match the other, moving only what differs, like rsync.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import shutil
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from remofile.client.chunks import Compress
from remofile.client.client import Client
from remofile.client.session import ChunkCallback
from remofile.core.digests import algorithm_from_name, new_hasher
from remofile.core.exceptions import DestinationNotFound, SourceNotFound
from remofile.core.limits import DEFAULT_CHUNK_SIZE_BYTES
from remofile.core.paths import join_remote_path, split_remote_path
from remofile.v1 import remofile_pb2 as pb

#: Characters that make a path a glob pattern.
GLOB_CHARACTERS = frozenset("*?[")

#: ``process_skipped(path)``: a file left alone because its name exists at the destination.
SkipCallback = Callable[[str], Any]

#: ``process_change(change, relative_path)``: one change of a synchronization, just
#: before it is made (in a dry run, instead): "create" (a directory), "transfer",
#: "replace", "remove" or "skip", so a caller can show them as they happen.
ChangeCallback = Callable[[str, str], Any]

#: Bytes read at a time when a local file is hashed for a checksum comparison.
HASH_BLOCK_BYTES = 1 << 20


def _is_pattern(text: str) -> bool:
    return any(character in GLOB_CHARACTERS for character in text)


def _excluder(patterns: Iterable[str | os.PathLike[str]]) -> Callable[[str], bool]:
    """A predicate on relative paths (``/`` separated) matching any exclude pattern.

    A pattern without ``/`` matches a name at any depth (``*.tmp``); one with ``/``
    matches the path from the top (``build/*``).
    """
    compiled = [os.fspath(pattern).strip("/") for pattern in patterns]

    def excluded(relative: str) -> bool:
        name = relative.rsplit("/", 1)[-1]
        for pattern in compiled:
            target = relative if "/" in pattern else name
            if fnmatch.fnmatchcase(target, pattern):
                return True
        return False

    return excluded


def _below(top: str, excluded: Callable[[str], bool]) -> Callable[[str], bool]:
    """The exclusion predicate for paths inside the directory ``top``."""
    return lambda inner: excluded(f"{top}/{inner}")


def _ancestors(relative: str) -> list[str]:
    """The directories a relative path is in: ``a/b/c`` is in ``a`` and ``a/b``."""
    parts = relative.split("/")
    return ["/".join(parts[:end]) for end in range(1, len(parts))]


@dataclass
class SyncReport:
    """What a synchronization did (or would do, with ``dry_run``): relative paths.

    ``transferred`` lists every file sent; those of them that replaced an older copy
    (atomically: the old copy stayed whole until the new one took its name) are also
    in ``replaced``. ``removed`` lists only what was removed for good. ``skipped``
    lists files left untransferred because the destination has a directory in their
    place that holds excluded entries, which a synchronization never removes.
    """

    created_directories: list[str] = field(default_factory=list)
    transferred: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    bytes_transferred: int = 0
    skipped: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    #: Nothing was changed: the report says what a real run would do.
    dry_run: bool = False


def _check_existing_choice(replace: bool, ignore_existing: bool) -> None:
    if replace and ignore_existing:
        raise ValueError("replace and ignore_existing exclude each other")


def _skipping(
    existing: Callable[[str], bool], skipped: list[str], excluded: Callable[[str], bool]
) -> Callable[[str], bool]:
    """An exclude predicate that also leaves out (and records) the paths ``existing``
    says are taken at the destination."""

    def exclude(relative: str) -> bool:
        if excluded(relative):
            return True
        if existing(relative):
            skipped.append(relative)
            return True
        return False

    return exclude


def upload_files(
    client: Client,
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str] = "/",
    relative_directory: str | os.PathLike[str] | None = None,
    *,
    recursive: bool = False,
    exclude_files: Sequence[str | os.PathLike[str]] = (),
    chunk_size: int = DEFAULT_CHUNK_SIZE_BYTES,
    process_chunk: ChunkCallback | None = None,
    timeout: int | None = None,
    compress: Compress = False,
    resume: bool = False,
    replace: bool = False,
    ignore_existing: bool = False,
    process_skipped: SkipCallback | None = None,
) -> list[str]:
    """Upload one file, a directory or the files a glob pattern names.

    ``source`` is relative to ``relative_directory`` (the current working directory by
    default) and may hold glob patterns (``*.txt``, ``**/*.log``). Directories are
    uploaded only when ``recursive`` is set. ``exclude_files`` holds patterns of paths,
    relative to ``relative_directory``, to leave out. ``compress`` and ``resume`` are
    passed on to each transfer (``resume`` to single files only).

    A name that exists at the destination stops the upload with FileExistsError
    naming it, as ``cp`` does, unless ``replace`` is set (the remote file is replaced
    atomically and directories merge, as ``cp -r`` into an existing directory) or
    ``ignore_existing`` (the file is left alone and ``process_skipped(local_path)`` is
    called, as rsync's ``--ignore-existing``).

    :returns: the local paths that were uploaded (files and directories).
    :raises SourceNotFound: if nothing matches the source.
    :raises DestinationNotFound: if the destination is not a remote directory.
    :raises FileExistsError: if a name is taken and neither choice was made.
    :raises ValueError: if both ``replace`` and ``ignore_existing`` are set.
    """
    _check_existing_choice(replace, ignore_existing)
    base = os.path.abspath(os.fspath(relative_directory or os.getcwd()))
    if not os.path.isdir(base):
        raise SourceNotFound(f"relative directory is not a directory: {base}")
    pattern = os.fspath(source)
    if _is_pattern(pattern):
        matches = sorted(glob.glob(pattern, root_dir=base, recursive=True))
    else:
        matches = [pattern] if os.path.exists(os.path.join(base, pattern)) else []
    if not matches:
        raise SourceNotFound(f"no file matches {pattern!r} in {base}")
    excluded = _excluder(exclude_files)
    remote_top = split_remote_path(destination)
    taken: dict[str, pb.FileEntry] | None = None
    if ignore_existing:
        try:
            taken = {entry.name: entry for entry in client.list_entries(destination, timeout)}
        except (FileNotFoundError, NotADirectoryError) as error:
            raise DestinationNotFound(f"not a remote directory: {destination}") from error
    uploaded: list[str] = []
    for match in matches:
        relative = os.path.relpath(os.path.join(base, match), base).replace(os.sep, "/")
        if excluded(relative):
            continue
        local = os.path.join(base, match)
        name = os.path.basename(local.rstrip(os.sep))
        existing = None if taken is None else taken.get(name)
        if os.path.isdir(local):
            if not recursive:
                continue
            exclude = _below(relative, excluded)
            skipped: list[str] = []
            if existing is not None:
                remote_files = _remote_files(client, (*remote_top, name), timeout)
                exclude = _skipping(remote_files.__contains__, skipped, exclude)
            client.upload_directory(
                local,
                destination,
                chunk_size=chunk_size,
                process_chunk=process_chunk,
                timeout=timeout,
                exclude=exclude,
                compress=compress,
                replace=replace or existing is not None,
            )
            if process_skipped is not None:
                for inner in skipped:
                    process_skipped(os.path.join(local, *inner.split("/")))
        elif existing is not None:
            if process_skipped is not None:
                process_skipped(local)
            continue
        else:
            client.upload_file(
                local,
                destination,
                chunk_size=chunk_size,
                process_chunk=process_chunk,
                timeout=timeout,
                resume=resume,
                compress=compress,
                replace=replace,
            )
        uploaded.append(local)
    return uploaded


def _local_file_checker(top: str) -> Callable[[str], bool]:
    """Whether a path relative to the local directory ``top`` is a file there."""
    return lambda relative: os.path.isfile(os.path.join(top, *relative.split("/")))


def _remote_files(client: Client, top: tuple[str, ...], timeout: int | None) -> set[str]:
    """The files (not directories) of a remote tree, relative to it; empty if it is
    not a directory."""
    try:
        entries = client.list_entries(join_remote_path(top), timeout, recursive=True)
    except (FileNotFoundError, NotADirectoryError):
        return set()
    return {entry.name for entry in entries if not entry.is_directory}


def download_files(
    client: Client,
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str] = ".",
    relative_directory: str | os.PathLike[str] = "/",
    *,
    recursive: bool = False,
    exclude_files: Sequence[str | os.PathLike[str]] = (),
    chunk_size: int = DEFAULT_CHUNK_SIZE_BYTES,
    process_chunk: ChunkCallback | None = None,
    timeout: int | None = None,
    compress: Compress = False,
    resume: bool = False,
    replace: bool = False,
    ignore_existing: bool = False,
    process_skipped: SkipCallback | None = None,
) -> list[str]:
    """Download one file, a directory or the files a glob pattern names.

    ``source`` is a remote path relative to ``relative_directory`` (the root by
    default), or absolute; its last component may be a glob pattern (``logs/*.txt``).
    Directories are downloaded only when ``recursive`` is set. ``exclude_files`` holds
    patterns of remote paths, relative to ``relative_directory``, to leave out.
    Existing local names are handled as :func:`upload_files` does with remote ones
    (``process_skipped`` gets remote paths).

    :returns: the remote paths that were downloaded.
    :raises SourceNotFound: if nothing matches the source.
    :raises DestinationNotFound: if the destination is not a local directory.
    :raises FileExistsError: if a name is taken and neither choice was made.
    :raises ValueError: if both ``replace`` and ``ignore_existing`` are set.
    """
    _check_existing_choice(replace, ignore_existing)
    if not os.path.isdir(os.fspath(destination)):
        raise DestinationNotFound(f"destination is not a directory: {os.fspath(destination)}")
    text = os.fspath(source)
    base = split_remote_path(relative_directory)
    full = split_remote_path(text if text.startswith("/") else join_remote_path((*base, text)))
    if not full:
        raise SourceNotFound("the root directory cannot be downloaded as a file")
    parent, last = full[:-1], full[-1]
    try:
        listing = client.list_entries(join_remote_path(parent), timeout)
    except (FileNotFoundError, NotADirectoryError) as error:
        raise SourceNotFound(f"no such remote directory: {join_remote_path(parent)}") from error
    if _is_pattern(last):
        chosen = [entry for entry in listing if fnmatch.fnmatchcase(entry.name, last)]
    else:
        chosen = [entry for entry in listing if entry.name == last]
    if not chosen:
        raise SourceNotFound(f"nothing matches {join_remote_path(full)}")
    excluded = _excluder(exclude_files)
    # Exclude patterns see paths relative to relative_directory, as for uploads.
    inside = parent[len(base) :] if parent[: len(base)] == base else parent
    downloaded: list[str] = []
    for entry in chosen:
        relative = "/".join((*inside, entry.name))
        if excluded(relative):
            continue
        remote = join_remote_path((*parent, entry.name))
        local = os.path.join(os.fspath(destination), entry.name)
        exists = ignore_existing and os.path.lexists(local)
        if entry.is_directory:
            if not recursive:
                continue
            exclude = _below(relative, excluded)
            skipped: list[str] = []
            if exists:
                exclude = _skipping(_local_file_checker(local), skipped, exclude)
            client.download_directory(
                remote,
                destination,
                chunk_size=chunk_size,
                process_chunk=process_chunk,
                timeout=timeout,
                exclude=exclude,
                compress=compress,
                replace=replace or exists,
            )
            if process_skipped is not None:
                for inner in skipped:
                    process_skipped(f"{remote}/{inner}")
        elif exists:
            if process_skipped is not None:
                process_skipped(remote)
            continue
        else:
            client.download_file(
                remote,
                destination,
                chunk_size=chunk_size,
                process_chunk=process_chunk,
                timeout=timeout,
                resume=resume,
                compress=compress,
                replace=replace,
            )
        downloaded.append(remote)
    return downloaded


def _local_tree(
    top: str, excluded: Callable[[str], bool]
) -> tuple[dict[str, os.stat_result], set[str]]:
    """Every entry below ``top`` by relative path (``/`` separated), links followed, and
    the directories holding excluded entries (which must not be removed whole)."""
    tree: dict[str, os.stat_result] = {}
    holding: set[str] = set()
    pending = [("", top)]
    while pending:
        prefix, directory = pending.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                relative = prefix + entry.name
                if excluded(relative):
                    holding.update(_ancestors(relative))
                    continue
                try:
                    info = entry.stat()
                except OSError:
                    continue  # a dangling link
                tree[relative] = info
                if stat.S_ISDIR(info.st_mode):
                    pending.append((relative + "/", entry.path))
    return tree, holding


def _remote_tree(
    client: Client, remote: str, excluded: Callable[[str], bool], timeout: int | None
) -> tuple[dict[str, pb.FileEntry], set[str]]:
    """As :func:`_local_tree`, for the remote directory ``remote``."""
    entries = client.list_entries(remote, timeout, recursive=True)
    tree: dict[str, pb.FileEntry] = {}
    holding: set[str] = set()
    skipped: list[str] = []
    for entry in entries:
        if any(entry.name.startswith(prefix) for prefix in skipped):
            continue
        if excluded(entry.name):
            holding.update(_ancestors(entry.name))
            if entry.is_directory:
                skipped.append(entry.name + "/")
            continue
        tree[entry.name] = entry
    return tree, holding


def _is_up_to_date(remote: pb.FileEntry, local: os.stat_result) -> bool:
    """A remote file needs no upload: same size and same modification time (uploads
    carry the local time to the server, so an unchanged file matches exactly)."""
    return (
        not remote.is_directory
        and remote.size == local.st_size
        and local.st_mtime_ns == remote.modification_time_ns
    )


def _is_same_copy(local: os.stat_result, remote: pb.FileEntry) -> bool:
    """A local file needs no download: same size and the server's modification time."""
    return (
        not stat.S_ISDIR(local.st_mode)
        and local.st_size == remote.size
        and local.st_mtime_ns == remote.modification_time_ns
    )


def _local_digest(path: str, algorithm: str) -> str:
    """The hexadecimal digest of a local file with the algorithm called ``algorithm``."""
    hasher = new_hasher(algorithm_from_name(algorithm))
    buffer = bytearray(HASH_BLOCK_BYTES)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as stream:
        while read := stream.readinto(buffer):
            hasher.update(view[:read])
    return hasher.digest().hex()


def _same_content(client: Client, remote_path: str, local_path: str, timeout: int | None) -> bool:
    """Whether a remote file and a local file of the same size hold the same bytes, by
    the server's digest of its file (FILE_DIGEST) and a local hash of ours: rsync's
    ``--checksum``, without moving the file."""
    remote = client.file_digest(remote_path, timeout=timeout)
    return remote.digest == _local_digest(local_path, remote.algorithm)


def _require_local_directory(path: str, error: type[Exception]) -> str:
    local = os.path.abspath(path)
    if not os.path.isdir(local):
        raise error(f"not an existing local directory: {path}")
    return local


def _ensure_remote_directory(client: Client, path: str, timeout: int | None, dry_run: bool) -> bool:
    """Make the remote directory ``path`` if only its last component is missing, as
    rsync does. Returns whether it existed before.

    :raises FileNotFoundError: if its parent does not exist either.
    :raises NotADirectoryError: if it is a file.
    """
    components = split_remote_path(path)
    if not components:
        return True
    parent = client.list_files(join_remote_path(components[:-1]), timeout)
    metadata = parent.get(components[-1])
    if metadata is not None and not metadata.is_directory:
        raise NotADirectoryError(f"not a remote directory: {path}")
    if metadata is None and not dry_run:
        client.make_directory(components[-1], join_remote_path(components[:-1]), timeout)
    return metadata is not None


def _ensure_local_directory(path: str, dry_run: bool) -> tuple[str, bool]:
    """The absolute local directory, made if only its last component is missing."""
    local = os.path.abspath(path)
    if os.path.isdir(local):
        return local, True
    if os.path.lexists(local) or not os.path.isdir(os.path.dirname(local)):
        raise DestinationNotFound(f"not a local directory, nor one that can be made: {path}")
    if not dry_run:
        os.mkdir(local)
    return local, False


def synchronize_upload(
    client: Client,
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    delete: bool = False,
    exclude_files: Sequence[str | os.PathLike[str]] = (),
    dry_run: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE_BYTES,
    process_chunk: ChunkCallback | None = None,
    timeout: int | None = None,
    checksum: bool = False,
    process_change: ChangeCallback | None = None,
) -> SyncReport:
    """Make the remote directory ``destination`` match the local directory ``source``.

    The destination is created if only its last component is missing. Missing
    directories are created; a file is uploaded when it is missing remotely or differs
    in size or modification time (uploads keep the local modification time, so the
    next run recognises the copy, in both directions). With ``checksum``, a file of the
    same size is compared by content instead (the server digests its copy; nothing is
    downloaded), as rsync's ``-c``. A changed file replaces the remote copy atomically:
    the old copy stays whole until the new one is complete, so an interrupted run
    loses nothing, and running it again finishes the job. With ``delete``,
    remote entries that do not exist locally are removed. With ``dry_run``, nothing is
    changed and the report says what would be. Entries matching ``exclude_files`` are
    left alone on both sides, so a remote directory holding some is never removed whole.
    ``process_change(change, path)`` is told of each change just before it is made.

    :raises SourceNotFound: if the source is not a local directory.
    :raises DestinationNotFound: if the destination is not a remote directory and cannot
        be made (only its last component may be missing).
    """
    local_top = _require_local_directory(os.fspath(source), SourceNotFound)
    remote_top = join_remote_path(split_remote_path(destination))
    try:
        existed = _ensure_remote_directory(client, remote_top, timeout, dry_run)
    except (FileNotFoundError, NotADirectoryError) as error:
        raise DestinationNotFound(str(error)) from error
    excluded = _excluder(exclude_files)
    local, _ = _local_tree(local_top, excluded)
    remote, holding = (
        _remote_tree(client, remote_top, excluded, timeout) if existed else ({}, set())
    )
    report = SyncReport(dry_run=dry_run)
    removed_prefixes: list[str] = []
    tell = process_change or (lambda _change, _relative: None)

    def remove_remote(relative: str) -> None:
        report.removed.append(relative)
        tell("remove", relative)
        removed_prefixes.append(relative + "/")
        if not dry_run:
            client.delete_file(
                join_remote_path(split_remote_path(f"{remote_top}/{relative}")), timeout
            )

    for relative in sorted(local):
        info = local[relative]
        parent_path, _, name = relative.rpartition("/")
        remote_parent = join_remote_path(split_remote_path(f"{remote_top}/{parent_path}"))
        existing = remote.get(relative)
        if stat.S_ISDIR(info.st_mode):
            if existing is not None and existing.is_directory:
                continue
            if existing is not None:
                remove_remote(relative)
            report.created_directories.append(relative)
            tell("create", relative)
            if not dry_run:
                client.make_directory(name, remote_parent, timeout)
            continue
        local_path = os.path.join(local_top, *relative.split("/"))
        remote_path = join_remote_path(split_remote_path(f"{remote_top}/{relative}"))
        if existing is not None and (
            _same_content(client, remote_path, local_path, timeout)
            if checksum and not existing.is_directory and existing.size == info.st_size
            else _is_up_to_date(existing, info)
        ):
            report.unchanged.append(relative)
            continue
        if relative in holding:
            report.skipped.append(relative)
            tell("skip", relative)
            continue
        replacing = existing is not None and not existing.is_directory
        if existing is not None and existing.is_directory:
            remove_remote(relative)  # a directory is never replaced by a file
        report.transferred.append(relative)
        if replacing:
            report.replaced.append(relative)
        tell("replace" if replacing else "transfer", relative)
        report.bytes_transferred += info.st_size
        if not dry_run:
            client.upload_file(
                local_path,
                remote_parent,
                chunk_size=chunk_size,
                process_chunk=process_chunk,
                timeout=timeout,
                replace=replacing,
            )
    if delete:
        for relative in sorted(remote):
            if relative in local or any(relative.startswith(p) for p in removed_prefixes):
                continue
            if relative not in holding:  # else only what it holds, entry by entry
                remove_remote(relative)
    return report


def synchronize_download(
    client: Client,
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    delete: bool = False,
    exclude_files: Sequence[str | os.PathLike[str]] = (),
    dry_run: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE_BYTES,
    process_chunk: ChunkCallback | None = None,
    timeout: int | None = None,
    checksum: bool = False,
    process_change: ChangeCallback | None = None,
) -> SyncReport:
    """Make the local directory ``destination`` match the remote directory ``source``.

    A file is downloaded when it is missing locally, has another size or another
    modification time (downloads keep the server's modification time, so an unchanged
    file is recognised the next time); with ``checksum``, a file of the same size is
    compared by content instead (the server's digest against a local hash). A changed
    local file is replaced in one rename once the new copy is complete and verified,
    so an interrupted run leaves the old copy. With ``delete``, local entries absent
    remotely are removed.
    Entries matching ``exclude_files`` are left alone on both sides, so a local
    directory holding some is never removed whole.
    ``process_change(change, path)`` is told of each change just before it is made.

    :raises SourceNotFound: if the source is not a remote directory.
    :raises DestinationNotFound: if the destination is not a local directory and cannot
        be made (only its last component may be missing).
    """
    remote_top = join_remote_path(split_remote_path(source))
    excluded = _excluder(exclude_files)
    try:
        remote, _ = _remote_tree(client, remote_top, excluded, timeout)
    except (FileNotFoundError, NotADirectoryError) as error:
        raise SourceNotFound(f"not an existing remote directory: {remote_top}") from error
    local_top, existed = _ensure_local_directory(os.fspath(destination), dry_run)
    local, holding = _local_tree(local_top, excluded) if existed else ({}, set())
    report = SyncReport(dry_run=dry_run)
    removed_prefixes: list[str] = []
    tell = process_change or (lambda _change, _relative: None)

    def remove_local(relative: str) -> None:
        report.removed.append(relative)
        tell("remove", relative)
        removed_prefixes.append(relative + "/")
        if dry_run:
            return
        path = os.path.join(local_top, *relative.split("/"))
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)

    for relative in sorted(remote):
        entry = remote[relative]
        existing = local.get(relative)
        local_path = os.path.join(local_top, *relative.split("/"))
        if entry.is_directory:
            if existing is not None and stat.S_ISDIR(existing.st_mode):
                continue
            if existing is not None:
                remove_local(relative)
            report.created_directories.append(relative)
            tell("create", relative)
            if not dry_run:
                os.mkdir(local_path)
            continue
        remote_path = join_remote_path(split_remote_path(f"{remote_top}/{relative}"))
        if existing is not None and (
            _same_content(client, remote_path, local_path, timeout)
            if checksum and stat.S_ISREG(existing.st_mode) and existing.st_size == entry.size
            else _is_same_copy(existing, entry)
        ):
            report.unchanged.append(relative)
            continue
        if relative in holding:
            report.skipped.append(relative)
            tell("skip", relative)
            continue
        replacing = existing is not None and not stat.S_ISDIR(existing.st_mode)
        if existing is not None and not replacing:
            remove_local(relative)  # a directory is never replaced by a file
        report.transferred.append(relative)
        if replacing:
            report.replaced.append(relative)
        tell("replace" if replacing else "transfer", relative)
        report.bytes_transferred += entry.size
        if not dry_run:
            client.download_file(
                remote_path,
                os.path.dirname(local_path),
                chunk_size=chunk_size,
                process_chunk=process_chunk,
                timeout=timeout,
                replace=replacing,
            )
    if delete:
        # Parents first: removing a directory removes (and reports) it whole, as uploads do.
        for relative in sorted(local):
            if relative in remote or any(relative.startswith(p) for p in removed_prefixes):
                continue
            if relative not in holding:  # else only what it holds, entry by entry
                remove_local(relative)
    return report
