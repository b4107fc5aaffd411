"""Server construction, options and the run/terminate life cycle (seed API section 2.2)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from remofile.client import Client
from remofile.core import UnsupportedError, generate_keys
from remofile.server import Server
from remofile.v1 import remofile_pb2 as pb
from server_harness import CALL_TIMEOUT_MS, TOKEN, serve_in_thread


def test_missing_root_directory_raises_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        Server(tmp_path / "missing", TOKEN)


def test_root_directory_that_is_a_file_raises_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        Server(tmp_path / "file", TOKEN)


def test_relative_root_directory_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my-directory").mkdir()
    monkeypatch.chdir(tmp_path)
    server = Server("my-directory", TOKEN)
    assert server.root_directory == str(tmp_path / "my-directory")


@pytest.mark.parametrize("token", ["", "short", "x" * 257, "has space in it", "émoji-token-é"])
def test_invalid_token_raises_value_error(tmp_path: Path, token: str) -> None:
    with pytest.raises(ValueError, match="token"):
        Server(tmp_path, token)


@pytest.mark.parametrize("key", ["", "not-a-key", "x" * 39, "x" * 41, "ß" * 40])
def test_invalid_private_key_raises_value_error(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="key"):
        Server(tmp_path, TOKEN, key)


def test_generated_private_key_is_accepted(tmp_path: Path) -> None:
    _, private_key = generate_keys()
    Server(tmp_path, TOKEN, private_key)


@pytest.mark.parametrize("limit", [0, -1])
def test_file_size_limit_not_positive_raises_value_error(tmp_path: Path, limit: int) -> None:
    with pytest.raises(ValueError, match="file size limit"):
        Server(tmp_path, TOKEN, file_size_limit=limit)
    server = Server(tmp_path, TOKEN)
    with pytest.raises(ValueError, match="file size limit"):
        server.file_size_limit = limit


@pytest.mark.parametrize("chunk_range", [(0, 1024), (-1, 1024), (1024, 512), (1, 1 << 32)])
def test_bad_chunk_size_range_raises_value_error(
    tmp_path: Path, chunk_range: tuple[int, int]
) -> None:
    with pytest.raises(ValueError, match="chunk size"):
        Server(tmp_path, TOKEN, chunk_size_range=chunk_range)
    server = Server(tmp_path, TOKEN)
    with pytest.raises(ValueError, match="chunk size"):
        server.chunk_size_range = chunk_range


@pytest.mark.parametrize("timeout_ms", [0, -5])
def test_session_timeout_not_positive_raises_value_error(tmp_path: Path, timeout_ms: int) -> None:
    with pytest.raises(ValueError, match="session timeout"):
        Server(tmp_path, TOKEN, session_timeout_ms=timeout_ms)


def test_options_can_change_while_not_running(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    server = Server(tmp_path, TOKEN)
    server.root_directory = other
    server.file_size_limit = 1234
    server.chunk_size_range = (600, 700)
    assert (server.root_directory, server.file_size_limit, server.chunk_size_range) == (
        str(other),
        1234,
        (600, 700),
    )


@pytest.mark.parametrize(
    ("option", "value"),
    [("root_directory", "."), ("file_size_limit", 10), ("chunk_size_range", (512, 1024))],
)
def test_changing_an_option_while_running_raises_runtime_error(
    tmp_path: Path, option: str, value: Any
) -> None:
    with serve_in_thread(tmp_path) as running:
        assert running.server is not None
        before = getattr(running.server, option)
        with pytest.raises(RuntimeError):
            setattr(running.server, option, value)
        assert getattr(running.server, option) == before
        assert running.client().list_files("/", timeout=CALL_TIMEOUT_MS) == {}


def test_terminate_when_never_run_raises_runtime_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        Server(tmp_path, TOKEN).terminate()


def test_terminate_after_run_returned_raises_runtime_error(tmp_path: Path) -> None:
    with serve_in_thread(tmp_path) as running:
        assert running.server is not None
        assert running.thread is not None
        running.server.terminate()
        running.thread.join(10)
        assert not running.thread.is_alive()
        with pytest.raises(RuntimeError):
            running.server.terminate()


def test_run_on_a_port_in_use_raises_runtime_error(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        server = Server(tmp_path, TOKEN)
        with pytest.raises(RuntimeError, match="listen"):
            server.run(port, "127.0.0.1")
        assert not server.wait_until_ready(0)
        with pytest.raises(RuntimeError):
            server.terminate()


def test_run_on_the_port_of_a_running_server_raises_runtime_error(tmp_path: Path) -> None:
    with serve_in_thread(tmp_path) as running:
        port = int(running.endpoint.rsplit(":", 1)[1])
        with pytest.raises(RuntimeError):
            Server(tmp_path, TOKEN).run(port, "127.0.0.1")
        assert running.client().list_files("/", timeout=CALL_TIMEOUT_MS) == {}


def test_run_on_an_unreachable_ipc_path_raises_runtime_error(tmp_path: Path) -> None:
    server = Server(tmp_path, TOKEN)
    with pytest.raises(RuntimeError):
        server.run("ipc:///nonexistent-remofile-directory/server.sock")


def test_run_on_an_address_that_is_not_an_ip_raises_runtime_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        Server(tmp_path, TOKEN).run(0, "not an address")


def test_run_twice_at_once_raises_runtime_error(tmp_path: Path) -> None:
    with serve_in_thread(tmp_path) as running:
        assert running.server is not None
        with pytest.raises(RuntimeError, match="already running"):
            running.server.run(0, "127.0.0.1")
        assert running.client().list_files("/", timeout=CALL_TIMEOUT_MS) == {}


def test_a_terminated_server_can_run_again(tmp_path: Path) -> None:
    (tmp_path / "kept").write_bytes(b"data")
    server = Server(tmp_path, TOKEN)
    for _ in range(2):
        thread = threading.Thread(target=server.run, args=(0, "127.0.0.1"), daemon=True)
        thread.start()
        assert server.wait_until_ready(10)
        assert server.endpoint is not None
        with Client(server.endpoint, None, TOKEN) as client:
            assert list(client.list_files("/", timeout=CALL_TIMEOUT_MS)) == ["kept"]
        server.terminate()
        thread.join(10)
        assert not thread.is_alive()
        assert not server.wait_until_ready(0)


def test_endpoint_reports_the_real_port_and_the_ipc_path(
    tmp_path: Path, socket_directory: str
) -> None:
    with serve_in_thread(tmp_path) as running:
        host, port = running.endpoint.removeprefix("tcp://").rsplit(":", 1)
        assert host == "127.0.0.1"
        assert int(port) > 0
    endpoint = f"ipc://{socket_directory}/s.sock"
    with serve_in_thread(tmp_path, endpoint) as running:
        assert running.endpoint == endpoint


def test_run_on_an_ipv6_address_serves_an_ipv6_client(tmp_path: Path) -> None:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    (tmp_path / "v6").write_bytes(b"")
    server = Server(tmp_path, TOKEN)
    thread = threading.Thread(target=server.run, args=(0, "::1"), daemon=True)
    thread.start()
    try:
        assert server.wait_until_ready(10)
        assert server.endpoint is not None
        assert server.endpoint.startswith("tcp://[::1]:")
        port = int(server.endpoint.rsplit(":", 1)[1])
        with Client("::1", port, TOKEN) as client:
            assert list(client.list_files("/", timeout=CALL_TIMEOUT_MS)) == ["v6"]
    finally:
        server.terminate()
        thread.join(10)
    assert not thread.is_alive()


@pytest.mark.parametrize(
    "algorithms",
    [[], [pb.DIGEST_ALGORITHM_BLAKE3], [pb.DIGEST_ALGORITHM_SHA256, 99]],
    ids=["none", "without-sha256", "undefined"],
)
def test_digest_algorithms_without_sha256_or_unknown_raise_value_error(
    tmp_path: Path, algorithms: list[int]
) -> None:
    with pytest.raises(ValueError, match="digest"):
        Server(tmp_path, TOKEN, digest_algorithms=algorithms)


def test_a_server_offers_the_digest_algorithms_it_is_given(tmp_path: Path) -> None:
    """Restricted to SHA-256, the server announces only it and refuses BLAKE3 transfers;
    a client then uses SHA-256 and its transfers work."""
    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "data.bin").write_bytes(b"data" * 1000)
    with serve_in_thread(
        tmp_path / "served", digest_algorithms=[pb.DIGEST_ALGORITHM_SHA256]
    ) as running:
        client = running.client()
        info = client.server_info(CALL_TIMEOUT_MS)
        assert list(info.digest_algorithms) == [pb.DIGEST_ALGORITHM_SHA256]
        request = pb.UploadFile(
            name="x.bin",
            directory="/",
            file_size=1,
            chunk_size=512,
            digest_algorithm=pb.DIGEST_ALGORITHM_BLAKE3,
        )
        with pytest.raises(UnsupportedError, match="BLAKE3"):
            client._call("upload_file", request, CALL_TIMEOUT_MS, pb.REASON_TRANSFER_ACCEPTED)
        local = tmp_path / "local"
        local.mkdir()
        client.download_file("/data.bin", local, timeout=CALL_TIMEOUT_MS)
        client.upload_file(local / "data.bin", "/", name="copy.bin", timeout=CALL_TIMEOUT_MS)
        assert (tmp_path / "served" / "copy.bin").read_bytes() == b"data" * 1000
