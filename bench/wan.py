"""The WAN scenarios: the same peers through a link of 200 Mbit/s and 40 ms of round trip.

The benchmark makes the link itself, on this machine, and removes it afterwards (also
on Ctrl-C or an error): three network namespaces named after its PID (client, middle,
server), a veth pair between the client's and the middle one and another between the
middle one and the server's, each end shaped to 200 Mbit/s with ``tc qdisc tbf``. This
kernel has no ``netem``, so the round trip comes from ``bench/relay.py`` running in the
middle namespace: a TCP relay that holds each direction's bytes for 20 ms before passing
them on (it terminates TCP on each side, so what is delayed is every exchange between
the two ends, as on a long link; the kernel's own slow start over 40 ms is not
reproduced). Servers (Remofile, the private sshd, the raw pyzmq receiver) run in the
server's namespace with ``ip netns exec``, clients in the client's, and each reaches the
other only through a port of the relay. The link's capacity (a raw TCP stream each way,
measured where it arrives) and round trip (a 64-byte ping-pong) are measured through the
relay before the scenarios, so that "% of the link" is against what it really carries.
The bytes each run puts on the link (both ways, IP headers included) are read from the
client's interface counters.

Without root, ``ip``, network namespaces or ``tbf``, the group is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from bench import procs
from bench.data import check_file, check_tree, link_tree, remove
from bench.model import MIB, Sample
from bench.peers import RawZmqTool, RsyncTool, ScpTool, SftpTool, SshServer
from bench.plans import Plan
from bench.remofile_side import REPOSITORY, RemofileTool
from bench.tools import Layout, Network, Tool

#: The link: rate of every veth end, and the delay the relay adds each way.
RATE = "200mbit"
RATE_BITS_PER_SECOND = 200e6
ONE_WAY_DELAY_MS = 20.0
#: tbf's bucket (at least one 64 KiB GSO packet) and queue.
TBF_BURST = "128kb"
TBF_LIMIT = "1mb"
#: What the relay may hold per direction before it stops reading: 8x the 1 MB
#: bandwidth-delay product.
RELAY_QUEUE_BYTES = 8 * MIB

CLIENT_ADDRESS = "10.201.1.1"
MIDDLE_CLIENT_SIDE = "10.201.1.2"
MIDDLE_SERVER_SIDE = "10.201.2.1"
SERVER_ADDRESS = "10.201.2.2"
#: The client's end of the link, whose counters give the bytes on the wire.
CLIENT_DEVICE = "wan0"

#: Bytes of each probe stream, and pings.
PROBE_BYTES = 32 * MIB
PROBE_PINGS = 20

NAMESPACE_PATTERN = re.compile(r"^remofile-bench-(\d+)-(client|middle|server)$")

SCENARIOS = ["wan_big_up", "wan_big_down", "wan_tree_up", "wan_tree_down", "wan_corpus_z"]

#: The tools of the WAN group, by name.
REMOFILE_Z = "remofile -z"
RSYNC_Z = "rsync -z"
#: The client's one knob for latency: its window of requests in flight (default 8; the
#: server announces how many it takes, 16 here).
WIDE_WINDOW = 16
REMOFILE_WIDE = f"remofile window={WIDE_WINDOW}"
REMOFILE_Z_WIDE = f"remofile -z window={WIDE_WINDOW}"
BIG_TOOLS = frozenset({"remofile", "remofile+curve", "zmq-raw", "sftp", "scp", "rsync/ssh"})
TREE_TOOLS = frozenset({"remofile", REMOFILE_WIDE, "remofile+curve", "rsync/ssh", "sftp", "scp"})
CORPUS_TOOLS = frozenset(
    {"remofile", REMOFILE_Z, REMOFILE_WIDE, REMOFILE_Z_WIDE, "rsync/ssh", RSYNC_Z}
)
#: Peers that would take minutes on the small files: one or more round trips per file.
TREE_SKIPPED = {
    "sftp": "one request and answer (at least) per file: 2,000 x 40 ms, minutes",
    "scp": "speaks SFTP: as sftp",
}


def unavailable() -> str | None:
    """Why the WAN group cannot run here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for binary in ("ip", "tc"):
        if shutil.which(binary) is None:
            return f"no `{binary}` (iproute2)"
    return None


def _run(argv: list[str], timeout: float = 20.0) -> str:
    finished = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {(finished.stderr or finished.stdout).strip()}")
    return finished.stdout


def remove_stale_namespaces() -> list[str]:
    """Remove namespaces an earlier run of the benchmark left (it was killed): those
    named after a PID that no longer runs."""
    removed = []
    with contextlib.suppress(OSError, RuntimeError, subprocess.TimeoutExpired):
        for line in _run(["ip", "netns", "list"]).splitlines():
            name = line.split()[0] if line.split() else ""
            match = NAMESPACE_PATTERN.match(name)
            if match is None or os.path.exists(f"/proc/{match.group(1)}"):
                continue
            _run(["ip", "netns", "delete", name])
            removed.append(name)
    return removed


class Link:
    """The namespaces, shaped veth pairs and relay of one run; :meth:`close` undoes it."""

    def __init__(self, work: str) -> None:
        self._work = work
        pid = os.getpid()
        self.client, self.middle, self.server = (
            f"remofile-bench-{pid}-{role}" for role in ("client", "middle", "server")
        )
        self._made: list[str] = []
        self._relay: subprocess.Popen[bytes] | None = None
        self._relay_reader: procs.LineReader | None = None
        self._routes: dict[tuple[str, int], tuple[str, int]] = {}
        self.measured: dict[str, float] = {}
        self.removed_stale = remove_stale_namespaces()
        try:
            self._make()
        except BaseException:
            self.close()
            raise

    def _make(self) -> None:
        for name in (self.client, self.middle, self.server):
            _run(["ip", "netns", "add", name])
            self._made.append(name)
            _run(["ip", "-n", name, "link", "set", "lo", "up"])
        ends = [
            (self.client, CLIENT_DEVICE, CLIENT_ADDRESS, self.middle, "wan1", MIDDLE_CLIENT_SIDE),
            (self.middle, "wan2", MIDDLE_SERVER_SIDE, self.server, "wan3", SERVER_ADDRESS),
        ]
        for left, left_device, left_address, right, right_device, right_address in ends:
            _run(
                [
                    *("ip", "link", "add", "name", left_device, "netns", left, "type", "veth"),
                    *("peer", "name", right_device, "netns", right),
                ]
            )
            for namespace, device, address in (
                (left, left_device, left_address),
                (right, right_device, right_address),
            ):
                _run(["ip", "-n", namespace, "addr", "add", f"{address}/24", "dev", device])
                _run(["ip", "-n", namespace, "link", "set", device, "up"])
                _run(
                    [
                        *("tc", "-n", namespace, "qdisc", "add", "dev", device, "root", "tbf"),
                        *("rate", RATE, "burst", TBF_BURST, "limit", TBF_LIMIT),
                    ]
                )
        self._start_relay()

    def prefix(self, namespace: str) -> tuple[str, ...]:
        return ("ip", "netns", "exec", namespace)

    def _start_relay(self) -> None:
        log = open(os.path.join(self._work, "relay.log"), "ab")  # noqa: SIM115
        try:
            self._relay = subprocess.Popen(
                [*self.prefix(self.middle), sys.executable, "-m", "bench.relay", "relay"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=self._work,
                env=_environment(),
            )
        finally:
            log.close()
        assert self._relay.stdout is not None
        self._relay_reader = procs.LineReader(self._relay.stdout)
        config = {"delay_ms": ONE_WAY_DELAY_MS, "max_queue_bytes": RELAY_QUEUE_BYTES}
        self._relay_command(config)

    def _relay_command(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self._relay is not None
        assert self._relay.stdin is not None
        assert self._relay_reader is not None
        self._relay.stdin.write(json.dumps(command).encode() + b"\n")
        self._relay.stdin.flush()
        answer: dict[str, Any] = json.loads(self._relay_reader.read_line(30))
        if "error" in answer:
            raise RuntimeError(f"relay: {answer['error']}")
        return answer

    def route(self, host: str, port: int) -> tuple[str, int]:
        """The relay's port that forwards to ``host:port`` (the server's or the client's
        address), from the other side."""
        key = (host, port)
        if key not in self._routes:
            listen = MIDDLE_CLIENT_SIDE if host == SERVER_ADDRESS else MIDDLE_SERVER_SIDE
            answer = self._relay_command({"forward": [host, port], "listen_host": listen})
            self._routes[key] = (answer["listen"][0], int(answer["listen"][1]))
        return self._routes[key]

    @property
    def network(self) -> Network:
        return Network(
            server_prefix=self.prefix(self.server),
            client_prefix=self.prefix(self.client),
            server_host=SERVER_ADDRESS,
            client_host=CLIENT_ADDRESS,
            route=self.route,
        )

    def measure(self) -> dict[str, float]:
        """The capacity of the link each way and its round trip, through the relay."""
        server = subprocess.Popen(
            [*self.prefix(self.server), sys.executable, "-m", "bench.relay", "probe-server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_environment(),
        )
        try:
            assert server.stdin is not None
            assert server.stdout is not None
            server.stdin.write(json.dumps({"host": SERVER_ADDRESS}).encode() + b"\n")
            server.stdin.flush()
            port = json.loads(procs.LineReader(server.stdout).read_line(30))["port"]
            host, routed = self.route(SERVER_ADDRESS, port)
            config = {"host": host, "port": routed, "bytes": PROBE_BYTES, "pings": PROBE_PINGS}
            finished = subprocess.run(
                [*self.prefix(self.client), sys.executable, "-m", "bench.relay", "probe"],
                input=json.dumps(config) + "\n",
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
                env=_environment(),
            )
            if finished.returncode != 0:
                raise RuntimeError(f"link probe failed: {finished.stderr.strip()[-300:]}")
            self.measured = json.loads(finished.stdout)
        finally:
            if server.stdin is not None:
                with contextlib.suppress(OSError):
                    server.stdin.close()
            procs.stop_process(server)
            if server.stdout is not None:
                server.stdout.close()
        return self.measured

    def wire_bytes(self) -> int:
        """Bytes through the client's end of the link so far, both ways."""
        text = _run(["ip", "-n", self.client, "-j", "-s", "link", "show", CLIENT_DEVICE])
        statistics = json.loads(text)[0]["stats64"]
        return int(statistics["rx"]["bytes"]) + int(statistics["tx"]["bytes"])

    def describe(self) -> str:
        measured = self.measured
        if not measured:
            return "WAN link: not measured"
        return (
            f"WAN link: veth shaped to {RATE_BITS_PER_SECOND / 1e6:.0f} Mbit/s (tbf) each way, "
            f"{2 * ONE_WAY_DELAY_MS:.0f} ms round trip added by bench/relay.py; measured "
            f"through the relay: {measured['up_bytes_per_second'] / MIB:.1f} MiB/s up, "
            f"{measured['down_bytes_per_second'] / MIB:.1f} MiB/s down (raw TCP), round trip "
            f"{measured['rtt_ms_median']:.1f} ms median "
            f"[{measured['rtt_ms_min']:.1f}-{measured['rtt_ms_max']:.1f}]"
        )

    def close(self) -> None:
        if self._relay is not None:
            if self._relay.stdin is not None:
                with contextlib.suppress(OSError):
                    self._relay.stdin.close()
            procs.stop_process(self._relay)
            if self._relay.stdout is not None:
                self._relay.stdout.close()
            self._relay = None
        for name in reversed(self._made):
            with contextlib.suppress(RuntimeError, OSError, subprocess.TimeoutExpired):
                _run(["ip", "netns", "delete", name])
        self._made.clear()


def _environment() -> dict[str, str]:
    environment = dict(os.environ)
    paths = [str(REPOSITORY), *filter(None, environment.get("PYTHONPATH", "").split(os.pathsep))]
    environment["PYTHONPATH"] = os.pathsep.join(paths)
    return environment


# -- tools and scenarios ----------------------------------------------------------------


def tools(layout: Layout, link: Link) -> tuple[list[Tool], SshServer, dict[str, str]]:
    """The peers through the link: their list, the sshd (to close), and those that
    cannot run with the reason."""
    network = link.network
    started: list[Tool] = []
    unavailable_tools: dict[str, str] = {}
    try:
        started.append(RemofileTool(layout, curve=False, network=network))
        started.append(RemofileTool(layout, curve=True, network=network))
        started.append(
            RemofileTool(
                layout, curve=False, network=network, name=REMOFILE_Z, options={"compress": True}
            )
        )
        started.append(
            RemofileTool(
                layout,
                curve=False,
                network=network,
                name=REMOFILE_WIDE,
                options={"window": WIDE_WINDOW},
            )
        )
        started.append(
            RemofileTool(
                layout,
                curve=False,
                network=network,
                name=REMOFILE_Z_WIDE,
                options={"compress": True, "window": WIDE_WINDOW},
            )
        )
        started.append(RawZmqTool(layout, curve=False, network=network))
        ssh = SshServer(layout, network, directory="ssh-wan")
        if ssh.unavailable is None:
            started += [SftpTool(ssh, layout), ScpTool(ssh, layout)]
            if ssh.rsync is not None:
                started.append(RsyncTool(ssh, layout))
                started.append(RsyncTool(ssh, layout, RSYNC_Z, ("-z",)))
        else:
            for name in ("sftp", "scp", "rsync/ssh", RSYNC_Z):
                unavailable_tools[name] = ssh.unavailable
    except BaseException:
        for tool in started:
            with contextlib.suppress(Exception):
                tool.close()
        raise
    return started, ssh, unavailable_tools


def plans(
    layout: Layout,
    link: Link,
    big_bytes: int,
    big_runs: int,
    runs: int,
    corpus: tuple[int, int],
) -> list[Plan]:
    """The WAN group's scenarios, on data the caller made: ``data/wan.bin`` of
    ``big_bytes``, ``data/tree`` (2,000 x 4 KiB), ``data/corpus`` of ``corpus`` (files,
    bytes). The big file runs ``big_runs`` times (12 s per tool and way at 256 MiB), the
    others, a few seconds each, ``runs`` times."""
    server, client, data = layout.server, layout.client, layout.data
    label = f"{big_bytes // MIB} MiB"
    rate = link.measured.get("up_bytes_per_second") or RATE_BITS_PER_SECOND / 8
    big_timeout = max(120.0, 3 * big_bytes / rate)

    def on_link(operation: Callable[[Tool, int], Sample]) -> Callable[[Tool, int], Sample]:
        def counted(tool: Tool, run: int) -> Sample:
            before = link.wire_bytes()
            sample = operation(tool, run)
            sample.wire_bytes = link.wire_bytes() - before
            return sample

        return counted

    def upload(tool: Tool, _run: int) -> Sample:
        sample = tool.put_file("wan.bin", big_timeout)
        check_file(os.path.join(server, "wan.bin"), big_bytes)
        return sample

    def download(tool: Tool, _run: int) -> Sample:
        sample = tool.get_file("wan.bin", big_timeout)
        check_file(os.path.join(client, "wan.bin"), big_bytes)
        return sample

    def tree_up(tool: Tool, _run: int) -> Sample:
        sample = tool.put_tree("tree", 300)
        check_tree(os.path.join(server, "tree"))
        return sample

    def tree_down(tool: Tool, _run: int) -> Sample:
        sample = tool.get_tree("tree", 300)
        check_tree(os.path.join(client, "tree"))
        return sample

    def corpus_up(tool: Tool, _run: int) -> Sample:
        sample = tool.put_tree("corpus", 300)
        check_tree(os.path.join(server, "corpus"), corpus[0])
        return sample

    title = f"WAN {RATE_BITS_PER_SECOND / 1e6:.0f} Mbit/s {2 * ONE_WAY_DELAY_MS:.0f} ms:"
    tree_skips = dict(TREE_SKIPPED)
    result = [
        Plan(
            "wan_big_up",
            f"{title} upload {label}",
            "bytes",
            big_bytes,
            big_runs,
            big_timeout,
            on_link(upload),
            after=lambda _run: remove(os.path.join(server, "wan.bin")),
            only=BIG_TOOLS,
        ),
        Plan(
            "wan_big_down",
            f"{title} download {label}",
            "bytes",
            big_bytes,
            big_runs,
            big_timeout,
            on_link(download),
            after=lambda _run: remove(os.path.join(client, "wan.bin")),
            prepare=lambda: os.link(os.path.join(data, "wan.bin"), os.path.join(server, "wan.bin")),
            finish=lambda: remove(os.path.join(server, "wan.bin")),
            only=BIG_TOOLS,
        ),
        Plan(
            "wan_tree_up",
            f"{title} upload 2,000 x 4 KiB in 20 dirs",
            "files",
            2000,
            runs,
            300,
            on_link(tree_up),
            data_bytes=2000 * 4096,
            after=lambda _run: remove(os.path.join(server, "tree")),
            only=TREE_TOOLS,
            skipped=tree_skips,
        ),
        Plan(
            "wan_tree_down",
            f"{title} download 2,000 x 4 KiB in 20 dirs",
            "files",
            2000,
            runs,
            300,
            on_link(tree_down),
            data_bytes=2000 * 4096,
            after=lambda _run: remove(os.path.join(client, "tree")),
            prepare=lambda: link_tree(os.path.join(data, "tree"), os.path.join(server, "tree")),
            finish=lambda: remove(os.path.join(server, "tree")),
            only=TREE_TOOLS,
            skipped=tree_skips,
        ),
        Plan(
            "wan_corpus_z",
            f"{title} upload the stdlib corpus ({corpus[0]:,} files, {corpus[1] / MIB:.0f} MiB)",
            "bytes",
            corpus[1],
            runs,
            300,
            on_link(corpus_up),
            after=lambda _run: remove(os.path.join(server, "corpus")),
            only=CORPUS_TOOLS,
        ),
    ]
    return result
