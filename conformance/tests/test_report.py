"""The reports, and the expected-failures file, on results made up for the purpose."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from remofile.conformance.case import Case
from remofile.conformance.expect import CaseFailure
from remofile.conformance.report import json_report, junit_xml, summary
from remofile.conformance.results import (
    Result,
    RunReport,
    Status,
    apply_expected_failures,
    read_expected_failures,
)
from remofile.conformance.transcript import Transcript
from remofile.v1 import remofile_pb2 as pb

TOKEN = "report-test-token"


def _case(case_id: str) -> Case:
    return Case(
        case_id, f"title of {case_id}", f"requirement of {case_id}", "ERROR BAD_REQUEST", None
    )


def _report() -> RunReport:
    transcript = Transcript(TOKEN)
    request = pb.Request(token=TOKEN, send_chunk=pb.SendChunk(offset=3))
    transcript.sent(
        "A", [b"", request.SerializeToString(), b"data"], request, "a chunk one byte short"
    )
    reply = pb.Response(type=pb.RESPONSE_TYPE_ACCEPTED, reason=pb.REASON_CHUNK_ACCEPTED)
    transcript.received("A", reply, None, 2)
    transcript.mark_failure()
    failure = CaseFailure(
        "SEND_CHUNK in UPLOAD: a chunk one byte short",
        "unexpected reply ACCEPTED CHUNK_ACCEPTED",
        sent=transcript.request_dict(request),
        expected=["ERROR BAD_REQUEST"],
        seen={"type": "RESPONSE_TYPE_ACCEPTED", "reason": "REASON_CHUNK_ACCEPTED"},
    )
    return RunReport(
        "tcp://127.0.0.1:1",
        [
            Result(_case("3.5/1"), Status.PASS, 0.01, Transcript(TOKEN)),
            Result(_case("4.9.2/UPLOAD/SEND_CHUNK/4"), Status.FAIL, 0.02, transcript, failure),
            Result(
                _case("4.9.2/UPLOAD/SEND_CHUNK/5"),
                Status.SKIP,
                0.0,
                Transcript(TOKEN),
                None,
                "cannot be provoked",
            ),
        ],
        server={"server_name": "test", "protocol_version": 1},
        scratch="/conformance-x",
        duration_s=1.5,
    )


def test_the_summary_shows_sent_expected_and_seen_for_each_failure() -> None:
    text = summary(_report())
    assert "  PASS  3.5/1" in text
    assert "  FAIL  4.9.2/UPLOAD/SEND_CHUNK/4" in text
    assert "  SKIP  4.9.2/UPLOAD/SEND_CHUNK/5" in text
    assert "[cannot be provoked]" in text
    assert 'sent:        {"token": "<token>", "send_chunk": {"offset": "3"}}' in text
    assert "expected:    ERROR BAD_REQUEST" in text
    assert '"reason": "REASON_CHUNK_ACCEPTED"' in text
    assert "A -> SEND_CHUNK" in text
    assert "FAILED: 3 cases, 1 passed, 1 failed, 1 skipped" in text
    assert TOKEN not in text


def test_junit_counts_by_section() -> None:
    root = ET.fromstring(junit_xml(_report()))
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    sending = suites["4.9.2 SEND_CHUNK"]
    assert (sending.get("tests"), sending.get("failures"), sending.get("skipped")) == (
        "2",
        "1",
        "1",
    )
    failure = next(root.iter("failure"))
    assert failure.get("message") == "unexpected reply ACCEPTED CHUNK_ACCEPTED"
    assert "ERROR BAD_REQUEST" in (failure.text or "")


def test_json_carries_a_decoded_transcript_per_case() -> None:
    data = json.loads(json.dumps(json_report(_report())))
    assert data["passed"] is False
    assert data["summary"]["FAIL"] == 1
    case = data["cases"][1]
    assert case["failure"]["expected"] == ["ERROR BAD_REQUEST"]
    sent, received = case["transcript"][0], case["transcript"][1]
    assert sent["message"] == {"token": "<token>", "send_chunk": {"offset": "3"}}
    assert sent["data"]["bytes"] == 4
    assert received["message"] == {
        "type": "RESPONSE_TYPE_ACCEPTED",
        "reason": "REASON_CHUNK_ACCEPTED",
    }


def test_expected_failures_are_enforced_both_ways(tmp_path: Path) -> None:
    listed = tmp_path / "expected.txt"
    listed.write_text(
        "# comment\n3.5/1  # passes: stale\n4.9.2/UPLOAD/SEND_CHUNK/4\n\n4.9.2/UPLOAD/SEND_CHUNK/5\n9/9\n"
    )
    report = _report()
    cases = [result.case for result in report.results]
    apply_expected_failures(report, read_expected_failures(listed), cases)
    statuses = [result.status for result in report.results]
    assert statuses == [Status.STALE, Status.XFAIL, Status.SKIP]
    assert report.unknown_expected == ["9/9"]
    assert report.failed


def test_a_listed_failure_alone_does_not_fail_the_run() -> None:
    report = _report()
    report.results = report.results[1:]
    apply_expected_failures(
        report, ["4.9.2/UPLOAD/SEND_CHUNK/4"], [result.case for result in report.results]
    )
    assert not report.failed
