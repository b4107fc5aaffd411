"""Remofile's peers: cp (the disk), raw pyzmq streaming (the limit), and OpenSSH.

OpenSSH peers (sftp with its default cipher and with aes128-gcm@openssh.com, scp, and
rsync over ssh) go through a private sshd that this module starts on 127.0.0.1, on a
free port, from a temporary directory holding its own host key, the one key it accepts
and its own configuration; the clients use a configuration file of their own too, so
the system's ssh settings are never read nor touched. Key authentication is as the
current user. Without the binaries (``apt-get install openssh-server rsync``) those
peers are reported as skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

from bench import procs
from bench.model import Sample
from bench.remofile_side import REPOSITORY, WARMUP_LIMIT, WARMUP_SECONDS
from bench.tools import LOOPBACK, Layout, Network, Tool

#: The host name the ssh client configuration knows the private sshd by.
SSH_HOST = "remofile-bench"

#: Where sshd must find its privilege separation directory (compiled into Debian's sshd).
PRIVSEP_DIRECTORY = "/run/sshd"


def _count_lines(path: str) -> int:
    with open(path, "rb") as listing:
        return sum(1 for _ in listing)


# -- cp: the disk -------------------------------------------------------------------


class DiskTool(Tool):
    """The disk alone: ``cp`` and ``cp -r``, ``ls -l``, and the system calls themselves."""

    name = "cp (disk)"

    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        self._cp = shutil.which("cp") or "cp"
        self._ls = shutil.which("ls") or "ls"

    def _run(self, argv: list[str], timeout: float, log: str | None = None) -> Sample:
        finished = procs.run_once(argv, timeout=timeout, log_path=log).check()
        return Sample(finished.wall_seconds, finished.cpu_seconds, None, finished.max_rss_bytes)

    def put_file(self, name: str, timeout: float) -> Sample:
        source = os.path.join(self._layout.data, name)
        return self._run([self._cp, source, os.path.join(self._layout.server, name)], timeout)

    def get_file(self, name: str, timeout: float) -> Sample:
        source = os.path.join(self._layout.server, name)
        return self._run([self._cp, source, os.path.join(self._layout.client, name)], timeout)

    def put_tree(self, name: str, timeout: float) -> Sample:
        source = os.path.join(self._layout.data, name)
        return self._run([self._cp, "-r", source, os.path.join(self._layout.server, name)], timeout)

    def get_tree(self, name: str, timeout: float) -> Sample:
        source = os.path.join(self._layout.server, name)
        return self._run([self._cp, "-r", source, os.path.join(self._layout.client, name)], timeout)

    def list_dir(self, name: str, entries: int, timeout: float) -> Sample:
        log = os.path.join(self._layout.work, "ls.out")
        sample = self._run([self._ls, "-l", os.path.join(self._layout.server, name)], timeout, log)
        if _count_lines(log) < entries:
            raise RuntimeError("ls listed fewer entries than expected")
        return sample

    def latency(self, kind: str, directory: str, count: int, timeout: float) -> Sample:
        """The system calls a server makes for the operation, timed in this process."""
        path = os.path.join(self._layout.server, directory)

        def operation(name: str) -> None:
            if kind == "create_file":
                os.close(os.open(os.path.join(path, name), os.O_CREAT | os.O_EXCL, 0o644))
            else:
                with os.scandir(path) as entries:
                    for entry in entries:
                        entry.stat()

        warm_until = time.monotonic() + WARMUP_SECONDS  # as Remofile's client does
        for index in range(WARMUP_LIMIT):
            operation(f"warmup-{index}")
            if time.monotonic() > warm_until:
                break
        latencies: list[float] = []
        deadline = time.monotonic() + timeout
        started = time.perf_counter()
        for index in range(count):
            before = time.perf_counter_ns()
            operation(f"file-{index}")
            latencies.append((time.perf_counter_ns() - before) / 1e6)
            if time.monotonic() > deadline:
                raise procs.Timeout("latency loop over its time")
        return Sample(time.perf_counter() - started, latencies_ms=latencies)


# -- raw pyzmq: the limit ---------------------------------------------------------------


class RawZmqTool(Tool):
    """A file streamed to a file with plain pyzmq (see ``bench/rawzmq.py``), optionally
    over CURVE; round trips of a small message for latency."""

    def __init__(
        self, layout: Layout, curve: bool, fsync: bool = False, network: Network = LOOPBACK
    ) -> None:
        self.name = ("zmq-raw+curve" if curve else "zmq-raw") + (" (fsync)" if fsync else "")
        self._layout = layout
        self._fsync = fsync
        self._network = network
        self._keys: tuple[str, str] | None = None
        if curve:
            import zmq

            public, secret = zmq.curve_keypair()
            self._keys = (public.decode(), secret.decode())

    def _start(
        self, mode: str, config: dict[str, Any], side: str = "server"
    ) -> subprocess.Popen[bytes]:
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(REPOSITORY), *filter(None, environment.get("PYTHONPATH", "").split(os.pathsep))]
        )
        if self._keys is not None:
            key = "server_secret" if mode in ("receive", "echo") else "server_public"
            config = {**config, key: self._keys[1] if key == "server_secret" else self._keys[0]}
        network = self._network
        prefix = network.server_prefix if side == "server" else network.client_prefix
        config = {
            **config,
            "host": network.server_host if side == "server" else network.client_host,
        }
        process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "bench.rawzmq", mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(os.path.join(self._layout.work, "rawzmq.log"), "ab"),  # noqa: SIM115
            env=environment,
            cwd=self._layout.work,
        )
        assert process.stdin is not None
        process.stdin.write(json.dumps(config).encode() + b"\n")
        process.stdin.close()
        return process

    def _pair(
        self,
        listener: tuple[str, dict[str, Any]],
        connector: tuple[str, dict[str, Any]],
        timeout: float,
        listener_side: str = "server",
    ) -> tuple[dict[str, Any], Any, Any]:
        """Run a binding process and a connecting one to their ends (the binding one on
        ``listener_side``): the connector's answer, and the rusage of each."""
        started: list[subprocess.Popen[bytes]] = []
        connector_side = "client" if listener_side == "server" else "server"
        try:
            first = self._start(*listener, side=listener_side)
            started.append(first)
            assert first.stdout is not None
            first_reader = procs.LineReader(first.stdout)
            endpoint: str = json.loads(first_reader.read_line(30))["endpoint"]
            host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
            host, routed = self._network.route(host, int(port))
            mode, config = connector
            config = {**config, "endpoint": f"tcp://{host}:{routed}"}
            second = self._start(mode, config, side=connector_side)
            started.append(second)
            assert second.stdout is not None
            answer: dict[str, Any] = json.loads(procs.LineReader(second.stdout).read_line(timeout))
            first_reader.read_line(timeout)
            *_, second_usage = procs.reap(second, time.perf_counter(), timeout)
            *_, first_usage = procs.reap(first, time.perf_counter(), timeout)
            if first.returncode or second.returncode:
                raise RuntimeError("a raw pyzmq side failed (see rawzmq.log)")
            return answer, second_usage, first_usage
        finally:
            for process in started:
                procs.stop_process(process)
                if process.stdout is not None:
                    process.stdout.close()

    @staticmethod
    def _sample(answer: dict[str, Any], client: Any, server: Any) -> Sample:
        return Sample(
            answer["seconds"],
            client.ru_utime + client.ru_stime,
            server.ru_utime + server.ru_stime,
            client.ru_maxrss * 1024,
            server.ru_maxrss * 1024,
            answer.get("latencies_ms"),
        )

    def put_file(self, name: str, timeout: float) -> Sample:
        answer, client, server = self._pair(
            ("receive", {"directory": self._layout.server, "fsync": self._fsync}),
            ("send", {"file": os.path.join(self._layout.data, name)}),
            timeout,
        )
        return self._sample(answer, client, server)

    def get_file(self, name: str, timeout: float) -> Sample:
        answer, server, client = self._pair(
            ("receive", {"directory": self._layout.client}),
            ("send", {"file": os.path.join(self._layout.server, name)}),
            timeout,
            listener_side="client",
        )
        return self._sample(answer, client, server)

    def latency(self, kind: str, directory: str, count: int, timeout: float) -> Sample:
        answer, client, server = self._pair(
            ("echo", {"count": count}), ("ping", {"count": count}), timeout
        )
        return self._sample(answer, client, server)


# -- OpenSSH ------------------------------------------------------------------------------


def _binary(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")


class SshServer:
    """A private sshd on 127.0.0.1, for the benchmark's own key only.

    :attr:`unavailable` says why the OpenSSH peers cannot run (then nothing was started).
    """

    def __init__(self, layout: Layout, network: Network = LOOPBACK, directory: str = "ssh") -> None:
        self.unavailable: str | None = None
        self.notes: list[str] = []
        self.process: subprocess.Popen[bytes] | None = None
        self.network = network
        self.directory = os.path.join(layout.work, directory)
        self.config = os.path.join(self.directory, "ssh_config")
        binaries = {name: _binary(name) for name in ("sshd", "ssh", "ssh-keygen", "sftp", "scp")}
        missing = [name for name, path in binaries.items() if path is None]
        if missing:
            self.unavailable = (
                f"{', '.join(missing)} not installed (apt-get install openssh-server rsync)"
            )
            return
        self.sshd = binaries["sshd"] or ""
        self.sftp = binaries["sftp"] or ""
        self.scp = binaries["scp"] or ""
        self.rsync = _binary("rsync")
        if not os.path.isdir(PRIVSEP_DIRECTORY):
            if os.geteuid() != 0:
                self.unavailable = f"sshd needs {PRIVSEP_DIRECTORY}, which only root can make"
                return
            # The directory sshd's package makes when its service starts; nothing else.
            os.makedirs(PRIVSEP_DIRECTORY, mode=0o755, exist_ok=True)
            self.notes.append(f"made {PRIVSEP_DIRECTORY}, the empty directory sshd needs")
        try:
            self._start(binaries["ssh-keygen"] or "")
        except Exception as error:
            self.close()
            self.unavailable = f"private sshd did not start: {error}"

    def _start(self, keygen: str) -> None:
        os.makedirs(self.directory, mode=0o700)
        host_key = os.path.join(self.directory, "host_key")
        user_key = os.path.join(self.directory, "user_key")
        for key in (host_key, user_key):
            procs.run_once(
                [keygen, "-q", "-t", "ed25519", "-N", "", "-C", "remofile-bench", "-f", key],
                timeout=30,
            ).check()
        shutil.copyfile(user_key + ".pub", os.path.join(self.directory, "authorized_keys"))
        port = procs.free_port()
        network = self.network
        host, routed = network.route(network.server_host, port)
        with open(os.path.join(self.directory, "sshd_config"), "w", encoding="utf-8") as config:
            config.write(
                f"Port {port}\n"
                f"ListenAddress {network.server_host}\n"
                f"HostKey {host_key}\n"
                f"AuthorizedKeysFile {self.directory}/authorized_keys\n"
                f"PidFile {self.directory}/sshd.pid\n"
                # The key and its directory live in a temporary directory under /tmp.
                "StrictModes no\n"
                "UsePAM no\n"
                "PasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\n"
                "PubkeyAuthentication yes\n"
                "PermitRootLogin prohibit-password\n"
                f"AllowUsers {_user_name()}\n"
                "PrintMotd no\n"
                "PrintLastLog no\n"
                "UseDNS no\n"
                "MaxStartups 100\n"
                "LogLevel ERROR\n"
                f"Subsystem sftp {_sftp_server()}\n"
            )
        with open(host_key + ".pub", encoding="utf-8") as public:
            host_public_key = public.read()
        with open(os.path.join(self.directory, "known_hosts"), "w", encoding="utf-8") as known:
            known.write(f"[{host}]:{routed} {host_public_key}")
        with open(self.config, "w", encoding="utf-8") as config:
            config.write(
                f"Host {SSH_HOST}\n"
                f"  HostName {host}\n"
                f"  Port {routed}\n"
                f"  User {_user_name()}\n"
                f"  IdentityFile {user_key}\n"
                "  IdentitiesOnly yes\n"
                "  IdentityAgent none\n"
                f"  UserKnownHostsFile {self.directory}/known_hosts\n"
                "  GlobalKnownHostsFile /dev/null\n"
                "  StrictHostKeyChecking yes\n"
                "  UpdateHostKeys no\n"
                "  BatchMode yes\n"
                "  ControlMaster no\n"
                "  ControlPath none\n"
                "  LogLevel ERROR\n"
            )
        self._log = open(os.path.join(self.directory, "sshd.log"), "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                *network.server_prefix,
                self.sshd,
                "-D",
                "-e",
                "-f",
                os.path.join(self.directory, "sshd_config"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )
        deadline = time.monotonic() + 10
        while network.server_prefix:  # in a namespace of its own: ask through ssh
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited with {self.process.returncode} (see sshd.log)")
            attempt = procs.run_once(
                [*network.client_prefix, *self.ssh_argv(), SSH_HOST, "true"], timeout=10
            )
            if attempt.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("sshd did not answer within 10 s")
            time.sleep(0.1)
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited with {self.process.returncode} (see sshd.log)")
            with socket.socket() as probe:
                probe.settimeout(0.5)
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("sshd did not listen within 10 s")
            time.sleep(0.05)
        self.run_ssh(["true"], 30)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def ssh_argv(self) -> list[str]:
        return [_binary("ssh") or "ssh", "-F", self.config]

    def run_ssh(self, command: list[str], timeout: float) -> procs.Finished:
        argv = [*self.network.client_prefix, *self.ssh_argv(), SSH_HOST, *command]
        return procs.run_once(argv, timeout=timeout).check()

    def setup_seconds(self, times: int = 3) -> float:
        """How long one ssh connection takes to open, authenticate and close."""
        return statistics.median(self.run_ssh(["true"], 30).wall_seconds for _ in range(times))

    def measure(self, argv: list[str], timeout: float, log: str | None = None) -> Sample:
        """Run a client command against this sshd; the CPU and memory of both sides."""
        server_before = procs.tree_cpu_seconds(self.pid)
        argv = [*self.network.client_prefix, *argv]
        with procs.TreeSampler([self.pid], include_roots=False) as sampler:
            finished = procs.run_once(argv, timeout=timeout, log_path=log)
        procs.wait_childless(self.pid, 5)
        finished.check()
        return Sample(
            finished.wall_seconds,
            finished.cpu_seconds,
            procs.tree_cpu_seconds(self.pid) - server_before,
            finished.max_rss_bytes,
            sampler.peak_sum(),
        )

    def close(self) -> None:
        if self.process is not None:
            for child in procs.tree(self.pid)[1:]:  # sessions this sshd started
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, 15)
            procs.stop_process(self.process)
            self.process = None
            self._log.close()


def _user_name() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def _sftp_server() -> str:
    for candidate in ("/usr/lib/openssh/sftp-server", "/usr/libexec/sftp-server"):
        if os.path.exists(candidate):
            return candidate
    return "internal-sftp"


class _SshTool(Tool):
    def __init__(self, ssh: SshServer, layout: Layout) -> None:
        self._ssh = ssh
        self._layout = layout

    def _log(self) -> str:
        safe = "".join(letter if letter.isalnum() else "-" for letter in self.name)
        return os.path.join(self._layout.work, f"{safe}.out")


class SftpTool(_SshTool):
    """OpenSSH sftp in batch mode, with its default cipher or the one given."""

    def __init__(self, ssh: SshServer, layout: Layout, cipher: str | None = None) -> None:
        super().__init__(ssh, layout)
        self._cipher = cipher
        self.name = "sftp " + cipher.split("@")[0] if cipher else "sftp"

    def _batch(self, line: str, timeout: float) -> Sample:
        batch = os.path.join(self._layout.work, "sftp.batch")
        with open(batch, "w", encoding="utf-8") as commands:
            commands.write(line + "\n")
        argv = [self._ssh.sftp, "-F", self._ssh.config, "-b", batch]
        if self._cipher:
            argv += ["-c", self._cipher]
        return self._ssh.measure([*argv, SSH_HOST], timeout, self._log())

    def put_file(self, name: str, timeout: float) -> Sample:
        layout = self._layout
        return self._batch(f"put {layout.data}/{name} {layout.server}/{name}", timeout)

    def get_file(self, name: str, timeout: float) -> Sample:
        layout = self._layout
        return self._batch(f"get {layout.server}/{name} {layout.client}/{name}", timeout)

    def put_tree(self, name: str, timeout: float) -> Sample:
        layout = self._layout
        return self._batch(f"put -r {layout.data}/{name} {layout.server}/{name}", timeout)

    def get_tree(self, name: str, timeout: float) -> Sample:
        layout = self._layout
        return self._batch(f"get -r {layout.server}/{name} {layout.client}/{name}", timeout)

    def list_dir(self, name: str, entries: int, timeout: float) -> Sample:
        sample = self._batch(f"ls -l {self._layout.server}/{name}", timeout)
        if _count_lines(self._log()) < entries:
            raise RuntimeError("sftp listed fewer entries than expected")
        return sample


class ScpTool(_SshTool):
    """OpenSSH scp (which speaks SFTP since OpenSSH 9.0), default cipher."""

    name = "scp"

    def _copy(self, source: str, destination: str, timeout: float, tree: bool = False) -> Sample:
        argv = [self._ssh.scp, "-q", "-F", self._ssh.config, *(["-r"] if tree else [])]
        return self._ssh.measure([*argv, source, destination], timeout, self._log())

    def put_file(self, name: str, timeout: float) -> Sample:
        layout = self._layout
        return self._copy(f"{layout.data}/{name}", f"{SSH_HOST}:{layout.server}/{name}", timeout)

    def get_file(self, name: str, timeout: float) -> Sample:
        layout = self._layout
        return self._copy(f"{SSH_HOST}:{layout.server}/{name}", f"{layout.client}/{name}", timeout)

    def put_tree(self, name: str, timeout: float) -> Sample:
        layout = self._layout
        source, destination = f"{layout.data}/{name}", f"{SSH_HOST}:{layout.server}/{name}"
        return self._copy(source, destination, timeout, tree=True)

    def get_tree(self, name: str, timeout: float) -> Sample:
        layout = self._layout
        source, destination = f"{SSH_HOST}:{layout.server}/{name}", f"{layout.client}/{name}"
        return self._copy(source, destination, timeout, tree=True)


class RsyncTool(_SshTool):
    """rsync over ssh (default cipher), archive mode, with ``options`` (such as ``-z``).

    With ``--stats`` among them, a sample's ``wire_bytes`` are the bytes rsync says it
    sent and received.
    """

    def __init__(
        self,
        ssh: SshServer,
        layout: Layout,
        name: str = "rsync/ssh",
        options: tuple[str, ...] = (),
    ) -> None:
        super().__init__(ssh, layout)
        self.name = name
        self._rsync = ssh.rsync or "rsync"
        self._options = options

    def _rsync_argv(self, *arguments: str) -> list[str]:
        return [self._rsync, "-e", " ".join(self._ssh.ssh_argv()), *arguments]

    def _transfer(self, source: str, destination: str, timeout: float) -> Sample:
        argv = self._rsync_argv("-a", *self._options, source, destination)
        sample = self._ssh.measure(argv, timeout, self._log())
        if "--stats" in self._options:
            with open(self._log(), encoding="utf-8", errors="replace") as output:
                sample.wire_bytes = rsync_wire_bytes(output.read())
        return sample

    def put_file(self, name: str, timeout: float) -> Sample:
        layout = self._layout
        return self._transfer(f"{layout.data}/{name}", f"{SSH_HOST}:{layout.server}/", timeout)

    def get_file(self, name: str, timeout: float) -> Sample:
        layout = self._layout
        return self._transfer(f"{SSH_HOST}:{layout.server}/{name}", f"{layout.client}/", timeout)

    put_tree = put_file
    get_tree = get_file

    def list_dir(self, name: str, entries: int, timeout: float) -> Sample:
        argv = self._rsync_argv("--list-only", f"{SSH_HOST}:{self._layout.server}/{name}/")
        sample = self._ssh.measure(argv, timeout, self._log())
        if _count_lines(self._log()) < entries:
            raise RuntimeError("rsync listed fewer entries than expected")
        return sample


def rsync_wire_bytes(stats: str) -> int | None:
    """Bytes sent plus bytes received, from the output of ``rsync --stats``."""
    total = 0
    found = 0
    for line in stats.splitlines():
        for label in ("Total bytes sent:", "Total bytes received:"):
            if line.startswith(label):
                total += int(line[len(label) :].strip().replace(",", ""))
                found += 1
    return total if found == 2 else None


def ssh_tools(ssh: SshServer, layout: Layout) -> list[Tool]:
    """The OpenSSH peers this machine can run (none without sshd and its clients)."""
    if ssh.unavailable is not None:
        return []
    tools: list[Tool] = [
        SftpTool(ssh, layout),
        SftpTool(ssh, layout, "aes128-gcm@openssh.com"),
        ScpTool(ssh, layout),
    ]
    if ssh.rsync is not None:
        tools.append(RsyncTool(ssh, layout))
    return tools
