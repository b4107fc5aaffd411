"""What uploads and downloads share: chunk sizes, chunk counts and resumed digests."""

from __future__ import annotations

import math
import os

from remofile.core.digests import Hasher, new_hasher
from remofile.v1 import remofile_pb2 as pb


def check_chunk_size(chunk_size: int) -> None:
    """Refuse a chunk size before any request, so a bad argument costs no round trip."""
    if not isinstance(chunk_size, int) or chunk_size <= 0:
        raise ValueError("chunk size must be a positive number of bytes")


def chunk_count(file_size: int, offset: int, chunk_size: int) -> int:
    """Chunks a transfer takes: at least one, so an empty file is one empty chunk."""
    return max(1, math.ceil((file_size - offset) / chunk_size))


def hash_prefix(fd: int, length: int, algorithm: pb.DigestAlgorithm.ValueType) -> Hasher:
    """The digest state after the first ``length`` bytes of a file, to resume a transfer."""
    digest = new_hasher(algorithm)
    position = 0
    while position < length:
        block = os.pread(fd, min(1 << 20, length - position), position)
        if not block:
            raise OSError("local file became shorter while resuming")
        digest.update(block)
        position += len(block)
    return digest
