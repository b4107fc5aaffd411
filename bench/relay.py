"""A delaying TCP relay, and the probes that measure the link it makes.

The kernel here has ``tbf`` but no ``netem``, so the WAN scenarios (``bench/wan.py``) add
their round trip with this relay, which runs in the middle network namespace between the
client's and the server's. For every connection made to one of its listening ports it
opens one to the target it forwards to, and moves the bytes of each direction on after
holding them for ``delay_ms``: each block read is stamped with the time it arrived and
written once that time plus the delay has passed. Nothing else limits the throughput
(the shaped veth links on both sides do): each direction may hold up to
``max_queue_bytes`` (several times the bandwidth-delay product) before the relay stops
reading that direction, which then pushes back on the sender through TCP as a full
link would.

Modes (``python -m bench.relay MODE``, a JSON configuration as the first line of standard
input; every process prints JSON lines):

``relay``
    ``{"delay_ms", "max_queue_bytes"}``; then one command per line:
    ``{"forward": [host, port], "listen_host": address}`` answers ``{"listen": [address,
    port]}``, a new listening port on that address that forwards to that target; an
    empty line or the end of standard input stops it.
``probe-server``
    ``{"host"}``: prints ``{"port"}`` and serves probes until standard input ends: a
    connection's first byte says what it wants: ``U`` (it streams bytes here; the answer
    is the rate at which they arrived), ``D`` followed by 8 bytes of length (stream that
    many bytes back), ``E`` (echo every byte back).
``probe``
    ``{"host", "port", "bytes", "pings"}``: measures the link through the relay: the rate
    of a stream each way (measured where it arrives, from its first block to its last)
    and the round trip of a 64-byte ping-pong; prints one JSON line.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import socket
import statistics
import struct
import sys
import threading
import time
from typing import Any

READ_BYTES = 256 * 1024
PING_BYTES = 64
#: No probe may take longer than this.
PROBE_TIMEOUT_S = 60.0


# -- the relay ------------------------------------------------------------------------


class _Direction:
    """One direction of one relayed connection: read, hold for the delay, write."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        delay: float,
        max_queue_bytes: int,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._delay = delay
        self._max_queue = max_queue_bytes
        self._queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self._queued = 0
        self._has_data = asyncio.Event()
        self._has_room = asyncio.Event()
        self._has_room.set()

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._has_room.wait()
            block = await self._reader.read(READ_BYTES)
            # Stamped with its arrival; an empty block marks the end of the stream.
            self._queue.append((loop.time() + self._delay, block))
            self._queued += len(block)
            if self._queued >= self._max_queue:
                self._has_room.clear()
            self._has_data.set()
            if not block:
                return

    async def _write(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._has_data.wait()
            due, block = self._queue.popleft()
            if not self._queue:
                self._has_data.clear()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not block:
                with contextlib.suppress(OSError):
                    self._writer.write_eof()
                return
            self._writer.write(block)
            await self._writer.drain()
            self._queued -= len(block)
            if self._queued < self._max_queue:
                self._has_room.set()

    async def run(self) -> None:
        await asyncio.gather(self._read(), self._write())


class Relay:
    """The listening ports of one relay process, each forwarding to its target."""

    def __init__(self, delay_ms: float, max_queue_bytes: int) -> None:
        self._delay = delay_ms / 1000.0
        self._max_queue = max_queue_bytes
        self._servers: list[asyncio.Server] = []

    async def forward(self, listen_host: str, host: str, port: int) -> int:
        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                target_reader, target_writer = await asyncio.open_connection(host, port)
            except OSError:
                writer.close()
                return
            for stream in (writer, target_writer):
                sock = stream.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            directions = [
                _Direction(reader, target_writer, self._delay, self._max_queue),
                _Direction(target_reader, writer, self._delay, self._max_queue),
            ]
            try:
                await asyncio.gather(*(direction.run() for direction in directions))
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                for stream in (writer, target_writer):
                    stream.close()

        server = await asyncio.start_server(connected, listen_host, 0)
        self._servers.append(server)
        listening: int = server.sockets[0].getsockname()[1]
        return listening

    def close(self) -> None:
        for server in self._servers:
            server.close()


def run_relay(config: dict[str, Any]) -> int:
    """Serve forwards until standard input ends; commands come on standard input."""
    loop = asyncio.new_event_loop()
    relay = Relay(config["delay_ms"], config["max_queue_bytes"])
    stopped = asyncio.Event()

    def commands() -> None:
        # Standard input is read in a thread; each command runs in the loop.
        for line in sys.stdin:
            if not line.strip():
                break
            command = json.loads(line)
            host, port = command["forward"]
            listen_host = command["listen_host"]
            future = asyncio.run_coroutine_threadsafe(relay.forward(listen_host, host, port), loop)
            try:
                listening = future.result(30)
                reply: dict[str, Any] = {"listen": [listen_host, listening]}
            except Exception as error:
                reply = {"error": f"{type(error).__name__}: {error}"}
            print(json.dumps(reply), flush=True)
        loop.call_soon_threadsafe(stopped.set)

    print(json.dumps({"ready": True}), flush=True)
    reader = threading.Thread(target=commands, name="relay-commands", daemon=True)
    reader.start()
    loop.run_until_complete(stopped.wait())
    relay.close()
    loop.close()
    return 0


# -- probes ----------------------------------------------------------------------------


def _receive_exactly(connection: socket.socket, count: int) -> bytes:
    parts = []
    while count:
        block = connection.recv(min(count, READ_BYTES))
        if not block:
            raise EOFError("connection closed early")
        parts.append(block)
        count -= len(block)
    return b"".join(parts)


def _drain_rate(connection: socket.socket, expected: int | None) -> dict[str, float]:
    """Read until the end (or ``expected`` bytes): the rate from the end of the first
    block to the end of the last, which leaves the delay and the start out."""
    total = 0
    first_end = last_end = 0.0
    first_bytes = 0
    while expected is None or total < expected:
        block = connection.recv(READ_BYTES)
        if not block:
            break
        total += len(block)
        last_end = time.perf_counter()
        if not first_end:
            first_end, first_bytes = last_end, len(block)
    seconds = last_end - first_end
    rate = (total - first_bytes) / seconds if seconds > 0 else 0.0
    return {"bytes": total, "seconds": seconds, "bytes_per_second": rate}


def _serve_probe(connection: socket.socket) -> None:
    with connection:
        connection.settimeout(PROBE_TIMEOUT_S)
        kind = _receive_exactly(connection, 1)
        if kind == b"U":
            outcome = _drain_rate(connection, None)
            connection.sendall(json.dumps(outcome).encode())
        elif kind == b"D":
            (count,) = struct.unpack("!Q", _receive_exactly(connection, 8))
            block = bytes(READ_BYTES)
            while count:
                connection.sendall(block[: min(count, len(block))])
                count -= min(count, len(block))
        elif kind == b"E":
            while block := connection.recv(READ_BYTES):
                connection.sendall(block)


def probe_server(config: dict[str, Any]) -> int:
    listener = socket.create_server((config["host"], 0))
    listener.settimeout(0.5)
    print(json.dumps({"port": listener.getsockname()[1]}), flush=True)
    done = threading.Event()

    def watch_stdin() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    deadline = time.monotonic() + 3600
    while not done.is_set() and time.monotonic() < deadline:
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            continue
        threading.Thread(target=_serve_probe, args=(connection,), daemon=True).start()
    listener.close()
    return 0


def _connect(config: dict[str, Any]) -> socket.socket:
    connection = socket.create_connection((config["host"], config["port"]), PROBE_TIMEOUT_S)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def probe(config: dict[str, Any]) -> dict[str, Any]:
    count: int = config["bytes"]
    with _connect(config) as connection:
        connection.sendall(b"U")
        block = bytes(READ_BYTES)
        sent = 0
        while sent < count:
            connection.sendall(block[: min(READ_BYTES, count - sent)])
            sent += min(READ_BYTES, count - sent)
        connection.shutdown(socket.SHUT_WR)
        up = json.loads(connection.makefile("rb").read())
    with _connect(config) as connection:
        connection.sendall(b"D" + struct.pack("!Q", count))
        down = _drain_rate(connection, count)
    round_trips: list[float] = []
    with _connect(config) as connection:
        message = b"p" * PING_BYTES
        connection.sendall(b"E")
        for _ in range(config["pings"]):
            before = time.perf_counter()
            connection.sendall(message)
            _receive_exactly(connection, PING_BYTES)
            round_trips.append((time.perf_counter() - before) * 1000.0)
    return {
        "up_bytes_per_second": up["bytes_per_second"],
        "down_bytes_per_second": down["bytes_per_second"],
        "rtt_ms_median": statistics.median(round_trips),
        "rtt_ms_min": min(round_trips),
        "rtt_ms_max": max(round_trips),
    }


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) == 2 else ""
    settings = json.loads(sys.stdin.readline()) if mode else {}
    if mode == "relay":
        sys.exit(run_relay(settings))
    if mode == "probe-server":
        sys.exit(probe_server(settings))
    if mode == "probe":
        print(json.dumps(probe(settings)), flush=True)
        sys.exit(0)
    sys.exit("usage: python -m bench.relay relay|probe-server|probe")
