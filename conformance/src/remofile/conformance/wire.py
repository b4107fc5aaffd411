"""One raw ZeroMQ DEALER connection to the server under test (SPEC.md sections 2.1 to 2.3).

This is all the suite knows of a server: frames go out, frames come back before a
deadline, or nothing does. A DEALER socket, like a third party's client, must send the
empty delimiter frame itself and find it in front of every response (2.2.1). Every
socket is closed with linger 0, and a socket whose reply did not come is never reused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import zmq
from google.protobuf.message import DecodeError
from remofile.conformance.transcript import Transcript
from remofile.v1 import remofile_pb2 as pb

#: The empty frame in front of every message (2.2.1).
DELIMITER = b""

#: Frames at least this large are handed to ZeroMQ without a copy.
ZERO_COPY_BYTES = 65536


class NoReply(Exception):
    """Nothing came back before the deadline."""

    def __init__(self, waited_ms: int) -> None:
        super().__init__(f"no reply within {waited_ms} ms")
        self.waited_ms = waited_ms


class BrokenReply(Exception):
    """What came back is not [delimiter, Response] or [delimiter, Response, data] (2.2.2)."""

    def __init__(self, problem: str, frames: Sequence[bytes]) -> None:
        super().__init__(problem)
        self.problem = problem
        self.frames = list(frames)


class SendFailed(Exception):
    """ZeroMQ could not queue the message before the deadline."""


@dataclass(frozen=True)
class Reply:
    """A response as it arrived: the Response and its data frame, if it had one."""

    response: pb.Response
    data: bytes | None

    @property
    def has_data(self) -> bool:
        return self.data is not None


class Connection:
    """One DEALER socket connected to the server, for one client of one case.

    :param label: how the transcript names this client (``A``, ``B``...).
    :param server_key: the server's CURVE public key (Z85), or None for clear text.
    :param timeout_ms: the deadline of every receive and send.
    """

    def __init__(
        self,
        context: zmq.Context[Any],
        endpoint: str,
        *,
        label: str,
        transcript: Transcript,
        timeout_ms: int,
        server_key: str | None = None,
    ) -> None:
        self.label = label
        self.transcript = transcript
        self.timeout_ms = timeout_ms
        self._socket: zmq.Socket[Any] = context.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.SNDTIMEO, timeout_ms)
        if server_key is not None:
            public, secret = zmq.curve_keypair()
            self._socket.curve_serverkey = server_key.encode("ascii")
            self._socket.curve_publickey = public
            self._socket.curve_secretkey = secret
        self._socket.connect(endpoint)
        self.closed = False
        #: A reply did not come in time: the socket is in an unknown state (lazy pirate).
        self.timed_out = False

    def send_frames(
        self,
        frames: Sequence[bytes],
        request: pb.Request | None = None,
        note: str = "",
    ) -> None:
        """Send exactly these frames (the delimiter included, if wanted)."""
        self.transcript.sent(self.label, frames, request, note)
        try:
            self._socket.send_multipart(
                list(frames), copy=all(len(frame) < ZERO_COPY_BYTES for frame in frames)
            )
        except zmq.Again as error:
            raise SendFailed(f"could not send within {self.timeout_ms} ms") from error

    def send(self, request: pb.Request, data: bytes | None = None, note: str = "") -> None:
        """Send a request as a DEALER client must: delimiter, Request, data if any."""
        frames = [DELIMITER, request.SerializeToString()]
        if data is not None:
            frames.append(data)
        self.send_frames(frames, request, note)

    def receive(self, timeout_ms: int | None = None) -> Reply:
        """The next reply, or NoReply once the deadline has passed.

        :raises BrokenReply: if the frames are not a response of the protocol.
        """
        waited = self.timeout_ms if timeout_ms is None else timeout_ms
        if not self._socket.poll(waited, zmq.POLLIN):
            self.transcript.silence(self.label, waited)
            self.timed_out = True
            raise NoReply(waited)
        frames: list[bytes] = self._socket.recv_multipart()
        if not frames or frames[0] != DELIMITER:
            self.transcript.broken(self.label, frames)
            raise BrokenReply("the reply does not start with the empty delimiter frame", frames)
        if len(frames) not in (2, 3):
            self.transcript.broken(self.label, frames)
            raise BrokenReply(
                f"a response has 1 or 2 frames after the delimiter, not {len(frames) - 1}", frames
            )
        response = pb.Response()
        try:
            response.ParseFromString(frames[1])
        except DecodeError as error:
            self.transcript.broken(self.label, frames)
            raise BrokenReply(f"the response frame is not a Response: {error}", frames) from error
        data = frames[2] if len(frames) == 3 else None
        self.transcript.received(self.label, response, data, len(frames))
        return Reply(response, data)

    def silence(self, wait_ms: int) -> Reply | None:
        """Wait ``wait_ms`` for a reply that should not come; the reply if one came."""
        try:
            return self.receive(wait_ms)
        except NoReply:
            self.timed_out = False  # the silence was expected
            return None

    def close(self) -> None:
        if not self.closed:
            self._socket.close(linger=0)
            self.closed = True
