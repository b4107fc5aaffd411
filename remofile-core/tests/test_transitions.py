"""The protocol state machine against its table (SPEC.md section 4.13, and 4.6 to 4.12)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from remofile.core.transitions import (
    ILLEGAL_SECTION,
    TRANSITIONS,
    IllegalTransition,
    InvalidOutcome,
    Outcome,
    ProtocolMachine,
    RequestKind,
    Rule,
    State,
    all_rules,
    case_id,
    illegal_rule,
    render_transition_table,
)
from remofile.v1 import remofile_pb2 as pb

ALL_PAIRS = [(state, kind) for state in State for kind in RequestKind]
LEGAL_PAIRS = [pair for pair in ALL_PAIRS if pair in TRANSITIONS]
ILLEGAL_PAIRS = [pair for pair in ALL_PAIRS if pair not in TRANSITIONS]
ALL_REASONS = list(pb.Reason.values())
TRANSFERRING_STATES = [State.UPLOAD, State.DOWNLOAD, State.DELETE]

#: Reasons by the response type they belong to (remofile.proto, SPEC.md section 4.3).
ACCEPTED_REASONS = {value for value in ALL_REASONS if 1 <= value < 20}
REFUSED_REASONS = {value for value in ALL_REASONS if 20 <= value < 40}
ERROR_REASONS = {value for value in ALL_REASONS if value >= 40}
SESSION_REASONS = {
    pb.REASON_SESSION_OPENED,
    pb.REASON_SESSION_CLOSED,
    pb.REASON_SERVER_BUSY,
    pb.REASON_ACCESS_DENIED,
    pb.REASON_SESSION_EXPIRED,
    pb.REASON_UNSUPPORTED_VERSION,
}

#: Every outcome of the table, as (rule, 1-based index, outcome), for parametrization.
OUTCOME_ROWS = [
    (rule_, index, outcome)
    for rule_ in TRANSITIONS.values()
    for index, outcome in enumerate(rule_.outcomes, start=1)
]


def machine_in(state: State) -> ProtocolMachine:
    machine = ProtocolMachine()
    machine.state = state
    return machine


# --- 4.13: the table itself -----------------------------------------------------------


def test_table_is_keyed_by_the_state_and_kind_of_its_rules() -> None:
    for (state, kind), rule_ in TRANSITIONS.items():
        assert rule_.state is state
        assert rule_.kind is kind


def test_every_rule_has_at_least_one_outcome_with_distinct_reasons() -> None:
    for rule_ in TRANSITIONS.values():
        reasons = [outcome.reason for outcome in rule_.outcomes]
        assert reasons, rule_
        assert len(reasons) == len(set(reasons)), rule_


def test_every_outcome_reason_matches_its_response_type() -> None:
    expected = {
        pb.RESPONSE_TYPE_ACCEPTED: ACCEPTED_REASONS,
        pb.RESPONSE_TYPE_REFUSED: REFUSED_REASONS,
        pb.RESPONSE_TYPE_ERROR: ERROR_REASONS,
    }
    for rule_, index, outcome in OUTCOME_ROWS:
        assert outcome.reason in expected[outcome.response_type], case_id(rule_, index)


def test_no_outcome_uses_a_session_layer_reason() -> None:
    for rule_, index, outcome in OUTCOME_ROWS:
        assert outcome.reason not in SESSION_REASONS, case_id(rule_, index)
        assert outcome.reason != pb.REASON_UNSPECIFIED, case_id(rule_, index)


def test_every_outcome_says_when_it_applies() -> None:
    for rule_, index, outcome in OUTCOME_ROWS:
        assert outcome.when.strip(), case_id(rule_, index)


def test_requests_that_start_work_are_legal_only_in_idle() -> None:
    starters = {
        RequestKind.CREATE_FILE,
        RequestKind.MAKE_DIRECTORY,
        RequestKind.UPLOAD_FILE,
        RequestKind.DOWNLOAD_FILE,
        RequestKind.REMOVE_FILE,
    }
    for kind in starters:
        assert (State.IDLE, kind) in TRANSITIONS
        for state in TRANSFERRING_STATES:
            assert (state, kind) not in TRANSITIONS


@pytest.mark.parametrize(
    ("state", "kind"),
    [
        (State.UPLOAD, RequestKind.SEND_CHUNK),
        (State.DOWNLOAD, RequestKind.RECEIVE_CHUNK),
        (State.DELETE, RequestKind.CONTINUE_REMOVAL),
    ],
)
def test_continuation_requests_are_legal_only_in_their_own_state(
    state: State, kind: RequestKind
) -> None:
    for other in State:
        assert ((other, kind) in TRANSITIONS) == (other is state)


# --- every row: settle() gives the row's response and next state ----------------------


@pytest.mark.parametrize(
    ("rule_", "index", "outcome"),
    OUTCOME_ROWS,
    ids=[case_id(rule_, index) for rule_, index, _ in OUTCOME_ROWS],
)
def test_settle_follows_every_row_of_the_table(rule_: Rule, index: int, outcome: Outcome) -> None:
    machine = machine_in(rule_.state)
    assert machine.rule_for(rule_.kind) is rule_
    settled = machine.settle(rule_.kind, outcome.reason)
    assert settled == outcome
    assert settled.response_type == outcome.response_type
    assert machine.state is outcome.next_state


@pytest.mark.parametrize(
    ("case", "next_state", "response_type"),
    [
        ("4.9.1/IDLE/UPLOAD_FILE/1", State.UPLOAD, pb.RESPONSE_TYPE_ACCEPTED),
        ("4.9.2/UPLOAD/SEND_CHUNK/1", State.UPLOAD, pb.RESPONSE_TYPE_ACCEPTED),
        ("4.9.2/UPLOAD/SEND_CHUNK/2", State.IDLE, pb.RESPONSE_TYPE_ACCEPTED),
        ("4.9.2/UPLOAD/SEND_CHUNK/3", State.IDLE, pb.RESPONSE_TYPE_REFUSED),
        ("4.9.2/UPLOAD/SEND_CHUNK/4", State.IDLE, pb.RESPONSE_TYPE_ERROR),
        ("4.10.1/IDLE/DOWNLOAD_FILE/1", State.DOWNLOAD, pb.RESPONSE_TYPE_ACCEPTED),
        ("4.10.2/DOWNLOAD/RECEIVE_CHUNK/1", State.DOWNLOAD, pb.RESPONSE_TYPE_ACCEPTED),
        ("4.10.2/DOWNLOAD/RECEIVE_CHUNK/2", State.IDLE, pb.RESPONSE_TYPE_ACCEPTED),
        ("4.11.1/IDLE/REMOVE_FILE/1", State.IDLE, pb.RESPONSE_TYPE_ACCEPTED),
        ("4.11.1/IDLE/REMOVE_FILE/2", State.DELETE, pb.RESPONSE_TYPE_ACCEPTED),
        ("4.11.2/DELETE/CONTINUE_REMOVAL/1", State.DELETE, pb.RESPONSE_TYPE_ACCEPTED),
        ("4.11.2/DELETE/CONTINUE_REMOVAL/2", State.IDLE, pb.RESPONSE_TYPE_ACCEPTED),
        ("4.7/IDLE/CREATE_FILE/1", State.IDLE, pb.RESPONSE_TYPE_ACCEPTED),
        ("4.8/IDLE/MAKE_DIRECTORY/1", State.IDLE, pb.RESPONSE_TYPE_ACCEPTED),
    ],
)
def test_key_transitions_are_pinned(case: str, next_state: State, response_type: int) -> None:
    """A few rows written out by hand, so a silent edit of the table is caught too."""
    rows = {case_id(rule_, index): outcome for rule_, index, outcome in OUTCOME_ROWS}
    assert rows[case].next_state is next_state
    assert rows[case].response_type == response_type


def test_refusals_when_starting_work_leave_idle() -> None:
    """A REFUSED or ERROR answer to a request started in IDLE never leaves IDLE."""
    for rule_, index, outcome in OUTCOME_ROWS:
        if rule_.state is State.IDLE and outcome.response_type != pb.RESPONSE_TYPE_ACCEPTED:
            assert outcome.next_state is State.IDLE, case_id(rule_, index)


def test_every_answer_but_continuing_ends_a_transfer() -> None:
    """In a transferring state, anything but a 'more to come' answer returns to IDLE."""
    continuing = {pb.REASON_CHUNK_ACCEPTED, pb.REASON_CHUNK_SENT, pb.REASON_ENTRIES_REMOVED}
    for rule_, index, outcome in OUTCOME_ROWS:
        if rule_.state is State.IDLE or rule_.kind is RequestKind.LIST_FILES:
            continue
        expected = rule_.state if outcome.reason in continuing else State.IDLE
        assert outcome.next_state is expected, case_id(rule_, index)


# --- 4.13: pairs not in the table ------------------------------------------------------


def assert_illegal(state: State, kind: RequestKind) -> None:
    machine = machine_in(state)
    with pytest.raises(IllegalTransition) as raised:
        machine.rule_for(kind)
    assert raised.value.state is state
    assert raised.value.kind is kind
    assert machine.state is state
    for reason in ALL_REASONS:
        with pytest.raises(IllegalTransition):
            machine.settle(kind, reason)
        assert machine.state is state


@given(state=st.sampled_from(list(State)), kind=st.sampled_from(list(RequestKind)))
def test_pairs_outside_the_table_are_illegal_and_change_nothing(
    state: State, kind: RequestKind
) -> None:
    if (state, kind) in TRANSITIONS:
        machine = machine_in(state)
        assert machine.rule_for(kind) is TRANSITIONS[state, kind]
        assert machine.state is state
    else:
        assert_illegal(state, kind)


@pytest.mark.parametrize(
    ("state", "kind"), ILLEGAL_PAIRS, ids=[f"{s.name}-{k.name}" for s, k in ILLEGAL_PAIRS]
)
def test_every_pair_outside_the_table_is_illegal(state: State, kind: RequestKind) -> None:
    assert_illegal(state, kind)


def test_illegal_transition_message_names_the_state_and_request() -> None:
    with pytest.raises(IllegalTransition, match=r"SEND_CHUNK.*IDLE"):
        ProtocolMachine().rule_for(RequestKind.SEND_CHUNK)


@pytest.mark.parametrize(
    ("state", "kind"), ILLEGAL_PAIRS, ids=[f"{s.name}-{k.name}" for s, k in ILLEGAL_PAIRS]
)
def test_illegal_rule_answers_bad_request_and_keeps_the_state(
    state: State, kind: RequestKind
) -> None:
    rule_ = illegal_rule(state, kind)
    assert rule_.section == ILLEGAL_SECTION == "4.13"
    assert (rule_.state, rule_.kind) == (state, kind)
    [outcome] = rule_.outcomes
    assert outcome.response_type == pb.RESPONSE_TYPE_ERROR
    assert outcome.reason == pb.REASON_BAD_REQUEST
    assert outcome.next_state is state


# --- reasons a rule does not allow ---------------------------------------------------


@given(
    pair=st.sampled_from(LEGAL_PAIRS),
    reason=st.sampled_from(ALL_REASONS),
)
def test_settle_with_a_reason_outside_the_rule_is_an_invalid_outcome(
    pair: tuple[State, RequestKind], reason: int
) -> None:
    state, kind = pair
    rule_ = TRANSITIONS[pair]
    machine = machine_in(state)
    allowed = {outcome.reason for outcome in rule_.outcomes}
    if reason in allowed:
        assert machine.settle(kind, reason).reason == reason
    else:
        with pytest.raises(InvalidOutcome) as raised:
            machine.settle(kind, reason)
        assert raised.value.rule is rule_
        assert raised.value.reason == reason
        assert machine.state is state


def test_invalid_outcome_is_checked_for_every_rule_and_reason() -> None:
    for (state, kind), rule_ in TRANSITIONS.items():
        allowed = {outcome.reason for outcome in rule_.outcomes}
        for reason in ALL_REASONS:
            if reason in allowed:
                assert rule_.outcome_for(reason).reason == reason
                continue
            machine = machine_in(state)
            with pytest.raises(InvalidOutcome):
                machine.settle(kind, reason)
            assert machine.state is state


def test_invalid_outcome_message_names_the_reason() -> None:
    machine = machine_in(State.UPLOAD)
    with pytest.raises(InvalidOutcome, match=r"REASON_FILES_LISTED.*SEND_CHUNK.*UPLOAD"):
        machine.settle(RequestKind.SEND_CHUNK, pb.REASON_FILES_LISTED)


# --- 4.6: LIST_FILES, 4.12: CANCEL_TRANSFER, 3.4: reset ---------------------------------


@pytest.mark.parametrize("state", list(State))
def test_list_files_is_allowed_in_every_state_and_never_changes_it(state: State) -> None:
    rule_ = TRANSITIONS[state, RequestKind.LIST_FILES]
    assert rule_.section == "4.6"
    for outcome in rule_.outcomes:
        machine = machine_in(state)
        machine.settle(RequestKind.LIST_FILES, outcome.reason)
        assert machine.state is state
    accepted = [o for o in rule_.outcomes if o.response_type == pb.RESPONSE_TYPE_ACCEPTED]
    assert [o.reason for o in accepted] == [pb.REASON_FILES_LISTED]


@pytest.mark.parametrize("state", TRANSFERRING_STATES)
def test_cancel_transfer_returns_to_idle(state: State) -> None:
    machine = machine_in(state)
    outcome = machine.settle(RequestKind.CANCEL_TRANSFER, pb.REASON_TRANSFER_CANCELLED)
    assert outcome.response_type == pb.RESPONSE_TYPE_ACCEPTED
    assert machine.state is State.IDLE
    assert TRANSITIONS[state, RequestKind.CANCEL_TRANSFER].section == "4.12"


def test_cancel_transfer_is_illegal_in_idle() -> None:
    assert_illegal(State.IDLE, RequestKind.CANCEL_TRANSFER)


@pytest.mark.parametrize("state", list(State))
def test_reset_returns_to_idle(state: State) -> None:
    machine = machine_in(state)
    machine.reset()
    assert machine.state is State.IDLE


def test_a_new_machine_starts_idle() -> None:
    assert ProtocolMachine().state is State.IDLE


def test_a_full_upload_walks_idle_upload_idle() -> None:
    machine = ProtocolMachine()
    machine.settle(RequestKind.UPLOAD_FILE, pb.REASON_TRANSFER_ACCEPTED)
    assert machine.state is State.UPLOAD
    for _ in range(3):
        machine.settle(RequestKind.SEND_CHUNK, pb.REASON_CHUNK_ACCEPTED)
        assert machine.state is State.UPLOAD
    machine.settle(RequestKind.LIST_FILES, pb.REASON_FILES_LISTED)
    assert machine.state is State.UPLOAD
    machine.settle(RequestKind.SEND_CHUNK, pb.REASON_TRANSFER_COMPLETED)
    assert machine.state is State.IDLE


# --- all_rules and case ids ------------------------------------------------------------


def test_all_rules_covers_every_pair_once_in_order() -> None:
    rules = list(all_rules())
    assert len(rules) == len(State) * len(RequestKind)
    assert [(r.state, r.kind) for r in rules] == ALL_PAIRS


def test_all_rules_uses_the_table_for_legal_pairs_and_4_13_for_the_rest() -> None:
    for rule_ in all_rules():
        pair = (rule_.state, rule_.kind)
        if pair in TRANSITIONS:
            assert rule_ is TRANSITIONS[pair]
            assert rule_.section != ILLEGAL_SECTION
        else:
            assert rule_.section == ILLEGAL_SECTION
            assert [o.reason for o in rule_.outcomes] == [pb.REASON_BAD_REQUEST]


def test_case_id_has_section_state_request_and_index() -> None:
    rule_ = TRANSITIONS[State.UPLOAD, RequestKind.SEND_CHUNK]
    assert case_id(rule_, 2) == "4.9.2/UPLOAD/SEND_CHUNK/2"
    assert case_id(illegal_rule(State.IDLE, RequestKind.SEND_CHUNK), 1) == (
        "4.13/IDLE/SEND_CHUNK/1"
    )


CASE_ID_PATTERN = re.compile(r"\d+(\.\d+)+/(IDLE|UPLOAD|DOWNLOAD|DELETE)/[A-Z_]+/[1-9]\d*")


def test_case_ids_of_all_rules_are_well_formed_and_unique() -> None:
    ids = [
        case_id(rule_, index)
        for rule_ in all_rules()
        for index in range(1, len(rule_.outcomes) + 1)
    ]
    assert len(ids) == len(set(ids))
    for identifier in ids:
        assert CASE_ID_PATTERN.fullmatch(identifier), identifier


def test_rendered_table_lists_every_case_and_every_illegal_pair() -> None:
    text = render_transition_table()
    for rule_, index, _ in OUTCOME_ROWS:
        assert f"`{case_id(rule_, index)}`" in text
    for state in State:
        illegal = [kind.name for kind in RequestKind if (state, kind) not in TRANSITIONS]
        assert f"- {state.name}: {', '.join(illegal)}\n" in text
    assert text.count("\n| `") == len(OUTCOME_ROWS)


# --- a random walk against a model -----------------------------------------------------

#: The model: (state, kind) -> {reason: (response type, next state)}, from the table alone.
MODEL: dict[tuple[State, RequestKind], dict[int, tuple[int, State]]] = {
    pair: {o.reason: (o.response_type, o.next_state) for o in rule_.outcomes}
    for pair, rule_ in TRANSITIONS.items()
}


class MachineAgainstModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.machine = ProtocolMachine()
        self.model_state = State.IDLE

    @rule(data=st.data())
    def legal_outcome(self, data: st.DataObject) -> None:
        kind = data.draw(
            st.sampled_from([k for (s, k) in MODEL if s is self.model_state]), label="kind"
        )
        reason = data.draw(st.sampled_from(sorted(MODEL[self.model_state, kind])), label="reason")
        response_type, next_state = MODEL[self.model_state, kind][reason]
        outcome = self.machine.settle(kind, reason)
        assert outcome.response_type == response_type
        assert outcome.reason == reason
        assert outcome.next_state is next_state
        self.model_state = next_state

    @rule(data=st.data())
    def illegal_request(self, data: st.DataObject) -> None:
        illegal = [k for k in RequestKind if (self.model_state, k) not in MODEL]
        kind = data.draw(st.sampled_from(illegal), label="kind")
        reason = data.draw(st.sampled_from(ALL_REASONS), label="reason")
        with pytest.raises(IllegalTransition):
            self.machine.rule_for(kind)
        with pytest.raises(IllegalTransition):
            self.machine.settle(kind, reason)

    @rule(data=st.data())
    def disallowed_reason(self, data: st.DataObject) -> None:
        kind = data.draw(
            st.sampled_from([k for (s, k) in MODEL if s is self.model_state]), label="kind"
        )
        others = [r for r in ALL_REASONS if r not in MODEL[self.model_state, kind]]
        reason = data.draw(st.sampled_from(others), label="reason")
        with pytest.raises(InvalidOutcome):
            self.machine.settle(kind, reason)

    @precondition(lambda self: self.model_state is not State.IDLE)
    @rule()
    def reset(self) -> None:
        self.machine.reset()
        self.model_state = State.IDLE

    @invariant()
    def states_agree(self) -> None:
        assert self.machine.state is self.model_state


TestMachineAgainstModel = MachineAgainstModel.TestCase
