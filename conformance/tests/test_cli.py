"""The command line: reports, exit status, and the expected-failures file both ways."""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import zmq
from broken_servers import AcceptsAnyToken
from click.testing import CliRunner, Result
from conformance_serving import TOKEN, RewritingProxy, RunningServer, running_server
from remofile.conformance.cases import all_cases
from remofile.conformance.main import main
from remofile.v1 import remofile_pb2 as pb


def invoke(endpoint: str, *options: str) -> Result:
    return CliRunner().invoke(
        main,
        [endpoint, "--token", TOKEN, "--timeout", "2000", "--stateful-examples", "0", *options],
    )


def test_a_passing_run_writes_its_reports_and_exits_0(
    our_server: RunningServer, tmp_path: Path
) -> None:
    json_path, junit_path = tmp_path / "report.json", tmp_path / "report.xml"
    result = invoke(
        our_server.endpoint,
        "--section",
        "3.5,4.12",
        "--json",
        str(json_path),
        "--junit-xml",
        str(junit_path),
        "--json-transcripts",
        "all",
    )
    assert result.exit_code == 0, result.output
    assert "PASS  3.5/1" in result.output
    assert "PASS  4.12/UPLOAD/CANCEL_TRANSFER/1" in result.output
    report = json.loads(json_path.read_text())
    assert report["passed"] is True
    case = next(case for case in report["cases"] if case["id"] == "4.12/UPLOAD/CANCEL_TRANSFER/1")
    assert case["status"] == "PASS"
    sent = [event["message"] for event in case["transcript"] if event["direction"] == "sent"]
    assert {"cancel_transfer": {}} in [
        {k: v for k, v in m.items() if k == "cancel_transfer"} for m in sent
    ]
    received = [event["label"] for event in case["transcript"] if event["direction"] == "received"]
    assert "ACCEPTED TRANSFER_CANCELLED" in received
    suites = ET.parse(junit_path).getroot()
    names = {case.get("name") for case in suites.iter("testcase")}
    assert {"3.5/1", "4.12/UPLOAD/CANCEL_TRANSFER/1", "4.12/DELETE/CANCEL_TRANSFER/1"} <= names
    assert not list(suites.iter("failure"))


def test_the_token_never_appears_in_reports(our_server: RunningServer, tmp_path: Path) -> None:
    json_path, junit_path = tmp_path / "report.json", tmp_path / "report.xml"
    result = invoke(
        our_server.endpoint,
        "--section",
        "3.1,2.2.3",
        "--json",
        str(json_path),
        "--junit-xml",
        str(junit_path),
    )
    assert result.exit_code == 0, result.output
    for text in (result.output, json_path.read_text(), junit_path.read_text()):
        assert TOKEN not in text
        assert TOKEN.encode().hex() not in text


@pytest.fixture
def token_blind_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    with running_server(tmp_path, gate_class=AcceptsAnyToken) as server:
        yield server


def test_a_failure_shows_what_was_sent_expected_and_seen(
    token_blind_server: RunningServer, tmp_path: Path
) -> None:
    junit_path = tmp_path / "report.xml"
    result = invoke(token_blind_server.endpoint, "--section", "3.1", "--junit-xml", str(junit_path))
    assert result.exit_code == 1, result.output
    assert "FAIL  3.1/1" in result.output
    assert "sent:        {" in result.output
    assert "expected:    REFUSED ACCESS_DENIED" in result.output
    assert '"reason": "REASON_SESSION_OPENED"' in result.output
    failures = list(ET.parse(junit_path).getroot().iter("failure"))
    assert len(failures) == 1


def test_a_listed_failure_that_fails_passes_the_run(
    token_blind_server: RunningServer, tmp_path: Path
) -> None:
    listed = tmp_path / "expected.txt"
    listed.write_text("# known\n3.1/1\n")
    result = invoke(
        token_blind_server.endpoint, "--section", "3.1", "--expected-failures", str(listed)
    )
    assert result.exit_code == 0, result.output
    assert "XFAIL 3.1/1" in result.output


def test_a_listed_failure_that_passes_is_a_stale_entry(
    our_server: RunningServer, tmp_path: Path
) -> None:
    listed = tmp_path / "expected.txt"
    listed.write_text("3.5/1\n")
    result = invoke(our_server.endpoint, "--section", "3.5", "--expected-failures", str(listed))
    assert result.exit_code == 1, result.output
    assert "STALE 3.5/1" in result.output
    assert "remove the stale entry" in result.output


def test_a_listed_case_that_does_not_exist_fails_the_run(
    our_server: RunningServer, tmp_path: Path
) -> None:
    listed = tmp_path / "expected.txt"
    listed.write_text("9.9/NOPE/1\n")
    result = invoke(our_server.endpoint, "--section", "3.5", "--expected-failures", str(listed))
    assert result.exit_code == 1, result.output
    assert "9.9/NOPE/1" in result.output


def test_a_server_that_does_not_answer_exits_2() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    result = CliRunner().invoke(
        main, [f"tcp://127.0.0.1:{port}", "--token", TOKEN, "--timeout", "200"]
    )
    assert result.exit_code == 2
    assert "no reply to HELLO" in result.output


def test_a_wrong_token_exits_2(our_server: RunningServer) -> None:
    result = CliRunner().invoke(
        main, [our_server.endpoint, "--token", "not-the-token", "--timeout", "2000"]
    )
    assert result.exit_code == 2
    assert "refused the token" in result.output


def test_an_ipc_endpoint_works(tmp_path: Path) -> None:
    root = tmp_path / "served"
    root.mkdir()
    endpoint = f"ipc://{tmp_path}/remofile.sock"
    with running_server(root, port=endpoint) as server:
        assert server.endpoint.startswith("ipc://")
        result = invoke(server.endpoint, "--section", "3.2/1")
    assert result.exit_code == 0, result.output


def test_a_curve_server_needs_its_public_key(tmp_path: Path) -> None:
    public, secret = (key.decode("ascii") for key in zmq.curve_keypair())
    with running_server(tmp_path, private_key=secret) as server:
        with_key = invoke(server.endpoint, "--section", "3.2/1", "--public-key", public)
        without_key = CliRunner().invoke(
            main, [server.endpoint, "--token", TOKEN, "--timeout", "300", "--section", "3.2/1"]
        )
    assert with_key.exit_code == 0, with_key.output
    assert without_key.exit_code == 2
    assert "no reply to HELLO" in without_key.output


def test_list_prints_every_case() -> None:
    result = CliRunner().invoke(main, ["tcp://127.0.0.1:1", "--token", TOKEN, "--list"])
    assert result.exit_code == 0
    assert len(result.output.splitlines()) == len(all_cases())


def test_list_needs_neither_endpoint_nor_token() -> None:
    result = CliRunner().invoke(main, ["--list", "--section", "3.7"])
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[0] for line in result.output.splitlines()] == ["3.7/1", "3.7/2"]


@pytest.mark.parametrize(
    ("arguments", "missing"), [(["--token", TOKEN], "ENDPOINT"), (["tcp://127.0.0.1:1"], "--token")]
)
def test_a_run_needs_an_endpoint_and_a_token(arguments: list[str], missing: str) -> None:
    result = CliRunner(env={"REMOFILE_TOKEN": ""}).invoke(main, arguments)
    assert result.exit_code == 2
    assert missing in result.output


def test_passing_cases_keep_no_transcript_in_json_by_default(
    token_blind_server: RunningServer, tmp_path: Path
) -> None:
    json_path = tmp_path / "report.json"
    result = invoke(token_blind_server.endpoint, "--section", "3.1,3.5", "--json", str(json_path))
    assert result.exit_code == 1, result.output
    cases = {case["id"]: case for case in json.loads(json_path.read_text())["cases"]}
    assert "transcript" not in cases["3.5/1"]
    assert cases["3.1/1"]["transcript"]


def test_the_run_writes_nothing_in_the_working_directory(
    our_server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    arguments = ("--section", "4.13/stateful", "--stateful-examples", "2", "--timeout", "10000")
    result = invoke(our_server.endpoint, *arguments)
    # Whatever the random sequences found, hypothesis ran and wrote nothing here.
    assert "4.13/stateful/1" in result.output, result.output
    assert list(tmp_path.iterdir()) == []


def test_skipped_cases_are_listed_with_their_reasons_and_strict_fails_them(
    our_server: RunningServer,
) -> None:
    arguments = ("--section", "4.5.2/1,4.10.2/DOWNLOAD/RECEIVE_CHUNK/3", "--outside-link", "")
    plain = invoke(our_server.endpoint, *arguments)
    assert plain.exit_code == 0, plain.output
    assert "Not tested (1 case" in plain.output
    assert "pass --outside-link PATH: 4.5.2/1" in plain.output
    # A case no request can provoke is no gap of the run: it is not listed there.
    assert "RECEIVE_CHUNK/3\n" not in plain.output.split("Not tested")[1]
    strict = invoke(our_server.endpoint, *arguments, "--strict")
    assert strict.exit_code == 1, strict.output
    assert "FAILED" in strict.output


def _with_a_faulty_session_opened(frames: list[bytes]) -> list[bytes]:
    """A server whose SessionOpened announces names of 1024 bytes (3.2.4 says 255)."""
    response = pb.Response.FromString(frames[1])
    if response.HasField("session_opened"):
        response.session_opened.max_name_length = 1024
        return [frames[0], response.SerializeToString(), *frames[2:]]
    return frames


def test_a_faulty_session_opened_is_a_failing_case_reported_once(tmp_path: Path) -> None:
    """Not exit status 2 (that is for a server the suite cannot use at all), and not the
    same failure in every case: the first case to meet it fails, the rest are blocked."""
    with running_server(tmp_path) as server:
        proxy = RewritingProxy(server.endpoint, on_reply=_with_a_faulty_session_opened)
        try:
            report = str(tmp_path / "report.json")
            result = invoke(proxy.endpoint, "--section", "3.2,3.5,4.7", "--json", report)
        finally:
            proxy.close()
    assert result.exit_code == 1, result.output
    assert "max_name_length must be 255, not 1024" in result.output
    failed = [line for line in result.output.splitlines() if line.startswith("  FAIL ")]
    blocked = [line for line in result.output.splitlines() if line.startswith("  BLOCKED")]
    assert len(failed) == 1, result.output
    assert len(blocked) >= 5, result.output
    assert all(f"blocked by {failed[0].split()[1]}" in line for line in blocked)
    assert "Blocked (" in result.output
    assert "could not clean up" not in result.output


@pytest.mark.parametrize(
    "arguments",
    [
        ["http://example.org", "--token", TOKEN],
        ["tcp://127.0.0.1:1", "--token", TOKEN, "--section", "99"],
    ],
)
def test_bad_arguments_are_usage_errors(arguments: list[str]) -> None:
    assert CliRunner().invoke(main, arguments).exit_code == 2


def test_directory_keeps_the_run_inside_a_directory_the_operator_names(
    our_server: RunningServer, served_root: Path
) -> None:
    before = sorted(path.name for path in served_root.iterdir())
    inside_before = sorted((served_root / "existing-directory").iterdir())
    sections = "4.6/IDLE/LIST_FILES/1,4.7,7.1/1,3.7"
    result = invoke(
        our_server.endpoint, "--section", sections, "--directory", "/existing-directory"
    )
    assert result.exit_code == 0, result.output
    assert "scratch directory /existing-directory/conformance-" in result.output
    assert sorted(path.name for path in served_root.iterdir()) == before
    assert sorted((served_root / "existing-directory").iterdir()) == inside_before
