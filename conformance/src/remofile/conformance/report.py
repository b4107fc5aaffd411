"""The three reports of a run: a summary to read, JUnit XML for CI, and JSON with transcripts."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from itertools import groupby
from pathlib import Path
from typing import Any

from remofile.conformance.case import section_key
from remofile.conformance.cases import SECTION_TITLES
from remofile.conformance.results import Result, RunReport, Status
from remofile.conformance.transcript import render_event

#: Transcript lines printed under a failure in the summary, unless verbose.
TAIL_EVENTS = 12

_INDENT = " " * 8


def section_heading(section: str) -> str:
    title = SECTION_TITLES.get(section)
    return f"{section} {title}" if title else section


def result_line(result: Result) -> str:
    """``  PASS  4.6/IDLE/LIST_FILES/1  LIST_FILES in IDLE when ...``"""
    line = f"  {result.status.value:<5} {result.case.id}  {result.case.title}"
    if result.status is Status.SKIP and result.reason:
        line += f"  [{result.reason}]"
    if result.status is Status.BLOCKED and result.blocked_by:
        line += f"  [blocked by {result.blocked_by}]"
    return line


def _compact(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def failure_details(result: Result, verbose: bool = False) -> Iterator[str]:
    """The lines under a failed case: the request, the replies accepted, the reply seen."""
    failure = result.failure
    yield f"{_INDENT}requirement: {result.case.requirement}"
    if failure is not None:
        yield f"{_INDENT}step:        {failure.step}"
        for index, line in enumerate(failure.problem.splitlines()):
            yield f"{_INDENT}{'problem:     ' if index == 0 else ' ' * 13}{line}"
        if failure.sent is not None:
            yield f"{_INDENT}sent:        {_compact(failure.sent)}"
        if failure.expected:
            yield f"{_INDENT}expected:    {' | '.join(failure.expected)}"
        if failure.seen is not None:
            yield f"{_INDENT}seen:        {_compact(failure.seen)}"
    elif result.reason:
        yield f"{_INDENT}{result.reason}"
    transcript = result.transcript
    events = transcript.events if verbose else transcript.up_to_failure(TAIL_EVENTS)
    if events:
        heading = "transcript" if verbose else "transcript up to the failure (-v for all)"
        yield f"{_INDENT}{heading}:"
        for event in events:
            yield f"{_INDENT}  {render_event(event)}"


def summary(report: RunReport, verbose: bool = False) -> str:
    """The readable summary: every case by section, details of failures, the totals."""
    lines = [f"Remofile conformance suite against {report.endpoint}"]
    if report.server:
        lines.append(
            f"server {report.server.get('server_name', '?')!r}, protocol "
            f"{report.server.get('protocol_version', '?')}, scratch directory {report.scratch}"
        )
    if report.setup_error:
        lines.append(f"could not run: {report.setup_error}")
        return "\n".join(lines) + "\n"
    for section, results in groupby(report.results, key=lambda result: result.case.section):
        lines.append("")
        lines.append(section_heading(section))
        for result in results:
            lines.append(result_line(result))
            if result.status in (Status.FAIL, Status.ERROR, Status.STALE) or (
                verbose and result.status is Status.XFAIL
            ):
                lines.extend(failure_details(result, verbose))
    lines.append("")
    untested = report.untested()
    if untested:
        lines.append(
            f"Not tested ({len(untested)} case{'s' if len(untested) != 1 else ''}"
            f"{'; --strict makes this a failure' if not report.strict else ', and --strict is on'}):"
        )
        for reason, group in groupby(
            sorted(untested, key=lambda result: result.reason or ""),
            key=lambda result: result.reason or "",
        ):
            ids = [result.case.id for result in group]
            lines.append(f"  {reason}: {', '.join(ids)}")
        lines.append("")
    blocked = [result for result in report.results if result.status is Status.BLOCKED]
    if blocked:
        lines.append(
            f"Blocked ({len(blocked)} cases): they failed in the same shared set-up step as an "
            "earlier case, whose failure above is the one to fix:"
        )
        for root, group in groupby(
            sorted(blocked, key=lambda result: result.blocked_by or ""),
            key=lambda result: result.blocked_by or "",
        ):
            lines.append(f"  by {root}: {len(list(group))} cases")
        lines.append("")
    for note in report.notes:
        lines.append(f"note: {note}")
    for entry in report.unknown_expected:
        lines.append(
            f"error: the expected-failures file lists {entry!r}, which is no case of the suite"
        )
    lines.append(totals(report))
    return "\n".join(lines) + "\n"


def totals(report: RunReport) -> str:
    counts = ", ".join(
        f"{report.count(status)} {label}"
        for status, label in (
            (Status.PASS, "passed"),
            (Status.FAIL, "failed"),
            (Status.SKIP, "skipped"),
            (Status.XFAIL, "expected failures"),
            (Status.STALE, "stale expected failures"),
            (Status.ERROR, "suite errors"),
            (Status.BLOCKED, "blocked"),
        )
        if report.count(status) or status in (Status.PASS, Status.FAIL, Status.SKIP)
    )
    verdict = "INTERRUPTED" if report.interrupted else "FAILED" if report.failed else "OK"
    return f"{verdict}: {len(report.results)} cases, {counts} in {report.duration_s:.1f} s"


def _failure_text(result: Result) -> str:
    return "\n".join(line.strip() for line in failure_details(result, verbose=True))


def junit_xml(report: RunReport) -> str:
    """JUnit XML, one testsuite per spec section, one testcase per case."""
    root = ET.Element("testsuites", name="remofile-conformance", time=f"{report.duration_s:.3f}")
    if report.setup_error:
        suite = ET.SubElement(
            root, "testsuite", name="setup", tests="1", failures="0", errors="1", skipped="0"
        )
        case = ET.SubElement(suite, "testcase", classname="remofile.conformance", name="setup")
        ET.SubElement(case, "error", message=report.setup_error)
    ordered = sorted(report.results, key=lambda result: section_key(result.case.section))
    for section, group in groupby(ordered, key=lambda result: result.case.section):
        results = list(group)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=section_heading(section),
            tests=str(len(results)),
            failures=str(sum(result.status is Status.FAIL for result in results)),
            errors=str(sum(result.status in (Status.ERROR, Status.STALE) for result in results)),
            skipped=str(
                sum(
                    result.status in (Status.SKIP, Status.XFAIL, Status.BLOCKED)
                    for result in results
                )
            ),
            time=f"{sum(result.duration_s for result in results):.3f}",
        )
        for result in results:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"remofile.conformance.{section}",
                name=result.case.id,
                time=f"{result.duration_s:.3f}",
            )
            if result.status is Status.FAIL:
                message = result.failure.problem if result.failure else "failed"
                ET.SubElement(case, "failure", message=message).text = _failure_text(result)
            elif result.status in (Status.ERROR, Status.STALE):
                ET.SubElement(case, "error", message=result.reason or "error").text = _failure_text(
                    result
                )
            elif result.status in (Status.SKIP, Status.BLOCKED):
                ET.SubElement(case, "skipped", message=result.reason or "skipped")
            elif result.status is Status.XFAIL:
                message = result.failure.problem if result.failure else "failed"
                ET.SubElement(case, "skipped", message=f"expected failure: {message}")
            ET.SubElement(case, "system-out").text = result.transcript.text()
    for entry in report.unknown_expected:
        suite = ET.SubElement(root, "testsuite", name="expected-failures", tests="1", errors="1")
        case = ET.SubElement(suite, "testcase", classname="remofile.conformance", name=entry)
        ET.SubElement(case, "error", message="the expected-failures file names no such case")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def json_report(report: RunReport, all_transcripts: bool = False) -> dict[str, Any]:
    """Everything of the run as JSON-ready data, with a decoded transcript for every case
    that did not pass (for every case with ``all_transcripts``)."""
    cases = []
    for result in report.results:
        entry: dict[str, Any] = {
            "id": result.case.id,
            "section": result.case.section,
            "title": result.case.title,
            "requirement": result.case.requirement,
            "expected": result.case.expected,
            "status": result.status.value,
            "duration_ms": round(result.duration_s * 1000, 1),
        }
        if result.reason:
            entry["reason"] = result.reason
        if result.failure is not None:
            entry["failure"] = {
                "step": result.failure.step,
                "problem": result.failure.problem,
                "sent": result.failure.sent,
                "expected": result.failure.expected,
                "seen": result.failure.seen,
            }
        if result.blocked_by:
            entry["blocked_by"] = result.blocked_by
        if all_transcripts or result.status is not Status.PASS:
            entry["transcript"] = result.transcript.events
        cases.append(entry)
    return {
        "endpoint": report.endpoint,
        "server": report.server,
        "scratch": report.scratch,
        "duration_s": round(report.duration_s, 3),
        "passed": not report.failed,
        "setup_error": report.setup_error,
        "strict": report.strict,
        "interrupted": report.interrupted,
        "untested": [
            {"id": result.case.id, "reason": result.reason} for result in report.untested()
        ],
        "summary": {status.value: report.count(status) for status in Status},
        "notes": report.notes,
        "unknown_expected_failures": report.unknown_expected,
        "cases": cases,
    }


def write_junit(report: RunReport, path: str | Path) -> None:
    Path(path).write_text(junit_xml(report), encoding="utf-8")


def write_json(report: RunReport, path: str | Path, all_transcripts: bool = False) -> None:
    data = json_report(report, all_transcripts)
    Path(path).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
