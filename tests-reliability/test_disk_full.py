"""A full disk, on a small file system of its own (a tmpfs; root only, skipped with the
reason elsewhere): every upload that does not fit is a clear INSUFFICIENT_STORAGE, no
partial file is ever visible, and once room is made the server takes files again."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from figures import scaled
from remofile.core import InsufficientStorageError
from server_harness import serve_in_process

DISK = "8m"
FILE_BYTES = 900_000


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "small"
    root.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(root)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"no small file system can be mounted here: {mounted.stderr.decode().strip()}")
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


def test_a_full_disk_refuses_clearly_and_recovers(
    small_disk: Path, tmp_path: Path, figures: Counter[str]
) -> None:
    source = tmp_path / "file.bin"
    source.write_bytes(os.urandom(FILE_BYTES))
    with serve_in_process(small_disk) as running:
        client = running.client()
        for _round in range(scaled(1, 5)):
            stored: list[str] = []
            for index in range(40):  # 40 x 0.9 MB: far more than 8 MiB
                name = f"f{index}.bin"
                try:
                    client.upload_file(source, "/", name=name, chunk_size=64 * 1024, timeout=10_000)
                except InsufficientStorageError:
                    figures["uploads refused: INSUFFICIENT_STORAGE"] += 1
                    continue
                stored.append(name)
            figures["uploads stored on the small disk"] += len(stored)
            visible = sorted(name for name in os.listdir(small_disk) if not name.startswith("."))
            assert visible == sorted(stored), "a refused upload left a file behind"
            for name in visible:
                assert (small_disk / name).stat().st_size == FILE_BYTES
            assert running.process is not None
            assert running.process.poll() is None
            for name in stored:
                client.delete_file(f"/{name}", 10_000)
            client.upload_file(source, "/", name="after.bin", timeout=10_000)
            client.delete_file("/after.bin", 10_000)
            figures["full-disk rounds recovered"] += 1
        client.close()
