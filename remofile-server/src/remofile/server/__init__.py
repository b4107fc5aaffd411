"""The Remofile server: ``from remofile.server import Server``."""

from remofile.server.server import Server
from remofile.server.storage import (
    EntryInfo,
    FileInfo,
    FileReader,
    LocalStorage,
    Removal,
    Storage,
    UploadTarget,
)

__all__ = [
    "EntryInfo",
    "FileInfo",
    "FileReader",
    "LocalStorage",
    "Removal",
    "Server",
    "Storage",
    "UploadTarget",
]
