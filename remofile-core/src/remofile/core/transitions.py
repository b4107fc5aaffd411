"""The Remofile protocol state machine: every (state, request) -> (response, next state).

Everything that decides how a request changes the protocol state lives in this one
module and in the table ``TRANSITIONS`` below. It does no I/O: the server feeds it the
kind of each request and the outcome of the work it did, and gets back the response
type and the next state. SPEC.md section 4.13 is rendered from the same table
(:func:`render_transition_table`), and the conformance suite makes one case of each
row, so the three cannot drift apart.

Anything not in the table is a defined error: the request is answered ERROR
BAD_REQUEST and the state does not change (SPEC.md section 4.13).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from remofile.v1 import remofile_pb2 as pb


class State(enum.Enum):
    """The four transferring states of the server (SPEC.md section 4.2)."""

    #: No transfer under way; every request that starts work is allowed (4.2).
    IDLE = "IDLE"
    #: An upload was accepted; the server expects SEND_CHUNK or CANCEL_TRANSFER (4.9).
    UPLOAD = "UPLOAD"
    #: A download was accepted; the server expects RECEIVE_CHUNK or CANCEL_TRANSFER (4.10).
    DOWNLOAD = "DOWNLOAD"
    #: A tree is being removed; the server expects CONTINUE_REMOVAL or CANCEL_TRANSFER (4.11).
    DELETE = "DELETE"


class RequestKind(enum.Enum):
    """The requests the state machine handles: the `kind` oneof of Request (4.1).

    HELLO and GOODBYE belong to the session layer (SPEC.md section 3), not to this table.
    """

    #: List a directory (4.6).
    LIST_FILES = "list_files"
    #: Create an empty file (4.7).
    CREATE_FILE = "create_file"
    #: Create an empty directory (4.8).
    MAKE_DIRECTORY = "make_directory"
    #: Start an upload (4.9.1).
    UPLOAD_FILE = "upload_file"
    #: Send the next chunk of an upload (4.9.2).
    SEND_CHUNK = "send_chunk"
    #: Start a download (4.10.1).
    DOWNLOAD_FILE = "download_file"
    #: Ask for the next chunk of a download (4.10.2).
    RECEIVE_CHUNK = "receive_chunk"
    #: Abandon the current upload, download or removal (4.12).
    CANCEL_TRANSFER = "cancel_transfer"
    #: Remove a file or a tree (4.11.1).
    REMOVE_FILE = "remove_file"
    #: Remove the next entries of a tree being removed (4.11.2).
    CONTINUE_REMOVAL = "continue_removal"
    #: Move or rename a file or a directory (4.14).
    MOVE_FILE = "move_file"
    #: Copy a file on the server (4.15).
    COPY_FILE = "copy_file"
    #: Compute the digest of a stored file (4.16).
    FILE_DIGEST = "file_digest"
    #: Upload several whole files in one request (4.17).
    UPLOAD_FILES = "upload_files"
    #: Download several whole files in one request (4.18).
    DOWNLOAD_FILES = "download_files"


ACCEPTED = pb.RESPONSE_TYPE_ACCEPTED
REFUSED = pb.RESPONSE_TYPE_REFUSED
ERROR = pb.RESPONSE_TYPE_ERROR


@dataclass(frozen=True)
class Outcome:
    """One possible answer to a request in a state, and the state it leads to."""

    response_type: pb.ResponseType.ValueType
    reason: pb.Reason.ValueType
    next_state: State
    #: The requirement this outcome pins down, in the words of the spec.
    when: str


@dataclass(frozen=True)
class Rule:
    """What a request does in a state: its spec section and its possible outcomes."""

    section: str
    state: State
    kind: RequestKind
    outcomes: tuple[Outcome, ...]

    def outcome_for(self, reason: pb.Reason.ValueType) -> Outcome:
        """The outcome with this reason.

        :raises InvalidOutcome: if the table allows no such reason here.
        """
        for outcome in self.outcomes:
            if outcome.reason == reason:
                return outcome
        raise InvalidOutcome(self, reason)


class IllegalTransition(Exception):
    """The request is not allowed in the current state; the state is unchanged.

    The server answers it ERROR BAD_REQUEST (SPEC.md section 4.13).
    """

    def __init__(self, state: State, kind: RequestKind) -> None:
        super().__init__(f"{kind.name} is not allowed in state {state.name}")
        self.state = state
        self.kind = kind


class InvalidOutcome(Exception):
    """The implementation tried to answer with a reason the table does not allow.

    This is a bug in the server, not in the client; the state is unchanged.
    """

    def __init__(self, rule: Rule, reason: pb.Reason.ValueType) -> None:
        super().__init__(
            f"{pb.Reason.Name(reason)} is not a possible answer to "
            f"{rule.kind.name} in state {rule.state.name}"
        )
        self.rule = rule
        self.reason = reason


def _reason(name: str) -> pb.Reason.ValueType:
    return pb.Reason.Value("REASON_" + name)


def _rule(
    section: str,
    state: State,
    kind: RequestKind,
    *outcomes: tuple[str, str, State | None, str],
) -> Rule:
    """Build a rule from (type, reason, next state or None for 'unchanged', requirement)."""
    types = {"ACCEPTED": ACCEPTED, "REFUSED": REFUSED, "ERROR": ERROR}
    return Rule(
        section,
        state,
        kind,
        tuple(
            Outcome(types[kind_name], _reason(reason), state if nxt is None else nxt, when)
            for kind_name, reason, nxt, when in outcomes
        ),
    )


_IDLE, _UPLOAD, _DOWNLOAD, _DELETE = State.IDLE, State.UPLOAD, State.DOWNLOAD, State.DELETE
_K = RequestKind
_SERVER_FAILED = "the server failed to carry the request out"
#: Every fault of section 4.5.1, in the words of the table (SPEC.md 4.13).
_BAD_PATH = "the path breaks a rule of 4.5.1 (not absolute, '..', NUL, too long, reserved prefix)"
_REPLACES_DIRECTORY = "replacing was asked, but the name is taken by a directory"
#: What makes a whole batch BAD_REQUEST (SPEC.md 4.17, 4.18): nothing of it is done.
_BAD_BATCH = "no files, too many, a path breaks 4.5.1, or sizes and data do not add up"
_BAD_DOWNLOAD_BATCH = "no paths, too many, or a path breaks 4.5.1"
_FULL = ("REFUSED", "INSUFFICIENT_STORAGE", None, "the storage is full: nothing is written")


def _list_files(state: State) -> Rule:
    # 4.6: "Listing files is the only request that can be made regardless of the
    # current transferring state." It never changes the state.
    return _rule(
        "4.6",
        state,
        _K.LIST_FILES,
        ("ACCEPTED", "FILES_LISTED", None, "the directory exists: its entries are listed"),
        ("REFUSED", "FILE_NOT_FOUND", None, "the directory does not exist"),
        ("REFUSED", "NOT_A_DIRECTORY", None, "the path names a file, not a directory"),
        ("ERROR", "BAD_REQUEST", None, _BAD_PATH),
        ("ERROR", "UNKNOWN_ERROR", None, _SERVER_FAILED),
    )


def _create(section: str, kind: RequestKind, accepted: str, what: str) -> Rule:
    # 4.7, 4.8: creating happens only in IDLE and never leaves it.
    return _rule(
        section,
        _IDLE,
        kind,
        ("ACCEPTED", accepted, None, f"the {what} is created, empty"),
        ("REFUSED", "INVALID_FILE_NAME", None, "the name is not a valid file name (4.4)"),
        ("REFUSED", "FILE_NOT_FOUND", None, "the destination directory does not exist"),
        ("REFUSED", "NOT_A_DIRECTORY", None, "the destination is a file"),
        ("REFUSED", "FILE_ALREADY_EXISTS", None, "the name is taken by a file or directory"),
        ("ERROR", "BAD_REQUEST", None, _BAD_PATH.replace("the path", "the directory")),
        ("ERROR", "UNKNOWN_ERROR", None, _SERVER_FAILED),
        _FULL,
    )


def _cancel(state: State) -> Rule:
    # 4.12: cancelling ends any lasting operation and returns to IDLE.
    return _rule(
        "4.12",
        state,
        _K.CANCEL_TRANSFER,
        ("ACCEPTED", "TRANSFER_CANCELLED", _IDLE, "the operation is abandoned"),
    )


_RULES: tuple[Rule, ...] = (
    _list_files(_IDLE),
    _list_files(_UPLOAD),
    _list_files(_DOWNLOAD),
    _list_files(_DELETE),
    _create("4.7", _K.CREATE_FILE, "FILE_CREATED", "file"),
    _create("4.8", _K.MAKE_DIRECTORY, "DIRECTORY_CREATED", "directory"),
    _rule(
        "4.9.1",
        _IDLE,
        _K.UPLOAD_FILE,
        ("ACCEPTED", "TRANSFER_ACCEPTED", _UPLOAD, "the upload starts at the offset returned"),
        ("REFUSED", "INVALID_FILE_NAME", None, "the name is not a valid file name (4.4)"),
        ("REFUSED", "FILE_NOT_FOUND", None, "the destination directory does not exist"),
        ("REFUSED", "NOT_A_DIRECTORY", None, "the destination is a file"),
        ("REFUSED", "FILE_ALREADY_EXISTS", None, "the name is taken by a file or directory"),
        ("REFUSED", "INCORRECT_FILE_SIZE", None, "the file is larger than the file size limit"),
        ("REFUSED", "INCORRECT_CHUNK_SIZE", None, "the chunk size is outside the range"),
        (
            "REFUSED",
            "UNSUPPORTED_FEATURE",
            None,
            "the compression, the digest algorithm or replacing is not supported",
        ),
        ("ERROR", "BAD_REQUEST", None, _BAD_PATH.replace("the path", "the directory")),
        ("ERROR", "UNKNOWN_ERROR", None, _SERVER_FAILED),
        ("REFUSED", "NOT_A_FILE", None, _REPLACES_DIRECTORY),
        _FULL,
    ),
    _rule(
        "4.9.2",
        _UPLOAD,
        _K.SEND_CHUNK,
        ("ACCEPTED", "CHUNK_ACCEPTED", None, "the chunk is written; more are expected"),
        (
            "ACCEPTED",
            "TRANSFER_COMPLETED",
            _IDLE,
            "the last chunk is written and the file is in place",
        ),
        ("REFUSED", "DIGEST_MISMATCH", _IDLE, "the file received does not match the digest sent"),
        (
            "ERROR",
            "BAD_REQUEST",
            _IDLE,
            "wrong offset, wrong size, undecodable data or a malformed digest: the upload is"
            " abandoned",
        ),
        ("ERROR", "UNKNOWN_ERROR", _IDLE, _SERVER_FAILED),
        (
            "REFUSED",
            "INSUFFICIENT_STORAGE",
            _IDLE,
            "the storage is full: the upload is abandoned and its staged data discarded",
        ),
        (
            "REFUSED",
            "FILE_ALREADY_EXISTS",
            _IDLE,
            "the name was taken meanwhile by an entry the upload may not replace: nothing"
            " is replaced and the staged data is discarded",
        ),
    ),
    _cancel(_UPLOAD),
    _rule(
        "4.10.1",
        _IDLE,
        _K.DOWNLOAD_FILE,
        ("ACCEPTED", "TRANSFER_ACCEPTED", _DOWNLOAD, "the download starts at the offset asked"),
        ("REFUSED", "FILE_NOT_FOUND", None, "the file does not exist"),
        ("REFUSED", "NOT_A_FILE", None, "the path names a directory"),
        (
            "REFUSED",
            "INCORRECT_FILE_SIZE",
            None,
            "the file is over the limit or shorter than the offset",
        ),
        ("REFUSED", "INCORRECT_CHUNK_SIZE", None, "the chunk size is outside the range"),
        (
            "REFUSED",
            "UNSUPPORTED_FEATURE",
            None,
            "the compression or the digest algorithm is not supported",
        ),
        ("ERROR", "BAD_REQUEST", None, _BAD_PATH),
        ("ERROR", "UNKNOWN_ERROR", None, _SERVER_FAILED),
    ),
    _rule(
        "4.10.2",
        _DOWNLOAD,
        _K.RECEIVE_CHUNK,
        ("ACCEPTED", "CHUNK_SENT", None, "the next chunk is sent; more remain"),
        ("ACCEPTED", "TRANSFER_COMPLETED", _IDLE, "the last chunk is sent with the file's digest"),
        ("ERROR", "UNKNOWN_ERROR", _IDLE, _SERVER_FAILED),
    ),
    _cancel(_DOWNLOAD),
    _rule(
        "4.11.1",
        _IDLE,
        _K.REMOVE_FILE,
        ("ACCEPTED", "FILE_REMOVED", None, "the file or empty directory is removed"),
        (
            "ACCEPTED",
            "REMOVAL_STARTED",
            _DELETE,
            "the tree is out of sight; its entries remain to remove",
        ),
        ("REFUSED", "FILE_NOT_FOUND", None, "nothing has that path"),
        (
            "ERROR",
            "BAD_REQUEST",
            None,
            _BAD_PATH.replace("(not", "or names the root (not"),
        ),
        ("ERROR", "UNKNOWN_ERROR", None, _SERVER_FAILED),
    ),
    _rule(
        "4.11.2",
        _DELETE,
        _K.CONTINUE_REMOVAL,
        ("ACCEPTED", "ENTRIES_REMOVED", None, "a batch of entries is removed; more remain"),
        ("ACCEPTED", "FILE_REMOVED", _IDLE, "the last entries are removed"),
        ("ERROR", "UNKNOWN_ERROR", _IDLE, _SERVER_FAILED),
        (
            "REFUSED",
            "REMOVAL_INCOMPLETE",
            _IDLE,
            "entries that cannot be removed remain, back under the tree's path",
        ),
    ),
    _cancel(_DELETE),
    _rule(
        "4.14",
        _IDLE,
        _K.MOVE_FILE,
        ("ACCEPTED", "FILE_MOVED", None, "the entry has its new name, in one atomic step"),
        ("REFUSED", "INVALID_FILE_NAME", None, "the new name is not a valid file name (4.4)"),
        ("REFUSED", "FILE_NOT_FOUND", None, "the source or the destination directory is missing"),
        ("REFUSED", "NOT_A_DIRECTORY", None, "the destination is a file"),
        (
            "REFUSED",
            "FILE_ALREADY_EXISTS",
            None,
            "the name is taken and replacing was not asked, or the source is a directory",
        ),
        ("REFUSED", "NOT_A_FILE", None, _REPLACES_DIRECTORY),
        (
            "REFUSED",
            "INVALID_DESTINATION",
            None,
            "the destination lies inside the directory being moved",
        ),
        ("ERROR", "BAD_REQUEST", None, "a path breaks 4.5.1, or the source is the root"),
        ("ERROR", "UNKNOWN_ERROR", None, _SERVER_FAILED),
    ),
    _rule(
        "4.15",
        _IDLE,
        _K.COPY_FILE,
        ("ACCEPTED", "FILE_COPIED", None, "the copy is complete under its name"),
        ("REFUSED", "INVALID_FILE_NAME", None, "the copy's name is not a valid file name (4.4)"),
        ("REFUSED", "FILE_NOT_FOUND", None, "the source or the destination directory is missing"),
        ("REFUSED", "NOT_A_DIRECTORY", None, "the destination is a file"),
        ("REFUSED", "FILE_ALREADY_EXISTS", None, "the name is taken and replacing was not asked"),
        (
            "REFUSED",
            "NOT_A_FILE",
            None,
            "the source is not a regular file, or replacing was asked of a directory",
        ),
        ("ERROR", "BAD_REQUEST", None, _BAD_PATH.replace("the path", "a path")),
        ("ERROR", "UNKNOWN_ERROR", None, _SERVER_FAILED),
        _FULL,
    ),
    _rule(
        "4.16",
        _IDLE,
        _K.FILE_DIGEST,
        ("ACCEPTED", "FILE_DIGESTED", None, "the digest of the whole file is returned"),
        ("REFUSED", "FILE_NOT_FOUND", None, "the file does not exist"),
        ("REFUSED", "NOT_A_FILE", None, "the path names a directory"),
        ("REFUSED", "UNSUPPORTED_FEATURE", None, "the digest algorithm is not announced"),
        ("ERROR", "BAD_REQUEST", None, _BAD_PATH),
        ("ERROR", "UNKNOWN_ERROR", None, _SERVER_FAILED),
    ),
    _rule(
        "4.17",
        _IDLE,
        _K.UPLOAD_FILES,
        ("ACCEPTED", "FILES_UPLOADED", None, "each file has its own result, in order"),
        (
            "REFUSED",
            "UNSUPPORTED_FEATURE",
            None,
            "the compression, digest algorithm or conflict mode is not announced",
        ),
        ("ERROR", "BAD_REQUEST", None, _BAD_BATCH),
        ("ERROR", "UNKNOWN_ERROR", None, _SERVER_FAILED),
    ),
    _rule(
        "4.18",
        _IDLE,
        _K.DOWNLOAD_FILES,
        ("ACCEPTED", "FILES_DOWNLOADED", None, "each file has its own result, in order"),
        (
            "REFUSED",
            "UNSUPPORTED_FEATURE",
            None,
            "the compression or digest algorithm is not announced",
        ),
        ("ERROR", "BAD_REQUEST", None, _BAD_DOWNLOAD_BATCH),
        ("ERROR", "UNKNOWN_ERROR", None, _SERVER_FAILED),
    ),
)

#: The transition table: (state, request kind) -> rule. Pairs not in it are illegal.
TRANSITIONS: Mapping[tuple[State, RequestKind], Rule] = {
    (rule.state, rule.kind): rule for rule in _RULES
}

#: The section of SPEC.md that defines what happens to pairs not in the table.
ILLEGAL_SECTION = "4.13"

#: The outcome of any request not allowed in the current state.
ILLEGAL_OUTCOME_WHEN = "the request is not allowed in this state: nothing happens"


def illegal_rule(state: State, kind: RequestKind) -> Rule:
    """The rule for a pair that is not in the table: ERROR BAD_REQUEST, state unchanged."""
    return Rule(
        ILLEGAL_SECTION,
        state,
        kind,
        (Outcome(ERROR, pb.REASON_BAD_REQUEST, state, ILLEGAL_OUTCOME_WHEN),),
    )


def all_rules() -> Iterator[Rule]:
    """Every (state, kind) pair, legal ones from the table and illegal ones, in order."""
    for state in State:
        for kind in RequestKind:
            yield TRANSITIONS.get((state, kind)) or illegal_rule(state, kind)


def case_id(rule: Rule, index: int) -> str:
    """The identifier of one outcome of a rule, e.g. ``4.9.2/UPLOAD/SEND_CHUNK/2``.

    ``index`` counts the outcomes of the rule from 1, in table order.
    """
    return f"{rule.section}/{rule.state.name}/{rule.kind.name}/{index}"


class ProtocolMachine:
    """The protocol state of one server, driven by requests and their outcomes.

    Use :meth:`rule_for` to learn whether a request is allowed before doing its work,
    then :meth:`settle` with the reason of the answer to move to the next state.
    """

    def __init__(self) -> None:
        self.state = State.IDLE

    def rule_for(self, kind: RequestKind) -> Rule:
        """The rule for ``kind`` in the current state.

        :raises IllegalTransition: if the request is not allowed now (state unchanged).
        """
        rule = TRANSITIONS.get((self.state, kind))
        if rule is None:
            raise IllegalTransition(self.state, kind)
        return rule

    def settle(self, kind: RequestKind, reason: pb.Reason.ValueType) -> Outcome:
        """Record that ``kind`` was answered with ``reason`` and move to the next state.

        :raises IllegalTransition: if the request is not allowed now (state unchanged).
        :raises InvalidOutcome: if the reason is not allowed for it (state unchanged).
        """
        outcome = self.rule_for(kind).outcome_for(reason)
        self.state = outcome.next_state
        return outcome

    def reset(self) -> None:
        """Return to IDLE, as when a session ends (SPEC.md section 3.4)."""
        self.state = State.IDLE


def _type_name(response_type: pb.ResponseType.ValueType) -> str:
    return pb.ResponseType.Name(response_type).removeprefix("RESPONSE_TYPE_")


def _reason_name(reason: pb.Reason.ValueType) -> str:
    return pb.Reason.Name(reason).removeprefix("REASON_")


def render_transition_table() -> str:
    """The transition table as the Markdown that SPEC.md section 4.13 carries."""
    lines = [
        "| Case | State | Request | Response | Reason | Next state | When |",
        "|---|---|---|---|---|---|---|",
    ]
    for rule in _RULES:
        for index, outcome in enumerate(rule.outcomes, start=1):
            lines.append(
                f"| `{case_id(rule, index)}` | {rule.state.name} | {rule.kind.name} "
                f"| {_type_name(outcome.response_type)} | {_reason_name(outcome.reason)} "
                f"| {outcome.next_state.name} | {outcome.when} |"
            )
    illegal = [f"{kind.name}" for kind in RequestKind]
    lines.append("")
    lines.append(
        "Every other pair is illegal: ERROR BAD_REQUEST, state unchanged "
        f"(case `{ILLEGAL_SECTION}/<STATE>/<REQUEST>/1`). The illegal pairs are:"
    )
    lines.append("")
    for state in State:
        refused = [kind for kind in illegal if (state, RequestKind[kind]) not in TRANSITIONS]
        lines.append(f"- {state.name}: {', '.join(refused)}")
    return "\n".join(lines) + "\n"
