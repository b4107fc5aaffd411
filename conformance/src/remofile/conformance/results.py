"""What came of each case, and the expected-failures file enforced in both directions.

As in protobuf's conformance runner, a case listed as expected to fail that fails is
fine, but a listed case that passes is an error: the entry is stale and must go, so
the list cannot hide a fix any more than a regression.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remofile.conformance.case import Case
from remofile.conformance.context import UNPROVOKABLE
from remofile.conformance.expect import CaseFailure
from remofile.conformance.transcript import Transcript


class Status(enum.Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"
    #: Failed, and listed in the expected-failures file.
    XFAIL = "XFAIL"
    #: Passed, but listed in the expected-failures file: the entry is stale.
    STALE = "STALE"
    #: The suite itself broke while running the case (a bug of the suite).
    ERROR = "ERROR"
    #: Failed in a shared set-up step that an earlier case already failed the same way:
    #: reported once, as that case's failure, and not counted again.
    BLOCKED = "BLOCKED"

    @property
    def is_failure(self) -> bool:
        """Whether this outcome makes the run fail (exit status 1)."""
        return self in (Status.FAIL, Status.STALE, Status.ERROR)


@dataclass
class Result:
    case: Case
    status: Status
    duration_s: float
    transcript: Transcript
    failure: CaseFailure | None = None
    #: Why the case was skipped, or what the suite error was, or which case blocked it.
    reason: str | None = None
    #: For BLOCKED: the case whose identical set-up failure this one repeats.
    blocked_by: str | None = None


@dataclass
class RunReport:
    """Everything one run found, for the reports."""

    endpoint: str
    results: list[Result] = field(default_factory=list)
    #: The server's SessionOpened, as JSON-ready data (session id left out).
    server: dict[str, Any] = field(default_factory=dict)
    scratch: str = ""
    duration_s: float = 0.0
    #: Remarks about the run itself (clean-up, the served root), not about a case.
    notes: list[str] = field(default_factory=list)
    #: Why the suite could not run at all, if it could not.
    setup_error: str | None = None
    #: Entries of the expected-failures file that name no case of the suite.
    unknown_expected: list[str] = field(default_factory=list)
    #: With --strict, skipped cases fail the run (except those no wire can provoke).
    strict: bool = False
    #: Stopped by Ctrl-C or SIGTERM before every case ran.
    interrupted: bool = False

    def count(self, status: Status) -> int:
        return sum(1 for result in self.results if result.status is status)

    @property
    def failed(self) -> bool:
        """Whether the run fails: a failure, a stale or unknown entry, or no run at all."""
        return (
            self.setup_error is not None
            or bool(self.unknown_expected)
            or any(result.status.is_failure for result in self.results)
            or (self.strict and bool(self.untested()))
        )

    def untested(self) -> list[Result]:
        """Skipped cases that a different server or run could have tested: not those
        that no request can provoke (a server failure, a full disk)."""
        return [
            result
            for result in self.results
            if result.status is Status.SKIP and result.reason != UNPROVOKABLE
        ]


def read_expected_failures(path: str | Path) -> list[str]:
    """Case IDs from a file of one ID a line; blank lines and ``#`` comments are ignored."""
    entries = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            entries.append(entry)
    return entries


def apply_expected_failures(
    report: RunReport, expected: Iterable[str], every_case: Sequence[Case]
) -> None:
    """Turn listed failures into XFAIL and listed passes into STALE; note unknown IDs."""
    listed = set(expected)
    known = {case.id for case in every_case}
    report.unknown_expected = sorted(listed - known)
    for result in report.results:
        if result.case.id not in listed:
            continue
        if result.status is Status.FAIL:
            result.status = Status.XFAIL
        elif result.status is Status.PASS:
            result.status = Status.STALE
            result.reason = (
                "listed in the expected-failures file, but passed: remove the stale entry"
            )
