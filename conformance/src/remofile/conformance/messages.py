"""Requests as a client builds them, and the malformed bytes no client library would make.

The builders leave ``token`` and ``session_id`` empty: the session fills them in when it
sends (:mod:`remofile.conformance.session`), so a case can also send them wrong on
purpose. The ``raw_*`` helpers hand-encode protobuf, because a protobuf library refuses
to produce what they make (invalid UTF-8, unknown fields).
"""

from __future__ import annotations

from remofile.conformance.spec import PROTOCOL_VERSION
from remofile.core.digests import new_hasher
from remofile.v1 import remofile_pb2 as pb

#: How the suite names itself in HELLO.
CLIENT_NAME = "remofile-conformance/1.0"


def hello(version: int = PROTOCOL_VERSION, client_key: bytes = b"") -> pb.Request:
    return pb.Request(
        hello=pb.Hello(protocol_version=version, client_name=CLIENT_NAME, client_key=client_key)
    )


def goodbye() -> pb.Request:
    return pb.Request(goodbye=pb.Goodbye())


def list_files(
    directory: str, recursive: bool = False, start_after: str = "", limit: int = 0
) -> pb.Request:
    return pb.Request(
        list_files=pb.ListFiles(
            directory=directory, recursive=recursive, start_after=start_after, limit=limit
        )
    )


def create_file(directory: str, name: str) -> pb.Request:
    return pb.Request(create_file=pb.CreateFile(directory=directory, name=name))


def make_directory(directory: str, name: str) -> pb.Request:
    return pb.Request(make_directory=pb.MakeDirectory(directory=directory, name=name))


def upload_file(
    directory: str,
    name: str,
    file_size: int,
    chunk_size: int,
    resume: bool = False,
    compression: int = pb.COMPRESSION_NONE,
    digest_algorithm: int = pb.DIGEST_ALGORITHM_UNSPECIFIED,
    conflict_mode: int = pb.CONFLICT_MODE_UNSPECIFIED,
    modification_time_ns: int = 0,
) -> pb.Request:
    return pb.Request(
        upload_file=pb.UploadFile(
            directory=directory,
            name=name,
            file_size=file_size,
            chunk_size=chunk_size,
            resume=resume,
            compression=compression,  # type: ignore[arg-type]
            digest_algorithm=digest_algorithm,  # type: ignore[arg-type]
            conflict_mode=conflict_mode,  # type: ignore[arg-type]
            modification_time_ns=modification_time_ns,
        )
    )


def digest_of(content: bytes, algorithm: int = pb.DIGEST_ALGORITHM_SHA256) -> pb.Digest:
    """The whole-file digest a client sends (7.2)."""
    value = new_hasher(algorithm)
    value.update(content)
    return pb.Digest(algorithm=algorithm, value=value.digest())  # type: ignore[arg-type]


def send_chunk(offset: int, digest: pb.Digest | None = None) -> pb.Request:
    chunk = pb.SendChunk(offset=offset)
    if digest is not None:
        chunk.digest.CopyFrom(digest)
    return pb.Request(send_chunk=chunk)


def download_file(
    path: str,
    chunk_size: int,
    offset: int = 0,
    compression: int = pb.COMPRESSION_NONE,
    digest_algorithm: int = pb.DIGEST_ALGORITHM_UNSPECIFIED,
) -> pb.Request:
    return pb.Request(
        download_file=pb.DownloadFile(
            path=path,
            chunk_size=chunk_size,
            offset=offset,
            compression=compression,  # type: ignore[arg-type]
            digest_algorithm=digest_algorithm,  # type: ignore[arg-type]
        )
    )


def receive_chunk() -> pb.Request:
    return pb.Request(receive_chunk=pb.ReceiveChunk())


def cancel_transfer() -> pb.Request:
    return pb.Request(cancel_transfer=pb.CancelTransfer())


def remove_file(path: str) -> pb.Request:
    return pb.Request(remove_file=pb.RemoveFile(path=path))


def continue_removal() -> pb.Request:
    return pb.Request(continue_removal=pb.ContinueRemoval())


def move_file(
    source: str, directory: str, name: str, conflict_mode: int = pb.CONFLICT_MODE_UNSPECIFIED
) -> pb.Request:
    return pb.Request(
        move_file=pb.MoveFile(
            source=source,
            directory=directory,
            name=name,
            conflict_mode=conflict_mode,  # type: ignore[arg-type]
        )
    )


def copy_file(
    source: str, directory: str, name: str, conflict_mode: int = pb.CONFLICT_MODE_UNSPECIFIED
) -> pb.Request:
    return pb.Request(
        copy_file=pb.CopyFile(
            source=source,
            directory=directory,
            name=name,
            conflict_mode=conflict_mode,  # type: ignore[arg-type]
        )
    )


def file_digest(path: str, algorithm: int = pb.DIGEST_ALGORITHM_UNSPECIFIED) -> pb.Request:
    return pb.Request(
        file_digest=pb.FileDigest(path=path, algorithm=algorithm)  # type: ignore[arg-type]
    )


def batch_file(
    directory: str,
    name: str,
    file_size: int,
    digest: bytes,
    encoded_size: int,
    modification_time_ns: int = 0,
) -> pb.BatchFile:
    """One file of an UPLOAD_FILES request (4.17): where it goes, its size and digest,
    and the bytes it takes in the data frame."""
    return pb.BatchFile(
        directory=directory,
        name=name,
        file_size=file_size,
        modification_time_ns=modification_time_ns,
        digest=digest,
        encoded_size=encoded_size,
    )


def upload_files(
    files: list[pb.BatchFile],
    compression: int = pb.COMPRESSION_UNSPECIFIED,
    digest_algorithm: int = pb.DIGEST_ALGORITHM_UNSPECIFIED,
    conflict_mode: int = pb.CONFLICT_MODE_UNSPECIFIED,
) -> pb.Request:
    return pb.Request(
        upload_files=pb.UploadFiles(
            files=files,
            compression=compression,  # type: ignore[arg-type]
            digest_algorithm=digest_algorithm,  # type: ignore[arg-type]
            conflict_mode=conflict_mode,  # type: ignore[arg-type]
        )
    )


def download_files(
    paths: list[str],
    compression: int = pb.COMPRESSION_UNSPECIFIED,
    digest_algorithm: int = pb.DIGEST_ALGORITHM_UNSPECIFIED,
) -> pb.Request:
    return pb.Request(
        download_files=pb.DownloadFiles(
            paths=paths,
            compression=compression,  # type: ignore[arg-type]
            digest_algorithm=digest_algorithm,  # type: ignore[arg-type]
        )
    )


def kind_of(request: pb.Request) -> str:
    """The name of the request's ``kind`` member, or an empty string."""
    return request.WhichOneof("kind") or ""


# -- hand-made protobuf -------------------------------------------------------------

_VARINT = 0
_LEN = 2


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def raw_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field, whatever its bytes are."""
    return _varint(number << 3 | _LEN) + _varint(len(payload)) + payload


def raw_varint_field(number: int, value: int) -> bytes:
    return _varint(number << 3 | _VARINT) + _varint(value)


#: Field numbers of Request, ListFiles (from remofile.proto).
_REQUEST_TOKEN = 1
_REQUEST_SESSION_ID = 2
_REQUEST_LIST_FILES = 12
_LIST_FILES_DIRECTORY = 1

#: A field number Request does not define, as a future kind would use.
UNKNOWN_FIELD_NUMBER = 99


def raw_request(token: str | bytes, session_id: bytes, *fields: bytes) -> bytes:
    """A Request frame with the given token, session id and already encoded fields."""
    token_bytes = token.encode("utf-8") if isinstance(token, str) else token
    return (
        raw_field(_REQUEST_TOKEN, token_bytes)
        + raw_field(_REQUEST_SESSION_ID, session_id)
        + b"".join(fields)
    )


def raw_list_files(directory: bytes, extra: bytes = b"") -> bytes:
    """A ``list_files`` member whose directory holds these bytes, valid UTF-8 or not,
    followed by ``extra`` encoded fields inside the ListFiles message."""
    return raw_field(_REQUEST_LIST_FILES, raw_field(_LIST_FILES_DIRECTORY, directory) + extra)


def raw_unknown_kind() -> bytes:
    """A member no version-1 peer knows: what a request of a future version looks like."""
    return raw_field(UNKNOWN_FIELD_NUMBER, b"")


def raw_unknown_varint() -> bytes:
    """An extra field no version-1 peer knows, which it must ignore (section 8)."""
    return raw_varint_field(UNKNOWN_FIELD_NUMBER + 1, 7)
