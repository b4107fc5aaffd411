"""The token of a served directory, kept across restarts of `run` and `start`.

When a server is started without a token, the one it used the last time for the same
directory is used again, so the clients' REMOFILE_TOKEN stays valid; the first time,
one is generated and kept. ``--new-token`` makes and keeps a new one.

Where: ``$XDG_STATE_HOME/remofile/tokens/`` (``~/.local/state/remofile/tokens/`` by
default), one file per directory, named by a hash of the directory's real path (so
``./served``, ``served/`` and a symbolic link to it share one token; an
``s3://bucket/prefix`` root by its URL), in a directory
of mode 0700, the file of mode 0600, written whole then renamed into place.

Why not inside the served directory, even in its reserved ``.remofile-staging`` area
that clients cannot read: everything there goes wherever the directory goes (a backup,
a copy handed to someone, another program serving it without Remofile's reserved
names), the server reclaims what it finds in its staging area, and a directory the
server may only read would then lose its token. The state directory belongs to the
user who runs the server, next to no data that clients see, which is what XDG's state
directory is for: data that should persist between restarts but is not the user's
documents nor configuration.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

#: The variable of the XDG base directory specification for persistent state.
STATE_HOME_VARIABLE = "XDG_STATE_HOME"


def state_directory() -> Path:
    """``$XDG_STATE_HOME/remofile``, or ``~/.local/state/remofile``."""
    base = os.environ.get(STATE_HOME_VARIABLE, "").strip()
    if not base or not os.path.isabs(base):  # the specification ignores relative ones
        base = os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base, "remofile")


def _identity(directory: str | os.PathLike[str]) -> str:
    """What names a served root whatever the working directory: a local directory's
    real path, or a storage URL (``s3://bucket/prefix``) as written."""
    text = os.fspath(directory)
    return text.rstrip("/") if "://" in text else os.path.realpath(text)


def token_path(directory: str | os.PathLike[str]) -> Path:
    """Where the token of ``directory`` is kept."""
    real = _identity(directory)
    key = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return state_directory() / "tokens" / f"{key}.token"


def stored_token(directory: str | os.PathLike[str]) -> str | None:
    """The token kept for ``directory`` (the first line of its file; the second names
    the directory, for people), or None if there is none or it is unreadable."""
    try:
        lines = token_path(directory).read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return lines[0].strip() or None if lines else None


def store_token(directory: str | os.PathLike[str], token: str) -> Path:
    """Keep ``token`` for ``directory`` (mode 0600, replacing any earlier one).

    :raises OSError: if the state directory cannot be written.
    """
    path = token_path(directory)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(f"{token}\n")
            handle.write(f"# {_identity(directory)}\n")
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path
