"""One client's session as the suite drives it: token and session id filled in, replies judged.

A :class:`Session` sends requests on a :class:`~remofile.conformance.wire.Connection`
and checks every reply against the set a step accepts and the general rules of the
spec (:func:`remofile.conformance.spec.response_problems`). It is not a client library:
it never retries, never hides a reply, and can be told to send a wrong token or
session id.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from remofile.conformance import messages
from remofile.conformance.expect import Accept, CaseFailure, accepted
from remofile.conformance.spec import response_problems, session_opened_problems
from remofile.conformance.transcript import message_dict, response_label
from remofile.conformance.wire import BrokenReply, Connection, NoReply, Reply, SendFailed
from remofile.v1 import remofile_pb2 as pb

#: Most requests the suite keeps in flight when it pipelines (within the server's window).
PIPELINE_WINDOW = 16


def _seen(reply: Reply) -> dict[str, Any]:
    seen = message_dict(reply.response)
    if reply.data is not None:
        seen["data_frame_bytes"] = len(reply.data)
    return seen


def judge(
    reply: Reply,
    request: pb.Request,
    accept: Sequence[Accept],
    step: str,
    sent: dict[str, Any],
) -> Reply:
    """Return the reply if it is one of ``accept`` and well formed; else fail the case."""
    expected = [option.describe() for option in accept]
    problems = response_problems(reply.response, reply.has_data, messages.kind_of(request))
    if problems:
        raise CaseFailure(
            step, "; ".join(problems), sent=sent, expected=expected, seen=_seen(reply)
        )
    for option in accept:
        if option.matches(reply.response):
            problem = option.check(reply) if option.check is not None else None
            if problem:
                raise CaseFailure(step, problem, sent=sent, expected=expected, seen=_seen(reply))
            return reply
    raise CaseFailure(
        step,
        f"unexpected reply {response_label(reply.response)}",
        sent=sent,
        expected=expected,
        seen=_seen(reply),
    )


class Session:
    """A session of one client (possibly not opened yet) on one connection.

    :param token: the token to put in every request.
    """

    def __init__(self, connection: Connection, token: str) -> None:
        self.connection = connection
        self.token = token
        self.session_id = b""
        self.opened: pb.SessionOpened | None = None
        self.closed = False
        #: Every UPLOAD_FILE sent, as a resuming request, so staged data can be discarded.
        self.uploads: list[pb.Request] = []

    @property
    def label(self) -> str:
        return self.connection.label

    def stamp(
        self, request: pb.Request, token: str | None = None, session_id: bytes | None = None
    ) -> pb.Request:
        """A copy of the request carrying the token and session id (or the ones given)."""
        stamped = pb.Request()
        stamped.CopyFrom(request)
        stamped.token = self.token if token is None else token
        stamped.session_id = self.session_id if session_id is None else session_id
        return stamped

    def send(
        self,
        request: pb.Request,
        data: bytes | None = None,
        *,
        token: str | None = None,
        session_id: bytes | None = None,
        note: str = "",
    ) -> pb.Request:
        """Send without waiting; returns the request as sent."""
        stamped = self.stamp(request, token, session_id)
        if request.HasField("upload_file"):
            resume = pb.Request(upload_file=request.upload_file)
            resume.upload_file.resume = True
            if resume not in self.uploads:
                self.uploads.append(resume)
        try:
            self.connection.send(stamped, data, note)
        except SendFailed as error:
            raise CaseFailure(note or "send", str(error)) from error
        return stamped

    def receive(
        self, sent: pb.Request, accept: Sequence[Accept], step: str, timeout_ms: int | None = None
    ) -> Reply:
        """Receive the reply to ``sent`` and judge it."""
        described = self.connection.transcript.request_dict(sent)
        expected = [option.describe() for option in accept]
        try:
            reply = self.connection.receive(timeout_ms)
        except NoReply as error:
            raise CaseFailure(
                step, str(error), sent=described, expected=expected, seen="no reply"
            ) from error
        except BrokenReply as error:
            raise CaseFailure(
                step,
                error.problem,
                sent=described,
                expected=expected,
                seen=f"{len(error.frames)} frame(s) that are not a response",
            ) from error
        if reply.response.HasField("session_opened"):
            # Even an unexpected session is remembered, so that clean-up can close it
            # rather than leave the server busy for the cases that follow.
            self.session_id = reply.response.session_opened.session_id
            self.closed = False
        return judge(reply, sent, accept, step, described)

    def call(
        self,
        request: pb.Request,
        accept: Sequence[Accept],
        step: str,
        data: bytes | None = None,
        *,
        token: str | None = None,
        session_id: bytes | None = None,
    ) -> Reply:
        """Send one request and judge its reply against ``accept``."""
        sent = self.send(request, data, token=token, session_id=session_id, note=step)
        return self.receive(sent, accept, step)

    def pipeline(
        self,
        calls: Iterable[tuple[pb.Request, bytes | None, Sequence[Accept], str]],
        window: int = PIPELINE_WINDOW,
    ) -> list[Reply]:
        """Send requests with up to ``window`` in flight; judge each reply in order."""
        in_flight: deque[tuple[pb.Request, Sequence[Accept], str]] = deque()
        replies: list[Reply] = []
        limit = max(1, min(window, self.opened.max_requests_in_flight if self.opened else 1))
        for request, data, accept, step in calls:
            if len(in_flight) >= limit:
                sent, expect, what = in_flight.popleft()
                replies.append(self.receive(sent, expect, what))
            in_flight.append((self.send(request, data, note=step), accept, step))
        while in_flight:
            sent, expect, what = in_flight.popleft()
            replies.append(self.receive(sent, expect, what))
        return replies

    # -- the session layer (section 3) -----------------------------------------------

    def hello(
        self,
        step: str = "open a session with HELLO",
        replace: bool = False,
        client_key: bytes = b"",
    ) -> pb.SessionOpened:
        """Open a session (or replace this one, by its id or by ``client_key``, 3.7);
        fail the case unless SESSION_OPENED."""

        def well_formed(reply: Reply) -> str | None:
            problems = session_opened_problems(reply.response.session_opened)
            return "; ".join(problems) or None

        reply = self.call(
            messages.hello(client_key=client_key),
            [accepted("SESSION_OPENED", well_formed, "a complete SessionOpened")],
            step,
            session_id=self.session_id if replace else b"",
        )
        self.opened = reply.response.session_opened
        self.session_id = self.opened.session_id
        self.closed = False
        return self.opened

    def goodbye(self, step: str = "close the session with GOODBYE") -> None:
        self.call(messages.goodbye(), [accepted("SESSION_CLOSED")], step)
        self.closed = True

    def quietly(
        self, request: pb.Request, note: str, timeout_ms: int | None = None
    ) -> Reply | None:
        """Send a request and take whatever comes back, judging nothing (for clean-up)."""
        try:
            self.connection.send(self.stamp(request), None, note)
            return self.connection.receive(timeout_ms)
        except (NoReply, BrokenReply, SendFailed):
            return None
