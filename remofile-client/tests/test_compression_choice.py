"""Which compression a transfer uses (SPEC.md 7.3): zstd where both ends have it, only
where it pays with compress='auto', and the data always arrives byte-identical."""

from __future__ import annotations

import os
from typing import Any

import pytest
from client_harness import TOKEN, Layout, RunningServer
from remofile.client import Client
from remofile.client.chunks import choose_compression
from remofile.core.framing import Frame
from remofile.v1 import remofile_pb2 as pb

T = 10_000
TEXT = b"a line of text that compresses well, again and again\n" * 40_000


class RecordingClient(Client):
    """A client that notes the compression of every transfer it starts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.compressions: list[int] = []

    def send_request(self, kind: str, message: Any, data: Frame | None) -> None:
        if kind in ("upload_file", "download_file", "upload_files", "download_files"):
            self.compressions.append(message.compression)
        super().send_request(kind, message, data)


@pytest.fixture
def client(served: RunningServer) -> RecordingClient:
    recording = RecordingClient(served.endpoint, None, TOKEN)
    served.clients.append(recording)
    return recording


@pytest.mark.parametrize(
    ("compress", "name", "content", "expected"),
    [
        (False, "log.txt", TEXT, pb.COMPRESSION_NONE),
        (True, "log.txt", TEXT, pb.COMPRESSION_ZSTD),
        (True, "noise.bin", os.urandom(300_000), pb.COMPRESSION_ZSTD),
        ("auto", "log.txt", TEXT, pb.COMPRESSION_ZSTD),
        ("auto", "noise.bin", os.urandom(300_000), pb.COMPRESSION_NONE),
        ("auto", "photo.jpg", TEXT, pb.COMPRESSION_NONE),
        (True, "empty", b"", pb.COMPRESSION_ZSTD),
    ],
)
def test_each_transfer_uses_the_compression_asked_and_arrives_whole(
    client: RecordingClient,
    layout: Layout,
    compress: bool | str,
    name: str,
    content: bytes,
    expected: int,
) -> None:
    (layout.local / name).write_bytes(content)
    client.upload_file(layout.local / name, "/", chunk_size=64 * 1024, compress=compress, timeout=T)  # type: ignore[arg-type]
    assert (layout.root / name).read_bytes() == content
    (layout.local / name).unlink()
    client.download_file(
        f"/{name}", layout.local, chunk_size=64 * 1024, compress=compress, timeout=T
    )  # type: ignore[arg-type]
    assert (layout.local / name).read_bytes() == content
    upload, download = client.compressions
    assert upload == expected
    # A download is judged before any byte is seen: by its name alone.
    assert download == (
        expected if compress != "auto" or name != "noise.bin" else pb.COMPRESSION_ZSTD
    )


def test_the_best_shared_compression_is_chosen() -> None:
    zlib_only = [pb.COMPRESSION_NONE, pb.COMPRESSION_ZLIB]
    assert choose_compression(zlib_only, True, "x") == pb.COMPRESSION_ZLIB
    assert choose_compression([pb.COMPRESSION_NONE], True, "x") == pb.COMPRESSION_NONE
    assert choose_compression([], "auto", "x.txt", TEXT) == pb.COMPRESSION_NONE


def test_a_bad_compress_argument_is_refused_before_any_request(
    client: RecordingClient, layout: Layout
) -> None:
    (layout.local / "f").write_bytes(b"f")
    with pytest.raises(ValueError, match="compress must be"):
        client.upload_file(layout.local / "f", "/", compress="zstd", timeout=T)  # type: ignore[arg-type]
    assert client.compressions == []
