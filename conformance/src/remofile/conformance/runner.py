"""Runs cases against a server, inside a scratch directory it removes at the end.

The suite may be pointed at a real deployment, so it touches nothing but a directory
of its own, ``/conformance-<random>``, made at the start and removed at the end, even
when cases fail. It lists the root before and after and notes any difference.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import zmq
from google.protobuf import json_format
from remofile.conformance import messages
from remofile.conformance.case import Case
from remofile.conformance.context import CaseContext, SessionMemory, Target
from remofile.conformance.expect import CaseFailure, CaseSkip, accepted
from remofile.conformance.results import Result, RunReport, Status
from remofile.conformance.session import Session
from remofile.conformance.transcript import Transcript, message_dict
from remofile.conformance.wire import Connection
from remofile.v1 import remofile_pb2 as pb

#: Prefix of the scratch directory's name, made in the served root.
SCRATCH_PREFIX = "conformance-"

#: Most CONTINUE_REMOVAL requests spent removing the scratch directory.
MAX_REMOVAL_REQUESTS = 10_000

Progress = Callable[[Result], None]


def scratch_name() -> str:
    """A fresh, valid name for the scratch directory."""
    return SCRATCH_PREFIX + secrets.token_hex(6)


class SetupError(Exception):
    """The suite could not open a session or make its scratch directory."""


class Runner:
    """Runs cases one after the other, each with fresh sockets and a fresh session."""

    def __init__(self, target: Target, progress: Progress | None = None) -> None:
        self.target = target
        self.progress = progress
        self.memory = SessionMemory()
        #: The first case to fail each shared set-up step, by the failure's signature.
        self._roots: dict[tuple[str, str], str] = {}

    def run(self, cases: Sequence[Case]) -> RunReport:
        report = RunReport(self.target.endpoint)
        started = time.monotonic()
        context: zmq.Context[Any] = zmq.Context()
        try:
            try:
                root_before = self._set_up(context, report)
            except SetupError as error:
                report.setup_error = str(error)
                return report
            try:
                for index, case in enumerate(cases):
                    result = self.run_case(context, case, f"c{index:03d}", report.scratch)
                    self._block_repeats(result)
                    report.results.append(result)
                    if self.progress is not None:
                        self.progress(result)
                    if _went_silent(result) and not self._answers(context):
                        self._give_up(cases[index + 1 :], result, report)
                        break
            except KeyboardInterrupt:
                # Ctrl-C or SIGTERM: stop, but never leave the scratch directory behind.
                report.interrupted = True
                report.notes.append(
                    f"interrupted after {len(report.results)} of {len(cases)} cases"
                )
            finally:
                self._clean_up(context, report, root_before)
        finally:
            report.duration_s = time.monotonic() - started
            context.term()
        return report

    def run_case(
        self, context: zmq.Context[Any], case: Case, directory_name: str, scratch: str
    ) -> Result:
        """Run one case; whatever happens, its sessions are ended and sockets closed."""
        transcript = Transcript(self.target.token)
        ctx = CaseContext(self.target, context, scratch, directory_name, transcript, self.memory)
        started = time.monotonic()
        status, failure, reason = Status.PASS, None, None
        try:
            if case.body is None:
                status, reason = Status.SKIP, case.skip_reason or "no body"
            else:
                case.body(ctx)
        except CaseSkip as skip:
            status, reason = Status.SKIP, skip.reason
        except CaseFailure as error:
            status, failure = Status.FAIL, error
            transcript.mark_failure()
        except Exception as error:
            status = Status.ERROR
            transcript.mark_failure()
            reason = (
                "the suite itself failed: "
                + "".join(traceback.format_exception_only(type(error), error)).strip()
            )
            transcript.note(traceback.format_exc())
        finally:
            ctx.close()
        return Result(case, status, time.monotonic() - started, transcript, failure, reason)

    def _block_repeats(self, result: Result) -> None:
        """A failure in a shared set-up step (opening a session, making the standard
        fixture) that an earlier case already met is that case's failure again: mark
        this one BLOCKED by it, so that one defect is reported once, not 100 times."""
        failure = result.failure
        if result.status is not Status.FAIL or failure is None:
            return
        if not _is_set_up_step(failure.step):
            return
        signature = (_generic(failure.step), _generic(failure.problem))
        root = self._roots.setdefault(signature, result.case.id)
        if root != result.case.id:
            result.status = Status.BLOCKED
            result.blocked_by = root
            result.reason = f"blocked by {root}: {failure.step}: {failure.problem}"

    def _answers(self, context: zmq.Context[Any]) -> bool:
        """Whether the server still answers a HELLO on a fresh socket."""
        session = self._session(context, Transcript(self.target.token))
        try:
            reply = session.quietly(messages.hello(), "is the server still answering?")
            if reply is not None and reply.response.HasField("session_opened"):
                session.session_id = reply.response.session_opened.session_id
                session.quietly(messages.goodbye(), "close the probe's session")
            return reply is not None
        finally:
            session.connection.close()

    def _give_up(self, rest: Sequence[Case], culprit: Result, report: RunReport) -> None:
        """The server stopped answering: fail the cases left without running them (4.3.4)."""
        problem = (
            f"not run: the server stopped answering during case {culprit.case.id} "
            "(a server must go on serving whatever a client sends, 4.3.4)"
        )
        report.notes.append(problem)
        for case in rest:
            transcript = Transcript(self.target.token)
            if case.body is None:
                result = Result(case, Status.SKIP, 0.0, transcript, None, case.skip_reason)
            else:
                result = Result(case, Status.FAIL, 0.0, transcript, CaseFailure("the run", problem))
            report.results.append(result)
            if self.progress is not None:
                self.progress(result)

    # -- the scratch directory ---------------------------------------------------------

    def _session(self, context: zmq.Context[Any], transcript: Transcript) -> Session:
        connection = Connection(
            context,
            self.target.endpoint,
            label="suite",
            transcript=transcript,
            timeout_ms=self.target.timeout_ms,
            server_key=self.target.public_key,
        )
        return Session(connection, self.target.token)

    def _root_names(self, session: Session) -> set[str] | None:
        """The names in the directory the suite works in (the root by default)."""
        reply = session.quietly(
            messages.list_files(self.target.directory), "list the directory the suite works in"
        )
        if reply is None or reply.response.reason != pb.REASON_FILES_LISTED:
            return None
        if reply.response.file_list.truncated:
            return None
        return {entry.name for entry in reply.response.file_list.entries}

    def _set_up(self, context: zmq.Context[Any], report: RunReport) -> set[str] | None:
        transcript = Transcript(self.target.token)
        session = self._session(context, transcript)
        try:
            try:
                opened = session.hello("open a session to set up")
            except CaseFailure as failure:
                # A SessionOpened with faulty fields still opened a session: the cases
                # that check it (3.2/1) fail, the run goes on. Only no session at all
                # (no answer, a wrong token, a busy server) keeps the suite from running.
                if not session.session_id or not isinstance(failure.seen, dict):
                    raise SetupError(_setup_problem(failure)) from failure
                report.notes.append(f"the set-up HELLO found a fault: {failure.problem}")
                opened = pb.SessionOpened(session_id=session.session_id)
                opened.MergeFrom(_opened_of(failure.seen))
            self.memory.last_session_id = opened.session_id
            self.memory.session_timeout_ms = opened.session_timeout_ms
            server = message_dict(opened)
            server.pop("session_id", None)
            report.server = server
            root_before = self._root_names(session)
            name = scratch_name()
            parent = self.target.directory
            scratch = f"{parent.rstrip('/')}/{name}"
            try:
                session.call(
                    messages.make_directory(parent, name),
                    [accepted("DIRECTORY_CREATED")],
                    "make the scratch directory",
                )
            except CaseFailure as failure:
                raise SetupError(
                    f"could not make the scratch directory {scratch}: {failure}"
                ) from failure
            report.scratch = scratch
            session.quietly(messages.goodbye(), "close the set-up session")
            return root_before
        finally:
            session.connection.close()

    def _clean_up(
        self, context: zmq.Context[Any], report: RunReport, root_before: set[str] | None
    ) -> None:
        transcript = Transcript(self.target.token)
        session = self._session(context, transcript)
        try:
            try:
                session.hello("open a session to clean up")
            except CaseFailure as failure:
                # A faulty SessionOpened still opened a session: clean up with it.
                if not (session.session_id and isinstance(failure.seen, dict)):
                    if not self.memory.last_session_id:
                        raise
                    session.session_id = self.memory.last_session_id
                    session.hello("replace the last session to clean up", replace=True)
            session.quietly(messages.cancel_transfer(), "abandon any transfer")
            if not _remove_tree(session, report.scratch):
                report.notes.append(f"could not remove the scratch directory {report.scratch}")
            root_after = self._root_names(session)
            if root_before is not None and root_after is not None and root_before != root_after:
                report.notes.append(
                    f"{self.target.directory} changed during the run: "
                    f"new {sorted(root_after - root_before)}, gone {sorted(root_before - root_after)}"
                )
            session.quietly(messages.goodbye(), "close the clean-up session")
        except CaseFailure as failure:
            report.notes.append(f"could not clean up {report.scratch}: {failure}")
        finally:
            session.connection.close()


#: Words of the steps every case shares: opening its session, making its fixture.
_SET_UP_STEPS = re.compile(r"^(set-up|open a session|replace the (stale|last) session)")


def _is_set_up_step(step: str) -> bool:
    return bool(_SET_UP_STEPS.match(step))


def _generic(text: str) -> str:
    """``text`` without what differs from case to case: the case's own directory."""
    return re.sub(r"/c\d{3}\b", "/c...", text)


def _opened_of(seen: dict[str, Any]) -> pb.SessionOpened:
    """The SessionOpened a faulty reply held, as far as it can be read back."""
    opened = pb.SessionOpened()
    fields = seen.get("session_opened")
    if isinstance(fields, dict):
        with contextlib.suppress(json_format.ParseError):
            json_format.ParseDict(fields, opened, ignore_unknown_fields=True)
    return opened


def _went_silent(result: Result) -> bool:
    return result.failure is not None and result.failure.seen == "no reply"


def _remove_tree(session: Session, path: str) -> bool:
    """Remove a directory through REMOVE_FILE and CONTINUE_REMOVAL; whether it is gone."""
    reply = session.quietly(messages.remove_file(path), f"remove {path}")
    for _ in range(MAX_REMOVAL_REQUESTS):
        if reply is None:
            return False
        reason = reply.response.reason
        if reason == pb.REASON_FILE_REMOVED:
            return True
        if reason not in (pb.REASON_REMOVAL_STARTED, pb.REASON_ENTRIES_REMOVED):
            return False
        reply = session.quietly(messages.continue_removal(), f"remove {path}")
    return False


def _setup_problem(failure: CaseFailure) -> str:
    seen = failure.seen
    if isinstance(seen, dict) and seen.get("reason") == "REASON_ACCESS_DENIED":
        return "the server refused the token (REFUSED ACCESS_DENIED)"
    if isinstance(seen, dict) and seen.get("reason") == "REASON_SERVER_BUSY":
        return "the server is busy with another client (REFUSED SERVER_BUSY)"
    if seen == "no reply":
        return f"no reply to HELLO: {failure.problem} (is the endpoint right? the CURVE key?)"
    return f"HELLO failed: {failure}"
