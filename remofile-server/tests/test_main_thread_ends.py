"""A server started on a thread keeps serving after the program's main thread ends.

The README's Python example does exactly this when run as a script: the main thread
starts ``server.run`` on a (non-daemon) thread and reaches the end of the file. The
interpreter then waits for that thread, but concurrent.futures refuses new work from
that moment on; the server's own worker threads must not.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from remofile.client import Client
from server_harness import TOKEN, read_line

SCRIPT = textwrap.dedent(
    """
    import sys, threading
    from remofile.server import Server

    server = Server(sys.argv[1], sys.argv[2])
    threading.Thread(target=server.run, args=(0, "127.0.0.1")).start()
    server.wait_until_ready()
    print(server.endpoint, flush=True)
    # A watcher that ends the server when stdin closes; the main thread ends here.
    threading.Thread(target=lambda: (sys.stdin.read(), server.terminate()), daemon=True).start()
    """
)


def test_uploads_and_downloads_after_the_main_thread_ended(tmp_path: Path) -> None:
    root, local = tmp_path / "served", tmp_path / "local"
    root.mkdir()
    local.mkdir()
    (local / "small.txt").write_bytes(b"one chunk, stored on a worker thread")
    (local / "big.bin").write_bytes(bytes(range(256)) * 20_000)
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(root), TOKEN],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        endpoint = read_line(process, 10)
        assert endpoint.startswith("tcp://"), endpoint
        with Client(endpoint, None, TOKEN) as client:
            for _ in range(3):  # the first is late enough for the main thread to be gone
                client.upload_file(local / "small.txt", "/", replace=True)
            client.upload_file(local / "big.bin", "/")
            client.download_file("/small.txt", local, name="back.txt")
        assert (root / "small.txt").read_bytes() == (local / "small.txt").read_bytes()
        assert (root / "big.bin").read_bytes() == (local / "big.bin").read_bytes()
        assert (local / "back.txt").read_bytes() == (local / "small.txt").read_bytes()
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        stderr = process.stderr.read() if process.stderr is not None else ""
        if process.stdout is not None:
            process.stdout.close()
        if process.stderr is not None:
            process.stderr.close()
    assert process.returncode == 0, stderr
    assert "interpreter shutdown" not in stderr
