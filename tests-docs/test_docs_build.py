"""The documentation site builds with no warning (mkdocs --strict): a broken link, a
stale reference to the API or a docstring that does not parse fails here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def test_make_docs_builds_without_warnings(tmp_path: Path) -> None:
    environment = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    for page in (
        "index.html",
        "guide/fsspec/index.html",
        "reference/cli/index.html",
        "reference/api/index.html",
        "protocol/spec/index.html",
        "conformance/index.html",
        "benchmarks/index.html",
        "benchmarks/chart.svg",
    ):
        assert (tmp_path / page).is_file(), page
    api = (tmp_path / "reference" / "api" / "index.html").read_text()
    assert "upload_file" in api
    assert "RemofileFileSystem" in api
    cli = (tmp_path / "reference" / "cli" / "index.html").read_text()
    assert "remofile upload" in cli
    assert "remofile-conformance" in cli
