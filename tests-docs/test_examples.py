"""Every code example of README.md and of the documentation (docs/), run as written.

Each page's fenced ``python`` and ``sh`` blocks run in order, in a fresh directory of
their own, as real processes: a Python block as a script, a shell block with bash -e.
Three substitutions keep the examples independent of this machine: the port 6768 becomes
a free port, ``/run/`` a directory of the test, and ``remofile``/``rmf`` are the
project's own commands.

Unless a page starts its own server (a ``background`` block), the test serves
``served/`` of the page's directory on that port with the token of the examples,
``qRkVWJcFRqi7rsNMbagaDd``, and gives the shell blocks the settings of the user guide
(``REMOFILE_HOSTNAME``, ``REMOFILE_PORT``, ``REMOFILE_TOKEN``).

An HTML comment right above a block, invisible once rendered, says what a reader would
have done before it::

    <!-- example: files ubuntu.iso src/ served/logs/a.txt -->   files to make first
    <!-- example: background -->    runs on (a server) until the page ends or the next
                                    background block starts; its first output is awaited
    <!-- example: serves -->        starts a server that outlives it (a daemon)
    <!-- example: skip REASON -->   not run, for the reason given

A page with a ``background`` or ``serves`` block runs its own server; the lines
``export NAME=VALUE`` any block prints (as ``remofile run`` does) are set for the blocks
after it, as a reader would paste them. Daemons left behind by a page are stopped, by
the process ids in their pidfiles.

A test checks that every skip gives a reason, and the skips are few.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import shlex
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from remofile.server import Server

REPOSITORY = Path(__file__).resolve().parents[1]
PAGES = [REPOSITORY / "README.md", *sorted((REPOSITORY / "docs").rglob("*.md"))]
TOKEN = "qRkVWJcFRqi7rsNMbagaDd"
EXAMPLE_PORT = "6768"
BLOCK_TIMEOUT_S = 60
START_TIMEOUT_S = 20

FENCE = re.compile(r"^```(\w*)\s*$")
DIRECTIVE = re.compile(r"^<!--\s*example:\s*(\w+)\s*(.*?)\s*-->\s*$")


@dataclass
class Block:
    page: Path
    line: int
    language: str
    code: str
    directives: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(REPOSITORY)}:{self.line}"


def blocks_of(page: Path) -> list[Block]:
    """The fenced python and sh blocks of a page, with their directives."""
    lines = page.read_text().splitlines()
    found: list[Block] = []
    directives: dict[str, str] = {}
    index = 0
    while index < len(lines):
        line = lines[index]
        if match := DIRECTIVE.match(line):
            directives[match.group(1)] = match.group(2)
        elif match := FENCE.match(line):
            language, start = match.group(1), index
            index += 1
            body: list[str] = []
            while index < len(lines) and not lines[index].startswith("```"):
                body.append(lines[index])
                index += 1
            if language in ("python", "sh", "bash"):
                found.append(Block(page, start + 1, language, "\n".join(body) + "\n", directives))
            directives = {}
        elif line.strip():
            directives = {}
        index += 1
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class PageRun:
    """The state of one page's examples: its directory, port and environment."""

    directory: Path
    port: int
    environment: dict[str, str]
    background: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def substitute(self, code: str) -> str:
        code = code.replace(EXAMPLE_PORT, str(self.port))
        return code.replace("/run/", f"{self.directory}/run/")

    def make_files(self, specification: str) -> None:
        for name in shlex.split(specification):
            path = self.directory / name
            if name.endswith("/"):
                path.mkdir(parents=True, exist_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"example file {name}\n")

    def command(self, block: Block, script: Path) -> list[str]:
        if block.language == "python":
            return [sys.executable, str(script)]
        return ["bash", "-e", str(script)]

    def write_script(self, block: Block) -> Path:
        suffix = ".py" if block.language == "python" else ".sh"
        script = self.directory.parent / f"example-{block.line}{suffix}"
        script.write_text(self.substitute(block.code))
        return script

    def run(self, block: Block) -> None:
        if "files" in block.directives:
            self.make_files(block.directives["files"])
        script = self.write_script(block)
        if "background" in block.directives:
            self.start(block, script)
            return
        result = subprocess.run(
            self.command(block, script),
            cwd=self.directory,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(
                f"{block.name} ({block.language}) exited {result.returncode}\n"
                f"--- code\n{block.code}--- stdout\n{result.stdout}--- stderr\n{result.stderr}"
            )
        self.take_exports(result.stdout.splitlines())

    def take_exports(self, lines: list[str]) -> None:
        for line in lines:
            if match := re.match(r"export (\w+)=(.+)$", line.strip()):
                self.environment[match.group(1)] = shlex.split(match.group(2))[0]

    def start(self, block: Block, script: Path) -> None:
        self.stop_background()  # one server at a time on the page's port
        process = subprocess.Popen(
            self.command(block, script),
            cwd=self.directory,
            env=self.environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.background.append(process)
        assert process.stdout is not None
        output = b""
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            # The first output, then whatever follows it closely (the settings printed).
            wait = START_TIMEOUT_S
            while selector.select(wait):
                data = os.read(process.stdout.fileno(), 65536)
                if not data:
                    break
                output += data
                wait = 0.5
        if not output:
            pytest.fail(f"{block.name}: printed nothing in {START_TIMEOUT_S} s")
        self.take_exports(output.decode().splitlines())
        # Keep the pipes drained, so the process never blocks on a full one.
        for stream in (process.stdout, process.stderr):
            threading.Thread(target=stream.read, daemon=True).start()  # type: ignore[union-attr]

    def stop_background(self) -> None:
        for process in self.background:
            if process.poll() is None:
                # Only the process groups this test started (start_new_session).
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)
        self.background.clear()

    def stop_daemons(self) -> None:
        """Stop the daemons a page started and left (their pidfiles are in ``run/``)."""
        for pidfile in (self.directory / "run").glob("*.pid"):
            with contextlib.suppress(ValueError, ProcessLookupError, OSError):
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGTERM)


@contextlib.contextmanager
def served(root: Path, port: int) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    server = Server(root, TOKEN)
    thread = threading.Thread(target=server.run, args=(port, "127.0.0.1"), daemon=True)
    thread.start()
    assert server.wait_until_ready(START_TIMEOUT_S)
    try:
        yield
    finally:
        server.terminate()
        thread.join(START_TIMEOUT_S)


def page_id(page: Path) -> str:
    return str(page.relative_to(REPOSITORY))


@pytest.mark.parametrize("page", [p for p in PAGES if blocks_of(p)], ids=page_id)
def test_every_example_of_the_page_runs(page: Path, tmp_path: Path) -> None:
    blocks = [block for block in blocks_of(page) if "skip" not in block.directives]
    directory = tmp_path / "work"
    directory.mkdir()
    (directory / "run").mkdir()
    port = free_port()
    bin_directory = str(Path(sys.executable).parent)
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("REMOFILE_")
    }
    environment["PATH"] = bin_directory + os.pathsep + environment.get("PATH", "")
    environment["PYTHONUNBUFFERED"] = "1"
    # Servers started without a token keep one in the user's state directory: this one.
    environment["XDG_STATE_HOME"] = str(tmp_path / "state")
    environment["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    run = PageRun(directory, port, environment)
    serves_itself = any(
        "background" in block.directives or "serves" in block.directives for block in blocks
    )
    if not serves_itself:
        environment.update(
            REMOFILE_HOSTNAME="127.0.0.1", REMOFILE_PORT=str(port), REMOFILE_TOKEN=TOKEN
        )
    with contextlib.ExitStack() as stack:
        if not serves_itself:
            stack.enter_context(served(directory / "served", port))
        stack.callback(run.stop_daemons)
        stack.callback(run.stop_background)
        for block in blocks:
            run.run(block)


def test_every_skipped_example_says_why_and_skips_are_few() -> None:
    skipped = [block for page in PAGES for block in blocks_of(page) if "skip" in block.directives]
    total = sum(len(blocks_of(page)) for page in PAGES)
    for block in skipped:
        assert len(block.directives["skip"].split()) >= 3, f"{block.name}: give a reason"
    # A guard against skipping becoming the habit: at most one block in four.
    assert len(skipped) * 4 <= total, [block.name for block in skipped]
