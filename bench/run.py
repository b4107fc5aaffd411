"""`make bench`: Remofile against its peers, on the same data, in one run.

On 127.0.0.1: a big file (1 GiB, 256 MiB with --quick) and a 64 MiB file up and down,
2,000 files of 4 KiB in 20 directories up and down, 20,000 mixed small files (100 B to
64 KiB, log-uniform, fixed seed; 2,000 with --quick) in 200 directories up and down,
the listing of a 10,000-entry directory, the latency of single small operations
(create_file, list_files of a small directory), reads through fsspec, the CPU of an idle
server over 10 s, and compression (bench/compression.py): this Python's standard library
sources uploaded without compression, with zstd and with zlib against rsync -z, and
already-compressed files under compress="auto".

Over a WAN link (bench/wan.py, root only): namespaces this run makes and removes, veths
shaped to 200 Mbit/s with tbf and 40 ms of round trip from a delaying relay
(bench/relay.py): a 256 MiB file (64 MiB with --quick) up and down, the 2,000 files up
and down, the standard library corpus with -z; the link's capacity and round trip are
measured first. Skipped with the reason where the link cannot be made.

Tools: Remofile with and without CURVE (server and client each in a process of its own),
raw pyzmq streaming (the limit), cp (the disk), and, when installed, OpenSSH sftp (default
cipher and aes128-gcm@openssh.com), scp and rsync over ssh through a private sshd started
here (``apt-get install openssh-server rsync``). Each run of a scenario runs every tool in
turn, the order rotating between runs, so that a noisy machine hurts them alike.

Prints a table, the ratios and the targets (PASS/FAIL); writes results.json, report.txt
and benchmark.png (with matplotlib) under --output.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import io
import os
import platform
import pstats
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import compression, procs, report, wan
from bench.data import (
    TREE_DIRECTORIES,
    TREE_FILE_BYTES,
    TREE_FILES_PER_DIRECTORY,
    check_file,
    check_tree,
    copy_stdlib_corpus,
    link_tree,
    make_compressed_tree,
    make_mixed_tree,
    make_tree,
    remove,
    write_random_file,
)
from bench.model import MIB, Idle, Results, Sample, Scenario
from bench.peers import DiskTool, RawZmqTool, RsyncTool, SshServer, ssh_tools
from bench.plans import FIRST_RUN_GRACE_S, Plan, run_plan
from bench.remofile_side import ClientProcess, RemofileTool, ServerProcess
from bench.tools import Layout, Tool

REPOSITORY = Path(__file__).resolve().parents[1]

GIB = 1 << 30
MID_BYTES = 64 * MIB
LIST_ENTRIES = 10_000
SMALL_DIRECTORY_ENTRIES = 10
IDLE_SECONDS = 10.0

#: The OpenSSH peers, by name, in the order of the table.
SSH_TOOL_NAMES = ["sftp", "sftp aes128-gcm", "scp", "rsync/ssh"]

#: Remofile's server with sync_writes=False, as its peers never fsync: uploads only, to
#: show what durability costs.
NO_FSYNC = "remofile (no fsync)"
#: The scenarios the server without fsync runs in.
NO_FSYNC_SCENARIOS = frozenset({"big_up", "tree_up", "tree20k_up"})
#: The raw stream that syncs its file at the end, as Remofile's server does: the limit
#: for durable uploads, timed on the big upload only.
RAW_FSYNC = report.RAW_FSYNC

#: scp speaks SFTP since OpenSSH 9.0: timed on the 64 MiB file only.
NOT_FOR_BIG = frozenset({"scp"})
#: Small files and listings: the cipher hardly matters, and there is no raw stream.
NOT_FOR_SMALL = frozenset({"scp", "sftp aes128-gcm", "zmq-raw", "zmq-raw+curve"})

ALL_SCENARIOS = [
    "big_up",
    "big_down",
    "mid_up",
    "mid_down",
    "tree_up",
    "tree_down",
    "list_10k",
    "lat_create",
    "lat_list",
    "fsspec_read",
    "fsspec_random",
    "idle",
    "tree20k_up",
    "tree20k_down",
    *compression.SCENARIOS,
    *wan.SCENARIOS,
]

#: The big file of the WAN group (64 MiB with --quick).
WAN_BIG_BYTES = 256 * MIB

#: The tree of mixed small files: its count (a tenth with --quick), and the tools timed.
TREE20K_FILES = 20_000
TREE20K_TOOLS = frozenset({"remofile", NO_FSYNC, "rsync/ssh", "cp (disk)", "sftp"})

#: Reads through fsspec.open: how many at random offsets, and of how many bytes.
RANDOM_READS = 1000
RANDOM_READ_BYTES = 4096


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Compare Remofile with its peers on 127.0.0.1 and over a shaped WAN link "
        "(200 Mbit/s, 40 ms; root only).",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a reduced run: 256 MiB instead of 1 GiB, 64 MiB over the WAN, 2,000 mixed files "
        "instead of 20,000, fewer operations",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each scenario (default 3)")
    parser.add_argument(
        "--big-runs",
        type=int,
        default=None,
        help="runs of the big-file scenarios (default 3, 2 with --quick)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=ALL_SCENARIOS,
        metavar="SCENARIO",
        help=f"run only this scenario (repeatable): {', '.join(ALL_SCENARIOS)}",
    )
    parser.add_argument(
        "--output",
        default=str(REPOSITORY / "bench-results"),
        help="where results.json, report.txt and benchmark.png go (default bench-results/)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="afterwards, profile Remofile's client and server (cProfile) on the big file and "
        "the 2,000 files, both ways; writes profile-*.txt under --output",
    )
    parser.add_argument(
        "--workdir", default=None, help="where the temporary directory goes (default: $TMPDIR)"
    )
    parser.add_argument(
        "--wan-runs",
        type=int,
        default=1,
        help="runs of the WAN big-file scenarios and of the 20,000-file trees (default 1; "
        "the other WAN scenarios run --runs times)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=900.0,
        help="seconds after which scenarios get one run only, and none 30 s later; the WAN "
        "group is skipped if it would start after that (default 900)",
    )
    arguments = parser.parse_args(argv)
    if arguments.runs < 1:
        parser.error("--runs must be at least 1")
    if arguments.big_runs is None:
        arguments.big_runs = min(2 if arguments.quick else 3, arguments.runs)
    return arguments


# -- scenarios --------------------------------------------------------------------------


def plans(
    arguments: argparse.Namespace,
    layout: Layout,
    big_bytes: int,
    count: int,
    tree20k: tuple[int, int] | None = None,
) -> list[Plan]:
    big_label = f"{big_bytes // GIB} GiB" if big_bytes >= GIB else f"{big_bytes // MIB} MiB"
    # Generous: 20 MiB/s would be a failure anyway.
    big_timeout = max(60.0, big_bytes / (20 * MIB))
    server, client, data = layout.server, layout.client, layout.data
    tree_title = (
        f"{TREE_DIRECTORIES * TREE_FILES_PER_DIRECTORY:,} x 4 KiB in {TREE_DIRECTORIES} dirs"
    )
    result: list[Plan] = []

    def file_plans(
        key: str,
        name: str,
        size: int,
        label: str,
        runs: int,
        timeout: float,
        exclude: frozenset[str] = frozenset(),
    ) -> None:
        def upload(tool: Tool, _run: int) -> Sample:
            sample = tool.put_file(name, timeout)
            check_file(os.path.join(server, name), size)
            return sample

        def download(tool: Tool, _run: int) -> Sample:
            sample = tool.get_file(name, timeout)
            check_file(os.path.join(client, name), size)
            return sample

        result.append(
            Plan(
                f"{key}_up",
                f"upload {label}",
                "bytes",
                size,
                runs,
                timeout,
                upload,
                after=lambda _run: remove(os.path.join(server, name)),
                exclude=exclude,
            )
        )
        result.append(
            Plan(
                f"{key}_down",
                f"download {label}",
                "bytes",
                size,
                runs,
                timeout,
                download,
                after=lambda _run: remove(os.path.join(client, name)),
                prepare=lambda: os.link(os.path.join(data, name), os.path.join(server, name)),
                finish=lambda: remove(os.path.join(server, name)),
                exclude=exclude,
            )
        )

    file_plans("big", "big.bin", big_bytes, big_label, arguments.big_runs, big_timeout, NOT_FOR_BIG)
    file_plans("mid", "mid.bin", MID_BYTES, "64 MiB", arguments.runs, 120.0)

    def tree_up(tool: Tool, _run: int) -> Sample:
        sample = tool.put_tree("tree", 300)
        check_tree(os.path.join(server, "tree"))
        return sample

    def tree_down(tool: Tool, _run: int) -> Sample:
        sample = tool.get_tree("tree", 300)
        check_tree(os.path.join(client, "tree"))
        return sample

    files = TREE_DIRECTORIES * TREE_FILES_PER_DIRECTORY
    result.append(
        Plan(
            "tree_up",
            f"upload {tree_title}",
            "files",
            files,
            arguments.runs,
            300,
            tree_up,
            after=lambda _run: remove(os.path.join(server, "tree")),
            exclude=NOT_FOR_SMALL,
        )
    )
    result.append(
        Plan(
            "tree_down",
            f"download {tree_title}",
            "files",
            files,
            arguments.runs,
            300,
            tree_down,
            after=lambda _run: remove(os.path.join(client, "tree")),
            prepare=lambda: link_tree(os.path.join(data, "tree"), os.path.join(server, "tree")),
            finish=lambda: remove(os.path.join(server, "tree")),
            exclude=NOT_FOR_SMALL,
        )
    )

    if tree20k is not None:
        mixed_files, mixed_bytes = tree20k
        mixed_title = (
            f"{mixed_files:,} mixed files (100 B-64 KiB, {mixed_bytes / MIB:.0f} MiB) "
            f"in {mixed_files // 100} dirs"
        )
        skip_10x = (
            f"{10 * mixed_files:,} files (10x) not run: {10 * mixed_bytes / GIB:.1f} GiB and "
            "minutes per tool each way, past the time budget; growth shown against the "
            "2,000-file tree"
        )

        def mixed_up(tool: Tool, _run: int) -> Sample:
            sample = tool.put_tree("tree20k", 600)
            check_tree(os.path.join(server, "tree20k"), mixed_files)
            return sample

        def mixed_down(tool: Tool, _run: int) -> Sample:
            sample = tool.get_tree("tree20k", 600)
            check_tree(os.path.join(client, "tree20k"), mixed_files)
            return sample

        result.append(
            Plan(
                "tree20k_up",
                f"upload {mixed_title}",
                "files",
                mixed_files,
                arguments.wan_runs,
                600,
                mixed_up,
                after=lambda _run: remove(os.path.join(server, "tree20k")),
                only=TREE20K_TOOLS,
                note=skip_10x,
                data_bytes=mixed_bytes,
            )
        )
        result.append(
            Plan(
                "tree20k_down",
                f"download {mixed_title}",
                "files",
                mixed_files,
                arguments.wan_runs,
                600,
                mixed_down,
                after=lambda _run: remove(os.path.join(client, "tree20k")),
                prepare=lambda: link_tree(
                    os.path.join(data, "tree20k"), os.path.join(server, "tree20k")
                ),
                finish=lambda: remove(os.path.join(server, "tree20k")),
                only=TREE20K_TOOLS,
                note=skip_10x,
                data_bytes=mixed_bytes,
            )
        )

    def make_listing() -> None:
        folder = os.path.join(server, "list10k")
        os.makedirs(folder)
        for index in range(LIST_ENTRIES):
            os.close(os.open(os.path.join(folder, f"entry-{index:05d}"), os.O_CREAT | os.O_WRONLY))

    result.append(
        Plan(
            "list_10k",
            f"list a {LIST_ENTRIES:,}-entry directory",
            "list",
            LIST_ENTRIES,
            arguments.runs,
            60,
            lambda tool, _run: tool.list_dir("list10k", LIST_ENTRIES, 60),
            prepare=make_listing,
            finish=lambda: remove(os.path.join(server, "list10k")),
            exclude=NOT_FOR_SMALL,
        )
    )

    def create_latency(tool: Tool, run: int) -> Sample:
        os.makedirs(os.path.join(server, f"latency-{run}"))
        return tool.latency("create_file", f"latency-{run}", count, 120)

    def make_small() -> None:
        folder = os.path.join(server, "small")
        os.makedirs(folder)
        for index in range(SMALL_DIRECTORY_ENTRIES):
            with open(os.path.join(folder, f"small-{index}"), "wb") as output:
                output.write(os.urandom(TREE_FILE_BYTES))

    result.append(
        Plan(
            "lat_create",
            f"create_file latency ({count} ops per run)",
            "latency",
            count,
            arguments.runs,
            120,
            create_latency,
            after=lambda run: remove(os.path.join(server, f"latency-{run}")),
        )
    )
    result.append(
        Plan(
            "lat_list",
            f"list_files latency, {SMALL_DIRECTORY_ENTRIES}-entry dir ({count} ops per run)",
            "latency",
            count,
            arguments.runs,
            120,
            lambda tool, _run: tool.latency("list_files", "small", count, 120),
            prepare=make_small,
            finish=lambda: remove(os.path.join(server, "small")),
        )
    )

    def link_big() -> None:
        os.link(os.path.join(data, "big.bin"), os.path.join(server, "big.bin"))

    result.append(
        Plan(
            "fsspec_read",
            f"fsspec.open, read {big_label} in order",
            "bytes",
            big_bytes,
            arguments.big_runs,
            big_timeout,
            lambda tool, _run: tool.read_file("big.bin", big_timeout),
            prepare=link_big,
            finish=lambda: remove(os.path.join(server, "big.bin")),
        )
    )
    result.append(
        Plan(
            "fsspec_random",
            f"fsspec.open, {RANDOM_READS:,} random {RANDOM_READ_BYTES // 1024} KiB reads of "
            f"{big_label} (per read)",
            "latency",
            RANDOM_READS,
            arguments.runs,
            120,
            lambda tool, _run: tool.random_reads("big.bin", RANDOM_READS, RANDOM_READ_BYTES, 120),
            prepare=link_big,
            finish=lambda: remove(os.path.join(server, "big.bin")),
        )
    )
    for plan in result:
        if plan.key not in NO_FSYNC_SCENARIOS:
            plan.exclude |= {NO_FSYNC}
        if plan.key != "big_up":
            plan.exclude |= {RAW_FSYNC}
        # The compression variants run only where a plan names them (bench/compression.py).
        plan.exclude |= compression.VARIANTS
    return result


def measure_idle(tool: RemofileTool, layout: Layout) -> Idle:
    """CPU of the benchmark's idle server, and of another with a quiet session open."""
    from remofile.core import generate_token

    token = generate_token()
    server = ServerProcess(layout.server, token, None, os.path.join(layout.work, "idle-server.log"))
    try:
        client = ClientProcess(
            server.endpoint,
            token,
            None,
            os.path.join(layout.work, "idle-client.log"),
            layout.client,
        )
        try:
            client.call({"op": "hold_session"}, 30)
            time.sleep(1.0)
            pids = (tool.server.pid, server.pid, client.pid)
            before = [procs.tree_cpu_seconds(pid) for pid in pids]
            started = time.monotonic()
            time.sleep(IDLE_SECONDS)
            seconds = time.monotonic() - started
            after = [procs.tree_cpu_seconds(pid) for pid in pids]
            client.call({"op": "release_session"}, 30)
        finally:
            client.close()
    finally:
        server.close()
    used = [later - earlier for earlier, later in zip(before, after, strict=True)]
    return Idle(seconds, used[0], used[1], used[2])


# -- profiles ------------------------------------------------------------------------------


def profile_summary(path: str, text_path: str, title: str, top: int = 12) -> list[str]:
    """Write the statistics of a profile as text; the top functions by own time."""
    buffer = io.StringIO()
    stats = pstats.Stats(path, stream=buffer)
    buffer.write(f"{title}\n\n== by own time ==\n")
    stats.sort_stats("tottime").print_stats(30)
    buffer.write("\n== by cumulative time ==\n")
    stats.sort_stats("cumulative").print_stats(30)
    with open(text_path, "w", encoding="utf-8") as output:
        output.write(buffer.getvalue())
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in entries.values()) or 1.0
    ranked = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)[:top]
    lines = [f"  {title}: {total:.2f} s profiled ({os.path.basename(text_path)})"]
    for (file_name, line, function), (_, calls, own, cumulative, _) in ranked:
        where = f"{os.path.basename(file_name)}:{line}" if line else file_name
        lines.append(
            f"    {own:7.3f} s {100 * own / total:5.1f}%  cum {cumulative:7.3f} s  "
            f"{calls:>8} calls  {function} ({where})"
        )
    return lines


def run_profiles(
    selected: list[Plan], layout: Layout, output: str, log: Callable[[str], None]
) -> list[str]:
    lines = ["Profiles (cProfile; a separate pass, not part of the figures above):"]
    for plan in selected:
        if plan.key not in ("big_up", "big_down", "tree_up", "tree_down"):
            continue
        prefix = os.path.join(output, f"profile-{plan.key}")
        tool = RemofileTool(layout, curve=False, profile_prefix=prefix)
        plan.prepare()
        try:
            sample = plan.operation(tool, 0)
            plan.after(0)
            tool.dump_client_profile(prefix + "-client.prof")
        finally:
            tool.close()
            plan.finish()
        figure = Scenario(plan.key, plan.title, plan.kind, plan.amount).figure(sample)
        log(f"  profiled {plan.key}: {report._number(figure)} under the profiler")
        lines.append(f" {plan.title} ({report._number(figure)} under the profiler):")
        for side in ("client", "server"):
            lines.extend(
                profile_summary(
                    f"{prefix}-{side}.prof", f"{prefix}-{side}.txt", f"{side}, {plan.key}"
                )
            )
    return lines


# -- the run ---------------------------------------------------------------------------------


def _version(argv: list[str]) -> str:
    try:
        finished = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    return (finished.stdout + finished.stderr).strip().splitlines()[0]


def machine_facts(arguments: argparse.Namespace, big_bytes: int) -> dict[str, object]:
    import google.protobuf
    import zmq
    from google.protobuf.internal import api_implementation

    cpu_model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        cpu_model = next(
            (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
            "",
        )
    commit = _version(["git", "-C", str(REPOSITORY), "rev-parse", "--short", "HEAD"])
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pyzmq": zmq.__version__,
        "libzmq": zmq.zmq_version(),
        "protobuf": google.protobuf.__version__,
        "protobuf_backend": api_implementation.Type(),
        "openssh": _version(["ssh", "-V"]),
        "rsync": _version(["rsync", "--version"]),
        "git_commit": commit,
        "quick": arguments.quick,
        "runs": arguments.runs,
        "big_runs": arguments.big_runs,
        "big_bytes": big_bytes,
        "load_average_start": os.getloadavg(),
    }


@contextlib.contextmanager
def stopped_by_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP end the run like Ctrl-C does, cleaning up on the way out."""

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_wan(
    arguments: argparse.Namespace,
    layout: Layout,
    keys: set[str],
    corpus: tuple[int, int] | None,
    deadline: float,
    log: Callable[[str], None],
    wan_link: dict[str, float],
) -> tuple[list[Scenario], list[str], list[str]]:
    """The WAN group: make the link, run its scenarios, remove the link (whatever
    happens); its scenarios, tool names and notes; what was measured of the link goes
    into ``wan_link``. Skipped (with the reason, as a note
    and in each scenario) where the link cannot be made or the budget is spent."""
    selected = [key for key in wan.SCENARIOS if key in keys]
    reason = wan.unavailable()
    if reason is None and time.monotonic() > deadline + FIRST_RUN_GRACE_S:
        reason = "time budget spent before the WAN group"
    link: wan.Link | None = None
    tools: list[Tool] = []
    ssh: SshServer | None = None
    try:
        if reason is None:
            try:
                link = wan.Link(layout.work)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
                reason = f"the link could not be made: {error}"
        if link is None or reason is not None:
            log(f"WAN scenarios skipped: {reason}")
            skipped = [
                Scenario(key, f"WAN: {key}", "bytes", 0, notes=f"skipped: {reason}")
                for key in selected
            ]
            return skipped, [], [f"WAN scenarios skipped: {reason}"]
        if link.removed_stale:
            log(f"removed namespaces left by earlier runs: {', '.join(link.removed_stale)}")
        measured = link.measure()
        log(link.describe())
        wan_bytes = 64 * MIB if arguments.quick else WAN_BIG_BYTES
        if keys & {"wan_big_up", "wan_big_down"}:
            write_random_file(os.path.join(layout.data, "wan.bin"), wan_bytes)
        if keys & {"wan_tree_up", "wan_tree_down"} and not os.path.isdir(
            os.path.join(layout.data, "tree")
        ):
            make_tree(os.path.join(layout.data, "tree"))
        if corpus is None:
            corpus = (0, 0)
        tools, ssh, unavailable = wan.tools(layout, link)
        if ssh.unavailable is None:
            log(f"private sshd in {link.server} (pid {ssh.pid})")
        scenarios = []
        wan_plans = wan.plans(layout, link, wan_bytes, arguments.wan_runs, arguments.runs, corpus)
        for plan in wan_plans:
            if plan.key not in keys:
                continue
            log(plan.title)
            scenarios.append(run_plan(plan, tools, unavailable, deadline, log))
        names = [tool.name for tool in tools] + list(unavailable)
        notes = [link.describe()]
        notes.append(
            "WAN wire MiB: bytes through the client's end of the link during the run, both "
            "ways, headers included (interface counters)."
        )
        wan_link.update(measured)
        return scenarios, names, notes
    finally:
        for tool in tools:
            with contextlib.suppress(Exception):
                tool.close()
        if ssh is not None:
            ssh.close()
        if link is not None:
            link.close()


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    started = time.monotonic()
    deadline = started + arguments.budget
    selected_keys = arguments.only or ALL_SCENARIOS
    big_bytes = 256 * MIB if arguments.quick else GIB
    count = 300 if arguments.quick else 1000
    output = os.path.abspath(arguments.output)
    os.makedirs(output, exist_ok=True)

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)

    top = tempfile.mkdtemp(prefix="remofile-bench-", dir=arguments.workdir)
    tools: list[Tool] = []
    ssh: SshServer | None = None
    with stopped_by_signals():
        try:
            layout = Layout.under(top)
            log(f"working in {top}")
            keys = set(selected_keys)
            wan_keys = keys & set(wan.SCENARIOS)
            data = layout.data
            if keys & {"big_up", "big_down", "fsspec_read", "fsspec_random"}:
                log(f"writing {big_bytes // MIB} MiB of random data")
                write_random_file(os.path.join(data, "big.bin"), big_bytes)
            if keys & {"mid_up", "mid_down"}:
                write_random_file(os.path.join(data, "mid.bin"), MID_BYTES)
            if keys & {"tree_up", "tree_down", "wan_tree_up", "wan_tree_down"}:
                make_tree(os.path.join(data, "tree"))
            tree20k = None
            if keys & {"tree20k_up", "tree20k_down"}:
                files = TREE20K_FILES // 10 if arguments.quick else TREE20K_FILES
                log(f"writing {files:,} mixed small files")
                tree20k = (files, make_mixed_tree(os.path.join(data, "tree20k"), files))
            corpus = None
            if keys & {"corpus_z", "wan_corpus_z"}:
                corpus = copy_stdlib_corpus(os.path.join(data, "corpus"))
                log(f"copied {corpus[0]:,} files ({corpus[1] / MIB:.1f} MiB) of the stdlib sources")
            compressed = None
            if "compressed_auto" in keys:
                compressed = make_compressed_tree(os.path.join(data, "compressed"))
            encoded: dict[tuple[str, str], compression.Encoded] = {}
            all_plans = plans(arguments, layout, big_bytes, count, tree20k)
            all_plans += compression.plans(layout, arguments.runs, corpus, compressed, encoded)
            selected = [plan for plan in all_plans if plan.key in selected_keys]
            loopback_keys = {plan.key for plan in selected}

            notes: list[str] = [
                "Remofile's server runs with its defaults: it fsyncs every upload before "
                "placing it (sync_writes=True); no peer fsyncs."
            ]
            unavailable: dict[str, str] = {}
            setup_seconds = None
            remofile: RemofileTool | None = None
            if loopback_keys or "idle" in keys:
                remofile = RemofileTool(layout, curve=False)
                tools.append(remofile)
                tools.append(RemofileTool(layout, curve=True))
                if loopback_keys & NO_FSYNC_SCENARIOS:
                    tools.append(
                        RemofileTool(layout, curve=False, sync_writes=False, name=NO_FSYNC)
                    )
                    notes.append(
                        f"{NO_FSYNC}: the same server with sync_writes=False (uploads only)."
                    )
                if loopback_keys & set(compression.SCENARIOS):
                    for name, options in compression.REMOFILE_VARIANTS.items():
                        tools.append(
                            RemofileTool(layout, curve=False, name=name, options=dict(options))
                        )
                tools += [RawZmqTool(layout, curve=False), RawZmqTool(layout, curve=True)]
                if "big_up" in loopback_keys:
                    tools.append(RawZmqTool(layout, curve=False, fsync=True))
                tools.append(DiskTool(layout))
            if loopback_keys - {"lat_create", "lat_list"}:
                ssh = SshServer(layout)
                notes += ssh.notes
                peers = ssh_tools(ssh, layout)
                if peers and ssh.rsync is not None and "corpus_z" in loopback_keys:
                    for name, rsync_options in compression.RSYNC_VARIANTS.items():
                        peers.append(RsyncTool(ssh, layout, name, rsync_options))
                tools += peers
                started_names = {tool.name for tool in peers}
                for name in SSH_TOOL_NAMES:
                    if name not in started_names:
                        unavailable[name] = ssh.unavailable or "rsync not installed"
                if peers:
                    setup_seconds = ssh.setup_seconds()
                    log(f"private sshd on 127.0.0.1 (pid {ssh.pid}); setup {setup_seconds:.2f} s")
                else:
                    log(f"OpenSSH peers skipped: {ssh.unavailable}")
            scenarios = []
            for plan in selected:
                log(f"{plan.title}")
                scenarios.append(run_plan(plan, tools, unavailable, deadline, log))
            if encoded:
                notes.append(
                    "Bytes on the wire on 127.0.0.1 (wire MiB): Remofile's computed by "
                    "compressing its chunks as its client does (chunk data only); rsync's "
                    "from its --stats (sent + received)."
                )
                notes += compression.notes(encoded)
            idle = None
            if "idle" in selected_keys and remofile is not None:
                log(f"idle server CPU over {IDLE_SECONDS:.0f} s")
                idle = measure_idle(remofile, layout)
            tool_names = [tool.name for tool in tools] + list(unavailable)
            wan_link: dict[str, float] = {}
            profile_lines: list[str] = []
            if arguments.profile:
                for tool in tools:
                    tool.close()
                tools.clear()
                log("profiling Remofile (cProfile)")
                profile_lines = run_profiles(selected, layout, output, log)
            if wan_keys:
                wan_scenarios, wan_names, wan_notes = run_wan(
                    arguments, layout, wan_keys, corpus, deadline, log, wan_link
                )
                scenarios += wan_scenarios
                tool_names += [name for name in wan_names if name not in tool_names]
                notes += wan_notes
            meta = machine_facts(arguments, big_bytes)
            meta["load_average_end"] = os.getloadavg()
            meta["elapsed_seconds"] = round(time.monotonic() - started, 1)
            if wan_link:
                meta["wan_link"] = wan_link
            if encoded:
                meta["compression_codec"] = {
                    f"{tree}/{variant}": dataclasses.asdict(found)
                    for (tree, variant), found in encoded.items()
                }
            results = Results(meta, tool_names, scenarios, idle, setup_seconds, notes)
        except KeyboardInterrupt:
            print("interrupted: cleaning up", file=sys.stderr)
            return 130
        finally:
            for tool in tools:
                with contextlib.suppress(Exception):
                    tool.close()
            if ssh is not None:
                ssh.close()
            shutil.rmtree(top, ignore_errors=True)

    text = report.render(results)
    if profile_lines:
        text += "\n\n" + "\n".join(profile_lines)
    print()
    print(text)
    with open(os.path.join(output, "report.txt"), "w", encoding="utf-8") as saved:
        saved.write(text + "\n")
    report.write_json(results, os.path.join(output, "results.json"))
    print(f"\nresults: {os.path.join(output, 'results.json')}")
    print(report.write_chart(results, os.path.join(output, "benchmark.png")))
    print(f"total time: {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
