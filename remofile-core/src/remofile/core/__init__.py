"""What the Remofile client and server share: exceptions, helpers, and the protocol.

``from remofile.core import generate_token, RemofileException`` and friends; the
generated messages live in :mod:`remofile.v1.remofile_pb2`.
"""

from remofile.core.credentials import generate_keys, generate_token
from remofile.core.exceptions import (
    AccessDeniedError,
    BadRequestError,
    ChunkSizeError,
    CorruptedResponse,
    DestinationNotFound,
    DigestMismatchError,
    FileNameError,
    FileSizeError,
    InsufficientStorageError,
    InvalidDestinationError,
    RemofileException,
    RemovalIncompleteError,
    ServerBusyError,
    SessionExpiredError,
    SourceNotFound,
    UnexpectedError,
    UnsupportedError,
)
from remofile.core.names import is_file_name_valid

__all__ = [
    "AccessDeniedError",
    "BadRequestError",
    "ChunkSizeError",
    "CorruptedResponse",
    "DestinationNotFound",
    "DigestMismatchError",
    "FileNameError",
    "FileSizeError",
    "InsufficientStorageError",
    "InvalidDestinationError",
    "RemofileException",
    "RemovalIncompleteError",
    "ServerBusyError",
    "SessionExpiredError",
    "SourceNotFound",
    "UnexpectedError",
    "UnsupportedError",
    "generate_keys",
    "generate_token",
    "is_file_name_valid",
]
