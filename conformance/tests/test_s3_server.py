"""The suite passes against our server on an S3 bucket (a real SeaweedFS), and leaves
the prefix as it found it, nothing outside it touched."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from conformance_serving import SKIPPED_WITH_DEFAULT_LIMITS, run_suite, running_server
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

#: Cases our server on S3 is known to fail; enforced both ways, as for the local one.
EXPECTED_FAILURES = Path(__file__).with_name("expected_failures_ours_s3.txt")

#: A full run against a server on a local SeaweedFS (a few requests per case more).
FULL_RUN_BUDGET_S = 180

BUCKET = "remofile-tests"


def _keys(client: Any, prefix: str) -> set[str]:
    paginator = client.get_paginator("list_objects_v2")
    return {
        item["Key"]
        for page in paginator.paginate(Bucket=BUCKET, Prefix=prefix)
        for item in page.get("Contents", [])
    }


@pytest.fixture(scope="module")
def s3_run(
    seaweedfs: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[RunReport, set[str], set[str], Any, str]:
    client = seaweedfs.client()
    prefix = f"conformance-{secrets.token_hex(4)}/served/"
    # An operator's entries inside, and a neighbour that shares the prefix's first letters.
    client.put_object(Bucket=BUCKET, Key=prefix + "existing.txt", Body=b"an operator's file")
    client.put_object(Bucket=BUCKET, Key=prefix + "existing-directory/", Body=b"")
    neighbour = prefix.rstrip("/") + "-outside/secret.txt"
    client.put_object(Bucket=BUCKET, Key=neighbour, Body=b"must never be served")
    before = _keys(client, prefix)
    storage = seaweedfs.storage(f"s3://{BUCKET}/{prefix}")
    unused_root = tmp_path_factory.mktemp("unused-root")
    with running_server(unused_root, storage_factory=lambda _root: storage) as server:
        report = run_suite(
            server.target(allow_root_removal=True, stateful_examples=DEFAULT_EXAMPLES)
        )
    apply_expected_failures(report, read_expected_failures(EXPECTED_FAILURES), all_cases())
    return report, before, {neighbour}, client, prefix


@pytest.mark.parametrize("case_id", [case.id for case in all_cases()])
def test_our_server_on_s3_passes(
    s3_run: tuple[RunReport, set[str], set[str], Any, str], case_id: str
) -> None:
    report = s3_run[0]
    assert report.setup_error is None
    result = next(result for result in report.results if result.case.id == case_id)
    if result.status is Status.SKIP:
        assert (
            result.reason == UNPROVOKABLE
            or "FEATURE_MOVE" in (result.reason or "")
            or case_id in SKIPPED_WITH_DEFAULT_LIMITS
        ), f"{case_id} skipped: {result.reason}"
        return
    details = "\n".join(failure_details(result, verbose=True))
    assert result.status in (Status.PASS, Status.XFAIL), (
        f"{case_id} {result.status.value}\n{details}"
    )


def test_the_s3_expected_failures_file_names_only_real_cases(
    s3_run: tuple[RunReport, set[str], set[str], Any, str],
) -> None:
    report = s3_run[0]
    assert report.unknown_expected == []
    assert not report.failed


def test_a_full_run_on_s3_stays_in_budget(
    s3_run: tuple[RunReport, set[str], set[str], Any, str],
) -> None:
    assert s3_run[0].duration_s < FULL_RUN_BUDGET_S


def test_the_prefix_is_left_as_found_and_nothing_outside_touched(
    s3_run: tuple[RunReport, set[str], set[str], Any, str],
) -> None:
    report, before, outside, client, prefix = s3_run
    assert report.notes == []
    deadline = time.monotonic() + 10
    while _keys(client, prefix) != before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _keys(client, prefix) == before
    top = prefix.split("/")[0] + "/"
    assert _keys(client, top) - _keys(client, prefix) == outside
