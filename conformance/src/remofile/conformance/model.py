"""A model of the part of the served tree the suite owns, to predict what listings show.

Paths in the model are relative to the directory it models, components joined with
``/`` (``sub/inner.txt``); the empty path is that directory. A file is its content; a
directory is :data:`DIRECTORY`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from remofile.conformance.wire import Reply


class _Directory:
    def __repr__(self) -> str:
        return "DIRECTORY"


#: What the model holds for a directory.
DIRECTORY = _Directory()

Node = bytes | _Directory


@dataclass(frozen=True, order=True)
class Entry:
    """One entry of a listing, as the model predicts it (4.6)."""

    name: str
    is_directory: bool
    size: int


def join(*parts: str) -> str:
    return "/".join(part for part in parts if part)


@dataclass
class TreeModel:
    """Entries below one directory of the served tree."""

    nodes: dict[str, Node] = field(default_factory=dict)

    def add_file(self, path: str, content: bytes = b"") -> None:
        self.nodes[path] = content

    def add_directory(self, path: str) -> None:
        self.nodes[path] = DIRECTORY

    def remove(self, path: str) -> None:
        """Remove an entry and, for a directory, everything beneath it."""
        for key in [key for key in self.nodes if key == path or key.startswith(path + "/")]:
            del self.nodes[key]

    def move(self, source: str, destination: str) -> None:
        """Rename an entry and, for a directory, everything beneath it (4.14); whatever
        ``destination`` named is replaced."""
        if source == destination:
            return
        self.remove(destination)
        for key in [key for key in self.nodes if key == source or key.startswith(source + "/")]:
            self.nodes[destination + key[len(source) :]] = self.nodes.pop(key)

    def exists(self, path: str) -> bool:
        return path == "" or path in self.nodes

    def is_directory(self, path: str) -> bool:
        return path == "" or self.nodes.get(path) is DIRECTORY

    def is_file(self, path: str) -> bool:
        return isinstance(self.nodes.get(path), bytes)

    def content(self, path: str) -> bytes:
        node = self.nodes[path]
        assert isinstance(node, bytes), path
        return node

    def beneath(self, path: str) -> int:
        """How many entries lie beneath a directory, at every depth (4.11.1)."""
        prefix = path + "/" if path else ""
        return sum(1 for key in self.nodes if key.startswith(prefix) and key != path)

    def listing(self, path: str, recursive: bool = False) -> list[Entry]:
        """The entries a listing of ``path`` shows, sorted by code point (4.6)."""
        prefix = path + "/" if path else ""
        entries = []
        for key, node in self.nodes.items():
            if not key.startswith(prefix) or key == path:
                continue
            relative = key[len(prefix) :]
            if not recursive and "/" in relative:
                continue
            is_directory = node is DIRECTORY
            size = 0 if isinstance(node, _Directory) else len(node)
            entries.append(Entry(relative, is_directory, size))
        return sorted(entries, key=lambda entry: entry.name)


def listed_entries(reply: Reply) -> list[Entry]:
    return [
        Entry(entry.name, entry.is_directory, entry.size)
        for entry in reply.response.file_list.entries
    ]


def _describe(entry: Entry) -> str:
    return "a directory" if entry.is_directory else f"{entry.size} bytes"


def listing_problem(reply: Reply, expected: list[Entry], truncated: bool = False) -> str | None:
    """What differs between a FILES_LISTED reply and the entries expected, in order."""
    file_list = reply.response.file_list
    seen = listed_entries(reply)
    for entry in file_list.entries:
        if entry.modification_time_ns <= 0:
            return f"entry {entry.name!r} has no modification time"
    if seen != expected:
        missing = [entry for entry in expected if entry not in seen]
        extra = [entry for entry in seen if entry not in expected]
        if not missing and not extra:
            return f"the entries are not sorted by name: {[entry.name for entry in seen]}"
        if [entry.name for entry in missing] == [entry.name for entry in extra]:
            differences = [
                f"{want.name} ({_describe(want)} expected, {_describe(got)} listed)"
                for want, got in zip(missing, extra, strict=True)
            ]
            return f"listing differs from the tree: {', '.join(differences)}"
        missing_names = [entry.name for entry in missing]
        extra_names = [entry.name for entry in extra]
        return f"listing differs from the tree: missing {missing_names}, unexpected {extra_names}"
    if file_list.truncated != truncated:
        return f"truncated is {file_list.truncated}, expected {truncated}"
    return None


def listing_check(expected: list[Entry], truncated: bool = False) -> Callable[[Reply], str | None]:
    """A reply check: FILES_LISTED holds exactly ``expected``, in order (4.6)."""

    def check(reply: Reply) -> str | None:
        return listing_problem(reply, expected, truncated)

    return check
