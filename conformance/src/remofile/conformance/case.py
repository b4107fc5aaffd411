"""What a conformance case is: an identifier from the spec, words, and a body to run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from remofile.conformance.context import CaseContext

Body = Callable[[CaseContext], None]


@dataclass(frozen=True)
class Case:
    """One requirement of SPEC.md, checked against a live server.

    ``id`` is the spec's identifier (``4.9.2/UPLOAD/SEND_CHUNK/2``, ``3.3/1``,
    ``2.2.3/1``...); its part before the first ``/`` is the section.
    """

    id: str
    #: What the case sends, in one line.
    title: str
    #: The requirement it checks, in the words of the spec.
    requirement: str
    #: The replies (and state) the spec accepts, in one line.
    expected: str
    #: None when the case is always skipped (see ``skip_reason``).
    body: Body | None
    skip_reason: str | None = None

    @property
    def section(self) -> str:
        return self.id.split("/", 1)[0]


def section_key(section: str) -> tuple[int, ...]:
    """Sort key of a section number: ``4.10.1`` after ``4.9.2``."""
    return tuple(int(part) for part in section.split(".") if part.isdigit())


class CaseList:
    """Cases a module defines with the :meth:`define` decorator, in order."""

    def __init__(self) -> None:
        self.cases: list[Case] = []

    def define(
        self, case_id: str, title: str, requirement: str, expected: str
    ) -> Callable[[Body], Body]:
        def register(body: Body) -> Body:
            self.cases.append(Case(case_id, title, requirement, expected, body))
            return body

        return register
