"""The session gate: tokens, sessions, busy refusals and expiry (SPEC.md section 3)."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from remofile.core.limits import PROTOCOL_VERSION
from remofile.core.sessions import (
    SESSION_CASES,
    SESSION_ID_BYTES,
    Admission,
    SessionGate,
    Verdict,
    tokens_match,
)
from remofile.v1 import remofile_pb2 as pb

TOKEN = "qRkVWJcFRqi7rsNMbagaDd"
TIMEOUT_MS = 1_000
OTHER = b"other-client-session"


def make_gate(timeout_ms: int = TIMEOUT_MS) -> SessionGate:
    """A gate whose session ids are b'session-1', b'session-2'... in order."""
    counter = itertools.count(1)
    return SessionGate(TOKEN, timeout_ms, lambda: f"session-{next(counter)}".encode())


def open_session(gate: SessionGate, now_ms: int = 0) -> bytes:
    admission = gate.admit(TOKEN, b"", "hello", now_ms)
    assert admission.verdict is Verdict.OPENED
    assert gate.session_id is not None
    return gate.session_id


# --- 3.1 token -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["hello", "goodbye", "list_files", "send_chunk"])
def test_wrong_token_is_access_denied_without_a_session(kind: str) -> None:
    gate = make_gate()
    admission = gate.admit("wrong-token-here", b"", kind, 0)
    assert admission == Admission(Verdict.REFUSED, pb.REASON_ACCESS_DENIED)
    assert not gate.is_live
    assert gate.session_id is None


@pytest.mark.parametrize("kind", ["hello", "goodbye", "list_files", "upload_file"])
def test_wrong_token_is_access_denied_even_from_the_holder_and_leaves_it_alone(
    kind: str,
) -> None:
    gate = make_gate()
    holder = open_session(gate, now_ms=100)
    deadline = gate.deadline_ms()
    for session_id in (holder, OTHER, b""):
        admission = gate.admit(TOKEN + "x", session_id, kind, 500)
        assert admission.verdict is Verdict.REFUSED
        assert admission.reason == pb.REASON_ACCESS_DENIED
        assert not admission.session_ended
    assert gate.session_id == holder
    # A refused request does not count as the holder's activity.
    assert gate.deadline_ms() == deadline == 100 + TIMEOUT_MS
    assert gate.admit(TOKEN, holder, "list_files", 600).verdict is Verdict.PROCEED


def test_empty_token_is_access_denied() -> None:
    assert make_gate().admit("", b"", "hello", 0).reason == pb.REASON_ACCESS_DENIED


# --- 3.2 hello -------------------------------------------------------------------------


def test_hello_opens_a_session() -> None:
    gate = make_gate()
    admission = gate.admit(TOKEN, b"", "hello", 42)
    assert admission == Admission(Verdict.OPENED, pb.REASON_SESSION_OPENED, session_ended=False)
    assert gate.is_live
    assert gate.session_id == b"session-1"
    assert gate.deadline_ms() == 42 + TIMEOUT_MS


def test_default_session_ids_are_random_bytes_of_the_documented_size() -> None:
    ids = set()
    for _ in range(50):
        gate = SessionGate(TOKEN, TIMEOUT_MS)
        gate.admit(TOKEN, b"", "hello", 0)
        assert isinstance(gate.session_id, bytes)
        assert len(gate.session_id) == SESSION_ID_BYTES
        ids.add(gate.session_id)
    assert len(ids) == 50


def test_hello_with_the_holders_id_replaces_the_session() -> None:
    gate = make_gate()
    first = open_session(gate, now_ms=0)
    admission = gate.admit(TOKEN, first, "hello", 300)
    assert admission == Admission(Verdict.OPENED, pb.REASON_SESSION_OPENED, session_ended=True)
    assert gate.session_id == b"session-2" != first
    assert gate.deadline_ms() == 300 + TIMEOUT_MS
    # The old id no longer belongs to anyone alive.
    assert gate.admit(TOKEN, first, "list_files", 301).reason == pb.REASON_SERVER_BUSY


@pytest.mark.parametrize("version", [0, 2, PROTOCOL_VERSION + 1, 2**32 - 1])
def test_hello_with_an_unsupported_version_is_refused_and_opens_nothing(version: int) -> None:
    gate = make_gate()
    admission = gate.admit(TOKEN, b"", "hello", 0, protocol_version=version)
    assert admission == Admission(Verdict.REFUSED, pb.REASON_UNSUPPORTED_VERSION)
    assert not gate.is_live


def test_hello_with_an_unsupported_version_leaves_the_live_session_alone() -> None:
    gate = make_gate()
    holder = open_session(gate)
    admission = gate.admit(TOKEN, holder, "hello", 10, protocol_version=PROTOCOL_VERSION + 1)
    assert admission.reason == pb.REASON_UNSUPPORTED_VERSION
    assert not admission.session_ended
    assert gate.session_id == holder


def test_hello_with_the_supported_version_opens() -> None:
    gate = make_gate()
    admission = gate.admit(TOKEN, b"", "hello", 0, protocol_version=PROTOCOL_VERSION)
    assert admission.verdict is Verdict.OPENED
    assert PROTOCOL_VERSION == 1


# --- 3.3 busy --------------------------------------------------------------------------


@pytest.mark.parametrize("other", [OTHER, b""])
def test_second_hello_from_another_client_is_server_busy(other: bytes) -> None:
    gate = make_gate()
    holder = open_session(gate, now_ms=0)
    admission = gate.admit(TOKEN, other, "hello", 10)
    assert admission == Admission(Verdict.REFUSED, pb.REASON_SERVER_BUSY)
    assert gate.session_id == holder
    assert gate.deadline_ms() == TIMEOUT_MS


@pytest.mark.parametrize("kind", ["goodbye", "list_files", "send_chunk", "cancel_transfer"])
def test_other_requests_from_another_client_are_server_busy(kind: str) -> None:
    gate = make_gate()
    holder = open_session(gate, now_ms=0)
    admission = gate.admit(TOKEN, OTHER, kind, 10)
    assert admission == Admission(Verdict.REFUSED, pb.REASON_SERVER_BUSY)
    assert gate.session_id == holder
    # The busy refusal does not keep the holder's session alive.
    assert gate.deadline_ms() == TIMEOUT_MS


@given(other=st.binary(max_size=32))
def test_any_id_but_the_holders_is_busy(other: bytes) -> None:
    gate = make_gate()
    holder = open_session(gate)
    assume(other != holder)
    assert gate.admit(TOKEN, other, "list_files", 1).reason == pb.REASON_SERVER_BUSY
    assert gate.admit(TOKEN, holder, "list_files", 2).verdict is Verdict.PROCEED


# --- 3.4 expiry ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["goodbye", "list_files", "receive_chunk"])
@pytest.mark.parametrize("session_id", [b"", b"session-1", OTHER])
def test_no_session_is_session_expired(kind: str, session_id: bytes) -> None:
    gate = make_gate()
    admission = gate.admit(TOKEN, session_id, kind, 0)
    assert admission == Admission(Verdict.REFUSED, pb.REASON_SESSION_EXPIRED)
    assert not gate.is_live


def test_no_deadline_without_a_session() -> None:
    gate = make_gate()
    assert gate.deadline_ms() is None
    assert gate.expire(10**12) is False


def test_expire_after_the_timeout_ends_the_session_once() -> None:
    gate = make_gate()
    holder = open_session(gate, now_ms=1_000)
    assert gate.expire(1_000 + TIMEOUT_MS + 1) is True
    assert not gate.is_live
    assert gate.deadline_ms() is None
    assert gate.expire(1_000 + TIMEOUT_MS + 2) is False
    admission = gate.admit(TOKEN, holder, "list_files", 1_000 + TIMEOUT_MS + 3)
    assert admission == Admission(Verdict.REFUSED, pb.REASON_SESSION_EXPIRED)


def test_not_expired_at_exactly_the_timeout() -> None:
    gate = make_gate()
    holder = open_session(gate, now_ms=1_000)
    assert gate.expire(1_000 + TIMEOUT_MS) is False
    assert gate.session_id == holder
    assert gate.admit(TOKEN, holder, "list_files", 1_000 + TIMEOUT_MS).verdict is Verdict.PROCEED


@given(
    opened=st.integers(0, 10**9),
    timeout=st.integers(0, 10**7),
    elapsed=st.integers(0, 2 * 10**7),
)
def test_expiry_happens_strictly_after_the_timeout(opened: int, timeout: int, elapsed: int) -> None:
    gate = make_gate(timeout_ms=timeout)
    open_session(gate, now_ms=opened)
    assert gate.deadline_ms() == opened + timeout
    assert gate.expire(opened + elapsed) is (elapsed > timeout)
    assert gate.is_live is (elapsed <= timeout)


def test_the_holders_activity_pushes_the_deadline() -> None:
    gate = make_gate()
    holder = open_session(gate, now_ms=0)
    for now in range(900, 9_000, 900):
        assert gate.expire(now) is False
        assert gate.admit(TOKEN, holder, "list_files", now).verdict is Verdict.PROCEED
        assert gate.deadline_ms() == now + TIMEOUT_MS
    assert gate.expire(8_100 + TIMEOUT_MS) is False
    assert gate.expire(8_100 + TIMEOUT_MS + 1) is True


def test_after_expiry_another_client_may_open() -> None:
    gate = make_gate()
    open_session(gate, now_ms=0)
    assert gate.admit(TOKEN, OTHER, "hello", 10).reason == pb.REASON_SERVER_BUSY
    assert gate.expire(TIMEOUT_MS + 1)
    admission = gate.admit(TOKEN, OTHER, "hello", TIMEOUT_MS + 1)
    assert admission.verdict is Verdict.OPENED
    assert not admission.session_ended
    assert gate.session_id == b"session-2"


# --- 3.5 goodbye -----------------------------------------------------------------------


def test_goodbye_closes_the_session() -> None:
    gate = make_gate()
    holder = open_session(gate)
    admission = gate.admit(TOKEN, holder, "goodbye", 5)
    assert admission == Admission(Verdict.CLOSED, pb.REASON_SESSION_CLOSED, session_ended=True)
    assert not gate.is_live
    assert gate.deadline_ms() is None
    assert gate.admit(TOKEN, holder, "list_files", 6).reason == pb.REASON_SESSION_EXPIRED
    assert gate.admit(TOKEN, OTHER, "hello", 7).verdict is Verdict.OPENED


def test_requests_of_the_holder_proceed() -> None:
    gate = make_gate()
    holder = open_session(gate)
    admission = gate.admit(TOKEN, holder, "upload_file", 1)
    assert admission == Admission(Verdict.PROCEED, pb.REASON_UNSPECIFIED, session_ended=False)
    assert gate.session_id == holder


# --- tokens_match ----------------------------------------------------------------------


@given(st.text(), st.text())
def test_tokens_match_only_equal_strings(expected: str, given_: str) -> None:
    # Lone surrogates on the given side (anything a client sends) must not crash.
    try:
        expected.encode("utf-8")
    except UnicodeEncodeError:
        assume(False)
    assert tokens_match(expected, given_) is (expected == given_)


@given(st.text())
def test_tokens_match_itself(token: str) -> None:
    try:
        token.encode("utf-8")
    except UnicodeEncodeError:
        assume(False)
    assert tokens_match(token, token) is True


@pytest.mark.parametrize(
    ("expected", "given_"),
    [
        ("naïve-token", "naïve-token"),
        ("naïve-token", "naive-token"),
        ("token", "token\x00"),
        ("token", "\ud800"),
        ("\u00e9", "e\u0301"),  # same text to a reader, not the same string
        ("日本語トークン", "日本語トークン"),
    ],
)
def test_tokens_match_examples(expected: str, given_: str) -> None:
    assert tokens_match(expected, given_) is (expected == given_)


def test_tokens_match_does_not_crash_on_a_lone_surrogate_in_the_expected_token() -> None:
    assert tokens_match("\ud800", "\ud800") is True


def test_wrong_token_with_a_lone_surrogate_is_access_denied() -> None:
    gate = make_gate()
    assert gate.admit("\udcff" + TOKEN, b"", "hello", 0).reason == pb.REASON_ACCESS_DENIED


# --- the session table -----------------------------------------------------------------


def test_session_case_ids_are_unique_and_well_formed() -> None:
    ids = [case.case for case in SESSION_CASES]
    assert len(ids) == len(set(ids))
    for identifier in ids:
        assert re.fullmatch(r"3\.[1-5]/[1-9]", identifier), identifier


def test_session_cases_reason_matches_response_type() -> None:
    for case in SESSION_CASES:
        if case.response_type == pb.RESPONSE_TYPE_ACCEPTED:
            assert 1 <= case.reason < 20, case.case
        else:
            assert case.response_type == pb.RESPONSE_TYPE_REFUSED, case.case
            assert 20 <= case.reason < 40, case.case


def test_every_reason_the_gate_gives_is_in_the_session_table() -> None:
    """Drive the gate through every branch and check each reason has a row."""
    reasons = set()

    gate = make_gate()
    reasons.add(gate.admit("bad-token", b"", "hello", 0).reason)
    reasons.add(gate.admit(TOKEN, b"", "list_files", 0).reason)
    reasons.add(gate.admit(TOKEN, b"", "hello", 0, protocol_version=99).reason)
    holder = open_session(gate)
    reasons.add(pb.REASON_SESSION_OPENED)
    reasons.add(gate.admit(TOKEN, OTHER, "hello", 1).reason)
    reasons.add(gate.admit(TOKEN, OTHER, "list_files", 1).reason)
    reasons.add(gate.admit(TOKEN, holder, "hello", 1).reason)
    reasons.add(gate.admit(TOKEN, gate.session_id or b"", "goodbye", 2).reason)

    assert reasons == {
        pb.REASON_ACCESS_DENIED,
        pb.REASON_SESSION_EXPIRED,
        pb.REASON_UNSUPPORTED_VERSION,
        pb.REASON_SESSION_OPENED,
        pb.REASON_SERVER_BUSY,
        pb.REASON_SESSION_CLOSED,
    }
    table_reasons = {case.reason for case in SESSION_CASES}
    assert reasons <= table_reasons
    # And the table holds no reason the gate never gives.
    assert table_reasons <= reasons


# --- a random walk against a model -----------------------------------------------------

KINDS = ["hello", "goodbye", "list_files", "send_chunk"]


class GateAgainstModel(RuleBasedStateMachine):
    """Random requests from two clients, with a clock, against a tiny model of section 3."""

    def __init__(self) -> None:
        super().__init__()
        self.counter = itertools.count(1)
        self.gate = SessionGate(TOKEN, TIMEOUT_MS, lambda: b"s%d" % next(self.counter))
        self.now = 0
        self.live: bytes | None = None
        self.last_seen = 0
        self.issued = 0
        #: The id each client holds (what its last HELLO returned), or b"".
        self.ids = {"a": b"", "b": b""}

    @rule(delta=st.integers(0, 2 * TIMEOUT_MS))
    def time_passes(self, delta: int) -> None:
        self.now += delta
        ended = self.gate.expire(self.now)
        should_end = self.live is not None and self.now - self.last_seen > TIMEOUT_MS
        assert ended is should_end
        if should_end:
            self.live = None

    @rule(
        client=st.sampled_from(["a", "b"]),
        kind=st.sampled_from(KINDS),
        good_token=st.booleans(),
        good_version=st.booleans(),
    )
    def request(self, client: str, kind: str, good_token: bool, good_version: bool) -> None:
        session_id = self.ids[client]
        version = PROTOCOL_VERSION if good_version else PROTOCOL_VERSION + 1
        token = TOKEN if good_token else "not-the-token"
        admission = self.gate.admit(token, session_id, kind, self.now, version)
        is_holder = self.live is not None and session_id == self.live
        if not good_token:
            expected = Admission(Verdict.REFUSED, pb.REASON_ACCESS_DENIED)
        elif kind == "hello" and not good_version:
            expected = Admission(Verdict.REFUSED, pb.REASON_UNSUPPORTED_VERSION)
        elif kind == "hello" and self.live is not None and not is_holder:
            expected = Admission(Verdict.REFUSED, pb.REASON_SERVER_BUSY)
        elif kind == "hello":
            self.issued += 1
            self.live = b"s%d" % self.issued
            self.ids[client] = self.live
            self.last_seen = self.now
            expected = Admission(Verdict.OPENED, pb.REASON_SESSION_OPENED, is_holder)
        elif self.live is None:
            expected = Admission(Verdict.REFUSED, pb.REASON_SESSION_EXPIRED)
        elif not is_holder:
            expected = Admission(Verdict.REFUSED, pb.REASON_SERVER_BUSY)
        elif kind == "goodbye":
            self.live = None
            self.last_seen = self.now
            expected = Admission(Verdict.CLOSED, pb.REASON_SESSION_CLOSED, True)
        else:
            self.last_seen = self.now
            expected = Admission(Verdict.PROCEED)
        assert admission == expected

    @invariant()
    def gate_agrees(self) -> None:
        assert self.gate.session_id == self.live
        assert self.gate.is_live is (self.live is not None)
        expected = None if self.live is None else self.last_seen + TIMEOUT_MS
        assert self.gate.deadline_ms() == expected


TestGateAgainstModel = GateAgainstModel.TestCase
