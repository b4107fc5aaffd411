"""MkDocs hooks (mkdocs.yml ``hooks:``): pages made from the repository's own files.

The protocol specification is ``proto/SPEC.md`` itself, with the ``.proto`` file it links
to; a page's ``<!-- include PATH -->`` line is replaced by that file (its first heading
left out), ``<!-- include-section PATH HEADING -->`` by that section of it; and the benchmark page's chart is drawn, as SVG, from the README's table of
figures, so that the figures live in one place.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

REPOSITORY = Path(__file__).resolve().parents[1]
INCLUDE = re.compile(r"^<!-- include (\S+) -->$", re.MULTILINE)
INCLUDE_SECTION = re.compile(r"^<!-- include-section (\S+) (.+?) -->$", re.MULTILINE)
#: The README's table rows drawn in the chart (throughput, MiB/s).
CHART_ROW = re.compile(r"^\| ((?:up|down)load [^|]*\(MiB/s\)) \|(.*)\|$", re.MULTILINE)
BAR_COLOURS = ("#3f51b5", "#7986cb", "#ff9800", "#9e9e9e", "#bdbdbd", "#607d8b")


def on_files(files: Files, config: Any) -> Files:
    spec = (REPOSITORY / "proto" / "SPEC.md").read_text()
    files.append(File.generated(config, "protocol/spec.md", content=spec))
    proto = (REPOSITORY / "proto" / "remofile" / "v1" / "remofile.proto").read_text()
    files.append(File.generated(config, "protocol/remofile/v1/remofile.proto", content=proto))
    files.append(File.generated(config, "benchmarks/chart.svg", content=benchmark_chart()))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    def include(match: re.Match[str]) -> str:
        text = (REPOSITORY / match.group(1)).read_text()
        return re.sub(r"\A# .*\n", "", text)

    def include_section(match: re.Match[str]) -> str:
        text = (REPOSITORY / match.group(1)).read_text()
        heading = f"## {match.group(2)}\n"
        start = text.index(heading) + len(heading)
        end = text.find("\n## ", start)
        return text[start : end if end >= 0 else len(text)]

    return INCLUDE_SECTION.sub(include_section, INCLUDE.sub(include, markdown))


def readme_figures() -> tuple[list[str], list[tuple[str, list[float | None]]]]:
    """The tools (table header) and the throughput rows of the README's Speed table."""
    readme = (REPOSITORY / "README.md").read_text()
    header = re.search(r"^\| scenario \|(.*)\|$", readme, re.MULTILINE)
    if header is None:
        raise ValueError("README.md has no table of benchmark figures")
    tools = [cell.strip() for cell in header.group(1).split("|")]
    rows = []
    for match in CHART_ROW.finditer(readme):
        values: list[float | None] = []
        for cell in match.group(2).split("|"):
            number = re.match(r"\s*([\d,.]+)", cell)
            values.append(float(number.group(1).replace(",", "")) if number else None)
        rows.append((match.group(1), values))
    return tools, rows


def benchmark_chart() -> str:
    """Grouped bars, one group per scenario, one bar per tool."""
    tools, rows = readme_figures()
    top = max(value for _, values in rows for value in values if value is not None)
    bar, gap, left, height = 14, 26, 60, 260
    group = bar * len(tools) + gap
    width = left + group * len(rows) + 180
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 90}" '
        f'font-family="sans-serif" font-size="11">'
    ]
    for tick in range(0, int(top) + 1, 500):
        y = 10 + height - tick / top * height
        parts.append(f'<line x1="{left}" x2="{width - 180}" y1="{y}" y2="{y}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end">{tick}</text>')
    for index, (scenario, values) in enumerate(rows):
        x0 = left + index * group + gap / 2
        for tool_index, value in enumerate(values):
            if value is None:
                continue
            size = value / top * height
            parts.append(
                f'<rect x="{x0 + tool_index * bar}" y="{10 + height - size}" width="{bar - 2}" '
                f'height="{size}" fill="{BAR_COLOURS[tool_index % len(BAR_COLOURS)]}">'
                f"<title>{html.escape(tools[tool_index])}: {value:g} MiB/s</title></rect>"
            )
        label = html.escape(scenario.replace(" (MiB/s)", ""))
        parts.append(
            f'<text x="{x0 + bar * len(tools) / 2}" y="{height + 28}" '
            f'text-anchor="middle">{label}</text>'
        )
    parts.append(
        f'<text x="10" y="{height / 2}" transform="rotate(-90 10 {height / 2})">MiB/s</text>'
    )
    for tool_index, tool in enumerate(tools):
        y = 20 + tool_index * 18
        colour = BAR_COLOURS[tool_index % len(BAR_COLOURS)]
        parts.append(
            f'<rect x="{width - 170}" y="{y - 10}" width="12" height="12" fill="{colour}"/>'
        )
        parts.append(f'<text x="{width - 152}" y="{y}">{html.escape(tool)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
