"""Every MUST of SPEC.md has a case or a reason, and the README's table says which."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from remofile.conformance.cases import all_cases
from remofile.conformance.coverage import (
    ALSO_CHECKED_BY,
    SPEC_PATH,
    UNTESTABLE,
    cases_for,
    spec_requirements,
    uncovered,
)
from remofile.conformance.main import main

ROOT = Path(__file__).resolve().parents[2]
SPEC = SPEC_PATH.read_text(encoding="utf-8")


def test_every_must_has_a_case_or_a_reason() -> None:
    assert uncovered(SPEC, all_cases()) == []


def test_the_spec_has_as_many_requirements_as_expected() -> None:
    requirements = spec_requirements(SPEC)
    assert len(requirements) >= 60
    assert len({requirement.id for requirement in requirements}) == len(requirements)
    ids = {requirement.id for requirement in requirements}
    # Session recovery's MUSTs are each a requirement of their own.
    assert {"3.7.1", "3.7.2", "3.7.4"} <= ids


def test_the_tables_name_only_requirements_and_cases_that_exist() -> None:
    ids = {requirement.id for requirement in spec_requirements(SPEC)}
    assert set(UNTESTABLE) <= ids
    assert set(ALSO_CHECKED_BY) <= ids
    case_ids = [case.id for case in all_cases()]
    for prefixes in ALSO_CHECKED_BY.values():
        for prefix in prefixes:
            assert any(case_id.startswith(prefix) for case_id in case_ids), prefix


def test_an_untestable_requirement_is_never_shown_as_checked() -> None:
    for requirement in spec_requirements(SPEC):
        if requirement.id in UNTESTABLE:
            assert cases_for(requirement, all_cases()) == []


def test_the_readme_table_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "render_coverage.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_coverage_prints_the_table_without_a_server() -> None:
    result = CliRunner().invoke(main, ["--coverage"])
    assert result.exit_code == 0, result.output
    assert "| 3.7.4 |" in result.output
    assert "untestable from the wire" in result.output
