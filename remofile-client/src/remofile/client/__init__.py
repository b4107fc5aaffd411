"""The Remofile client: ``from remofile.client import Client``."""

from remofile.client.algorithms import (
    SyncReport,
    download_files,
    synchronize_download,
    synchronize_upload,
    upload_files,
)
from remofile.client.client import Client
from remofile.client.session import FileDigest, FileMetadata

__all__ = [
    "Client",
    "FileDigest",
    "FileMetadata",
    "SyncReport",
    "download_files",
    "synchronize_download",
    "synchronize_upload",
    "upload_files",
]
