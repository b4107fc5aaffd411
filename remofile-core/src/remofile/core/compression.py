"""Chunk compression (SPEC.md section 7.3): zlib and zstd, both ends, one chunk at a time.

Every chunk is compressed on its own, so any chunk can be decoded, resumed from or
refused alone. zstd gives a better ratio than zlib for far less CPU per byte (measured
on the benchmark machine: level 3 about 5x faster than zlib level 6 at the same ratio
or better), so it is preferred when both ends have it. Its frames carry their content
size. A receiver never inflates more than the chunk's expected size, whatever the
sender claims. zstd comes from the standard library's ``compression.zstd`` (Python
3.14) or the ``backports.zstd`` package; without either, only zlib is offered.

The automatic mode compresses only where it pays: files whose name says they are
compressed already are sent as they are, and so is a file whose first chunk does not
shrink by at least a tenth.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable
from types import ModuleType

from remofile.core.framing import Frame
from remofile.v1 import remofile_pb2 as pb

#: Levels used when compressing: fast, as the link is the point.
ZLIB_LEVEL = 1
ZSTD_LEVEL = 3

#: A first chunk that does not shrink to this share of its size is not worth compressing.
WORTHWHILE_RATIO = 0.9

#: Endings of files that are compressed already: compressing them again costs CPU for
#: nothing.
COMPRESSED_SUFFIXES = frozenset(
    {
        ".gz", ".tgz", ".bz2", ".xz", ".txz", ".zst", ".lz4", ".lzma", ".br", ".7z", ".zip",
        ".rar", ".jar", ".whl", ".apk", ".deb", ".rpm", ".jpg", ".jpeg", ".png", ".gif",
        ".webp", ".heic", ".avif", ".mp3", ".aac", ".ogg", ".opus", ".flac", ".m4a", ".mp4",
        ".m4v", ".mkv", ".mov", ".webm", ".avi", ".pdf", ".docx", ".xlsx", ".pptx", ".odt",
        ".parquet", ".iso",
    }
)  # fmt: skip


class UndecodableChunk(ValueError):
    """Chunk data that does not decode to exactly the expected number of bytes."""


def _zstd_module() -> ModuleType | None:
    try:
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        try:
            from backports import zstd  # type: ignore[import-not-found,unused-ignore,no-redef]
        except ImportError:
            return None
    return zstd  # type: ignore[no-any-return,unused-ignore]


_zstd = _zstd_module()

#: The compressions this installation encodes and decodes, the preferred first.
SUPPORTED_COMPRESSIONS: tuple[pb.Compression.ValueType, ...] = (
    *((pb.COMPRESSION_ZSTD,) if _zstd is not None else ()),
    pb.COMPRESSION_ZLIB,
    pb.COMPRESSION_NONE,
)


def effective_compression(value: int) -> pb.Compression.ValueType:
    """UNSPECIFIED means NONE (SPEC.md 7.3.1)."""
    if value == pb.COMPRESSION_UNSPECIFIED:
        return pb.COMPRESSION_NONE
    return pb.Compression.ValueType(value)


def preferred_compression(offered: Iterable[int]) -> pb.Compression.ValueType:
    """The best compression both this installation and a peer offering ``offered``
    have; NONE when they share none."""
    peer = set(offered)
    for compression in SUPPORTED_COMPRESSIONS:
        if compression in peer:
            return compression
    return pb.COMPRESSION_NONE


#: Bytes of a file's start that decide whether it is worth compressing.
PROBE_BYTES = 16 * 1024


def is_worth_compressing(name: str, first_chunk: Frame) -> bool:
    """Whether compressing a file pays: not one compressed already, by its name, nor
    one whose first bytes hardly shrink. The probe uses zstd's fastest level where it
    is installed: on data that does not shrink, zlib took 2.1 ms per 64 KiB, three
    times what zstd takes to compress a whole MiB of it."""
    if os.path.splitext(name)[1].lower() in COMPRESSED_SUFFIXES:
        return False
    sample = bytes(first_chunk[:PROBE_BYTES])
    if not sample:
        return True
    if _zstd is not None:
        probed = len(_zstd.compress(sample, level=1))
    else:
        probed = len(zlib.compress(sample, 1))
    return probed <= len(sample) * WORTHWHILE_RATIO


def compress_chunk(data: Frame, compression: int) -> Frame:
    """One chunk's data as it travels: a complete stream of its own."""
    if compression == pb.COMPRESSION_ZLIB:
        return zlib.compress(data, ZLIB_LEVEL)
    if compression == pb.COMPRESSION_ZSTD:
        assert _zstd is not None, "ZSTD is only chosen where it is supported"
        compressed: bytes = _zstd.compress(bytes(data), level=ZSTD_LEVEL)
        return compressed
    return data


def inflate_chunk(data: Frame, compression: int, expected: int) -> bytes:
    """Decode one chunk, refusing to produce more than ``expected`` bytes.

    :raises UndecodableChunk: if the data is not one complete stream of exactly
        ``expected`` bytes with nothing after it (SPEC.md 7.3.3).
    """
    if compression == pb.COMPRESSION_ZLIB:
        inflater = zlib.decompressobj()
        try:
            out = inflater.decompress(data, expected + 1)
        except zlib.error as error:
            raise UndecodableChunk(f"chunk is not valid zlib data: {error}") from error
        complete = inflater.eof and not inflater.unconsumed_tail and not inflater.unused_data
    elif compression == pb.COMPRESSION_ZSTD and _zstd is not None:
        decompressor = _zstd.ZstdDecompressor()
        try:
            out = decompressor.decompress(bytes(data), max_length=expected + 1)
        except _zstd.ZstdError as error:
            raise UndecodableChunk(f"chunk is not a valid zstd frame: {error}") from error
        complete = decompressor.eof and not decompressor.unused_data
    else:
        raise UndecodableChunk(f"chunk data in an unsupported compression {compression}")
    if len(out) != expected or not complete:
        raise UndecodableChunk(f"compressed chunk does not inflate to exactly {expected} bytes")
    return out
