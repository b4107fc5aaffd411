"""RemofileFileSystem beyond fsspec's abstract suite: URLs and settings, the protocol's
own operations (server-side copy and move, digests), readers sharing one session, atomic
writes, whole trees, and pandas reading and writing CSV and Parquet through remofile://.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest
from client_harness import TOKEN, Layout, RunningServer, random_bytes, tree
from remofile.client.filesystem import RemofileFileSystem


@pytest.fixture
def fs(served: RunningServer) -> Iterator[RemofileFileSystem]:
    filesystem = RemofileFileSystem(host=served.endpoint, token=TOKEN, timeout=10_000)
    yield filesystem
    filesystem.close_session()


@pytest.fixture
def tcp_url(served: RunningServer) -> str:
    """``remofile://127.0.0.1:PORT`` for the served root."""
    return "remofile://" + served.endpoint.removeprefix("tcp://")


# -- finding the server ------------------------------------------------------------------


def test_protocol_is_registered_by_the_entry_point() -> None:
    assert fsspec.get_filesystem_class("remofile") is RemofileFileSystem


def test_url_gives_host_and_port_and_options_the_token(layout: Layout, tcp_url: str) -> None:
    (layout.root / "hello.txt").write_bytes(b"hello")
    with fsspec.open(f"{tcp_url}/hello.txt", "rb", token=TOKEN) as file:
        assert file.read() == b"hello"
    filesystem, path = fsspec.core.url_to_fs(f"{tcp_url}/hello.txt", token=TOKEN)
    assert isinstance(filesystem, RemofileFileSystem)
    assert path == "/hello.txt"
    filesystem.close_session()


def test_settings_come_from_the_environment(
    layout: Layout, served: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    host, port = served.endpoint.removeprefix("tcp://").rsplit(":", 1)
    monkeypatch.setenv("REMOFILE_SERVER", f"{host}:{port}")
    monkeypatch.setenv("REMOFILE_TOKEN", TOKEN)
    monkeypatch.setenv("REMOFILE_TIMEOUT", "5000")
    (layout.root / "a.txt").write_bytes(b"A")
    filesystem = fsspec.filesystem("remofile", skip_instance_cache=True)
    assert filesystem.settings.port == int(port)
    assert filesystem.settings.timeout_ms == 5000
    assert filesystem.cat("/a.txt") == b"A"
    filesystem.close_session()


def test_missing_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REMOFILE_HOSTNAME", "REMOFILE_SERVER", "REMOFILE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="REMOFILE_HOSTNAME"):
        RemofileFileSystem(token=TOKEN, skip_instance_cache=True)
    with pytest.raises(ValueError, match="REMOFILE_TOKEN"):
        RemofileFileSystem(host="127.0.0.1", skip_instance_cache=True)


# -- listing -------------------------------------------------------------------------------


def test_ls_info_find_glob_walk_du(layout: Layout, fs: RemofileFileSystem) -> None:
    (layout.root / "d" / "e").mkdir(parents=True)
    (layout.root / "d" / "x.csv").write_bytes(b"12345")
    (layout.root / "d" / "e" / "y.csv").write_bytes(b"123")
    (layout.root / "top.txt").write_bytes(b"")
    assert sorted(fs.ls("/", detail=False)) == ["/d", "/top.txt"]
    info = fs.info("/d/x.csv")
    assert info["type"] == "file"
    assert info["size"] == 5
    assert fs.info("/d")["type"] == "directory"
    assert fs.ls("/d/x.csv", detail=False) == ["/d/x.csv"]
    assert fs.find("/d") == ["/d/e/y.csv", "/d/x.csv"]
    assert fs.find("/d", withdirs=True) == ["/d", "/d/e", "/d/e/y.csv", "/d/x.csv"]
    assert fs.find("/d", maxdepth=1) == ["/d/x.csv"]
    assert fs.glob("/d/**/*.csv") == ["/d/e/y.csv", "/d/x.csv"]
    assert [(top, sorted(files)) for top, _, files in fs.walk("/d")] == [
        ("/d", ["x.csv"]),
        ("/d/e", ["y.csv"]),
    ]
    assert fs.du("/d") == 8
    assert fs.modified("/d/x.csv").timestamp() == pytest.approx(
        (layout.root / "d" / "x.csv").stat().st_mtime, abs=1e-3
    )
    with pytest.raises(FileNotFoundError):
        fs.info("/nothing")
    with pytest.raises(NotImplementedError, match="creation time"):
        fs.created("/d/x.csv")


# -- reading -------------------------------------------------------------------------------


def test_reads_seek_anywhere_and_stream_the_rest(layout: Layout, fs: RemofileFileSystem) -> None:
    data = random_bytes(3 * 1024 * 1024 + 17, seed=4)
    (layout.root / "big.bin").write_bytes(data)
    with fs.open("/big.bin", "rb") as file:
        assert file.size == len(data)
        for offset in (2_000_000, 5, len(data) - 3, 1_048_576):
            file.seek(offset)
            assert file.read(4096) == data[offset : offset + 4096]
        file.seek(100)
        assert file.read() == data[100:]
    assert fs.cat_file("/big.bin", start=-10) == data[-10:]
    assert fs.cat_file("/big.bin", start=10, end=20) == data[10:20]


def test_readers_and_other_requests_share_the_one_session(
    layout: Layout, fs: RemofileFileSystem
) -> None:
    first, second = random_bytes(1_500_000, 1), random_bytes(1_200_000, 2)
    (layout.root / "one").write_bytes(first)
    (layout.root / "two").write_bytes(second)
    with (
        fs.open("/one", "rb", block_size=65536) as one,
        fs.open("/two", "rb", block_size=4096) as two,
    ):
        got_one, got_two = io.BytesIO(), io.BytesIO()
        while True:
            a, b = one.read(100_000), two.read(70_000)
            fs.ls("/")  # a request between reads suspends whichever reader holds the session
            got_one.write(a)
            got_two.write(b)
            if not a and not b:
                break
    assert got_one.getvalue() == first
    assert got_two.getvalue() == second


def test_open_files_go_on_after_the_session_is_closed(
    layout: Layout, fs: RemofileFileSystem
) -> None:
    data = random_bytes(2_000_000, 5)
    (layout.root / "f.bin").write_bytes(data)
    with fs.open("/f.bin", "rb") as reader, fs.open("/g.bin", "wb") as writer:
        first = reader.read(700_000)
        writer.write(b"written before")
        fs.close_session()  # the server is free for others meanwhile
        writer.write(b" and after")
        assert first + reader.read() == data
    assert fs.cat("/g.bin") == b"written before and after"


def test_text_mode_and_compression(layout: Layout, fs: RemofileFileSystem) -> None:
    # OpenFile, what fsspec.open() returns, closes the compressor and the remote file.
    with fsspec.core.OpenFile(fs, "/notes.txt.gz", "wt", compression="gzip") as file:
        file.write("línea\n" * 1000)
    assert (layout.root / "notes.txt.gz").read_bytes()[:2] == b"\x1f\x8b"
    with fsspec.core.OpenFile(fs, "/notes.txt.gz", "rt", compression="gzip") as file:
        assert file.read() == "línea\n" * 1000


def test_missing_file_and_directory_open_errors(fs: RemofileFileSystem) -> None:
    fs.mkdir("/dir")
    with pytest.raises(FileNotFoundError):
        fs.open("/missing", "rb")
    with pytest.raises(IsADirectoryError):
        fs.open("/dir", "rb")
    with pytest.raises(ValueError, match="unsupported mode"):
        fs.open("/dir/x", "ab")


# -- writing -------------------------------------------------------------------------------


def test_a_write_is_published_whole_on_close_and_not_at_all_on_error(
    layout: Layout, fs: RemofileFileSystem
) -> None:
    fs.pipe_file("/data.bin", b"old")
    with fs.open("/data.bin", "wb") as file:
        file.write(b"new " * 1000)
        assert (layout.root / "data.bin").read_bytes() == b"old"  # nothing seen before close
    assert fs.cat("/data.bin") == b"new " * 1000
    with pytest.raises(RuntimeError, match="the writer fails"):
        write_and_fail(fs, "/data.bin")
    assert fs.cat("/data.bin") == b"new " * 1000
    with pytest.raises(FileExistsError):
        fs.open("/data.bin", "xb")
    fs.pipe_file("/deep/er/file", b"x")  # missing directories are made
    assert fs.isdir("/deep/er")


def write_and_fail(fs: RemofileFileSystem, path: str) -> None:
    with fs.open(path, "wb") as file:
        file.write(b"half")
        raise RuntimeError("the writer fails")


# -- the server's own operations ---------------------------------------------------------


def test_cp_file_copies_on_the_server_and_mv_renames(
    layout: Layout, fs: RemofileFileSystem
) -> None:
    data = random_bytes(300_000, 7)
    fs.pipe_file("/a/source.bin", data)
    fs.cp_file("/a/source.bin", "/b/copy.bin")
    assert (layout.root / "b" / "copy.bin").read_bytes() == data
    fs.pipe_file("/b/copy.bin", b"to be replaced")
    fs.copy("/a/source.bin", "/b/copy.bin")
    assert fs.cat("/b/copy.bin") == data
    fs.mv("/b/copy.bin", "/a/moved.bin")
    assert not fs.exists("/b/copy.bin")
    assert fs.cat("/a/moved.bin") == data
    fs.mv("/a", "/b", recursive=True)  # into an existing directory, as cp and mv do
    assert sorted(fs.ls("/b", detail=False)) == ["/b/a"]
    fs.mv("/b/a", "/c", recursive=True)
    assert sorted(fs.ls("/c", detail=False)) == ["/c/moved.bin", "/c/source.bin"]


def test_checksum_and_ukey_come_from_the_servers_digest(
    layout: Layout, fs: RemofileFileSystem
) -> None:
    data = random_bytes(2_000_000, 9)
    fs.pipe_file("/f.bin", data)
    key = fs.ukey("/f.bin")
    algorithm = fs.client.file_digest("/f.bin").algorithm
    expected = hashlib.sha256(data).hexdigest() if algorithm == "sha256" else None
    if expected is not None:
        assert key == expected
    assert fs.checksum("/f.bin") == int(key, 16)
    fs.pipe_file("/f.bin", data[:-1] + b"!")
    assert fs.ukey("/f.bin") != key


def test_rm_removes_a_tree_in_one_request(layout: Layout, fs: RemofileFileSystem) -> None:
    fs.pipe({"/t/a": b"1", "/t/u/b": b"2", "/t/u/v/c": b"3"})
    with pytest.raises((IsADirectoryError, OSError)):
        fs.rmdir("/t")
    fs.rm("/t", recursive=True)
    assert not fs.exists("/t")


def test_put_and_get_move_trees_in_one_pipelined_transfer(
    layout: Layout, fs: RemofileFileSystem, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    (source / "sub" / "deeper").mkdir(parents=True)
    for index in range(60):
        (source / "sub" / f"small-{index}.txt").write_text(f"file {index}\n")
    (source / "sub" / "deeper" / "big.bin").write_bytes(random_bytes(2_500_000, 3))
    (source / "empty").mkdir()
    fs.put(str(source), "/up", recursive=True)
    assert tree(layout.root / "up") == tree(source)
    fs.put(str(source / "sub" / "small-1.txt"), "/up/sub/small-2.txt")  # replaces
    assert (layout.root / "up" / "sub" / "small-2.txt").read_text() == "file 1\n"
    fs.get("/up", str(tmp_path / "down"), recursive=True)
    assert tree(tmp_path / "down") == tree(layout.root / "up")
    fs.get("/up/sub/small-3.txt", str(tmp_path / "one.txt"))
    assert (tmp_path / "one.txt").read_text() == "file 3\n"


# -- pandas ----------------------------------------------------------------------------------


def test_pandas_reads_and_writes_csv_and_parquet_through_urls(layout: Layout, tcp_url: str) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    options = {"token": TOKEN}
    frame = pd.DataFrame({"name": ["a", "b", "c"], "value": [1.5, 2.5, 4.0]})
    frame.to_csv(f"{tcp_url}/tables/t.csv", index=False, storage_options=options)
    assert (layout.root / "tables" / "t.csv").read_text().splitlines()[0] == "name,value"
    pd.testing.assert_frame_equal(
        pd.read_csv(f"{tcp_url}/tables/t.csv", storage_options=options), frame
    )
    frame.to_parquet(f"{tcp_url}/tables/t.parquet", storage_options=options)
    assert (layout.root / "tables" / "t.parquet").read_bytes()[:4] == b"PAR1"
    pd.testing.assert_frame_equal(
        pd.read_parquet(f"{tcp_url}/tables/t.parquet", storage_options=options), frame
    )
    RemofileFileSystem(
        host=tcp_url.removeprefix("remofile://").rsplit(":", 1)[0],
        port=int(tcp_url.rsplit(":", 1)[1]),
        token=TOKEN,
    ).close_session()


def test_a_forked_child_uses_a_client_of_its_own(layout: Layout, fs: RemofileFileSystem) -> None:
    (layout.root / "a.txt").write_bytes(b"parent and child")
    assert fs.cat("/a.txt") == b"parent and child"  # the parent's session is open
    fs.close_session()  # one client at a time: the parent lets the child in
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.write(writer, fs.cat("/a.txt"))
            fs.close_session()
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        assert pipe.read() == b"parent and child"
    assert os.waitpid(child, 0)[1] == 0
    assert fs.cat("/a.txt") == b"parent and child"  # the parent's client still works
