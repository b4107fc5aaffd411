"""CURVE encryption: Server(private_key=...) with Client(public_key=...)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from remofile.client import Client
from remofile.core import generate_keys
from server_harness import (
    CALL_TIMEOUT_MS,
    Layout,
    RunningServer,
    ipc_endpoint,
    serve_in_process,
    serve_in_thread,
)

#: How long a client without the right key waits before giving up.
HANDSHAKE_TIMEOUT_MS = 300


@pytest.fixture(params=["thread-tcp", "process-ipc"])
def encrypted(
    request: pytest.FixtureRequest, layout: Layout, socket_directory: str
) -> Iterator[RunningServer]:
    public_key, private_key = generate_keys()
    if request.param == "thread-tcp":
        serving = serve_in_thread(layout.root, public_key=public_key, private_key=private_key)
    else:
        serving = serve_in_process(
            layout.root,
            ipc_endpoint(socket_directory),
            public_key=public_key,
            private_key=private_key,
        )
    with serving as running:
        yield running


def test_client_with_the_server_public_key_transfers_files(
    encrypted: RunningServer, layout: Layout
) -> None:
    payload = os.urandom(100_000)
    (layout.local / "secret.bin").write_bytes(payload)
    client = encrypted.client()
    client.upload_file(layout.local / "secret.bin", "/", chunk_size=4096, timeout=CALL_TIMEOUT_MS)
    (layout.local / "back").mkdir()
    client.download_file("/secret.bin", layout.local / "back", timeout=CALL_TIMEOUT_MS)
    assert (layout.local / "back" / "secret.bin").read_bytes() == payload
    assert (layout.root / "secret.bin").read_bytes() == payload


@pytest.mark.parametrize("key", ["none", "wrong"])
def test_client_without_the_right_key_times_out_and_the_server_keeps_serving(
    encrypted: RunningServer, key: str
) -> None:
    owner = encrypted.client()
    owner.create_file("before", "/", timeout=CALL_TIMEOUT_MS)
    wrong_key = None if key == "none" else generate_keys()[0]
    stranger = Client(encrypted.endpoint, None, encrypted.token, wrong_key)
    try:
        with pytest.raises(TimeoutError):
            stranger.list_files("/", timeout=HANDSHAKE_TIMEOUT_MS)
    finally:
        stranger.close()
    owner.create_file("after", "/", timeout=CALL_TIMEOUT_MS)
    assert sorted(owner.list_files("/", timeout=CALL_TIMEOUT_MS)) == ["after", "before"]
    assert not (encrypted.root / "intruder").exists()


def test_client_with_a_key_cannot_talk_to_a_clear_text_server(
    served: RunningServer,
) -> None:
    client = served.client(public_key=generate_keys()[0])
    with pytest.raises(TimeoutError):
        client.list_files("/", timeout=HANDSHAKE_TIMEOUT_MS)
    assert served.client(public_key=None).list_files("/", timeout=CALL_TIMEOUT_MS) == {}


def test_client_rejects_a_public_key_that_is_not_a_key() -> None:
    with pytest.raises(ValueError, match="key"):
        Client("127.0.0.1", 6768, "qRkVWJcFRqi7rsNMbagaDd", "not-a-key")
