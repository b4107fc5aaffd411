"""Remofile's two sides, each in a process of its own, so that CPU and memory are per side.

Run as ``python -m bench.remofile_side server`` or ``... client``: the first line of
standard input is the configuration (JSON); the server then prints its endpoint and
serves until a line (or end of file) comes; the client prints ``ready`` and then runs one
JSON command per line, answering each with one JSON line with the time it took, measured
from before the Client is made to after it is closed (connection and session included).

With ``profile`` in the configuration, each side runs under cProfile (the server's loop
thread; the client's operations) and writes the statistics where it was told.

The parent side of both is :class:`ServerProcess` and :class:`ClientProcess`.
"""

from __future__ import annotations

import cProfile
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench import procs
from bench.model import Sample
from bench.tools import LOOPBACK, Layout, Network, Tool

REPOSITORY = Path(__file__).resolve().parents[1]

#: How long a side may take to start and answer that it is ready.
START_TIMEOUT_S = 60.0

#: Small operations are timed after this long doing the same, untimed (the disk baseline
#: too): the first file creations after a quiet spell cost several times more.
WARMUP_SECONDS = 0.3
WARMUP_LIMIT = 5000


# -- the child processes ----------------------------------------------------------


def _serve() -> int:
    from remofile.server.server import Server

    config = json.loads(sys.stdin.readline())
    server = Server(
        config["root"],
        config["token"],
        config.get("private_key"),
        sync_writes=config.get("sync_writes", True),
    )
    profiler = cProfile.Profile() if config.get("profile") else None
    failures: list[BaseException] = []
    host = config.get("host", "127.0.0.1")

    def run() -> None:
        try:
            if profiler is not None:
                profiler.runcall(server.run, 0, host)
            else:
                server.run(0, host)
        except BaseException as error:
            failures.append(error)

    thread = threading.Thread(target=run, name="remofile-server")
    thread.start()
    if not server.wait_until_ready(START_TIMEOUT_S):
        print(json.dumps({"error": repr(failures[0]) if failures else "not ready"}), flush=True)
        return 1
    print(json.dumps({"endpoint": server.endpoint}), flush=True)
    sys.stdin.readline()  # any line, or the end of the pipe, stops the server
    server.terminate()
    thread.join(30)
    if profiler is not None:
        profiler.dump_stats(config["profile"])
    print(json.dumps({"stopped": not thread.is_alive()}), flush=True)
    return 0


class _Worker:
    """The client side: runs the commands of the benchmark, one at a time."""

    def __init__(self, config: dict[str, Any]) -> None:
        from remofile.client import Client

        self._client_class = Client
        self._endpoint: str = config["endpoint"]
        self._token: str = config["token"]
        self._public_key: str | None = config.get("public_key")
        self._profiler = cProfile.Profile() if config.get("profile") else None
        self._held: Any = None
        self._options: dict[str, Any] = {}
        if config.get("window"):
            self._options["window"] = config["window"]
        self._compress: Any = config.get("compress", False)
        if config.get("only_compression"):
            _narrow_compressions(config["only_compression"])

    def _client(self) -> Any:
        return self._client_class(
            self._endpoint, None, self._token, self._public_key, **self._options
        )

    def _timed(self, operation: str, *args: Any, **keywords: Any) -> dict[str, Any]:
        started = time.perf_counter()
        if self._profiler is not None:
            self._profiler.enable()
        try:
            with self._client() as client:
                outcome = getattr(client, operation)(*args, **keywords)
        finally:
            if self._profiler is not None:
                self._profiler.disable()
        seconds = time.perf_counter() - started
        count = len(outcome) if isinstance(outcome, dict) else None
        return {"ok": True, "seconds": seconds, "count": count}

    def _latency(self, command: dict[str, Any]) -> dict[str, Any]:
        """Time ``count`` small operations on one client, after a warm-up."""
        kind: str = command["kind"]
        directory: str = command["directory"]
        count: int = command["count"]
        latencies: list[float] = []
        with self._client() as client:
            client.server_info()
            warm_until = time.monotonic() + WARMUP_SECONDS
            for index in range(WARMUP_LIMIT):
                self._small(client, kind, directory, f"warmup-{index}")
                if time.monotonic() > warm_until:
                    break
            started = time.perf_counter()
            for index in range(count):
                before = time.perf_counter_ns()
                self._small(client, kind, directory, f"file-{index}")
                latencies.append((time.perf_counter_ns() - before) / 1e6)
            seconds = time.perf_counter() - started
        return {"ok": True, "seconds": seconds, "latencies_ms": latencies}

    @staticmethod
    def _small(client: Any, kind: str, directory: str, name: str) -> None:
        if kind == "create_file":
            client.create_file(name, directory)
        else:
            client.list_files(directory)

    def _filesystem(self) -> Any:
        from remofile.client.filesystem import RemofileFileSystem

        return RemofileFileSystem(
            host=self._endpoint,
            token=self._token,
            public_key=self._public_key,
            skip_instance_cache=True,
        )

    def _fsspec_read(self, path: str) -> dict[str, Any]:
        """Read a whole file through fsspec.open, 1 MiB at a time (the session included)."""
        started = time.perf_counter()
        filesystem = self._filesystem()
        total = 0
        with filesystem.open(path, "rb") as file:
            while block := file.read(1 << 20):
                total += len(block)
        filesystem.close_session()
        return {"ok": True, "seconds": time.perf_counter() - started, "count": total}

    def _fsspec_random(self, path: str, count: int, size: int) -> dict[str, Any]:
        """``count`` seeks and reads of ``size`` bytes at random offsets, on one open file."""
        filesystem = self._filesystem()
        generator = random.Random(count)
        latencies: list[float] = []
        with filesystem.open(path, "rb") as file:
            length = file.size
            started = time.perf_counter()
            for _ in range(count):
                before = time.perf_counter_ns()
                file.seek(generator.randrange(0, max(1, length - size)))
                if len(file.read(size)) != min(size, length):
                    raise RuntimeError("short read")
                latencies.append((time.perf_counter_ns() - before) / 1e6)
            seconds = time.perf_counter() - started
        filesystem.close_session()
        return {"ok": True, "seconds": seconds, "latencies_ms": latencies}

    def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        op = command["op"]
        if op == "fsspec_read":
            return self._fsspec_read(command["path"])
        if op == "fsspec_random":
            return self._fsspec_random(command["path"], command["count"], command["size"])
        if op in ("upload_file", "download_file", "upload_directory", "download_directory"):
            keywords = {"compress": self._compress} if self._compress else {}
            return self._timed(op, command["source"], command["destination"], **keywords)
        if op == "list_files":
            return self._timed(op, command["directory"])
        if op == "latency":
            return self._latency(command)
        if op == "hold_session":
            self._held = self._client()
            self._held.list_files("/")
            return {"ok": True}
        if op == "release_session":
            if self._held is not None:
                self._held.close()
                self._held = None
            return {"ok": True}
        if op == "dump_profile":
            if self._profiler is not None:
                self._profiler.dump_stats(command["path"])
                self._profiler = cProfile.Profile()
            return {"ok": True}
        return {"ok": False, "error": f"unknown command {op!r}"}


def _narrow_compressions(name: str) -> None:
    """Make this client process prefer one compression (``zlib``) where the library picks
    the best both ends have: the Client has no argument for it, and the benchmark
    compares zstd with zlib. Only this child process is changed."""
    from remofile.core import compression
    from remofile.v1 import remofile_pb2 as pb

    chosen = {"zlib": pb.COMPRESSION_ZLIB, "zstd": pb.COMPRESSION_ZSTD}[name]
    if chosen not in compression.SUPPORTED_COMPRESSIONS:
        raise RuntimeError(f"this installation has no {name}")
    compression.SUPPORTED_COMPRESSIONS = (chosen, pb.COMPRESSION_NONE)


def _work() -> int:
    worker = _Worker(json.loads(sys.stdin.readline()))
    print(json.dumps({"ready": True}), flush=True)
    while line := sys.stdin.readline():
        command = json.loads(line)
        if command.get("op") == "exit":
            break
        try:
            reply = worker.handle(command)
        except Exception as error:
            reply = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        print(json.dumps(reply), flush=True)
    worker.handle({"op": "release_session"})
    return 0


# -- the parent side ----------------------------------------------------------------


def _child_environment() -> dict[str, str]:
    environment = dict(os.environ)
    paths = [str(REPOSITORY), *filter(None, environment.get("PYTHONPATH", "").split(os.pathsep))]
    environment["PYTHONPATH"] = os.pathsep.join(paths)
    return environment


class _Side:
    """A side's process, talked to with one JSON line each way."""

    def __init__(
        self,
        role: str,
        config: dict[str, Any],
        log_path: str,
        cwd: str,
        prefix: tuple[str, ...] = (),
    ) -> None:
        self._log = open(log_path, "ab")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "bench.remofile_side", role],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=cwd,
            env=_child_environment(),
        )
        self._reader = procs.LineReader(self.process.stdout)  # type: ignore[arg-type]
        self.send(config)
        self.greeting = self.receive(START_TIMEOUT_S)

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, message: dict[str, Any] | str) -> None:
        assert self.process.stdin is not None
        line = message if isinstance(message, str) else json.dumps(message)
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def receive(self, timeout: float) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(self._reader.read_line(timeout))
        if "error" in answer:
            raise RuntimeError(f"remofile side failed: {answer['error']}")
        return answer

    def stop(self, message: str, timeout: float = 30.0) -> None:
        """Ask the process to finish (bounded), then make sure it has."""
        try:
            if self.process.poll() is None:
                self.send(message)
                self.receive(timeout)
        except (OSError, EOFError, ValueError, RuntimeError, procs.Timeout):
            pass
        finally:
            if self.process.stdin is not None:
                self.process.stdin.close()
            procs.stop_process(self.process, 10)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self._log.close()


class ServerProcess(_Side):
    """A Remofile server serving ``root`` on 127.0.0.1, on a port it picks."""

    def __init__(
        self,
        root: str,
        token: str,
        private_key: str | None,
        log_path: str,
        profile_path: str | None = None,
        sync_writes: bool = True,
        network: Network = LOOPBACK,
    ) -> None:
        config = {
            "root": root,
            "token": token,
            "private_key": private_key,
            "profile": profile_path,
            "sync_writes": sync_writes,
            "host": network.server_host,
        }
        super().__init__("server", config, log_path, root, network.server_prefix)
        self.endpoint: str = self.greeting["endpoint"]

    def close(self) -> None:
        self.stop("stop")


class ClientProcess(_Side):
    """A process that runs Remofile client operations when told to."""

    def __init__(
        self,
        endpoint: str,
        token: str,
        public_key: str | None,
        log_path: str,
        cwd: str,
        profile_path: str | None = None,
        options: dict[str, Any] | None = None,
        prefix: tuple[str, ...] = (),
    ) -> None:
        config = {
            "endpoint": endpoint,
            "token": token,
            "public_key": public_key,
            "profile": profile_path,
            **(options or {}),
        }
        super().__init__("client", config, log_path, cwd, prefix)

    def call(self, command: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Run one command; its answer (``ok`` true), or RuntimeError with its error."""
        self.send(command)
        answer = self.receive(timeout)
        if not answer.get("ok"):
            raise RuntimeError(answer.get("error", "failed"))
        return answer

    def close(self) -> None:
        self.stop(json.dumps({"op": "exit"}), timeout=5.0)


class RemofileTool(Tool):
    """Remofile, server and client each in a process of its own, with or without CURVE.

    ``options`` go to the client process: ``window`` (the Client's), ``compress`` (of every
    transfer: True, "auto"), ``only_compression`` ("zlib": the compression it prefers).
    """

    def __init__(
        self,
        layout: Layout,
        curve: bool,
        profile_prefix: str | None = None,
        sync_writes: bool = True,
        name: str | None = None,
        network: Network = LOOPBACK,
        options: dict[str, Any] | None = None,
    ) -> None:
        from remofile.core import generate_keys, generate_token

        self.name = name or ("remofile+curve" if curve else "remofile")
        self._layout = layout
        token = generate_token()
        public_key, private_key = generate_keys() if curve else (None, None)
        logs = os.path.join(layout.work, "".join(c if c.isalnum() else "-" for c in self.name))
        self.server = ServerProcess(
            layout.server,
            token,
            private_key,
            logs + "-server.log",
            profile_prefix + "-server.prof" if profile_prefix else None,
            sync_writes,
            network,
        )
        try:
            host, port = self.server.endpoint.rsplit(":", 1)
            host, routed = network.route(host.removeprefix("tcp://"), int(port))
            self.client = ClientProcess(
                f"tcp://{host}:{routed}",
                token,
                public_key,
                logs + "-client.log",
                layout.client,
                profile_prefix + "-client.prof" if profile_prefix else None,
                options,
                network.client_prefix,
            )
        except BaseException:
            self.server.close()
            raise

    def _run(self, command: dict[str, Any], timeout: float) -> tuple[Sample, dict[str, Any]]:
        with procs.measured(self.client.pid, self.server.pid) as usage:
            answer = self.client.call(command, timeout)
        (client_cpu, client_rss), (server_cpu, server_rss) = usage
        sample = Sample(
            answer["seconds"],
            client_cpu,
            server_cpu,
            client_rss,
            server_rss,
            answer.get("latencies_ms"),
        )
        return sample, answer

    def put_file(self, name: str, timeout: float) -> Sample:
        source = os.path.join(self._layout.data, name)
        return self._run({"op": "upload_file", "source": source, "destination": "/"}, timeout)[0]

    def get_file(self, name: str, timeout: float) -> Sample:
        command = {"op": "download_file", "source": f"/{name}", "destination": self._layout.client}
        return self._run(command, timeout)[0]

    def put_tree(self, name: str, timeout: float) -> Sample:
        source = os.path.join(self._layout.data, name)
        command = {"op": "upload_directory", "source": source, "destination": "/"}
        return self._run(command, timeout)[0]

    def get_tree(self, name: str, timeout: float) -> Sample:
        command = {
            "op": "download_directory",
            "source": f"/{name}",
            "destination": self._layout.client,
        }
        return self._run(command, timeout)[0]

    def list_dir(self, name: str, entries: int, timeout: float) -> Sample:
        sample, answer = self._run({"op": "list_files", "directory": f"/{name}"}, timeout)
        if answer["count"] != entries:
            raise RuntimeError(f"listed {answer['count']} entries, expected {entries}")
        return sample

    def latency(self, kind: str, directory: str, count: int, timeout: float) -> Sample:
        command = {"op": "latency", "kind": kind, "directory": f"/{directory}", "count": count}
        return self._run(command, timeout)[0]

    def read_file(self, name: str, timeout: float) -> Sample:
        sample, answer = self._run({"op": "fsspec_read", "path": f"/{name}"}, timeout)
        expected = os.path.getsize(os.path.join(self._layout.server, name))
        if answer["count"] != expected:
            raise RuntimeError(f"read {answer['count']} bytes, expected {expected}")
        return sample

    def random_reads(self, name: str, count: int, size: int, timeout: float) -> Sample:
        command = {"op": "fsspec_random", "path": f"/{name}", "count": count, "size": size}
        return self._run(command, timeout)[0]

    def dump_client_profile(self, path: str) -> None:
        self.client.call({"op": "dump_profile", "path": path}, 60)

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            self.server.close()


if __name__ == "__main__":
    if sys.argv[1:] == ["server"]:
        sys.exit(_serve())
    if sys.argv[1:] == ["client"]:
        sys.exit(_work())
    sys.exit("usage: python -m bench.remofile_side server|client")
