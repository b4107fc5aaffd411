"""What a case accepts as the answer to one request, and how a case fails or is skipped.

A step of a case names the replies it accepts (a set, because the spec sometimes
allows several), each with an optional check of its payload. A reply outside the set,
a payload that fails its check, or a reply that breaks the general rules of section 4.1
fails the case with a :class:`CaseFailure` that says what was sent, what was expected
and what came back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from remofile.conformance.spec import reason_name, reason_value, type_name
from remofile.conformance.wire import Reply
from remofile.v1 import remofile_pb2 as pb

#: A check of a reply's payload or data: a problem to report, or None if all is well.
ReplyCheck = Callable[[Reply], "str | None"]


@dataclass(frozen=True)
class Accept:
    """One acceptable reply: a type and a reason, and what its payload must hold."""

    response_type: pb.ResponseType.ValueType
    reason: pb.Reason.ValueType
    check: ReplyCheck | None = None
    #: What the check requires, in words, for the report.
    note: str = ""

    def matches(self, response: pb.Response) -> bool:
        return response.type == self.response_type and response.reason == self.reason

    def describe(self) -> str:
        text = f"{type_name(self.response_type)} {reason_name(self.reason)}"
        return f"{text} ({self.note})" if self.note else text


def accepted(reason: str, check: ReplyCheck | None = None, note: str = "") -> Accept:
    return Accept(pb.RESPONSE_TYPE_ACCEPTED, reason_value(reason), check, note)


def refused(reason: str, note: str = "") -> Accept:
    return Accept(pb.RESPONSE_TYPE_REFUSED, reason_value(reason), None, note)


def error(reason: str, note: str = "") -> Accept:
    return Accept(pb.RESPONSE_TYPE_ERROR, reason_value(reason), None, note)


def bad_request(note: str = "") -> Accept:
    return error("BAD_REQUEST", note)


def all_of(*checks: ReplyCheck) -> ReplyCheck:
    """A check that runs ``checks`` in order and reports the first problem."""

    def run(reply: Reply) -> str | None:
        for check in checks:
            problem = check(reply)
            if problem:
                return problem
        return None

    return run


class CaseFailure(Exception):
    """The server did not do what the spec requires at one step of a case."""

    def __init__(
        self,
        step: str,
        problem: str,
        *,
        sent: dict[str, Any] | None = None,
        expected: Sequence[str] = (),
        seen: dict[str, Any] | str | None = None,
    ) -> None:
        super().__init__(f"{step}: {problem}")
        self.step = step
        self.problem = problem
        self.sent = sent
        self.expected = list(expected)
        self.seen = seen


class CaseSkip(Exception):
    """The case cannot be run against this server; the reason says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def require(condition: bool, step: str, problem: str) -> None:
    """Fail the case at ``step`` unless ``condition`` holds."""
    if not condition:
        raise CaseFailure(step, problem)
