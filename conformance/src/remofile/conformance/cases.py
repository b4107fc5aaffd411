"""The catalogue: every case of the suite, generated from the spec's tables.

One case per outcome of every row of :func:`remofile.core.transitions.all_rules`
(illegal pairs included), one per row of :data:`remofile.core.sessions.SESSION_CASES`,
then the cases of requirements outside the tables. Because the first two kinds are
generated, the table and the suite cannot drift apart; a test checks it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from remofile.conformance import (
    batch_cases,
    change_cases,
    frame_cases,
    requirement_cases,
    session_cases,
    stateful,
)
from remofile.conformance.case import Case, section_key
from remofile.conformance.context import UNPROVOKABLE
from remofile.conformance.spec import reason_name, type_name
from remofile.conformance.transition_cases import body_for
from remofile.core.sessions import SESSION_CASES
from remofile.core.transitions import ILLEGAL_SECTION, all_rules, case_id

#: Titles of the sections cases are grouped under, from SPEC.md.
SECTION_TITLES = {
    "2.1": "ZeroMQ sockets",
    "2.2.1": "Frames of a request",
    "2.2.2": "Frames of a response",
    "2.2.3": "Malformed messages",
    "2.4": "Message size",
    "3.1": "Token",
    "3.2": "Opening a session: HELLO",
    "3.3": "One client at a time: SERVER_BUSY",
    "3.4": "Expiry",
    "3.5": "Closing a session: GOODBYE",
    "3.6": "Order of checks",
    "3.7": "Recovering a session",
    "4.1.4": "Payloads and messages",
    "4.4": "File name validity",
    "4.5.1": "Path syntax",
    "4.5.2": "Resolution and the jail",
    "4.5.5": "Conflict modes: refusing or replacing an existing name",
    "4.6": "LIST_FILES",
    "4.7": "CREATE_FILE",
    "4.8": "MAKE_DIRECTORY",
    "4.9.1": "UPLOAD_FILE",
    "4.9.2": "SEND_CHUNK",
    "4.10.1": "DOWNLOAD_FILE",
    "4.10.2": "RECEIVE_CHUNK",
    "4.11.1": "REMOVE_FILE",
    "4.11.2": "CONTINUE_REMOVAL",
    "4.12": "CANCEL_TRANSFER",
    "4.13": "The transition table: illegal requests and random sequences",
    "4.14": "MOVE_FILE",
    "4.15": "COPY_FILE",
    "4.16": "FILE_DIGEST",
    "4.17": "UPLOAD_FILES",
    "4.18": "DOWNLOAD_FILES",
    "6.2": "Pipelining: order",
    "6.5": "Pipelining: errors",
    "7.1": "Resuming transfers",
    "7.2": "Digests",
    "7.3": "Compression",
    "8": "Versioning and evolution",
    "8.5": "Optional features",
}


def table_cases() -> list[Case]:
    """One case per outcome of every (state, request) pair (4.13)."""
    cases = []
    for rule in all_rules():
        for index, outcome in enumerate(rule.outcomes, start=1):
            answer = f"{type_name(outcome.response_type)} {reason_name(outcome.reason)}"
            if rule.section == ILLEGAL_SECTION:
                title = f"{rule.kind.name} in {rule.state.name}, where it is not allowed"
            else:
                title = f"{rule.kind.name} in {rule.state.name} when {outcome.when}"
            body = body_for(rule, index)
            cases.append(
                Case(
                    case_id(rule, index),
                    title,
                    outcome.when,
                    f"{answer}, then state {outcome.next_state.name}",
                    body,
                    None if body is not None else UNPROVOKABLE,
                )
            )
    return cases


def session_table_cases() -> list[Case]:
    """One case per row of the session table (section 3)."""
    cases = []
    for row in SESSION_CASES:
        cases.append(
            Case(
                row.case,
                f"{row.request} when {row.condition}",
                f"{row.request} when {row.condition}: {type_name(row.response_type)} "
                f"{reason_name(row.reason)}",
                f"{type_name(row.response_type)} {reason_name(row.reason)}",
                session_cases.BODIES.get(row.case),
            )
        )
    return cases


def all_cases() -> list[Case]:
    """Every case, sorted by section, in table order within a section."""
    cases = [
        *table_cases(),
        *session_table_cases(),
        *session_cases.ORDER.cases,
        *frame_cases.CASES.cases,
        *requirement_cases.CASES.cases,
        *change_cases.CASES.cases,
        *batch_cases.CASES.cases,
        stateful.CASE,
    ]
    return sorted(cases, key=lambda case: section_key(case.section))


def matches(case_identifier: str, selectors: Iterable[str]) -> bool:
    """Whether a case ID falls under one of the selectors (a section or an ID prefix).

    ``4.9`` selects ``4.9.1/...`` and ``4.9.2/...`` but not ``4.90``; ``4.13/UPLOAD``
    selects the illegal requests in UPLOAD.
    """
    for selector in selectors:
        selector = selector.rstrip("/")
        if case_identifier == selector or case_identifier.startswith(
            (selector + "/", selector + ".")
        ):
            return True
    return False


def select(cases: Sequence[Case], selectors: Sequence[str]) -> list[Case]:
    """The cases under any of ``selectors``; all of them if there are none."""
    if not selectors:
        return list(cases)
    return [case for case in cases if matches(case.id, selectors)]
