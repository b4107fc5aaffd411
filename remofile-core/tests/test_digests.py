"""Whole-file digests (SPEC.md 7.2): which algorithm a transfer uses, and what each gives."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from remofile.core.digests import (
    DIGEST_BYTES,
    SUPPORTED_DIGEST_ALGORITHMS,
    algorithm_name,
    effective_algorithm,
    new_hasher,
    preferred_algorithm,
)
from remofile.v1 import remofile_pb2 as pb

#: BLAKE3 of b"abc", from the reference implementation's test vectors.
BLAKE3_ABC = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"


def test_unspecified_means_sha256() -> None:
    assert effective_algorithm(pb.DIGEST_ALGORITHM_UNSPECIFIED) == pb.DIGEST_ALGORITHM_SHA256
    hasher = new_hasher(pb.DIGEST_ALGORITHM_UNSPECIFIED)
    hasher.update(b"abc")
    assert hasher.digest() == hashlib.sha256(b"abc").digest()


def test_blake3_is_available_and_gives_the_reference_digest() -> None:
    assert SUPPORTED_DIGEST_ALGORITHMS[0] == pb.DIGEST_ALGORITHM_BLAKE3
    hasher = new_hasher(pb.DIGEST_ALGORITHM_BLAKE3)
    hasher.update(b"abc")
    assert hasher.digest().hex() == BLAKE3_ABC


def test_an_undefined_algorithm_has_no_hasher() -> None:
    with pytest.raises(KeyError):
        new_hasher(99)
    assert algorithm_name(99) == "algorithm 99"
    assert algorithm_name(pb.DIGEST_ALGORITHM_BLAKE3) == "BLAKE3"


@pytest.mark.parametrize(
    ("announced", "chosen"),
    [
        ([pb.DIGEST_ALGORITHM_BLAKE3, pb.DIGEST_ALGORITHM_SHA256], pb.DIGEST_ALGORITHM_BLAKE3),
        ([pb.DIGEST_ALGORITHM_SHA256, pb.DIGEST_ALGORITHM_BLAKE3], pb.DIGEST_ALGORITHM_BLAKE3),
        ([pb.DIGEST_ALGORITHM_SHA256], pb.DIGEST_ALGORITHM_SHA256),
        ([], pb.DIGEST_ALGORITHM_SHA256),  # a server that announces nothing still has SHA-256
        ([99], pb.DIGEST_ALGORITHM_SHA256),
    ],
)
def test_the_fastest_shared_algorithm_is_preferred(announced: list[int], chosen: int) -> None:
    assert preferred_algorithm(announced) == chosen


@given(
    data=st.binary(max_size=20_000),
    cuts=st.lists(st.integers(min_value=0, max_value=20_000), max_size=6),
    algorithm=st.sampled_from(SUPPORTED_DIGEST_ALGORITHMS),
)
def test_streamed_digest_equals_the_digest_of_the_whole(
    data: bytes, cuts: list[int], algorithm: int
) -> None:
    """Both ends hash chunk by chunk; any split gives the digest of the whole file."""
    whole = new_hasher(algorithm)
    whole.update(data)
    streamed = new_hasher(algorithm)
    start = 0
    for cut in sorted(cut for cut in cuts if cut <= len(data)):
        streamed.update(memoryview(data)[start:cut])
        start = cut
    streamed.update(memoryview(data)[start:])
    assert streamed.digest() == whole.digest()
    assert len(whole.digest()) == DIGEST_BYTES
