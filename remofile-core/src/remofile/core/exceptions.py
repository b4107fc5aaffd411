"""The exceptions of the Remofile API (the seed API reference, section 2.4).

Remofile-related exceptions derive from RemofileException. File system conditions a
caller already knows how to handle (FileNotFoundError, FileExistsError,
NotADirectoryError, TimeoutError...) are raised as the built-in exceptions.
"""

from __future__ import annotations


class RemofileException(Exception):
    """Base exception for Remofile-related exceptions."""


class SourceNotFound(RemofileException):
    """Source is not found: it does not exist, or is not a file or a directory as the
    operation requires. Raised by upload, download and synchronize functions."""


class DestinationNotFound(RemofileException):
    """Destination is not found: the destination directory does not exist or is not a
    directory. Raised by upload, download and synchronize functions."""


class FileNameError(RemofileException):
    """File name is invalid as stated by the Remofile protocol (SPEC.md section 4.4)."""


class BadRequestError(RemofileException):
    """The server answered ERROR BAD_REQUEST: the request broke the protocol, for
    instance because the server was not in a state to handle it."""


class UnexpectedError(RemofileException):
    """The server answered ERROR UNKNOWN_ERROR: it failed to fulfil the request.

    :ivar message: the server's description of the failure.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CorruptedResponse(RemofileException):
    """A response could not be processed: not a Response, an unexpected type or reason,
    or a payload that does not fit the request.

    :ivar message: how the response is corrupted.
    :ivar error: the underlying error raised while processing it.
    """

    def __init__(self, message: str, error: str = "") -> None:
        super().__init__(f"{message}: {error}" if error else message)
        self.message = message
        self.error = error


class AccessDeniedError(RemofileException):
    """The server refused the token (REFUSED ACCESS_DENIED)."""


class ServerBusyError(RemofileException):
    """Another client holds the server (REFUSED SERVER_BUSY); try again later."""


class SessionExpiredError(RemofileException):
    """The session ended on the server (REFUSED SESSION_EXPIRED), for instance after
    the client was silent for longer than the session timeout."""


class UnsupportedError(RemofileException):
    """The server does not speak this protocol version or feature
    (REFUSED UNSUPPORTED_VERSION or UNSUPPORTED_FEATURE)."""


class DigestMismatchError(RemofileException):
    """The file received does not match the digest of the file sent
    (REFUSED DIGEST_MISMATCH, or a download that failed verification)."""


class FileSizeError(RemofileException, ValueError):
    """The file size was refused (REFUSED INCORRECT_FILE_SIZE): over the server's
    limit, or a resume offset past the end of the file."""


class ChunkSizeError(RemofileException, ValueError):
    """The chunk size was refused (REFUSED INCORRECT_CHUNK_SIZE): outside the server's
    chunk size range."""


class InvalidDestinationError(RemofileException, ValueError):
    """The destination of a move lies inside the directory being moved
    (REFUSED INVALID_DESTINATION)."""


class InsufficientStorageError(RemofileException):
    """The server's storage is full (REFUSED INSUFFICIENT_STORAGE): nothing was written,
    and an upload refused so is not resumable; try again once there is room."""


class RemovalIncompleteError(RemofileException):
    """Some entries of a tree could not be removed (REFUSED REMOVAL_INCOMPLETE); what
    is left is back under the tree's path.

    :ivar removed: entries removed.
    :ivar failed: entries left.
    """

    def __init__(self, message: str, removed: int = 0, failed: int = 0) -> None:
        super().__init__(message)
        self.removed = removed
        self.failed = failed
