"""The Remofile server: one ROUTER socket, one loop, one session at a time.

The loop reads every message and answers at once whatever needs no work on the files
(session refusals, malformed messages); the live session's requests run in order on
the session worker (session_worker.py), and each connection's answers go out in the order of
its requests (SPEC.md 6.2), without waiting for another connection's.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket as stdlib_socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import zmq
from remofile.core.credentials import validate_key, validate_token
from remofile.core.digests import SUPPORTED_DIGEST_ALGORITHMS, effective_algorithm
from remofile.core.framing import DELIMITER, Frame, MalformedMessage, parse_request
from remofile.core.limits import (
    DEFAULT_CHUNK_SIZE_RANGE_BYTES,
    DEFAULT_FILE_SIZE_LIMIT_BYTES,
    DEFAULT_SESSION_TIMEOUT_MS,
    MAX_NAME_BYTES,
    MAX_REQUESTS_IN_FLIGHT,
    PROTOCOL_VERSION,
    max_message_bytes,
)
from remofile.core.sessions import SessionGate, Verdict
from remofile.server.handler import SUPPORTED_COMPRESSIONS, Limits, Reply, RequestHandler
from remofile.server.locations import is_storage_url, open_storage
from remofile.server.placement import Placer
from remofile.server.session_log import SessionLog
from remofile.server.session_worker import SessionWorker
from remofile.server.storage import Storage
from remofile.v1 import remofile_pb2 as pb

logger = logging.getLogger("remofile.server")

#: How the server names itself in SESSION_OPENED.
SERVER_NAME = "remofile-python/1.0"

#: Longest sleep in poll: a signal (Ctrl-C) that lands just before the poll starts is
#: handled within this time; waking once a second costs no measurable CPU.
MAX_POLL_WAIT_MS = 1000

#: Most messages handled in one loop turn before the wake-up pipe is checked again.
MESSAGES_PER_TURN = 64

#: Frames of a message the server keeps: a routing id, the delimiter, a Request and its
#: data (SPEC.md 2.2), with room for the routing ids of proxies. Frames past these are
#: read one at a time and dropped, so a message of many tiny frames costs no memory.
MAX_MESSAGE_FRAMES = 8


def _now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


def _checked_digest_algorithms(
    algorithms: Sequence[int],
) -> tuple[pb.DigestAlgorithm.ValueType, ...]:
    """The digest algorithms a server is told to offer, checked: SHA-256 is mandatory."""
    chosen = tuple(dict.fromkeys(effective_algorithm(value) for value in algorithms))
    unknown = [value for value in chosen if value not in SUPPORTED_DIGEST_ALGORITHMS]
    if unknown:
        raise ValueError(f"digest algorithms not available here: {unknown}")
    if pb.DIGEST_ALGORITHM_SHA256 not in chosen:
        raise ValueError("the digest algorithms must include SHA-256 (SPEC.md section 7.2)")
    return chosen


def _endpoint_of(port: int | str, address: str | None) -> str:
    """The ZeroMQ endpoint for ``run(port, address)``: a full endpoint passes through."""
    if isinstance(port, str) and "://" in port:
        return port
    number = int(port)
    if not 0 <= number <= 65535:
        raise ValueError(f"port must be between 0 and 65535, got {number}")
    host = address or "*"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"tcp://{host}:{'*' if number == 0 else number}"


class Server:
    """Remofile server.

    It jails a directory, the **root directory**, and serves it to one client at a time
    over ZeroMQ. It does not listen until the blocking :meth:`run` is called; call
    :meth:`terminate` from another thread to stop it::

        server = Server('my-directory', token)
        try:
            server.run(6768)
        except KeyboardInterrupt:
            server.terminate()

    :param root_directory: the directory exposed to clients; it must exist.
    :param token: the token clients must present (see ``generate_token()``).
    :param private_key: a CURVE private key (see ``generate_keys()``) to encrypt all
        communication; None serves in clear text.
    :param file_size_limit: largest file, in bytes, that can be uploaded or downloaded.
    :param chunk_size_range: smallest and largest chunk, in bytes, a client may use.
    :param session_timeout_ms: a silent client loses the server after this long.
    :param sync_writes: fsync every upload before it becomes visible.
    :param digest_algorithms: the digest algorithms transfers may use, SHA-256 among
        them; by default every one this installation computes, the fastest first.
    :param storage_factory: builds the storage backend from the root directory;
        by default :class:`LocalStorage`, or :class:`~remofile.server.s3_storage.S3Storage`
        for a root ``s3://bucket/prefix`` (endpoint and credentials from ``AWS_*``).
    :param storage: a storage backend already built, served instead of the root
        directory (which then only names it in logs).
    :raises NotADirectoryError: if the root directory does not exist or is not one.
    :raises ValueError: if the token, the key or an option is not valid.
    """

    def __init__(
        self,
        root_directory: str | os.PathLike[str],
        token: str,
        private_key: str | None = None,
        *,
        file_size_limit: int = DEFAULT_FILE_SIZE_LIMIT_BYTES,
        chunk_size_range: tuple[int, int] = DEFAULT_CHUNK_SIZE_RANGE_BYTES,
        session_timeout_ms: int = DEFAULT_SESSION_TIMEOUT_MS,
        sync_writes: bool = True,
        digest_algorithms: Sequence[int] = SUPPORTED_DIGEST_ALGORITHMS,
        storage_factory: Callable[[str], Storage] = open_storage,
        storage: Storage | None = None,
    ) -> None:
        self._running = threading.Event()
        self._ready = threading.Event()
        self._stop_requested = threading.Event()
        self._interrupted = False
        self._wake_writer: stdlib_socket.socket | None = None
        self._lock = threading.Lock()
        self._endpoint: str | None = None
        self.root_directory = root_directory
        self._token = validate_token(token)
        self._private_key = None if private_key is None else validate_key(private_key)
        self.file_size_limit = file_size_limit
        self.chunk_size_range = chunk_size_range
        if session_timeout_ms <= 0:
            raise ValueError("session timeout must be positive")
        self._session_timeout_ms = session_timeout_ms
        self._sync_writes = sync_writes
        self._digest_algorithms = _checked_digest_algorithms(digest_algorithms)
        self._storage_factory = storage_factory
        self._storage = storage
        #: Replies not sent yet, per connection, in request order (see :meth:`_flush`).
        self._outboxes: dict[tuple[bytes, ...], deque[_Outgoing]] = {}
        #: When a request of the live session was last answered (0: not since the last turn).
        self._answered_at_ms = 0
        #: One log line per session (session_log.py).
        self._session_log = SessionLog()

    # -- options ------------------------------------------------------------

    def _check_not_running(self) -> None:
        if self._running.is_set():
            raise RuntimeError("the server options cannot change while it is running")

    @property
    def root_directory(self) -> str:
        """The directory exposed to clients, as an absolute path.

        :raises NotADirectoryError: if set to something that is not an existing directory.
        :raises RuntimeError: if changed while the server is running.
        """
        return self._root_directory

    @root_directory.setter
    def root_directory(self, value: str | os.PathLike[str]) -> None:
        self._check_not_running()
        if isinstance(value, str) and is_storage_url(value):
            self._root_directory = value  # checked when the storage is opened
            return
        path = os.path.abspath(os.path.expanduser(os.fspath(value)))
        if not os.path.isdir(path):
            raise NotADirectoryError(f"root directory is not an existing directory: {path}")
        self._root_directory = path

    @property
    def file_size_limit(self) -> int:
        """The largest file, in bytes, that can be transferred.

        :raises ValueError: if set to 0 or less.
        :raises RuntimeError: if changed while the server is running.
        """
        return self._file_size_limit

    @file_size_limit.setter
    def file_size_limit(self, value: int) -> None:
        self._check_not_running()
        if not isinstance(value, int) or value <= 0:
            raise ValueError("file size limit must be a positive number of bytes")
        self._file_size_limit = value

    @property
    def chunk_size_range(self) -> tuple[int, int]:
        """The smallest and largest chunk size, in bytes, a transfer may use.

        :raises ValueError: if the minimum is 0 or less, or the maximum below it.
        :raises RuntimeError: if changed while the server is running.
        """
        return self._chunk_size_range

    @chunk_size_range.setter
    def chunk_size_range(self, value: tuple[int, int]) -> None:
        self._check_not_running()
        minimum, maximum = value
        if not isinstance(minimum, int) or not isinstance(maximum, int) or minimum <= 0:
            raise ValueError("minimum chunk size must be a positive number of bytes")
        if maximum < minimum:
            raise ValueError("maximum chunk size must not be below the minimum")
        if maximum > 0xFFFFFFFF:
            raise ValueError("maximum chunk size must fit in 32 bits")
        self._chunk_size_range = (minimum, maximum)

    @property
    def endpoint(self) -> str | None:
        """The endpoint the server listens on once running (with the real port)."""
        return self._endpoint

    def wait_until_ready(self, timeout: float | None = None) -> bool:
        """Block until :meth:`run` listens; False if the timeout (seconds) passed first."""
        return self._ready.wait(timeout)

    # -- running ------------------------------------------------------------

    def run(self, port: int | str, address: str | None = None) -> None:
        """Start the main loop; return only after :meth:`terminate`.

        :param port: the TCP port to listen on (0 picks a free one), or a complete
            ZeroMQ endpoint such as ``ipc:///run/remofile.sock``.
        :param address: the IP address to listen on; all addresses by default.
        :raises RuntimeError: if the server cannot listen there, or is already running.
        """
        endpoint = _endpoint_of(port, address)
        context = zmq.Context()
        try:
            socket = context.socket(zmq.ROUTER)
            try:
                if address is not None and ":" in address:
                    socket.setsockopt(zmq.IPV6, 1)
                self._configure(socket)
                try:
                    socket.bind(endpoint)
                except zmq.ZMQError as error:
                    raise RuntimeError(f"unable to listen on {endpoint}: {error}") from error
                self._serve(socket)
            finally:
                socket.close(linger=0)
        finally:
            context.term()

    def run_with_socket(self, socket: zmq.Socket[Any], bind: Sequence[str] = ()) -> None:
        """Serve on a ROUTER socket the embedding program made; block like :meth:`run`.

        The server sets its options on the socket (limits, and CURVE with a private
        key), then binds it to each endpoint of ``bind``. ZeroMQ applies CURVE only to
        endpoints bound after it is set, so with a private key pass the endpoints here
        rather than binding the socket beforehand.

        :raises ValueError: if the socket is not a ROUTER socket.
        :raises RuntimeError: if an endpoint cannot be bound, or the server is running.
        """
        if socket.type != zmq.ROUTER:
            raise ValueError("the server needs a ROUTER socket")
        self._configure(socket)
        for endpoint in bind:
            try:
                socket.bind(endpoint)
            except zmq.ZMQError as error:
                raise RuntimeError(f"unable to listen on {endpoint}: {error}") from error
        self._serve(socket)

    def terminate(self) -> None:
        """Stop the main loop; safe to call from any thread.

        A transfer under way is interrupted: an upload never becomes visible (its data
        stays staged for a resume), and the client is disconnected.

        :raises RuntimeError: if the server is not running (unless :meth:`run` has just
            stopped because of a KeyboardInterrupt: then there is nothing left to do).
        """
        with self._lock:
            if not self._running.is_set():
                if self._interrupted:
                    self._interrupted = False  # run() already stopped on Ctrl-C
                    return
                raise RuntimeError("the server is not running")
            self._stop_requested.set()
            if self._wake_writer is not None:
                with contextlib.suppress(OSError):
                    self._wake_writer.send(b"x")

    # -- the loop -------------------------------------------------------------

    def _configure(self, socket: zmq.Socket[Any]) -> None:
        if self._private_key is not None:
            socket.curve_server = True
            socket.curve_secretkey = self._private_key.encode("ascii")
        self._max_message_size = max_message_bytes(self._chunk_size_range[1])
        socket.setsockopt(zmq.MAXMSGSIZE, self._max_message_size)
        # Queues hold about a window of messages each way: with the largest chunks, that
        # bounds what one peer can make the server hold in memory. ZeroMQ gives send
        # credit back only every half queue (its low-water mark), and a ROUTER silently
        # drops what it believes does not fit, so the send queue is twice a window plus
        # one, and _send lets the socket take its credit back first: then a client that
        # keeps to its window never loses a response (SPEC.md 6.4).
        socket.setsockopt(zmq.SNDHWM, 2 * MAX_REQUESTS_IN_FLIGHT + 1)
        socket.setsockopt(zmq.RCVHWM, MAX_REQUESTS_IN_FLIGHT)
        socket.setsockopt(zmq.LINGER, 0)

    def _session_opened(
        self, session_id: bytes, features: list[pb.Feature.ValueType]
    ) -> pb.SessionOpened:
        minimum, maximum = self._chunk_size_range
        return pb.SessionOpened(
            session_id=session_id,
            protocol_version=PROTOCOL_VERSION,
            file_size_limit=self._file_size_limit,
            min_chunk_size=minimum,
            max_chunk_size=maximum,
            max_message_size=max_message_bytes(maximum),
            max_name_length=MAX_NAME_BYTES,
            session_timeout_ms=self._session_timeout_ms,
            max_requests_in_flight=MAX_REQUESTS_IN_FLIGHT,
            compressions=list(SUPPORTED_COMPRESSIONS),
            digest_algorithms=list(self._digest_algorithms),
            server_name=SERVER_NAME,
            # Session recovery lives in the gate, whatever the storage (SPEC.md 3.7).
            features=sorted({*features, pb.FEATURE_SESSION_RECOVERY}),
        )

    def _serve(self, socket: zmq.Socket[Any]) -> None:
        with self._lock:
            if self._running.is_set():
                raise RuntimeError("the server is already running")
            self._running.set()
            self._stop_requested.clear()
            self._interrupted = False
            wake_reader, self._wake_writer = stdlib_socket.socketpair()
        try:
            storage = self._storage
            if storage is None:
                storage = self._storage_factory(self._root_directory)
            minimum, maximum = self._chunk_size_range
            limits = Limits(
                self._file_size_limit,
                minimum,
                maximum,
                self._sync_writes,
                self._digest_algorithms,
            )
            placer = Placer()
            handler = RequestHandler(storage, limits, placer)
            gate = SessionGate(self._token, self._session_timeout_ms)
            last = socket.getsockopt(zmq.LAST_ENDPOINT)
            self._endpoint = last.decode() if isinstance(last, bytes) and last else None
            logger.info("serving %s on %s", self._root_directory, self._endpoint)
            self._ready.set()
            try:
                self._loop(
                    socket, wake_reader, handler, gate, SessionWorker(storage.purge_step), placer
                )
            finally:
                placer.close()
        except KeyboardInterrupt:
            # The documented `except KeyboardInterrupt: server.terminate()` may follow.
            self._interrupted = True
            raise
        finally:
            with self._lock:
                assert self._wake_writer is not None
                self._wake_writer.close()
                self._wake_writer = None
                wake_reader.close()
                self._ready.clear()
                self._running.clear()

    def _loop(
        self,
        socket: zmq.Socket[Any],
        wake_reader: stdlib_socket.socket,
        handler: RequestHandler,
        gate: SessionGate,
        worker: SessionWorker,
        placer: Placer,
    ) -> None:
        poller = zmq.Poller()
        poller.register(socket, zmq.POLLIN)
        poller.register(wake_reader, zmq.POLLIN)
        poller.register(placer.wake_fd, zmq.POLLIN)
        poller.register(worker.wake_fd, zmq.POLLIN)
        self._outboxes.clear()
        try:
            self._turns(socket, poller, handler, gate, worker, placer)
        finally:
            # Stopped, interrupted or failed: the work asked for is done and answered,
            # files being stored are placed, a transfer under way is abandoned cleanly.
            live = gate.is_live

            def finish() -> None:
                handler.wait_for_placements()
                if live:
                    handler.end_session()

            worker.submit(finish)
            worker.close()
            self._flush(socket)
            if live:
                logger.info("server stopped during a session")
                self._session_log.ended("stopped")

    def _turns(
        self,
        socket: zmq.Socket[Any],
        poller: zmq.Poller,
        handler: RequestHandler,
        gate: SessionGate,
        worker: SessionWorker,
        placer: Placer,
    ) -> None:
        while not self._stop_requested.is_set():
            deadline = gate.deadline_ms()
            if deadline is None:
                timeout = MAX_POLL_WAIT_MS  # nothing to do: sleep in poll, using no CPU
            else:
                timeout = min(max(deadline - _now_ms() + 1, 0), MAX_POLL_WAIT_MS)
            events = dict(poller.poll(timeout))
            # pyzmq reports plain sockets by descriptor.
            if placer.wake_fd in events or worker.wake_fd in events:
                placer.clear_wakeups()
                worker.clear_wakeups()
                self._flush(socket)
            if self._outboxes or self._answered_at_ms:
                # Work in progress, or answered since the last turn (SPEC.md 3.4.1).
                gate.touch(_now_ms() if self._outboxes else self._answered_at_ms)
                self._answered_at_ms = 0
            if gate.expire(_now_ms()):
                logger.info("session expired")
                worker.submit(handler.end_session)
                self._session_log.ended("expired")
            if socket in events:
                for _ in range(MESSAGES_PER_TURN):
                    message = _receive(socket)
                    if message is None:
                        break
                    self._answer(socket, message, handler, gate, worker)
                    if self._stop_requested.is_set():
                        break

    def _answer(
        self,
        socket: zmq.Socket[Any],
        message: _Message,
        handler: RequestHandler,
        gate: SessionGate,
        worker: SessionWorker,
    ) -> None:
        """Read one message, and send its one response (never raises on bad input)."""
        frames = message.frames
        if message.size > self._max_message_size:
            # Each frame fitted ZeroMQ's per-frame limit, the message does not: it is
            # discarded unanswered and changes nothing (SPEC.md section 2.4).
            logger.debug("discarded a message over the maximum message size")
            return
        # Envelope: routing id frame(s), then the empty delimiter, then the message.
        position = next(
            (index for index, frame in enumerate(frames) if len(frame) == 0),
            None,
        )
        if position is None:
            # No delimiter: answer on the routing id alone so a DEALER peer learns why.
            envelope = [frames[0].bytes, DELIMITER]
            body: list[Frame] = []
        else:
            envelope = [frame.bytes for frame in frames[: position + 1]]
            body = [frames[position + 1].bytes] if len(frames) > position + 1 else []
            body.extend(frame.buffer for frame in frames[position + 2 :])
        data: Frame | None = None
        try:
            if message.dropped:
                raise MalformedMessage(f"a message of {len(frames) - 1 + message.dropped} frames")
            request, data, kind = parse_request(body)
        except MalformedMessage as error:
            logger.debug("malformed message: %s", error)
            reply = pb.Response(
                type=pb.RESPONSE_TYPE_ERROR, reason=pb.REASON_BAD_REQUEST, message=str(error)
            )
            self._respond(socket, envelope, Reply(reply))
            return
        version = request.hello.protocol_version if kind == "hello" else PROTOCOL_VERSION
        admission = gate.admit(
            request.token,
            request.session_id,
            kind,
            _now_ms(),
            version,
            client_key=request.hello.client_key if kind == "hello" else b"",
        )
        if admission.session_ended:
            worker.submit(handler.end_session)
        self._session_log.admitted(frames[-1], kind, request, admission)
        if admission.verdict is Verdict.REFUSED:
            logger.debug("refused %s: %s", kind, pb.Reason.Name(admission.reason))
            reply = pb.Response(
                type=pb.RESPONSE_TYPE_REFUSED,
                reason=admission.reason,
                message=_REFUSAL_MESSAGES.get(admission.reason, ""),
            )
            self._respond(socket, envelope, Reply(reply))
            return
        if admission.verdict is Verdict.OPENED:
            assert gate.session_id is not None
            logger.info("session opened by %s", request.hello.client_name or "a client")
            reply = pb.Response(
                type=pb.RESPONSE_TYPE_ACCEPTED,
                reason=pb.REASON_SESSION_OPENED,
                session_opened=self._session_opened(gate.session_id, handler.features),
            )
            self._respond(socket, envelope, Reply(reply))
            return
        if admission.verdict is Verdict.CLOSED:
            logger.info("session closed")
            reply = pb.Response(type=pb.RESPONSE_TYPE_ACCEPTED, reason=pb.REASON_SESSION_CLOSED)
            self._respond(socket, envelope, Reply(reply))
            return

        def work() -> Reply:
            if kind not in ("upload_file", "send_chunk", "upload_files"):
                # Anything else may look at the files being stored: they must be in place.
                handler.wait_for_placements()
            result = handler.handle(request, kind, data)
            logger.debug(
                "%s -> %s %s (state %s)",
                kind,
                pb.ResponseType.Name(result.response.type),
                pb.Reason.Name(result.response.reason),
                handler.state.name,
            )
            return result

        self._queue(socket, _Outgoing(envelope, work=worker.submit(work), kind=kind, data=data))

    def _respond(self, socket: zmq.Socket[Any], envelope: list[bytes], reply: Reply) -> None:
        """Queue a reply known now behind its connection's earlier ones."""
        self._queue(socket, _Outgoing(envelope, reply=reply))

    def _queue(self, socket: zmq.Socket[Any], outgoing: _Outgoing) -> None:
        self._outboxes.setdefault(tuple(outgoing.envelope), deque()).append(outgoing)
        self._flush(socket)

    def _flush(self, socket: zmq.Socket[Any]) -> None:
        """Send each connection's queued replies in order, up to its first still being
        worked on (by the session worker, or a file still being stored)."""
        for key, outbox in list(self._outboxes.items()):
            while outbox:
                outgoing = outbox[0]
                reply = outgoing.ready()
                if reply is None:
                    break
                outbox.popleft()
                response = reply.settled()
                if outgoing.kind:
                    self._session_log.handled(outgoing.kind, outgoing.data, response, reply.data)
                    self._answered_at_ms = _now_ms()
                self._send(socket, outgoing.envelope, response, reply.data)
            if not outbox:
                del self._outboxes[key]

    @staticmethod
    def _send(
        socket: zmq.Socket[Any],
        envelope: list[bytes],
        response: pb.Response,
        data: Frame | None,
    ) -> None:
        frames: list[Frame] = [*envelope, response.SerializeToString()]
        if data is not None:
            frames.append(data)
        try:
            socket.getsockopt(zmq.EVENTS)  # processes ZeroMQ's commands: returned credit
            socket.send_multipart(frames, zmq.NOBLOCK, copy=data is None or len(data) < 65536)
        except zmq.Again:
            logger.warning("dropped a response: the client is not reading (over its window)")
        except zmq.ZMQError as error:
            logger.warning("could not send a response: %s", error)


@dataclass
class _Outgoing:
    """A reply to send: known now, or the session worker's result of the request."""

    envelope: list[bytes]
    reply: Reply | None = None
    work: Future[Reply] | None = None
    #: For the session log: the request's kind and data, when it was the session's.
    kind: str = ""
    data: Frame | None = field(default=None, repr=False)

    def ready(self) -> Reply | None:
        """The reply once it can be sent (its work and any file it stores done)."""
        if self.reply is None:
            assert self.work is not None
            if not self.work.done():
                return None
            error = self.work.exception()
            if error is None:
                self.reply = self.work.result()
            else:  # the handler answers every request itself: this is a bug
                logger.error("the session's work failed", exc_info=error)
                self.reply = Reply(
                    pb.Response(
                        type=pb.RESPONSE_TYPE_ERROR,
                        reason=pb.REASON_UNKNOWN_ERROR,
                        message=type(error).__name__,
                    )
                )
        if self.reply.pending is not None and not self.reply.pending.done():
            return None
        return self.reply


@dataclass
class _Message:
    """A message as received: the frames kept, how many more were dropped, and the size
    of all but the routing id."""

    frames: list[zmq.Frame]
    dropped: int
    size: int


def _receive(socket: zmq.Socket[Any]) -> _Message | None:
    """The next message, if one is waiting, its frames past MAX_MESSAGE_FRAMES dropped
    as they are read."""
    try:
        first = socket.recv(zmq.NOBLOCK, copy=False)
    except zmq.Again:
        return None
    message = _Message([first], 0, 0)
    more = first.more
    while more:
        frame = socket.recv(copy=False)
        more = frame.more
        message.size += len(frame)
        if len(message.frames) < MAX_MESSAGE_FRAMES:
            message.frames.append(frame)
        else:
            message.dropped += 1
    return message


_REFUSAL_MESSAGES = {
    pb.REASON_ACCESS_DENIED: "access denied",
    pb.REASON_SERVER_BUSY: "the server is busy with another client",
    pb.REASON_SESSION_EXPIRED: "no session: send HELLO first",
    pb.REASON_UNSUPPORTED_VERSION: f"this server speaks protocol version {PROTOCOL_VERSION}",
}

__all__ = ["Server"]
