"""Downloads (SPEC 4.10): the requests that fetch remote files, and writing them locally.

A download is written to a hidden partial file and moved to its name only once verified
against the server's digest, so a file under its final name is always whole. Files of
one chunk skip the partial file and are written whole on the writer's threads.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from remofile.client.batches import (
    batch_limits,
    download_batch_request,
    failure_of,
    path_entry_bytes,
)
from remofile.client.chunks import (
    Compress,
    check_chunk_size,
    choose_compression,
    chunk_count,
    hash_prefix,
)
from remofile.client.local_writer import LocalWriter
from remofile.client.pipeline import Outgoing
from remofile.client.session import ChunkCallback, Session
from remofile.core.compression import UndecodableChunk, effective_compression, inflate_chunk
from remofile.core.digests import effective_algorithm, new_hasher
from remofile.core.exceptions import (
    CorruptedResponse,
    DestinationNotFound,
    DigestMismatchError,
    FileNameError,
    SourceNotFound,
)
from remofile.core.framing import Frame
from remofile.core.limits import MAX_BATCH_FILES, MAX_NAME_BYTES, MESSAGE_OVERHEAD_BYTES
from remofile.core.names import is_file_name_valid
from remofile.core.paths import RemotePath, join_remote_path, split_remote_path
from remofile.core.whole_files import write_whole_file
from remofile.v1 import remofile_pb2 as pb

#: Suffix of the hidden file a download is written to before it is complete.
PARTIAL_SUFFIX = ".remofile-partial"


@dataclass
class DownloadJob:
    remote_path: RemotePath
    local_directory: str
    name: str
    #: Size from a listing: lets the chunk requests be pipelined without waiting.
    expected_size: int | None = None
    #: Replace a local file of that name once the download is complete and verified.
    replace: bool = False


def _partial_name(name: str) -> str:
    """The hidden name a download of ``name`` is written to until it is complete.

    ``.<name>.remofile-partial``, or, when that would be longer than a file name may be,
    a digest of the name in its place: the same for every attempt, so resuming works.
    """
    partial = f".{name}{PARTIAL_SUFFIX}"
    if len(partial.encode("utf-8")) <= MAX_NAME_BYTES:
        return partial
    return f".{hashlib.sha256(name.encode('utf-8')).hexdigest()}{PARTIAL_SUFFIX}"


def _write_download(
    final: str, partial: str, data: memoryview, modification_time_ns: int, replace: bool
) -> None:
    """Write a downloaded file that is whole in memory: unnamed until complete where the
    system allows (whole_files.py), else through its partial file. Runs on a writer thread."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(partial)  # left by an earlier download that was kept for a resume
    directory, name = os.path.split(final)
    if write_whole_file(directory, name, data, modification_time_ns, False, replace):
        return
    fd = os.open(
        partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644
    )
    try:
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)
    os.utime(partial, ns=(modification_time_ns, modification_time_ns))
    try:
        _place(partial, final, replace)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise


@dataclass(frozen=True)
class _Received:
    """A file of a downloaded batch, whole in memory, not yet verified nor written."""

    final: str
    partial: str
    data: memoryview
    modification_time_ns: int
    replace: bool
    digest: bytes


def _write_downloads(files: list[_Received], algorithm: pb.DigestAlgorithm.ValueType) -> None:
    """Verify each file of a batch against its digest and write it as
    :func:`_write_download` does (on a writer thread: hashing there keeps the thread that
    talks to the server free). A file that does not match is not written; the first
    failure is raised once every other file is written."""
    failure: BaseException | None = None
    for file in files:
        try:
            hasher = new_hasher(algorithm)
            hasher.update(file.data)
            if not hmac.compare_digest(file.digest, hasher.digest()):
                name = os.path.basename(file.final)
                raise DigestMismatchError(f"{name}: the file received is corrupted")
            _write_download(
                file.final, file.partial, file.data, file.modification_time_ns, file.replace
            )
        except Exception as error:
            failure = failure or error
    if failure is not None:
        raise failure


def _place(partial: str, final: str, replace: bool) -> None:
    """Move a complete download into place: with ``replace`` in one rename over an
    existing file, else without ever replacing an existing entry."""
    if replace:
        os.replace(partial, final)
        return
    try:
        os.link(partial, final)
    except FileExistsError:
        raise
    except OSError:
        if os.path.lexists(final):
            raise FileExistsError(final) from None
        os.rename(partial, final)
        return
    os.unlink(partial)


class _Download:
    """One file being downloaded: a hidden partial file, moved into place when verified.

    A file that comes in one chunk (and is not resumed) never gets a partial file: it is
    verified in memory and written whole by the ``writer``'s threads (local_writer.py).
    """

    def __init__(
        self,
        job: DownloadJob,
        chunk_size: int,
        process_chunk: ChunkCallback | None,
        resume: bool,
        failure: Callable[[str, pb.Response], Exception],
        digest_algorithm: pb.DigestAlgorithm.ValueType,
        writer: LocalWriter,
    ) -> None:
        self.job = job
        self.final = os.path.join(job.local_directory, job.name)
        check_local_name(self.final, job.replace)
        self.partial = os.path.join(job.local_directory, _partial_name(job.name))
        self._chunk_size = chunk_size
        self._process_chunk = process_chunk
        self._resume = resume
        self._failure = failure
        self._writer = writer
        # A resumed download starts from its partial file; any other opens one (_open)
        # only if the file takes more than one chunk.
        self._fd = self._open(os.O_RDWR) if resume else -1
        self.offset = os.lseek(self._fd, 0, os.SEEK_END) if resume else 0
        self.next_offset = self.offset
        self.file_size = 0
        self.compression: int = pb.COMPRESSION_NONE
        self.modification_time_ns = 0
        self.digest_algorithm = digest_algorithm
        self.digest = (
            hash_prefix(self._fd, self.offset, digest_algorithm)
            if self.offset
            else new_hasher(digest_algorithm)
        )
        self.completed = False

    def on_accepted(self, response: pb.Response, _data: Frame | None) -> None:
        if response.reason != pb.REASON_TRANSFER_ACCEPTED:
            if response.reason == pb.REASON_INCORRECT_FILE_SIZE and self.offset:
                # The file is now shorter than our partial copy: it changed, so the copy
                # is of no use and the next attempt starts from 0 (SPEC.md 7.1).
                os.ftruncate(self._fd, 0)
            raise self._failure("download_file", response)
        accepted = response.transfer_accepted
        if accepted.offset != self.offset:
            raise CorruptedResponse("download accepted at another offset")
        if effective_algorithm(accepted.digest_algorithm) != self.digest_algorithm:
            raise CorruptedResponse("download accepted with another digest algorithm")
        expected = self.job.expected_size
        if expected is not None and accepted.file_size != expected:
            raise SourceNotFound(f"{self.job.name} changed on the server during the transfer")
        self.file_size = accepted.file_size
        self.compression = effective_compression(accepted.compression)
        self.modification_time_ns = accepted.modification_time_ns

    def on_chunk(self, response: pb.Response, data: Frame | None) -> None:
        if response.reason not in (pb.REASON_CHUNK_SENT, pb.REASON_TRANSFER_COMPLETED):
            raise self._failure("receive_chunk", response)
        if data is None or response.chunk.offset != self.next_offset:
            raise CorruptedResponse("chunk without data or at the wrong offset")
        expected = min(self._chunk_size, self.file_size - self.next_offset)
        chunk: Frame = data
        if self.compression != pb.COMPRESSION_NONE:
            chunk = _inflate(data, self.compression, expected)
        view = memoryview(chunk)
        if view.nbytes != expected:
            raise CorruptedResponse(f"chunk of {view.nbytes} bytes, expected {expected}")
        if self._process_chunk is not None:
            remaining = self.file_size - self.next_offset
            self._process_chunk(bytes(view), remaining, self.file_size, self.job.name)
        self.digest.update(view)
        self.next_offset += expected
        last = response.reason == pb.REASON_TRANSFER_COMPLETED
        if last and self._fd < 0:
            self._verify(response.chunk.digest)
            self._writer.submit(
                functools.partial(
                    _write_download,
                    self.final,
                    self.partial,
                    view,
                    self.modification_time_ns,
                    self.job.replace,
                )
            )
            self.completed = True
            return
        if self._fd < 0:
            self._fd = self._open(os.O_WRONLY | os.O_TRUNC)
        while view:
            view = view[os.write(self._fd, view) :]
        if last:
            self._complete(response.chunk.digest)

    def _open(self, flags: int) -> int:
        return os.open(self.partial, flags | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)

    def _verify(self, digest: pb.Digest) -> None:
        if self.next_offset != self.file_size:
            raise CorruptedResponse("transfer completed before the end of the file")
        if digest.algorithm != self.digest_algorithm:
            raise CorruptedResponse(
                "the last chunk of a download carries no digest of its algorithm"
            )
        if not hmac.compare_digest(digest.value, self.digest.digest()):
            if self._fd >= 0:
                os.ftruncate(self._fd, 0)
            raise DigestMismatchError(f"{self.job.name}: the file received is corrupted")

    def _complete(self, digest: pb.Digest) -> None:
        self._verify(digest)
        os.close(self._fd)
        self._fd = -1
        mtime = self.modification_time_ns
        os.utime(self.partial, ns=(mtime, mtime))
        _place(self.partial, self.final, self.job.replace)
        self.completed = True

    def abandon(self) -> None:
        """Release the partial file: kept for a resume if asked, removed otherwise."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if not self.completed and not self._resume:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.partial)


def check_local_name(path: str, replace: bool) -> None:
    """FileExistsError if ``path`` exists and is not to be replaced; IsADirectoryError
    if it is to be replaced but is a directory, which a file never replaces."""
    if not os.path.lexists(path):
        return
    if not replace:
        raise FileExistsError(f"already exists: {path}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"a directory cannot be replaced by a file: {path}")


def prepare_download(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    name: str | None,
    chunk_size: int,
    replace: bool = False,
) -> tuple[RemotePath, str, str]:
    """Check the arguments of a download before any request: ``(remote, local, name)``."""
    remote = split_remote_path(source)
    if not remote and name is None:
        # The root can be downloaded as a directory, but under a name given for it.
        raise SourceNotFound("the root directory has no name of its own: pass name=")
    check_chunk_size(chunk_size)
    local = os.path.abspath(os.fspath(destination))
    if not os.path.isdir(local):
        raise DestinationNotFound(f"destination is not an existing directory: {local}")
    final_name = remote[-1] if name is None else name
    if not is_file_name_valid(final_name):
        raise FileNameError(f"invalid file name: {final_name!r}")
    if not replace and os.path.lexists(os.path.join(local, final_name)):
        raise FileExistsError(f"already exists: {os.path.join(local, final_name)}")
    return remote, local, final_name


def run_downloads(
    session: Session,
    jobs: Iterator[DownloadJob | str],
    chunk_size: int,
    process_chunk: ChunkCallback | None,
    resume: bool,
    compress: Compress,
    timeout: int | None,
    replace: bool = False,
) -> None:
    """Download a series of files (a ``str`` job is a local directory to make first,
    which may exist already when ``replace`` merges into it)."""
    started: list[_Download] = []
    writer = LocalWriter()
    try:
        session._run(
            _download_requests(
                session, jobs, chunk_size, process_chunk, resume, compress, replace, started, writer
            ),
            timeout,
        )
        writer.finish()  # every file received is written, or the first failure raised
        for download in started:
            if not download.completed:
                raise CorruptedResponse(f"{download.job.name}: the transfer did not complete")
    except BaseException:
        with contextlib.suppress(Exception):
            writer.finish()  # the files already verified are still written
        raise
    finally:
        for download in started:
            download.abandon()


def _download_requests(
    session: Session,
    jobs: Iterator[DownloadJob | str],
    chunk_size: int,
    process_chunk: ChunkCallback | None,
    resume: bool,
    compress: Compress,
    replace: bool,
    started: list[_Download],
    writer: LocalWriter,
) -> Iterator[Outgoing]:
    """The requests of a series of downloads; each download is added to ``started``.
    Files known from a listing to fit in one chunk travel in batches where the server
    takes them (batches.py); one that grew meanwhile is then downloaded on its own."""
    limits = batch_limits(session, chunk_size)
    largest = limits[0] if limits is not None and not resume else -1
    batch = _DownloadBatch(session, compress, process_chunk, writer)

    def alone(job: DownloadJob) -> Iterator[Outgoing]:
        return _single_download_requests(
            session, job, chunk_size, process_chunk, resume, compress, started, writer
        )

    for job in jobs:
        if isinstance(job, str):
            # A directory job of a merging download (replace) may find it there already.
            if not (replace and os.path.isdir(job)):
                os.mkdir(job)
                batch.fresh_directories.add(job)
            continue
        if limits is not None and job.expected_size is not None and job.expected_size <= largest:
            if not batch.fits(job, limits[1]):
                yield batch.request()
            batch.add(job)
            continue
        yield from alone(job)
        while batch.too_large:  # files that grew since they were listed
            yield from alone(batch.too_large.pop())
    if batch.jobs:
        # Answered before the generator goes on, so that files that grew are still sent.
        yield batch.request(barrier=True)
    while batch.too_large:
        yield from alone(batch.too_large.pop())


class _DownloadBatch:
    """Small files gathered for one DOWNLOAD_FILES request, and the writing of what it
    brings back: verified in memory, then written whole by the writer's threads."""

    def __init__(
        self,
        session: Session,
        compress: Compress,
        process_chunk: ChunkCallback | None,
        writer: LocalWriter,
    ) -> None:
        self._session = session
        self._compress = compress
        self._process_chunk = process_chunk
        self._writer = writer
        self.jobs: list[DownloadJob] = []
        self._bytes = 0
        self._request_bytes = 0
        #: Files refused as too large for a batch: they grew since they were listed.
        self.too_large: list[DownloadJob] = []
        #: Directories this download made: every name in them is free (no lstat).
        self.fresh_directories: set[str] = set()

    def fits(self, job: DownloadJob, most_data: int) -> bool:
        assert job.expected_size is not None
        entry = path_entry_bytes(join_remote_path(job.remote_path))
        return not self.jobs or (
            len(self.jobs) < MAX_BATCH_FILES
            and self._bytes + job.expected_size <= most_data
            and self._request_bytes + entry <= MESSAGE_OVERHEAD_BYTES // 2
        )

    def add(self, job: DownloadJob) -> None:
        if job.local_directory not in self.fresh_directories:
            check_local_name(os.path.join(job.local_directory, job.name), job.replace)
        assert job.expected_size is not None
        self.jobs.append(job)
        self._bytes += job.expected_size
        self._request_bytes += path_entry_bytes(join_remote_path(job.remote_path))

    def request(self, barrier: bool = False) -> Outgoing:
        """The DOWNLOAD_FILES request of the files gathered; the batch starts afresh."""
        jobs, self.jobs, self._bytes, self._request_bytes = self.jobs, [], 0, 0
        session = self._session
        names = [job.name for job in jobs]
        # One compression for the batch: with "auto", only if every name is worth it.
        choices = {choose_compression(session._compressions(), self._compress, n) for n in names}
        compression = choices.pop() if len(choices) == 1 else pb.COMPRESSION_NONE
        algorithm = session._digest_algorithm()

        def on_file(index: int, result: pb.FileResult, encoded: memoryview) -> None:
            job = jobs[index]
            path = join_remote_path(job.remote_path)
            if result.type != pb.RESPONSE_TYPE_ACCEPTED:
                if result.reason == pb.REASON_INCORRECT_FILE_SIZE:
                    self.too_large.append(
                        DownloadJob(
                            job.remote_path, job.local_directory, job.name, None, job.replace
                        )
                    )
                    return
                raise failure_of(session, "download_file", path, result)
            data: Frame = encoded
            if compression != pb.COMPRESSION_NONE:
                data = _inflate(encoded, compression, result.file_size)
            view = memoryview(data)
            if view.nbytes != result.file_size:
                raise CorruptedResponse(f"{path}: {view.nbytes} bytes, not {result.file_size}")
            if self._process_chunk is not None:
                self._process_chunk(bytes(view), view.nbytes, view.nbytes, job.name)
            final = os.path.join(job.local_directory, job.name)
            partial = os.path.join(job.local_directory, _partial_name(job.name))
            received.append(
                _Received(
                    final, partial, view, result.modification_time_ns, job.replace, result.digest
                )
            )

        def on_end() -> None:
            # One job verifies and writes the batch's files on a writer thread: a job per
            # file would cost more in hand-offs between threads than writing a small file.
            if received:
                self._writer.submit(functools.partial(_write_downloads, list(received), algorithm))

        received: list[_Received] = []
        paths = [join_remote_path(job.remote_path) for job in jobs]
        outgoing = download_batch_request(session, paths, compression, algorithm, on_file, on_end)
        outgoing.barrier = barrier
        return outgoing


def _single_download_requests(
    session: Session,
    job: DownloadJob,
    chunk_size: int,
    process_chunk: ChunkCallback | None,
    resume: bool,
    compress: Compress,
    started: list[_Download],
    writer: LocalWriter,
) -> Iterator[Outgoing]:
    """DOWNLOAD_FILE and its RECEIVE_CHUNK requests, for one file."""
    download = _Download(
        job,
        chunk_size,
        process_chunk,
        resume,
        session._failure,
        session._digest_algorithm(),
        writer,
    )
    started.append(download)
    request = pb.DownloadFile(
        path=join_remote_path(job.remote_path),
        chunk_size=chunk_size,
        offset=download.offset,
        compression=choose_compression(session._compressions(), compress, job.name),
        digest_algorithm=download.digest_algorithm,
    )
    # Without a size from a listing, the chunk count is known only once accepted.
    barrier = job.expected_size is None
    yield Outgoing("download_file", request, download.on_accepted, barrier=barrier)
    file_size = download.file_size if barrier else job.expected_size
    assert file_size is not None
    for _ in range(chunk_count(file_size, download.offset, chunk_size)):
        yield Outgoing("receive_chunk", pb.ReceiveChunk(), download.on_chunk)


def _inflate(data: Frame, compression: int, expected: int) -> bytes:
    try:
        return inflate_chunk(data, compression, expected)
    except UndecodableChunk as error:
        raise CorruptedResponse("a compressed chunk does not decode", str(error)) from error
