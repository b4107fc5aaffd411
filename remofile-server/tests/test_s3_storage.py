"""The S3 storage against a real SeaweedFS: a server killed during a multipart upload
resumes it, nothing outside the prefix is reachable, and several servers over one
bucket serve several clients at once (docs/DESIGN.md, "S3 storage")."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from remofile.client import Client
from remofile.core import SourceNotFound
from remofile.core.paths import RemotePathError, split_remote_path
from remofile.server.s3_storage import DEFAULT_PART_BYTES, STAGING_PREFIX, parse_s3_url
from server_harness import serve_in_process, serve_in_thread

#: Deadline of each client call: S3 requests are slower than a local disk.
CALL_TIMEOUT_MS = 20_000

#: Servers and clients of the many-clients test, and the files they write in all.
SERVERS = 4
FILES = 1000


@pytest.fixture
def aws_environment(seaweedfs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``AWS_*`` variables of the test SeaweedFS, as a user would export them."""
    for name, value in seaweedfs.environment.items():
        monkeypatch.setenv(name, value)


def _keys(client: Any, bucket: str, prefix: str) -> dict[str, int]:
    paginator = client.get_paginator("list_objects_v2")
    return {
        item["Key"]: item["Size"]
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
    }


def test_a_server_killed_during_a_multipart_upload_is_resumed_after_a_restart(
    seaweedfs: Any, s3_root: str, aws_environment: None, tmp_path: Path
) -> None:
    bucket, prefix = parse_s3_url(s3_root)
    s3 = seaweedfs.client()
    staging = prefix + STAGING_PREFIX
    data = os.urandom(5 * DEFAULT_PART_BYTES + 12_345)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    with serve_in_process(s3_root) as running:  # type: ignore[arg-type]
        assert running.process is not None
        process = running.process
        killed = threading.Event()

        def kill_once_two_parts_are_staged(_chunk: bytes, remaining: int, *_: Any) -> None:
            if killed.is_set() or len(data) - remaining < 3 * DEFAULT_PART_BYTES:
                return
            deadline = time.monotonic() + 20
            while len(_keys(s3, bucket, staging)) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            process.kill()  # SIGKILL, by the handle of the process this test started
            killed.set()

        client = running.client()
        with pytest.raises(TimeoutError):  # the server died
            client.upload_file(
                source, "/", process_chunk=kill_once_two_parts_are_staged, timeout=3000
            )
        assert killed.is_set()
    staged = _keys(s3, bucket, staging)
    assert sum(staged.values()) >= 2 * DEFAULT_PART_BYTES
    assert prefix + "big.bin" not in _keys(s3, bucket, prefix), "a partial file is visible"
    first_remaining: list[int] = []

    def record(_chunk: bytes, remaining: int, *_: Any) -> None:
        if not first_remaining:
            first_remaining.append(remaining)

    with serve_in_process(s3_root) as running:  # type: ignore[arg-type]
        client = running.client()
        client.upload_file(source, "/", process_chunk=record, resume=True, timeout=CALL_TIMEOUT_MS)
        resumed_from = len(data) - first_remaining[0]
        assert resumed_from >= 2 * DEFAULT_PART_BYTES, "the upload did not resume"
        assert client.file_digest("/big.bin", "sha256", timeout=CALL_TIMEOUT_MS).digest == (
            hashlib.sha256(data).hexdigest()
        )
        (tmp_path / "back").mkdir()
        client.download_file("/big.bin", tmp_path / "back", timeout=CALL_TIMEOUT_MS)
    assert (tmp_path / "back" / "big.bin").read_bytes() == data
    head = s3.head_object(Bucket=bucket, Key=prefix + "big.bin")
    assert head["Metadata"]["remofile-sha256"] == hashlib.sha256(data).hexdigest()
    assert _keys(s3, bucket, staging) == {}, "staged parts left behind"


def test_nothing_outside_the_prefix_can_be_reached(
    seaweedfs: Any, s3_root: str, aws_environment: None, tmp_path: Path
) -> None:
    bucket, prefix = parse_s3_url(s3_root)
    s3 = seaweedfs.client()
    outside = {
        "secret.txt": prefix.rstrip("/") + "-outside/secret.txt",  # shares its first letters
        "top.txt": "top.txt",
    }
    for key in outside.values():
        s3.put_object(Bucket=bucket, Key=key, Body=b"must never be served")
    # Keys inside the prefix that no protocol name can spell are not served either.
    for key in ("x:y.txt", "sub/a|b.txt", ".remofile-staging/uploads/planted"):
        s3.put_object(Bucket=bucket, Key=prefix + key, Body=b"unnameable")
    s3.put_object(Bucket=bucket, Key=prefix + "mine.txt", Body=b"served")
    with serve_in_thread(s3_root) as running:  # type: ignore[arg-type]
        client = running.client()
        listing = client.list_files("/", recursive=True, timeout=CALL_TIMEOUT_MS)
        assert sorted(listing) == ["mine.txt"]
        for path in ("/../top.txt", "/..", f"/../{prefix.split('/')[0]}-outside/secret.txt"):
            with pytest.raises(RemotePathError):
                split_remote_path(path)
            with pytest.raises((ValueError, SourceNotFound)):
                client.download_file(path, tmp_path, timeout=CALL_TIMEOUT_MS)
        for name in ("secret.txt", "top.txt", ".remofile-staging"):
            with pytest.raises((ValueError, SourceNotFound)):
                client.download_file("/" + name, tmp_path, timeout=CALL_TIMEOUT_MS)
    assert not list(tmp_path.iterdir())
    for key in outside.values():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"must never be served"


@pytest.fixture
def servers(s3_root: str, aws_environment: None) -> Iterator[list[Any]]:
    """Several servers over one prefix, each serving one client at a time."""
    with (
        serve_in_thread(s3_root) as first,  # type: ignore[arg-type]
        serve_in_thread(s3_root) as second,  # type: ignore[arg-type]
        serve_in_thread(s3_root) as third,  # type: ignore[arg-type]
        serve_in_thread(s3_root) as fourth,  # type: ignore[arg-type]
    ):
        yield [first, second, third, fourth]


def _run_all(jobs: list[Any]) -> None:
    """Run the jobs on threads at once; re-raise the first failure."""
    errors: list[BaseException] = []

    def guarded(job: Any) -> None:
        try:
            job()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "a client did not finish"
    if errors:
        raise errors[0]


def test_four_servers_over_one_bucket_serve_four_clients_at_once(
    servers: list[Any], tmp_path: Path
) -> None:
    started = time.monotonic()
    per_client = FILES // SERVERS
    contents: dict[str, bytes] = {}
    for index in range(SERVERS):
        local = tmp_path / f"local-{index}" / f"client-{index}"
        local.mkdir(parents=True)
        for number in range(per_client):
            data = os.urandom(512 + (number * 37) % 4096)
            (local / f"file-{number:03d}.bin").write_bytes(data)
            contents[f"client-{index}/file-{number:03d}.bin"] = data
    clients: list[Client] = [running.client() for running in servers]
    shared = [os.urandom(3 << 20) for _ in range(SERVERS)]
    seen_shared: list[bytes] = []

    def upload(index: int) -> Any:
        def job() -> None:
            clients[index].upload_directory(
                tmp_path / f"local-{index}" / f"client-{index}", "/", timeout=CALL_TIMEOUT_MS
            )
            # Everyone replaces the same name: the last completed upload wins, whole.
            source = tmp_path / f"shared-{index}.bin"
            source.write_bytes(shared[index])
            clients[index].upload_file(
                source, "/", name="shared.bin", replace=True, timeout=CALL_TIMEOUT_MS
            )

        return job

    _run_all([upload(index) for index in range(SERVERS)])

    def check(index: int) -> Any:
        def job() -> None:
            client = clients[index]
            listing = client.list_files("/", recursive=True, timeout=CALL_TIMEOUT_MS)
            files = {name for name, meta in listing.items() if not meta.is_directory}
            assert files == {*contents, "shared.bin"}
            other = (index + 1) % SERVERS
            into = tmp_path / f"back-{index}"
            into.mkdir()
            client.download_directory(f"/client-{other}", into, timeout=CALL_TIMEOUT_MS)
            for number in range(per_client):
                name = f"client-{other}/file-{number:03d}.bin"
                assert (into / name).read_bytes() == contents[name], name
            client.download_file("/shared.bin", into, timeout=CALL_TIMEOUT_MS)
            seen_shared.append((into / "shared.bin").read_bytes())

        return job

    _run_all([check(index) for index in range(SERVERS)])
    assert len(seen_shared) == SERVERS
    assert all(data in shared for data in seen_shared), "a reader saw a mix of two files"
    assert len(set(seen_shared)) == 1, "the readers saw different winners"
    assert time.monotonic() - started < 120
