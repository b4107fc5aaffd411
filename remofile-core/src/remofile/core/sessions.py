"""Who may talk to the server: tokens, sessions, busy refusals and expiry (SPEC.md section 3).

Like :mod:`remofile.core.transitions` this module does no I/O. The server passes the
current time in, so expiry is tested without sleeping.
"""

from __future__ import annotations

import enum
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from remofile.core.limits import PROTOCOL_VERSION
from remofile.v1 import remofile_pb2 as pb

#: Bytes of randomness in a session identifier.
SESSION_ID_BYTES = 16

#: The shortest and longest client key a server honours (SPEC.md 3.7); a key of another
#: length, like an empty one, is no key.
MIN_CLIENT_KEY_BYTES = 16
MAX_CLIENT_KEY_BYTES = 64

#: How many ids of ended sessions the gate remembers, to answer them SESSION_EXPIRED
#: rather than SERVER_BUSY (SPEC.md 3.7.4 asks for at least 16).
REMEMBERED_ENDED_SESSIONS = 64


class Verdict(enum.Enum):
    """What the gate decided about one request."""

    #: A new session was opened; answer ACCEPTED SESSION_OPENED (3.2).
    OPENED = "OPENED"
    #: The session was closed on request; answer ACCEPTED SESSION_CLOSED (3.5).
    CLOSED = "CLOSED"
    #: The request belongs to the live session: hand it to the state machine.
    PROCEED = "PROCEED"
    #: The request is refused with ``reason`` (3.1, 3.3, 3.4, 3.2).
    REFUSED = "REFUSED"


@dataclass(frozen=True)
class Admission:
    verdict: Verdict
    reason: pb.Reason.ValueType = pb.REASON_UNSPECIFIED
    #: The live session was replaced or closed: any transfer it had must be abandoned.
    session_ended: bool = False


@dataclass(frozen=True)
class SessionCase:
    """One row of the session table of SPEC.md section 3, for the spec and conformance."""

    case: str
    request: str
    condition: str
    response_type: pb.ResponseType.ValueType
    reason: pb.Reason.ValueType


#: The session table: what any request gets before the state machine sees it.
SESSION_CASES: tuple[SessionCase, ...] = (
    SessionCase(
        "3.1/1", "any", "the token is wrong", pb.RESPONSE_TYPE_REFUSED, pb.REASON_ACCESS_DENIED
    ),
    SessionCase(
        "3.2/1", "HELLO", "no session is live", pb.RESPONSE_TYPE_ACCEPTED, pb.REASON_SESSION_OPENED
    ),
    SessionCase(
        "3.2/2",
        "HELLO",
        "the protocol version is not supported",
        pb.RESPONSE_TYPE_REFUSED,
        pb.REASON_UNSUPPORTED_VERSION,
    ),
    SessionCase(
        "3.2/3",
        "HELLO",
        "sent with the live session's id: it is replaced",
        pb.RESPONSE_TYPE_ACCEPTED,
        pb.REASON_SESSION_OPENED,
    ),
    SessionCase(
        "3.3/1",
        "HELLO",
        "another client's session is live",
        pb.RESPONSE_TYPE_REFUSED,
        pb.REASON_SERVER_BUSY,
    ),
    SessionCase(
        "3.3/2",
        "any but HELLO",
        "another client's session is live",
        pb.RESPONSE_TYPE_REFUSED,
        pb.REASON_SERVER_BUSY,
    ),
    SessionCase(
        "3.4/1",
        "any but HELLO",
        "no session is live (never opened, closed or expired)",
        pb.RESPONSE_TYPE_REFUSED,
        pb.REASON_SESSION_EXPIRED,
    ),
    SessionCase(
        "3.4/2",
        "any but HELLO",
        "the session was silent longer than the timeout",
        pb.RESPONSE_TYPE_REFUSED,
        pb.REASON_SESSION_EXPIRED,
    ),
    SessionCase(
        "3.5/1",
        "GOODBYE",
        "sent by the live session",
        pb.RESPONSE_TYPE_ACCEPTED,
        pb.REASON_SESSION_CLOSED,
    ),
    SessionCase(
        "3.7/1",
        "HELLO",
        "another session is live and HELLO carries that session's client key: it is replaced",
        pb.RESPONSE_TYPE_ACCEPTED,
        pb.REASON_SESSION_OPENED,
    ),
    SessionCase(
        "3.7/2",
        "any but HELLO",
        "another session is live and the request carries the id of a session that ended",
        pb.RESPONSE_TYPE_REFUSED,
        pb.REASON_SESSION_EXPIRED,
    ),
)


def usable_client_key(client_key: bytes) -> bytes:
    """``client_key`` if its length makes it a key (SPEC.md 3.7.1), else b"" (no key)."""
    if MIN_CLIENT_KEY_BYTES <= len(client_key) <= MAX_CLIENT_KEY_BYTES:
        return client_key
    return b""


def tokens_match(expected: str, given: str) -> bool:
    """Compare tokens in constant time, so timing tells nothing about the token."""
    return hmac.compare_digest(
        expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")
    )


class SessionGate:
    """Holds the one live session and admits or refuses each request.

    :param token: the token every request must carry.
    :param timeout_ms: how long a session may stay silent before it ends.
    :param new_session_id: source of session identifiers (random by default).
    """

    def __init__(
        self,
        token: str,
        timeout_ms: int,
        new_session_id: Callable[[], bytes] = lambda: secrets.token_bytes(SESSION_ID_BYTES),
    ) -> None:
        self._token = token
        self.timeout_ms = timeout_ms
        self._new_session_id = new_session_id
        self.session_id: bytes | None = None
        self._last_seen_ms = 0
        #: The client key of the live session's HELLO, b"" if it gave none (3.7).
        self._client_key = b""
        #: Ids of sessions that ended, oldest first, to answer them SESSION_EXPIRED (3.7).
        self._ended: OrderedDict[bytes, None] = OrderedDict()

    @property
    def is_live(self) -> bool:
        return self.session_id is not None

    def expire(self, now_ms: int) -> bool:
        """End the session if it was silent longer than the timeout.

        :returns: True if a session ended now (its transfer must be abandoned).
        """
        if self.session_id is not None and now_ms - self._last_seen_ms > self.timeout_ms:
            self._end()
            return True
        return False

    def _end(self) -> None:
        """Forget the live session, remembering its id as one that ended."""
        if self.session_id is not None:
            self._ended[self.session_id] = None
            while len(self._ended) > REMEMBERED_ENDED_SESSIONS:
                self._ended.popitem(last=False)
        self.session_id = None
        self._client_key = b""

    def _has_ended(self, session_id: bytes) -> bool:
        """Whether ``session_id`` names a session this gate opened and that has ended."""
        # Ids are compared in constant time each; the set is small and bounded.
        return any(hmac.compare_digest(ended, session_id) for ended in self._ended)

    def touch(self, now_ms: int) -> None:
        """The server is working on, or has just answered, a request of the live
        session: that is activity too, so a long request never ends its own session."""
        if self.session_id is not None:
            self._last_seen_ms = max(self._last_seen_ms, now_ms)

    def deadline_ms(self) -> int | None:
        """When the live session expires if nothing arrives, or None with no session."""
        if self.session_id is None:
            return None
        return self._last_seen_ms + self.timeout_ms

    def admit(
        self,
        token: str,
        session_id: bytes,
        kind: str,
        now_ms: int,
        protocol_version: int = PROTOCOL_VERSION,
        client_key: bytes = b"",
    ) -> Admission:
        """Decide about one request of the oneof ``kind`` (``"hello"``, ``"goodbye"``...).

        ``client_key`` is HELLO's (ignored for other kinds). Call :meth:`expire` first so
        that a silent session is gone before it is judged.
        """
        if not tokens_match(self._token, token):
            return Admission(Verdict.REFUSED, pb.REASON_ACCESS_DENIED)
        is_holder = self.session_id is not None and hmac.compare_digest(self.session_id, session_id)
        if kind == "hello":
            if protocol_version != PROTOCOL_VERSION:
                return Admission(Verdict.REFUSED, pb.REASON_UNSUPPORTED_VERSION)
            key = usable_client_key(client_key)
            same_client = is_holder or (
                self.session_id is not None
                and bool(key)
                and bool(self._client_key)
                and hmac.compare_digest(self._client_key, key)
            )
            if self.session_id is not None and not same_client:
                return Admission(Verdict.REFUSED, pb.REASON_SERVER_BUSY)
            replaced = self.session_id is not None
            self._end()
            self.session_id = self._new_session_id()
            self._client_key = key
            self._last_seen_ms = now_ms
            return Admission(Verdict.OPENED, pb.REASON_SESSION_OPENED, session_ended=replaced)
        if self.session_id is None or (not is_holder and self._has_ended(session_id)):
            return Admission(Verdict.REFUSED, pb.REASON_SESSION_EXPIRED)
        if not is_holder:
            return Admission(Verdict.REFUSED, pb.REASON_SERVER_BUSY)
        self._last_seen_ms = now_ms
        if kind == "goodbye":
            self._end()
            return Admission(Verdict.CLOSED, pb.REASON_SESSION_CLOSED, session_ended=True)
        return Admission(Verdict.PROCEED)
