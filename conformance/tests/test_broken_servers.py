"""The suite fails every deliberately broken server, naming the case that catches it."""

from __future__ import annotations

from pathlib import Path

import pytest
from broken_servers import FAULTS, STOPS_ANSWERING, Fault
from conformance_serving import plant_outside_link, run_suite
from remofile.conformance.report import summary
from remofile.conformance.results import Status


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
