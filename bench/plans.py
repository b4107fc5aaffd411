"""How a scenario runs: a :class:`Plan` (prepare once, one run of a tool, check and
clean), run by every tool in turn with the order rotating between runs, within the
run's time budget."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench import report
from bench.model import Kind, Sample, Scenario
from bench.tools import NotApplicable, Tool

#: Past the time budget, a scenario still gets its first run for this long.
FIRST_RUN_GRACE_S = 30.0


@dataclass
class Plan:
    """How to run one scenario: prepare once, one run of a tool, check and clean."""

    key: str
    title: str
    kind: Kind
    amount: int
    runs: int
    timeout: float
    operation: Callable[[Tool, int], Sample]
    #: Called with the run's index after every run (success or not).
    after: Callable[[int], None] = lambda _run: None
    prepare: Callable[[], None] = lambda: None
    finish: Callable[[], None] = lambda: None
    #: Tools left out of this scenario, to keep the whole run under 10 minutes.
    exclude: frozenset[str] = frozenset()
    #: If set, the only tools that run this scenario (others are not listed).
    only: frozenset[str] | None = None
    #: Tools not run in this scenario, listed with the reason.
    skipped: dict[str, str] = field(default_factory=dict)
    #: Printed under the scenario's table.
    note: str = ""
    #: Bytes of data one run moves, for scenarios counted in files.
    data_bytes: int | None = None


def run_plan(
    plan: Plan,
    tools: list[Tool],
    unavailable: dict[str, str],
    deadline: float,
    log: Callable[[str], None],
) -> Scenario:
    scenario = Scenario(plan.key, plan.title, plan.kind, plan.amount, data_bytes=plan.data_bytes)
    scenario.notes = plan.note

    def wanted(name: str) -> bool:
        return name not in plan.exclude and (plan.only is None or name in plan.only)

    for name, reason in {**unavailable, **plan.skipped}.items():
        if wanted(name):
            scenario.result(name).skipped = reason
    tools = [tool for tool in tools if wanted(tool.name) and tool.name not in plan.skipped]
    not_applicable: set[str] = set()
    plan.prepare()
    try:
        for run in range(plan.runs):
            now = time.monotonic()
            if now > deadline + FIRST_RUN_GRACE_S or (run > 0 and now > deadline):
                log(f"  time budget reached: run {run + 1} of {plan.key} and later ones skipped")
                budget = f"time budget reached: {run} of {plan.runs} runs"
                scenario.notes = f"{scenario.notes}; {budget}" if scenario.notes else budget
                break
            shift = run % len(tools)
            for tool in tools[shift:] + tools[:shift]:
                if tool.name in not_applicable:
                    continue
                result = scenario.result(tool.name)
                # Every tool starts from a quiet disk: what the one before left dirty is
                # written now, untimed, not during the next tool's run.
                os.sync()
                try:
                    sample = plan.operation(tool, run)
                except NotApplicable as reason:
                    not_applicable.add(tool.name)
                    result.skipped = f"n/a ({reason})"
                    continue
                except Exception as error:
                    result.errors.append(f"{type(error).__name__}: {error}")
                    log(f"  {plan.key} run {run + 1}: {tool.name} failed: {error}")
                    continue
                finally:
                    plan.after(run)
                result.samples.append(sample)
                log(
                    f"  {plan.key} run {run + 1}: {tool.name:<17} "
                    f"{report._number(scenario.figure(sample))} {scenario.unit}"
                )
    finally:
        plan.finish()
    return scenario
