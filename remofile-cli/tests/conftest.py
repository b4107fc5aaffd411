"""Fixtures of the CLI tests: one real `remofile run` server per module, clean settings.

The helpers live in cli_support.py; test modules are imported by path
(--import-mode=importlib), so its folder is put on sys.path here.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_support import ServerProcess, start_server

_counter = itertools.count()


@pytest.fixture(autouse=True)
def no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No REMOFILE_* setting, config file or kept token of the developer's leaks into a
    test, and no test writes into the developer's ~/.config or ~/.local/state."""
    for key in list(os.environ):
        if key.startswith("REMOFILE_"):
            monkeypatch.delenv(key)
    homes = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(homes / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(homes / "state"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A `remofile run` process shared by the tests of a module; each works in its own
    remote sub-directory (see ``remote``)."""
    running = start_server(tmp_path_factory.mktemp("served"))
    try:
        yield running
    finally:
        status = running.stop()
        assert status == 0, "\n".join(running.stderr.lines)


@pytest.fixture
def remote(server: ServerProcess, request: pytest.FixtureRequest) -> str:
    """A fresh remote directory for this test, as an absolute remote path."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")[:80]
    name = f"{name}-{next(_counter)}"
    (server.root / name).mkdir()
    return "/" + name


@pytest.fixture
def env(server: ServerProcess) -> dict[str, str]:
    """The client settings of the module's server."""
    return server.env


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own empty working directory (for CliRunner and subprocesses)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work
