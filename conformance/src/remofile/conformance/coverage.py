"""Which case checks which MUST of SPEC.md: the coverage table of conformance/README.md.

Every paragraph, list item or table row of SPEC.md that holds MUST or MUST NOT is a
requirement, named by its section and item number (``3.7.4``: item 4 of section 3.7) or,
outside a numbered list, by its section and the order of its paragraph (``4.1/¶1``). Its
cases are those of its section and the sections below it, plus the ones named in
:data:`ALSO_CHECKED_BY`; a requirement no case can check from the wire says why in
:data:`UNTESTABLE`. A test fails when a requirement has neither, so a new MUST in the
spec needs a case or a reason before it lands.

``python tools/render_coverage.py`` writes the table into conformance/README.md;
``remofile-conformance --coverage`` prints it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from remofile.conformance.case import Case, section_key

#: Where SPEC.md is in a checkout (the suite's installed copy has no spec to read).
SPEC_PATH = Path(__file__).resolve().parents[4] / "proto" / "SPEC.md"

#: Sections whose MUSTs are about this document, not about peers.
_NOT_REQUIREMENTS = {"1.2"}

#: Cases outside a requirement's own section that check it, by case-ID prefix.
ALSO_CHECKED_BY: dict[str, tuple[str, ...]] = {
    "2.1.1": ("2.1/1", "6.2/1"),
    "2.1.4": ("2.1/1", "3.2/3"),
    "2.2.1/¶1": ("2.2.3/1",),
    "2.2.1/¶2": ("2.2.1/1", "2.2.3/3"),
    "3.2.4": ("3.2/1", "3.7/1"),
    "3.3.2": ("3.3/1", "3.3/2"),
    "3.4.2": ("3.4/2",),
    "3.4.4": ("3.4/1",),
    "4.1/¶1": ("6.2/1", "2.4/1"),
    "4.1.2/¶1": ("4.13/stateful/1",),
    "4.3.2": ("4.1.4/1", "4.13/stateful/1"),
    "4.3.4": ("2.2.3/", "2.4/"),
    "4.9.1/¶2": ("7.1/",),
    "4.9.2/¶1": ("4.6/UPLOAD/LIST_FILES/1", "4.5.5/1"),
    "7.1.4": ("7.1/1", "3.4/2", "3.7/1"),
    "7.1.5": ("7.1/1", "7.2/3"),
    "7.2.1": ("7.2/",),
    "7.2.5": ("4.10.2/DOWNLOAD/RECEIVE_CHUNK/2", "7.2/3"),
    "8.4": ("8/1", "2.2.3/3"),
    "A.1/¶1": ("2.2.1/2",),
}

#: Requirements no case can check through the wire, and why.
UNTESTABLE: dict[str, str] = {
    "2.1.2": "a client requirement (the suite is such a client: a DEALER socket)",
    "2.3.3": "a client requirement; the server's side of CURVE is checked when the suite "
    "runs with --public-key",
    "2.4.2": "a client requirement",
    "3.1.2": "about starting a server, which the suite does not do",
    "3.1.3": "about generating tokens; a token's entropy cannot be seen from one value",
    "3.1.4": "a constant-time comparison differs by nanoseconds, far below network jitter",
    "3.2.1": "a client requirement; the server's side is 3.4/1",
    "3.7.3": "a client requirement",
    "4.5.4/¶1": "about the server's own staging area, which no request can reach or plant "
    "a link in",
    "4.7/¶1": "an exclusive creation matters only against other processes on the server's machine",
    "4.14/¶1": "needs a move across file systems of the server's machine",
    "4.15/¶1": "a copy under way is invisible only between two of the server's own steps",
    "5/¶1": "a client requirement (the server's side is 2.4)",
    "5/¶2": "a client requirement",
    "6.1/¶1": "a client requirement (the suite keeps to the window it is given)",
    "6.4/¶1": "a client requirement",
}


@dataclass(frozen=True)
class Requirement:
    """One MUST of SPEC.md: where it is and, shortened, what it says."""

    id: str
    section: str
    text: str


def _blocks(text: str) -> list[tuple[str, str | None, list[str]]]:
    """(section, number of the list item it belongs to, lines) for every block."""
    blocks: list[tuple[str, str | None, list[str]]] = []
    section, item = "", None
    block: list[str] = []

    def flush() -> None:
        nonlocal block
        if block:
            blocks.append((section, item, block))
        block = []

    for line in text.splitlines():
        heading = re.match(r"^#{2,4} (?:Appendix )?([0-9A-Z]+(?:\.[0-9]+)*) ", line)
        if heading:
            flush()
            section, item = heading.group(1), None
            continue
        if not line.strip():
            flush()
            continue
        numbered = re.match(r"^(\d+)\. ", line)
        if numbered:
            flush()
            item = numbered.group(1)
        elif not block and not line.startswith(" "):
            item = None  # a block at the margin ends the list
        if re.match(r"^(- |\|)", line):
            flush()
        block.append(line)
    flush()
    return blocks


def spec_requirements(spec: str) -> list[Requirement]:
    """Every block of ``spec`` that says MUST or MUST NOT, in order."""
    requirements: list[Requirement] = []
    seen: set[str] = set()
    paragraphs: dict[str, int] = {}
    for section, item, lines in _blocks(spec):
        text = " ".join(line.strip() for line in lines)
        if section in _NOT_REQUIREMENTS or not re.search(r"\bMUST\b", text):
            continue
        if item is not None:
            identifier = f"{section}.{item}"
            if identifier in seen:
                continue  # another block of the same item: one requirement
        else:
            paragraphs[section] = paragraphs.get(section, 0) + 1
            identifier = f"{section}/¶{paragraphs[section]}"
        seen.add(identifier)
        requirements.append(Requirement(identifier, section, _excerpt(text)))
    return requirements


def _excerpt(text: str) -> str:
    """The sentence that holds the MUST, without markup, in at most 110 characters."""
    plain = re.sub(r"[*`]", "", re.sub(r"^(\d+\. |- |\| )", "", text))
    sentences = re.split(r"(?<=[.:;])\s+", plain)
    sentence = next((s for s in sentences if re.search(r"\bMUST\b", s)), plain)
    sentence = sentence.replace("|", "/")
    return sentence if len(sentence) <= 110 else sentence[:107].rstrip() + "..."


def cases_for(requirement: Requirement, cases: Sequence[Case]) -> list[str]:
    """The IDs of the cases that check ``requirement``: none for one listed untestable,
    whatever else its section's cases check."""
    if requirement.id in UNTESTABLE:
        return []
    section = requirement.section
    prefixes = ALSO_CHECKED_BY.get(requirement.id, ())
    return [
        case.id
        for case in cases
        if case.body is not None
        and (
            case.section == section
            or case.section.startswith(section + ".")
            or any(case.id.startswith(prefix) for prefix in prefixes)
        )
    ]


def _order(requirement: Requirement) -> tuple[bool, tuple[int, ...], str]:
    """Sections in order, the appendix (``A.1``) last."""
    return (not requirement.section[0].isdigit(), section_key(requirement.section), requirement.id)


def _cell(case_ids: list[str]) -> str:
    if len(case_ids) <= 4:
        return ", ".join(f"`{case_id}`" for case_id in case_ids)
    shown = ", ".join(f"`{case_id}`" for case_id in case_ids[:3])
    return f"{shown} and {len(case_ids) - 3} more"


def coverage_table(spec: str, cases: Sequence[Case]) -> str:
    """The Markdown table: requirement, what it says, the cases or why there are none."""
    lines = [
        "| Requirement | What it says | Checked by |",
        "|---|---|---|",
    ]
    requirements = sorted(spec_requirements(spec), key=_order)
    for requirement in requirements:
        case_ids = cases_for(requirement, cases)
        if case_ids:
            checked = _cell(case_ids)
        elif requirement.id in UNTESTABLE:
            checked = f"untestable from the wire: {UNTESTABLE[requirement.id]}"
        else:
            checked = "**nothing**"
        lines.append(f"| {requirement.id} | {requirement.text} | {checked} |")
    return "\n".join(lines) + "\n"


def uncovered(spec: str, cases: Sequence[Case]) -> list[str]:
    """Requirements with no case and no reason: each is a gap to close."""
    return [
        requirement.id
        for requirement in spec_requirements(spec)
        if not cases_for(requirement, cases) and requirement.id not in UNTESTABLE
    ]
