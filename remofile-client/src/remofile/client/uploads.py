"""Uploads (SPEC 4.9): the requests that send local files, and the directories they go in.

The requests are generated lazily, for :meth:`Session._run` to pipeline; a resumed
upload waits for the server's answer to know where its data starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from remofile.client.batches import UploadBatch, batch_limits
from remofile.client.chunks import (
    Compress,
    check_chunk_size,
    choose_compression,
    chunk_count,
    hash_prefix,
)
from remofile.client.pipeline import Outgoing
from remofile.client.session import ChunkCallback, Session
from remofile.core.compression import PROBE_BYTES, compress_chunk
from remofile.core.digests import effective_algorithm, new_hasher
from remofile.core.exceptions import CorruptedResponse, FileNameError, SourceNotFound
from remofile.core.framing import Frame
from remofile.core.names import is_file_name_valid
from remofile.core.paths import RemotePath, join_remote_path, split_remote_path
from remofile.v1 import remofile_pb2 as pb


@dataclass
class UploadJob:
    local_path: str
    directory: RemotePath
    name: str
    #: Replace a file of that name atomically instead of refusing (SPEC.md 4.5.5).
    replace: bool = False


def conflict_mode(replace: bool) -> pb.ConflictMode.ValueType:
    """The conflict mode of a request that replaces a file of its name, or refuses."""
    return pb.CONFLICT_MODE_REPLACE if replace else pb.CONFLICT_MODE_REFUSE


def prepare_upload(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    name: str | None,
    chunk_size: int,
    want_directory: bool,
) -> tuple[str, RemotePath, str]:
    """Check the arguments of an upload before any request: ``(local, remote, name)``."""
    remote = split_remote_path(destination)
    check_chunk_size(chunk_size)
    local = os.path.abspath(os.fspath(source))
    is_right_kind = os.path.isdir(local) if want_directory else os.path.isfile(local)
    if not is_right_kind:
        kind = "directory" if want_directory else "file"
        raise SourceNotFound(f"source is not an existing {kind}: {os.fspath(source)}")
    final_name = os.path.basename(local.rstrip(os.sep)) if name is None else name
    if not is_file_name_valid(final_name):
        raise FileNameError(f"invalid file name: {final_name!r}")
    return local, remote, final_name


def upload_requests(
    session: Session,
    jobs: Iterator[UploadJob | tuple[RemotePath, str]],
    chunk_size: int,
    process_chunk: ChunkCallback | None,
    resume: bool,
    compress: Compress,
) -> Iterator[Outgoing]:
    """The requests of a series of uploads (and the directories they go in): files that
    fit in one chunk travel in batches where the server takes them (batches.py)."""
    top = True
    limits = batch_limits(session, chunk_size)
    batch: UploadBatch | None = None
    for job in jobs:
        if isinstance(job, tuple):
            parent, name = job
            # The first directory is the top of an upload_directory: a destination
            # that is missing or not a directory is its DestinationNotFound.
            kind = "upload_directory" if top else "make_directory"
            top = False
            # The top waits for its answer: if its name is taken, nothing else is sent,
            # so a refused upload_directory leaves the destination as it was.
            yield Outgoing(
                "make_directory",
                pb.MakeDirectory(name=name, directory=join_remote_path(parent)),
                _expect(session, kind, pb.REASON_DIRECTORY_CREATED),
                barrier=kind == "upload_directory",
            )
            continue
        whole = _read_small(job, limits[0]) if limits is not None else None
        if whole is None:
            if batch is not None:
                yield batch.request(session)
                batch = None
            yield from _one_upload(session, job, chunk_size, process_chunk, resume, compress)
            continue
        assert limits is not None
        data, modification_time_ns = whole
        if process_chunk is not None:
            process_chunk(data, len(data), len(data), job.name)
        compression = choose_compression(session._compressions(), compress, job.name, data)
        algorithm = session._digest_algorithm()
        mode = conflict_mode(job.replace)
        encoded = compress_chunk(data, compression)
        directory = join_remote_path(job.directory)
        if batch is not None and not (
            batch.matches(compression, algorithm, mode)
            and batch.fits(len(encoded), directory, job.name, limits[1])
        ):
            yield batch.request(session)
            batch = None
        if batch is None:
            batch = UploadBatch(compression, algorithm, mode)
        digest = new_hasher(algorithm)
        digest.update(data)
        batch.add(
            pb.BatchFile(
                directory=directory,
                name=job.name,
                file_size=len(data),
                modification_time_ns=modification_time_ns,
                digest=digest.digest(),
                encoded_size=len(encoded),
            ),
            encoded,
        )
    if batch is not None:
        yield batch.request(session)


def _read_small(job: UploadJob, largest: int) -> tuple[bytes, int] | None:
    """A local file's bytes and modification time if it holds at most ``largest`` bytes
    (one descriptor for both, so they belong together); None for a larger file."""
    fd = os.open(job.local_path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if info.st_size > largest:
            return None
        data = os.pread(fd, info.st_size, 0)
        if len(data) != info.st_size:
            raise OSError(f"{job.local_path} became shorter while uploading")
        return data, info.st_mtime_ns
    finally:
        os.close(fd)


def _expect(
    session: Session, kind: str, *reasons: int
) -> Callable[[pb.Response, Frame | None], None]:
    def check(response: pb.Response, _data: Frame | None) -> None:
        if response.type != pb.RESPONSE_TYPE_ACCEPTED or response.reason not in reasons:
            raise session._failure(kind, response)

    return check


def _one_upload(
    session: Session,
    job: UploadJob,
    chunk_size: int,
    process_chunk: ChunkCallback | None,
    resume: bool,
    compress: Compress,
) -> Iterator[Outgoing]:
    fd = os.open(job.local_path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        file_size, modification_time_ns = info.st_size, info.st_mtime_ns
        started_at = [0]  # where the server wants the data from, set on acceptance
        first = os.pread(fd, min(chunk_size, PROBE_BYTES), 0) if compress == "auto" else b""
        compression = choose_compression(session._compressions(), compress, job.name, first)
        digest_algorithm = session._digest_algorithm()

        def on_accepted(response: pb.Response, _data: Frame | None) -> None:
            if response.reason != pb.REASON_TRANSFER_ACCEPTED:
                raise session._failure("upload_file", response)
            accepted = response.transfer_accepted
            if accepted.offset > file_size or accepted.file_size != file_size:
                raise CorruptedResponse("upload accepted with an impossible offset or size")
            if effective_algorithm(accepted.digest_algorithm) != digest_algorithm:
                raise CorruptedResponse("upload accepted with another digest algorithm")
            started_at[0] = accepted.offset

        def on_chunk(response: pb.Response, _data: Frame | None) -> None:
            if response.reason not in (pb.REASON_CHUNK_ACCEPTED, pb.REASON_TRANSFER_COMPLETED):
                raise session._failure("send_chunk", response)

        yield Outgoing(
            "upload_file",
            pb.UploadFile(
                name=job.name,
                directory=join_remote_path(job.directory),
                file_size=file_size,
                chunk_size=chunk_size,
                resume=resume,
                compression=compression,
                modification_time_ns=modification_time_ns,
                digest_algorithm=digest_algorithm,
                conflict_mode=conflict_mode(job.replace),
            ),
            on_accepted,
            barrier=resume,
        )
        offset = started_at[0]
        digest = (
            hash_prefix(fd, offset, digest_algorithm) if offset else new_hasher(digest_algorithm)
        )
        count = chunk_count(file_size, offset, chunk_size)
        for index in range(count):
            size = min(chunk_size, file_size - offset)
            chunk = os.pread(fd, size, offset) if size else b""
            if len(chunk) != size:
                raise OSError(f"{job.local_path} became shorter while uploading")
            digest.update(chunk)
            if process_chunk is not None:
                process_chunk(chunk, file_size - offset, file_size, job.name)
            message = pb.SendChunk(offset=offset)
            if index == count - 1:
                message.digest.algorithm = digest_algorithm
                message.digest.value = digest.digest()
            data = compress_chunk(chunk, compression)
            yield Outgoing("send_chunk", message, on_chunk, data)
            offset += size
    finally:
        os.close(fd)
