"""What a benchmark run measures: samples per tool per scenario, and their summaries.

Only the standard library, so that ``bench/report.py`` can redraw a chart from a saved
``results.json`` with any Python that has matplotlib.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

MIB = 1 << 20

#: How a scenario's figure is computed from a sample, and its unit.
Kind = Literal["bytes", "files", "list", "latency"]

UNITS: dict[str, str] = {"bytes": "MiB/s", "files": "files/s", "list": "ms", "latency": "ms"}


@dataclass
class Sample:
    """One run of one tool in one scenario."""

    seconds: float
    client_cpu: float | None = None
    server_cpu: float | None = None
    client_rss: int | None = None
    server_rss: int | None = None
    #: Latency scenarios: every operation of the run, in milliseconds.
    latencies_ms: list[float] | None = None
    #: Bytes that crossed the link (both ways) or, where no link was measured, the bytes
    #: of data after compression (the scenario's notes say which).
    wire_bytes: int | None = None


@dataclass
class ToolResult:
    tool: str
    samples: list[Sample] = field(default_factory=list)
    #: Why the tool was not run in this scenario (not installed, not applicable...).
    skipped: str | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class Summary:
    """Median and range of a tool's figure over the runs, with the cost of each side."""

    runs: int
    median: float
    low: float
    high: float
    client_cpu: float | None
    server_cpu: float | None
    client_rss: int | None
    server_rss: int | None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    wire_bytes: float | None = None


def _median(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def _largest(values: list[int | None]) -> int | None:
    present = [value for value in values if value is not None]
    return max(present) if present else None


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass
class Scenario:
    """One workload, run by every tool that can: e.g. upload of a 1 GiB file."""

    key: str
    title: str
    kind: Kind
    #: Bytes moved (bytes), files moved (files), entries listed (list), operations per run.
    amount: int
    results: dict[str, ToolResult] = field(default_factory=dict)
    #: Anything that changed how the scenario ran (e.g. fewer runs, out of time).
    notes: str = ""
    #: Bytes of data a run moves, for scenarios counted in files.
    data_bytes: int | None = None

    @property
    def unit(self) -> str:
        return UNITS[self.kind]

    @property
    def higher_is_better(self) -> bool:
        return self.kind in ("bytes", "files")

    def figure(self, sample: Sample) -> float:
        """The scenario's figure for one run: throughput, or time in milliseconds."""
        if self.kind == "bytes":
            return self.amount / MIB / sample.seconds
        if self.kind == "files":
            return self.amount / sample.seconds
        if self.kind == "latency" and sample.latencies_ms:
            return statistics.median(sample.latencies_ms)
        return sample.seconds * 1000.0

    def result(self, tool: str) -> ToolResult:
        return self.results.setdefault(tool, ToolResult(tool))

    def summary(self, tool: str) -> Summary | None:
        result = self.results.get(tool)
        if result is None or not result.samples:
            return None
        samples = result.samples
        figures = [self.figure(sample) for sample in samples]
        summary = Summary(
            runs=len(samples),
            median=statistics.median(figures),
            low=min(figures),
            high=max(figures),
            client_cpu=_median([sample.client_cpu for sample in samples]),
            server_cpu=_median([sample.server_cpu for sample in samples]),
            client_rss=_largest([sample.client_rss for sample in samples]),
            server_rss=_largest([sample.server_rss for sample in samples]),
            wire_bytes=_median([sample.wire_bytes for sample in samples]),
        )
        pooled = [value for sample in samples for value in (sample.latencies_ms or [])]
        if pooled:
            summary.p50_ms = percentile(pooled, 0.50)
            summary.p90_ms = percentile(pooled, 0.90)
            summary.p99_ms = percentile(pooled, 0.99)
        return summary

    @property
    def moved_bytes(self) -> int | None:
        """Bytes of data one run moves, where the scenario knows it."""
        if self.kind == "bytes":
            return self.amount
        return self.data_bytes

    def speedup(self, tool: str, peer: str) -> float | None:
        """How many times better ``tool`` did than ``peer`` (median against median)."""
        mine, theirs = self.summary(tool), self.summary(peer)
        if mine is None or theirs is None or mine.median <= 0 or theirs.median <= 0:
            return None
        if self.higher_is_better:
            return mine.median / theirs.median
        return theirs.median / mine.median


@dataclass
class Idle:
    """CPU a server used while nothing happened."""

    seconds: float
    server_cpu: float
    #: The same server with a client that opened a session and went quiet.
    server_cpu_with_session: float | None = None
    client_cpu_with_session: float | None = None

    @property
    def percent(self) -> float:
        return 100.0 * self.server_cpu / self.seconds

    @property
    def percent_with_session(self) -> float | None:
        if self.server_cpu_with_session is None:
            return None
        return 100.0 * self.server_cpu_with_session / self.seconds


@dataclass
class Results:
    """Everything one run of the benchmark found."""

    meta: dict[str, Any]
    tools: list[str]
    scenarios: list[Scenario]
    idle: Idle | None = None
    #: Seconds one ssh connection takes to set up (part of every ssh peer's time).
    ssh_setup_seconds: float | None = None
    notes: list[str] = field(default_factory=list)

    def scenario(self, key: str) -> Scenario | None:
        return next((scenario for scenario in self.scenarios if scenario.key == key), None)

    def to_json(self) -> dict[str, Any]:
        """Raw samples and their summaries."""
        data = asdict(self)
        for encoded in data["scenarios"]:
            for result in encoded["results"].values():
                for sample in result["samples"]:
                    if sample["latencies_ms"] is not None:  # microseconds are plenty
                        sample["latencies_ms"] = [
                            round(value, 3) for value in sample["latencies_ms"]
                        ]
        for scenario, encoded in zip(self.scenarios, data["scenarios"], strict=True):
            encoded["unit"] = scenario.unit
            encoded["summaries"] = {
                tool: asdict(summary)
                for tool in scenario.results
                if (summary := scenario.summary(tool)) is not None
            }
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Results:
        scenarios = []
        for encoded in data["scenarios"]:
            results = {
                tool: ToolResult(
                    tool,
                    [Sample(**sample) for sample in result["samples"]],
                    result.get("skipped"),
                    list(result.get("errors", [])),
                )
                for tool, result in encoded["results"].items()
            }
            scenarios.append(
                Scenario(
                    encoded["key"],
                    encoded["title"],
                    encoded["kind"],
                    encoded["amount"],
                    results,
                    encoded.get("notes", ""),
                    encoded.get("data_bytes"),
                )
            )
        idle = Idle(**data["idle"]) if data.get("idle") else None
        return cls(
            data["meta"],
            list(data["tools"]),
            scenarios,
            idle,
            data.get("ssh_setup_seconds"),
            list(data.get("notes", [])),
        )
