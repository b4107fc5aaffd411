"""What proto/SPEC.md says beyond the two tables, written down for the suite to check.

The transition table (:mod:`remofile.core.transitions`) and the session table
(:mod:`remofile.core.sessions`) are spec data and are used as they are. Everything else
the suite needs to judge a reply (which reason goes with which type and payload, the
rules for names and paths, the fixed limits) is written here again from the text of
SPEC.md, on purpose: the suite must not share a bug with the server it judges.
"""

from __future__ import annotations

from collections.abc import Mapping

from remofile.core.sessions import SESSION_CASES
from remofile.core.transitions import all_rules
from remofile.v1 import remofile_pb2 as pb

#: HELLO's protocol_version for this version of the protocol (3.2).
PROTOCOL_VERSION = 1

#: Length of a session id (3.2, table of SessionOpened).
SESSION_ID_BYTES = 16

#: Room a message has on top of its largest chunk (2.4.1).
MESSAGE_ROOM_BYTES = 65536

#: Longest file name, and longest path component, in bytes of UTF-8 (4.4, 4.5.1).
MAX_NAME_BYTES = 255

#: Longest path, in bytes of UTF-8 (4.5.1).
MAX_PATH_BYTES = 4096

#: Most entries in one listing page (4.6).
MAX_LIST_ENTRIES = 65536

#: Most entries one CONTINUE_REMOVAL removes (4.11.2).
REMOVAL_BATCH_ENTRIES = 1000

#: Prefix of the names a server keeps for itself, in any letter case (4.4, 4.5.4).
RESERVED_PREFIX = ".remofile-"

#: Length of the value of every digest algorithm version 1 defines (7.2).
DIGEST_BYTES = 32

#: Most files one UPLOAD_FILES or DOWNLOAD_FILES names (4.17, 4.18, section 5).
MAX_BATCH_FILES = 256

#: Longest message of a file's result in a batch, in bytes of UTF-8 (4.17).
MAX_BATCH_MESSAGE_BYTES = 120

#: Characters never allowed in a file name (4.4, rule 3).
FORBIDDEN_NAME_CHARACTERS = frozenset("<>:/\\|?*")


def _type_of_reasons() -> Mapping[pb.Reason.ValueType, pb.ResponseType.ValueType]:
    """The response type of every reason (4.1.3), read off the two tables."""
    pairs: dict[pb.Reason.ValueType, pb.ResponseType.ValueType] = {}
    for rule in all_rules():
        for outcome in rule.outcomes:
            pairs[outcome.reason] = outcome.response_type
    for case in SESSION_CASES:
        pairs[case.reason] = case.response_type
    return pairs


#: Reason -> the only response type it may come with (4.1.3).
TYPE_OF_REASON = _type_of_reasons()

#: Reason -> the payload field it carries (4.1.4); reasons not listed carry none.
PAYLOAD_OF_REASON: Mapping[pb.Reason.ValueType, str] = {
    pb.REASON_SESSION_OPENED: "session_opened",
    pb.REASON_FILES_LISTED: "file_list",
    pb.REASON_TRANSFER_ACCEPTED: "transfer_accepted",
    pb.REASON_CHUNK_ACCEPTED: "chunk",
    pb.REASON_CHUNK_SENT: "chunk",
    pb.REASON_TRANSFER_COMPLETED: "chunk",
    pb.REASON_REMOVAL_STARTED: "removal",
    pb.REASON_ENTRIES_REMOVED: "removal",
    pb.REASON_FILE_DIGESTED: "file_digest_result",
    pb.REASON_FILES_UPLOADED: "batch",
    pb.REASON_FILES_DOWNLOADED: "batch",
}

#: Reasons whose payload is optional, and which one it is (4.1.4).
OPTIONAL_PAYLOAD_OF_REASON: Mapping[pb.Reason.ValueType, str] = {
    pb.REASON_FILE_REMOVED: "removal",
}

#: Responses to RECEIVE_CHUNK that carry a data frame (2.2.2).
REASONS_WITH_DATA = frozenset({pb.REASON_CHUNK_SENT, pb.REASON_TRANSFER_COMPLETED})


def carries_data(request_kind: str, reason: int) -> bool:
    """Whether the answer ``reason`` to a request of ``request_kind`` has a data frame
    (2.2.2): a chunk sent by RECEIVE_CHUNK, and every FILES_DOWNLOADED, even one that
    sends no file."""
    if request_kind == "receive_chunk":
        return reason in REASONS_WITH_DATA
    return request_kind == "download_files" and reason == pb.REASON_FILES_DOWNLOADED


def feature_name(feature: int) -> str:
    """``FEATURE_MOVE`` for FEATURE_MOVE; the number for a value the enum lacks (8.5)."""
    try:
        return pb.Feature.Name(feature)  # type: ignore[arg-type]
    except ValueError:
        return f"feature {feature}"


def type_name(response_type: int) -> str:
    """``ACCEPTED`` for RESPONSE_TYPE_ACCEPTED; the number for a value the enum lacks."""
    try:
        return pb.ResponseType.Name(response_type).removeprefix("RESPONSE_TYPE_")  # type: ignore[arg-type]
    except ValueError:
        return f"type {response_type}"


def reason_name(reason: int) -> str:
    """``FILE_NOT_FOUND`` for REASON_FILE_NOT_FOUND; the number for an unknown value."""
    try:
        return pb.Reason.Name(reason).removeprefix("REASON_")  # type: ignore[arg-type]
    except ValueError:
        return f"reason {reason}"


def reason_value(name: str) -> pb.Reason.ValueType:
    """REASON_FILE_NOT_FOUND for ``FILE_NOT_FOUND``."""
    return pb.Reason.Value("REASON_" + name)


def response_problems(response: pb.Response, has_data: bool, request_kind: str) -> list[str]:
    """What is wrong with a response whatever the request was (2.2.2, 4.1.2 to 4.1.4)."""
    problems: list[str] = []
    if response.type == pb.RESPONSE_TYPE_UNSPECIFIED:
        problems.append("the response type is UNSPECIFIED (4.1.2)")
    if response.reason == pb.REASON_UNSPECIFIED:
        problems.append("the reason is UNSPECIFIED (4.1.2)")
    expected_type = TYPE_OF_REASON.get(response.reason)
    if expected_type is not None and expected_type != response.type:
        problems.append(
            f"{reason_name(response.reason)} comes with {type_name(expected_type)}, "
            f"not {type_name(response.type)} (4.1.3)"
        )
    payload = response.WhichOneof("payload")
    wanted = PAYLOAD_OF_REASON.get(response.reason)
    optional = OPTIONAL_PAYLOAD_OF_REASON.get(response.reason)
    if wanted is not None and payload != wanted:
        problems.append(
            f"{reason_name(response.reason)} must carry the payload {wanted}, "
            f"not {payload or 'none'} (4.1.4)"
        )
    if wanted is None and payload is not None and payload != optional:
        problems.append(
            f"{reason_name(response.reason)} carries no payload, but {payload} is set (4.1.4)"
        )
    if response.type == pb.RESPONSE_TYPE_ERROR and not response.message:
        problems.append("an ERROR response must have a message (4.1.4)")
    data_expected = carries_data(request_kind, response.reason)
    if data_expected and not has_data:
        problems.append(
            f"{reason_name(response.reason)} to {request_kind.upper()} needs a data frame (2.2.2)"
        )
    if has_data and not data_expected:
        problems.append("this response must not have a data frame (2.2.2)")
    return problems


def has_reserved_prefix(name: str) -> bool:
    """Whether a name starts with ``.remofile-`` in any letter case (4.4 rule 7)."""
    head = name[: len(RESERVED_PREFIX)]
    return head.translate(_ASCII_LOWER) == RESERVED_PREFIX


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def is_valid_file_name(name: str) -> bool:
    """Whether a client may propose ``name`` for a new entry (the seven rules of 4.4)."""
    if name in ("", ".", ".."):
        return False
    if any(character in FORBIDDEN_NAME_CHARACTERS for character in name):
        return False
    if any(ord(character) <= 0x1F or 0x7F <= ord(character) <= 0x9F for character in name):
        return False
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return len(encoded) <= MAX_NAME_BYTES and not has_reserved_prefix(name)


def path_components(path: str) -> tuple[str, ...] | None:
    """The components of an absolute remote path, or None if it breaks 4.5.1."""
    if not path.startswith("/") or "\x00" in path:
        return None
    try:
        if len(path.encode("utf-8")) > MAX_PATH_BYTES:
            return None
    except UnicodeEncodeError:
        return None
    components = tuple(part for part in path.split("/") if part not in ("", "."))
    for part in components:
        if part == ".." or has_reserved_prefix(part) or len(part.encode("utf-8")) > MAX_NAME_BYTES:
            return None
    return components


def session_opened_problems(opened: pb.SessionOpened) -> list[str]:
    """What is wrong with a SessionOpened payload (3.2, table of fields; 2.4.1; 7.2; 7.3)."""
    problems = []
    if len(opened.session_id) != SESSION_ID_BYTES:
        problems.append(
            f"session_id must be {SESSION_ID_BYTES} bytes, not {len(opened.session_id)}"
        )
    if opened.protocol_version != PROTOCOL_VERSION:
        problems.append(
            f"protocol_version must be {PROTOCOL_VERSION}, not {opened.protocol_version}"
        )
    if opened.file_size_limit == 0:
        problems.append("file_size_limit must be set")
    if not 0 < opened.min_chunk_size <= opened.max_chunk_size:
        problems.append(
            f"the chunk size range {opened.min_chunk_size}-{opened.max_chunk_size} is not a range"
        )
    if opened.max_message_size != opened.max_chunk_size + MESSAGE_ROOM_BYTES:
        problems.append(
            f"max_message_size must be max_chunk_size + {MESSAGE_ROOM_BYTES} "
            f"({opened.max_chunk_size + MESSAGE_ROOM_BYTES}), not {opened.max_message_size}"
        )
    if opened.max_name_length != MAX_NAME_BYTES:
        problems.append(f"max_name_length must be {MAX_NAME_BYTES}, not {opened.max_name_length}")
    if opened.session_timeout_ms == 0:
        problems.append("session_timeout_ms must be set")
    if opened.max_requests_in_flight == 0:
        problems.append("max_requests_in_flight must be set")
    if pb.COMPRESSION_NONE not in opened.compressions:
        problems.append("compressions must hold COMPRESSION_NONE")
    if pb.DIGEST_ALGORITHM_SHA256 not in opened.digest_algorithms:
        problems.append("digest_algorithms must hold DIGEST_ALGORITHM_SHA256")
    undefined = set(opened.digest_algorithms) - set(pb.DigestAlgorithm.values())
    if undefined or pb.DIGEST_ALGORITHM_UNSPECIFIED in opened.digest_algorithms:
        problems.append("digest_algorithms must hold defined algorithms only")
    if not opened.server_name:
        problems.append("server_name must be set")
    return problems
