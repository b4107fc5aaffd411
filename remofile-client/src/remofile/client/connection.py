"""The client's link to the server: one DEALER socket, replaced after any failure.

A DEALER socket lets the client keep several requests in flight (SPEC.md section 6).
After a timeout the socket is in an unknown state, so it is closed and a new one is
made on the next request, as the ZeroMQ guide's "lazy pirate" client does.
"""

from __future__ import annotations

from typing import Any

import zmq
from remofile.core.exceptions import CorruptedResponse
from remofile.core.framing import DELIMITER, Frame, MalformedMessage, parse_response
from remofile.v1 import remofile_pb2 as pb

#: How long a send may block when the server does not take messages.
SEND_TIMEOUT_MS = 30_000


class Connection:
    """Sends requests and receives responses, in order, on a lazily made socket.

    :param endpoint: the server's ZeroMQ endpoint, e.g. ``tcp://127.0.0.1:6768``.
    :param public_key: the server's CURVE public key, or None for clear text.
    """

    def __init__(self, endpoint: str, public_key: str | None = None) -> None:
        self.endpoint = endpoint
        self.public_key = public_key
        self._context = zmq.Context()
        self._socket: zmq.Socket[Any] | None = None
        self._poller = zmq.Poller()

    def _open(self) -> zmq.Socket[Any]:
        socket = self._context.socket(zmq.DEALER)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.SNDTIMEO, SEND_TIMEOUT_MS)
        if ":" in self.endpoint.split("//", 1)[-1].rsplit(":", 1)[0]:
            socket.setsockopt(zmq.IPV6, 1)
        if self.public_key is not None:
            public, secret = zmq.curve_keypair()
            socket.curve_publickey = public
            socket.curve_secretkey = secret
            socket.curve_serverkey = self.public_key.encode("ascii")
        try:
            socket.connect(self.endpoint)
        except zmq.ZMQError as error:
            socket.close(linger=0)
            raise ValueError(f"cannot connect to {self.endpoint!r}: {error}") from None
        self._poller = zmq.Poller()
        self._poller.register(socket, zmq.POLLIN)
        return socket

    def send(self, request: pb.Request, data: Frame | None = None) -> None:
        """Send one request, with its data frame if it has one."""
        if self._socket is None:
            self._socket = self._open()
        frames: list[Frame] = [DELIMITER, request.SerializeToString()]
        if data is not None:
            frames.append(data)
        try:
            self._socket.send_multipart(frames, copy=data is None or len(data) < 65536)
        except zmq.Again as error:
            self.reset()
            raise TimeoutError("the server did not take the request in time") from error

    def receive(self, timeout_ms: int | None) -> tuple[pb.Response, Frame | None]:
        """The next response, waiting at most ``timeout_ms`` (None waits forever).

        :raises TimeoutError: if nothing came in time; the socket is then replaced.
        :raises CorruptedResponse: if what came is not a response.
        """
        if self._socket is None:
            raise RuntimeError("receive() without a request in flight")
        if not self._poller.poll(timeout_ms):
            self.reset()
            raise TimeoutError(f"no response from {self.endpoint} within {timeout_ms} ms")
        frames = self._socket.recv_multipart(copy=False)
        if not frames or len(frames[0]) != 0:
            raise CorruptedResponse("response does not start with an empty delimiter frame")
        body: list[Frame] = [frames[1].bytes] if len(frames) > 1 else []
        body.extend(frame.buffer for frame in frames[2:])
        try:
            return parse_response(body)
        except MalformedMessage as error:
            raise CorruptedResponse("unable to read the response", str(error)) from error

    def reset(self) -> None:
        """Drop the socket and anything in flight; the next send makes a new one."""
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def close(self) -> None:
        self.reset()
        # destroy() closes any socket still open first, so this never blocks.
        self._context.destroy(linger=0)
