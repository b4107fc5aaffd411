"""The client end to end on both storage backends: the jailed local directory and an S3
bucket (a real SeaweedFS). What differs is asserted as a difference, not skipped: S3
has no atomic rename, so its server does not offer MOVE_FILE."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from client_harness import RunningServer, serve_in_thread, tree
from remofile.client import synchronize_download, synchronize_upload
from remofile.core import UnsupportedError

#: Deadline of each call: S3 requests are slower than a local disk.
T = 20_000

#: Parts of the S3 storage in these tests (S3's smallest), so resumes need small files.
PART_BYTES = 5 << 20

CHUNK = 1 << 20


class Interrupted(Exception):
    """Raised from process_chunk to cut a transfer short."""


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def served(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningServer]:
    root = tmp_path / "served"
    root.mkdir()
    options = {}
    if backend == "s3":
        seaweedfs = request.getfixturevalue("seaweedfs")
        url = request.getfixturevalue("s3_root")
        options["storage"] = seaweedfs.storage(url, part_bytes=PART_BYTES)
    with serve_in_thread(root, **options) as running:
        yield running


def _write(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def test_an_interrupted_upload_resumes_and_lands_whole(
    served: RunningServer, tmp_path: Path
) -> None:
    data = _write(tmp_path / "up" / "big.bin", 3 * PART_BYTES + 4321)
    client = served.client()

    def interrupt(_chunk: bytes, remaining: int, *_: object) -> None:
        if len(data) - remaining >= 2 * PART_BYTES:
            raise Interrupted

    with pytest.raises(Interrupted):
        client.upload_file(tmp_path / "up" / "big.bin", "/", process_chunk=interrupt, timeout=T)
    assert client.list_files("/", timeout=T) == {}, "a partial file is visible"
    offsets: list[int] = []

    def record(_chunk: bytes, remaining: int, *_: object) -> None:
        offsets.append(len(data) - remaining)

    client.upload_file(
        tmp_path / "up" / "big.bin", "/", process_chunk=record, resume=True, timeout=T
    )
    assert offsets[0] >= PART_BYTES, "the upload started over"
    digest = client.file_digest("/big.bin", "sha256", timeout=T)
    assert digest.digest == hashlib.sha256(data).hexdigest()
    down = tmp_path / "down"
    down.mkdir()
    client.download_file("/big.bin", down, timeout=T)
    assert (down / "big.bin").read_bytes() == data


def test_remote_file_objects_read_with_seeks_and_replace_whole(
    served: RunningServer, tmp_path: Path
) -> None:
    data = _write(tmp_path / "f.bin", 9 << 20)
    client = served.client()
    client.upload_file(tmp_path / "f.bin", "/", timeout=T)
    with client.open("/f.bin", "rb", timeout=T) as remote:
        remote.seek(7 << 20)
        assert remote.read(1000) == data[7 << 20 : (7 << 20) + 1000]
        remote.seek(10)
        assert remote.read(5) == data[10:15]
    with client.open("/f.bin", "wb", timeout=T) as writer:
        writer.write(b"new content")
    with client.open("/f.bin", "rb", timeout=T) as remote:
        assert remote.read() == b"new content"


def test_synchronize_both_ways_copy_and_the_move_difference(
    served: RunningServer, backend: str, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    for index in range(20):
        _write(local / f"d{index % 3}" / f"file-{index}.txt", 100 * index)
    _write(local / "big.bin", PART_BYTES + 77)
    (local / "empty").mkdir()
    client = served.client()
    first = synchronize_upload(client, local, "/mirror", timeout=T)
    assert len(first.transferred) == 21
    second = synchronize_upload(client, local, "/mirror", checksum=True, timeout=T)
    assert second.transferred == []
    back = tmp_path / "back"
    synchronize_download(client, "/mirror", back, timeout=T)
    assert tree(back) == tree(local)
    client.copy_file("/mirror/big.bin", "/mirror/d0", timeout=T)
    assert client.file_digest("/mirror/d0/big.bin", timeout=T).digest == (
        client.file_digest("/mirror/big.bin", timeout=T).digest
    )
    if backend == "local":
        client.move_file("/mirror/d1", "/mirror/d2", timeout=T)
    else:
        with pytest.raises(UnsupportedError):
            client.move_file("/mirror/d1", "/mirror/d2", timeout=T)
