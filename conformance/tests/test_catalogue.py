"""The suite and the spec's tables cannot drift apart: every row has its case."""

from __future__ import annotations

import re

import pytest
from remofile.conformance.case import section_key
from remofile.conformance.cases import SECTION_TITLES, all_cases, matches, select
from remofile.conformance.context import UNPROVOKABLE
from remofile.conformance.session_cases import BODIES
from remofile.conformance.transition_cases import (
    has_scenario,
    is_unprovokable,
    required_features,
)
from remofile.core.sessions import SESSION_CASES, SessionCase
from remofile.core.transitions import ILLEGAL_SECTION, RequestKind, Rule, all_rules, case_id
from remofile.v1 import remofile_pb2 as pb

CASES = {case.id: case for case in all_cases()}


def test_case_ids_are_unique() -> None:
    assert len(CASES) == len(all_cases())


@pytest.mark.parametrize(
    ("rule", "index"),
    [(rule, index) for rule in all_rules() for index in range(1, len(rule.outcomes) + 1)],
    ids=lambda value: getattr(value, "section", str(value)),
)
def test_every_row_of_the_transition_table_has_a_case(rule: Rule, index: int) -> None:
    case = CASES[case_id(rule, index)]
    assert has_scenario(rule, index)
    if is_unprovokable(rule, rule.outcomes[index - 1]):
        assert case.body is None
        assert case.skip_reason == UNPROVOKABLE
    else:
        assert case.body is not None


@pytest.mark.parametrize("row", SESSION_CASES, ids=lambda row: row.case)
def test_every_row_of_the_session_table_has_a_case(row: SessionCase) -> None:
    assert row.case in BODIES
    assert CASES[row.case].body is BODIES[row.case]


def test_the_suite_has_no_body_the_tables_do_not_know() -> None:
    assert set(BODIES) == {row.case for row in SESSION_CASES}


def test_only_unprovokable_rows_lack_a_body() -> None:
    assert {case.skip_reason for case in CASES.values() if case.body is None} <= {UNPROVOKABLE}


def test_case_ids_are_named_by_sections_of_the_spec() -> None:
    for case in CASES.values():
        assert re.fullmatch(r"\d+(\.\d+)*", case.section), case.id
        assert case.section in SECTION_TITLES, case.id


def test_cases_come_sorted_by_section() -> None:
    keys = [section_key(case.section) for case in all_cases()]
    assert keys == sorted(keys)


@pytest.mark.parametrize(
    ("selector", "chosen", "not_chosen"),
    [
        ("4.9", "4.9.2/UPLOAD/SEND_CHUNK/1", "4.10.1/IDLE/DOWNLOAD_FILE/1"),
        ("4.1", "4.1", "4.10.1/IDLE/DOWNLOAD_FILE/1"),
        ("4.13/UPLOAD", "4.13/UPLOAD/CREATE_FILE/1", "4.13/IDLE/SEND_CHUNK/1"),
        ("3.3/1", "3.3/1", "3.3/2"),
        ("2.2", "2.2.3/1", "2.4/1"),
        ("4.14", "4.14/IDLE/MOVE_FILE/1", "4.1/1"),
        ("4.1", "4.1/1", "4.16/IDLE/FILE_DIGEST/1"),
        ("4.5", "4.5.5/1", "4.15/1"),
        ("8", "8.5/1", "7.3/1"),
        ("4.17", "4.17/IDLE/UPLOAD_FILES/1", "4.1/1"),
        ("4.1", "4.1/1", "4.18/3"),
        ("2.2", "2.2.2/1", "2.4/1"),
    ],
)
def test_sections_select_by_prefix(selector: str, chosen: str, not_chosen: str) -> None:
    assert matches(chosen, [selector])
    assert not matches(not_chosen, [selector])


def test_no_selector_selects_everything() -> None:
    assert len(select(all_cases(), [])) == len(CASES)


#: The requirement cases of protocol 1.1, by section (SPEC 4.5.5, 4.14 to 4.16, 8.5).
CASES_OF_1_1 = {
    "4.5.5": 5,
    "4.14": 7,
    "4.15": 4,
    "4.16": 4,
    "8.5": 1,
}


#: The requirement cases of protocol 1.2, by section (SPEC 4.17, 4.18, and the frames of
#: a batch in 2.2.1 and 2.2.2).
CASES_OF_1_2 = {
    "4.17": 13,
    "4.18": 6,
    "2.2.2": 1,
}


@pytest.mark.parametrize(("section", "count"), [*CASES_OF_1_1.items(), *CASES_OF_1_2.items()])
def test_the_sections_of_protocols_1_1_and_1_2_have_their_cases(section: str, count: int) -> None:
    for number in range(1, count + 1):
        case = CASES[f"{section}/{number}"]
        assert case.body is not None
        assert case.section == section
    assert f"{section}/{count + 1}" not in CASES


@pytest.mark.parametrize(
    ("kind", "feature"),
    [
        (RequestKind.MOVE_FILE, pb.FEATURE_MOVE),
        (RequestKind.COPY_FILE, pb.FEATURE_COPY),
        (RequestKind.FILE_DIGEST, pb.FEATURE_FILE_DIGEST),
        (RequestKind.UPLOAD_FILES, pb.FEATURE_BATCH),
        (RequestKind.DOWNLOAD_FILES, pb.FEATURE_BATCH),
    ],
)
def test_the_rows_of_a_request_of_1_1_or_1_2_need_its_feature(
    kind: RequestKind, feature: int
) -> None:
    rules = [rule for rule in all_rules() if rule.kind is kind]
    legal = [rule for rule in rules if rule.section != ILLEGAL_SECTION]
    assert len(legal) == 1
    for rule in rules:
        for index, outcome in enumerate(rule.outcomes, start=1):
            assert CASES[case_id(rule, index)].body is not None or (is_unprovokable(rule, outcome))
            wanted = () if rule.section == ILLEGAL_SECTION else (feature,)
            assert required_features(rule, outcome) == wanted


def test_only_the_replacing_upload_row_needs_feature_replace() -> None:
    needing = [
        case_id(rule, index)
        for rule in all_rules()
        for index, outcome in enumerate(rule.outcomes, start=1)
        if pb.FEATURE_REPLACE in required_features(rule, outcome)
    ]
    assert needing == ["4.9.1/IDLE/UPLOAD_FILE/11"]
