"""Exit statuses of the remofile command, one per kind of failure, and the table that
maps exceptions to them. Scripts can rely on these numbers; the README lists them."""

from __future__ import annotations

import enum

from remofile.core.exceptions import (
    AccessDeniedError,
    BadRequestError,
    ChunkSizeError,
    CorruptedResponse,
    DestinationNotFound,
    DigestMismatchError,
    FileNameError,
    FileSizeError,
    InvalidDestinationError,
    ServerBusyError,
    SessionExpiredError,
    SourceNotFound,
    UnexpectedError,
    UnsupportedError,
)


class ExitStatus(enum.IntEnum):
    """What a remofile command's exit status means."""

    #: Done.
    OK = 0
    #: A local failure not listed below (a local file could not be read or written...).
    FAILURE = 1
    #: Wrong arguments or options, or a missing setting (click's own status for usage).
    USAGE = 2
    #: A source, destination, file or directory does not exist, or is of the wrong kind.
    NOT_FOUND = 3
    #: The name is already taken.
    EXISTS = 4
    #: The server refused: busy with another client, a name, size or chunk size it does
    #: not accept, a feature it does not have (a server of protocol 1.0), a directory
    #: moved into itself, or data that failed verification.
    REFUSED = 5
    #: The server refused the token.
    AUTH = 6
    #: The server did not answer in time (or a CURVE key does not match).
    TIMEOUT = 7
    #: The server failed, or the two sides disagree about the protocol.
    SERVER_ERROR = 8
    #: Interrupted by Ctrl-C (128 + SIGINT, as shells report it).
    INTERRUPTED = 130


#: Exceptions and the status each one ends the command with; first match wins.
EXIT_STATUS_OF_EXCEPTION: tuple[tuple[type[BaseException], ExitStatus], ...] = (
    (AccessDeniedError, ExitStatus.AUTH),
    (TimeoutError, ExitStatus.TIMEOUT),
    (SourceNotFound, ExitStatus.NOT_FOUND),
    (DestinationNotFound, ExitStatus.NOT_FOUND),
    (FileNotFoundError, ExitStatus.NOT_FOUND),
    (NotADirectoryError, ExitStatus.NOT_FOUND),
    (IsADirectoryError, ExitStatus.NOT_FOUND),
    (FileExistsError, ExitStatus.EXISTS),
    (ServerBusyError, ExitStatus.REFUSED),
    (SessionExpiredError, ExitStatus.REFUSED),
    (FileNameError, ExitStatus.REFUSED),
    (FileSizeError, ExitStatus.REFUSED),
    (ChunkSizeError, ExitStatus.REFUSED),
    (UnsupportedError, ExitStatus.REFUSED),
    (InvalidDestinationError, ExitStatus.REFUSED),
    (DigestMismatchError, ExitStatus.REFUSED),
    (BadRequestError, ExitStatus.SERVER_ERROR),
    (UnexpectedError, ExitStatus.SERVER_ERROR),
    (CorruptedResponse, ExitStatus.SERVER_ERROR),
    (ValueError, ExitStatus.USAGE),
    (OSError, ExitStatus.FAILURE),
)


def exit_status_of(error: BaseException) -> ExitStatus:
    for exception_type, status in EXIT_STATUS_OF_EXCEPTION:
        if isinstance(error, exception_type):
            return status
    return ExitStatus.FAILURE
