"""From protocol reasons to the exceptions the API documents, in one table.

Most reasons map to the same exception whatever the request (REASON_EXCEPTIONS). A few
mean something more precise for a transfer, where the seed API promises
SourceNotFound and DestinationNotFound: those are the per-operation overrides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from remofile.core.exceptions import (
    AccessDeniedError,
    BadRequestError,
    ChunkSizeError,
    DestinationNotFound,
    DigestMismatchError,
    FileNameError,
    FileSizeError,
    InsufficientStorageError,
    InvalidDestinationError,
    RemovalIncompleteError,
    ServerBusyError,
    SessionExpiredError,
    SourceNotFound,
    UnexpectedError,
    UnsupportedError,
)
from remofile.v1 import remofile_pb2 as pb

ExceptionFactory = Callable[[str], Exception]

#: The exception for each REFUSED or ERROR reason, whatever the request.
REASON_EXCEPTIONS: Mapping[int, ExceptionFactory] = {
    pb.REASON_INVALID_FILE_NAME: FileNameError,
    pb.REASON_FILE_NOT_FOUND: FileNotFoundError,
    pb.REASON_FILE_ALREADY_EXISTS: FileExistsError,
    pb.REASON_NOT_A_FILE: IsADirectoryError,
    pb.REASON_NOT_A_DIRECTORY: NotADirectoryError,
    pb.REASON_INCORRECT_FILE_SIZE: FileSizeError,
    pb.REASON_INCORRECT_CHUNK_SIZE: ChunkSizeError,
    pb.REASON_DIGEST_MISMATCH: DigestMismatchError,
    pb.REASON_SERVER_BUSY: ServerBusyError,
    pb.REASON_ACCESS_DENIED: AccessDeniedError,
    pb.REASON_SESSION_EXPIRED: SessionExpiredError,
    pb.REASON_UNSUPPORTED_VERSION: UnsupportedError,
    pb.REASON_UNSUPPORTED_FEATURE: UnsupportedError,
    pb.REASON_BAD_REQUEST: BadRequestError,
    pb.REASON_UNKNOWN_ERROR: UnexpectedError,
    pb.REASON_INVALID_DESTINATION: InvalidDestinationError,
    pb.REASON_INSUFFICIENT_STORAGE: InsufficientStorageError,
    pb.REASON_REMOVAL_INCOMPLETE: RemovalIncompleteError,
}

#: Overrides for the requests that start transfers (the seed's upload/download contract).
OPERATION_EXCEPTIONS: Mapping[str, Mapping[int, ExceptionFactory]] = {
    "upload_file": {
        pb.REASON_FILE_NOT_FOUND: DestinationNotFound,
        pb.REASON_NOT_A_DIRECTORY: DestinationNotFound,
    },
    "upload_directory": {
        pb.REASON_FILE_NOT_FOUND: DestinationNotFound,
        pb.REASON_NOT_A_DIRECTORY: DestinationNotFound,
    },
    "download_file": {
        pb.REASON_FILE_NOT_FOUND: SourceNotFound,
        pb.REASON_NOT_A_FILE: SourceNotFound,
    },
}


def exception_for(request_kind: str, response: pb.Response) -> Exception:
    """The exception to raise for a REFUSED or ERROR response to ``request_kind``."""
    factory = OPERATION_EXCEPTIONS.get(request_kind, {}).get(response.reason) or (
        REASON_EXCEPTIONS.get(response.reason)
    )
    message = response.message or pb.Reason.Name(response.reason)
    if factory is None:
        return UnexpectedError(f"unexpected reason {response.reason}: {message}")
    return factory(message)
