"""The suite fails every deliberately broken server, naming the case that catches it."""

from __future__ import annotations

from pathlib import Path

import pytest
from broken_servers import FAULTS, Fault
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
