"""Directory trees as series of jobs, for upload_directory and download_directory.

A whole tree becomes one series of jobs, each directory before what it holds, so that
it goes through one pipeline instead of costing a round trip per file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Iterator

from remofile.client.downloads import DownloadJob
from remofile.client.uploads import UploadJob
from remofile.core.exceptions import FileNameError
from remofile.core.names import is_file_name_valid
from remofile.core.paths import RemotePath
from remofile.v1 import remofile_pb2 as pb


def upload_tree_jobs(
    local: str,
    parent: RemotePath,
    name: str,
    exclude: Callable[[str], bool] | None = None,
    merge_into: Collection[str] | None = None,
) -> Iterator[UploadJob | tuple[RemotePath, str]]:
    """The local directory ``local`` as the remote directory ``name`` in ``parent``:
    ``(directory, name)`` for a directory to make, an UploadJob for a file.

    ``merge_into`` holds the directories that exist already at the destination,
    relative to it ("" for the top): they are not made again, and files replace those
    of their names (SPEC.md 4.5.5). None makes everything, refusing taken names.
    """
    top = (*parent, name)
    merging = merge_into is not None
    existing = merge_into or ()
    if "" not in existing:
        yield (parent, name)
    pending: list[tuple[str, RemotePath]] = [(local, top)]
    while pending:
        local_directory, remote_directory = pending.pop()
        with os.scandir(local_directory) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
        for entry in entries:
            relative = "/".join((*remote_directory[len(top) :], entry.name))
            if exclude is not None and exclude(relative):
                continue
            if not is_file_name_valid(entry.name):
                raise FileNameError(f"invalid file name: {entry.path!r}")
            if entry.is_dir():
                if relative not in existing:
                    yield (remote_directory, entry.name)
                pending.append((entry.path, (*remote_directory, entry.name)))
            elif entry.is_file():
                yield UploadJob(entry.path, remote_directory, entry.name, merging)


def download_tree_jobs(
    remote: RemotePath,
    top: str,
    entries: Iterable[pb.FileEntry],
    exclude: Callable[[str], bool] | None = None,
    replace: bool = False,
) -> Iterator[DownloadJob | str]:
    """The remote directory ``remote``, listed recursively as ``entries``, as the local
    directory ``top``: a path for a directory to make, a DownloadJob for a file. With
    ``replace``, files replace local files of their names."""
    yield top
    excluded: list[str] = []
    for entry in entries:
        if any(entry.name.startswith(prefix) for prefix in excluded):
            continue
        if exclude is not None and exclude(entry.name):
            if entry.is_directory:
                excluded.append(entry.name + "/")
            continue
        parts = entry.name.split("/")
        if not all(is_file_name_valid(part) for part in parts):
            raise FileNameError(f"remote name not valid here: {entry.name!r}")
        if entry.is_directory:
            yield os.path.join(top, *parts)
        else:
            yield DownloadJob(
                (*remote, *parts), os.path.join(top, *parts[:-1]), parts[-1], entry.size, replace
            )
