"""The table, the ratios, the targets (PASS/FAIL), results.json and the chart.

Also a script: ``python bench/report.py bench-results/results.json`` prints the report
of a saved run again and redraws its chart (with any Python that has matplotlib).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.model import MIB, Results, Scenario, Summary

REMOFILE = "remofile"
REMOFILE_CURVE = "remofile+curve"
#: Peers whose ratio to Remofile is printed (and which targets compare with).
RAW = "zmq-raw"
RAW_FSYNC = "zmq-raw (fsync)"
DISK = "cp (disk)"
SFTP = "sftp"
SFTP_AES = "sftp aes128-gcm"
RSYNC = "rsync/ssh"
#: The compression variants (bench/compression.py, bench/wan.py).
REMOFILE_ZSTD = "remofile -z"
REMOFILE_ZLIB = "remofile -z zlib"
REMOFILE_AUTO = "remofile -z auto"
RSYNC_ZSTD = "rsync -z zstd"
RSYNC_Z = "rsync -z"
GIB = 1 << 30

RSS_LIMIT_BYTES = 150 * MIB
IDLE_LIMIT_PERCENT = 1.0
LATENCY_LIMIT_MS = 1.0


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / MIB:.0f}"


def _figure(summary: Summary) -> str:
    if summary.runs == 1:
        return _number(summary.median)
    return f"{_number(summary.median)} [{_number(summary.low)}-{_number(summary.high)}]"


def scenario_table(scenario: Scenario, tools: list[str]) -> list[str]:
    better = "higher" if scenario.higher_is_better else "lower"
    runs = sorted({len(result.samples) for result in scenario.results.values() if result.samples})
    run_text = "/".join(str(count) for count in runs) or "0"
    lines = [
        f"{scenario.title} ({scenario.unit}, {better} is better; median [min-max] of {run_text} run(s))"
    ]
    latency = scenario.kind == "latency"
    wire = any(
        summary is not None and summary.wire_bytes is not None
        for summary in (scenario.summary(tool) for tool in scenario.results)
    )
    header = f"  {'tool':<17} {scenario.unit + ' median [range]':<26}"
    header += " p90 ms  p99 ms" if latency else "  cpu-c s  cpu-s s  rss-c MiB  rss-s MiB"
    if wire:
        header += "  wire MiB  ratio  cpu-c s/GiB"
    lines.append(header)
    for tool in tools:
        result = scenario.results.get(tool)
        if result is None:
            continue
        summary = scenario.summary(tool)
        if summary is None:
            reason = result.skipped or ("; ".join(result.errors[:1]) or "no run")
            lines.append(f"  {tool:<17} skipped: {reason}")
            continue
        row = f"  {tool:<17} {_figure(summary):<26}"
        if latency:
            row += f" {_number(summary.p90_ms or 0):>6}  {_number(summary.p99_ms or 0):>6}"
        else:
            row += (
                f"  {_seconds(summary.client_cpu):>7}  {_seconds(summary.server_cpu):>7}"
                f"  {_mib(summary.client_rss):>9}  {_mib(summary.server_rss):>9}"
            )
        if wire and summary.wire_bytes is not None:
            moved = scenario.moved_bytes
            ratio = f"{moved / summary.wire_bytes:.2f}" if moved and summary.wire_bytes else "-"
            per_gib = (
                f"{summary.client_cpu / (moved / GIB):.1f}"
                if moved and summary.client_cpu is not None
                else "-"
            )
            row += f"  {summary.wire_bytes / MIB:>8.1f}  {ratio:>5}  {per_gib:>11}"
        if result.errors:
            row += f"  ({len(result.errors)} failed run(s): {result.errors[0][:60]})"
        lines.append(row)
    if scenario.notes:
        lines.append(f"  ({scenario.notes})")
    return lines


def link_capacity(results: Results, key: str) -> float | None:
    """The WAN link's measured capacity (MiB/s) in the direction of a scenario."""
    measured = results.meta.get("wan_link") or {}
    direction = "down" if key.endswith("_down") else "up"
    value = measured.get(f"{direction}_bytes_per_second")
    return None if not value else float(value) / MIB


def ratio_lines(results: Results) -> list[str]:
    lines = ["Ratios (Remofile's median against each peer's; above 1x means Remofile did better):"]
    for scenario in results.scenarios:
        lines.append(f"  {scenario.title}:")
        capacity = link_capacity(results, scenario.key)
        if scenario.key.startswith("wan_big") and capacity:
            shares = [
                f"{tool} {100 * summary.median / capacity:.0f}%"
                for tool in results.tools
                if (summary := scenario.summary(tool)) is not None
            ]
            lines.append(f"    % of the link's {capacity:.1f} MiB/s: {', '.join(shares)}")
        for mine in (REMOFILE, REMOFILE_CURVE):
            parts = []
            for peer in results.tools:
                if peer.startswith(REMOFILE):
                    continue
                ratio = scenario.speedup(mine, peer)
                if ratio is not None:
                    parts.append(f"{ratio:.2f}x {peer}")
            if parts:
                lines.append(f"    {mine + ':':<16} {', '.join(parts)}")
    return lines


@dataclass
class Verdict:
    status: str  # PASS, FAIL or SKIP
    text: str

    def __str__(self) -> str:
        return f"{self.status}  {self.text}"


def _ratio_target(
    results: Results, key: str, mine: str, peer: str, at_least: float, strictly: bool = False
) -> Verdict:
    scenario = results.scenario(key)
    comparison = "> " if strictly else ">= "
    label = f"{scenario.title if scenario else key}: {mine} {comparison}{at_least:g}x {peer}"
    if scenario is None:
        return Verdict("SKIP", f"{label} (scenario not run)")
    ratio = scenario.speedup(mine, peer)
    if ratio is None:
        result = scenario.results.get(peer)
        reason = result.skipped if result is not None and result.skipped else "no figure"
        if not scenario.results and scenario.notes:
            reason = scenario.notes
        return Verdict("SKIP", f"{label} ({reason})")
    passed = ratio > at_least if strictly else ratio >= at_least
    shown = f"{ratio:.3f}" if abs(ratio - at_least) < 0.01 else f"{ratio:.2f}"
    return Verdict("PASS" if passed else "FAIL", f"{label}: {shown}x")


def fsspec_read_target(results: Results) -> Verdict:
    """Reading a file through fsspec.open, in order, runs at 0.8x download_file or better."""
    reading, downloading = results.scenario("fsspec_read"), results.scenario("big_down")
    label = "fsspec.open read in order: remofile >= 0.8x its download_file of the same file"
    mine = reading.summary(REMOFILE) if reading else None
    theirs = downloading.summary(REMOFILE) if downloading else None
    if mine is None or theirs is None or theirs.median <= 0:
        return Verdict("SKIP", f"{label} (not measured)")
    ratio = mine.median / theirs.median
    return Verdict("PASS" if ratio >= 0.8 else "FAIL", f"{label}: {ratio:.2f}x")


def growth_lines(results: Results) -> list[Verdict]:
    """Whether the small-file ratios hold from 2,000 files to 20,000 (10x, mixed sizes)."""
    verdicts = []
    for direction in ("up", "down"):
        small, large = (
            results.scenario(f"tree_{direction}"),
            results.scenario(f"tree20k_{direction}"),
        )
        label = f"tree {direction}: ratios from 2,000 x 4 KiB to {large.amount if large else 0:,} mixed files"
        if small is None or large is None:
            verdicts.append(Verdict("SKIP", f"{label} (both scenarios needed)"))
            continue
        parts = []
        for peer in (RSYNC, DISK):
            before, after = small.speedup(REMOFILE, peer), large.speedup(REMOFILE, peer)
            if before is not None and after is not None:
                parts.append(f"vs {peer} {before:.2f}x -> {after:.2f}x")
        rates = [
            f"{tool} {_number(first.median)} -> {_number(second.median)} files/s"
            for tool in (REMOFILE, RSYNC, DISK)
            if (first := small.summary(tool)) is not None
            and (second := large.summary(tool)) is not None
        ]
        verdicts.append(Verdict("INFO", f"{label}: {'; '.join(parts + rates) or 'no figures'}"))
    return verdicts


def _per_gib(scenario: Scenario, tool: str) -> tuple[float, float] | None:
    """Sending-side (client) CPU seconds per GiB of data, and the compression ratio."""
    summary = scenario.summary(tool)
    moved = scenario.moved_bytes
    if summary is None or summary.client_cpu is None or not moved or not summary.wire_bytes:
        return None
    return summary.client_cpu / (moved / GIB), moved / summary.wire_bytes


def compression_targets(results: Results) -> list[Verdict]:
    verdicts = []
    corpus = results.scenario("corpus_z")
    label = "corpus -z: zstd >= 2x less sending CPU per GiB than zlib, ratio equal or better"
    zstd = _per_gib(corpus, REMOFILE_ZSTD) if corpus else None
    zlib = _per_gib(corpus, REMOFILE_ZLIB) if corpus else None
    if zstd is None or zlib is None:
        verdicts.append(Verdict("SKIP", f"{label} (not measured)"))
    else:
        passed = zlib[0] >= 2 * zstd[0] and zstd[1] >= zlib[1]
        verdicts.append(
            Verdict(
                "PASS" if passed else "FAIL",
                f"{label}: {zstd[0]:.1f} vs {zlib[0]:.1f} CPU s/GiB of the sending process "
                f"({zlib[0] / zstd[0]:.2f}x), ratio {zstd[1]:.2f} vs {zlib[1]:.2f}",
            )
        )
        codec = results.meta.get("compression_codec") or {}
        alone = [
            (found["codec_seconds"] / (found["data_bytes"] / GIB), found)
            for variant in (REMOFILE_ZSTD, REMOFILE_ZLIB)
            if (found := codec.get(f"corpus/{variant}")) and found["data_bytes"]
        ]
        if len(alone) == 2:
            verdicts.append(
                Verdict(
                    "INFO",
                    f"corpus -z, the codec alone (compress_chunk, no I/O): zstd "
                    f"{alone[0][0]:.1f} vs zlib {alone[1][0]:.1f} CPU s/GiB "
                    f"({alone[1][0] / alone[0][0]:.2f}x)",
                )
            )
    label = "corpus -z: remofile zstd ratio within 10% of rsync --compress-choice=zstd"
    rsync = _per_gib(corpus, RSYNC_ZSTD) if corpus else None
    if zstd is None or rsync is None:
        verdicts.append(Verdict("SKIP", f"{label} (not measured)"))
    else:
        passed = zstd[1] >= 0.9 * rsync[1]
        verdicts.append(
            Verdict(
                "PASS" if passed else "FAIL",
                f"{label}: {zstd[1]:.3f} vs {rsync[1]:.3f} ({zstd[1] / rsync[1]:.3f}x)",
            )
        )
    compressed = results.scenario("compressed_auto")
    label = "compressed data: compress='auto' costs < 5% more time than no compression"
    plain = compressed.summary(REMOFILE) if compressed else None
    auto = compressed.summary(REMOFILE_AUTO) if compressed else None
    if plain is None or auto is None:
        verdicts.append(Verdict("SKIP", f"{label} (not measured)"))
    else:
        extra = plain.median / auto.median - 1.0
        verdicts.append(
            Verdict("PASS" if extra < 0.05 else "FAIL", f"{label}: {100 * extra:+.1f}% time")
        )
    return verdicts


def wan_targets(results: Results) -> list[Verdict]:
    verdicts = []
    for key in ("wan_big_up", "wan_big_down"):
        scenario = results.scenario(key)
        label = f"{key}: remofile >= 90% of the link's measured capacity"
        summary = scenario.summary(REMOFILE) if scenario else None
        capacity = link_capacity(results, key)
        if summary is None or not capacity:
            reason = scenario.notes if scenario is not None and scenario.notes else "not measured"
            verdicts.append(Verdict("SKIP", f"{label} ({reason})"))
            continue
        share = summary.median / capacity
        verdicts.append(
            Verdict(
                "PASS" if share >= 0.9 else "FAIL",
                f"{label}: {summary.median:.1f} of {capacity:.1f} MiB/s ({100 * share:.0f}%)",
            )
        )
    for key in ("wan_tree_up", "wan_tree_down"):
        verdicts.append(_ratio_target(results, key, REMOFILE, RSYNC, 3.0))
    verdicts.append(_ratio_target(results, "wan_corpus_z", REMOFILE_ZSTD, RSYNC_Z, 1.0, True))
    return verdicts


def targets(results: Results) -> list[Verdict]:
    verdicts = []
    for key in ("big_up", "big_down"):
        verdicts.append(_ratio_target(results, key, REMOFILE, SFTP, 2.0))
        verdicts.append(_ratio_target(results, key, REMOFILE, RAW, 0.8))
        if key == "big_up":  # like for like: both sync the file before they are done
            verdicts.append(_ratio_target(results, key, REMOFILE, RAW_FSYNC, 0.8))
        verdicts.append(_ratio_target(results, key, REMOFILE_CURVE, SFTP_AES, 1.0, strictly=True))
    for key in ("tree_up", "tree_down", "tree20k_up", "tree20k_down"):
        verdicts.append(_ratio_target(results, key, REMOFILE, RSYNC, 1.5))
        verdicts.append(_ratio_target(results, key, REMOFILE, DISK, 0.9))
    verdicts.extend(growth_lines(results))
    verdicts.extend(compression_targets(results))
    verdicts.extend(wan_targets(results))
    for side in ("server", "client"):
        peaks: list[int] = []
        for key in ("big_up", "big_down"):
            scenario = results.scenario(key)
            for tool in (REMOFILE, REMOFILE_CURVE):
                summary = scenario.summary(tool) if scenario else None
                peak = None if summary is None else getattr(summary, f"{side}_rss")
                if peak is not None:
                    peaks.append(peak)
        label = (
            f"{side} peak RSS during the big-file transfers (up and down, with and without CURVE)"
        )
        if not peaks:
            verdicts.append(Verdict("SKIP", f"{label} (not measured)"))
        else:
            status = "PASS" if max(peaks) < RSS_LIMIT_BYTES else "FAIL"
            verdicts.append(Verdict(status, f"{label}: {max(peaks) / MIB:.0f} MiB < 150 MiB"))
    if results.idle is None:
        verdicts.append(Verdict("SKIP", "server idle CPU < 1% (not measured)"))
    else:
        idle = results.idle
        status = "PASS" if idle.percent < IDLE_LIMIT_PERCENT else "FAIL"
        verdicts.append(
            Verdict(status, f"server idle CPU over {idle.seconds:.0f} s: {idle.percent:.2f}% < 1%")
        )
        with_session = idle.percent_with_session
        if with_session is not None:
            status = "PASS" if with_session < IDLE_LIMIT_PERCENT else "FAIL"
            verdicts.append(
                Verdict(
                    status,
                    f"server idle CPU over {idle.seconds:.0f} s with a quiet session open: "
                    f"{with_session:.2f}% < 1%",
                )
            )
    verdicts.append(fsspec_read_target(results))
    for key in ("lat_create", "lat_list"):
        scenario = results.scenario(key)
        summary = scenario.summary(REMOFILE) if scenario else None
        label = f"{scenario.title if scenario else key}: remofile median < 1 ms"
        if summary is None:
            verdicts.append(Verdict("SKIP", f"{label} (not measured)"))
        else:
            assert scenario is not None
            status = "PASS" if summary.median < LATENCY_LIMIT_MS else "FAIL"
            context = [
                f"{name} {baseline.median:.3f} ms"
                for name in (DISK, RAW)
                if (baseline := scenario.summary(name)) is not None
            ]
            more = f" (same run: {', '.join(context)})" if context else ""
            verdicts.append(Verdict(status, f"{label}: {summary.median:.3f} ms{more}"))
    return verdicts


def render(results: Results) -> str:
    lines: list[str] = []
    for scenario in results.scenarios:
        lines.extend(scenario_table(scenario, results.tools))
        lines.append("")
    lines.append(
        "cpu-c/cpu-s: CPU seconds of the client/server side (user + system); "
        "rss-c/rss-s: peak resident memory of each side; wire MiB: bytes on the wire (see "
        "the notes), ratio: data / wire, cpu-c s/GiB: client CPU per GiB of data."
    )
    if results.ssh_setup_seconds is not None:
        lines.append(
            f"Each ssh peer's time includes opening one ssh connection: "
            f"{results.ssh_setup_seconds:.2f} s here (median of 3 `ssh true`)."
        )
    if results.idle is not None:
        idle = results.idle
        text = f"Server idle over {idle.seconds:.0f} s: {idle.server_cpu:.3f} CPU s ({idle.percent:.2f}%)"
        if idle.server_cpu_with_session is not None:
            text += (
                f"; with a quiet session open: {idle.server_cpu_with_session:.3f} CPU s "
                f"(client {idle.client_cpu_with_session or 0:.3f} s)"
            )
        lines.append(text + ".")
    lines.extend(results.notes)
    lines.append("")
    lines.extend(ratio_lines(results))
    lines.append("")
    lines.append("Targets:")
    lines.extend(f"  {verdict}" for verdict in targets(results))
    return "\n".join(lines)


def write_json(results: Results, path: str) -> None:
    payload = results.to_json()
    payload["targets"] = [
        {"status": verdict.status, "text": verdict.text} for verdict in targets(results)
    ]
    with open(path, "w", encoding="utf-8") as output:
        json.dump(payload, output, indent=1)
        output.write("\n")


def write_chart(results: Results, path: str) -> str:
    """Draw one panel per scenario, one bar per tool; say what was done."""
    try:
        matplotlib = importlib.import_module("matplotlib")
        matplotlib.use("Agg")
        plt = importlib.import_module("matplotlib.pyplot")
    except ImportError:
        return "chart skipped: matplotlib not installed"
    scenarios = [
        scenario
        for scenario in results.scenarios
        if any(scenario.summary(tool) for tool in results.tools)
    ]
    if not scenarios:
        return "chart skipped: nothing measured"
    palette = plt.get_cmap("tab10")
    colours = {tool: palette(index % 10) for index, tool in enumerate(results.tools)}
    columns = 3
    rows = (len(scenarios) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(6 * columns, 3.3 * rows), squeeze=False)
    for index, scenario in enumerate(scenarios):
        axis = axes[index // columns][index % columns]
        names, medians, lows, highs = [], [], [], []
        for tool in results.tools:
            summary = scenario.summary(tool)
            if summary is None:
                continue
            names.append(tool)
            medians.append(summary.median)
            lows.append(summary.median - summary.low)
            highs.append(summary.high - summary.median)
        positions = list(range(len(names)))
        bars = axis.barh(
            positions,
            medians,
            xerr=[lows, highs],
            color=[colours[name] for name in names],
            edgecolor=["black" if name.startswith(REMOFILE) else "none" for name in names],
            linewidth=1.5,
            capsize=3,
        )
        # The disk can be many times faster than any transfer: cut its bar, keep its figure.
        others = [
            median + high
            for name, median, high in zip(names, medians, highs, strict=True)
            if name != DISK
        ]
        limit = 1.3 * max(others) if others else 0.0
        clipped = {
            index
            for index, (name, median) in enumerate(zip(names, medians, strict=True))
            if name == DISK and limit and median > limit
        }
        labels = ["" if index in clipped else _number(value) for index, value in enumerate(medians)]
        axis.bar_label(bars, labels=labels, padding=4, fontsize=8)
        if clipped:
            axis.set_xlim(0, limit)
            for index in clipped:
                axis.text(
                    limit * 0.98,
                    positions[index],
                    f"{_number(medians[index])} (cut)",
                    ha="right",
                    va="center",
                    fontsize=8,
                    color="white",
                )
        else:
            axis.margins(x=0.2)
        axis.set_yticks(positions, names, fontsize=8)
        axis.invert_yaxis()
        better = "higher" if scenario.higher_is_better else "lower"
        axis.set_title(f"{scenario.title}\n{scenario.unit}, {better} is better", fontsize=9)
        axis.tick_params(axis="x", labelsize=8)
    for index in range(len(scenarios), rows * columns):
        axes[index // columns][index % columns].axis("off")
    meta = results.meta
    figure.suptitle(
        f"Remofile and its peers on 127.0.0.1"
        f"{' and over the WAN link (panels marked WAN)' if meta.get('wan_link') else ''} "
        f"({meta.get('cpus', '?')} CPUs, "
        f"{meta.get('date', '')}{', quick' if meta.get('quick') else ''})",
        fontsize=11,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return f"chart: {os.path.abspath(path)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print a saved benchmark report again.")
    parser.add_argument("results", help="a results.json written by bench/run.py")
    parser.add_argument("--chart", help="where to draw the chart (default: beside the JSON)")
    arguments = parser.parse_args(argv)
    with open(arguments.results, encoding="utf-8") as saved:
        results = Results.from_json(json.load(saved))
    print(render(results))
    chart = arguments.chart or os.path.join(os.path.dirname(arguments.results), "benchmark.png")
    print(write_chart(results, chart))
    return 0


if __name__ == "__main__":
    sys.exit(main())
