"""Appendix A of SPEC.md, the worked transcript, against the messages and against our server.

Each frame of the appendix is shown twice, as protobuf text and as a hex dump: the dump
must be the encoding of the text. Then the transcript is played against a real server
whose root is the appendix's: every request frame is sent as the appendix prints it (with
the session id the server gave) and every response must be byte for byte the one
printed, but for that session id.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zmq
from google.protobuf import text_format
from remofile.core.compression import SUPPORTED_COMPRESSIONS
from remofile.core.digests import SUPPORTED_DIGEST_ALGORITHMS
from remofile.server import Server
from remofile.v1 import remofile_pb2 as pb

SPEC_PATH = Path(__file__).resolve().parents[2] / "proto" / "SPEC.md"

#: The appendix's token and the session id its transcript shows.
TOKEN = "q6Zt0fJx3-CkR9vW1yL2pA"
SHOWN_SESSION_ID = bytes.fromhex("8a3f5c9e21d04b7f96e1c2a4b8d07e35")

#: The file uploaded: byte n is n mod 256 (A.1).
UPLOADED = bytes(n % 256 for n in range(1300))

#: How long the test waits for any answer, in milliseconds.
ANSWER_TIMEOUT_MS = 5_000


@dataclass(frozen=True)
class Frame:
    """One frame of the appendix: its subsection, its text form and its hex dump."""

    section: str
    text: str
    encoded: bytes

    @property
    def is_request(self) -> bool:
        return self.text.startswith("token:")

    def message(self) -> pb.Request | pb.Response:
        """The text form parsed (``<hex>`` stands for bytes)."""
        message: pb.Request | pb.Response = pb.Request() if self.is_request else pb.Response()
        as_text_format = re.sub(
            r"<([0-9a-f]+)>",
            lambda match: (
                '"' + "".join(f"\\x{byte:02x}" for byte in bytes.fromhex(match.group(1))) + '"'
            ),
            self.text,
        )
        text_format.Parse(as_text_format, message)
        return message


def appendix_frames() -> list[Frame]:
    spec = SPEC_PATH.read_text(encoding="utf-8")
    appendix = spec[spec.index("## Appendix A") :]
    frames: list[Frame] = []
    for part in re.split(r"^### (A\.\d+) .*$", appendix, flags=re.M)[1:]:
        if re.fullmatch(r"A\.\d+", part):
            section = part
            continue
        blocks = re.findall(r"```text\n(.*?)```", part, re.S)
        for text, dump in zip(blocks[::2], blocks[1::2], strict=True):
            frames.append(Frame(section, text, bytes.fromhex(dump.replace("\n", " "))))
    return frames


FRAMES = appendix_frames()


def test_the_appendix_shows_a_request_and_its_response_in_every_step() -> None:
    assert [frame.section for frame in FRAMES] == [
        section for section in ("A.2", "A.3", "A.4", "A.5", "A.6", "A.7", "A.8") for _ in (1, 2)
    ]
    assert [frame.is_request for frame in FRAMES] == [True, False] * 7


@pytest.mark.parametrize(
    "frame",
    FRAMES,
    ids=[f"{f.section}-{'request' if f.is_request else 'response'}" for f in FRAMES],
)
def test_every_hex_dump_is_the_encoding_of_the_text_above_it(frame: Frame) -> None:
    message = frame.message()
    assert message.SerializeToString() == frame.encoded
    parsed = type(message).FromString(frame.encoded)
    assert parsed == message


def test_the_byte_counts_and_the_digest_in_the_prose_are_right() -> None:
    spec = SPEC_PATH.read_text(encoding="utf-8")
    assert hashlib.sha256(UPLOADED).hexdigest() in spec
    hello, opened = FRAMES[0], FRAMES[1]
    assert f"this {len(hello.encoded)}-byte frame" in spec
    assert f"delimiter then {len(opened.encoded)} bytes" in spec
    first_chunk = next(f for f in FRAMES if f.section == "A.5" and f.is_request)
    assert f"this {len(first_chunk.encoded)}-byte frame" in spec


def _as_installed(shown: bytes) -> bytes:
    """The appendix's SessionOpened with the compressions and digest algorithms this
    installation has (the appendix shows one with zstd and BLAKE3): the same bytes here."""
    response = pb.Response.FromString(shown)
    opened = response.session_opened
    if list(opened.compressions) == list(SUPPORTED_COMPRESSIONS) and list(
        opened.digest_algorithms
    ) == list(SUPPORTED_DIGEST_ALGORITHMS):
        return shown
    opened.ClearField("compressions")
    opened.compressions.extend(SUPPORTED_COMPRESSIONS)
    opened.ClearField("digest_algorithms")
    opened.digest_algorithms.extend(SUPPORTED_DIGEST_ALGORITHMS)
    return response.SerializeToString()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """Our server with default limits, serving the appendix's root (A.1, A.3)."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "photos").mkdir()
    (root / "readme.txt").write_bytes(bytes(2048))
    os.utime(root / "photos", ns=(1767225600000000000, 1767225600000000000))
    os.utime(root / "readme.txt", ns=(1767225601500000000, 1767225601500000000))
    server = Server(root, TOKEN)
    thread = threading.Thread(target=server.run, args=(0, "127.0.0.1"), daemon=True)
    thread.start()
    try:
        assert server.wait_until_ready(10), "the server did not start"
        assert server.endpoint is not None
        yield server.endpoint
    finally:
        server.terminate()
        thread.join(10)
    assert not thread.is_alive()
    assert (root / "data.bin").read_bytes() == UPLOADED


def test_our_server_answers_the_transcript_byte_for_byte(served: str) -> None:
    data_frames = {"A.5": UPLOADED[:512], "A.6": UPLOADED[512:1024], "A.7": UPLOADED[1024:]}
    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(served)
    try:
        session_id = SHOWN_SESSION_ID
        for request, response in zip(FRAMES[::2], FRAMES[1::2], strict=True):
            sent = [b"", request.encoded.replace(SHOWN_SESSION_ID, session_id)]
            if request.section in data_frames:
                sent.append(data_frames[request.section])
            socket.send_multipart(sent)
            assert socket.poll(ANSWER_TIMEOUT_MS), f"no answer to {request.section}"
            received = socket.recv_multipart()
            assert len(received) == 2, request.section
            assert received[0] == b"", request.section
            expected = response.encoded
            if request.section == "A.2":
                session_id = pb.Response.FromString(received[1]).session_opened.session_id
                assert len(session_id) == len(SHOWN_SESSION_ID)
                expected = _as_installed(response.encoded)
            expected = expected.replace(SHOWN_SESSION_ID, session_id)
            assert received[1] == expected, (
                f"{request.section}: {pb.Response.FromString(received[1])} "
                f"instead of {response.message()}"
            )
    finally:
        socket.close(linger=0)
        context.term()
