"""The suite's own reading of SPEC.md: reasons, payloads, names and paths."""

from __future__ import annotations

import pytest
from remofile.conformance.spec import (
    TYPE_OF_REASON,
    is_valid_file_name,
    path_components,
    response_problems,
)
from remofile.v1 import remofile_pb2 as pb


def test_every_reason_has_its_response_type() -> None:
    assert set(TYPE_OF_REASON) == set(pb.Reason.values()) - {pb.REASON_UNSPECIFIED}


@pytest.mark.parametrize(
    "name", ["a", "...", ".hidden", "a b", "名前", "x" * 255, "é" * 127 + "a", "remofile-x"]
)
def test_valid_names(name: str) -> None:
    assert is_valid_file_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "a/b",
        "a\\b",
        "a:b",
        "a*b",
        "a?b",
        "a|b",
        "a<b",
        "a>b",
        "a\x00",
        "a\x1f",
        "a\x7f",
        "a\x85",
        "x" * 256,
        "é" * 128,
        ".remofile-x",
        ".REMOFILE-x",
        "a\ud800",
    ],
)
def test_invalid_names(name: str) -> None:
    assert not is_valid_file_name(name)


@pytest.mark.parametrize(
    ("path", "components"),
    [
        ("/", ()),
        ("/a//./b/", ("a", "b")),
        ("relative", None),
        ("", None),
        ("/a/../b", None),
        ("/a\x00", None),
        ("/.Remofile-staging", None),
        ("/" + "c" * 256, None),
        ("/" + "/".join(["d" * 200] * 21), None),
    ],
)
def test_path_syntax(path: str, components: tuple[str, ...] | None) -> None:
    assert path_components(path) == components


def test_a_well_formed_response_has_no_problem() -> None:
    response = pb.Response(
        type=pb.RESPONSE_TYPE_ACCEPTED, reason=pb.REASON_CHUNK_SENT, chunk=pb.ChunkInfo(offset=1)
    )
    assert response_problems(response, True, "receive_chunk") == []
    downloaded = pb.Response(
        type=pb.RESPONSE_TYPE_ACCEPTED, reason=pb.REASON_FILES_DOWNLOADED, batch=pb.BatchResult()
    )
    assert response_problems(downloaded, True, "download_files") == []


@pytest.mark.parametrize(
    ("response", "has_data", "kind", "problem"),
    [
        (
            pb.Response(type=pb.RESPONSE_TYPE_REFUSED, reason=pb.REASON_BAD_REQUEST, message="m"),
            False,
            "list_files",
            "comes with ERROR",
        ),
        (
            pb.Response(type=pb.RESPONSE_TYPE_ERROR, reason=pb.REASON_BAD_REQUEST),
            False,
            "list_files",
            "must have a message",
        ),
        (
            pb.Response(type=pb.RESPONSE_TYPE_ACCEPTED, reason=pb.REASON_FILES_LISTED),
            False,
            "list_files",
            "payload file_list",
        ),
        (
            pb.Response(
                type=pb.RESPONSE_TYPE_ACCEPTED, reason=pb.REASON_FILE_CREATED, chunk=pb.ChunkInfo()
            ),
            False,
            "create_file",
            "carries no payload",
        ),
        (
            pb.Response(
                type=pb.RESPONSE_TYPE_ACCEPTED, reason=pb.REASON_CHUNK_SENT, chunk=pb.ChunkInfo()
            ),
            False,
            "receive_chunk",
            "needs a data frame",
        ),
        (
            pb.Response(
                type=pb.RESPONSE_TYPE_ACCEPTED,
                reason=pb.REASON_CHUNK_ACCEPTED,
                chunk=pb.ChunkInfo(),
            ),
            True,
            "send_chunk",
            "must not have a data frame",
        ),
        (
            pb.Response(
                type=pb.RESPONSE_TYPE_ACCEPTED,
                reason=pb.REASON_FILES_DOWNLOADED,
                batch=pb.BatchResult(),
            ),
            False,
            "download_files",
            "needs a data frame",
        ),
        (
            pb.Response(
                type=pb.RESPONSE_TYPE_ACCEPTED,
                reason=pb.REASON_FILES_UPLOADED,
                batch=pb.BatchResult(),
            ),
            True,
            "upload_files",
            "must not have a data frame",
        ),
        (
            pb.Response(type=pb.RESPONSE_TYPE_ACCEPTED, reason=pb.REASON_FILES_UPLOADED),
            False,
            "upload_files",
            "payload batch",
        ),
        (
            pb.Response(type=pb.RESPONSE_TYPE_REFUSED, reason=pb.REASON_FILE_NOT_FOUND),
            True,
            "download_files",
            "must not have a data frame",
        ),
        (pb.Response(), False, "list_files", "UNSPECIFIED"),
    ],
)
def test_malformed_responses_are_caught(
    response: pb.Response, has_data: bool, kind: str, problem: str
) -> None:
    assert any(problem in found for found in response_problems(response, has_data, kind))
