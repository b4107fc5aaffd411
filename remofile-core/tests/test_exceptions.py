"""The exceptions of the Remofile API (API reference, section 2.4) and the package surface."""

from __future__ import annotations

import pytest
import remofile.core
from remofile.core import exceptions

ALL_EXCEPTIONS = [
    exceptions.SourceNotFound,
    exceptions.DestinationNotFound,
    exceptions.FileNameError,
    exceptions.BadRequestError,
    exceptions.UnexpectedError,
    exceptions.CorruptedResponse,
    exceptions.AccessDeniedError,
    exceptions.ServerBusyError,
    exceptions.SessionExpiredError,
    exceptions.UnsupportedError,
    exceptions.DigestMismatchError,
    exceptions.FileSizeError,
    exceptions.ChunkSizeError,
    exceptions.InvalidDestinationError,
    exceptions.InsufficientStorageError,
    exceptions.RemovalIncompleteError,
]

#: The exceptions for arguments a caller can fix: they are ValueErrors too.
VALUE_ERRORS = (
    exceptions.FileSizeError,
    exceptions.ChunkSizeError,
    exceptions.InvalidDestinationError,
)


def test_every_exception_of_the_module_is_listed_here() -> None:
    defined = {
        value
        for value in vars(exceptions).values()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
    assert defined == {*ALL_EXCEPTIONS, exceptions.RemofileException}


def test_remofile_exception_is_an_exception() -> None:
    assert issubclass(exceptions.RemofileException, Exception)


@pytest.mark.parametrize("cls", ALL_EXCEPTIONS, ids=lambda c: c.__name__)
def test_every_exception_derives_from_remofile_exception(cls: type[Exception]) -> None:
    assert issubclass(cls, exceptions.RemofileException)


@pytest.mark.parametrize("cls", VALUE_ERRORS)
def test_argument_errors_are_also_value_errors(cls: type[Exception]) -> None:
    assert issubclass(cls, ValueError)
    with pytest.raises(ValueError, match="too big"):
        raise cls("too big")
    with pytest.raises(exceptions.RemofileException):
        raise cls("too big")


@pytest.mark.parametrize(
    "cls",
    [c for c in ALL_EXCEPTIONS if c not in VALUE_ERRORS],
    ids=lambda c: c.__name__,
)
def test_other_exceptions_are_not_value_errors(cls: type[Exception]) -> None:
    assert not issubclass(cls, ValueError)


def test_file_system_conditions_are_not_remofile_exceptions() -> None:
    """Section 2.4: those are raised as the built-in exceptions, not wrapped."""
    for builtin in (FileNotFoundError, FileExistsError, NotADirectoryError, TimeoutError):
        assert not issubclass(builtin, exceptions.RemofileException)
    for cls in ALL_EXCEPTIONS:
        assert not issubclass(cls, OSError)


def test_unexpected_error_keeps_the_servers_message() -> None:
    error = exceptions.UnexpectedError("disk on fire")
    assert error.message == "disk on fire"
    assert str(error) == "disk on fire"
    assert error.args == ("disk on fire",)


def test_corrupted_response_keeps_message_and_error() -> None:
    error = exceptions.CorruptedResponse("unexpected reason", "FILES_LISTED to SEND_CHUNK")
    assert error.message == "unexpected reason"
    assert error.error == "FILES_LISTED to SEND_CHUNK"
    assert str(error) == "unexpected reason: FILES_LISTED to SEND_CHUNK"


def test_corrupted_response_error_defaults_to_empty() -> None:
    error = exceptions.CorruptedResponse("not a Response")
    assert error.message == "not a Response"
    assert error.error == ""
    assert str(error) == "not a Response"


def test_exceptions_can_be_caught_as_remofile_exception() -> None:
    with pytest.raises(exceptions.RemofileException) as raised:
        raise exceptions.ServerBusyError("busy")
    assert isinstance(raised.value, exceptions.ServerBusyError)


# --- the package surface -------------------------------------------------------------


def test_star_import_exposes_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from remofile.core import *", namespace)
    exported = {name for name in namespace if name != "__builtins__"}
    assert exported == set(remofile.core.__all__)


def test_all_lists_every_exception_and_the_helpers() -> None:
    expected = {cls.__name__ for cls in ALL_EXCEPTIONS} | {
        "RemofileException",
        "generate_keys",
        "generate_token",
        "is_file_name_valid",
    }
    assert set(remofile.core.__all__) == expected
    assert len(remofile.core.__all__) == len(expected)


def test_names_in_all_are_the_real_objects() -> None:
    for name in remofile.core.__all__:
        value = getattr(remofile.core, name)
        if isinstance(value, type):
            assert value is getattr(exceptions, name)
        else:
            assert callable(value)
