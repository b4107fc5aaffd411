"""The client key a command keeps (client_keys.py): a command run again after it was
killed takes its session back at once (SPEC 3.7) instead of being refused SERVER_BUSY
until the session expires; two commands at once never share a key."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path

from cli_support import REMOFILE, ServerProcess, clean_environment, expect, run_process
from remofile.cli.client_keys import KEY_BYTES, held_client_key

#: How long the killed upload may take to stage its first bytes.
STAGING_WAIT_S = 20.0


def test_a_key_is_kept_per_server_and_never_shared_at_once() -> None:
    with held_client_key("127.0.0.1:6768") as first:
        assert first is not None
        assert len(first) == KEY_BYTES
        with held_client_key("127.0.0.1:6768") as beside:
            assert beside is None  # held by the command running: make a fresh one
        with held_client_key("127.0.0.1:6769") as other_server:
            assert other_server is not None
            assert other_server != first
    with held_client_key("127.0.0.1:6768") as again:
        assert again == first
    kept = Path(os.environ["XDG_STATE_HOME"], "remofile", "client-keys")
    modes = {stat.S_IMODE(path.stat().st_mode) for path in kept.iterdir()}
    assert modes == {0o600}
    assert stat.S_IMODE(kept.stat().st_mode) == 0o700


def test_a_command_run_again_after_a_kill_takes_its_session_back(
    server: ServerProcess, env: dict[str, str], remote: str, tmp_path: Path
) -> None:
    content = os.urandom(64 * 1024 * 1024)
    source = tmp_path / "big.iso"
    source.write_bytes(content)
    killed = subprocess.Popen(
        [REMOFILE, "upload", str(source), remote],
        env={**clean_environment(), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    staging = server.root / ".remofile-staging"

    def staged() -> bool:
        return any(path.stat().st_size for path in staging.rglob("*.part"))

    try:
        deadline = time.monotonic() + STAGING_WAIT_S
        while time.monotonic() < deadline and killed.poll() is None and not staged():
            time.sleep(0.005)
        assert killed.poll() is None, "the upload ended before it could be killed"
        assert staged(), "the upload staged nothing in time"
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
    assert not (server.root / remote.lstrip("/") / "big.iso").exists()
    # Its session is live on the server (default timeout, 30 s): without the kept key,
    # this would be refused SERVER_BUSY.
    result = expect(run_process(["upload", "--resume", str(source), remote], env), 0)
    assert (server.root / remote.lstrip("/") / "big.iso").read_bytes() == content, result
