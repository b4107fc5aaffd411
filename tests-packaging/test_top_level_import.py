"""``from remofile import ...`` with every distribution installed (this environment's
editable installs): the seed's single import gives every name, the same objects as the
packages', and the packages themselves still import from their own folders."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import remofile

REPOSITORY = Path(__file__).resolve().parents[1]


def test_every_name_of_the_seed_api_imports_from_the_top_level() -> None:
    from remofile import (  # the seed's own examples
        Client,
        RemofileException,
        Server,
        download_files,
        generate_keys,
        generate_token,
        synchronize_download,
        synchronize_upload,
        upload_files,
    )
    from remofile.client import Client as PackageClient
    from remofile.server import Server as PackageServer

    assert Client is PackageClient
    assert Server is PackageServer
    assert issubclass(RemofileException, Exception)
    assert all(
        callable(function)
        for function in (
            download_files,
            generate_keys,
            generate_token,
            synchronize_download,
            synchronize_upload,
            upload_files,
        )
    )
    for name, package in remofile.EXPORTS.items():
        assert getattr(remofile, name) is getattr(importlib.import_module(package), name)


def test_star_import_gives_every_name() -> None:
    namespace: dict[str, object] = {}
    exec("from remofile import *", namespace)
    assert set(remofile.EXPORTS) <= set(namespace)


def test_an_unknown_name_is_an_attribute_error_and_submodules_still_import() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        remofile.Nothing  # noqa: B018
    with pytest.raises(ImportError, match="cannot import name 'Nothing'"):
        exec("from remofile import Nothing", {})
    from remofile import cli, client, server

    assert client.Client is remofile.Client
    assert server.__name__ == "remofile.server"
    assert cli.__name__ == "remofile.cli"


def test_the_package_spans_every_source_folder() -> None:
    folders = {Path(folder).resolve() for folder in remofile.__path__}
    for distribution in ("remofile-core", "remofile-client", "remofile-server", "remofile-cli"):
        assert REPOSITORY / distribution / "src" / "remofile" in folders


def test_the_top_level_imports_nothing_until_a_name_is_used() -> None:
    script = (
        "import sys, remofile; "
        "assert 'remofile.client' not in sys.modules and 'remofile.server' not in sys.modules; "
        "remofile.Client; assert 'remofile.client' in sys.modules; "
        "assert 'remofile.server' not in sys.modules; print('ok')"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert output.stdout.strip() == "ok"
