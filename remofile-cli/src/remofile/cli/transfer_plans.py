"""What an upload or a download will do, worked out before anything is transferred.

Every source is looked up first (local files, remote listings), glob patterns are
expanded and taken names found, so that whatever stops a command stops it before the
first byte moves. Patterns keep the relative structure, as rsync and shells do:
``'logs/**/*.txt'`` puts ``logs/a/b/x.txt`` at ``DESTINATION/a/b/x.txt``, the path
below the part of the pattern that has no wildcard.

Symbolic links: the protocol has none, so a link found inside an uploaded directory
(or below the fixed part of a pattern) is skipped with a warning, unless links are
followed (``-L``, as rsync's ``--copy-links``); a link named on the command line is
followed, as cp and rsync do with their arguments.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from dataclasses import dataclass, field

from remofile.client import Client
from remofile.core.exceptions import SourceNotFound
from remofile.core.paths import join_remote_path, split_remote_path

#: Characters that make a path component a glob pattern.
GLOB_CHARACTERS = frozenset("*?[")


def has_glob(text: str) -> bool:
    return any(character in GLOB_CHARACTERS for character in text)


@dataclass(frozen=True)
class Item:
    """One file or directory to transfer: where it comes from, and where it goes,
    as sub-directories (``parents``) of the destination and a name."""

    source: str
    parents: tuple[str, ...]
    name: str
    is_directory: bool
    size: int = 0

    @property
    def relative(self) -> str:
        """Its path below the destination, ``/`` separated."""
        return "/".join((*self.parents, self.name))


@dataclass
class Plan:
    items: list[Item] = field(default_factory=list)
    #: Directories named without -r: skipped with a warning, status 1.
    skipped_directories: list[str] = field(default_factory=list)
    #: Symbolic links left out (without -L), with their targets.
    skipped_links: list[tuple[str, str]] = field(default_factory=list)
    #: The size of each file of the transfer, directories' contents included (remote
    #: paths for a download, local ones for an upload).
    sizes: dict[str, int] = field(default_factory=dict)

    def files_of(self, item: Item) -> list[tuple[str, int]]:
        """The files ``item`` stands for, with their sizes: itself, or those inside it."""
        if not item.is_directory:
            return [(item.source, item.size)]
        prefix = item.source.rstrip("/") + "/"
        return [(path, size) for path, size in self.sizes.items() if path.startswith(prefix)]

    def add(self, item: Item) -> None:
        for other in self.items:
            if other.relative == item.relative:
                raise ValueError(
                    f"{other.source} and {item.source} would both be written to "
                    f"{item.relative} of the destination"
                )
        self.items.append(item)


def _is_link(path: str) -> bool:
    return os.path.islink(path)


def _local_size(path: str, sizes: dict[str, int] | None = None) -> int:
    """The bytes of a file, or of the files of a directory (each recorded in ``sizes``)."""
    if not os.path.isdir(path):
        try:
            size = os.path.getsize(path)
        except OSError:
            return 0
        if sizes is not None:
            sizes[path] = size
        return size
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            candidate = os.path.join(directory, name)
            if not os.path.islink(candidate):
                size = os.path.getsize(candidate)
                total += size
                if sizes is not None:
                    sizes[candidate] = size
    return total


def links_below(top: str) -> list[str]:
    """The symbolic links inside the local directory ``top`` (not followed)."""
    found: list[str] = []
    for directory, directories, files in os.walk(top):
        for name in sorted(directories + files):
            path = os.path.join(directory, name)
            if os.path.islink(path):
                found.append(path)
    return found


def plan_upload(sources: list[str], recursive: bool, copy_links: bool) -> Plan:
    """The local files and directories the sources name.

    :raises SourceNotFound: naming the first source that names nothing.
    :raises ValueError: if two sources would land on the same remote path.
    """
    plan = Plan()
    for source in sources:
        if os.path.lexists(source) or not has_glob(source):
            if not os.path.exists(source):
                raise SourceNotFound(f"no such local file: {source}")
            top = source.rstrip(os.sep) or source
            name = os.path.basename(os.path.abspath(top))
            if os.path.isdir(source):
                if not recursive:
                    plan.skipped_directories.append(source)
                    continue
                plan.add(Item(source, (), name, True, _local_size(source, plan.sizes)))
                if not copy_links:
                    plan.skipped_links += [(link, os.readlink(link)) for link in links_below(top)]
            else:
                plan.add(Item(source, (), name, False, _local_size(source, plan.sizes)))
            continue
        _plan_pattern(plan, source, recursive, copy_links)
    return plan


def _plan_pattern(plan: Plan, pattern: str, recursive: bool, copy_links: bool) -> None:
    parts = pattern.split(os.sep)
    fixed: list[str] = []
    for part in parts:
        if has_glob(part):
            break
        fixed.append(part)
    base = os.sep.join(fixed) or "."
    if pattern.startswith(os.sep) and not fixed[1:]:
        base = os.sep
    deep = len(parts) - len(fixed) > 1 or "**" in parts
    matches = sorted(glob.glob(pattern, recursive=True))
    if not matches:
        raise SourceNotFound(f"no local file matches {pattern}")
    for match in matches:
        relative = os.path.relpath(match, base).split(os.sep)
        below = [os.path.join(base, *relative[: end + 1]) for end in range(len(relative))]
        links = [path for path in below if _is_link(path)]
        if links and not copy_links:
            pair = (links[0], os.readlink(links[0]))
            if pair not in plan.skipped_links:
                plan.skipped_links.append(pair)
            continue
        if os.path.isdir(match):
            if deep:
                continue  # its files are matched one by one; the structure makes it
            if not recursive:
                plan.skipped_directories.append(match)
                continue
            plan.add(
                Item(
                    match, tuple(relative[:-1]), relative[-1], True, _local_size(match, plan.sizes)
                )
            )
            if not copy_links:
                plan.skipped_links += [(link, os.readlink(link)) for link in links_below(match)]
        elif os.path.isfile(match):
            plan.add(
                Item(
                    match, tuple(relative[:-1]), relative[-1], False, _local_size(match, plan.sizes)
                )
            )


def _matches(pattern: list[str], parts: list[str]) -> bool:
    """Whether a path (its components) matches a pattern whose ``**`` components match
    any number of components and whose others match one, as fnmatch does."""
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_matches(rest, parts[start:]) for start in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], head) and _matches(rest, parts[1:])


def plan_download(client: Client, sources: list[str], recursive: bool, timeout: int) -> Plan:
    """The remote files and directories the (absolute) sources name.

    :raises SourceNotFound: naming the first source that names nothing.
    :raises ValueError: if two sources would land on the same local path.
    """
    plan = Plan()
    for source in sources:
        components = list(split_remote_path(source))
        first_glob = next((i for i, part in enumerate(components) if has_glob(part)), None)
        if not components:
            components, first_glob = ["*"], 0  # the root: everything in it
        if first_glob is None or (first_glob == len(components) - 1 and "**" not in components):
            _plan_one_level(client, plan, source, components, recursive, timeout)
            continue
        base, pattern = components[:first_glob], components[first_glob:]
        try:
            entries = client.list_entries(join_remote_path(base), timeout, recursive=True)
        except (FileNotFoundError, NotADirectoryError) as error:
            raise SourceNotFound(
                f"no such remote directory: {join_remote_path(base)} (in {source})"
            ) from error
        found = False
        for entry in entries:
            parts = entry.name.split("/")
            if entry.is_directory or not _matches(pattern, parts):
                continue
            found = True
            remote = join_remote_path((*base, *parts))
            plan.add(Item(remote, tuple(parts[:-1]), parts[-1], False, entry.size))
            plan.sizes[remote] = entry.size
        if not found:
            raise SourceNotFound(f"no remote file matches {source}")
    return plan


def _plan_one_level(
    client: Client,
    plan: Plan,
    source: str,
    components: list[str],
    recursive: bool,
    timeout: int,
) -> None:
    parent, last = components[:-1], components[-1]
    try:
        entries = client.list_entries(join_remote_path(parent), timeout)
    except (FileNotFoundError, NotADirectoryError) as error:
        raise SourceNotFound(f"no such remote directory: {join_remote_path(parent)}") from error
    if has_glob(last):
        chosen = [entry for entry in entries if fnmatch.fnmatchcase(entry.name, last)]
    else:
        chosen = [entry for entry in entries if entry.name == last]
    if not chosen:
        what = "file matches" if has_glob(last) else "such remote file or directory:"
        raise SourceNotFound(f"no {what} {source}")
    for entry in chosen:
        remote = join_remote_path((*parent, entry.name))
        if entry.is_directory and not recursive:
            plan.skipped_directories.append(remote)
            continue
        size = entry.size
        if entry.is_directory:
            listing = client.list_entries(remote, timeout, recursive=True)
            for inner in listing:
                if not inner.is_directory:
                    plan.sizes[f"{remote}/{inner.name}"] = inner.size
            size = sum(inner.size for inner in listing if not inner.is_directory)
        else:
            plan.sizes[remote] = size
        plan.add(Item(remote, (), entry.name, entry.is_directory, size))
