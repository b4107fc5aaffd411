"""The README's install lines, run exactly as written, each in a fresh virtual environment.

The lines are read from README.md and docs/ (every line of their ``sh`` blocks that
starts with ``pip install``) and run by bash in a copy of the repository's distribution folders, with
the environment's own pip: whatever a user on a fresh machine would type after cloning.
Then the installed environment must hold what the line promises.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
FOLDERS = ("remofile-core", "remofile-client", "remofile-server")


def readme_install_lines() -> list[str]:
    """The distinct ``pip install`` lines of README.md and of the documentation."""
    lines: list[str] = []
    for page in [REPOSITORY / "README.md", *sorted((REPOSITORY / "docs").rglob("*.md"))]:
        for block in re.findall(r"```sh\n(.*?)```", page.read_text(), flags=re.DOTALL):
            for line in block.splitlines():
                command = line.split("#")[0].strip()
                if command.startswith("pip install ") and command not in lines:
                    lines.append(command)
    return lines


#: What each kind of line must give: code run in the environment after installing.
CHECKS = {
    "./remofile-client": "from remofile import Client, synchronize_upload; import remofile.client",
    "[fsspec]": (
        "import fsspec; from remofile.client.filesystem import RemofileFileSystem; "
        "assert fsspec.get_filesystem_class('remofile') is RemofileFileSystem"
    ),
    "./remofile-server": "from remofile import Server; import remofile.server",
}


def test_the_readme_has_install_lines() -> None:
    lines = readme_install_lines()
    assert any(line.endswith("./remofile-client") for line in lines), lines
    assert all("./remofile-core" in line for line in lines), lines


@pytest.mark.parametrize("line", readme_install_lines())
def test_readme_install_line_works_as_written(line: str, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    for folder in FOLDERS:
        shutil.copytree(
            REPOSITORY / folder,
            checkout / folder,
            ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "build", "dist", "tests"),
        )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=120)
    environment = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(Path.home()),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
    }
    result = subprocess.run(
        ["bash", "-e", "-c", line],
        cwd=checkout,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
    python = venv / "bin" / "python"
    for marker, check in CHECKS.items():
        if marker in line:
            subprocess.run([python, "-I", "-c", check], check=True, timeout=60)
    if "[fsspec]" not in line and "./remofile-client" in line:
        missing = subprocess.run(
            [python, "-I", "-c", "from remofile import Server"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "pip install remofile-server" in missing.stderr
