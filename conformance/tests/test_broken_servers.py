"""The suite fails every deliberately broken server, naming the case that catches it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from broken_servers import (
    FAULTS,
    STOPS_ANSWERING,
    Fault,
    protocol_1_0_server,
    protocol_1_1_server,
)
from conformance_serving import plant_outside_link, run_suite
from remofile.conformance.report import summary
from remofile.conformance.results import Status

#: The cases of protocol 1.1 (SPEC 4.5.5, 4.14 to 4.16, 8.5), and illegal pairs of its requests.
SECTIONS_OF_1_1 = (
    "4.5.5",
    "4.9.1/IDLE/UPLOAD_FILE/5",
    "4.9.1/IDLE/UPLOAD_FILE/11",
    "4.14",
    "4.15",
    "4.16",
    "8.5",
    "4.13/UPLOAD/MOVE_FILE",
    "4.13/DOWNLOAD/COPY_FILE",
    "4.13/DELETE/FILE_DIGEST",
)


#: The cases of protocol 1.2 (SPEC 4.17, 4.18, the frames of a batch, 8.5), and illegal
#: pairs of its requests.
SECTIONS_OF_1_2 = (
    "2.2.1/3",
    "2.2.2",
    "4.17",
    "4.18",
    "8.5",
    "4.13/UPLOAD/UPLOAD_FILES",
    "4.13/DOWNLOAD/DOWNLOAD_FILES",
    "4.13/DELETE/UPLOAD_FILES",
)


def test_there_are_at_least_eight_distinct_faults() -> None:
    assert len({fault.name for fault in FAULTS}) >= 8


@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.name)
def test_the_suite_catches(fault: Fault, tmp_path: Path) -> None:
    root = tmp_path / "served"
    root.mkdir()
    plant_outside_link(root, tmp_path / "outside")
    with fault.start(root) as server:
        report = run_suite(server.target(), fault.sections)
    statuses = {result.case.id: result.status for result in report.results}
    assert report.setup_error is None
    assert statuses[fault.caught_by] is Status.FAIL, summary(report)
    assert report.failed


def test_a_server_that_stops_answering_fails_every_case_left(tmp_path: Path) -> None:
    fault = STOPS_ANSWERING
    with fault.start(tmp_path) as server:
        report = run_suite(server.target(timeout_ms=1000), fault.sections)
    assert (
        next(result for result in report.results if result.case.id == fault.caught_by).status
        is Status.FAIL
    )
    later = [result for result in report.results if result.case.section == "3.2"]
    assert later
    assert all(result.status is Status.FAIL for result in later)
    assert all(
        "stopped answering during case 2.2.3/1" in result.failure.problem
        for result in later
        if result.failure
    )


def test_a_server_of_protocol_1_0_fails_no_case_of_1_1(tmp_path: Path) -> None:
    """A server that announces no feature is not judged on them: the cases that need one
    are skipped with the feature named, and the rest (refusing modes, illegal pairs)
    still hold for it (SPEC 4.5.5 rule 5, 8.5)."""
    with protocol_1_0_server(tmp_path) as server:
        report = run_suite(server.target(), SECTIONS_OF_1_1)
    assert report.setup_error is None
    assert not report.failed, summary(report)
    results = {result.case.id: result for result in report.results}
    for case_id, result in results.items():
        needs_feature = case_id.startswith(("4.14/", "4.15/", "4.16/")) or case_id in (
            "4.5.5/1",
            "4.5.5/3",
            "4.5.5/4",
            "4.5.5/5",
            "4.9.1/IDLE/UPLOAD_FILE/11",
        )
        if needs_feature and result.case.body is not None:
            assert result.status is Status.SKIP, case_id
            assert result.reason is not None
            assert "FEATURE_" in result.reason, result.reason
    for case_id in (
        "4.5.5/2",
        "4.9.1/IDLE/UPLOAD_FILE/5",
        "8.5/1",
        "4.13/UPLOAD/MOVE_FILE/1",
        "4.13/DOWNLOAD/COPY_FILE/1",
        "4.13/DELETE/FILE_DIGEST/1",
    ):
        assert results[case_id].status is Status.PASS, case_id


@pytest.mark.parametrize("server", [protocol_1_0_server, protocol_1_1_server])
def test_a_server_without_batches_fails_no_case_of_1_2(server: Any, tmp_path: Path) -> None:
    """A server that does not announce FEATURE_BATCH is not judged on batches: their
    cases are skipped with the feature named, and the illegal pairs of the new requests
    still hold for it, as it answers them BAD_REQUEST (SPEC 8.5 item 5)."""
    with server(tmp_path) as running:
        report = run_suite(running.target(), SECTIONS_OF_1_2)
    assert report.setup_error is None
    assert not report.failed, summary(report)
    results = {result.case.id: result for result in report.results}
    for case_id, result in results.items():
        if case_id.startswith(("4.17", "4.18", "2.2")) and result.case.body is not None:
            assert result.status is Status.SKIP, case_id
            assert "FEATURE_BATCH" in (result.reason or ""), result.reason
    for case_id in (
        "8.5/1",
        "4.13/UPLOAD/UPLOAD_FILES/1",
        "4.13/DOWNLOAD/DOWNLOAD_FILES/1",
        "4.13/DELETE/UPLOAD_FILES/1",
    ):
        assert results[case_id].status is Status.PASS, case_id
