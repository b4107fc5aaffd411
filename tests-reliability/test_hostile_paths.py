"""Hostile paths and planted links over every operation: nothing outside the root is
ever read, written or removed, and every request is answered (SPEC.md 4.5)."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from figures import scaled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from remofile.v1 import remofile_pb2 as pb
from server_harness import TOKEN, Layout, RawPeer, raw_peer_of, serve_in_process, snapshot

#: Entries planted in the root: links out of it, into the staging area, to nowhere.
PLANTED_LINKS = {
    "out-file": "{sentinel}/secret.txt",
    "out-dir": "{sentinel}",
    "out-up": "../sentinel",
    "dangling": "/nonexistent/remofile-test",
    "loop": "loop",
    "to-root": "/",
    "to-staging": ".remofile-staging",
    "to-uploads": ".remofile-staging/uploads",
    "self": ".",
}

COMPONENTS = st.sampled_from(
    [
        "..",
        ".",
        "",
        "d",
        "f",
        *PLANTED_LINKS,
        ".remofile-staging",
        ".REMOFILE-staging",
        "uploads",
        "trash",
        "a\x00b",
        "\u202etxt.exe",
        "\uff0e\uff0e",  # fullwidth dots
        "\u2215etc",  # division slash
        "e\u0301",
        "x" * 300,
        "\\..\\..",
        "~",
        " ",
    ]
) | st.text(min_size=1, max_size=12)

PATHS = st.builds(
    lambda prefix, parts, separator: prefix + separator.join(parts),
    st.sampled_from(["/", "", "//", "/./", "\\"]),
    st.lists(COMPONENTS, max_size=5),
    st.sampled_from(["/", "//", "\\"]),
)

NAMES = COMPONENTS | st.sampled_from(["ok.txt", ".remofile-tmp-x", "../escape", "/abs"])

OPERATIONS = st.sampled_from(
    [
        "list",
        "list_recursive",
        "create",
        "mkdir",
        "upload",
        "download",
        "remove",
        "move",
        "move_replace",
        "copy",
        "copy_replace",
        "digest",
    ]
)


def _request(operation: str, path: str, other: str, name: str) -> tuple[pb.Request, bytes | None]:
    """One request of ``operation`` on hostile paths, and its data frame if any."""
    replace = pb.CONFLICT_MODE_REPLACE if operation.endswith("replace") else 0
    kinds: dict[str, dict[str, object]] = {
        "list": {"list_files": pb.ListFiles(directory=path)},
        "list_recursive": {"list_files": pb.ListFiles(directory=path, recursive=True)},
        "create": {"create_file": pb.CreateFile(name=name, directory=path)},
        "mkdir": {"make_directory": pb.MakeDirectory(name=name, directory=path)},
        "upload": {
            "upload_file": pb.UploadFile(
                name=name, directory=path, file_size=5, chunk_size=4096, conflict_mode=replace
            )
        },
        "download": {"download_file": pb.DownloadFile(path=path, chunk_size=4096)},
        "remove": {"remove_file": pb.RemoveFile(path=path)},
        "move": {"move_file": pb.MoveFile(source=path, directory=other, name=name)},
        "move_replace": {
            "move_file": pb.MoveFile(source=path, directory=other, name=name, conflict_mode=replace)
        },
        "copy": {"copy_file": pb.CopyFile(source=path, directory=other, name=name)},
        "copy_replace": {
            "copy_file": pb.CopyFile(source=path, directory=other, name=name, conflict_mode=replace)
        },
        "digest": {"file_digest": pb.FileDigest(path=path)},
    }
    return pb.Request(token=TOKEN, **kinds[operation]), None  # type: ignore[arg-type]


def _plant(layout: Layout) -> None:
    (layout.root / "d").mkdir()
    (layout.root / "f").write_bytes(b"inside")
    for name, target in PLANTED_LINKS.items():
        (layout.root / name).symlink_to(target.format(sentinel=layout.sentinel))


class Campaign:
    """A server in its own process and a raw peer with a session, for many requests."""

    def __init__(self, peer: RawPeer, process_id: int) -> None:
        self.peer = peer
        self.process_id = process_id
        self.session = peer.hello()

    def send(self, request: pb.Request) -> pb.Response:
        request.session_id = self.session
        response, _ = self.peer.request(request)
        if response.reason == pb.REASON_TRANSFER_ACCEPTED:
            # Finish what was started, so that the next request is judged in IDLE.
            finish = pb.Request(token=TOKEN, session_id=self.session)
            if request.HasField("upload_file"):
                chunk = pb.SendChunk(offset=0)
                chunk.digest.algorithm = pb.DIGEST_ALGORITHM_SHA256
                chunk.digest.value = hashlib.sha256(b"12345").digest()
                finish.send_chunk.CopyFrom(chunk)
                self.peer.request(finish, b"12345")
            else:
                finish.cancel_transfer.CopyFrom(pb.CancelTransfer())
                self.peer.request(finish)
        elif response.reason == pb.REASON_REMOVAL_STARTED:
            finish = pb.Request(token=TOKEN, session_id=self.session)
            finish.cancel_transfer.CopyFrom(pb.CancelTransfer())
            self.peer.request(finish)
        return response


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Campaign, Layout]]:
    layout = Layout.make(tmp_path_factory.mktemp("hostile"))
    _plant(layout)
    layout.sentinel_snapshot = snapshot(layout.sentinel)
    with serve_in_process(layout.root, sync_writes=False) as running:
        assert running.process is not None
        with raw_peer_of(running.endpoint) as peer:
            yield Campaign(peer, running.process.pid), layout
        assert running.process.poll() is None, "the server died during the campaign"


@settings(
    max_examples=scaled(300, 10_000),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operation=OPERATIONS, path=PATHS, other=PATHS, name=NAMES)
def test_no_hostile_path_reaches_outside_the_root(
    campaign: tuple[Campaign, Layout],
    figures: Counter[str],
    operation: str,
    path: str,
    other: str,
    name: str,
) -> None:
    runner, layout = campaign
    request, _ = _request(operation, path, other, name)
    response = runner.send(request)
    figures["hostile-path requests"] += 1
    assert response.type != pb.RESPONSE_TYPE_UNSPECIFIED
    if response.type == pb.RESPONSE_TYPE_ACCEPTED:
        figures["hostile-path requests accepted (inside the root)"] += 1
    changed = snapshot(layout.sentinel) != layout.sentinel_snapshot
    siblings = sorted(entry.name for entry in layout.root.parent.iterdir())
    figures["entries touched outside the root"] += int(changed) + (
        siblings != ["local", "sentinel", "served"]
    )
    assert not changed, f"{operation} {path!r} {other!r} {name!r} changed the sentinel"
    assert siblings == ["local", "sentinel", "served"], siblings
    assert os.path.exists(f"/proc/{runner.process_id}"), "the server died"


def test_the_planted_links_kept_their_targets(campaign: tuple[Campaign, Layout]) -> None:
    _runner, layout = campaign
    for name, target in PLANTED_LINKS.items():
        link = layout.root / name
        if link.is_symlink():  # a request may have removed or moved the link itself
            assert os.readlink(link) == target.format(sentinel=layout.sentinel)
    layout.assert_sentinel_unchanged()
    assert (Path("/nonexistent/remofile-test")).exists() is False
