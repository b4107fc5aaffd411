"""fsspec's own abstract test suite (fsspec.tests.abstract), against a live server.

The suites are the contract every fsspec filesystem is held to: copy, get, put, open and
pipe, each case run on a real server in a thread serving a temporary directory.
"""

from __future__ import annotations

import itertools
import posixpath
from collections.abc import Callable, Iterator

import fsspec.tests.abstract as abstract
import pytest
from client_harness import TOKEN, RunningServer, serve_in_thread
from remofile.client.filesystem import RemofileFileSystem

_counter = itertools.count()


@pytest.fixture(scope="module")
def remofile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("served")
    with serve_in_thread(root) as running:
        yield running


class RemofileFixtures(abstract.AbstractFixtures):  # type: ignore[misc]
    @pytest.fixture
    def fs(self, remofile_server: RunningServer) -> Iterator[RemofileFileSystem]:
        filesystem = RemofileFileSystem(host=remofile_server.endpoint, token=TOKEN, timeout=10_000)
        yield filesystem
        filesystem.close_session()

    @pytest.fixture
    def fs_join(self) -> Callable[..., str]:
        return posixpath.join

    @pytest.fixture
    def fs_path(self, fs: RemofileFileSystem) -> str:
        # Each test gets its own empty directory of the served root.
        path = f"/case-{next(_counter)}"
        fs.mkdir(path)
        return path

    @pytest.fixture
    def supports_empty_directories(self) -> bool:
        return True


class TestRemofileCopy(abstract.AbstractCopyTests, RemofileFixtures):  # type: ignore[misc]
    pass


class TestRemofileGet(abstract.AbstractGetTests, RemofileFixtures):  # type: ignore[misc]
    pass


class TestRemofilePut(abstract.AbstractPutTests, RemofileFixtures):  # type: ignore[misc]
    pass


class TestRemofileOpen(abstract.AbstractOpenTests, RemofileFixtures):  # type: ignore[misc]
    pass


class TestRemofilePipe(abstract.AbstractPipeTests, RemofileFixtures):  # type: ignore[misc]
    pass
