"""Remote path normalisation (SPEC.md section 4.5).

Remote paths are absolute POSIX-style paths rooted at the served directory. They are
reduced to a tuple of components so that the server resolves them against its root
one component at a time and can never be steered outside it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from remofile.core.limits import MAX_NAME_BYTES, MAX_PATH_BYTES
from remofile.core.names import is_reserved_name

RemotePath = tuple[str, ...]


class RemotePathError(ValueError):
    """A remote path is not absolute, or holds a component the protocol forbids."""


def split_remote_path(path: str | os.PathLike[str]) -> RemotePath:
    """Reduce an absolute remote path to its components.

    Empty and ``.`` components are dropped (``/a//./b/`` is ``("a", "b")``); ``/`` is
    the empty tuple. ``..`` is refused rather than resolved so that a path never
    climbs, and so are NUL, over-long paths and components, and the server's reserved
    names (in any letter case).

    :raises RemotePathError: if the path is relative or holds a forbidden component.
    """
    text = os.fspath(path)
    if not isinstance(text, str):
        raise RemotePathError("remote paths are text, not bytes")
    if not text.startswith("/"):
        raise RemotePathError(f"remote path must be absolute: {text!r}")
    if "\x00" in text:
        raise RemotePathError("remote path contains a NUL character")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as error:
        raise RemotePathError("remote path is not valid Unicode") from error
    if size > MAX_PATH_BYTES:
        raise RemotePathError(f"remote path is longer than {MAX_PATH_BYTES} bytes")
    components = tuple(part for part in text.split("/") if part not in ("", "."))
    for part in components:
        if part == "..":
            raise RemotePathError(f"remote path must not contain '..': {text!r}")
        if is_reserved_name(part):
            raise RemotePathError(f"remote path uses a reserved name: {part!r}")
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            raise RemotePathError(f"remote path has a component over {MAX_NAME_BYTES} bytes")
    return components


def join_remote_path(components: Sequence[str]) -> str:
    """The canonical text of a remote path: ``/`` followed by its components."""
    return "/" + "/".join(components)


def normalize_remote_path(path: str | os.PathLike[str]) -> str:
    """Return the canonical absolute form of a remote path (``/a//b/`` is ``/a/b``).

    :raises RemotePathError: as :func:`split_remote_path`.
    """
    return join_remote_path(split_remote_path(path))
