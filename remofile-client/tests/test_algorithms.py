"""upload_files, download_files, synchronize_upload and synchronize_download end to end.

The seed's section 2.3 ("Advanced algorithms"), section 1.6 and chapter 12: globs,
excludes, relative directories and rsync-like synchronization in both directions,
against a real server on 127.0.0.1 serving a real directory. Synchronization is checked
on random trees against a small model of what should move, and the remote side is
read straight from the served directory on disk.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import itertools
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from client_harness import (
    CALL_TIMEOUT_MS,
    ChunkRecorder,
    Layout,
    RunningServer,
    serve_in_thread,
    visible_entries,
    write_random,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from remofile.client import (
    Client,
    SyncReport,
    download_files,
    synchronize_download,
    synchronize_upload,
    upload_files,
)
from remofile.core import DestinationNotFound, SourceNotFound

T = CALL_TIMEOUT_MS
SECOND_NS = 1_000_000_000

#: A tree: a file's bytes, or a directory mapping names to trees.
Node = bytes | dict[str, "Node"]
#: A tree flattened: relative path ("/" separated) to bytes, or None for a directory.
Flat = dict[str, bytes | None]


@pytest.fixture
def server(layout: Layout) -> Iterator[RunningServer]:
    with serve_in_thread(layout.root, chunk_size_range=(512, 1 << 20), sync_writes=False) as run:
        yield run


@pytest.fixture
def client(server: RunningServer) -> Client:
    return server.client()


# -- trees on disk --------------------------------------------------------------------


def build(top: Path, node: Mapping[str, Node], mtime_ns: int | None = None) -> None:
    """Create the directory ``top`` holding ``node``; files get ``mtime_ns`` if given."""
    top.mkdir(parents=True, exist_ok=True)
    for name, child in node.items():
        path = top / name
        if isinstance(child, bytes):
            path.write_bytes(child)
            if mtime_ns is not None:
                os.utime(path, ns=(mtime_ns, mtime_ns))
        else:
            build(path, child, mtime_ns)


def flatten(node: Mapping[str, Node], prefix: str = "") -> Flat:
    flat: Flat = {}
    for name, child in node.items():
        path = prefix + name
        if isinstance(child, bytes):
            flat[path] = child
        else:
            flat[path] = None
            flat.update(flatten(child, path + "/"))
    return flat


def read_flat(top: Path) -> Flat:
    """What is on disk below ``top`` (the server's staging area left aside)."""
    flat: Flat = {}
    for directory, directories, files in os.walk(top):
        relative = os.path.relpath(directory, top)
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        if directory == str(top) and ".remofile-staging" in directories:
            directories.remove(".remofile-staging")
        for name in directories:
            flat[prefix + name] = None
        for name in files:
            flat[prefix + name] = Path(directory, name).read_bytes()
    return flat


def snapshot(top: Path) -> dict[str, tuple[bytes | None, int]]:
    """Content and modification time of every entry: any change at all shows."""
    return {
        path: (content, (top / path).stat().st_mtime_ns) for path, content in read_flat(top).items()
    }


def morph(top: Path, before: Flat, after: Flat) -> None:
    """Turn the tree ``before`` at ``top`` into ``after``, rewriting only what changes."""
    for path in sorted(before, reverse=True):
        if path in after and (after[path] is None) == (before[path] is None):
            continue
        target = top / path
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    for path in sorted(after):
        target = top / path
        if after[path] is None:
            target.mkdir(exist_ok=True)
        elif before.get(path) != after[path]:
            target.write_bytes(after[path] or b"")


def files_of(flat: Flat) -> list[str]:
    return sorted(path for path, content in flat.items() if content is not None)


def ancestors(path: str) -> Iterator[str]:
    parts = path.split("/")
    for end in range(1, len(parts)):
        yield "/".join(parts[:end])


def expected_report(before: Flat, after: Flat, rewritten: set[str], *, delete: bool) -> SyncReport:
    """The plan a synchronization from ``after`` onto a copy of ``before`` must follow.

    Files in ``rewritten`` count as changed even where the other side has a file there.
    A changed file replaces the old copy atomically in both directions: it is reported
    transferred and replaced, never removed. A directory that gives way to a file, and
    a file that gives way to a directory, is removed; so is, with ``delete``, what ``after``
    does not have, but never below something already removed.
    """

    def transfer(path: str) -> bool:
        return after[path] is not None and (before.get(path) is None or path in rewritten)

    removed: set[str] = set()
    for path in sorted(before):
        if any(parent in removed for parent in ancestors(path)):
            continue
        if path not in after:
            if delete:
                removed.add(path)
            continue
        if (before[path] is None) != (after[path] is None):
            removed.add(path)
    transferred = [path for path in sorted(after) if transfer(path)]
    report = SyncReport(
        created_directories=[
            path
            for path in sorted(after)
            if after[path] is None and before.get(path, b"") is not None
        ],
        transferred=transferred,
        unchanged=[
            path
            for path in files_of(after)
            if not transfer(path) and before.get(path, None) is not None
        ],
        bytes_transferred=sum(len(after[path] or b"") for path in transferred),
        replaced=[path for path in transferred if before.get(path) is not None],
    )
    report.removed = sorted(removed)
    return report


def normalized(report: SyncReport) -> SyncReport:
    """The report with ``removed`` sorted (it lists removals in the order they happen)."""
    return dataclasses.replace(report, removed=sorted(report.removed))


# -- upload_files ---------------------------------------------------------------------


def make_local_project(top: Path) -> None:
    """notes.txt, todo.txt, app.log, data.bin, sub/{x.log,y.txt,deep/z.log}, build/out.o"""
    (top / "sub" / "deep").mkdir(parents=True)
    (top / "build").mkdir()
    (top / "notes.txt").write_bytes(b"notes\n")
    (top / "todo.txt").write_bytes(b"")
    (top / "app.log").write_bytes(b"log line\n" * 100)
    write_random(top / "data.bin", 5000, seed=1)
    (top / "sub" / "x.log").write_bytes(b"x")
    (top / "sub" / "y.txt").write_bytes(b"y")
    (top / "sub" / "deep" / "z.log").write_bytes(b"z" * 1025)
    (top / "build" / "out.o").write_bytes(b"\x7fELF")


def test_upload_files_one_file(client: Client, layout: Layout) -> None:
    make_local_project(layout.local)
    recorder = ChunkRecorder()
    uploaded = upload_files(
        client,
        "data.bin",
        "/",
        layout.local,
        chunk_size=512,
        process_chunk=recorder,
        timeout=T,
    )
    assert uploaded == [str(layout.local / "data.bin")]
    assert visible_entries(layout.root) == ["data.bin"]
    assert (layout.root / "data.bin").read_bytes() == (layout.local / "data.bin").read_bytes()
    assert recorder.data == (layout.local / "data.bin").read_bytes()
    assert all(len(call[0]) <= 512 for call in recorder.calls)
    assert len(recorder.calls) == 10


def test_upload_files_nested_file_lands_in_the_destination(client: Client, layout: Layout) -> None:
    make_local_project(layout.local)
    client.make_directory("into", "/", timeout=T)
    upload_files(client, "sub/deep/z.log", "/into", layout.local, timeout=T)
    assert read_flat(layout.root) == {"into": None, "into/z.log": b"z" * 1025}


def test_upload_files_skips_a_directory_unless_recursive(client: Client, layout: Layout) -> None:
    make_local_project(layout.local)
    assert upload_files(client, "sub", "/", layout.local, timeout=T) == []
    assert visible_entries(layout.root) == []
    uploaded = upload_files(client, "sub", "/", layout.local, recursive=True, timeout=T)
    assert uploaded == [str(layout.local / "sub")]
    assert read_flat(layout.root / "sub") == read_flat(layout.local / "sub")


def test_upload_files_glob_in_the_top_directory(client: Client, layout: Layout) -> None:
    make_local_project(layout.local)
    uploaded = upload_files(client, "*.txt", "/", layout.local, timeout=T)
    assert uploaded == [str(layout.local / "notes.txt"), str(layout.local / "todo.txt")]
    assert read_flat(layout.root) == {"notes.txt": b"notes\n", "todo.txt": b""}


def test_upload_files_recursive_glob_collects_files_at_any_depth(
    client: Client, layout: Layout
) -> None:
    make_local_project(layout.local)
    client.make_directory("logs", "/", timeout=T)
    uploaded = upload_files(client, "**/*.log", "/logs", layout.local, recursive=True, timeout=T)
    assert sorted(uploaded) == sorted(
        str(layout.local / path) for path in ("app.log", "sub/x.log", "sub/deep/z.log")
    )
    # Each matching file goes into the destination under its own name.
    assert read_flat(layout.root / "logs") == {
        "app.log": b"log line\n" * 100,
        "x.log": b"x",
        "z.log": b"z" * 1025,
    }


def test_upload_files_glob_matching_directories_needs_recursive(
    client: Client, layout: Layout
) -> None:
    make_local_project(layout.local)
    # "s*" names the directory sub only: skipped, then uploaded whole with recursive.
    assert upload_files(client, "s*", "/", layout.local, timeout=T) == []
    assert visible_entries(layout.root) == []
    upload_files(client, "s*", "/", layout.local, recursive=True, timeout=T)
    assert read_flat(layout.root) == {
        "sub": None,
        **{f"sub/{path}": value for path, value in read_flat(layout.local / "sub").items()},
    }


def test_upload_files_source_is_relative_to_the_working_directory_by_default(
    client: Client, layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_local_project(layout.local)
    monkeypatch.chdir(layout.local / "sub")
    uploaded = upload_files(client, "*.txt", "/", timeout=T)
    assert uploaded == [str(layout.local / "sub" / "y.txt")]
    assert read_flat(layout.root) == {"y.txt": b"y"}


def test_upload_files_relative_directory_anchors_the_source(
    client: Client, layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_local_project(layout.local)
    monkeypatch.chdir(layout.local / "build")  # nothing matching here
    upload_files(client, "deep/*.log", "/", layout.local / "sub", timeout=T)
    assert read_flat(layout.root) == {"z.log": b"z" * 1025}


def test_upload_files_excludes_names_at_any_depth(client: Client, layout: Layout) -> None:
    project = layout.local / "project"
    make_local_project(project)
    upload_files(
        client, "project", "/", layout.local, recursive=True, exclude_files=["*.log"], timeout=T
    )
    expected = {
        path: value for path, value in read_flat(project).items() if not path.endswith(".log")
    }
    assert read_flat(layout.root / "project") == expected


def test_upload_files_excludes_a_directory_by_name(client: Client, layout: Layout) -> None:
    project = layout.local / "project"
    make_local_project(project)
    (project / "sub" / "build").mkdir()
    (project / "sub" / "build" / "o").write_bytes(b"o")
    upload_files(
        client, "project", "/", layout.local, recursive=True, exclude_files=["build"], timeout=T
    )
    remote = read_flat(layout.root / "project")
    assert not any(path == "build" or "build/" in path for path in remote)
    assert "sub/deep/z.log" in remote


def test_upload_files_excludes_with_a_slash_match_from_the_relative_directory(
    client: Client, layout: Layout
) -> None:
    project = layout.local / "project"
    make_local_project(project)
    (project / "sub" / "build").mkdir()
    (project / "sub" / "build" / "o").write_bytes(b"o")
    upload_files(
        client,
        "project",
        "/",
        layout.local,
        recursive=True,
        exclude_files=["project/build", "project/sub/*.txt"],
        timeout=T,
    )
    remote = read_flat(layout.root / "project")
    assert "build" not in remote
    assert "sub/y.txt" not in remote
    # The same names elsewhere are not excluded: the pattern is anchored at the top.
    assert remote["sub/build/o"] == b"o"
    assert remote["notes.txt"] == b"notes\n"
    assert remote["sub/x.log"] == b"x"


def test_upload_files_excludes_apply_to_glob_matches(client: Client, layout: Layout) -> None:
    make_local_project(layout.local)
    uploaded = upload_files(
        client,
        "**/*.log",
        "/",
        layout.local,
        recursive=True,
        exclude_files=["sub/deep/*", "app.*"],
        timeout=T,
    )
    assert uploaded == [str(layout.local / "sub" / "x.log")]
    assert read_flat(layout.root) == {"x.log": b"x"}


@pytest.mark.parametrize("source", ["missing.txt", "*.nothing", "sub/*.bin", "nope/*"])
def test_upload_files_raises_source_not_found_when_nothing_matches(
    client: Client, layout: Layout, source: str
) -> None:
    make_local_project(layout.local)
    with pytest.raises(SourceNotFound):
        upload_files(client, source, "/", layout.local, recursive=True, timeout=T)
    assert visible_entries(layout.root) == []


def test_upload_files_raises_source_not_found_for_a_missing_relative_directory(
    client: Client, layout: Layout
) -> None:
    with pytest.raises(SourceNotFound):
        upload_files(client, "*", "/", layout.local / "missing", timeout=T)


@pytest.mark.parametrize(
    ("source", "recursive"), [("notes.txt", False), ("*.txt", False), ("sub", True)]
)
def test_upload_files_raises_destination_not_found(
    client: Client, layout: Layout, source: str, recursive: bool
) -> None:
    make_local_project(layout.local)
    (layout.root / "file").write_bytes(b"")
    for destination in ("/missing", "/file", "/missing/deeper"):
        with pytest.raises(DestinationNotFound):
            upload_files(client, source, destination, layout.local, recursive=recursive, timeout=T)
    assert read_flat(layout.root) == {"file": b""}
    # The client is still usable after the refusals.
    upload_files(client, source, "/", layout.local, recursive=recursive, timeout=T)


# -- download_files -------------------------------------------------------------------


def make_remote_project(root: Path) -> None:
    """/data/{a.txt,b.txt,c.log,sub/{d.txt,skip.txt}}, /top.txt"""
    (root / "data" / "sub").mkdir(parents=True)
    (root / "data" / "a.txt").write_bytes(b"a")
    (root / "data" / "b.txt").write_bytes(b"bb" * 700)
    (root / "data" / "c.log").write_bytes(b"c")
    (root / "data" / "sub" / "d.txt").write_bytes(b"d")
    (root / "data" / "sub" / "skip.txt").write_bytes(b"skip")
    (root / "top.txt").write_bytes(b"top")


def test_download_files_one_file(client: Client, layout: Layout) -> None:
    make_remote_project(layout.root)
    recorder = ChunkRecorder()
    downloaded = download_files(
        client, "data/b.txt", layout.local, chunk_size=512, process_chunk=recorder, timeout=T
    )
    assert downloaded == ["/data/b.txt"]
    assert read_flat(layout.local) == {"b.txt": b"bb" * 700}
    assert [len(call[0]) for call in recorder.calls] == [512, 512, 376]


def test_download_files_absolute_source_ignores_the_relative_directory(
    client: Client, layout: Layout
) -> None:
    make_remote_project(layout.root)
    assert download_files(client, "/top.txt", layout.local, "/data", timeout=T) == ["/top.txt"]
    assert read_flat(layout.local) == {"top.txt": b"top"}


def test_download_files_relative_to_a_remote_directory(client: Client, layout: Layout) -> None:
    make_remote_project(layout.root)
    assert download_files(client, "sub/d.txt", layout.local, "/data", timeout=T) == [
        "/data/sub/d.txt"
    ]
    assert read_flat(layout.local) == {"d.txt": b"d"}


def test_download_files_glob_in_the_last_component(client: Client, layout: Layout) -> None:
    make_remote_project(layout.root)
    downloaded = download_files(client, "data/*.txt", layout.local, timeout=T)
    assert downloaded == ["/data/a.txt", "/data/b.txt"]
    assert read_flat(layout.local) == {"a.txt": b"a", "b.txt": b"bb" * 700}


def test_download_files_glob_relative_to_a_remote_directory(client: Client, layout: Layout) -> None:
    make_remote_project(layout.root)
    downloaded = download_files(client, "?.*", layout.local, "/data", timeout=T)
    assert downloaded == ["/data/a.txt", "/data/b.txt", "/data/c.log"]


def test_download_files_skips_directories_unless_recursive(client: Client, layout: Layout) -> None:
    make_remote_project(layout.root)
    assert download_files(client, "data", layout.local, timeout=T) == []
    assert download_files(client, "*", layout.local, "/data", timeout=T) == [
        "/data/a.txt",
        "/data/b.txt",
        "/data/c.log",
    ]
    assert "sub" not in os.listdir(layout.local)
    target = layout.local / "whole"
    target.mkdir()
    assert download_files(client, "data", target, recursive=True, timeout=T) == ["/data"]
    assert read_flat(target / "data") == read_flat(layout.root / "data")


def test_download_files_excludes_names_and_paths(client: Client, layout: Layout) -> None:
    make_remote_project(layout.root)
    downloaded = download_files(
        client,
        "data",
        layout.local,
        recursive=True,
        exclude_files=["*.log", "data/sub/skip.txt"],
        timeout=T,
    )
    assert downloaded == ["/data"]
    assert read_flat(layout.local / "data") == {
        "a.txt": b"a",
        "b.txt": b"bb" * 700,
        "sub": None,
        "sub/d.txt": b"d",
    }


def test_download_files_excludes_with_a_slash_match_from_the_relative_directory(
    client: Client, layout: Layout
) -> None:
    """Patterns with "/" are paths relative to ``relative_directory``, as for uploads."""
    make_remote_project(layout.root)
    downloaded = download_files(
        client, "data/*.txt", layout.local, exclude_files=["data/b.txt"], timeout=T
    )
    assert downloaded == ["/data/a.txt"]
    target = layout.local / "deeper"
    target.mkdir()
    downloaded = download_files(
        client,
        "sub",
        target,
        "/data",
        recursive=True,
        exclude_files=["sub/skip.txt", "skip.txt/never"],
        timeout=T,
    )
    assert downloaded == ["/data/sub"]
    assert read_flat(target) == {"sub": None, "sub/d.txt": b"d"}
    # An absolute source outside the relative directory is matched from the root.
    target = layout.local / "absolute"
    target.mkdir()
    downloaded = download_files(
        client, "/data/*.txt", target, "/elsewhere", exclude_files=["data/a.txt"], timeout=T
    )
    assert downloaded == ["/data/b.txt"]


@pytest.mark.parametrize("source", ["data/nothing", "data/*.bin", "missing/*.txt", "l*/a.txt"])
def test_download_files_raises_source_not_found(
    client: Client, layout: Layout, source: str
) -> None:
    make_remote_project(layout.root)
    with pytest.raises(SourceNotFound):
        download_files(client, source, layout.local, recursive=True, timeout=T)
    assert os.listdir(layout.local) == []
    assert download_files(client, "top.txt", layout.local, timeout=T) == ["/top.txt"]


def test_download_files_raises_destination_not_found(client: Client, layout: Layout) -> None:
    make_remote_project(layout.root)
    (layout.local / "file").write_bytes(b"")
    for destination in (layout.local / "missing", layout.local / "file"):
        with pytest.raises(DestinationNotFound):
            download_files(client, "data/a.txt", destination, timeout=T)
    assert os.listdir(layout.local) == ["file"]


# -- synchronization: explicit cases ---------------------------------------------------


def test_synchronize_upload_then_nothing_to_do(client: Client, layout: Layout) -> None:
    make_local_project(layout.local)
    client.make_directory("mirror", "/", timeout=T)
    recorder = ChunkRecorder()
    report = synchronize_upload(
        client, layout.local, "/mirror", chunk_size=512, process_chunk=recorder, timeout=T
    )
    assert read_flat(layout.root / "mirror") == read_flat(layout.local)
    assert report.created_directories == ["build", "sub", "sub/deep"]
    assert report.transferred == files_of(read_flat(layout.local))
    assert report.removed == report.unchanged == []
    assert report.bytes_transferred == len(recorder.data) == 6 + 900 + 5000 + 1 + 1 + 1025 + 4
    again = synchronize_upload(client, layout.local, "/mirror", timeout=T)
    assert again == SyncReport(unchanged=files_of(read_flat(layout.local)))


def test_synchronize_upload_keeps_extra_remote_entries_without_delete(
    client: Client, layout: Layout
) -> None:
    (layout.local / "new.txt").write_bytes(b"new")
    build(layout.root / "mirror", {"old.txt": b"old", "olddir": {"x": b"x"}})
    report = synchronize_upload(client, layout.local, "/mirror", timeout=T)
    assert report.removed == []
    assert read_flat(layout.root / "mirror") == {
        "new.txt": b"new",
        "old.txt": b"old",
        "olddir": None,
        "olddir/x": b"x",
    }
    report = synchronize_upload(client, layout.local, "/mirror", delete=True, timeout=T)
    assert report.removed == ["old.txt", "olddir"]
    assert read_flat(layout.root / "mirror") == {"new.txt": b"new"}


def test_synchronize_upload_compares_size_and_modification_time(
    client: Client, layout: Layout
) -> None:
    """Uploads keep the local modification time, so a copy is unchanged when size and
    time are equal, and replaced when either differs, even if the remote one is newer."""
    past = time.time_ns() - 60 * SECOND_NS
    build(layout.local, {"same.txt": b"local", "other.txt": b"local"}, past)
    build(layout.root / "mirror", {"same.txt": b"REMOT"}, past)
    build(layout.root / "mirror", {"other.txt": b"newer"}, past + SECOND_NS)
    report = synchronize_upload(client, layout.local, "/mirror", timeout=T)
    # Same size and time: taken as the same copy (the quick check rsync makes too).
    assert report.unchanged == ["same.txt"]
    assert report.transferred == ["other.txt"]
    assert (layout.root / "mirror" / "other.txt").read_bytes() == b"local"
    assert (layout.root / "mirror" / "other.txt").stat().st_mtime_ns == past
    os.utime(layout.local / "same.txt", ns=(past + 2 * SECOND_NS,) * 2)
    report = synchronize_upload(client, layout.local, "/mirror", timeout=T)
    assert report.transferred == ["same.txt"]
    assert read_flat(layout.root / "mirror") == read_flat(layout.local)


def test_synchronize_download_then_nothing_to_do(client: Client, layout: Layout) -> None:
    make_remote_project(layout.root)
    recorder = ChunkRecorder()
    report = synchronize_download(
        client, "/data", layout.local, chunk_size=512, process_chunk=recorder, timeout=T
    )
    assert read_flat(layout.local) == read_flat(layout.root / "data")
    assert report.created_directories == ["sub"]
    assert report.transferred == files_of(read_flat(layout.local))
    assert report.bytes_transferred == len(recorder.data) == 1 + 1400 + 1 + 1 + 4
    # Downloads keep the server's modification times: the next run finds nothing to do.
    for path in files_of(read_flat(layout.local)):
        local_mtime = (layout.local / path).stat().st_mtime_ns
        assert local_mtime == (layout.root / "data" / path).stat().st_mtime_ns
    again = synchronize_download(client, "/data", layout.local, delete=True, timeout=T)
    assert again == SyncReport(unchanged=files_of(read_flat(layout.local)))


def test_synchronize_download_replaces_a_changed_file_whole(client: Client, layout: Layout) -> None:
    past = time.time_ns() - 60 * SECOND_NS
    build(layout.root / "data", {"f.bin": b"new content"}, past)
    build(layout.local, {"f.bin": b"old"}, past - SECOND_NS)
    seen: list[bytes] = []

    def look_at_local_copy(*_arguments: Any) -> None:
        seen.append((layout.local / "f.bin").read_bytes())

    report = synchronize_download(
        client, "/data", layout.local, process_chunk=look_at_local_copy, timeout=T
    )
    assert report == SyncReport(transferred=["f.bin"], bytes_transferred=11, replaced=["f.bin"])
    assert seen == [b"old"]  # the old copy stays in place until the new one is whole
    assert read_flat(layout.local) == {"f.bin": b"new content"}


@pytest.mark.parametrize("delete", [False, True])
def test_synchronize_upload_type_conflicts(client: Client, layout: Layout, delete: bool) -> None:
    past = time.time_ns() - 60 * SECOND_NS
    build(layout.local, {"was-dir": b"now a file", "was-file": {"inner": b"i"}}, past)
    build(
        layout.root / "mirror",
        {"was-dir": {"deep": {"x": b"x"}, "y": b"y"}, "was-file": b"a file"},
        past - SECOND_NS,
    )
    report = synchronize_upload(client, layout.local, "/mirror", delete=delete, timeout=T)
    assert read_flat(layout.root / "mirror") == read_flat(layout.local)
    assert report.created_directories == ["was-file"]
    assert report.transferred == ["was-dir", "was-file/inner"]
    assert sorted(report.removed) == ["was-dir", "was-file"]
    assert synchronize_upload(client, layout.local, "/mirror", delete=True, timeout=T) == (
        SyncReport(unchanged=["was-dir", "was-file/inner"])
    )


@pytest.mark.parametrize("delete", [False, True])
def test_synchronize_download_type_conflicts(client: Client, layout: Layout, delete: bool) -> None:
    past = time.time_ns() - 60 * SECOND_NS
    build(layout.root / "data", {"was-dir": b"now a file", "was-file": {"inner": b"i"}}, past)
    build(
        layout.local,
        {"was-dir": {"deep": {"x": b"x"}, "y": b"y"}, "was-file": b"a file"},
        past - SECOND_NS,
    )
    report = synchronize_download(client, "/data", layout.local, delete=delete, timeout=T)
    assert read_flat(layout.local) == read_flat(layout.root / "data")
    assert report.created_directories == ["was-file"]
    assert report.transferred == ["was-dir", "was-file/inner"]
    assert sorted(report.removed) == ["was-dir", "was-file"]
    assert synchronize_download(client, "/data", layout.local, delete=True, timeout=T) == (
        SyncReport(unchanged=["was-dir", "was-file/inner"])
    )


def test_synchronize_upload_errors(client: Client, layout: Layout) -> None:
    (layout.root / "file").write_bytes(b"")
    (layout.local / "file").write_bytes(b"")
    with pytest.raises(SourceNotFound):
        synchronize_upload(client, layout.local / "missing", "/", timeout=T)
    with pytest.raises(SourceNotFound):
        synchronize_upload(client, layout.local / "file", "/", timeout=T)
    for destination in ("/file", "/missing/deeper", "/file/deeper"):
        with pytest.raises(DestinationNotFound):
            synchronize_upload(client, layout.local, destination, timeout=T)
    assert read_flat(layout.root) == {"file": b""}


def test_synchronize_upload_makes_a_missing_destination(client: Client, layout: Layout) -> None:
    make_local_project(layout.local)
    plan = synchronize_upload(client, layout.local, "/made", dry_run=True, timeout=T)
    assert visible_entries(layout.root) == []
    done = synchronize_upload(client, layout.local, "/made", timeout=T)
    assert done == dataclasses.replace(plan, dry_run=False)
    assert done.transferred == files_of(read_flat(layout.local))
    assert read_flat(layout.root / "made") == read_flat(layout.local)


def test_synchronize_download_errors(client: Client, layout: Layout) -> None:
    (layout.root / "file").write_bytes(b"")
    (layout.local / "file").write_bytes(b"")
    for source in ("/missing", "/file", "/missing/deeper"):
        with pytest.raises(SourceNotFound):
            synchronize_download(client, source, layout.local, timeout=T)
    for destination in (layout.local / "missing" / "deeper", layout.local / "file"):
        with pytest.raises(DestinationNotFound):
            synchronize_download(client, "/", destination, timeout=T)
    assert read_flat(layout.local) == {"file": b""}


def test_synchronize_download_makes_a_missing_destination(client: Client, layout: Layout) -> None:
    make_remote_project(layout.root)
    plan = synchronize_download(client, "/data", layout.local / "made", dry_run=True, timeout=T)
    assert os.listdir(layout.local) == []
    done = synchronize_download(client, "/data", layout.local / "made", timeout=T)
    assert done == dataclasses.replace(plan, dry_run=False)
    assert read_flat(layout.local / "made") == read_flat(layout.root / "data")


def test_seed_chapter_12_synchronizes_the_working_directory_to_the_root(
    client: Client, layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_local_project(layout.local)
    monkeypatch.chdir(layout.local)
    synchronize_upload(client, os.getcwd(), "/", timeout=T)
    assert read_flat(layout.root) == read_flat(layout.local)
    # The staging area under the root is the server's: a delete run never touches it.
    report = synchronize_upload(client, os.getcwd(), "/", delete=True, timeout=T)
    assert report.removed == report.transferred == []


def test_seed_section_1_6_round_trip(
    client: Client, layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``synchronize_upload('foo', 'bar')`` then ``synchronize_download('bar', 'foo')``."""
    make_local_project(layout.local / "foo")
    client.make_directory("bar", "/", timeout=T)
    monkeypatch.chdir(layout.local)
    synchronize_upload(client, "foo", "/bar", timeout=T)
    (layout.root / "bar" / "from-elsewhere.txt").write_bytes(b"remote side")
    report = synchronize_download(client, "/bar", "foo", timeout=T)
    assert report.transferred == ["from-elsewhere.txt"]
    assert read_flat(layout.local / "foo") == read_flat(layout.root / "bar")


# -- synchronization: random trees ------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c.txt", "d.tmp", "é ü", "L" * 240])
CONTENTS = st.sampled_from([b"", b"x", b"y", b"xy"]) | st.binary(max_size=1500)
TREES = st.dictionaries(
    NAMES,
    st.recursive(
        CONTENTS, lambda children: st.dictionaries(NAMES, children, max_size=3), max_leaves=8
    ),
    max_size=4,
)
EXAMPLES = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
EXAMPLE_NUMBERS = itertools.count()

Sync = Callable[..., SyncReport]


def sync_function(direction: str, source: Path, destination: Path, root: Path) -> Sync:
    """synchronize_upload or _download from ``source`` to ``destination``, both on disk
    (the remote one under the served ``root``), with its path arguments bound."""

    def remote(path: Path) -> str:
        return "/" + path.relative_to(root).as_posix()

    if direction == "upload":
        return lambda client, **options: synchronize_upload(
            client, source, remote(destination), **options
        )
    return lambda client, **options: synchronize_download(
        client, remote(source), destination, **options
    )


def sides(direction: str, layout: Layout) -> tuple[Path, Path]:
    """A fresh source and destination directory for one example."""
    number = next(EXAMPLE_NUMBERS)
    local, remote = layout.local / f"example-{number}", layout.root / f"example-{number}"
    return (local, remote) if direction == "upload" else (remote, local)


def planned_then_done(
    sync: Sync, client: Client, source: Path, destination: Path, **options: Any
) -> SyncReport:
    """A dry run that changes nothing, then the real run, which must follow its plan."""
    before = (snapshot(source), snapshot(destination))
    recorder = ChunkRecorder()
    plan = sync(client, dry_run=True, process_chunk=recorder, **options)
    assert (snapshot(source), snapshot(destination)) == before
    assert recorder.calls == []
    done = sync(client, chunk_size=512, process_chunk=recorder, **options)
    assert done == dataclasses.replace(plan, dry_run=False)
    assert len(recorder.data) == done.bytes_transferred
    return done


@pytest.mark.parametrize("direction", ["upload", "download"])
@EXAMPLES
@given(first=TREES, existing=TREES, second=TREES)
def test_synchronization_of_random_trees_converges(
    client: Client,
    layout: Layout,
    direction: str,
    first: dict[str, Node],
    existing: dict[str, Node],
    second: dict[str, Node],
) -> None:
    source, destination = sides(direction, layout)
    now = time.time_ns()
    build(source, first, now - 20 * SECOND_NS)
    build(destination, existing, now - 30 * SECOND_NS)  # older: every file differs
    sync = sync_function(direction, source, destination, layout.root)

    done = planned_then_done(sync, client, source, destination, delete=True, timeout=T)
    assert read_flat(destination) == flatten(first)
    model = expected_report(flatten(existing), flatten(first), set(flatten(first)), delete=True)
    assert normalized(done) == model
    assert sync(client, delete=True, timeout=T) == SyncReport(unchanged=files_of(flatten(first)))

    # The source changes: only what changed moves.
    morph(source, flatten(first), flatten(second))
    assert read_flat(source) == flatten(second)
    changed = {path for path, value in flatten(second).items() if flatten(first).get(path) != value}
    done = planned_then_done(sync, client, source, destination, delete=True, timeout=T)
    assert read_flat(destination) == flatten(second)
    model = expected_report(flatten(first), flatten(second), changed, delete=True)
    assert normalized(done) == model
    assert sync(client, delete=True, timeout=T) == SyncReport(unchanged=files_of(flatten(second)))


@pytest.mark.parametrize("direction", ["upload", "download"])
@EXAMPLES
@given(first=TREES, existing=TREES)
def test_synchronization_without_delete_keeps_what_only_the_destination_has(
    client: Client,
    layout: Layout,
    direction: str,
    first: dict[str, Node],
    existing: dict[str, Node],
) -> None:
    source, destination = sides(direction, layout)
    now = time.time_ns()
    build(source, first, now - 20 * SECOND_NS)
    build(destination, existing, now - 30 * SECOND_NS)
    sync = sync_function(direction, source, destination, layout.root)
    done = planned_then_done(sync, client, source, destination, timeout=T)
    model = expected_report(
        flatten(existing),
        flatten(first),
        set(flatten(first)),
        delete=False,
    )
    assert normalized(done) == model
    result, wanted, had = read_flat(destination), flatten(first), flatten(existing)
    for path, value in wanted.items():
        assert result[path] == value
    for path, value in had.items():
        # What only the destination had stays, unless something of the source replaced
        # it or an ancestor of it.
        replaced = any(parent in wanted for parent in (*ancestors(path), path))
        if not replaced:
            assert result[path] == value


EXCLUDES = st.lists(
    st.sampled_from(["*.tmp", "b", "a/b", "a/*", "c.txt", "é*", "*/a"]), max_size=2, unique=True
)


def is_excluded(path: str, patterns: list[str]) -> bool:
    """An entry is excluded if it, or a directory it is in, matches a pattern: by name
    for a pattern without "/", by path from the top for one with "/"."""
    parts = path.split("/")
    for end in range(1, len(parts) + 1):
        prefix, name = "/".join(parts[:end]), parts[end - 1]
        for pattern in patterns:
            if fnmatch.fnmatchcase(prefix if "/" in pattern else name, pattern):
                return True
    return False


@pytest.mark.parametrize("direction", ["upload", "download"])
@EXAMPLES
@given(first=TREES, existing=TREES, patterns=EXCLUDES)
def test_synchronization_leaves_excluded_entries_alone(
    client: Client,
    layout: Layout,
    direction: str,
    first: dict[str, Node],
    existing: dict[str, Node],
    patterns: list[str],
) -> None:
    source, destination = sides(direction, layout)
    now = time.time_ns()
    build(source, first, now - 20 * SECOND_NS)
    build(destination, existing, now - 30 * SECOND_NS)
    sync = sync_function(direction, source, destination, layout.root)
    source_before, destination_before = snapshot(source), snapshot(destination)

    done = planned_then_done(
        sync, client, source, destination, delete=True, exclude_files=patterns, timeout=T
    )
    assert snapshot(source) == source_before
    result = read_flat(destination)
    kept = {path: value for path, value in result.items() if is_excluded(path, patterns)}
    assert kept == {
        path: value
        for path, (value, _mtime) in destination_before.items()
        if is_excluded(path, patterns)
    }
    # A directory holding excluded entries stays, whatever the source has there; the
    # rest of the destination is the source's, excluded entries left out.
    holding = {parent for path in kept for parent in ancestors(path)}
    wanted = {
        path: value for path, value in flatten(first).items() if not is_excluded(path, patterns)
    }
    for path, value in wanted.items():
        if path in holding and value is not None:
            # A file of the source where the destination holds excluded entries: skipped.
            assert result[path] is None
            assert path in done.skipped
        else:
            assert result[path] == value
            assert path not in done.skipped
    for path in set(result) - set(kept) - set(wanted):
        assert path in holding
    for path in done.transferred + done.created_directories + done.removed:
        assert not is_excluded(path, patterns)
    again = sync(client, delete=True, exclude_files=patterns, timeout=T)
    assert again.transferred == again.removed == again.created_directories == []


def test_synchronize_download_replaces_a_changed_file_with_the_longest_name(
    client: Client, layout: Layout
) -> None:
    name = "n" * 255  # the longest valid name: no room to add anything to it
    past = time.time_ns() - 60 * SECOND_NS
    build(layout.root / "data", {name: b"new content", "d": {name: b"deeper"}}, past)
    build(layout.local, {name: b"old", "d": {name: b"older"}}, past - SECOND_NS)
    report = synchronize_download(client, "/data", layout.local, delete=True, timeout=T)
    assert report.transferred == [f"d/{name}", name]
    assert read_flat(layout.local) == read_flat(layout.root / "data")
