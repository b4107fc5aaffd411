"""Server.run_with_socket: serving on a ROUTER socket the embedding program made
("listening on a custom ZeroMQ socket", the seed README)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import zmq
from remofile.client import Client
from remofile.core import generate_keys, generate_token
from remofile.server import Server

TIMEOUT_MS = 5_000


def _serve(server: Server, socket: zmq.Socket[bytes], bind: tuple[str, ...]) -> threading.Thread:
    thread = threading.Thread(target=server.run_with_socket, args=(socket, bind), daemon=True)
    thread.start()
    assert server.wait_until_ready(5)
    return thread


@pytest.mark.parametrize("encrypted", [False, True], ids=["clear", "curve"])
def test_a_socket_made_by_the_program_serves_clients(tmp_path: Path, encrypted: bool) -> None:
    token = generate_token()
    public_key, private_key = generate_keys()
    server = Server(tmp_path, token, private_key if encrypted else None)
    context = zmq.Context()
    socket = context.socket(zmq.ROUTER)
    try:
        thread = _serve(server, socket, ("tcp://127.0.0.1:*",))
        endpoint = server.endpoint
        assert endpoint is not None
        assert endpoint.startswith("tcp://127.0.0.1:")
        with Client(endpoint, None, token, public_key if encrypted else None) as client:
            client.create_file("made-here", "/", TIMEOUT_MS)
            assert list(client.list_files("/", TIMEOUT_MS)) == ["made-here"]
        if encrypted:
            # Without the key the CURVE handshake never completes: nothing gets through.
            with Client(endpoint, None, token) as stranger, pytest.raises(TimeoutError):
                stranger.list_files("/", 300)
        server.terminate()
        thread.join(5)
        assert not thread.is_alive()
    finally:
        socket.close(linger=0)
        context.term()
    assert (tmp_path / "made-here").is_file()


def test_only_a_router_socket_is_accepted(tmp_path: Path) -> None:
    server = Server(tmp_path, generate_token())
    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    try:
        with pytest.raises(ValueError, match="ROUTER"):
            server.run_with_socket(socket)
    finally:
        socket.close(linger=0)
        context.term()


def test_an_endpoint_that_cannot_be_bound_is_a_runtime_error(tmp_path: Path) -> None:
    server = Server(tmp_path, generate_token())
    context = zmq.Context()
    socket = context.socket(zmq.ROUTER)
    try:
        with pytest.raises(RuntimeError, match="unable to listen"):
            server.run_with_socket(socket, ("tcp://203.0.113.1:1",))
    finally:
        socket.close(linger=0)
        context.term()
