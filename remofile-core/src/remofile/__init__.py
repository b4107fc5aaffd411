"""Remofile: ``from remofile import Client, Server, synchronize_upload, generate_token``.

``remofile`` is shared by the distributions remofile-core, remofile-client,
remofile-server, remofile-cli and remofile-conformance, each installable alone. This
file, shipped by remofile-core (which all the others require), makes the top level a
package that still spans every installed distribution: ``__path__`` is extended over
every ``remofile`` folder on ``sys.path`` (pkgutil style), so ``remofile.client`` and
``remofile.server`` import from wherever they are installed, editable installs
included.

The names of the seed's API ("all classes, functions and exceptions are accessible from
a single import of the remofile package") are re-exported lazily: ``remofile.Client``
imports ``remofile.client`` on first use, and a name whose distribution is not
installed raises an ImportError that says which one to install.
"""

# ruff: noqa: F401 (the imports under TYPE_CHECKING tell type checkers the lazy names)

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

# The canonical pkgutil-style line, as documentation tools (griffe) recognise it.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

if TYPE_CHECKING:
    from remofile.client import (
        Client,
        FileDigest,
        FileMetadata,
        SyncReport,
        download_files,
        synchronize_download,
        synchronize_upload,
        upload_files,
    )
    from remofile.client.filesystem import RemofileFileSystem
    from remofile.core import (
        AccessDeniedError,
        BadRequestError,
        ChunkSizeError,
        CorruptedResponse,
        DestinationNotFound,
        DigestMismatchError,
        FileNameError,
        FileSizeError,
        InvalidDestinationError,
        RemofileException,
        ServerBusyError,
        SessionExpiredError,
        SourceNotFound,
        UnexpectedError,
        UnsupportedError,
        generate_keys,
        generate_token,
        is_file_name_valid,
    )
    from remofile.server import LocalStorage, Server, Storage

#: The distribution that provides each package whose names are re-exported.
DISTRIBUTIONS = {
    "remofile.core": "remofile-core",
    "remofile.client": "remofile-client",
    "remofile.client.filesystem": "'remofile-client[fsspec]'",
    "remofile.server": "remofile-server",
}

#: Third-party packages a re-exporting package needs beyond its distribution's own.
EXTRAS = {"remofile.client.filesystem": ("fsspec",)}

#: Each re-exported name and the package it comes from.
EXPORTS: dict[str, str] = {
    **dict.fromkeys(
        (
            "AccessDeniedError",
            "BadRequestError",
            "ChunkSizeError",
            "CorruptedResponse",
            "DestinationNotFound",
            "DigestMismatchError",
            "FileNameError",
            "FileSizeError",
            "InvalidDestinationError",
            "RemofileException",
            "ServerBusyError",
            "SessionExpiredError",
            "SourceNotFound",
            "UnexpectedError",
            "UnsupportedError",
            "generate_keys",
            "generate_token",
            "is_file_name_valid",
        ),
        "remofile.core",
    ),
    **dict.fromkeys(
        (
            "Client",
            "FileDigest",
            "FileMetadata",
            "SyncReport",
            "download_files",
            "synchronize_download",
            "synchronize_upload",
            "upload_files",
        ),
        "remofile.client",
    ),
    "RemofileFileSystem": "remofile.client.filesystem",
    **dict.fromkeys(("LocalStorage", "Server", "Storage"), "remofile.server"),
}


def _installed(package: str) -> bool:
    for name in (package, *EXTRAS.get(package, ())):
        try:
            if importlib.util.find_spec(name) is None:
                return False
        except ModuleNotFoundError:
            return False
    return True


def __getattr__(name: str) -> Any:
    if name == "__all__":
        # ``from remofile import *`` takes what the installed distributions provide.
        return sorted(n for n, package in EXPORTS.items() if _installed(package))
    package = EXPORTS.get(name)
    if package is None:
        raise AttributeError(f"module 'remofile' has no attribute {name!r}")
    if not _installed(package):
        distribution = DISTRIBUTIONS[package]
        raise ImportError(
            f"remofile.{name} comes from {package}, which is not installed: "
            f"pip install {distribution}",
            name=package,
        )
    value = getattr(importlib.import_module(package), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *EXPORTS})
