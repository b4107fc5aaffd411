"""What a case runs with: the target, fresh connections, sessions, and its own directory.

Every case gets a new :class:`CaseContext`. It opens DEALER sockets on demand (one per
client of the case, all fresh), remembers every session opened through it, and on
:meth:`CaseContext.close` ends them all, abandoning any transfer so that nothing is left
staged, and closes every socket.
"""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass
from typing import Any, NoReturn

import zmq
from remofile.conformance import messages
from remofile.conformance.expect import CaseFailure, CaseSkip, accepted
from remofile.conformance.session import Session
from remofile.conformance.spec import feature_name
from remofile.conformance.transcript import Transcript
from remofile.conformance.wire import Connection
from remofile.v1 import remofile_pb2 as pb

#: Default deadline of every receive.
DEFAULT_TIMEOUT_MS = 5000

#: Default longest wait a case may spend on purpose (session expiry).
DEFAULT_MAX_WAIT_MS = 5000

#: The skip reason of outcomes no client can bring about.
UNPROVOKABLE = "cannot be provoked through the wire"


@dataclass(frozen=True)
class Target:
    """The server under test and how the suite may treat it."""

    endpoint: str
    token: str
    public_key: str | None = None
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    #: Cases that must wait longer than this on purpose are skipped.
    max_wait_ms: int = DEFAULT_MAX_WAIT_MS
    #: Remote path of a symbolic link the operator planted, leading out of the root.
    outside_link: str | None = None
    #: Also send REMOVE_FILE for the root itself (a broken server would empty it).
    allow_root_removal: bool = False
    #: Random request sequences to run (section 4.13, stateful); 0 for none.
    stateful_examples: int = 0
    #: The existing remote directory the suite makes its scratch directory in.
    directory: str = "/"


@dataclass
class SessionMemory:
    """What the runner remembers from case to case: the last session it opened."""

    last_session_id: bytes = b""
    #: The server's announced session timeout, once known.
    session_timeout_ms: int = 0


#: Deadline of the clean-up requests of a case: a server that stopped answering is not
#: waited for at length after every case.
CLEAN_UP_TIMEOUT_MS = 1000

#: Extra time waited for a stale session to expire.
RECOVERY_MARGIN_MS = 250


def _is_busy(failure: CaseFailure) -> bool:
    return isinstance(failure.seen, dict) and failure.seen.get("reason") == "REASON_SERVER_BUSY"


def random_token(length: int = 22) -> str:
    """A well-formed token that is not the server's (3.1)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


class CaseContext:
    """Connections, sessions and the case directory of one running case."""

    def __init__(
        self,
        target: Target,
        zmq_context: zmq.Context[Any],
        scratch: str,
        case_directory_name: str,
        transcript: Transcript,
        memory: SessionMemory,
    ) -> None:
        self.memory = memory
        self.target = target
        self._zmq = zmq_context
        self.scratch = scratch
        self._case_directory_name = case_directory_name
        self._case_directory: str | None = None
        self.transcript = transcript
        self._connections: list[Connection] = []
        self._sessions: list[Session] = []
        self._labels = iter(string.ascii_uppercase)
        self.limits: pb.SessionOpened | None = None

    # -- connections and sessions ----------------------------------------------------

    def connect(self, label: str | None = None, transcript: Transcript | None = None) -> Connection:
        """A fresh DEALER socket to the server, recording into the case's transcript
        unless another one is given."""
        connection = Connection(
            self._zmq,
            self.target.endpoint,
            label=label or next(self._labels),
            transcript=transcript or self.transcript,
            timeout_ms=self.target.timeout_ms,
            server_key=self.target.public_key,
        )
        self._connections.append(connection)
        return connection

    def client(self, label: str | None = None) -> Session:
        """A client on a fresh socket that has not said HELLO yet."""
        session = Session(self.connect(label), self.target.token)
        self._sessions.append(session)
        return session

    def open_session(self, label: str | None = None) -> Session:
        """A client on a fresh socket with a session opened by HELLO.

        If an earlier case left its session live (its GOODBYE was lost), the server is
        busy; the session is then replaced with HELLO and its id (3.2.5), as a client
        that lost track of its requests does, so one lost GOODBYE does not fail the rest.
        """
        session = self.client(label)
        try:
            opened = session.hello()
        except CaseFailure as failure:
            if not _is_busy(failure):
                raise
            opened = self._recover(session)
        self.memory.last_session_id = opened.session_id
        if self.limits is None:
            self.limits = opened
        return session

    def _recover(self, session: Session) -> pb.SessionOpened:
        """Open a session although an earlier case left one live (its GOODBYE was lost).

        First as a client that lost track of its requests does: HELLO with the stale
        session's id replaces it (3.2.5). If that id is not the live one either, wait
        for the stale session to expire (3.4), when such a wait is allowed.
        """
        stale = self.memory.last_session_id
        if stale:
            self.transcript.note("an earlier session is still live: replace it (3.2.5)")
            session.session_id = stale
            try:
                return session.hello("replace the stale session with HELLO", replace=True)
            except CaseFailure as failure:
                if not _is_busy(failure):
                    raise
        session.session_id = b""
        timeout_ms = self.memory.session_timeout_ms
        if not timeout_ms or timeout_ms > self.target.max_wait_ms:
            return session.hello("open a session (an earlier one is still live)")
        self.transcript.note(
            f"an earlier session is still live: wait {timeout_ms} ms for it to expire"
        )
        time.sleep((timeout_ms + RECOVERY_MARGIN_MS) / 1000)
        return session.hello("open a session once the stale one expired")

    def reconnect(self, session: Session) -> None:
        """Move a session to a fresh socket (2.1.4), closing the old one."""
        old = session.connection
        session.connection = self.connect(old.label + "'")
        old.close()

    def server_limits(self) -> pb.SessionOpened:
        assert self.limits is not None, "open a session first"
        return self.limits

    def case_directory(self, session: Session) -> str:
        """This case's own directory under the scratch directory, made on first use."""
        if self._case_directory is None:
            session.call(
                messages.make_directory(self.scratch, self._case_directory_name),
                [accepted("DIRECTORY_CREATED")],
                "make the case's directory",
            )
            self._case_directory = f"{self.scratch}/{self._case_directory_name}"
        return self._case_directory

    def skip(self, reason: str) -> NoReturn:
        raise CaseSkip(reason)

    def has_feature(self, feature: int) -> bool:
        """Whether the server announces ``feature`` in SessionOpened.features (8.5)."""
        return feature in self.server_limits().features

    def require_feature(self, *features: int) -> None:
        """Skip the case unless the server announces every one of ``features`` (8.5):
        a client must not use what is not announced, and a server of protocol 1.0
        announces nothing."""
        missing = [feature for feature in features if not self.has_feature(feature)]
        if missing:
            names = ", ".join(feature_name(feature) for feature in missing)
            self.skip(f"the server does not announce {names} (8.5)")

    # -- the end of a case ---------------------------------------------------------------

    def close(self) -> None:
        """End every session still open, then close every socket.

        Any upload the case started may have left staged data (an interrupted upload
        keeps it, 7.1), so each is resumed and cancelled, which discards it (4.12).
        """
        uploads = [upload for session in self._sessions for upload in session.uploads]
        live = [
            session
            for session in reversed(self._sessions)
            if session.session_id and not session.closed and not session.connection.closed
        ]
        if uploads and not live:
            try:
                live = [self.open_session("cleaner")]
            except CaseFailure:
                live = []
        for index, session in enumerate(live):
            self.transcript.note(f"clean-up of client {session.label}")
            if session.connection.timed_out:
                self.reconnect(session)  # never reuse a socket that missed a reply
            answered = session.quietly(
                messages.cancel_transfer(), "clean-up: abandon any transfer", CLEAN_UP_TIMEOUT_MS
            )
            if answered is None:
                self.transcript.note("no answer: clean-up of this client abandoned")
                continue
            if index == 0:
                for upload in uploads:
                    session.quietly(upload, "clean-up: resume an upload the case started")
                    session.quietly(messages.cancel_transfer(), "clean-up: cancel it")
            session.quietly(messages.goodbye(), "clean-up: end the session")
            session.closed = True
        for connection in self._connections:
            connection.close()
