"""The limit: a file streamed to a file with plain pyzmq, no protocol, no digest.

Two processes. The receiver binds a ROUTER socket and grants credit; the sender, a
DEALER, sends 1 MiB messages read from its file only while it has credit (the
credit-based flow of the ZeroMQ guide's file transfer chapter), and the receiver writes
each message to its file and grants one more credit. The window is Remofile's default,
8 messages. The sender times the stream from its first message to the receiver's "done".
With ``fsync`` in its configuration the receiver syncs the file before "done", as
Remofile's server does before it places an upload.

For latency, ``echo`` (ROUTER) returns every message to ``ping`` (DEALER), which times
round trips of a 64-byte message.

Run as ``python -m bench.rawzmq MODE`` with a JSON configuration as the first line of
standard input (``host``: the address the receiver and echo bind, 127.0.0.1 by
default); the process prints one JSON line (the receiver and echo print their endpoint
first).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import zmq

CHUNK_BYTES = 1 << 20
WINDOW = 8
#: No message for this long ends a side with an error.
SILENCE_TIMEOUT_MS = 60_000
PING_BYTES = 64
WARMUP_PINGS = 20


def _socket(context: zmq.Context[Any], kind: int, config: dict[str, Any]) -> zmq.Socket[Any]:
    socket: zmq.Socket[Any] = context.socket(kind)
    socket.setsockopt(zmq.LINGER, 2000)
    if config.get("server_secret"):
        socket.curve_server = True
        socket.curve_secretkey = config["server_secret"].encode()
    elif config.get("server_public"):
        public, secret = zmq.curve_keypair()
        socket.curve_publickey = public
        socket.curve_secretkey = secret
        socket.curve_serverkey = config["server_public"].encode()
    return socket


def _wait(socket: zmq.Socket[Any]) -> None:
    if not socket.poll(SILENCE_TIMEOUT_MS):
        raise TimeoutError("the other side went silent")


def _receive(socket: zmq.Socket[Any]) -> list[bytes]:
    _wait(socket)
    return socket.recv_multipart()


def _receive_frames(socket: zmq.Socket[Any]) -> list[zmq.Frame]:
    _wait(socket)
    return socket.recv_multipart(copy=False)


def receive_file(config: dict[str, Any]) -> dict[str, Any]:
    context: zmq.Context[Any] = zmq.Context()
    socket = _socket(context, zmq.ROUTER, config)
    socket.bind(f"tcp://{config.get('host', '127.0.0.1')}:*")
    print(json.dumps({"endpoint": socket.getsockopt_string(zmq.LAST_ENDPOINT)}), flush=True)
    identity, kind, name = _receive(socket)[:3]
    assert kind == b"start"
    path = os.path.join(config["directory"], name.decode())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    received = 0
    try:
        socket.send_multipart([identity, b"credit", str(WINDOW).encode()])
        while True:
            frames = _receive_frames(socket)
            kind = frames[1].bytes
            if kind == b"end":
                break
            view = frames[2].buffer
            while view:
                view = view[os.write(fd, view) :]
            received += len(frames[2])
            socket.send_multipart([identity, b"credit", b"1"])
        if config.get("fsync"):
            os.fsync(fd)
    finally:
        os.close(fd)
    socket.send_multipart([identity, b"done"])
    socket.close()
    context.term()
    return {"bytes": received}


def send_file(config: dict[str, Any]) -> dict[str, Any]:
    context: zmq.Context[Any] = zmq.Context()
    socket = _socket(context, zmq.DEALER, config)
    socket.connect(config["endpoint"])
    fd = os.open(config["file"], os.O_RDONLY)
    size = os.fstat(fd).st_size
    offset = 0
    credit = 0
    ended = False
    try:
        started = time.perf_counter()
        socket.send_multipart([b"start", os.path.basename(config["file"]).encode()])
        while True:
            frames = _receive(socket)
            if frames[0] == b"done":
                break
            credit += int(frames[1])
            while credit > 0 and not ended:
                chunk = os.pread(fd, CHUNK_BYTES, offset)
                if chunk:
                    socket.send_multipart([b"data", chunk], copy=False)
                    offset += len(chunk)
                    credit -= 1
                if not chunk or offset >= size:
                    socket.send(b"end")
                    ended = True
        seconds = time.perf_counter() - started
    finally:
        os.close(fd)
    socket.close()
    context.term()
    return {"seconds": seconds, "bytes": offset}


def echo(config: dict[str, Any]) -> dict[str, Any]:
    context: zmq.Context[Any] = zmq.Context()
    socket = _socket(context, zmq.ROUTER, config)
    socket.bind(f"tcp://{config.get('host', '127.0.0.1')}:*")
    print(json.dumps({"endpoint": socket.getsockopt_string(zmq.LAST_ENDPOINT)}), flush=True)
    answered = 0
    limit = config["count"] + WARMUP_PINGS + 1
    while answered < limit:
        frames = _receive(socket)
        if frames[1] == b"stop":
            break
        socket.send_multipart(frames)
        answered += 1
    socket.close()
    context.term()
    return {"answered": answered}


def ping(config: dict[str, Any]) -> dict[str, Any]:
    context: zmq.Context[Any] = zmq.Context()
    socket = _socket(context, zmq.DEALER, config)
    socket.connect(config["endpoint"])
    message = b"x" * PING_BYTES
    latencies: list[float] = []
    started = time.perf_counter()
    for index in range(WARMUP_PINGS + config["count"]):
        before = time.perf_counter_ns()
        socket.send(message)
        _receive(socket)
        if index >= WARMUP_PINGS:
            latencies.append((time.perf_counter_ns() - before) / 1e6)
    seconds = time.perf_counter() - started
    socket.send(b"stop")
    socket.close()
    context.term()
    return {"seconds": seconds, "latencies_ms": latencies}


MODES = {"receive": receive_file, "send": send_file, "echo": echo, "ping": ping}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in MODES:
        sys.exit(f"usage: python -m bench.rawzmq {'|'.join(MODES)}")
    outcome = MODES[sys.argv[1]](json.loads(sys.stdin.readline()))
    print(json.dumps(outcome), flush=True)
