"""A client key that outlives the command, so that a command run again takes its
session back at once instead of waiting for it to expire.

HELLO with the client key of the live session replaces that session (SPEC.md 3.7). A
command interrupted mid-transfer (Ctrl-C, a closed terminal, a killed process) leaves
its session live on the server until it expires (30 s by default), and the same command
run again would be refused SERVER_BUSY until then. So each command keeps its key in the
state directory, one file per server, and holds an exclusive lock on that file while it
runs: the next command for that server takes the same key once the lock is free, while a
command running beside another one (the lock is held) makes a key of its own. Two
commands never share a key, so one never takes the other's session away.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from remofile.cli.token_store import state_directory

#: Bytes of a key this module makes (SPEC.md 3.7 allows 16 to 64).
KEY_BYTES = 32


@contextmanager
def held_client_key(server: str) -> Iterator[bytes | None]:
    """The client key kept for ``server`` (any text naming it, such as ``host:port``),
    locked for this process while the block runs; None (make a fresh key) where it is
    locked by another command or cannot be kept (no writable state directory)."""
    directory = state_directory() / "client-keys"
    name = hashlib.sha256(server.encode("utf-8")).hexdigest()[:32]
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(directory / name, flags, 0o600)
    except OSError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            key = None  # another command for this server is running
        else:
            key = _read_or_make(fd)
        yield key
    finally:
        os.close(fd)  # releases the lock


def _read_or_make(fd: int) -> bytes | None:
    """The key in the locked file, or a new one written there."""
    try:
        key = os.pread(fd, KEY_BYTES + 1, 0)
        if len(key) == KEY_BYTES:
            return key
        key = secrets.token_bytes(KEY_BYTES)
        os.ftruncate(fd, 0)
        os.pwrite(fd, key, 0)
        os.fsync(fd)
    except OSError:
        return None
    return key
