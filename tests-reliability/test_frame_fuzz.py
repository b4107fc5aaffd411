"""Raw multipart frames thrown at a server in its own process: random bytes, mutated
valid messages, wrong frame layouts and valid requests in the wrong state. Every one is
answered, the server's memory stays flat, and a correct client still works."""

from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from figures import scaled
from remofile.client import Client
from remofile.core import ServerBusyError
from remofile.v1 import remofile_pb2 as pb
from server_harness import TOKEN, RawPeer, raw_peer_of, serve_in_process

#: Short, so that a session a mutated HELLO opened frees the server soon.
SESSION_TIMEOUT_MS = 200

#: Messages between two checks that a correct client still works.
CHECK_EVERY = 1000

#: Most growth of the server's resident memory the whole run may cause.
MAX_GROWTH_MIB = 20


def _resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _valid_requests(session: bytes) -> list[pb.Request]:
    """One request of each kind, well formed, for the mutators to start from."""
    digest = pb.Digest(algorithm=pb.DIGEST_ALGORITHM_SHA256, value=bytes(32))
    kinds: list[dict[str, object]] = [
        {"hello": pb.Hello(protocol_version=1)},
        {"goodbye": pb.Goodbye()},
        {"list_files": pb.ListFiles(directory="/", recursive=True)},
        {"create_file": pb.CreateFile(name="fuzz", directory="/")},
        {"make_directory": pb.MakeDirectory(name="fuzz-dir", directory="/")},
        {"upload_file": pb.UploadFile(name="up", directory="/", file_size=10, chunk_size=512)},
        {"send_chunk": pb.SendChunk(offset=0, digest=digest)},
        {"download_file": pb.DownloadFile(path="/keep.bin", chunk_size=512)},
        {"receive_chunk": pb.ReceiveChunk()},
        {"cancel_transfer": pb.CancelTransfer()},
        {"remove_file": pb.RemoveFile(path="/fuzz")},
        {"continue_removal": pb.ContinueRemoval()},
        {"move_file": pb.MoveFile(source="/fuzz", directory="/", name="moved")},
        {"copy_file": pb.CopyFile(source="/keep.bin", directory="/", name="copied")},
        {"file_digest": pb.FileDigest(path="/keep.bin")},
    ]
    return [pb.Request(token=TOKEN, session_id=session, **kind) for kind in kinds]  # type: ignore[arg-type]


def _mutated(chooser: random.Random, valid: bytes) -> bytes:
    data = bytearray(valid)
    for _ in range(chooser.randint(1, 4)):
        action = chooser.randrange(4)
        if action == 0 and data:
            data[chooser.randrange(len(data))] ^= 1 << chooser.randrange(8)
        elif action == 1 and data:
            del data[chooser.randrange(len(data)) :]
        elif action == 2:
            data += chooser.randbytes(chooser.randint(1, 16))
        else:
            position = chooser.randrange(len(data) + 1)
            data[position:position] = chooser.randbytes(chooser.randint(1, 4))
    return bytes(data)


def _message(chooser: random.Random, session: bytes) -> tuple[str, list[bytes]]:
    """A kind of fault and the frames of one message (as a DEALER sends them)."""
    requests = _valid_requests(session)
    valid = chooser.choice(requests).SerializeToString()
    fault = chooser.randrange(5)
    if fault == 0:
        frames = [chooser.randbytes(chooser.randint(0, 64)) for _ in range(chooser.randint(1, 5))]
        return "random frames", frames
    if fault == 1:
        return "mutated message", [b"", _mutated(chooser, valid)]
    if fault == 2:
        layouts: list[Callable[[], list[bytes]]] = [
            lambda: [valid],  # no delimiter
            lambda: [b"", valid, b"data", b"more"],
            lambda: [b"", valid, b"data"],
            lambda: [b"", b"", valid],
            lambda: [b""],
        ]
        return "wrong frame layout", chooser.choice(layouts)()
    if fault == 3:
        # A whole request in whatever state the server is in now.
        request = chooser.choice(requests)
        data = [b"12345"] if request.HasField("send_chunk") else []
        return "request in any state", [b"", request.SerializeToString(), *data]
    token = chooser.choice(["", "wrong-token-123", TOKEN.lower(), TOKEN + "x"])
    request = chooser.choice(requests)
    request.token = token
    return "wrong token", [b"", request.SerializeToString()]


def _correct_client_works(endpoint: str, content: bytes, tmp_path: Path) -> None:
    """Upload and download a file with the real client, waiting out a session a fuzzed
    HELLO may have opened."""
    source = tmp_path / "check.bin"
    source.write_bytes(content)
    deadline = time.monotonic() + 10
    while True:
        client = Client(endpoint, None, TOKEN)
        try:
            client.upload_file(source, "/", name="check.bin", timeout=3000, replace=True)
            target = tmp_path / "back"
            target.mkdir(exist_ok=True)
            client.download_file("/check.bin", target, timeout=3000, replace=True)
            assert hashlib.sha256((target / "check.bin").read_bytes()).digest() == (
                hashlib.sha256(content).digest()
            )
            return
        except ServerBusyError:
            assert time.monotonic() < deadline, "the server stayed busy"
            time.sleep(SESSION_TIMEOUT_MS / 1000)
        finally:
            client.close()


def test_fuzzed_frames_are_all_answered_and_change_nothing_that_matters(
    tmp_path: Path, figures: Counter[str], measures: dict[str, str]
) -> None:
    root = tmp_path / "served"
    root.mkdir()
    (root / "keep.bin").write_bytes(bytes(range(256)) * 40)
    count = scaled(3_000, 100_000)
    chooser = random.Random(4242)
    with (
        serve_in_process(root, sync_writes=False, session_timeout_ms=SESSION_TIMEOUT_MS) as running,
        raw_peer_of(running.endpoint) as peer,
    ):
        assert running.process is not None
        pid = running.process.pid
        session = peer.hello()
        _fuzz(peer, chooser, session, 500, figures)  # warm up, then measure
        before = _resident_mib(pid)
        for start in range(0, count, CHECK_EVERY):
            _fuzz(peer, chooser, session, min(CHECK_EVERY, count - start), figures)
            assert running.process.poll() is None, "the server died"
            _correct_client_works(running.endpoint, chooser.randbytes(3000), tmp_path)
            figures["correct-client checks passed"] += 1
        after = _resident_mib(pid)
    measures["server memory before/after fuzzing"] = f"{before:.1f} / {after:.1f} MiB"
    assert after - before < MAX_GROWTH_MIB, (before, after)
    assert (root / "keep.bin").read_bytes() == bytes(range(256)) * 40


def _fuzz(
    peer: RawPeer, chooser: random.Random, session: bytes, count: int, figures: Counter[str]
) -> None:
    for _ in range(count):
        fault, frames = _message(chooser, session)
        peer.send(*frames)
        reply = peer.receive()
        # Frames before the first empty one are an envelope, echoed as a ROUTER does.
        response = pb.Response()
        response.ParseFromString(reply[reply.index(b"") + 1])
        assert response.type != pb.RESPONSE_TYPE_UNSPECIFIED
        figures["fuzzed messages sent"] += 1
        figures[f"fuzzed messages answered: {fault}"] += 1
        if response.reason == pb.REASON_TRANSFER_ACCEPTED or response.reason in (
            pb.REASON_REMOVAL_STARTED,
            pb.REASON_CHUNK_SENT,
        ):
            cancel = pb.Request(
                token=TOKEN, session_id=session, cancel_transfer=pb.CancelTransfer()
            )
            peer.send(b"", cancel.SerializeToString())
            peer.receive()
