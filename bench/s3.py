"""`make bench`, S3 rows: Remofile serving a bucket against writing to it directly.

On a SeaweedFS of our own (bench/seaweedfs.py), the same data goes up and down twice:
through Remofile (`remofile run s3://bench/remofile`, the client in this process) and
straight to SeaweedFS with boto3, the library the S3 storage uses (multipart transfers
with 4 threads for the big file, 8 threads of single PUTs and GETs for the small files:
what a user would do instead). Prints a table with the ratios, and PASS/FAIL against the
target: at least 80% of the direct rate for the big file.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.seaweedfs import SeaweedFS, SeaweedFSUnavailable, start_seaweedfs

MIB = 1 << 20
BUCKET = "bench"
TOKEN = "qRkVWJcFRqi7rsNMbagaDd"
TREE_DIRECTORIES = 20
TREE_FILES_PER_DIRECTORY = 100
TREE_FILE_BYTES = 4096
#: The big file's target: Remofile on S3 moves it at this fraction of the direct rate.
BIG_FILE_TARGET_RATIO = 0.8
CALL_TIMEOUT_MS = 600_000
SERVER_START_TIMEOUT_S = 30.0


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 256 MiB big file, not 1 GiB")
    parser.add_argument("--directory", help="where SeaweedFS and the data go (a temporary one)")
    return parser.parse_args(argv)


def write_random_file(path: Path, size: int) -> None:
    block = os.urandom(64 * MIB)
    with open(path, "wb") as output:
        written = 0
        while written < size:
            piece = block[: min(len(block), size - written)]
            # Every block differs, so that no layer can deduplicate them.
            output.write(hashlib.sha256(written.to_bytes(8, "big")).digest() + piece[32:])
            written += len(piece)


def make_tree(top: Path) -> None:
    for directory in range(TREE_DIRECTORIES):
        folder = top / f"dir-{directory:02d}"
        folder.mkdir(parents=True)
        for number in range(TREE_FILES_PER_DIRECTORY):
            (folder / f"file-{number:03d}.bin").write_bytes(os.urandom(TREE_FILE_BYTES))


def tree_files(top: Path) -> list[Path]:
    return sorted(path for path in top.rglob("*") if path.is_file())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(8 * MIB):
            digest.update(block)
    return digest.hexdigest()


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


@contextmanager
def remofile_server(seaweed: SeaweedFS, url: str) -> Iterator[str]:
    """`remofile run URL 0 TOKEN` in a process of its own; yields its endpoint."""
    program = Path(sys.executable).with_name("remofile")
    environment = {**os.environ, **seaweed.environment}
    process = subprocess.Popen(
        [str(program), "run", url, "0", TOKEN],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=environment,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        port = ""
        while time.monotonic() < deadline and not port:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError("remofile run exited")
            if line.startswith("export REMOFILE_PORT="):
                port = line.strip().split("=", 1)[1]
        yield f"tcp://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    big_bytes = (256 if arguments.quick else 1024) * MIB
    from boto3.s3.transfer import TransferConfig
    from remofile.client import Client

    base = Path(arguments.directory or tempfile.mkdtemp(prefix="remofile-bench-s3-"))
    base.mkdir(parents=True, exist_ok=True)
    (base / "seaweedfs").mkdir()
    try:
        seaweed = start_seaweedfs(base / "seaweedfs", BUCKET)
    except SeaweedFSUnavailable as reason:
        print(f"S3 rows skipped: {reason}")
        return 0
    rows: list[tuple[str, str, float, float]] = []
    try:
        data = base / "data"
        data.mkdir()
        big = data / "big.bin"
        write_random_file(big, big_bytes)
        big_digest = sha256_of(big)
        tree = data / "tree"
        make_tree(tree)
        files = tree_files(tree)
        s3 = seaweed.client()
        transfer = TransferConfig(multipart_chunksize=8 * MIB, max_concurrency=4)
        prefix = f"remofile-{secrets.token_hex(4)}"
        with remofile_server(seaweed, f"s3://{BUCKET}/{prefix}") as endpoint:
            client = Client(endpoint, None, TOKEN)
            try:
                up = timed(lambda: client.upload_file(big, "/", timeout=CALL_TIMEOUT_MS))
                down_directory = base / "down-remofile"
                down_directory.mkdir()
                down = timed(
                    lambda: client.download_file(
                        "/big.bin", down_directory, timeout=CALL_TIMEOUT_MS
                    )
                )
                assert sha256_of(down_directory / "big.bin") == big_digest
                tree_up = timed(lambda: client.upload_directory(tree, "/", timeout=CALL_TIMEOUT_MS))
                tree_down = timed(
                    lambda: client.download_directory(
                        "/tree", down_directory, timeout=CALL_TIMEOUT_MS
                    )
                )
                assert len(tree_files(down_directory / "tree")) == len(files)
            finally:
                client.close()
        direct_down = base / "down-direct"
        direct_down.mkdir()
        direct_up = timed(
            lambda: s3.upload_file(str(big), BUCKET, "direct/big.bin", Config=transfer)
        )
        direct_big_down = timed(
            lambda: s3.download_file(
                BUCKET, "direct/big.bin", str(direct_down / "big.bin"), Config=transfer
            )
        )
        assert sha256_of(direct_down / "big.bin") == big_digest

        def put(path: Path) -> None:
            key = "direct/tree/" + path.relative_to(tree).as_posix()
            s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())

        def get(path: Path) -> None:
            key = "direct/tree/" + path.relative_to(tree).as_posix()
            target = direct_down / "tree" / path.relative_to(tree)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())

        with ThreadPoolExecutor(8) as workers:
            direct_tree_up = timed(lambda: list(workers.map(put, files)))
            direct_tree_down = timed(lambda: list(workers.map(get, files)))
        size_mib = big_bytes / MIB
        rows = [
            (f"{size_mib:.0f} MiB file up", "MiB/s", size_mib / up, size_mib / direct_up),
            (f"{size_mib:.0f} MiB file down", "MiB/s", size_mib / down, size_mib / direct_big_down),
            (
                f"{len(files)} x 4 KiB up",
                "files/s",
                len(files) / tree_up,
                len(files) / direct_tree_up,
            ),
            (
                f"{len(files)} x 4 KiB down",
                "files/s",
                len(files) / tree_down,
                len(files) / direct_tree_down,
            ),
        ]
    finally:
        seaweed.stop()
        if not arguments.directory:
            shutil.rmtree(base, ignore_errors=True)
    print("S3 storage on SeaweedFS (127.0.0.1): Remofile against boto3 straight to SeaweedFS")
    print(f"{'scenario':<24} {'unit':<8} {'remofile':>10} {'boto3':>10} {'ratio':>7}")
    for name, unit, ours, direct in rows:
        print(f"{name:<24} {unit:<8} {ours:>10.1f} {direct:>10.1f} {ours / direct:>7.2f}")
    big_ratios = [ours / direct for name, _unit, ours, direct in rows if "MiB file" in name]
    verdict = "PASS" if min(big_ratios) >= BIG_FILE_TARGET_RATIO else "FAIL"
    print(
        f"{verdict}: the big file moves at >= {BIG_FILE_TARGET_RATIO:.0%} of the direct rate "
        f"(up {big_ratios[0]:.0%}, down {big_ratios[1]:.0%})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
