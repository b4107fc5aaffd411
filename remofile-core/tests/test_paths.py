"""Remote path normalisation (SPEC.md section 4.5)."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from remofile.core import is_file_name_valid
from remofile.core.limits import MAX_PATH_BYTES
from remofile.core.paths import (
    RemotePathError,
    join_remote_path,
    normalize_remote_path,
    split_remote_path,
)

valid_names = st.text(min_size=1, max_size=30).filter(is_file_name_valid)


def test_remote_path_error_is_a_value_error() -> None:
    assert issubclass(RemotePathError, ValueError)


# --- what paths reduce to ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "components"),
    [
        ("/", ()),
        ("//", ()),
        ("/.", ()),
        ("/././/", ()),
        ("/a", ("a",)),
        ("/a/", ("a",)),
        ("/a//./b/", ("a", "b")),
        ("//a/b//c", ("a", "b", "c")),
        ("/a/./././b", ("a", "b")),
        ("/.../a..b/..c", ("...", "a..b", "..c")),
        ("/naïve/日本語/😀", ("naïve", "日本語", "😀")),
        ("/.hidden/.remofile", (".hidden", ".remofile")),
    ],
)
def test_split_drops_empty_and_dot_components(path: str, components: tuple[str, ...]) -> None:
    assert split_remote_path(path) == components


@pytest.mark.parametrize(
    ("path", "normal"),
    [("/", "/"), ("/a//./b/", "/a/b"), ("//x//", "/x"), ("/a/b", "/a/b")],
)
def test_normalize_gives_the_canonical_form(path: str, normal: str) -> None:
    assert normalize_remote_path(path) == normal


def test_join_puts_a_slash_before_the_components() -> None:
    assert join_remote_path(()) == "/"
    assert join_remote_path(["a"]) == "/a"
    assert join_remote_path(("a", "b", "c")) == "/a/b/c"


def test_pathlike_input_is_accepted() -> None:
    assert split_remote_path(PurePosixPath("/a/b")) == ("a", "b")
    assert normalize_remote_path(PurePosixPath("/a//b/")) == "/a/b"
    assert split_remote_path(PurePosixPath("/")) == ()


def test_bytes_pathlike_is_refused() -> None:
    class BytesPath:
        def __fspath__(self) -> bytes:
            return b"/a"

    with pytest.raises(RemotePathError):
        split_remote_path(BytesPath())  # type: ignore[arg-type]


# --- what paths are refused ------------------------------------------------------------


@pytest.mark.parametrize("path", ["", "a", "a/b", "./a", "../a", " /a", "\\a", "~/a"])
def test_relative_paths_are_refused(path: str) -> None:
    with pytest.raises(RemotePathError, match="absolute"):
        split_remote_path(path)
    with pytest.raises(ValueError, match="absolute"):
        normalize_remote_path(path)


@pytest.mark.parametrize("path", ["/..", "/../a", "/a/..", "/a/../b", "/a/b/../../..", "//..//"])
def test_dotdot_anywhere_is_refused(path: str) -> None:
    with pytest.raises(RemotePathError, match=r"\.\."):
        split_remote_path(path)


@pytest.mark.parametrize("path", ["/\x00", "/a\x00b", "/a/\x00", "/\x00/.."])
def test_nul_is_refused(path: str) -> None:
    with pytest.raises(RemotePathError):
        split_remote_path(path)


def test_the_longest_path_is_4096_bytes() -> None:
    assert MAX_PATH_BYTES == 4096
    longest = "/" + "/".join(["a" * 200] * 20) + "/" + "b" * (4096 - 1 - 20 * 201)
    assert len(longest.encode()) == 4096
    assert len(split_remote_path(longest)) == 21
    with pytest.raises(RemotePathError, match="4096"):
        split_remote_path(longest + "c")


def test_the_path_limit_counts_utf8_bytes() -> None:
    component = "é" * 127  # 254 bytes, under the 255-byte name limit
    path = "/" + "/".join([component] * 16) + "/" + "a" * 15  # 16 * 255 + 1 + 15 bytes
    assert len(path.encode()) == 4096
    assert split_remote_path(path) == (*[component] * 16, "a" * 15)
    with pytest.raises(RemotePathError):
        split_remote_path(path + "b")


def test_a_component_over_255_bytes_is_refused() -> None:
    assert split_remote_path("/" + "é" * 127 + "a") == ("é" * 127 + "a",)
    with pytest.raises(RemotePathError):
        split_remote_path("/" + "é" * 128)


def test_redundant_separators_count_towards_the_limit() -> None:
    with pytest.raises(RemotePathError):
        split_remote_path("/" * 4097)
    assert split_remote_path("/" * 4096) == ()


@pytest.mark.parametrize(
    "path", ["/.remofile-staging", "/a/.remofile-staging/b", "/.remofile-", "/x/.remofile-y"]
)
def test_reserved_components_are_refused(path: str) -> None:
    with pytest.raises(RemotePathError, match="reserved"):
        split_remote_path(path)


@pytest.mark.parametrize("path", ["/\ud800", "/a/\udfff/b"])
def test_lone_surrogates_are_refused_not_crashing(path: str) -> None:
    with pytest.raises(RemotePathError):
        split_remote_path(path)


# --- properties ------------------------------------------------------------------------


@given(st.lists(valid_names, max_size=20))
def test_joined_valid_names_round_trip(names: list[str]) -> None:
    path = join_remote_path(names)
    assume(len(path.encode()) <= MAX_PATH_BYTES)
    assert split_remote_path(path) == tuple(names)
    assert normalize_remote_path(path) == path
    assert ".." not in split_remote_path(path)


@given(
    st.lists(
        st.one_of(valid_names, st.sampled_from(["", "."])),
        max_size=20,
    ),
    st.booleans(),
)
def test_normalize_is_idempotent_and_never_holds_dotdot(parts: list[str], trailing: bool) -> None:
    path = "/" + "/".join(parts) + ("/" if trailing else "")
    assume(len(path.encode()) <= MAX_PATH_BYTES)
    normal = normalize_remote_path(path)
    assert normalize_remote_path(normal) == normal
    components = split_remote_path(normal)
    assert components == tuple(p for p in parts if p not in ("", "."))
    assert ".." not in components
    assert "" not in components
    assert "." not in components
    assert normal.startswith("/")
    assert "//" not in normal
    assert normal == "/" or not normal.endswith("/")


path_like_text = st.one_of(
    st.text(max_size=60),
    st.builds(lambda rest: "/" + rest, st.text(max_size=60)),
    st.builds(
        lambda parts: "/" + "".join(parts),
        st.lists(
            st.sampled_from(["/", ".", "a", "\x00", "-", ".remofile-", "\ud800"]), max_size=20
        ),
    ),
)


@given(path_like_text)
def test_split_either_refuses_or_gives_safe_components(text: str) -> None:
    """Any text at all: a RemotePathError, or components the server can join safely."""
    try:
        components = split_remote_path(text)
    except RemotePathError:
        return
    assert text.startswith("/")
    for part in components:
        assert part not in ("", ".", "..")
        assert "/" not in part
        assert "\x00" not in part
        assert not part.startswith(".remofile-")
