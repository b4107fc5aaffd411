"""Deliberately broken servers, each with one fault, and the case that must catch it.

Each fault swaps one piece of our server for a subclass that misbehaves, or puts a
rewriting proxy in front of it. The suite is trusted only if, run on the sections
given here, it fails each of them and names the right case.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
from conformance_serving import RewritingProxy, RunningServer, running_server
from google.protobuf.message import DecodeError
from remofile.core.digests import new_hasher
from remofile.core.paths import RemotePathError, split_remote_path
from remofile.core.sessions import SessionGate
from remofile.core.transitions import State
from remofile.server import EntryInfo, LocalStorage, Server
from remofile.server.handler import Reply, RequestHandler
from remofile.v1 import remofile_pb2 as pb

# -- faults of the request handler ------------------------------------------------------------


class StaysBusyAfterCancel(RequestHandler):
    """Answers CANCEL_TRANSFER as the spec says, but forgets to return to IDLE."""

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        if kind_name == "cancel_transfer" and self.state is not State.IDLE:
            return Reply(
                pb.Response(type=pb.RESPONSE_TYPE_ACCEPTED, reason=pb.REASON_TRANSFER_CANCELLED)
            )
        return super().handle(request, kind_name, data)


class AcceptsAnyChunkSize(RequestHandler):
    """Pads or cuts every upload chunk to the size it should have had."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._expected: tuple[int, int, int] | None = None  # file size, chunk size, next offset

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        if kind_name == "send_chunk" and self._expected is not None and data is not None:
            file_size, chunk_size, offset = self._expected
            wanted = min(chunk_size, file_size - offset)
            data = (bytes(data) + bytes(wanted))[:wanted]
            self._expected = (file_size, chunk_size, offset + wanted)
        reply = super().handle(request, kind_name, data)
        if kind_name == "upload_file" and reply.response.reason == pb.REASON_TRANSFER_ACCEPTED:
            accepted = reply.response.transfer_accepted
            self._expected = (accepted.file_size, accepted.chunk_size, accepted.offset)
        return reply


class RefusesInsteadOfError(RequestHandler):
    """Answers REFUSED BAD_REQUEST where the spec says ERROR BAD_REQUEST."""

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        reply = super().handle(request, kind_name, data)
        if reply.response.type == pb.RESPONSE_TYPE_ERROR:
            reply.response.type = pb.RESPONSE_TYPE_REFUSED
        return reply


class IgnoresDigest(RequestHandler):
    """Never checks the digest of an upload's last chunk."""

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        if kind_name == "send_chunk" and request.send_chunk.HasField("digest"):
            request.send_chunk.ClearField("digest")
        return super().handle(request, kind_name, data)


class IgnoresDigestAlgorithm(RequestHandler):
    """Hashes every transfer with SHA-256, whatever digest algorithm was asked."""

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        if kind_name in ("upload_file", "download_file"):
            getattr(request, kind_name).digest_algorithm = pb.DIGEST_ALGORITHM_SHA256
        return super().handle(request, kind_name, data)


class IgnoresDownloadOffset(RequestHandler):
    """Starts every download at byte 0, whatever offset was asked."""

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        if kind_name == "download_file":
            request.download_file.offset = 0
        return super().handle(request, kind_name, data)


class DeletesBeforeReplacing(RequestHandler):
    """Replaces a file by removing it as soon as a replacing upload starts (SPEC 4.5.5
    rule 3 forbids it: the old file must stay whole until the new one is complete)."""

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        upload = request.upload_file
        if kind_name == "upload_file" and upload.conflict_mode == pb.CONFLICT_MODE_REPLACE:
            try:
                path = (*split_remote_path(upload.directory), upload.name)
                self.storage.file_info(path)  # a regular file: remove it now
                self.storage.remove(path)
            except (OSError, RemotePathError):
                pass
        return super().handle(request, kind_name, data)


class MovesOverTakenNames(RequestHandler):
    """Moves over a taken name although the client did not ask to replace it."""

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        if kind_name == "move_file":
            request.move_file.conflict_mode = pb.CONFLICT_MODE_REPLACE
        return super().handle(request, kind_name, data)


class MovesByCopying(RequestHandler):
    """Carries MOVE_FILE out as a copy and answers FILE_MOVED: the source stays."""

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        if kind_name != "move_file":
            return super().handle(request, kind_name, data)
        move = request.move_file
        copy = pb.Request(
            token=request.token,
            session_id=request.session_id,
            copy_file=pb.CopyFile(
                source=move.source,
                directory=move.directory,
                name=move.name,
                conflict_mode=move.conflict_mode,
            ),
        )
        reply = super().handle(copy, "copy_file", data)
        if reply.response.reason == pb.REASON_FILE_COPIED:
            reply.response.reason = pb.REASON_FILE_MOVED
        return reply


class IgnoresUploadTime(RequestHandler):
    """Places every upload with the time of its arrival, whatever time was sent."""

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        if kind_name == "upload_file":
            request.upload_file.modification_time_ns = 0
        return super().handle(request, kind_name, data)


class TruncatedWhenPageFull(RequestHandler):
    """Says a listing page is truncated whenever it holds `limit` entries, even the last."""

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        reply = super().handle(request, kind_name, data)
        limit = request.list_files.limit
        entries = reply.response.file_list.entries
        if kind_name == "list_files" and limit and len(entries) == limit:
            reply.response.file_list.truncated = True
        return reply


class SortsIgnoringCase(RequestHandler):
    """Sorts listings without regard to letter case, as a file manager would."""

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        reply = super().handle(request, kind_name, data)
        if kind_name == "list_files" and reply.response.HasField("file_list"):
            entries = sorted(reply.response.file_list.entries, key=lambda e: e.name.lower())
            del reply.response.file_list.entries[:]
            reply.response.file_list.entries.extend(entries)
        return reply


class SortsByPathComponents(RequestHandler):
    """Sorts recursive listings component by component, a directory before its siblings
    that extend its name ('sub', 'sub/a', 'sub.txt' instead of 'sub', 'sub.txt', 'sub/a')."""

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        reply = super().handle(request, kind_name, data)
        if kind_name == "list_files" and reply.response.HasField("file_list"):
            entries = sorted(reply.response.file_list.entries, key=lambda e: e.name.split("/"))
            del reply.response.file_list.entries[:]
            reply.response.file_list.entries.extend(entries)
        return reply


class NormalizesNames(RequestHandler):
    """Stores every new name in Unicode NFC, so 'e' + U+0301 becomes U+00E9."""

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        if kind_name in ("create_file", "make_directory", "upload_file"):
            message = getattr(request, kind_name)
            message.name = unicodedata.normalize("NFC", message.name)
        return super().handle(request, kind_name, data)


class DiscardsStagedDataWhenSessionsEnd(RequestHandler):
    """Drops an interrupted upload's staged data when its session ends (expiry, GOODBYE,
    replacement), so a resume starts again from 0 (SPEC 7.1.4 forbids it)."""

    def end_session(self) -> None:
        self._release_transfer(keep_for_resume=False)
        super().end_session()


class LeaksHostPaths(RequestHandler):
    """Puts the server's own path of the root in the message of every refusal and error."""

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        reply = super().handle(request, kind_name, data)
        if reply.response.type != pb.RESPONSE_TYPE_ACCEPTED:
            path = getattr(request, kind_name).ListFields()
            remote = next((value for _, value in path if isinstance(value, str)), "")
            root = str(getattr(self.storage, "root", "/srv/remofile"))
            reply.response.message = f"{reply.response.message} ({root}{remote})"
        return reply


class AnswersBatchesOutOfOrder(RequestHandler):
    """Lists a batch's results in the order its files were finished (here the reverse of
    the request's, as a pool of workers may finish them), not one for one in order."""

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        reply = super().handle(request, kind_name, data)
        if kind_name not in ("upload_files", "download_files"):
            return reply

        def reverse(response: pb.Response) -> None:
            results = list(response.batch.files)
            del response.batch.files[:]
            response.batch.files.extend(reversed(results))

        if reply.complete is None:
            reverse(reply.response)
            return reply
        complete = reply.complete

        def complete_reversed(response: pb.Response) -> None:
            complete(response)
            reverse(response)

        return dataclasses.replace(reply, complete=complete_reversed)


class TrustsBatchDigests(RequestHandler):
    """Never compares a batch's files with their digests: it takes the digest of what
    arrived for the one the client sent, so a corrupted file is stored as good."""

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        batch = request.upload_files
        plain = batch.compression in (pb.COMPRESSION_UNSPECIFIED, pb.COMPRESSION_NONE)
        if kind_name == "upload_files" and plain and data is not None:
            offset = 0
            for file in batch.files:
                piece = bytes(data[offset : offset + file.encoded_size])
                offset += file.encoded_size
                try:
                    hasher = new_hasher(batch.digest_algorithm)
                except KeyError:
                    break  # an algorithm it does not have: refused before digests matter
                hasher.update(piece)
                if len(file.digest) == 32:
                    file.digest = hasher.digest()
        return super().handle(request, kind_name, data)


class StoresBatchesFileByFile(RequestHandler):
    """Stores a batch one file at a time as it reads the data frame, and answers
    BAD_REQUEST at the first file that does not add up, after the files before it were
    written (SPEC 4.17: nothing of a batch answered as a whole may be written)."""

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        batch = request.upload_files
        if kind_name != "upload_files" or data is None or not 1 <= len(batch.files) <= 256:
            return super().handle(request, kind_name, data)
        frame = bytes(data)
        offset = 0
        results: list[pb.FileResult] = []
        settings: pb.BatchResult | None = None
        for file in batch.files:
            piece = frame[offset : offset + file.encoded_size]
            offset += file.encoded_size
            one = pb.Request(token=request.token, session_id=request.session_id)
            one.upload_files.CopyFrom(batch)
            del one.upload_files.files[:]
            one.upload_files.files.append(file)
            response = super().handle(one, kind_name, piece).settled()
            if response.type != pb.RESPONSE_TYPE_ACCEPTED:
                return Reply(response)
            results.extend(response.batch.files)
            settings = response.batch
        if offset != len(frame):
            return super().handle(request, kind_name, data)
        assert settings is not None
        answer = pb.Response(type=pb.RESPONSE_TYPE_ACCEPTED, reason=pb.REASON_FILES_UPLOADED)
        answer.batch.compression = settings.compression
        answer.batch.digest_algorithm = settings.digest_algorithm
        answer.batch.files.extend(results)
        return Reply(answer)


class SendsBatchesUncompressed(RequestHandler):
    """Sends a downloaded batch's files as they are, whatever compression was asked, and
    still names that compression in the answer."""

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        if kind_name != "download_files":
            return super().handle(request, kind_name, data)
        asked = request.download_files.compression
        request.download_files.compression = pb.COMPRESSION_NONE
        reply = super().handle(request, kind_name, data)
        if reply.response.HasField("batch") and asked != pb.COMPRESSION_UNSPECIFIED:
            reply.response.batch.compression = asked
        return reply


class IgnoresBatchTimes(RequestHandler):
    """Stores every file of a batch with the time of its arrival, whatever time was sent."""

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        if kind_name == "upload_files":
            for file in request.upload_files.files:
                file.modification_time_ns = 0
        return super().handle(request, kind_name, data)


class OmitsEmptyBatchData(RequestHandler):
    """Sends FILES_DOWNLOADED without a data frame when no byte was sent (SPEC 2.2.2
    wants one, empty)."""

    def handle(self, request: pb.Request, kind_name: str, data: Any) -> Reply:
        reply = super().handle(request, kind_name, data)
        if kind_name == "download_files" and reply.data is not None and not len(reply.data):
            reply.data = None
        return reply


# -- faults of the session gate -------------------------------------------------------------------


class AdmitsSecondClient(SessionGate):
    """Lets any HELLO in, replacing whoever held the server."""

    def admit(self, token: str, session_id: bytes, kind: str, *args: Any, **kwargs: Any) -> Any:
        if kind == "hello":
            self.session_id = None
        return super().admit(token, session_id, kind, *args, **kwargs)


class AcceptsAnyToken(SessionGate):
    """Takes every token for the right one."""

    def __init__(self, token: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(token, *args, **kwargs)
        self._right_token = token

    def admit(self, token: str, *args: Any, **kwargs: Any) -> Any:
        return super().admit(self._right_token, *args, **kwargs)


class ComparesTokensIgnoringCase(SessionGate):
    """Takes a token that differs from the right one only in letter case for the right one."""

    def __init__(self, token: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(token, *args, **kwargs)
        self._right_token = token

    def admit(self, token: str, *args: Any, **kwargs: Any) -> Any:
        if token.lower() == self._right_token.lower():
            token = self._right_token
        return super().admit(token, *args, **kwargs)


class ForgetsEndedSessions(SessionGate):
    """Announces session recovery but answers an ended session's id SERVER_BUSY (3.7.4)."""

    def _has_ended(self, session_id: bytes) -> bool:
        return False


class IgnoresClientKey(SessionGate):
    """Announces session recovery but never lets a client key take a session over (3.7.2)."""

    def admit(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("client_key", None)
        return super().admit(*args, **kwargs)


class AnyClientKeyTakesOver(SessionGate):
    """Lets any client key take the live session over, not only the one it was opened with."""

    def admit(self, token: str, session_id: bytes, kind: str, *args: Any, **kwargs: Any) -> Any:
        key = kwargs.get("client_key", b"")
        if kind == "hello" and self.session_id is not None and key:
            self._client_key = key
        return super().admit(token, session_id, kind, *args, **kwargs)


class NeverExpires(SessionGate):
    """Keeps a session that has gone silent forever."""

    def expire(self, now_ms: int) -> bool:
        return False

    def deadline_ms(self) -> int | None:
        return None


# -- faults of the storage and of the server ------------------------------------------------------


class ListsStaging(LocalStorage):
    """Shows its staging area in listings of the root."""

    def list_directory(self, directory: Any, recursive: bool) -> list[EntryInfo]:
        entries = super().list_directory(directory, recursive)
        staging = os.path.join(self.root, ".remofile-staging")
        if not directory and os.path.isdir(staging):
            entries.append(EntryInfo(".remofile-staging", True, 0, os.stat(staging).st_mtime_ns))
            entries.sort(key=lambda entry: entry.name)
        return entries


class FollowsLinksOut(LocalStorage):
    """Follows symbolic links wherever they lead, out of the root too."""

    def _resolve(self, path: Any) -> str:
        real = os.path.realpath(os.path.join(self.root, *path))
        if not os.path.exists(real):
            raise FileNotFoundError("/" + "/".join(path))
        return real


class FollowsLinksOutWhenWriting(LocalStorage):
    """Checks the jail when it reads, but creates new entries wherever a link leads."""

    def _new_entry(self, directory: Any, name: str, replace: bool = False) -> str:
        local = os.path.join(os.path.realpath(os.path.join(self.root, *directory)), name)
        self._check_name_free(local, name, replace)
        return local


class DigestsOneRead(LocalStorage):
    """Digests only what one read of 1 MiB returns: right for small files only."""

    def file_digest(self, path: Any, algorithm: int) -> Any:
        result = super().file_digest(path, algorithm)
        reader = self.open_file(path)
        try:
            first = reader.read(0, min(result.size, 1 << 20))
        finally:
            reader.close()
        hasher = new_hasher(algorithm)
        hasher.update(first)
        return dataclasses.replace(result, value=hasher.digest())


class CorruptsTheLastByteOfCopies(LocalStorage):
    """Copies a file with its last byte flipped: same size, same time, other bytes."""

    def copy_file(self, source: Any, directory: Any, name: str, *args: Any, **kwargs: Any) -> None:
        super().copy_file(source, directory, name, *args, **kwargs)
        copy = os.path.join(self.root, *directory, name)
        info = os.stat(copy)
        if info.st_size:
            with open(copy, "r+b") as file:
                file.seek(-1, os.SEEK_END)
                last = file.read(1)
                file.seek(-1, os.SEEK_END)
                file.write(bytes([last[0] ^ 0xFF]))
            os.utime(copy, ns=(info.st_atime_ns, info.st_mtime_ns))


class AnswersOversizeMessages(Server):
    """Does not limit the size of messages, so it answers the ones it must drop."""

    def _configure(self, socket: zmq.Socket[Any]) -> None:
        super()._configure(socket)
        socket.setsockopt(zmq.MAXMSGSIZE, -1)
        self._max_message_size = 1 << 62  # and no check of whole messages either


def _drop_malformed(frames: list[bytes]) -> list[bytes] | None:
    """Drop what does not parse as a Request of some kind, instead of answering it."""
    if len(frames) < 2 or frames[0] != b"":
        return None
    request = pb.Request()
    try:
        request.ParseFromString(frames[1])
    except DecodeError:
        return None
    return frames if request.WhichOneof("kind") else None


class _StopsAfterMalformed:
    """Relays until the first malformed message, then never answers anything again."""

    def __init__(self) -> None:
        self.dead = False

    def __call__(self, frames: list[bytes]) -> list[bytes] | None:
        if self.dead or _drop_malformed(frames) is None:
            self.dead = True
            return None
        return frames


# -- a server of protocol 1.0 -------------------------------------------------------------------------

#: Request kinds protocol 1.1 added; a server of 1.0 sees a Request without a kind.
KINDS_OF_1_1 = ("move_file", "copy_file", "file_digest")


def _as_1_0_request(frames: list[bytes]) -> list[bytes]:
    """What a server of protocol 1.0 understands of a request: no kind of 1.1, and no
    conflict_mode (an unknown field, ignored)."""
    if len(frames) < 2:
        return frames
    request = pb.Request()
    try:
        request.ParseFromString(frames[1])
    except DecodeError:
        return frames
    kind = request.WhichOneof("kind")
    if kind in KINDS_OF_1_1:
        request.ClearField(kind)  # type: ignore[arg-type]
    elif kind == "upload_file":
        request.upload_file.ClearField("conflict_mode")
    else:
        return frames
    return [frames[0], request.SerializeToString(), *frames[2:]]


def _as_1_0_reply(frames: list[bytes]) -> list[bytes]:
    """SessionOpened as a server of protocol 1.0 sends it: without features."""
    if len(frames) < 2:
        return frames
    response = pb.Response()
    try:
        response.ParseFromString(frames[1])
    except DecodeError:
        return frames
    if not response.HasField("session_opened"):
        return frames
    response.session_opened.ClearField("features")
    return [frames[0], response.SerializeToString(), *frames[2:]]


@contextlib.contextmanager
def protocol_1_0_server(root: Path) -> Iterator[RunningServer]:
    """Our server as a server of protocol 1.0 looks to a client: no features announced,
    the requests of 1.1 malformed (2.2.3/3) and conflict modes ignored (SPEC 8.5)."""
    with running_server(root) as server:
        proxy = RewritingProxy(server.endpoint, _as_1_0_request, _as_1_0_reply)
        try:
            yield RunningServer(proxy.endpoint, root, server.server)
        finally:
            proxy.close()


# -- a server of protocol 1.1 -------------------------------------------------------------------------

#: Request kinds protocol 1.2 added; a server of 1.1 sees a Request without a kind.
KINDS_OF_1_2 = ("upload_files", "download_files")


def _as_1_1_request(frames: list[bytes]) -> list[bytes]:
    """What a server of protocol 1.1 understands of a request: no kind of 1.2."""
    if len(frames) < 2:
        return frames
    request = pb.Request()
    try:
        request.ParseFromString(frames[1])
    except DecodeError:
        return frames
    kind = request.WhichOneof("kind")
    if kind not in KINDS_OF_1_2:
        return frames
    request.ClearField(kind)  # type: ignore[arg-type]
    return [frames[0], request.SerializeToString(), *frames[2:]]


def _as_1_1_reply(frames: list[bytes]) -> list[bytes]:
    """SessionOpened as a server of protocol 1.1 sends it: without FEATURE_BATCH."""
    if len(frames) < 2:
        return frames
    response = pb.Response()
    try:
        response.ParseFromString(frames[1])
    except DecodeError:
        return frames
    if not response.HasField("session_opened"):
        return frames
    features = [f for f in response.session_opened.features if f != pb.FEATURE_BATCH]
    del response.session_opened.features[:]
    response.session_opened.features.extend(features)
    return [frames[0], response.SerializeToString(), *frames[2:]]


@contextlib.contextmanager
def protocol_1_1_server(root: Path) -> Iterator[RunningServer]:
    """Our server as a server of protocol 1.1 looks to a client: every feature but
    FEATURE_BATCH announced, and the requests of 1.2 malformed (2.2.3/3, SPEC 8.5)."""
    with running_server(root) as server:
        proxy = RewritingProxy(server.endpoint, _as_1_1_request, _as_1_1_reply)
        try:
            yield RunningServer(proxy.endpoint, root, server.server)
        finally:
            proxy.close()


# -- the catalogue of faults --------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    name: str
    #: Sections the suite runs against this server.
    sections: tuple[str, ...]
    #: The case that must fail.
    caught_by: str
    start: Callable[[Path], contextlib.AbstractContextManager[RunningServer]]


def _swap(**pieces: Any) -> Callable[[Path], contextlib.AbstractContextManager[RunningServer]]:
    def start(root: Path) -> contextlib.AbstractContextManager[RunningServer]:
        return running_server(root, **pieces)

    return start


def _proxied(
    make_filter: Callable[[], Callable[[list[bytes]], list[bytes] | None]],
) -> Callable[[Path], Any]:
    @contextlib.contextmanager
    def start(root: Path) -> Iterator[RunningServer]:
        with running_server(root) as server:
            proxy = RewritingProxy(server.endpoint, on_request=make_filter())
            try:
                yield RunningServer(proxy.endpoint, root, server.server)
            finally:
                proxy.close()

    return start


FAULTS = (
    Fault(
        "stays-busy-after-cancel",
        ("4.12",),
        "4.12/UPLOAD/CANCEL_TRANSFER/1",
        _swap(handler_class=StaysBusyAfterCancel),
    ),
    Fault(
        "accepts-any-chunk-size",
        ("4.9.2",),
        "4.9.2/UPLOAD/SEND_CHUNK/4",
        _swap(handler_class=AcceptsAnyChunkSize),
    ),
    Fault(
        "refused-instead-of-error",
        ("4.13/IDLE",),
        "4.13/IDLE/SEND_CHUNK/1",
        _swap(handler_class=RefusesInsteadOfError),
    ),
    Fault(
        "ignores-digest",
        ("4.9.2",),
        "4.9.2/UPLOAD/SEND_CHUNK/3",
        _swap(handler_class=IgnoresDigest),
    ),
    Fault(
        "ignores-digest-algorithm",
        ("7.2",),
        "7.2/3",
        _swap(handler_class=IgnoresDigestAlgorithm),
    ),
    Fault(
        "ignores-download-offset",
        ("4.10.1",),
        "4.10.1/IDLE/DOWNLOAD_FILE/4",
        _swap(handler_class=IgnoresDownloadOffset),
    ),
    Fault(
        "lists-staging",
        ("4.6/UPLOAD",),
        "4.6/UPLOAD/LIST_FILES/1",
        _swap(storage_factory=ListsStaging),
    ),
    Fault("admits-second-client", ("3.3",), "3.3/1", _swap(gate_class=AdmitsSecondClient)),
    Fault("follows-links-out", ("4.5.2",), "4.5.2/1", _swap(storage_factory=FollowsLinksOut)),
    Fault(
        "follows-links-out-when-writing",
        ("4.5.2",),
        "4.5.2/1",
        _swap(storage_factory=FollowsLinksOutWhenWriting),
    ),
    Fault("ignores-upload-time", ("4.9.2/1",), "4.9.2/1", _swap(handler_class=IgnoresUploadTime)),
    Fault(
        "truncated-when-page-full",
        ("4.6/IDLE/LIST_FILES/1",),
        "4.6/IDLE/LIST_FILES/1",
        _swap(handler_class=TruncatedWhenPageFull),
    ),
    Fault(
        "discards-staged-data-when-sessions-end",
        ("3.4/2", "7.1/1"),
        "7.1/1",
        _swap(handler_class=DiscardsStagedDataWhenSessionsEnd),
    ),
    Fault("leaks-host-paths", ("4.1.4",), "4.1.4/1", _swap(handler_class=LeaksHostPaths)),
    Fault(
        "sorts-ignoring-case",
        ("4.6/IDLE/LIST_FILES/1",),
        "4.6/IDLE/LIST_FILES/1",
        _swap(handler_class=SortsIgnoringCase),
    ),
    Fault(
        "sorts-by-path-components",
        ("4.6/IDLE/LIST_FILES/1",),
        "4.6/IDLE/LIST_FILES/1",
        _swap(handler_class=SortsByPathComponents),
    ),
    Fault("normalizes-names", ("4.4",), "4.4/3", _swap(handler_class=NormalizesNames)),
    Fault("accepts-any-token", ("3.1",), "3.1/1", _swap(gate_class=AcceptsAnyToken)),
    Fault("never-expires", ("3.4/2",), "3.4/2", _swap(gate_class=NeverExpires)),
    Fault(
        "compares-tokens-ignoring-case",
        ("3.1",),
        "3.1/1",
        _swap(gate_class=ComparesTokensIgnoringCase),
    ),
    Fault("forgets-ended-sessions", ("3.7",), "3.7/2", _swap(gate_class=ForgetsEndedSessions)),
    Fault("ignores-client-key", ("3.7",), "3.7/1", _swap(gate_class=IgnoresClientKey)),
    Fault("any-client-key-takes-over", ("3.7",), "3.7/1", _swap(gate_class=AnyClientKeyTakesOver)),
    Fault(
        "answers-oversize-messages",
        ("2.4/1",),
        "2.4/1",
        _swap(server_class=AnswersOversizeMessages),
    ),
    Fault("silent-on-malformed", ("2.2.3",), "2.2.3/2", _proxied(lambda: _drop_malformed)),
    Fault(
        "deletes-before-replacing",
        ("4.5.5",),
        "4.5.5/1",
        _swap(handler_class=DeletesBeforeReplacing),
    ),
    Fault("moves-over-taken-names", ("4.14",), "4.14/3", _swap(handler_class=MovesOverTakenNames)),
    Fault("digests-one-read", ("4.16",), "4.16/1", _swap(storage_factory=DigestsOneRead)),
    Fault(
        "corrupts-the-last-byte-of-copies",
        ("4.15",),
        "4.15/1",
        _swap(storage_factory=CorruptsTheLastByteOfCopies),
    ),
    Fault(
        "moves-by-copying", ("4.14",), "4.14/IDLE/MOVE_FILE/1", _swap(handler_class=MovesByCopying)
    ),
    Fault(
        "answers-batches-out-of-order",
        ("4.17/3",),
        "4.17/3",
        _swap(handler_class=AnswersBatchesOutOfOrder),
    ),
    Fault(
        "answers-download-batches-out-of-order",
        ("4.18/1",),
        "4.18/1",
        _swap(handler_class=AnswersBatchesOutOfOrder),
    ),
    Fault("trusts-batch-digests", ("4.17/2",), "4.17/2", _swap(handler_class=TrustsBatchDigests)),
    Fault(
        "stores-batches-file-by-file",
        ("4.17/8",),
        "4.17/8",
        _swap(handler_class=StoresBatchesFileByFile),
    ),
    Fault(
        "stores-batches-file-by-file-row",
        ("4.17/IDLE/UPLOAD_FILES/3",),
        "4.17/IDLE/UPLOAD_FILES/3",
        _swap(handler_class=StoresBatchesFileByFile),
    ),
    Fault("ignores-batch-times", ("4.17/1",), "4.17/1", _swap(handler_class=IgnoresBatchTimes)),
    Fault(
        "sends-batches-uncompressed",
        ("4.18/5",),
        "4.18/5",
        _swap(handler_class=SendsBatchesUncompressed),
    ),
    Fault(
        "omits-empty-batch-data", ("2.2.2",), "2.2.2/1", _swap(handler_class=OmitsEmptyBatchData)
    ),
)

#: A server that stops answering altogether: every case after the culprit fails unrun.
STOPS_ANSWERING = Fault(
    "stops-after-malformed", ("2.2.3/1", "3.2"), "2.2.3/1", _proxied(_StopsAfterMalformed)
)
