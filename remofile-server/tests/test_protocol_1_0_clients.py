"""A client built from the released protocol 1.0 files still works with this server.

Protocol 1.1 only added fields, messages and enum values (SPEC.md 8.6), so a client
generated from the ``.proto`` of the 1.0 release, which knows none of them, must go
through a whole session unharmed: the unknown ``SessionOpened.features`` is skipped by
its parser, and nothing it sends means anything new. The old file comes from the
release commit recorded in ``proto/RELEASES``; the client runs in a process of its own,
where only the old generated module is loaded.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from server_harness import TOKEN, RunningServer

REPOSITORY = Path(__file__).resolve().parents[2]

#: A 1.0 client: HELLO, LIST_FILES, a one-chunk upload and its download, GOODBYE.
OLD_CLIENT = r"""
import hashlib, sys
import zmq
import remofile_1_0_pb2 as pb

endpoint, token = sys.argv[1], sys.argv[2]
socket = zmq.Context().socket(zmq.DEALER)
socket.setsockopt(zmq.LINGER, 0)
socket.connect(endpoint)
session = b""

def call(data=None, **kind):
    request = pb.Request(token=token, session_id=session, **kind)
    socket.send_multipart([b"", request.SerializeToString()] + ([data] if data is not None else []))
    assert socket.poll(5000), "no answer"
    frames = socket.recv_multipart()
    response = pb.Response()
    response.ParseFromString(frames[1])
    return response, frames[2:]

opened, _ = call(hello=pb.Hello(protocol_version=1, client_name="protocol-1.0"))
assert opened.reason == pb.REASON_SESSION_OPENED, opened
session = opened.session_opened.session_id
listed, _ = call(list_files=pb.ListFiles(directory="/"))
assert [entry.name for entry in listed.file_list.entries] == ["old.txt"], listed
content = b"written by a 1.0 client"
accepted, _ = call(upload_file=pb.UploadFile(name="new.txt", directory="/",
                   file_size=len(content), chunk_size=4096))
assert accepted.reason == pb.REASON_TRANSFER_ACCEPTED, accepted
digest = pb.Digest(algorithm=pb.DIGEST_ALGORITHM_SHA256, value=hashlib.sha256(content).digest())
done, _ = call(content, send_chunk=pb.SendChunk(offset=0, digest=digest))
assert done.reason == pb.REASON_TRANSFER_COMPLETED, done
taken, _ = call(upload_file=pb.UploadFile(name="old.txt", directory="/", file_size=1,
                chunk_size=4096))
assert taken.reason == pb.REASON_FILE_ALREADY_EXISTS, taken
started, _ = call(download_file=pb.DownloadFile(path="/old.txt", chunk_size=4096))
assert started.reason == pb.REASON_TRANSFER_ACCEPTED, started
last, data = call(receive_chunk=pb.ReceiveChunk())
assert last.reason == pb.REASON_TRANSFER_COMPLETED and data == [b"old"], last
closed, _ = call(goodbye=pb.Goodbye())
assert closed.reason == pb.REASON_SESSION_CLOSED, closed
print("ok")
"""


def _release_commit() -> str:
    lines = (REPOSITORY / "proto" / "RELEASES").read_text().splitlines()
    releases = [line.split() for line in lines if line and not line.startswith("#")]
    tag, commit = releases[0]
    assert tag == "proto/v1.0.0"
    return commit


def _generate_old_module(directory: Path) -> None:
    """protoc's Python module of the 1.0 ``.proto``, as ``remofile_1_0_pb2``."""
    shown = subprocess.run(
        ["git", "show", f"{_release_commit()}:proto/remofile/v1/remofile.proto"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=False,
    )
    if shown.returncode != 0:
        pytest.skip(f"the 1.0 release commit is not in this clone: {shown.stderr.strip()}")
    (directory / "remofile_1_0.proto").write_text(shown.stdout)
    from grpc_tools import protoc

    status = protoc.main(
        ["protoc", f"--proto_path={directory}", f"--python_out={directory}", "remofile_1_0.proto"]
    )
    assert status == 0, "protoc failed on the 1.0 proto"


def test_a_protocol_1_0_client_completes_a_session(served: RunningServer, tmp_path: Path) -> None:
    generated = tmp_path / "generated"
    generated.mkdir()
    _generate_old_module(generated)
    (served.root / "old.txt").write_bytes(b"old")
    run = subprocess.run(
        [sys.executable, "-c", OLD_CLIENT, served.endpoint, TOKEN],
        cwd=generated,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PYTHONPATH": str(generated), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"
    assert (served.root / "new.txt").read_bytes() == b"written by a 1.0 client"
    assert (served.root / "old.txt").read_bytes() == b"old"
