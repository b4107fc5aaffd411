"""Whole trees: upload_directory and download_directory, compared byte for byte."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from client_harness import (
    CALL_TIMEOUT_MS,
    ChunkRecorder,
    Layout,
    RunningServer,
    serve_in_thread,
    tree,
    visible_entries,
    write_random,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from remofile.client import Client

T = CALL_TIMEOUT_MS


@pytest.fixture
def server(layout: Layout) -> Iterator[RunningServer]:
    with serve_in_thread(layout.root, chunk_size_range=(512, 1 << 20), sync_writes=False) as run:
        yield run


def make_tree(top: Path) -> None:
    """A nested tree with empty files, empty directories, and files of several chunks."""
    (top / "a" / "b" / "c").mkdir(parents=True)
    (top / "empty-dir").mkdir()
    (top / "a" / "empty-sub").mkdir()
    (top / "empty.txt").write_bytes(b"")
    write_random(top / "one.bin", 1)
    write_random(top / "a" / "three-chunks.bin", 3 * 512 + 1, seed=1)
    write_random(top / "a" / "b" / "c" / "deep.bin", 10_000, seed=2)
    write_random(top / "a" / "b" / "é ✓.txt", 600, seed=3)
    write_random(top / "a-b", 20, seed=4)  # sorts between "a" and "a/..."
    write_random(top / "a.b", 21, seed=5)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "zlib"])
def test_tree_round_trip_is_byte_exact(
    server: RunningServer, layout: Layout, compress: bool
) -> None:
    client = server.client()
    source = layout.local / "project"
    source.mkdir()
    make_tree(source)
    recorder = ChunkRecorder()
    client.upload_directory(
        source, "/", chunk_size=512, process_chunk=recorder, timeout=T, compress=compress
    )
    assert tree(layout.root / "project") == tree(source)
    uploaded_names = {call[3] for call in recorder.calls}
    assert uploaded_names == {"empty.txt", "one.bin", "three-chunks.bin", "deep.bin", "é ✓.txt"} | {
        "a-b",
        "a.b",
    }
    assert sum(len(call[0]) for call in recorder.calls) == sum(
        path.stat().st_size for path in source.rglob("*") if path.is_file()
    )
    back = layout.local / "back"
    back.mkdir()
    recorder = ChunkRecorder()
    client.download_directory(
        "/project", back, chunk_size=512, process_chunk=recorder, timeout=T, compress=compress
    )
    assert tree(back / "project") == tree(source)
    assert {call[3] for call in recorder.calls} == uploaded_names
    for path in (back / "project").rglob("*"):
        assert not path.name.endswith(".remofile-partial")


def test_tree_listing_is_recursive(server: RunningServer, layout: Layout) -> None:
    make_tree(layout.root)
    listing = server.client().list_files("/", timeout=T, recursive=True)
    assert set(listing) == set(tree(layout.root))
    assert listing["a/b/c/deep.bin"].size == 10_000
    assert listing["a/b/c"].is_directory


def test_trees_are_renamed_with_name(server: RunningServer, layout: Layout) -> None:
    client = server.client()
    source = layout.local / "original"
    source.mkdir()
    make_tree(source)
    client.make_directory("into", "/", timeout=T)
    client.upload_directory(source, "/into", name="renamed", timeout=T)
    assert visible_entries(layout.root / "into") == ["renamed"]
    client.download_directory("/into/renamed", layout.local, name="again", timeout=T)
    assert tree(layout.local / "again") == tree(source)


def test_empty_directory_round_trips(server: RunningServer, layout: Layout) -> None:
    client = server.client()
    (layout.local / "nothing").mkdir()
    client.upload_directory(layout.local / "nothing", "/", timeout=T)
    assert os.listdir(layout.root / "nothing") == []
    client.download_directory("/nothing", layout.local, name="still-nothing", timeout=T)
    assert os.listdir(layout.local / "still-nothing") == []


def test_whole_root_downloads_under_a_name(server: RunningServer, layout: Layout) -> None:
    make_tree(layout.root)
    client = server.client()
    client.download_directory("/", layout.local, name="everything", timeout=T)
    assert tree(layout.local / "everything") == tree(layout.root)


def test_tree_with_many_small_files_is_pipelined(server: RunningServer, layout: Layout) -> None:
    source = layout.local / "many"
    source.mkdir()
    for index in range(150):
        (source / f"f{index:03d}").write_bytes(str(index).encode())
    client = server.client(window=16)
    client.upload_directory(source, "/", timeout=T)
    client.download_directory("/many", layout.local, name="many-back", timeout=T)
    assert tree(layout.local / "many-back") == tree(source)


def test_deleting_an_uploaded_tree_removes_all_of_it(server: RunningServer, layout: Layout) -> None:
    client = server.client()
    source = layout.local / "doomed"
    source.mkdir()
    make_tree(source)
    client.upload_directory(source, "/", timeout=T)
    client.delete_file("/doomed", timeout=T)
    assert visible_entries(layout.root) == []
    assert client.list_files("/", timeout=T, recursive=True) == {}


node_names = st.sampled_from(["a", "b", "c", "é", "x y", "long-" + "n" * 40, "dot.ted"])
trees = st.recursive(
    st.binary(max_size=3000),
    lambda children: st.dictionaries(node_names, children, max_size=4),
    max_leaves=12,
)


def build(path: Path, node: bytes | dict[str, object]) -> None:
    if isinstance(node, bytes):
        path.write_bytes(node)
        return
    path.mkdir()
    for name, child in node.items():
        build(path / name, child)  # type: ignore[arg-type]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(shape=st.dictionaries(node_names, trees, max_size=4), index=st.integers(0, 10**9))
def test_random_trees_round_trip_exactly(
    server: RunningServer, layout: Layout, shape: dict[str, object], index: int
) -> None:
    name = f"tree-{index}"
    source = layout.local / "sources" / name
    source.parent.mkdir(exist_ok=True)
    if source.exists():
        return
    build(source, shape)
    with Client(server.endpoint, None, "qRkVWJcFRqi7rsNMbagaDd", window=4) as client:
        client.upload_directory(source, "/", chunk_size=512, timeout=T)
        target = layout.local / "back"
        target.mkdir(exist_ok=True)
        client.download_directory(f"/{name}", target, chunk_size=512, timeout=T)
        client.delete_file(f"/{name}", timeout=T)
    assert tree(layout.local / "back" / name) == tree(source)
