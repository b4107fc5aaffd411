"""Early write-back of uploads that will be fsynced (writeback.py)."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest
import remofile.server.writeback as writeback
from remofile.server.storage import LocalStorage
from remofile.server.writeback import WRITEBACK_INTERVAL_BYTES, WritebackTracker, start_writeback

MIB = 1 << 20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range is Linux's")
def test_sync_file_range_is_bound_and_works_on_a_real_file(tmp_path: Path) -> None:
    assert start_writeback is not None
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(MIB))
    fd = os.open(path, os.O_WRONLY)
    try:
        assert start_writeback(fd, 0, MIB)
    finally:
        os.close(fd)
    assert not start_writeback(-1, 0, MIB)  # EBADF is reported, not raised


def test_tracker_starts_writeback_once_per_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, int]] = []

    def record(_fd: int, offset: int, length: int) -> bool:
        calls.append((offset, length))
        return True

    monkeypatch.setattr(writeback, "start_writeback", record)
    fd = os.open(tmp_path / "f.bin", os.O_WRONLY | os.O_CREAT)
    try:
        tracker = WritebackTracker(fd, offset=5)
        for _ in range(2 * WRITEBACK_INTERVAL_BYTES // MIB + 1):
            tracker.wrote(MIB)
    finally:
        os.close(fd)
    interval = WRITEBACK_INTERVAL_BYTES
    assert calls == [(5, interval), (5 + interval, interval)]


@pytest.mark.parametrize("sync", [True, False], ids=["synced", "unsynced"])
def test_an_upload_larger_than_the_interval_lands_intact(tmp_path: Path, sync: bool) -> None:
    """Write-back in the middle of an upload changes nothing of what is stored."""
    storage = LocalStorage(tmp_path)
    data = os.urandom(WRITEBACK_INTERVAL_BYTES * 2 + 12345)
    target = storage.begin_upload((), "big.bin", len(data), resume=False, sync=sync)
    view = memoryview(data)
    for start in range(0, len(data), 3 * MIB):
        target.write(view[start : start + 3 * MIB])
    target.commit()
    stored = (tmp_path / "big.bin").read_bytes()
    assert hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()
