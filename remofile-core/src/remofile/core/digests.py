"""Whole-file digests (SPEC.md section 7.2): the algorithms this installation computes.

Every peer has SHA-256. BLAKE3 hashes several times faster (about 6 GB/s against
1.6 GB/s on one core of the benchmark machine), which matters on big transfers, where
both ends hash every byte; it is used when both ends have it. A transfer names its
algorithm in UPLOAD_FILE or DOWNLOAD_FILE; UNSPECIFIED means SHA-256.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Protocol

from remofile.v1 import remofile_pb2 as pb

#: Length of the value of every digest algorithm version 1 defines.
DIGEST_BYTES = 32


class Hasher(Protocol):
    """What hashlib's objects and blake3's have in common."""

    def update(self, data: bytes | bytearray | memoryview, /) -> object: ...

    def digest(self) -> bytes: ...


def _blake3_factory() -> Callable[[], Hasher] | None:
    try:
        from blake3 import blake3
    except ImportError:  # a platform without a blake3 wheel: SHA-256 only
        return None
    return blake3


_FACTORIES: dict[pb.DigestAlgorithm.ValueType, Callable[[], Hasher]] = {
    pb.DIGEST_ALGORITHM_SHA256: hashlib.sha256
}
_blake3 = _blake3_factory()
if _blake3 is not None:
    _FACTORIES[pb.DIGEST_ALGORITHM_BLAKE3] = _blake3

#: The algorithms this installation computes, the preferred first.
SUPPORTED_DIGEST_ALGORITHMS: tuple[pb.DigestAlgorithm.ValueType, ...] = tuple(
    algorithm
    for algorithm in (pb.DIGEST_ALGORITHM_BLAKE3, pb.DIGEST_ALGORITHM_SHA256)
    if algorithm in _FACTORIES
)


def effective_algorithm(algorithm: int) -> pb.DigestAlgorithm.ValueType:
    """The algorithm a transfer asking for ``algorithm`` uses: UNSPECIFIED is SHA-256."""
    if algorithm == pb.DIGEST_ALGORITHM_UNSPECIFIED:
        return pb.DIGEST_ALGORITHM_SHA256
    return pb.DigestAlgorithm.ValueType(algorithm)


def new_hasher(algorithm: int) -> Hasher:
    """A fresh hasher; KeyError for an algorithm this installation does not compute."""
    return _FACTORIES[effective_algorithm(algorithm)]()


def preferred_algorithm(announced: Iterable[int]) -> pb.DigestAlgorithm.ValueType:
    """The fastest algorithm both this installation and a peer announcing ``announced`` have.

    SHA-256 when they share nothing else: every server must have it (SPEC.md 7.2).
    """
    offered = set(announced)
    for algorithm in SUPPORTED_DIGEST_ALGORITHMS:
        if algorithm in offered:
            return algorithm
    return pb.DIGEST_ALGORITHM_SHA256


def algorithm_name(algorithm: int) -> str:
    """``SHA256`` or ``BLAKE3``, for messages."""
    try:
        return pb.DigestAlgorithm.Name(effective_algorithm(algorithm)).removeprefix(
            "DIGEST_ALGORITHM_"
        )
    except ValueError:
        return f"algorithm {algorithm}"


def algorithm_from_name(name: str) -> pb.DigestAlgorithm.ValueType:
    """The algorithm called ``name`` (``'blake3'``, ``'sha256'``, ``'SHA-256'``...).

    :raises ValueError: for a name version 1 does not define.
    """
    wanted = name.upper().replace("-", "")
    for algorithm in (pb.DIGEST_ALGORITHM_SHA256, pb.DIGEST_ALGORITHM_BLAKE3):
        if algorithm_name(algorithm) == wanted:
            return algorithm
    raise ValueError(f"unknown digest algorithm {name!r}: blake3 or sha256")
