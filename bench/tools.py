"""What every compared tool does: move a file or a tree each way, list, small operations.

A tool works between two directories of a :class:`Layout`: the client's side (``data``
holds what is uploaded, ``client`` receives downloads) and the server's (``server``).
Each operation returns one :class:`~bench.model.Sample`, or raises
:class:`NotApplicable` when the tool has no such operation.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.model import Sample


class NotApplicable(Exception):
    """The tool has nothing to measure in this scenario (say why)."""


@dataclass(frozen=True)
class Layout:
    """The directories of a benchmark run, all under one temporary directory."""

    #: Files to upload, made once.
    data: str
    #: The directory the servers serve (and sshd's sessions write to).
    server: str
    #: Where downloads land.
    client: str
    #: Keys, configurations, logs.
    work: str

    @classmethod
    def under(cls, top: str) -> Layout:
        layout = cls(*(os.path.join(top, name) for name in ("data", "server", "client", "work")))
        for path in (layout.data, layout.server, layout.client, layout.work):
            os.makedirs(path, exist_ok=True)
        return layout


def _same_place(host: str, port: int) -> tuple[str, int]:
    return host, port


@dataclass(frozen=True)
class Network:
    """Where each side's processes run, and how one side reaches a port of the other.

    On loopback (:data:`LOOPBACK`) both sides run here and reach 127.0.0.1 directly. In
    the WAN scenarios (``bench/wan.py``) each side runs in a network namespace of its
    own (``server_prefix``/``client_prefix`` are ``ip netns exec NAME``), and ``route``
    returns the port of the delaying relay that forwards to the given listening address.
    """

    #: argv before every process of the server's side, and of the client's.
    server_prefix: tuple[str, ...] = ()
    client_prefix: tuple[str, ...] = ()
    #: The address processes listen on, on each side.
    server_host: str = "127.0.0.1"
    client_host: str = "127.0.0.1"
    #: Where the other side connects to reach ``(host, port)`` (host: one of the above).
    route: Callable[[str, int], tuple[str, int]] = field(default=_same_place)


LOOPBACK = Network()


class Tool:
    """A way of moving files between the two sides; subclasses implement what they can."""

    #: Its name in tables and charts.
    name = "tool"

    def put_file(self, name: str, timeout: float) -> Sample:
        """Upload ``data/name`` to ``server/name``."""
        raise NotApplicable("no file upload")

    def get_file(self, name: str, timeout: float) -> Sample:
        """Download ``server/name`` to ``client/name``."""
        raise NotApplicable("no file download")

    def put_tree(self, name: str, timeout: float) -> Sample:
        """Upload the directory ``data/name`` to ``server/name``."""
        raise NotApplicable("no directory upload")

    def get_tree(self, name: str, timeout: float) -> Sample:
        """Download the directory ``server/name`` to ``client/name``."""
        raise NotApplicable("no directory download")

    def list_dir(self, name: str, entries: int, timeout: float) -> Sample:
        """List ``server/name``, which holds ``entries`` entries."""
        raise NotApplicable("no listing")

    def latency(self, kind: str, directory: str, count: int, timeout: float) -> Sample:
        """Time ``count`` small operations (``create_file`` in, or ``list_files`` of,
        ``server/directory``), one at a time."""
        raise NotApplicable("per-operation latency not measurable from outside")

    def read_file(self, name: str, timeout: float) -> Sample:
        """Read ``server/name`` from start to end into memory, through fsspec."""
        raise NotApplicable("no fsspec filesystem")

    def random_reads(self, name: str, count: int, size: int, timeout: float) -> Sample:
        """``count`` reads of ``size`` bytes at random offsets of ``server/name``, through
        fsspec, one at a time (latencies per read)."""
        raise NotApplicable("no fsspec filesystem")

    def close(self) -> None:
        """Stop whatever the tool started."""
