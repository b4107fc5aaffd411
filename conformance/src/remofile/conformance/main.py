"""``remofile-conformance ENDPOINT --token T``: judge a Remofile server by the spec.

Exit status: 0 if no case failed, 1 if any did (or an expected-failures entry is stale
or unknown, or with --strict a case was not tested), 2 if the suite could not run at all
(no answer, wrong token, a busy server, bad options). A defect of the server is always a
failing case, never status 2.
"""

from __future__ import annotations

import signal
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import click
import zmq.utils.z85
from remofile.conformance.cases import all_cases, select
from remofile.conformance.context import DEFAULT_MAX_WAIT_MS, DEFAULT_TIMEOUT_MS, Target
from remofile.conformance.coverage import SPEC_PATH, coverage_table
from remofile.conformance.report import summary, write_json, write_junit
from remofile.conformance.results import (
    Result,
    RunReport,
    apply_expected_failures,
    read_expected_failures,
)
from remofile.conformance.runner import Runner
from remofile.conformance.stateful import DEFAULT_EXAMPLES

EXIT_FAILED = 1
EXIT_UNUSABLE = 2
#: Stopped by Ctrl-C or SIGTERM (after cleaning up), as shells report SIGINT.
EXIT_INTERRUPTED = 130


def _check_endpoint(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.startswith(("tcp://", "ipc://")):
        raise click.BadParameter("must be tcp://host:port or ipc://path")
    return value


def _check_key(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        if len(value) != 40 or len(zmq.utils.z85.decode(value)) != 32:
            raise ValueError(value)
    except (ValueError, KeyError) as error:
        raise click.BadParameter("must be a CURVE public key: 40 characters of Z85") from error
    return value


def _split(values: Sequence[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


class _Progress:
    """One line on a terminal's stderr, rewritten as each case ends."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0

    def __call__(self, result: Result) -> None:
        self.done += 1
        line = f"[{self.done}/{self.total}] {result.status.value:<5} {result.case.id}"
        click.echo(f"\r\033[K{line}", err=True, nl=self.done == self.total)


@contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt for the duration: the runner then stops
    after the case under way and removes its scratch directory, as on Ctrl-C."""

    def raise_terminated(_signal: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, raise_terminated)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _hypothesis_home() -> Iterator[None]:
    """Keep hypothesis's files (its cache of constants) out of the working directory."""
    from hypothesis import configuration

    # The module's own record of the home chosen so far (None: not chosen yet).
    previous: Path | None = getattr(configuration, "__hypothesis_home_directory", None)
    with tempfile.TemporaryDirectory(prefix="remofile-conformance-") as home:
        configuration.set_hypothesis_home_dir(home)
        try:
            yield
        finally:
            configuration.set_hypothesis_home_dir(previous)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("endpoint", required=False, callback=_check_endpoint)
@click.option("--token", envvar="REMOFILE_TOKEN", help="The server's token (needed to run).")
@click.option(
    "--public-key",
    envvar="REMOFILE_PUBLIC_KEY",
    callback=_check_key,
    help="The server's CURVE public key, if it encrypts.",
)
@click.option(
    "--section",
    "sections",
    multiple=True,
    metavar="SECTION",
    help="Run only the cases of these sections or case-ID prefixes (4.9, 3.3/1, "
    "4.13/UPLOAD); repeat or separate with commas.",
)
@click.option("--junit-xml", type=click.Path(dir_okay=False), help="Write a JUnit XML report here.")
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False), help="Write a JSON report here."
)
@click.option(
    "--timeout",
    "timeout_ms",
    type=click.IntRange(min=1),
    default=DEFAULT_TIMEOUT_MS,
    show_default=True,
    metavar="MS",
    help="Deadline of every reply, in milliseconds.",
)
@click.option(
    "--max-wait-ms",
    type=click.IntRange(min=0),
    default=DEFAULT_MAX_WAIT_MS,
    show_default=True,
    help="Skip cases that must wait longer than this (session expiry).",
)
@click.option(
    "--expected-failures",
    type=click.Path(exists=True, dir_okay=False),
    help="File of case IDs, one a line, expected to fail; a listed case that passes is an error.",
)
@click.option(
    "--stateful-examples",
    type=click.IntRange(min=0),
    default=DEFAULT_EXAMPLES,
    show_default=True,
    help="Random request sequences checked against the model (0 for none).",
)
@click.option(
    "--outside-link",
    metavar="PATH",
    help="Remote path of a symbolic link, planted in the served directory, that leads out of it.",
)
@click.option(
    "--directory",
    default="/",
    show_default=True,
    metavar="PATH",
    help="An existing remote directory the suite may write in: its scratch directory is "
    "made there, and nothing outside that is written.",
)
@click.option(
    "--allow-root-removal",
    is_flag=True,
    help="Also send REMOVE_FILE for /: a conforming server refuses, a broken one empties the root.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Fail the run if any case was not tested (skipped for want of time, a feature, "
    "or --outside-link), except cases no request can provoke.",
)
@click.option(
    "--json-transcripts",
    type=click.Choice(["failed", "all"]),
    default="failed",
    show_default=True,
    help="Which cases the JSON report gives a transcript: those that did not pass, or all.",
)
@click.option(
    "--list", "list_only", is_flag=True, help="List the cases and exit (needs no server)."
)
@click.option(
    "--coverage",
    "coverage_only",
    is_flag=True,
    help="Print which cases check each MUST of SPEC.md and exit (needs no server).",
)
@click.option(
    "--spec",
    type=click.Path(exists=True, dir_okay=False),
    help="SPEC.md for --coverage (default: the one of the checkout the suite runs from).",
)
@click.option("-v", "--verbose", is_flag=True, help="Print whole transcripts of failures.")
def main(
    endpoint: str | None,
    token: str | None,
    public_key: str | None,
    sections: Sequence[str],
    junit_xml: str | None,
    json_path: str | None,
    timeout_ms: int,
    max_wait_ms: int,
    expected_failures: str | None,
    stateful_examples: int,
    outside_link: str | None,
    directory: str,
    allow_root_removal: bool,
    strict: bool,
    json_transcripts: str,
    list_only: bool,
    coverage_only: bool,
    spec: str | None,
    verbose: bool,
) -> None:
    """Check the Remofile server at ENDPOINT (tcp://host:port or ipc://path) against
    proto/SPEC.md, one case per row of its tables, each case named by spec section.

    The suite works only inside a directory it makes, /conformance-<random>, and
    removes it at the end.
    """
    every_case = all_cases()
    selectors = _split(sections)
    cases = select(every_case, selectors)
    if not cases:
        raise click.UsageError(f"no case matches --section {', '.join(selectors)}")
    if coverage_only:
        spec_path = Path(spec) if spec else SPEC_PATH
        if not spec_path.is_file():
            raise click.UsageError(f"no SPEC.md at {spec_path}: pass --spec FILE")
        click.echo(coverage_table(spec_path.read_text(encoding="utf-8"), every_case), nl=False)
        return
    if list_only:
        for case in cases:
            click.echo(f"{case.id}\t{case.title}")
        return
    if endpoint is None:
        raise click.UsageError("missing the ENDPOINT of the server (tcp://host:port)")
    if not token:
        raise click.UsageError("missing --token (or REMOFILE_TOKEN)")
    if not directory.startswith("/"):
        raise click.UsageError("--directory must be an absolute remote path, such as /tests")
    target = Target(
        endpoint,
        token,
        public_key,
        timeout_ms=timeout_ms,
        max_wait_ms=max_wait_ms,
        outside_link=outside_link,
        allow_root_removal=allow_root_removal,
        stateful_examples=stateful_examples,
        directory=directory,
    )
    progress = _Progress(len(cases)) if sys.stderr.isatty() else None
    with _terminate_cleanly(), _hypothesis_home():
        report: RunReport = Runner(target, progress=progress).run(cases)
    report.strict = strict
    if expected_failures is not None:
        apply_expected_failures(report, read_expected_failures(expected_failures), every_case)
    click.echo(summary(report, verbose))
    if junit_xml:
        write_junit(report, junit_xml)
    if json_path:
        write_json(report, json_path, all_transcripts=json_transcripts == "all")
    if report.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    if report.setup_error:
        sys.exit(EXIT_UNUSABLE)
    sys.exit(EXIT_FAILED if report.failed else 0)
