"""The batch cases that depend on the server's limits, against our server started with
small ones: a file_size_limit below max_chunk_size (a file over it can travel in a batch
and is refused on its own, SPEC 4.17) and a max_chunk_size small enough that the cases
fill a data frame at little cost (4.18 check 3)."""

from __future__ import annotations

from pathlib import Path

from conformance_serving import run_suite, running_server
from remofile.conformance.cases import all_cases
from remofile.conformance.context import UNPROVOKABLE
from remofile.conformance.report import summary
from remofile.conformance.results import Status, apply_expected_failures, read_expected_failures
from test_our_server import EXPECTED_FAILURES

SECTIONS = ("4.17", "4.18", "2.2.1/3", "2.2.2", "8.5")

#: The limits: max_chunk_size 64 KiB, file_size_limit 40 KiB (over half of it, so two
#: files can each be stored but not both sent in one batch).
SMALL_LIMITS = {"chunk_size_range": (512, 64 * 1024), "file_size_limit": 40 * 1024}


def test_the_batch_cases_run_and_pass_with_small_limits(tmp_path: Path) -> None:
    with running_server(tmp_path, **SMALL_LIMITS) as server:
        report = run_suite(server.target(), SECTIONS)
    apply_expected_failures(report, read_expected_failures(EXPECTED_FAILURES), all_cases())
    assert report.setup_error is None
    results = {result.case.id: result for result in report.results}
    assert results["4.17/5"].status is Status.PASS, summary(report)
    for case_id, result in results.items():
        if result.status is Status.SKIP:
            assert result.reason == UNPROVOKABLE, f"{case_id} skipped: {result.reason}"
        else:
            assert result.status in (Status.PASS, Status.XFAIL), summary(report)
