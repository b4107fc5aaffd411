"""Chunk compression (SPEC.md 7.3): every chunk a stream of its own, decoded to exactly
its expected size and never more, whatever the sender claims."""

from __future__ import annotations

import os
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from remofile.core.compression import (
    SUPPORTED_COMPRESSIONS,
    UndecodableChunk,
    compress_chunk,
    inflate_chunk,
    is_worth_compressing,
    preferred_compression,
)
from remofile.v1 import remofile_pb2 as pb

CODECS = [pb.COMPRESSION_ZLIB, pb.COMPRESSION_ZSTD]


def test_zstd_is_there_and_preferred() -> None:
    assert SUPPORTED_COMPRESSIONS[0] == pb.COMPRESSION_ZSTD
    assert preferred_compression([pb.COMPRESSION_NONE, pb.COMPRESSION_ZLIB]) == pb.COMPRESSION_ZLIB
    assert preferred_compression([pb.COMPRESSION_NONE]) == pb.COMPRESSION_NONE
    assert preferred_compression([1, 2, 3]) == pb.COMPRESSION_ZSTD


@pytest.mark.parametrize("compression", CODECS)
@given(data=st.binary(max_size=20_000))
def test_round_trip(compression: int, data: bytes) -> None:
    encoded = compress_chunk(data, compression)
    assert len(encoded) > 0  # an empty chunk is a stream of no bytes, never an empty frame
    assert inflate_chunk(encoded, compression, len(data)) == data


@pytest.mark.parametrize("compression", CODECS)
def test_a_bomb_is_refused_without_inflating_it(compression: int) -> None:
    bomb = compress_chunk(bytes(50 << 20), compression)
    with pytest.raises(UndecodableChunk, match="exactly 1024"):
        inflate_chunk(bomb, compression, 1024)


@pytest.mark.parametrize("compression", CODECS)
def test_wrong_size_extra_bytes_and_garbage_are_undecodable(compression: int) -> None:
    data = os.urandom(3000)
    encoded = bytes(compress_chunk(data, compression))
    for bad, expected in (
        (encoded, 2999),
        (encoded, 3001),
        (encoded + b"x", 3000),
        (encoded + encoded, 3000),
        (encoded[:-3], 3000),
        (b"garbage!" * 4, 3000),
        (b"", 0),
    ):
        with pytest.raises(UndecodableChunk):
            inflate_chunk(bad, compression, expected)


def test_zlib_streams_stay_what_zlib_peers_send() -> None:
    data = b"spam " * 100
    assert inflate_chunk(zlib.compress(data, 9), pb.COMPRESSION_ZLIB, len(data)) == data


def test_only_what_pays_is_compressed() -> None:
    text = b"a line of a log file, again and again\n" * 2000
    assert is_worth_compressing("server.log", text)
    assert not is_worth_compressing("photo.JPG", text)
    assert not is_worth_compressing("archive.tar.gz", text)
    assert not is_worth_compressing("noise.bin", os.urandom(100_000))
    assert is_worth_compressing("empty", b"")
