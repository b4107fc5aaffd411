"""Tokens and CURVE keys (SPEC.md sections 3.1 and 2.3)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from remofile.core import generate_keys, generate_token
from remofile.core.credentials import (
    is_token_valid,
    public_key_of,
    validate_key,
    validate_token,
)

URL_SAFE = set(string.ascii_letters + string.digits + "-_")
TOKEN_ALPHABET = string.ascii_letters + string.digits + "_.~-"
Z85_ALPHABET = (
    string.digits + string.ascii_lowercase + string.ascii_uppercase + ".-:+=^!/*?&<>()[]{}@%$#"
)


# --- tokens ----------------------------------------------------------------------------


def test_generated_token_is_22_url_safe_characters() -> None:
    token = generate_token()
    assert isinstance(token, str)
    assert len(token) == 22
    assert set(token) <= URL_SAFE
    assert is_token_valid(token)
    assert validate_token(token) == token


def test_generated_tokens_never_start_with_a_dash_and_use_every_character() -> None:
    """A leading '-' made `remofile run DIR PORT TOKEN` read the token as an option
    (about 1 token in 64); every other character is still drawn from all 64."""
    tokens = [generate_token() for _ in range(5000)]
    assert not [token for token in tokens if token.startswith("-")]
    assert {token[0] for token in tokens} == URL_SAFE - {"-"}
    assert set("".join(token[1:] for token in tokens)) == URL_SAFE


def test_generated_tokens_are_all_distinct() -> None:
    tokens = [generate_token() for _ in range(1000)]
    assert len(set(tokens)) == 1000
    for token in tokens:
        assert len(token) == 22
        assert set(token) <= URL_SAFE


def test_generated_tokens_use_the_whole_alphabet() -> None:
    """128 bits spread over the URL-safe alphabet, not a narrower one (hex, digits...)."""
    seen = set("".join(generate_token() for _ in range(1000)))
    assert seen == URL_SAFE


@pytest.mark.parametrize(
    "token", ["my-custom-token", "qRkVWJcFRqi7rsNMbagaDd", "a" * 8, "a" * 256, "a.b~c_d-e"]
)
def test_validate_token_accepts_url_safe_tokens(token: str) -> None:
    assert validate_token(token) == token
    assert is_token_valid(token)


@pytest.mark.parametrize(
    "token",
    ["", "a" * 7, "a" * 257, "has space", "naïve-token", "tab\there!", "token\n", "a/b/c/d/e"],
)
def test_validate_token_refuses_malformed_tokens(token: str) -> None:
    assert not is_token_valid(token)
    with pytest.raises(ValueError, match="8 to 256"):
        validate_token(token)


@pytest.mark.parametrize("value", [None, 12345678, b"bytes-token", ["my-custom-token"]])
def test_validate_token_refuses_non_strings(value: object) -> None:
    assert not is_token_valid(value)
    with pytest.raises(ValueError, match="8 to 256"):
        validate_token(value)


@given(st.text(TOKEN_ALPHABET, min_size=8, max_size=256))
def test_any_url_safe_text_of_8_to_256_is_a_token(token: str) -> None:
    assert validate_token(token) == token


@given(st.text(TOKEN_ALPHABET, max_size=7))
def test_short_tokens_are_refused(token: str) -> None:
    with pytest.raises(ValueError, match="8 to 256"):
        validate_token(token)


@given(st.text(TOKEN_ALPHABET, min_size=257, max_size=400))
def test_long_tokens_are_refused(token: str) -> None:
    with pytest.raises(ValueError, match="8 to 256"):
        validate_token(token)


@given(
    st.text(TOKEN_ALPHABET, min_size=4, max_size=20),
    st.characters().filter(lambda c: c not in TOKEN_ALPHABET),
    st.text(TOKEN_ALPHABET, min_size=4, max_size=20),
)
def test_tokens_with_any_other_character_are_refused(head: str, bad: str, tail: str) -> None:
    """Spaces, punctuation, non-ASCII letters and digits, surrogates: all refused."""
    token = head + bad + tail  # 9 to 41 characters: only the bad one is wrong
    assert is_token_valid(head + tail)
    with pytest.raises(ValueError, match="8 to 256"):
        validate_token(token)


@pytest.mark.parametrize("character", ["٣", "ǅ", "\uff45", "\u0301", "\ud800", " ", "\u00a0"])
def test_non_ascii_lookalikes_are_refused(character: str) -> None:
    with pytest.raises(ValueError, match="8 to 256"):
        validate_token("abcdefgh" + character)


# --- keys ------------------------------------------------------------------------------


def test_generate_keys_returns_a_public_and_private_z85_pair() -> None:
    public, private = generate_keys()
    for key in (public, private):
        assert isinstance(key, str)
        assert len(key) == 40
        assert set(key) <= set(Z85_ALPHABET)
        assert validate_key(key) == key
    assert public != private
    assert public_key_of(private) == public


def test_generate_keys_differs_each_call() -> None:
    pairs = [generate_keys() for _ in range(20)]
    assert len({public for public, _ in pairs}) == 20
    assert len({private for _, private in pairs}) == 20
    for public, private in pairs:
        assert public_key_of(private) == public


@pytest.mark.parametrize("length", [0, 1, 32, 39, 41, 80])
def test_validate_key_refuses_wrong_lengths(length: int) -> None:
    with pytest.raises(ValueError, match="40"):
        validate_key("a" * length)


@pytest.mark.parametrize("character", [" ", '"', "'", ",", ";", "\\", "_", "`", "|", "~", "é"])
def test_validate_key_refuses_characters_outside_z85(character: str) -> None:
    with pytest.raises(ValueError, match="40 characters of Z85"):
        validate_key("a" * 39 + character)


@pytest.mark.parametrize("value", [None, b"a" * 40, 40])
def test_validate_key_refuses_non_strings(value: object) -> None:
    with pytest.raises(ValueError, match="40 characters of Z85"):
        validate_key(value)


@given(st.text(Z85_ALPHABET, min_size=40, max_size=40))
def test_any_40_z85_characters_are_a_key(key: str) -> None:
    assert validate_key(key) == key


def test_public_key_of_refuses_a_malformed_private_key() -> None:
    with pytest.raises(ValueError, match="40 characters of Z85"):
        public_key_of("too-short")
