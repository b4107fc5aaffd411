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
    REMEMBERED_ENDED_SESSIONS,
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
    # The old id names a session that ended: SESSION_EXPIRED, never SERVER_BUSY (3.7).
    assert gate.admit(TOKEN, first, "list_files", 301).reason == pb.REASON_SESSION_EXPIRED


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


# --- 3.7 recovery ----------------------------------------------------------------------

KEY = bytes(range(32))


def test_hello_with_the_live_sessions_client_key_replaces_it_whatever_id_it_carries() -> None:
    gate = make_gate()
    first = gate.admit(TOKEN, b"", "hello", 0, client_key=KEY)
    assert first.verdict is Verdict.OPENED
    live = gate.session_id
    # The answer was lost, or the process restarted: the client no longer knows `live`.
    for carried in (b"", OTHER, b"session-0"):
        admission = gate.admit(TOKEN, carried, "hello", 10, client_key=KEY)
        assert admission == Admission(Verdict.OPENED, pb.REASON_SESSION_OPENED, True)
        assert gate.session_id != live
        live = gate.session_id
    assert gate.deadline_ms() == 10 + TIMEOUT_MS


def test_lost_answer_to_a_replacing_hello_does_not_lock_the_client_out() -> None:
    gate = make_gate()
    holder = gate.admit(TOKEN, b"", "hello", 0, client_key=KEY)
    assert holder.verdict is Verdict.OPENED
    old = gate.session_id or b""
    # HELLO with the old id replaces it; its answer is lost, so the retry carries `old`.
    assert gate.admit(TOKEN, old, "hello", 5, client_key=KEY).verdict is Verdict.OPENED
    assert gate.admit(TOKEN, old, "hello", 6, client_key=KEY).verdict is Verdict.OPENED
    assert gate.admit(TOKEN, gate.session_id or b"", "list_files", 7).verdict is Verdict.PROCEED


@pytest.mark.parametrize(
    "other_key", [b"", bytes(32), KEY[:15], KEY + bytes(40)], ids=["none", "other", "short", "long"]
)
def test_hello_with_another_or_no_client_key_is_still_busy(other_key: bytes) -> None:
    gate = make_gate()
    gate.admit(TOKEN, b"", "hello", 0, client_key=KEY)
    live = gate.session_id
    assert gate.admit(TOKEN, b"", "hello", 1, client_key=other_key).reason == pb.REASON_SERVER_BUSY
    assert gate.session_id == live


@pytest.mark.parametrize("key", [KEY[:15], KEY + bytes(40)], ids=["short", "long"])
def test_a_client_key_of_the_wrong_length_is_no_key(key: bytes) -> None:
    gate = make_gate()
    assert gate.admit(TOKEN, b"", "hello", 0, client_key=key).verdict is Verdict.OPENED
    assert gate.admit(TOKEN, b"", "hello", 1, client_key=key).reason == pb.REASON_SERVER_BUSY


def test_a_session_opened_without_a_key_cannot_be_taken_over_by_an_empty_key() -> None:
    gate = make_gate()
    open_session(gate)
    assert gate.admit(TOKEN, b"", "hello", 1, client_key=b"").reason == pb.REASON_SERVER_BUSY


def test_the_client_key_needs_the_token() -> None:
    gate = make_gate()
    gate.admit(TOKEN, b"", "hello", 0, client_key=KEY)
    live = gate.session_id
    admission = gate.admit(TOKEN + "x", b"", "hello", 1, client_key=KEY)
    assert admission.reason == pb.REASON_ACCESS_DENIED
    assert gate.session_id == live


def test_the_key_belongs_to_one_session_only() -> None:
    gate = make_gate()
    gate.admit(TOKEN, b"", "hello", 0, client_key=KEY)
    holder = gate.session_id or b""
    gate.admit(TOKEN, holder, "goodbye", 1)
    # Another client opens without a key: the old key does not take its session over.
    open_session(gate, 2)
    assert gate.admit(TOKEN, b"", "hello", 3, client_key=KEY).reason == pb.REASON_SERVER_BUSY


@pytest.mark.parametrize("how", ["replaced", "closed", "expired"])
@pytest.mark.parametrize("kind", ["list_files", "send_chunk", "goodbye", "cancel_transfer"])
def test_an_ended_sessions_id_is_session_expired_even_while_another_is_live(
    how: str, kind: str
) -> None:
    gate = make_gate()
    ended = open_session(gate)
    if how == "replaced":
        gate.admit(TOKEN, ended, "hello", 1)
    elif how == "closed":
        gate.admit(TOKEN, ended, "goodbye", 1)
        open_session(gate, 2)
    else:
        assert gate.expire(TIMEOUT_MS + 1)
        open_session(gate, TIMEOUT_MS + 2)
    live = gate.session_id
    deadline = gate.deadline_ms()
    admission = gate.admit(TOKEN, ended, kind, TIMEOUT_MS + 3)
    assert admission == Admission(Verdict.REFUSED, pb.REASON_SESSION_EXPIRED)
    assert gate.session_id == live
    assert gate.deadline_ms() == deadline
    # An id never issued is still another client's: busy.
    assert gate.admit(TOKEN, OTHER, kind, TIMEOUT_MS + 3).reason == pb.REASON_SERVER_BUSY


def test_a_hello_with_an_ended_id_and_no_key_is_busy_while_another_is_live() -> None:
    gate = make_gate()
    ended = open_session(gate)
    gate.admit(TOKEN, ended, "goodbye", 1)
    open_session(gate, 2)
    assert gate.admit(TOKEN, ended, "hello", 3).reason == pb.REASON_SERVER_BUSY


def test_the_gate_remembers_a_bounded_number_of_ended_sessions() -> None:
    gate = make_gate()
    first = open_session(gate)
    for now in range(1, REMEMBERED_ENDED_SESSIONS + 2):
        gate.admit(TOKEN, gate.session_id or b"", "hello", now)
    # The oldest was forgotten: it now looks like any id never issued.
    assert gate.admit(TOKEN, first, "list_files", 10_000).reason == pb.REASON_SERVER_BUSY
    assert len(gate._ended) == REMEMBERED_ENDED_SESSIONS
    assert REMEMBERED_ENDED_SESSIONS >= 16


# --- the session table -----------------------------------------------------------------


def test_session_case_ids_are_unique_and_well_formed() -> None:
    ids = [case.case for case in SESSION_CASES]
    assert len(ids) == len(set(ids))
    for identifier in ids:
        assert re.fullmatch(r"3\.[1-7]/[1-9]", identifier), identifier


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
        #: Each client's key (3.7): "a" sends one, "b" none.
        self.keys = {"a": b"k" * 16, "b": b""}
        self.live_key = b""
        self.ended: set[bytes] = set()

    @rule(client=st.sampled_from(["a", "b"]))
    def client_restarts(self, client: str) -> None:
        """A client process restarts: it forgets its session id, not its key."""
        self.ids[client] = b""

    @rule(delta=st.integers(0, 2 * TIMEOUT_MS))
    def time_passes(self, delta: int) -> None:
        self.now += delta
        ended = self.gate.expire(self.now)
        should_end = self.live is not None and self.now - self.last_seen > TIMEOUT_MS
        assert ended is should_end
        if should_end:
            assert self.live is not None
            self.ended.add(self.live)
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
        key = self.keys[client]
        admission = self.gate.admit(token, session_id, kind, self.now, version, client_key=key)
        is_holder = self.live is not None and session_id == self.live
        same_client = is_holder or (self.live is not None and key != b"" and key == self.live_key)
        if not good_token:
            expected = Admission(Verdict.REFUSED, pb.REASON_ACCESS_DENIED)
        elif kind == "hello" and not good_version:
            expected = Admission(Verdict.REFUSED, pb.REASON_UNSUPPORTED_VERSION)
        elif kind == "hello" and self.live is not None and not same_client:
            expected = Admission(Verdict.REFUSED, pb.REASON_SERVER_BUSY)
        elif kind == "hello":
            replaced = self.live is not None
            if self.live is not None:
                self.ended.add(self.live)
            self.issued += 1
            self.live = b"s%d" % self.issued
            self.live_key = key
            self.ids[client] = self.live
            self.last_seen = self.now
            expected = Admission(Verdict.OPENED, pb.REASON_SESSION_OPENED, replaced)
        elif self.live is None or (not is_holder and session_id in self.ended):
            expected = Admission(Verdict.REFUSED, pb.REASON_SESSION_EXPIRED)
        elif not is_holder:
            expected = Admission(Verdict.REFUSED, pb.REASON_SERVER_BUSY)
        elif kind == "goodbye":
            self.ended.add(self.live)
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
