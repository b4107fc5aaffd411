"""The compression scenarios, on 127.0.0.1: a real corpus, and data compressed already.

``corpus_z``: the text sources of this machine's Python standard library (copied once
per run by ``bench/data.py``), uploaded by Remofile without compression, with ``-z``
(``compress=True``: zstd, both ends having it) and with zlib (the client process made to
prefer it, as the Client has no argument to choose), against rsync over ssh without
compression and with ``-z --compress-choice=zstd`` and ``zlib``.

``compressed_auto``: random files named as compressed (.gz, .jpg) and not (.dat),
uploaded by Remofile without compression, with ``compress="auto"`` and with ``-z``.

Bytes on the wire: on loopback there is no link to count, so Remofile's are computed
here, by compressing each file's chunks with ``remofile.core.compression.compress_chunk``
exactly as the client does (chunks of the default size, the compression chosen the same
way), which counts chunk data only (no message framing); rsync's are its own ``--stats``
(bytes sent and received, its protocol included). The same pass times the codec alone
(CPU seconds of this process), which the CPU of the sending process includes along with
reading, hashing and messaging.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.data import check_tree, remove
from bench.model import Sample
from bench.plans import Plan
from bench.tools import Layout, Tool

REMOFILE = "remofile"
REMOFILE_ZSTD = "remofile -z"
REMOFILE_ZLIB = "remofile -z zlib"
REMOFILE_AUTO = "remofile -z auto"
RSYNC = "rsync/ssh"
RSYNC_ZSTD = "rsync -z zstd"
RSYNC_ZLIB = "rsync -z zlib"

#: The Remofile client options of each variant (see RemofileTool).
REMOFILE_VARIANTS: dict[str, dict[str, object]] = {
    REMOFILE_ZSTD: {"compress": True},
    REMOFILE_ZLIB: {"compress": True, "only_compression": "zlib"},
    REMOFILE_AUTO: {"compress": "auto"},
}
#: The rsync options of each variant.
RSYNC_VARIANTS: dict[str, tuple[str, ...]] = {
    RSYNC_ZSTD: ("-z", "--compress-choice=zstd", "--stats"),
    RSYNC_ZLIB: ("-z", "--compress-choice=zlib", "--stats"),
}

#: Every variant: the other scenarios leave them out.
VARIANTS = frozenset({*REMOFILE_VARIANTS, *RSYNC_VARIANTS})

#: cp: what writing the same files costs the disk, with no transfer at all.
CORPUS_TOOLS = frozenset(
    {REMOFILE, REMOFILE_ZSTD, REMOFILE_ZLIB, RSYNC, RSYNC_ZSTD, RSYNC_ZLIB, "cp (disk)"}
)
COMPRESSED_TOOLS = frozenset({REMOFILE, REMOFILE_AUTO, REMOFILE_ZSTD})
SCENARIOS = ["corpus_z", "compressed_auto"]


@dataclass
class Encoded:
    """What Remofile's chunks of a tree come to under one setting of ``compress``."""

    data_bytes: int
    wire_bytes: int
    #: CPU seconds the codec took (choosing included), in this process.
    codec_seconds: float


def encode_tree(path: str, variant: str) -> Encoded:
    """Compress every chunk of every file under ``path`` as Remofile's client would with
    ``variant``'s setting, against a server offering all this installation has."""
    from remofile.client.chunks import choose_compression
    from remofile.core import compression
    from remofile.core.limits import DEFAULT_CHUNK_SIZE_BYTES
    from remofile.v1 import remofile_pb2 as pb

    options = REMOFILE_VARIANTS.get(variant, {})
    offered: tuple[int, ...] = tuple(compression.SUPPORTED_COMPRESSIONS)
    if options.get("only_compression") == "zlib":
        offered = (pb.COMPRESSION_ZLIB, pb.COMPRESSION_NONE)
    compress = options.get("compress", False)
    assert compress in (False, True, "auto")
    data = wire = 0
    codec = 0.0
    for folder, _, names in os.walk(path):
        for name in sorted(names):
            with open(os.path.join(folder, name), "rb") as source:
                first = True
                chosen = pb.COMPRESSION_NONE
                while True:
                    chunk = source.read(DEFAULT_CHUNK_SIZE_BYTES)
                    if not chunk and not first:
                        break
                    started = time.process_time()
                    if first:
                        chosen = choose_compression(offered, compress, name, chunk)
                    encoded = compression.compress_chunk(chunk, chosen)
                    codec += time.process_time() - started
                    data += len(chunk)
                    wire += len(encoded)
                    first = False
                    if not chunk:
                        break
    return Encoded(data, wire, codec)


def plans(
    layout: Layout,
    runs: int,
    corpus: tuple[int, int] | None,
    compressed: tuple[int, int] | None,
    encoded: dict[tuple[str, str], Encoded],
) -> list[Plan]:
    """``corpus_z`` and ``compressed_auto`` (given their trees, files and bytes, made
    under ``data/corpus`` and ``data/compressed``); ``encoded`` receives what
    :func:`encode_tree` found for each (tree, Remofile variant)."""
    server = layout.server
    result: list[Plan] = []

    def uploading(
        tree: str, files: int
    ) -> tuple[Callable[[Tool, int], Sample], Callable[[], None]]:
        def operation(tool: Tool, _run: int) -> Sample:
            sample = tool.put_tree(tree, 300)
            check_tree(os.path.join(server, tree), files)
            known = encoded.get((tree, tool.name))
            if known is not None:
                sample.wire_bytes = known.wire_bytes
            return sample

        def prepare() -> None:
            for name in (REMOFILE, *REMOFILE_VARIANTS):
                if (tree, name) not in encoded:
                    encoded[(tree, name)] = encode_tree(os.path.join(layout.data, tree), name)

        return operation, prepare

    if corpus is not None:
        operation, prepare = uploading("corpus", corpus[0])
        result.append(
            Plan(
                "corpus_z",
                f"upload the stdlib corpus ({corpus[0]:,} text files, {corpus[1] / 2**20:.0f} MiB)",
                "bytes",
                corpus[1],
                runs,
                300,
                operation,
                after=lambda _run: remove(os.path.join(server, "corpus")),
                prepare=prepare,
                only=CORPUS_TOOLS,
            )
        )
    if compressed is not None:
        operation, prepare = uploading("compressed", compressed[0])
        result.append(
            Plan(
                "compressed_auto",
                f"upload {compressed[0]} files of random bytes (.gz, .jpg, .dat), "
                f"{compressed[1] / 2**20:.0f} MiB",
                "bytes",
                compressed[1],
                runs,
                300,
                operation,
                after=lambda _run: remove(os.path.join(server, "compressed")),
                prepare=prepare,
                only=COMPRESSED_TOOLS,
            )
        )
    return result


def notes(encoded: dict[tuple[str, str], Encoded]) -> list[str]:
    lines = []
    for (tree, variant), found in sorted(encoded.items()):
        if not found.data_bytes:
            continue
        per_gib = found.codec_seconds / (found.data_bytes / 2**30)
        lines.append(
            f"{tree}, {variant}: chunks {found.data_bytes / 2**20:.1f} MiB -> "
            f"{found.wire_bytes / 2**20:.1f} MiB (ratio {found.data_bytes / found.wire_bytes:.2f}); "
            f"codec alone {per_gib:.1f} CPU s/GiB (compress_chunk in the benchmark's process)"
        )
    return lines
