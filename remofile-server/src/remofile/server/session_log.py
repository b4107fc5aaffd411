"""One log line per session, for the people who run a server and their log collectors.

Each session ends with one INFO line on the logger ``remofile.server.sessions``: the
client's address (ZeroMQ's ``Peer-Address`` property of its messages), that the token
was accepted, how the session ended (closed, expired, replaced by a new HELLO of the
same client, or the server stopped), how long it lasted, and the bytes and files moved
each way. A HELLO that is refused (wrong token, server busy, unsupported version), and
any request refused for its token, gets a line too. The same facts travel as a dict in
the record's ``remofile_session`` attribute, for a formatter that writes JSON.

The server calls :meth:`SessionLog.admitted` after each admission decision,
:meth:`SessionLog.handled` after each request handled in a session and
:meth:`SessionLog.ended` when a session ends without a request (expiry, the server
stopping); nothing here changes what the server does.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import zmq
from remofile.core.sessions import Admission, Verdict
from remofile.v1 import remofile_pb2 as pb

logger = logging.getLogger("remofile.server.sessions")

#: The attribute of a log record that holds the session's facts.
RECORD_ATTRIBUTE = "remofile_session"


def peer_address(frame: zmq.Frame) -> str:
    """The client's address as ZeroMQ saw it, or ``?`` where there is none (inproc)."""
    try:
        address = frame.get("Peer-Address")
    except (zmq.ZMQError, KeyError, TypeError):
        return "?"
    return str(address) if address else "?"


@dataclass
class _Session:
    peer: str
    client: str
    started: float = field(default_factory=time.monotonic)
    bytes_up: int = 0
    bytes_down: int = 0
    files_up: int = 0
    files_down: int = 0


class SessionLog:
    """Counts what a session moves and logs it when the session ends."""

    def __init__(self) -> None:
        self._session: _Session | None = None

    def admitted(
        self, frame: zmq.Frame, kind: str, request: pb.Request, admission: Admission
    ) -> None:
        """After the gate's decision on a request (``frame``: one of its frames)."""
        if admission.verdict is Verdict.REFUSED:
            if kind == "hello" or admission.reason == pb.REASON_ACCESS_DENIED:
                self._refused(peer_address(frame), kind, request, admission.reason)
            return
        if admission.session_ended:
            ending = "closed" if admission.verdict is Verdict.CLOSED else "replaced"
            self.ended(ending)
        if admission.verdict is Verdict.OPENED:
            client = request.hello.client_name or "a client"
            self._session = _Session(peer_address(frame), client)

    def handled(self, kind: str, data: Any, response: pb.Response, reply_data: Any) -> None:
        """After a request of the live session was handled."""
        session = self._session
        if session is None or response.type != pb.RESPONSE_TYPE_ACCEPTED:
            return
        completed = response.reason == pb.REASON_TRANSFER_COMPLETED
        if kind == "send_chunk":
            session.bytes_up += len(data) if data is not None else 0
            session.files_up += completed
        elif kind == "receive_chunk":
            session.bytes_down += len(reply_data) if reply_data is not None else 0
            session.files_down += completed
        elif kind == "upload_files":
            session.bytes_up += len(data) if data is not None else 0
            session.files_up += _files_completed(response)
        elif kind == "download_files":
            session.bytes_down += len(reply_data) if reply_data is not None else 0
            session.files_down += _files_completed(response)

    def ended(self, how: str) -> None:
        """The live session (if any) ended: ``closed``, ``expired``, ``replaced``,
        ``stopped``."""
        session, self._session = self._session, None
        if session is None:
            return
        duration = time.monotonic() - session.started
        facts = {
            "event": "session",
            "peer": session.peer,
            "client": session.client,
            "token": "accepted",
            "end": how,
            "duration_s": round(duration, 3),
            "bytes_up": session.bytes_up,
            "bytes_down": session.bytes_down,
            "files_up": session.files_up,
            "files_down": session.files_down,
        }
        logger.info(
            "session from %s (%s): token accepted, %s after %.3f s; up %d files, %d bytes; "
            "down %d files, %d bytes",
            session.peer,
            session.client,
            how,
            duration,
            session.files_up,
            session.bytes_up,
            session.files_down,
            session.bytes_down,
            extra={RECORD_ATTRIBUTE: facts},
        )

    @staticmethod
    def _refused(peer: str, kind: str, request: pb.Request, reason: pb.Reason.ValueType) -> None:
        # The gate checks the token first: any other refusal had the right one.
        token = "refused" if reason == pb.REASON_ACCESS_DENIED else "accepted"
        why = pb.Reason.Name(reason).removeprefix("REASON_").lower()
        facts = {
            "event": "session_refused",
            "peer": peer,
            "client": request.hello.client_name if kind == "hello" else "",
            "token": token,
            "reason": why,
            "request": kind,
        }
        logger.info(
            "session from %s refused (%s): token %s",
            peer,
            why,
            token,
            extra={RECORD_ATTRIBUTE: facts},
        )


def _files_completed(response: pb.Response) -> int:
    """The files of a batch that were transferred (SPEC.md 4.17, 4.18)."""
    return sum(file.reason == pb.REASON_TRANSFER_COMPLETED for file in response.batch.files)
