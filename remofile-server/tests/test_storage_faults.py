"""Faults of the served directory that must never stop the server (SPEC.md 4.3, 4.5.4,
4.11.2): entries that cannot be removed, a planted staging area, a file system mounted
inside the root, a full disk. Each runs a real server on real file systems; the ones
that need root (an immutable file, a tmpfs mount) skip with the reason elsewhere."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from remofile.core import UnexpectedError
from remofile.server import Server
from remofile.server.staging import StagingError
from remofile.server.storage import LocalStorage
from remofile.v1 import remofile_pb2 as pb
from server_harness import TOKEN, Layout, RawPeer, RunningServer, raw_peer_of, serve_in_thread

T = 10_000


@contextlib.contextmanager
def immutable(path: Path, top: Path) -> Iterator[None]:
    """``path`` made immutable (chattr +i): not even root may remove it. Afterwards the
    file of that name is made mutable again wherever below ``top`` it went."""
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot make a file immutable here: {made.stderr.decode().strip()}")
    try:
        yield
    finally:
        for found in top.rglob(path.name):
            subprocess.run(["chattr", "-i", str(found)], check=False)


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[None]:
    """A tmpfs of ``size`` mounted on ``path`` (root only), unmounted afterwards."""
    path.mkdir(exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _call(peer: RawPeer, session: bytes, **kind: object) -> pb.Response:
    request = pb.Request(token=TOKEN, session_id=session, **kind)  # type: ignore[arg-type]
    return peer.request(request)[0]


# -- 1: entries that cannot be removed ---------------------------------------------------


def test_a_tree_with_an_entry_that_cannot_go_is_put_back_and_the_server_goes_on(
    served: RunningServer, layout: Layout
) -> None:
    tree = layout.root / "tree"
    (tree / "stuck").mkdir(parents=True)
    for index in range(30):
        (tree / f"file-{index}").write_bytes(b"x")
    (tree / "stuck" / "immutable").write_bytes(b"cannot go")
    with immutable(tree / "stuck" / "immutable", layout.root), raw_peer_of(served.endpoint) as peer:
        session = peer.hello()
        started = _call(peer, session, remove_file=pb.RemoveFile(path="/tree"))
        assert started.reason == pb.REASON_REMOVAL_STARTED
        assert not tree.exists()  # out of sight at once
        answer = _call(peer, session, continue_removal=pb.ContinueRemoval())
        assert (answer.type, answer.reason) == (
            pb.RESPONSE_TYPE_REFUSED,
            pb.REASON_REMOVAL_INCOMPLETE,
        )
        assert answer.removal.removed == 30
        assert answer.removal.failed == 3  # the file, its directory and the top
        assert sorted(os.listdir(tree)) == ["stuck"]
        assert (tree / "stuck" / "immutable").read_bytes() == b"cannot go"
        listing = _call(peer, session, list_files=pb.ListFiles(directory="/tree"))
        assert [entry.name for entry in listing.file_list.entries] == ["stuck"]


def test_a_purge_that_cannot_finish_is_logged_and_never_stops_the_server(
    layout: Layout, caplog: pytest.LogCaptureFixture
) -> None:
    """A removal cancelled, then purged in the background, meets an immutable file; so
    does the purge at the next start. Both used to raise out of run()."""
    tree = layout.root / "tree"
    (tree / "deep").mkdir(parents=True)
    (tree / "deep" / "immutable").write_bytes(b"cannot go")
    (tree / "other").write_bytes(b"x")

    class Stop(Exception):
        pass

    def stop(removed: int, remaining: int) -> None:
        raise Stop

    with immutable(tree / "deep" / "immutable", layout.root):
        for run in range(2):
            with serve_in_thread(layout.root, sync_writes=False) as running:
                client = running.client()
                if run == 0:
                    with pytest.raises(Stop):
                        client.delete_file("/tree", T, process_removal=stop)
                client.close()
                # Each run's purge meets the immutable file once, says so, and goes on.
                deadline = time.monotonic() + 30
                while caplog.text.count("could not remove 3 entries") < run + 1:
                    assert time.monotonic() < deadline, "the purge did not run"
                    time.sleep(0.02)
                trash = layout.root / ".remofile-staging" / "trash"
                assert [path.name for path in trash.rglob("*") if path.is_file()] == ["immutable"]
                client = running.client()  # the server still answers, after its purge
                client.create_file(f"after-{run}", "/", T)
                client.close()
    assert caplog.text.count("could not remove 3 entries") == 2


# -- 2: the staging area's path is not trusted ------------------------------------------------


@pytest.mark.parametrize("planted", ["staging", "uploads", "trash"])
def test_a_planted_link_for_the_staging_area_stops_the_server_before_anything(
    layout: Layout, planted: str
) -> None:
    staging = layout.root / ".remofile-staging"
    outside = layout.sentinel / "inner"
    if planted == "staging":
        staging.symlink_to(layout.sentinel)
        (layout.sentinel / "trash").mkdir()
        (layout.sentinel / "trash" / "victim").write_bytes(b"must stay")
    else:
        staging.mkdir()
        (staging / planted).symlink_to(outside)
    with pytest.raises(StagingError, match="not a real directory"):
        LocalStorage(layout.root)
    server = Server(layout.root, TOKEN)
    with pytest.raises(StagingError):
        server.run(0, "127.0.0.1")
    assert not server.wait_until_ready(0)
    if planted == "staging":
        assert (layout.sentinel / "trash" / "victim").read_bytes() == b"must stay"
        (layout.sentinel / "trash" / "victim").unlink()
        (layout.sentinel / "trash").rmdir()
    layout.assert_sentinel_unchanged()


def test_a_staging_area_of_another_user_is_refused(layout: Layout) -> None:
    staging = layout.root / ".remofile-staging"
    staging.mkdir()
    if os.geteuid() != 0:
        pytest.skip("only root can give a directory to another user")
    os.chown(staging, 65534, 65534)
    with pytest.raises(StagingError, match="belongs to user 65534"):
        LocalStorage(layout.root)


# -- 3: a file system mounted inside the root -------------------------------------------------


def test_uploads_and_removals_work_on_a_file_system_mounted_inside_the_root(
    layout: Layout,
) -> None:
    content = os.urandom(3 << 20)
    (layout.local / "big.bin").write_bytes(content)
    with tmpfs(layout.root / "mounted", "64m"), serve_in_thread(layout.root) as running:
        client = running.client()
        client.upload_file(layout.local / "big.bin", "/mounted", chunk_size=1 << 20, timeout=T)
        assert (layout.root / "mounted" / "big.bin").read_bytes() == content
        client.upload_file(
            layout.local / "big.bin", "/mounted", chunk_size=1 << 20, timeout=T, replace=True
        )
        client.make_directory("tree", "/mounted", T)
        client.upload_file(layout.local / "big.bin", "/mounted/tree", timeout=T)
        client.delete_file("/mounted/tree", T)
        assert sorted(os.listdir(layout.root / "mounted")) == [".remofile-staging", "big.bin"]
        listing = client.list_files("/mounted", T)
        assert list(listing) == ["big.bin"]
        client.close()


# -- 4: a full disk --------------------------------------------------------------------------


def test_a_full_disk_is_a_clear_refusal_and_staged_leftovers_never_block_uploads(
    tmp_path: Path,
) -> None:
    root = tmp_path / "small"
    local = tmp_path / "local"
    local.mkdir()
    (local / "too-big.bin").write_bytes(os.urandom(6 << 20))
    (local / "fits.bin").write_bytes(os.urandom(3 << 20))
    with tmpfs(root, "4m"), serve_in_thread(root, sync_writes=False) as running:
        client = running.client()

        class Stop(Exception):
            pass

        def stop_late(chunk: bytes, remaining: int, size: int, name: str) -> None:
            if remaining <= (1 << 20):
                raise Stop

        # An interrupted upload leaves 2 MiB staged: half the disk.
        with pytest.raises(Stop):
            client.upload_file(
                local / "fits.bin",
                "/",
                name="interrupted.bin",
                chunk_size=1 << 20,
                process_chunk=stop_late,
                timeout=T,
            )
        from remofile.core.exceptions import RemofileException

        with pytest.raises(RemofileException) as refused:
            client.upload_file(local / "too-big.bin", "/", chunk_size=1 << 20, timeout=T)
        assert "space" in str(refused.value)
        assert not isinstance(refused.value, UnexpectedError)
        assert sorted(os.listdir(root)) == [".remofile-staging"]
        # The leftovers were reclaimed: a file that fits goes in.
        client.upload_file(local / "fits.bin", "/", chunk_size=1 << 20, timeout=T)
        assert (root / "fits.bin").read_bytes() == (local / "fits.bin").read_bytes()
        client.close()
