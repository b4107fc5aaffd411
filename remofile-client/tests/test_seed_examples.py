"""The user guide's "Remofile from Python code" (seed section 1.5), run as written apart
from the import paths (``remofile.server`` and ``remofile.client``).

The seed's ``client.upload_file('foo', 'bar')`` and ``client.download_file('bar', 'foo')``
use relative remote paths, which the API refuses with ValueError; the working forms use
absolute remote paths.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from remofile.client import Client
from remofile.core import DestinationNotFound
from remofile.server import Server

SEED_PORT = 6768
SEED_TOKEN = "qRkVWJcFRqi7rsNMbagaDd"


def start_seed_server() -> tuple[Server, threading.Thread, int]:
    """The seed's server snippet, in a thread as the guide says (run() blocks).

    If port 6768 is taken on this machine (another test run, a real server), the same
    program runs on a free port instead, so that the test does not depend on it.
    """
    failures: list[BaseException] = []
    for port in (SEED_PORT, 0):
        server = Server("my-directory", SEED_TOKEN)

        def run(server: Server = server, port: int = port) -> None:
            try:
                server.run(port)
            except RuntimeError as error:  # port 6768 in use: try a free one
                failures.append(error)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.wait_until_ready(0.01) and thread.is_alive():
            assert time.monotonic() < deadline
        if server.wait_until_ready(0):
            assert server.endpoint is not None
            return server, thread, int(server.endpoint.rsplit(":", 1)[1])
        thread.join(10)
    pytest.fail(f"the seed server could not start: {failures}")


@pytest.mark.timeout(30)  # the seed's calls have no timeout of their own
def test_seed_python_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    os.mkdir("my-directory")
    Path("foo").write_bytes(b"foo's content\n")

    server, thread, port = start_seed_server()
    try:
        client = Client("localhost", port, SEED_TOKEN)
        try:
            assert client.list_files("/") == {}
            with pytest.raises(ValueError, match="absolute"):
                client.upload_file("foo", "bar")
            with pytest.raises(ValueError, match="absolute"):
                client.download_file("bar", "foo")

            # The working forms: absolute remote paths, an existing remote directory (and,
            # as the guide advises for real code, a timeout).
            with pytest.raises(DestinationNotFound):
                client.upload_file("foo", "/bar", timeout=5000)
            client.make_directory("bar", "/", timeout=5000)
            client.upload_file("foo", "/bar", timeout=5000)
            assert Path("my-directory/bar/foo").read_bytes() == b"foo's content\n"
            os.mkdir("copy")
            client.download_file("/bar/foo", "copy", timeout=5000)
            assert Path("copy/foo").read_bytes() == b"foo's content\n"
            assert set(client.list_files("/", timeout=5000, recursive=True)) == {"bar", "bar/foo"}
        finally:
            client.close()
    finally:
        server.terminate()
        thread.join(10)
    assert not thread.is_alive()


def test_seed_server_snippet_root_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    os.mkdir("my-directory")
    assert Server("my-directory", SEED_TOKEN).root_directory == str(tmp_path / "my-directory")
