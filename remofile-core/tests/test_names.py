"""File name validity (SPEC.md section 4.4)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from remofile.core import is_file_name_valid
from remofile.core.names import FORBIDDEN_CHARACTERS

#: The rules of section 4.4, written out here on their own rather than read from the code.
FORBIDDEN = set("<>:/\\|?*")
PREFIX = ".remofile-"
LIMIT = 255


def is_control(character: str) -> bool:
    """C0 controls, DEL and C1 controls (U+0080 to U+009F)."""
    return ord(character) < 0x20 or 0x7F <= ord(character) <= 0x9F


def expected_validity(name: str) -> bool:
    if name in ("", ".", ".."):
        return False
    if any(c in FORBIDDEN or is_control(c) for c in name):
        return False
    if any(0xD800 <= ord(c) <= 0xDFFF for c in name):
        return False
    if len(name.encode("utf-8")) > LIMIT:
        return False
    return not name.lower().startswith(PREFIX)


def no_c1(text: str) -> bool:
    return not any(0x80 <= ord(c) <= 0x9F for c in text)


#: Text weighted towards the characters that matter, plus anything at all.
interesting = st.sampled_from([*sorted(FORBIDDEN), "\x00", "\x1f", "\x7f", ".", "-", "\ud800"])
name_text = st.one_of(
    st.text(),
    st.text(st.one_of(interesting, st.characters()), max_size=20),
    st.builds(lambda rest: PREFIX + rest, st.text(max_size=10)),
    st.builds(lambda n, c: c * n, st.integers(120, 260), st.sampled_from(["a", "é", "日", "😀"])),
).filter(no_c1)


@given(name_text)
@example("")
@example(".")
@example("..")
@example("...")
@example(".remofile-")
@example(".remofile")
@example("a" * 255)
@example("a" * 256)
def test_validity_follows_the_rules_of_section_4_4(name: str) -> None:
    assert is_file_name_valid(name) is expected_validity(name)


def test_forbidden_characters_are_the_documented_ones() -> None:
    assert frozenset("<>:/\\|?*") == FORBIDDEN_CHARACTERS


@pytest.mark.parametrize("name", ["", ".", ".."])
def test_empty_dot_and_dotdot_are_invalid(name: str) -> None:
    assert not is_file_name_valid(name)


@pytest.mark.parametrize("name", ["...", ".hidden", "a.", "..a", "a..b", " ", "-"])
def test_dots_elsewhere_are_valid(name: str) -> None:
    assert is_file_name_valid(name)


@pytest.mark.parametrize("character", sorted("<>:/\\|?*"))
def test_each_forbidden_character_is_refused_anywhere(character: str) -> None:
    assert not is_file_name_valid(character)
    assert not is_file_name_valid(f"a{character}")
    assert not is_file_name_valid(f"{character}a")
    assert not is_file_name_valid(f"ab{character}cd")


@pytest.mark.parametrize("character", ["\x00", "\x01", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f"])
def test_control_characters_are_refused(character: str) -> None:
    assert not is_file_name_valid(f"name{character}")
    assert not is_file_name_valid(character)


@pytest.mark.parametrize("character", [" ", "~", "!", "\u00a0", "\u00a1"])
def test_printable_neighbours_of_control_characters_are_valid(character: str) -> None:
    assert is_file_name_valid(f"name{character}x")


def test_255_bytes_is_the_longest_name() -> None:
    assert is_file_name_valid("a" * 255)
    assert not is_file_name_valid("a" * 256)


def test_the_limit_counts_utf8_bytes_not_characters() -> None:
    assert len(("é" * 127).encode()) == 254
    assert is_file_name_valid("é" * 127)
    assert not is_file_name_valid("é" * 128)
    assert is_file_name_valid("é" * 127 + "a")  # 255 bytes
    assert not is_file_name_valid("é" * 127 + "ab")  # 256 bytes
    assert is_file_name_valid("😀" * 63 + "abc")  # 252 + 3 bytes
    assert not is_file_name_valid("😀" * 64)  # 256 bytes, 64 characters


@pytest.mark.parametrize("name", ["\ud800", "a\udfff", "\udc80b", "\ud83d\ude00"])
def test_lone_surrogates_are_invalid_and_do_not_crash(name: str) -> None:
    assert is_file_name_valid(name) is False


@pytest.mark.parametrize(
    "name", [".remofile-", ".remofile-staging", ".remofile-x.txt", ".remofile--"]
)
def test_names_with_the_reserved_prefix_are_invalid(name: str) -> None:
    assert not is_file_name_valid(name)


@pytest.mark.parametrize(
    "name", [".remofile", "remofile-staging", "x.remofile-", "..remofile-", " .remofile-"]
)
def test_names_merely_near_the_reserved_prefix_are_valid(name: str) -> None:
    assert is_file_name_valid(name)


@pytest.mark.parametrize(
    "name", ["naïve", "日本語", "😀", "файл.txt", "e\u0301", "\u200b", "a b", "UPPER.TXT"]
)
def test_unicode_and_ordinary_names_are_valid(name: str) -> None:
    assert is_file_name_valid(name)


@pytest.mark.parametrize("value", [None, b"name", 1, ["name"], bytearray(b"x")])
def test_non_strings_are_invalid(value: object) -> None:
    assert is_file_name_valid(value) is False  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["\x80", "a\x85b", "\x9f"])
def test_c1_controls_are_refused(name: str) -> None:
    assert is_file_name_valid(name) is False


@pytest.mark.parametrize("name", [".REMOFILE-staging", ".Remofile-x", ".remofile-"])
def test_the_reserved_prefix_is_refused_in_any_letter_case(name: str) -> None:
    """A case-insensitive file system must not let a client reach the staging area."""
    assert is_file_name_valid(name) is False
