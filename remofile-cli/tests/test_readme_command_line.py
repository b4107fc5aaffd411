"""README.md's command-line examples, run as written: each line of the block of "The
command line" in order, as a process, with the README's config file in place.

As tests-docs does, the example port 6768 becomes the port of the test's server; the
rest is the README's text, split as a shell would split it.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from cli_support import expect, run_process, running_server

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLE_PORT = "6768"


def fenced_blocks(section: str) -> list[tuple[str, str]]:
    """``(language, code)`` of the fenced blocks of the README's section ``section``."""
    text = README.read_text()
    start = text.index(f"## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end >= 0 else len(text)]
    return re.findall(r"^```(\w*)\n(.*?)^```", body, re.MULTILINE | re.DOTALL)


def commands(code: str, port: int) -> list[list[str]]:
    lines = [
        shlex.split(line.replace(EXAMPLE_PORT, str(port)), comments=True)
        for line in code.splitlines()
    ]
    """The arguments of each ``remofile`` line (run_process runs the command itself)."""
    return [words[1:] for words in lines if words and words[0] == "remofile"]


def make(root: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)


def test_every_line_of_the_command_line_block_runs_as_written(tmp_path: Path, cwd: Path) -> None:
    served = tmp_path / "served"
    make(served, {"www/old.html": b"old", "www/index.html": b"index"})
    (served / "archive").mkdir()
    make(
        cwd,
        {
            "ubuntu.iso": b"iso" * 1000,
            "src/main.py": b"main",
            "docs/guide.md": b"guide",
            "logs/top.txt": b"top",
            "logs/2026/12/app.txt": b"app",
            "logs/2026/12/app.bin": b"not text",
            "site/index.html": b"new index",
        },
    )
    (language, code), *others = fenced_blocks("The command line")
    assert language == "sh"
    toml = next(code for language, code in others if language == "toml")
    with running_server(served) as server:
        # The config file of the README, its token file where it says, in a home of
        # the test's own.
        config = tmp_path / "home" / ".config" / "remofile"
        config.mkdir(parents=True)
        (config / "config.toml").write_text(toml.replace(EXAMPLE_PORT, str(server.port)))
        (config / "work.token").write_text(server.token + "\n")
        env = {**server.env, "HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(config.parent)}
        lines = commands(code, server.port)
        assert len(lines) == len([line for line in code.splitlines() if line.strip()])
        for line in lines:
            result = expect(run_process(line, env, cwd), 0)
            if line == ["--server", "work", "list", "/"]:
                # Named by the config file alone.
                named = {k: v for k, v in env.items() if not k.startswith("REMOFILE_")}
                assert expect(run_process(line, named, cwd), 0).stdout == result.stdout
                assert "www/" in result.stdout.splitlines()
    assert (cwd / "isos" / "ubuntu.iso").read_bytes() == b"iso" * 1000
    assert (cwd / "restore" / "backup" / "src" / "main.py").read_bytes() == b"main"
    assert (cwd / "top.txt").read_bytes() == b"top"
    assert (served / "logs" / "2026" / "12" / "app.txt").read_bytes() == b"app"
    assert not (served / "logs" / "2026" / "12" / "app.bin").exists()
    assert (served / "backup" / "docs" / "guide.md").read_bytes() == b"guide"
    assert not (served / "my-os-isos" / "ubuntu.iso").exists()
    assert (served / "archive" / "old.html").read_bytes() == b"old"
    assert (served / "www" / "index.html").read_bytes() == b"new index"
    assert (cwd / "site" / "index.bak").read_bytes() == b"index"
