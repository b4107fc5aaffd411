"""The suite passes against our own server, in time, and leaves its tree as it found it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conformance_serving import SKIPPED_WITH_DEFAULT_LIMITS, RunningServer, run_suite
from remofile.conformance.cases import all_cases
from remofile.conformance.context import UNPROVOKABLE
from remofile.conformance.report import failure_details
from remofile.conformance.results import (
    RunReport,
    Status,
    apply_expected_failures,
    read_expected_failures,
)
from remofile.conformance.stateful import DEFAULT_EXAMPLES

#: Cases our server is known to fail, reported upstream; stale entries fail the run.
EXPECTED_FAILURES = Path(__file__).with_name("expected_failures_ours.txt")

#: How long a full run against a local server may take.
FULL_RUN_BUDGET_S = 60

STAGING = ".remofile-staging"


def visible_tree(root: Path) -> set[str]:
    """Every path below the root a client could see, without following links."""
    paths = set()
    for directory, names, files in os.walk(root):
        relative = Path(directory).relative_to(root)
        if relative.parts[:1] == (STAGING,):
            continue
        for name in names + files:
            paths.add(str(relative / name))
    return paths - {STAGING}


def staged_files(root: Path) -> list[str]:
    return [
        os.path.join(directory, name)
        for directory, _, files in os.walk(root / STAGING)
        for name in files
    ]


@pytest.fixture(scope="module")
def run(our_server: RunningServer, served_root: Path) -> tuple[RunReport, set[str]]:
    before = visible_tree(served_root)
    report = run_suite(
        our_server.target(allow_root_removal=True, stateful_examples=DEFAULT_EXAMPLES)
    )
    apply_expected_failures(report, read_expected_failures(EXPECTED_FAILURES), all_cases())
    return report, before


@pytest.mark.parametrize("case_id", [case.id for case in all_cases()])
def test_our_server_passes(run: tuple[RunReport, set[str]], case_id: str) -> None:
    report, _ = run
    assert report.setup_error is None
    result = next(result for result in report.results if result.case.id == case_id)
    if result.status is Status.SKIP:
        assert result.reason == UNPROVOKABLE or case_id in SKIPPED_WITH_DEFAULT_LIMITS, (
            f"{case_id} skipped: {result.reason}"
        )
        return
    details = "\n".join(failure_details(result, verbose=True))
    assert result.status in (Status.PASS, Status.XFAIL), (
        f"{case_id} {result.status.value}\n{details}"
    )


def test_the_expected_failures_file_names_only_real_cases(run: tuple[RunReport, set[str]]) -> None:
    report, _ = run
    assert report.unknown_expected == []
    assert not report.failed


def test_a_full_run_takes_under_a_minute(run: tuple[RunReport, set[str]]) -> None:
    report, _ = run
    assert report.duration_s < FULL_RUN_BUDGET_S


def test_the_served_tree_is_left_as_found(
    run: tuple[RunReport, set[str]], served_root: Path
) -> None:
    report, before = run
    assert report.notes == []
    assert visible_tree(served_root) == before
    deadline = time.monotonic() + 5
    while staged_files(served_root) and time.monotonic() < deadline:
        time.sleep(0.1)  # trees of cancelled removals are purged in the background
    assert staged_files(served_root) == []
