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


def _listing_difference(seen: list[Entry], expected: list[Entry]) -> str:
    """Say what differs, field by field for an entry listed under the expected name:
    ``data.bin: size 2560 expected, 2559 listed`` rather than the name as both missing
    and unexpected."""
    wanted = {entry.name: entry for entry in expected}
    listed = {entry.name: entry for entry in seen}
    parts = []
    for name, want in wanted.items():
        got = listed.get(name)
        if got is None or got == want:
            continue
        fields = [
            f"{field} {getattr(want, field)!r} expected, {getattr(got, field)!r} listed"
            for field in ("is_directory", "size")
            if getattr(want, field) != getattr(got, field)
        ]
        parts.append(f"{name}: {'; '.join(fields)}")
    missing = [name for name in wanted if name not in listed]
    unexpected = [name for name in listed if name not in wanted]
    if missing:
        parts.append(f"missing {missing}")
    if unexpected:
        parts.append(f"unexpected {unexpected}")
    names = [entry.name for entry in seen]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        parts.append(f"listed more than once {duplicates}")
    if not parts:
        return (
            "the entries are not sorted by the code points of their names: "
            f"{[entry.name for entry in seen]}, expected {[entry.name for entry in expected]}"
        )
    return f"listing differs from the tree: {', '.join(parts)}"


def listing_problem(reply: Reply, expected: list[Entry], truncated: bool = False) -> str | None:
    """What differs between a FILES_LISTED reply and the entries expected, in order."""
    file_list = reply.response.file_list
    seen = listed_entries(reply)
    for entry in file_list.entries:
        if entry.modification_time_ns <= 0:
            return f"entry {entry.name!r} has no modification time"
    if seen != expected:
        return _listing_difference(seen, expected)
    if file_list.truncated != truncated:
        return f"truncated is {file_list.truncated}, expected {truncated}"
    return None


def listing_check(expected: list[Entry], truncated: bool = False) -> Callable[[Reply], str | None]:
    """A reply check: FILES_LISTED holds exactly ``expected``, in order (4.6)."""

    def check(reply: Reply) -> str | None:
        return listing_problem(reply, expected, truncated)

    return check
