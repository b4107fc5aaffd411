"""The Remofile client: ``from remofile.client import Client``."""

from remofile.client.client import Client, FileMetadata

__all__ = ["Client", "FileMetadata"]
