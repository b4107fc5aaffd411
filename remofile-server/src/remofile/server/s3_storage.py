"""Serving an S3-compatible bucket: :class:`S3Storage`, selected by ``s3://bucket/prefix``.

The served root is a prefix of a bucket. Remote paths become keys below it by joining
validated components, so no key outside the prefix is ever named (the jail). A
directory is a prefix, with a zero-byte marker object ``<path>/`` so that an empty
directory exists and lists; a prefix without a marker (written by another tool) is a
directory too.

What S3 cannot do as a local directory does is listed in docs/DESIGN.md, "S3 storage":
there is no rename, so MOVE_FILE is not offered (FEATURE_MOVE is not announced). Why the uploads are staged as they
are (parts as objects, composed by server-side copy) is in docs/DESIGN.md, "S3 storage".

The endpoint and the credentials come only from the standard ``AWS_*`` variables
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_DEFAULT_REGION``...), read by boto3 itself.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from remofile.core.digests import SUPPORTED_DIGEST_ALGORITHMS, Hasher, algorithm_name, new_hasher
from remofile.core.limits import RESERVED_NAME_PREFIX
from remofile.core.names import is_file_name_valid, is_reserved_name
from remofile.core.paths import RemotePath
from remofile.server.storage import (
    DigestResult,
    EntryInfo,
    FileInfo,
    FileReader,
    Removal,
    Storage,
    UploadTarget,
    WholeFile,
)
from remofile.server.workers import WorkerThreads

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: Where staged uploads are kept below the prefix: a reserved name, never listed.
STAGING_PREFIX = RESERVED_NAME_PREFIX + "staging/"

#: S3's smallest part (but the last) of a multipart upload.
MIN_PART_BYTES = 5 << 20

#: Size of the staged parts of an upload, and of the largest file stored in one PUT.
DEFAULT_PART_BYTES = 8 << 20

#: S3's most parts in one multipart upload.
MAX_PARTS = 10_000

#: S3's largest object copied in one CopyObject request.
MAX_COPY_OBJECT_BYTES = 5 << 30

#: Bytes fetched by one ranged GET of a download.
READ_BLOCK_BYTES = 8 << 20

#: Ranged GETs of a download in flight ahead of what the client asked for.
READ_AHEAD_BLOCKS = 3

#: Part uploads of one upload in flight while the next part is being received.
PARTS_IN_FLIGHT = 2

#: Concurrent requests a storage makes (part uploads, ranged GETs, HEADs of a listing).
WORKER_THREADS = 8

#: Staged uploads untouched for this long are removed when a server starts.
STAGED_UPLOAD_EXPIRY_S = 7 * 24 * 3600

#: Multipart uploads (our compositions) older than this are aborted when a server starts.
MULTIPART_EXPIRY_S = 3600

#: Object metadata (``x-amz-meta-*``) written with every file.
MTIME_METADATA = "remofile-mtime-ns"
DIGEST_METADATA_PREFIX = "remofile-"

#: How long a directory seen to exist is taken to exist without asking again. Another
#: server sharing the bucket that removes it meanwhile loses only this long a race it
#: could lose anyway (docs/DESIGN.md, "S3 storage").
DIRECTORY_MEMORY_S = 1.0

#: Entries of the caches of times and directories before they are emptied.
MAX_REMEMBERED_TIMES = 100_000

#: Objects removed per DeleteObjects request.
DELETE_BATCH_KEYS = 1000


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix/"); the prefix is empty
    or ends with a slash. ValueError if it is not such a URL."""
    if not url.startswith("s3://"):
        raise ValueError(f"not an s3:// URL: {url}")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {url}")
    components = [component for component in prefix.split("/") if component]
    if any(component in (".", "..") for component in components):
        raise ValueError(f"'.' and '..' are not allowed in the prefix: {url}")
    return bucket, "".join(component + "/" for component in components)


def _digest_metadata_name(algorithm: int) -> str:
    return DIGEST_METADATA_PREFIX + algorithm_name(algorithm).lower()


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code", "")
        return str(code)
    return ""


def _is_missing(error: Exception) -> bool:
    return _error_code(error) in ("404", "NoSuchKey", "NotFound", "NoSuchUpload")


def _is_precondition(error: Exception) -> bool:
    return _error_code(error) in ("412", "PreconditionFailed", "ConditionalRequestConflict")


def _now_ns() -> int:
    return time.time_ns()


@dataclass(frozen=True)
class _ObjectInfo:
    size: int
    etag: str
    modification_time_ns: int
    metadata: dict[str, str]


class _Hashers:
    """The digests stored with a file: every algorithm this installation computes."""

    def __init__(self) -> None:
        self._hashers: dict[int, Hasher] = {
            algorithm: new_hasher(algorithm) for algorithm in SUPPORTED_DIGEST_ALGORITHMS
        }

    def update(self, data: bytes | bytearray | memoryview) -> None:
        for hasher in self._hashers.values():
            hasher.update(data)

    def metadata(self, modification_time_ns: int) -> dict[str, str]:
        result = {MTIME_METADATA: str(modification_time_ns)}
        for algorithm, hasher in self._hashers.items():
            result[_digest_metadata_name(algorithm)] = hasher.digest().hex()
        return result


class S3Storage(Storage):
    """A prefix of an S3-compatible bucket, jailed like :class:`LocalStorage`.

    :param url: ``s3://bucket`` or ``s3://bucket/prefix``.
    :param client: a boto3 S3 client; by default one made from the ``AWS_*`` variables.
    :param part_bytes: size of the staged parts of uploads (at least 5 MiB), and of the
        largest file stored in one PUT.
    """

    can_replace = True
    can_copy = True
    #: S3 has no rename: a move would be copies then removals, which SPEC.md 4.14
    #: forbids, so MOVE_FILE is not offered (FEATURE_MOVE is not announced).
    can_move = False
    stores_concurrently = True

    def __init__(
        self, url: str, client: S3Client | None = None, part_bytes: int = DEFAULT_PART_BYTES
    ) -> None:
        self.bucket, self.prefix = parse_s3_url(url)
        if part_bytes < MIN_PART_BYTES:
            raise ValueError(f"parts are at least {MIN_PART_BYTES} bytes")
        self.part_bytes = part_bytes
        if client is None:
            client = make_client()
        self.client: S3Client = client
        self._staging = self.prefix + STAGING_PREFIX
        self._uploads = self._staging + "uploads/"
        # Not a ThreadPoolExecutor: it stops taking jobs once the main thread has ended,
        # which a server run on a thread by a script outlives.
        self._workers = WorkerThreads(WORKER_THREADS, "remofile-s3")
        #: Modification times read by HEAD, by (key, ETag): listings need them.
        self._times: dict[tuple[str, str], int] = {}
        self._times_lock = threading.Lock()
        self._last_info: tuple[RemotePath, _ObjectInfo] | None = None
        #: Directories seen to exist, by prefix, and when (see _is_directory).
        self._directories_seen: dict[str, float] = {}
        #: Trees being removed, by prefix: out of sight until gone.
        self._removing: dict[str, _S3Removal] = {}
        #: Those whose session is over, purged between requests.
        self._abandoned: list[_S3Removal] = []
        self._removal_lock = threading.RLock()
        self._removing_prefix = self._staging + "removing/"
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as error:
            raise NotADirectoryError(f"cannot reach bucket {self.bucket}: {error}") from error
        self._expire_staged_uploads()
        self._resume_removals()

    def __repr__(self) -> str:
        return f"S3Storage('s3://{self.bucket}/{self.prefix}')"

    # -- keys ---------------------------------------------------------------

    def _key(self, path: RemotePath) -> str:
        """The key of a file (components are validated names: nothing leaves the prefix)."""
        return self.prefix + "/".join(path)

    def _directory_prefix(self, path: RemotePath) -> str:
        return self.prefix + "".join(component + "/" for component in path)

    def _iterate(self, prefix: str, delimiter: str = "") -> Iterator[dict[str, Any]]:
        """Pages of ListObjectsV2 below ``prefix``."""
        paginator = self.client.get_paginator("list_objects_v2")
        options: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            options["Delimiter"] = delimiter
        for page in paginator.paginate(**options):
            yield dict(page)

    def _head(self, key: str) -> _ObjectInfo | None:
        if self._hidden(key):
            return None
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as error:
            if _is_missing(error):
                return None
            raise
        metadata = {name.lower(): value for name, value in head.get("Metadata", {}).items()}
        etag = head["ETag"]
        mtime = self._time_of(metadata, head["LastModified"].timestamp())
        self._remember_time(key, etag, mtime)
        return _ObjectInfo(head["ContentLength"], etag, mtime, metadata)

    @staticmethod
    def _time_of(metadata: dict[str, str], last_modified_s: float) -> int:
        with contextlib.suppress(KeyError, ValueError):
            return int(metadata[MTIME_METADATA])
        return int(last_modified_s * 1_000_000_000)

    def _remember_time(self, key: str, etag: str, modification_time_ns: int) -> None:
        with self._times_lock:
            if len(self._times) >= MAX_REMEMBERED_TIMES:
                self._times.clear()
            self._times[(key, etag)] = modification_time_ns

    def _is_directory(self, path: RemotePath) -> bool:
        """Whether a directory exists there. A yes is remembered for a moment
        (:data:`DIRECTORY_MEMORY_S`, forgotten at once when this server removes anything):
        a tree of small uploads checks the same directory for every file."""
        if not path:
            return True
        prefix = self._directory_prefix(path)
        if self._hidden(prefix):
            return False
        seen = self._directories_seen.get(prefix)
        if seen is not None and time.monotonic() - seen < DIRECTORY_MEMORY_S:
            return True
        page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1)
        exists = bool(page.get("KeyCount", 0))
        if exists:
            if len(self._directories_seen) >= MAX_REMEMBERED_TIMES:
                self._directories_seen.clear()
            self._directories_seen[prefix] = time.monotonic()
        return exists

    def _kind(self, path: RemotePath) -> str | None:
        """ "directory", "file" or None, from one listing of the keys that start with
        the path's key. A name that is both (a key ``a`` beside keys ``a/...``, which
        only another tool can write) is a file."""
        if not path:
            return "directory"
        key = self._key(path)
        if self._hidden(key) or self._hidden(key + "/"):
            return None
        found = None
        for page in self._iterate(key, "/"):
            for item in page.get("Contents", []):
                if item["Key"] == key:
                    return "file"
            for common in page.get("CommonPrefixes", []):
                if common["Prefix"] == key + "/":
                    found = "directory"
            listed = [item["Key"] for item in page.get("Contents", [])]
            listed += [common["Prefix"] for common in page.get("CommonPrefixes", [])]
            if listed and max(listed) > key + "/":
                break  # listings are sorted: neither can come later
        return found

    def _require_directory(self, path: RemotePath) -> None:
        if self._is_directory(path):
            return
        if self._head(self._key(path)) is not None:
            raise NotADirectoryError(f"not a directory: /{'/'.join(path)}")
        raise FileNotFoundError(f"no such file or directory: /{'/'.join(path)}")

    def check_new_entry(self, directory: RemotePath, name: str, replace: bool = False) -> None:
        self._require_directory(directory)
        self._settle_removals(self._key((*directory, name)))
        kind = self._kind((*directory, name))
        if kind is None:
            return
        if not replace:
            raise FileExistsError(f"already exists: {name}")
        if kind == "directory":
            raise IsADirectoryError(f"a directory cannot be replaced: {name}")

    # -- listing ------------------------------------------------------------

    def list_directory(self, directory: RemotePath, recursive: bool) -> list[EntryInfo]:
        self._require_directory(directory)
        top = self._directory_prefix(directory)
        #: Directories by name: the time of their marker, else of the newest key below.
        directories: dict[str, int] = {}
        markers: set[str] = set()
        files: dict[str, tuple[str, int, str, float]] = {}
        for page in self._iterate(top, "" if recursive else "/"):
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][len(top) : -1]
                if self._is_visible(name) and not self._hidden(common["Prefix"]):
                    directories.setdefault(name, 0)
            for item in page.get("Contents", []):
                relative = item["Key"][len(top) :]
                if not relative or not self._is_visible(relative.rstrip("/")):
                    continue  # the directory's own marker, the staging area
                if self._hidden(item["Key"]):
                    continue  # a tree being removed
                when = int(item["LastModified"].timestamp() * 1_000_000_000)
                parts = relative.rstrip("/").split("/")
                for depth in range(1, len(parts)):
                    name = "/".join(parts[:depth])
                    if name not in markers:
                        directories[name] = max(directories.get(name, 0), when)
                if relative.endswith("/"):
                    directories[relative[:-1]] = when
                    markers.add(relative[:-1])
                else:
                    files[relative] = (item["Key"], item["Size"], item["ETag"], when / 1e9)

        # A name that is both is a file (see _kind): what lies below it is not listed.
        def under_a_file(name: str) -> bool:
            parts = name.split("/")
            return any("/".join(parts[:depth]) in files for depth in range(1, len(parts)))

        directories = {
            name: when
            for name, when in directories.items()
            if name not in files and not under_a_file(name)
        }
        files = {name: item for name, item in files.items() if not under_a_file(name)}
        unknown = [name for name, when in directories.items() if not when]
        for name, when in zip(
            unknown,
            self._workers.map(lambda name: self._directory_time(top + name + "/"), unknown),
            strict=True,
        ):
            directories[name] = when
        times = self._modification_times(files)
        entries = [EntryInfo(name, True, 0, mtime) for name, mtime in directories.items()]
        entries.extend(
            EntryInfo(name, False, size, times[name])
            for name, (_key, size, _etag, _when) in files.items()
        )
        entries.sort(key=lambda entry: entry.name)
        return entries

    def _directory_time(self, prefix: str) -> int:
        """A directory's time: its marker's, else that of the first key below it."""
        with contextlib.suppress(Exception):
            head = self.client.head_object(Bucket=self.bucket, Key=prefix)
            return int(head["LastModified"].timestamp() * 1_000_000_000)
        page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1)
        for item in page.get("Contents", []):
            return int(item["LastModified"].timestamp() * 1_000_000_000)
        return 1

    @staticmethod
    def _is_visible(relative: str) -> bool:
        """Paths every component of which a client could name: the staging area and
        keys no protocol name can spell (``a//b``, ``a:b``) are not listed."""
        return all(
            is_file_name_valid(component) and not is_reserved_name(component)
            for component in relative.split("/")
        )

    def _modification_times(self, files: dict[str, tuple[str, int, str, float]]) -> dict[str, int]:
        """The stored modification time of each file: a listing does not carry object
        metadata, so it is read by HEAD (concurrently), once per (key, ETag)."""
        result: dict[str, int] = {}
        missing: list[tuple[str, str, float]] = []
        with self._times_lock:
            for name, (key, _size, etag, when) in files.items():
                cached = self._times.get((key, etag))
                if cached is None:
                    missing.append((name, key, when))
                else:
                    result[name] = cached

        def head(item: tuple[str, str, float]) -> tuple[str, int]:
            name, key, when = item
            info = self._head(key)
            return name, info.modification_time_ns if info else int(when * 1e9)

        for name, mtime in self._workers.map(head, missing):
            result[name] = mtime
        return result

    # -- creation -----------------------------------------------------------

    def _put_new(self, key: str, body: bytes, metadata: dict[str, str], replace: bool) -> str:
        """PUT an object; without ``replace`` only if the key is free (If-None-Match),
        FileExistsError otherwise. Returns its ETag."""
        options: dict[str, Any] = {}
        if not replace:
            options["IfNoneMatch"] = "*"
        try:
            response = self.client.put_object(
                Bucket=self.bucket, Key=key, Body=body, Metadata=metadata, **options
            )
        except Exception as error:
            if _is_precondition(error):
                raise FileExistsError(f"already exists: {key.rsplit('/', 1)[-1]}") from None
            raise
        return response["ETag"]

    def create_file(self, directory: RemotePath, name: str) -> None:
        self.check_new_entry(directory, name)
        hashers = _Hashers()
        mtime = _now_ns()
        key = self._key((*directory, name))
        etag = self._put_new(key, b"", hashers.metadata(mtime), False)
        self._remember_time(key, etag, mtime)

    def make_directory(self, directory: RemotePath, name: str) -> None:
        self.check_new_entry(directory, name)
        self._put_new(self._directory_prefix((*directory, name)), b"", {}, False)

    # -- uploads ------------------------------------------------------------

    def _part_size(self, file_size: int) -> int:
        """Parts of ``part_bytes``, or larger (whole MiB) to stay within 10,000 parts."""
        needed = -(-file_size // MAX_PARTS)
        return max(self.part_bytes, -(-needed // (1 << 20)) << 20)

    def _staging_key(self, directory: RemotePath, name: str) -> str:
        return self._uploads + hashlib.sha256("/".join((*directory, name)).encode()).hexdigest()

    def _staged_groups(self, stem: str) -> dict[str, list[dict[str, Any]]]:
        """Staged uploads whose key starts with ``stem``, by their prefix."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for page in self._iterate(stem):
            for item in page.get("Contents", []):
                group, _, _part = item["Key"].rpartition("/")
                groups.setdefault(group + "/", []).append(item)
        return groups

    def _delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), DELETE_BATCH_KEYS):
            batch = keys[start : start + DELETE_BATCH_KEYS]
            response = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
            failed = [
                error for error in response.get("Errors", []) if error.get("Code") != "NoSuchKey"
            ]
            if failed:
                raise OSError(f"could not remove {len(failed)} objects: {failed[0].get('Message')}")

    def begin_upload(
        self,
        directory: RemotePath,
        name: str,
        file_size: int,
        resume: bool,
        sync: bool,
        replace: bool = False,
    ) -> UploadTarget:
        self.check_new_entry(directory, name, replace)
        key = self._key((*directory, name))
        stem = self._staging_key(directory, name)
        part_size = self._part_size(file_size)
        groups = self._staged_groups(stem + "-")
        kept: _Staged | None = None
        if resume:
            kept = self._resumable(groups, f"{stem}-{file_size}-", part_size)
        # One staged upload per destination: the others are discarded (SPEC.md 4.9.1).
        self._delete_keys(
            [
                item["Key"]
                for group, items in groups.items()
                if kept is None or group != kept.group
                for item in items
            ]
        )
        if kept is None:
            kept = _Staged(f"{stem}-{file_size}-{secrets.token_hex(8)}/", [], None)
        return _MultipartUpload(self, key, replace, part_size, kept)

    @staticmethod
    def _resumable(
        groups: dict[str, list[dict[str, Any]]], stem: str, part_size: int
    ) -> _Staged | None:
        """The staged upload of this size holding the most bytes: its whole parts
        numbered from 1, and the tail that follows them, if one was kept."""
        best: _Staged | None = None
        for group, items in groups.items():
            if not group.startswith(stem):
                continue
            by_name = {item["Key"].rsplit("/", 1)[-1]: item for item in items}
            parts: list[tuple[str, int]] = []
            while (item := by_name.get(f"{len(parts) + 1:05d}")) and item["Size"] == part_size:
                parts.append((item["Key"], item["Size"]))
            tail = by_name.get(_tail_name(len(parts) * part_size))
            staged = _Staged(group, parts, (tail["Key"], tail["Size"]) if tail else None)
            if best is None or staged.size > best.size:
                best = staged
        return best

    def store_file(
        self,
        directory: RemotePath,
        name: str,
        data: memoryview,
        modification_time_ns: int,
        sync: bool,
        replace: bool = False,
    ) -> None:
        """One PUT with the digests in its metadata; thread-safe. The name was checked
        by :meth:`check_new_entry` just before; what changed since is caught by the PUT
        itself (If-None-Match) and :meth:`_check_not_directory`."""
        stem = self._staging_key(directory, name)
        staged = [
            item["Key"] for items in self._staged_groups(stem + "-").values() for item in items
        ]
        if staged:
            self._delete_keys(staged)
        target = _WholeUpload(self, self._key((*directory, name)), replace)
        target.write(data)
        target.commit(modification_time_ns)

    def store_files(self, files: Sequence[WholeFile], sync: bool) -> list[BaseException | None]:
        """A batch (SPEC.md 4.17) on the worker threads, several files at once: each
        costs a few requests' latency (checks, one PUT), which then overlap. Files of
        the same destination go in one job, in the order of the batch."""
        by_destination: dict[tuple[str, ...], list[int]] = {}
        for index, file in enumerate(files):
            by_destination.setdefault((*file.directory, file.name), []).append(index)
        outcomes: list[BaseException | None] = [None] * len(files)

        def store(indices: list[int]) -> None:
            for index in indices:
                outcomes[index] = self.store_checked(files[index], sync)

        for _ in self._workers.map(store, by_destination.values()):
            pass
        return outcomes

    def _check_not_directory(self, key: str) -> None:
        """Just before a file takes ``key``: a directory that took the name meanwhile
        is never shadowed by it (checked, not atomic across servers: docs/DESIGN.md)."""
        page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key + "/", MaxKeys=1)
        if page.get("KeyCount", 0):
            raise FileExistsError(f"a directory took the name: {key.rsplit('/', 1)[-1]}")

    def _publish_whole(
        self, key: str, body: bytes, metadata: dict[str, str], replace: bool
    ) -> None:
        self._check_not_directory(key)
        etag = self._put_new(key, body, metadata, replace)
        self._remember_time(key, etag, int(metadata[MTIME_METADATA]))

    # -- downloads ----------------------------------------------------------

    def _file(self, path: RemotePath) -> _ObjectInfo:
        info = self._head(self._key(path)) if path else None
        if info is not None:
            return info
        if self._is_directory(path):
            raise IsADirectoryError(f"not a regular file: /{'/'.join(path)}")
        raise FileNotFoundError(f"no such file or directory: /{'/'.join(path)}")

    def file_info(self, path: RemotePath) -> FileInfo:
        info = self._file(path)
        self._last_info = (path, info)  # a download opens the file right after
        return FileInfo(info.size, info.modification_time_ns)

    def open_file(self, path: RemotePath) -> FileReader:
        """Reads the object described by the last :meth:`file_info` of this path (its
        ETag pins the reads to that version: a replaced object fails the download)."""
        last, self._last_info = self._last_info, None
        info = last[1] if last is not None and last[0] == path else self._file(path)
        return _S3Reader(self, self._key(path), info)

    def _get_range(self, key: str, etag: str, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (excluded) of the object as it was (If-Match): an
        object replaced meanwhile fails the read rather than mixing two files."""
        response = self.client.get_object(
            Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end - 1}", IfMatch=etag
        )
        return response["Body"].read()

    def file_digest(self, path: RemotePath, algorithm: int) -> DigestResult:
        """From the object's metadata, written with its content (SPEC.md 4.16 allows
        kept digests): no read. Files written by other tools are read as a stream."""
        info = self._file(path)
        stored = info.metadata.get(_digest_metadata_name(algorithm))
        if stored is not None:
            with contextlib.suppress(ValueError):
                return DigestResult(bytes.fromhex(stored), info.size, info.modification_time_ns)
        hasher = new_hasher(algorithm)
        reader = _S3Reader(self, self._key(path), info)
        try:
            offset = 0
            while offset < info.size:
                size = min(READ_BLOCK_BYTES, info.size - offset)
                hasher.update(reader.read(offset, size))
                offset += size
        finally:
            reader.close()
        return DigestResult(hasher.digest(), info.size, info.modification_time_ns)

    # -- copying and moving -------------------------------------------------

    def copy_file(
        self, source: RemotePath, directory: RemotePath, name: str, replace: bool, sync: bool
    ) -> None:
        """A server-side copy that keeps the metadata (time and digests); the copy
        appears whole, as a PUT does."""
        if not source:
            raise IsADirectoryError("the root directory is not a file")
        info = self._file(source)
        self._require_directory(directory)
        source_key = self._key(source)
        destination = self._key((*directory, name))
        if destination == source_key:
            if not replace:
                raise FileExistsError(f"already exists: {name}")
            return
        self.check_new_entry(directory, name, replace)
        self._copy_object(source_key, info, destination, replace)

    def _copy_object(
        self, source_key: str, info: _ObjectInfo, destination: str, replace: bool
    ) -> None:
        metadata = dict(info.metadata)
        metadata[MTIME_METADATA] = str(info.modification_time_ns)
        copy_source: dict[str, Any] = {"Bucket": self.bucket, "Key": source_key}
        self._check_not_directory(destination)
        # A copy never replaces: the name checked free must still be free (CopyObject
        # has no If-None-Match everywhere; a tiny window remains across servers).
        if not replace and self._head(destination) is not None:
            raise FileExistsError(f"already exists: {destination.rsplit('/', 1)[-1]}")
        if info.size <= MAX_COPY_OBJECT_BYTES:
            self.client.copy_object(
                Bucket=self.bucket,
                Key=destination,
                CopySource=copy_source,  # type: ignore[arg-type]
                CopySourceIfMatch=info.etag,
                MetadataDirective="REPLACE",
                Metadata=metadata,
            )
            return
        part_size = max(self._part_size(info.size), 1 << 30)
        pieces = [
            (start, min(start + part_size, info.size)) for start in range(0, info.size, part_size)
        ]
        self._compose(destination, metadata, replace, copy_source, info.etag, pieces)

    def _compose(
        self,
        destination: str,
        metadata: dict[str, str],
        replace: bool,
        source: dict[str, Any] | None,
        etag: str,
        pieces: list[tuple[Any, Any]],
    ) -> str:
        """A multipart upload of ``destination`` made by server-side copies: of byte
        ranges of ``source`` (pieces of (start, end)), or of whole objects (pieces of
        (key, ETag)) when ``source`` is None. Published by its completion only, without
        replacing unless ``replace``; aborted if anything fails. Returns the ETag."""
        upload_id = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=destination, Metadata=metadata
        )["UploadId"]
        try:

            def copy_part(numbered: tuple[int, tuple[Any, Any]]) -> dict[str, Any]:
                number, (first, second) = numbered
                if source is None:
                    copied = self.client.upload_part_copy(
                        Bucket=self.bucket,
                        Key=destination,
                        UploadId=upload_id,
                        PartNumber=number,
                        CopySource={"Bucket": self.bucket, "Key": first},
                        CopySourceIfMatch=second,
                    )
                else:
                    copied = self.client.upload_part_copy(
                        Bucket=self.bucket,
                        Key=destination,
                        UploadId=upload_id,
                        PartNumber=number,
                        CopySource=source,  # type: ignore[arg-type]
                        CopySourceIfMatch=etag,
                        CopySourceRange=f"bytes={first}-{second - 1}",
                    )
                return {"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]}

            parts = list(self._workers.map(copy_part, enumerate(pieces, 1)))
            options: dict[str, Any] = {} if replace else {"IfNoneMatch": "*"}
            self._check_not_directory(destination)
            try:
                completed = self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=destination,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
                    **options,
                )
            except Exception as error:
                if _is_precondition(error):
                    raise FileExistsError(
                        f"already exists: {destination.rsplit('/', 1)[-1]}"
                    ) from None
                raise
        except BaseException:
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=destination, UploadId=upload_id
                )
            raise
        return str(completed.get("ETag", ""))

    # -- removal ------------------------------------------------------------

    def remove(self, path: RemotePath) -> Removal | None:
        if not path:
            raise PermissionError("the root directory cannot be removed")
        self._directories_seen.clear()
        self._require_directory(path[:-1])
        kind = self._kind(path)
        if kind is None:
            raise FileNotFoundError(f"no such file or directory: /{'/'.join(path)}")
        if kind == "file":
            self.client.delete_object(Bucket=self.bucket, Key=self._key(path))
            return None
        top = self._directory_prefix(path)
        keys = [item["Key"] for page in self._iterate(top) for item in page.get("Contents", [])]
        if all(key == top for key in keys):
            self._delete_keys(keys)
            return None
        # S3 cannot rename the tree out of sight: a tombstone (kept for a restart) names
        # it, and this server shows nothing below it from now on (SPEC.md 4.11.1).
        tombstone = f"{self._removing_prefix}{secrets.token_hex(8)}"
        self.client.put_object(Bucket=self.bucket, Key=tombstone, Body=top.encode())
        removal = _S3Removal(self, top, keys, tombstone)
        with self._removal_lock:
            self._removing[top] = removal
        return removal

    def _hidden(self, key: str) -> bool:
        """Whether ``key`` lies in a tree being removed."""
        return any(key.startswith(top) for top in self._removing)

    def _settle_removals(self, key: str) -> None:
        """Finish now the removals of trees a new entry ``key`` would meet, so that a
        removal never takes away what was written after it started."""
        with self._removal_lock:
            for top, removal in list(self._removing.items()):
                if key.startswith(top) or top.startswith(key + "/"):
                    while not removal.remove_batch(DELETE_BATCH_KEYS):
                        pass

    def _removal_done(self, removal: _S3Removal) -> None:
        with self._removal_lock:
            self._removing.pop(removal.top, None)
            if removal in self._abandoned:
                self._abandoned.remove(removal)
        with contextlib.suppress(Exception):
            self.client.delete_object(Bucket=self.bucket, Key=removal.tombstone)

    def abandon_removal(self, removal: Removal) -> None:
        """What a cancelled removal left is removed by :meth:`purge_step`, out of sight
        meanwhile, as the local directory does with its hidden trees."""
        if isinstance(removal, _S3Removal):
            with self._removal_lock:
                if removal.top in self._removing:
                    self._abandoned.append(removal)

    def purge_step(self, limit: int) -> bool:
        if self._abandoned and limit > 0:
            with self._removal_lock:
                if self._abandoned:
                    self._abandoned[0].remove_batch(limit)
        return bool(self._abandoned)

    def _resume_removals(self) -> None:
        """Trees whose removal a stopped server left unfinished: hidden, and purged."""
        for page in self._iterate(self._removing_prefix):
            for item in page.get("Contents", []):
                top = self.client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
                prefix = top.decode()
                if not prefix.startswith(self.prefix) or prefix == self.prefix:
                    continue
                keys = [
                    entry["Key"]
                    for listed in self._iterate(prefix)
                    for entry in listed.get("Contents", [])
                ]
                removal = _S3Removal(self, prefix, keys, item["Key"])
                self._removing[prefix] = removal
                self._abandoned.append(removal)

    def _expire_staged_uploads(self) -> None:
        """Remove staged uploads nobody resumed in time and abort forgotten multipart
        uploads (a server that died while composing a file)."""
        now = time.time()
        expired = [
            item["Key"]
            for page in self._iterate(self._uploads)
            for item in page.get("Contents", [])
            if now - item["LastModified"].timestamp() > STAGED_UPLOAD_EXPIRY_S
        ]
        self._delete_keys(expired)
        paginator = self.client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for upload in page.get("Uploads", []):
                if now - upload["Initiated"].timestamp() > MULTIPART_EXPIRY_S:
                    with contextlib.suppress(Exception):
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )

    def close(self) -> None:
        """Stop the worker threads and close the connections."""
        self._workers.shutdown(wait=True)
        self.client.close()


def make_client() -> S3Client:
    """A boto3 client configured only by the ``AWS_*`` variables, with checksums
    computed only where S3 requires them (measured: they halve the upload rate here,
    and every transfer is already verified by its own digest, SPEC.md 7.2)."""
    import boto3
    from botocore.config import Config

    config = Config(
        max_pool_connections=2 * WORKER_THREADS,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"max_attempts": 5, "mode": "standard"},
    )
    return boto3.client("s3", config=config)


class _WholeUpload(UploadTarget):
    """A file of at most one part: gathered in memory, stored by one PUT at commit."""

    def __init__(self, storage: S3Storage, key: str, replace: bool) -> None:
        self._storage = storage
        self._key = key
        self._replace = replace
        self._data = bytearray()
        self.offset = 0

    def write(self, data: memoryview) -> None:
        self._data += data

    def staged_data(self) -> Iterator[memoryview]:
        return iter(())

    def commit(self, modification_time_ns: int = 0) -> None:
        hashers = _Hashers()
        hashers.update(self._data)
        metadata = hashers.metadata(modification_time_ns or _now_ns())
        self._storage._publish_whole(self._key, bytes(self._data), metadata, self._replace)
        self._data = bytearray()

    def abandon(self, keep_for_resume: bool) -> None:
        self._data = bytearray()


def _tail_name(start: int) -> str:
    """The staged bytes after the whole parts, kept when an upload stops, named for
    where they start (a tail that does not start where the parts end is stale)."""
    return f"tail-{start:016d}"


@dataclass
class _Staged:
    """What an upload staged before: its prefix, whole parts (key, size) and tail."""

    group: str
    parts: list[tuple[str, int]]
    tail: tuple[str, int] | None

    @property
    def size(self) -> int:
        return sum(size for _key, size in self.parts) + (self.tail[1] if self.tail else 0)


class _MultipartUpload(UploadTarget):
    """A file being uploaded. Each whole part is staged as an object of its own under
    the staging prefix (readable, so a resumed upload can be hashed from its start, and
    listed, so it resumes after the last whole part); when the upload stops, the bytes
    after the last whole part are staged too (the tail), so that every byte that was
    acknowledged is kept (SPEC.md 7.1.4). The commit stores a file of one part by one
    PUT, and composes a larger one from its parts by server-side copies in one
    multipart upload whose completion publishes it, its digests in its metadata; then
    the staged objects are removed."""

    def __init__(
        self, storage: S3Storage, key: str, replace: bool, part_size: int, staged: _Staged
    ) -> None:
        self._storage = storage
        self._key = key
        self._replace = replace
        self._group = staged.group
        self._part_size = part_size
        self._staged = staged.parts
        self._tail = staged.tail
        self.offset = staged.size
        self._hashers = _Hashers()
        self._buffer = bytearray()
        #: Parts written, in order: (key, future of its ETag).
        self._parts: list[tuple[str, Future[str]]] = []
        self._resumed_etags: list[str] = []
        self._tail_read = staged.tail is None

    def _part_key(self, number: int) -> str:
        return f"{self._group}{number:05d}"

    def write(self, data: memoryview) -> None:
        self._buffer += data
        while len(self._buffer) >= self._part_size:
            part = bytes(self._buffer[: self._part_size])
            del self._buffer[: self._part_size]
            self._send_part(part)

    def _send_part(self, part: bytes) -> None:
        self._hashers.update(part)
        in_flight = [future for _key, future in self._parts if not future.done()]
        while len(in_flight) >= PARTS_IN_FLIGHT:
            in_flight.pop(0).result()
        key = self._part_key(len(self._staged) + len(self._parts) + 1)
        storage = self._storage

        def put() -> str:
            response = storage.client.put_object(Bucket=storage.bucket, Key=key, Body=part)
            return response["ETag"]

        self._parts.append((key, storage._workers.submit(put)))

    def staged_data(self) -> Iterator[memoryview]:
        storage = self._storage
        for key, size in self._staged:
            response = storage.client.get_object(Bucket=storage.bucket, Key=key)
            data = response["Body"].read()
            if len(data) != size:
                raise OSError("a staged part changed while resuming")
            self._resumed_etags.append(response["ETag"])
            self._hashers.update(data)
            yield memoryview(data)
        if self._tail is not None:
            key, size = self._tail
            data = storage.client.get_object(Bucket=storage.bucket, Key=key)["Body"].read()
            if len(data) != size:
                raise OSError("the staged tail changed while resuming")
            self._buffer += data  # hashed with the part it begins
            self._tail_read = True
            yield memoryview(data)

    def commit(self, modification_time_ns: int = 0) -> None:
        if len(self._resumed_etags) != len(self._staged) or not self._tail_read:
            raise OSError("the staged data was not read back before the upload resumed")
        mtime = modification_time_ns or _now_ns()
        if not self._staged and not self._parts:
            self._hashers.update(self._buffer)
            metadata = self._hashers.metadata(mtime)
            self._storage._publish_whole(self._key, bytes(self._buffer), metadata, self._replace)
        else:
            if self._buffer:
                self._send_part(bytes(self._buffer))
            pieces = list(zip((key for key, _ in self._staged), self._resumed_etags, strict=True))
            pieces.extend((key, future.result()) for key, future in self._parts)
            metadata = self._hashers.metadata(mtime)
            etag = self._storage._compose(self._key, metadata, self._replace, None, "", pieces)
            self._storage._remember_time(self._key, etag, mtime)
        self._buffer = bytearray()
        self._discard()

    def _discard(self) -> None:
        for _key, future in self._parts:
            with contextlib.suppress(Exception):
                future.result()
        keys = [key for key, _ in self._staged] + [key for key, _ in self._parts]
        if self._tail is not None:
            keys.append(self._tail[0])
        with contextlib.suppress(Exception):
            self._storage._delete_keys(keys)
        self._staged = []
        self._parts = []
        self._tail = None

    def abandon(self, keep_for_resume: bool) -> None:
        if not keep_for_resume:
            self._buffer = bytearray()
            self._discard()
            return
        # The parts under way are staged before anything else happens (a resume right
        # after lists them), then the bytes after them, so nothing acknowledged is lost.
        for _key, future in self._parts:
            with contextlib.suppress(Exception):
                future.result()
        if not self._buffer:
            return
        start = (len(self._staged) + len(self._parts)) * self._part_size
        storage = self._storage
        tail = self._group + _tail_name(start)
        with contextlib.suppress(Exception):
            storage.client.put_object(Bucket=storage.bucket, Key=tail, Body=bytes(self._buffer))
            if self._tail is not None and self._tail[0] != tail:
                storage._delete_keys([self._tail[0]])
        self._buffer = bytearray()


class _S3Reader(FileReader):
    """Ranged GETs of whole blocks, several ahead of the client on worker threads, so a
    download is not bound by the latency of each request."""

    def __init__(self, storage: S3Storage, key: str, info: _ObjectInfo) -> None:
        self._storage = storage
        self._key = key
        self._info = info
        self._blocks: dict[int, Future[bytes]] = {}

    def _block(self, index: int) -> Future[bytes]:
        future = self._blocks.get(index)
        if future is None:
            start = index * READ_BLOCK_BYTES
            end = min(start + READ_BLOCK_BYTES, self._info.size)
            future = self._storage._workers.submit(
                functools.partial(self._storage._get_range, self._key, self._info.etag, start, end)
            )
            self._blocks[index] = future
        return future

    def read(self, offset: int, size: int) -> bytes:
        if offset + size > self._info.size:
            raise OSError("read past the end of the file")
        if size == 0:
            return b""
        first = offset // READ_BLOCK_BYTES
        last = (offset + size - 1) // READ_BLOCK_BYTES
        last_block = (self._info.size - 1) // READ_BLOCK_BYTES
        for index in range(first, min(last + READ_AHEAD_BLOCKS, last_block) + 1):
            self._block(index)
        for index in [index for index in self._blocks if index < first]:
            del self._blocks[index]
        pieces = []
        for index in range(first, last + 1):
            block = self._block(index).result()
            start = max(offset - index * READ_BLOCK_BYTES, 0)
            end = min(offset + size - index * READ_BLOCK_BYTES, len(block))
            pieces.append(block[start:end])
        data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        if len(data) != size:
            raise OSError("file became shorter while downloading")
        return data

    def close(self) -> None:
        for future in self._blocks.values():
            future.cancel()
        self._blocks.clear()


class _S3Removal(Removal):
    """A directory's objects removed a batch at a time, the deepest first, its own
    marker last; out of sight from the start (:meth:`S3Storage._hidden`)."""

    def __init__(self, storage: S3Storage, top: str, keys: list[str], tombstone: str) -> None:
        self._storage = storage
        self.top = top
        self.tombstone = tombstone
        ordered = sorted(
            (key for key in keys if key != top), key=lambda key: (-key.rstrip("/").count("/"), key)
        )
        self._keys = [*ordered, top]
        self.total = len(ordered)
        self.removed = 0

    def remove_batch(self, limit: int) -> bool:
        if not self._keys:
            return True
        batch = self._keys[: max(1, min(limit, DELETE_BATCH_KEYS))]
        self._storage._delete_keys(batch)
        del self._keys[: len(batch)]
        self.removed = min(self.removed + len(batch), self.total)
        if self._keys:
            return False
        self._storage._removal_done(self)
        return True
