"""What uploads and downloads share: chunk sizes, chunk counts and resumed digests."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Literal

from remofile.core.compression import is_worth_compressing, preferred_compression
from remofile.core.digests import Hasher, new_hasher
from remofile.core.framing import Frame
from remofile.v1 import remofile_pb2 as pb

#: ``compress`` of the transfer methods: False; True, the best compression both ends
#: have (zstd, else zlib); or "auto", the same but only for files where it pays.
Compress = bool | Literal["auto"]


def check_chunk_size(chunk_size: int) -> None:
    """Refuse a chunk size before any request, so a bad argument costs no round trip."""
    if not isinstance(chunk_size, int) or chunk_size <= 0:
        raise ValueError("chunk size must be a positive number of bytes")


def check_compress(compress: object) -> None:
    """Refuse a ``compress`` that is none of False, True and "auto", before any request."""
    if compress not in (False, True, "auto"):
        raise ValueError(f"compress must be False, True or 'auto', not {compress!r}")


def choose_compression(
    offered: Iterable[int], compress: Compress, name: str, first_chunk: Frame = b""
) -> pb.Compression.ValueType:
    """The compression of one transfer: the best the server offers that this end has,
    unless compressing was not asked, or ("auto") does not pay for this file."""
    if not compress or (compress == "auto" and not is_worth_compressing(name, first_chunk)):
        return pb.COMPRESSION_NONE
    return preferred_compression(offered)


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
