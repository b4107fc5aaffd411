"""Random request sequences checked against a model of the spec (hypothesis stateful).

:class:`ProtocolModel` predicts, from the transition table and a model of the tree the
sequence works in, every reply the server may give; the state machine that hypothesis
drives sends valid and invalid requests in random order, and fails at the first reply
outside the predicted set. Hypothesis then shrinks the sequence, and the transcript of
the last run, the minimal failing sequence, is what the report shows.

Run it from the command line (``--stateful-examples N``) or from pytest with
:func:`run_sequences`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    precondition,
    rule,
    run_state_machine_as_test,
)
from remofile.conformance import messages
from remofile.conformance.batches import (
    BatchEntry,
    FileOutcome,
    digest_value,
    downloaded_check,
    refused_file,
    sent,
    stored,
    upload_request,
    uploaded_check,
)
from remofile.conformance.case import Case
from remofile.conformance.context import CaseContext
from remofile.conformance.expect import Accept, CaseFailure, accepted, bad_request, refused
from remofile.conformance.model import TreeModel, join, listing_check
from remofile.conformance.scenarios import (
    chunk_offset_check,
    chunk_size_for,
    content_of,
    digest_check,
    file_digest_check,
    transfer_accepted_check,
)
from remofile.conformance.session import Session
from remofile.conformance.spec import is_valid_file_name, path_components, reason_name
from remofile.conformance.transcript import Transcript
from remofile.conformance.wire import DELIMITER, Reply
from remofile.core.digests import effective_algorithm
from remofile.core.transitions import TRANSITIONS, RequestKind, State
from remofile.v1 import remofile_pb2 as pb

#: Examples the command line runs unless told otherwise.
DEFAULT_EXAMPLES = 25

#: Requests in one example at most.
STEPS_PER_EXAMPLE = 30

#: Directories made in every example's own directory before the sequence starts.
START_DIRECTORIES = ("d", "d/e")

#: Files uploaded there too, with their size in chunks.
START_FILES = (("f", 1.5), ("d/g.txt", 0.5))

#: Directories (relative to the example's) that requests name; some are files or missing.
DIRECTORIES = ("", "", "d", "d/e", "f", "missing")

#: Names that requests propose, most of them taken at the start; two are invalid (4.4).
NAMES = ("a", "b.txt", "d", "e", "f", "g.txt", "", ".remofile-z")

#: Paths (relative to the example's) that downloads name, the file there at the start
#: most often.
DOWNLOAD_PATHS = (
    "f",
    "f",
    "f",
    "d/g.txt",
    "a",
    "b.txt",
    "d/a",
    "d",
    "missing",
    "f/x",
    ".remofile-z",
)

#: Paths that removals name.
REMOVE_PATHS = ("a", "b.txt", "d/a", "d/g.txt", "d/e", "d", "f", "missing", "f/x", ".remofile-z")

#: Entries that moves and copies name as their source; "" is the example's own directory.
SOURCES = ("f", "f", "d/g.txt", "d", "d/e", "a", "b.txt", "missing", "f/x", ".remofile-z", "")

#: Digest algorithms FILE_DIGEST asks for; 99 is one no version defines.
DIGEST_ALGORITHMS = (
    pb.DIGEST_ALGORITHM_UNSPECIFIED,
    pb.DIGEST_ALGORITHM_SHA256,
    pb.DIGEST_ALGORITHM_BLAKE3,
    99,
)

#: Upload sizes, in chunks.
UPLOAD_CHUNKS = (0.0, 0.5, 1.0, 1.5, 2.5)

#: Files one UPLOAD_FILES or DOWNLOAD_FILES of a sequence names at most.
BATCH_FILES = 4

#: The refusals of a directory that is not one (4.5.3).
DIRECTORY_FAULTS = {"FILE_NOT_FOUND", "NOT_A_DIRECTORY"}

#: Digests of the files of an upload batch: mostly right, sometimes wrong.
BATCH_DIGESTS = ("right", "right", "right", "wrong")

#: Chunk variants of SEND_CHUNK: mostly right, sometimes wrong.
CHUNK_VARIANTS = (
    "right",
    "right",
    "right",
    "right",
    "wrong offset",
    "short",
    "long",
    "wrong digest",
)


@dataclass
class UploadModel:
    path: str
    content: bytes
    offset: int = 0


@dataclass
class DownloadModel:
    content: bytes
    offset: int


@dataclass
class ProtocolModel:
    """What the spec says the server holds: the tree below the example, and the state."""

    chunk_size: int
    tree: TreeModel = field(default_factory=TreeModel)
    state: State = State.IDLE
    upload: UploadModel | None = None
    download: DownloadModel | None = None

    def allowed(self, kind: RequestKind) -> bool:
        return (self.state, kind) in TRANSITIONS

    def directory_refusal(self, directory: str) -> Accept | None:
        """The refusal for a directory argument that is not a directory (4.5.3)."""
        if self.tree.is_directory(directory):
            return None
        if self.tree.is_file(directory):
            return refused("NOT_A_DIRECTORY")
        return refused("FILE_NOT_FOUND")

    def reset(self) -> None:
        self.state = State.IDLE
        self.upload = None
        self.download = None


@dataclass
class Binding:
    """What the state machine needs from its runner."""

    #: Opens a session (HELLO done) on a fresh socket that records into a transcript.
    open_session: Callable[[Transcript], Session]
    #: Directory under which each example makes its own.
    directory: str
    limits: pb.SessionOpened
    token: str
    #: The transcript of the last example run: after a failure, the minimal one.
    last_transcript: Transcript | None = None
    examples_run: int = 0


def machine_for(binding: Binding) -> type[RuleBasedStateMachine]:
    """A state machine class bound to a server, for hypothesis to run.

    Rules that start work run in IDLE, rules that continue a transfer run in its
    state, and two rules send what must be refused whatever the state: a request that
    is illegal in the current state (4.13) and a malformed message (2.2.3).
    """

    def in_state(*states: State) -> Callable[[Any], bool]:
        return lambda machine: machine.model.state in states

    class ProtocolSequences(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            binding.examples_run += 1
            self.transcript = Transcript(binding.token)
            binding.last_transcript = self.transcript
            self.session = binding.open_session(self.transcript)
            self.model = ProtocolModel(chunk_size_for(binding.limits))
            self.abandoned: list[pb.Request] = []
            name = f"e{binding.examples_run}"
            self.base = f"{binding.directory}/{name}"
            self._set_up(messages.make_directory(binding.directory, name), "DIRECTORY_CREATED")
            for directory in START_DIRECTORIES:
                parent, _, leaf = directory.rpartition("/")
                self._set_up(
                    messages.make_directory(self.remote(parent), leaf), "DIRECTORY_CREATED"
                )
                self.model.tree.add_directory(directory)
            for path, size in START_FILES:
                self._upload_at_set_up(path, content_of(int(size * self.model.chunk_size), path))

        def _set_up(self, request: pb.Request, reason: str, data: bytes | None = None) -> None:
            self.session.call(request, [accepted(reason)], "set-up of the example", data)

        def _upload_at_set_up(self, path: str, content: bytes) -> None:
            directory, _, name = path.rpartition("/")
            chunk = self.model.chunk_size
            self._set_up(
                messages.upload_file(self.remote(directory), name, len(content), chunk),
                "TRANSFER_ACCEPTED",
            )
            for offset in range(0, max(len(content), 1), chunk):
                last = offset + chunk >= len(content)
                digest = messages.digest_of(content) if last else None
                self._set_up(
                    messages.send_chunk(offset, digest),
                    "TRANSFER_COMPLETED" if last else "CHUNK_ACCEPTED",
                    content[offset : offset + chunk],
                )
            self.model.tree.add_file(path, content)

        def remote(self, relative: str) -> str:
            return join(self.base, relative) if relative else self.base

        def call(
            self, request: pb.Request, accept: list[Accept], data: bytes | None = None
        ) -> Reply:
            what = messages.kind_of(request).upper()
            return self.session.call(request, accept, f"{what} in {self.model.state.name}", data)

        def _new_entry_refusal(
            self, directory: str, name: str, replace: bool = False
        ) -> Accept | None:
            """The refusal a new entry gets, checks in the order of 4.7 and 4.9.1; with
            REPLACE a taken name is refused only if a directory has it (4.5.5)."""
            if not is_valid_file_name(name):
                return refused("INVALID_FILE_NAME")
            refusal = self.model.directory_refusal(directory)
            if refusal is not None:
                return refusal
            return self._taken_refusal(join(directory, name), replace)

        def _taken_refusal(self, destination: str, replace: bool) -> Accept | None:
            """The refusal of a taken destination name (4.5.5), or None if it may be used."""
            tree = self.model.tree
            if not tree.exists(destination):
                return None
            if not replace:
                return refused("FILE_ALREADY_EXISTS")
            if tree.is_directory(destination):
                return refused("NOT_A_FILE")
            return None

        def has(self, feature: int) -> bool:
            return feature in binding.limits.features

        # -- allowed in every state -------------------------------------------------

        @rule(directory=st.sampled_from(DIRECTORIES), recursive=st.booleans())
        def list_files(self, directory: str, recursive: bool) -> None:
            request = messages.list_files(self.remote(directory), recursive)
            refusal = self.model.directory_refusal(directory)
            if refusal is not None:
                self.call(request, [refusal])
                return
            expected = self.model.tree.listing(directory, recursive)
            names = [entry.name for entry in expected]
            self.call(request, [accepted("FILES_LISTED", listing_check(expected), f"{names}")])

        @rule(data=st.data())
        def illegal(self, data: st.DataObject) -> None:
            """A request the table does not allow in the current state (4.13)."""
            kinds = [kind for kind in RequestKind if not self.model.allowed(kind)]
            kind = data.draw(st.sampled_from(kinds), label="kind")
            request, frame = self._plausible(kind)
            self.call(request, [bad_request(f"illegal in {self.model.state.name}")], frame)

        def _plausible(self, kind: RequestKind) -> tuple[pb.Request, bytes | None]:
            """A request of ``kind`` that would be carried out where it is allowed."""
            chunk = self.model.chunk_size
            requests: dict[RequestKind, tuple[pb.Request, bytes | None]] = {
                RequestKind.CREATE_FILE: (messages.create_file(self.base, "illegal.txt"), None),
                RequestKind.MAKE_DIRECTORY: (messages.make_directory(self.base, "illegal"), None),
                RequestKind.UPLOAD_FILE: (
                    messages.upload_file(self.base, "illegal.bin", 10, chunk),
                    None,
                ),
                RequestKind.SEND_CHUNK: (messages.send_chunk(0), content_of(chunk, "stray")),
                RequestKind.DOWNLOAD_FILE: (messages.download_file(self.remote("f"), chunk), None),
                RequestKind.RECEIVE_CHUNK: (messages.receive_chunk(), None),
                RequestKind.CANCEL_TRANSFER: (messages.cancel_transfer(), None),
                RequestKind.REMOVE_FILE: (messages.remove_file(self.remote("f")), None),
                RequestKind.CONTINUE_REMOVAL: (messages.continue_removal(), None),
                RequestKind.MOVE_FILE: (
                    messages.move_file(self.remote("f"), self.base, "illegal-move"),
                    None,
                ),
                RequestKind.COPY_FILE: (
                    messages.copy_file(self.remote("f"), self.base, "illegal-copy"),
                    None,
                ),
                RequestKind.FILE_DIGEST: (messages.file_digest(self.remote("f")), None),
                RequestKind.UPLOAD_FILES: upload_request(
                    [BatchEntry(self.base, "illegal-batch.bin", b"stray batch")]
                ),
                RequestKind.DOWNLOAD_FILES: (messages.download_files([self.remote("f")]), None),
            }
            return requests[kind]

        @rule(kind=st.sampled_from(("relative", "dot-dot", "garbage", "no kind")))
        def malformed(self, kind: str) -> None:
            """A path that breaks 4.5.1, or a message that breaks 2.2.3: nothing changes."""
            if kind == "relative":
                self.call(messages.list_files(self.base.lstrip("/")), [bad_request("not absolute")])
            elif kind == "dot-dot":
                self.call(messages.list_files(self.base + "/d/.."), [bad_request("holds '..'")])
            else:
                frame = (
                    b"\xff\xfe\xfd"
                    if kind == "garbage"
                    else messages.raw_request(binding.token, self.session.session_id)
                )
                self.session.connection.send_frames([DELIMITER, frame], note=f"malformed: {kind}")
                self.session.receive(
                    pb.Request(), [bad_request("malformed")], f"{kind} in {self.model.state.name}"
                )

        # -- IDLE ---------------------------------------------------------------------

        @precondition(in_state(State.IDLE))
        @rule(
            directory=st.sampled_from(DIRECTORIES),
            name=st.sampled_from(NAMES),
            directory_kind=st.booleans(),
        )
        def create(self, directory: str, name: str, directory_kind: bool) -> None:
            build = messages.make_directory if directory_kind else messages.create_file
            request = build(self.remote(directory), name)
            refusal = self._new_entry_refusal(directory, name)
            if refusal is not None:
                self.call(request, [refusal])
                return
            self.call(
                request, [accepted("DIRECTORY_CREATED" if directory_kind else "FILE_CREATED")]
            )
            if directory_kind:
                self.model.tree.add_directory(join(directory, name))
            else:
                self.model.tree.add_file(join(directory, name))

        @precondition(in_state(State.IDLE))
        @rule(
            directory=st.sampled_from(DIRECTORIES),
            name=st.sampled_from(NAMES),
            chunks=st.sampled_from(UPLOAD_CHUNKS),
            replace=st.booleans(),
        )
        def upload_file(self, directory: str, name: str, chunks: float, replace: bool) -> None:
            chunk = self.model.chunk_size
            replace = replace and self.has(pb.FEATURE_REPLACE)
            mode = pb.CONFLICT_MODE_REPLACE if replace else pb.CONFLICT_MODE_UNSPECIFIED
            content = content_of(int(chunks * chunk), f"{directory}/{name}/{chunks}")
            request = messages.upload_file(
                self.remote(directory), name, len(content), chunk, conflict_mode=mode
            )
            refusal = self._new_entry_refusal(directory, name, replace)
            if refusal is not None:
                self.call(request, [refusal])
                return
            check = transfer_accepted_check(len(content), chunk, range(1), pb.COMPRESSION_NONE)
            self.call(request, [accepted("TRANSFER_ACCEPTED", check, "offset 0")])
            self.model.state = State.UPLOAD
            self.model.upload = UploadModel(join(directory, name), content)
            resume = messages.upload_file(
                self.remote(directory), name, len(content), chunk, True, conflict_mode=mode
            )
            self.abandoned.append(resume)

        @precondition(in_state(State.IDLE))
        @rule(
            path=st.sampled_from(DOWNLOAD_PATHS),
            offset=st.sampled_from(("start", "start", "one", "end", "past the end")),
        )
        def download_file(self, path: str, offset: str) -> None:
            directory = path.rpartition("/")[0]
            tree = self.model.tree
            size = len(tree.content(path)) if tree.is_file(path) else 0
            start = {"start": 0, "one": 1, "end": size, "past the end": size + 1}[offset]
            chunk = self.model.chunk_size
            request = messages.download_file(self.remote(path), chunk, start)
            if path_components(self.remote(path)) is None:
                self.call(request, [bad_request("a reserved name in the path (4.5.1)")])
            elif not tree.exists(path) or not tree.is_directory(directory):
                self.call(request, [refused("FILE_NOT_FOUND")])
            elif tree.is_directory(path):
                self.call(request, [refused("NOT_A_FILE")])
            elif start > size:
                self.call(request, [refused("INCORRECT_FILE_SIZE")])
            else:
                check = transfer_accepted_check(
                    size, chunk, range(start, start + 1), pb.COMPRESSION_NONE
                )
                self.call(request, [accepted("TRANSFER_ACCEPTED", check, f"offset {start}")])
                self.model.state = State.DOWNLOAD
                self.model.download = DownloadModel(tree.content(path), start)

        @precondition(in_state(State.IDLE))
        @rule(path=st.sampled_from(REMOVE_PATHS))
        def remove_file(self, path: str) -> None:
            directory = path.rpartition("/")[0]
            request = messages.remove_file(self.remote(path))
            tree = self.model.tree
            if path_components(self.remote(path)) is None:
                self.call(request, [bad_request("a reserved name in the path (4.5.1)")])
            elif not tree.exists(path) or (directory and not tree.is_directory(directory)):
                self.call(request, [refused("FILE_NOT_FOUND")])
            elif tree.is_file(path) or tree.beneath(path) == 0:
                self.call(request, [accepted("FILE_REMOVED")])
                tree.remove(path)
            else:
                total = tree.beneath(path)

                def started(reply: Reply) -> str | None:
                    progress = reply.response.removal
                    if (progress.removed, progress.remaining) != (0, total):
                        return (
                            f"removal is {progress.removed} removed, {progress.remaining} "
                            f"remaining; expected 0 and {total}"
                        )
                    return None

                note = f"0 removed, {total} remaining"
                self.call(request, [accepted("REMOVAL_STARTED", started, note)])
                tree.remove(path)
                self.model.state = State.DELETE

        def _source_refusal(self, source: str, directory: str, name: str) -> Accept | None:
            """Checks 1 to 3 of MOVE_FILE and COPY_FILE: paths, name, source (4.14, 4.15)."""
            if path_components(self.remote(source)) is None:
                return bad_request("a reserved name in the path (4.5.1)")
            if path_components(self.remote(directory)) is None:
                return bad_request("a reserved name in the path (4.5.1)")
            if not is_valid_file_name(name):
                return refused("INVALID_FILE_NAME")
            parent = source.rpartition("/")[0]
            if not self.model.tree.exists(source) or not self.model.tree.is_directory(parent):
                return refused("FILE_NOT_FOUND")
            return None

        @precondition(lambda machine: machine.model.state is State.IDLE)
        @precondition(lambda machine: machine.has(pb.FEATURE_MOVE))
        @rule(
            source=st.sampled_from(SOURCES),
            directory=st.sampled_from(DIRECTORIES),
            name=st.sampled_from(NAMES),
            replace=st.booleans(),
        )
        def move_file(self, source: str, directory: str, name: str, replace: bool) -> None:
            mode = pb.CONFLICT_MODE_REPLACE if replace else pb.CONFLICT_MODE_UNSPECIFIED
            request = messages.move_file(self.remote(source), self.remote(directory), name, mode)
            tree = self.model.tree
            destination = join(directory, name)
            refusal = self._source_refusal(source, directory, name)
            if refusal is None:
                refusal = self.model.directory_refusal(directory)
            inside = directory == source or directory.startswith(source + "/") or not source
            if refusal is None and tree.is_directory(source) and inside:
                refusal = refused("INVALID_DESTINATION")
            if refusal is None and destination == source and replace:
                if tree.is_directory(source):
                    # 4.14 check 6 says NOT_A_FILE, its last paragraph says accepted.
                    self.call(request, [refused("NOT_A_FILE"), accepted("FILE_MOVED")])
                else:
                    self.call(request, [accepted("FILE_MOVED")])
                return
            if refusal is None:
                refusal = self._taken_refusal(destination, replace)
            if (
                refusal is None
                and replace
                and tree.is_directory(source)
                and tree.exists(destination)
            ):
                refusal = refused("FILE_ALREADY_EXISTS")  # a directory replaces nothing
            if refusal is not None:
                self.call(request, [refusal])
                return
            self.call(request, [accepted("FILE_MOVED")])
            tree.move(source, destination)

        @precondition(lambda machine: machine.model.state is State.IDLE)
        @precondition(lambda machine: machine.has(pb.FEATURE_COPY))
        @rule(
            source=st.sampled_from(SOURCES),
            directory=st.sampled_from(DIRECTORIES),
            name=st.sampled_from(NAMES),
            replace=st.booleans(),
        )
        def copy_file(self, source: str, directory: str, name: str, replace: bool) -> None:
            mode = pb.CONFLICT_MODE_REPLACE if replace else pb.CONFLICT_MODE_UNSPECIFIED
            request = messages.copy_file(self.remote(source), self.remote(directory), name, mode)
            tree = self.model.tree
            destination = join(directory, name)
            refusal = self._source_refusal(source, directory, name)
            if refusal is None and not tree.is_file(source):
                refusal = refused("NOT_A_FILE")
            if refusal is None:
                refusal = self.model.directory_refusal(directory)
            if refusal is None:
                refusal = self._taken_refusal(destination, replace)
            if refusal is not None:
                self.call(request, [refusal])
                return
            self.call(request, [accepted("FILE_COPIED")])
            tree.add_file(destination, tree.content(source))

        @precondition(lambda machine: machine.model.state is State.IDLE)
        @precondition(lambda machine: machine.has(pb.FEATURE_FILE_DIGEST))
        @rule(path=st.sampled_from(DOWNLOAD_PATHS), algorithm=st.sampled_from(DIGEST_ALGORITHMS))
        def file_digest(self, path: str, algorithm: int) -> None:
            request = messages.file_digest(self.remote(path), algorithm)
            tree = self.model.tree
            directory = path.rpartition("/")[0]
            if path_components(self.remote(path)) is None:
                self.call(request, [bad_request("a reserved name in the path (4.5.1)")])
            elif not tree.exists(path) or not tree.is_directory(directory):
                self.call(request, [refused("FILE_NOT_FOUND")])
            elif not tree.is_file(path):
                self.call(request, [refused("NOT_A_FILE")])
            elif effective_algorithm(algorithm) not in binding.limits.digest_algorithms:
                self.call(request, [refused("UNSUPPORTED_FEATURE")])
            else:
                check = file_digest_check(tree.content(path), algorithm)
                self.call(request, [accepted("FILE_DIGESTED", check)])

        @precondition(lambda machine: machine.model.state is State.IDLE)
        @precondition(lambda machine: machine.has(pb.FEATURE_BATCH))
        @rule(
            files=st.lists(
                st.tuples(
                    st.sampled_from(DIRECTORIES),
                    st.sampled_from(NAMES),
                    st.sampled_from(UPLOAD_CHUNKS),
                    st.sampled_from(BATCH_DIGESTS),
                ),
                min_size=1,
                max_size=BATCH_FILES,
                unique_by=lambda file: join(file[0], file[1]),
            ),
            replace=st.booleans(),
        )
        def upload_files(self, files: list[tuple[str, str, float, str]], replace: bool) -> None:
            """A batch of whole files, each judged on its own (4.17); destinations differ,
            as the order in which one batch's files appear is not given."""
            replace = replace and self.has(pb.FEATURE_REPLACE)
            mode = pb.CONFLICT_MODE_REPLACE if replace else pb.CONFLICT_MODE_UNSPECIFIED
            entries: list[BatchEntry] = []
            outcomes: list[FileOutcome] = []
            placed: list[tuple[str, bytes]] = []
            for directory, name, chunks, digest in files:
                content = content_of(int(chunks * self.model.chunk_size), f"{directory}/{name}")
                wrong = digest_value(content + b"+", 0) if digest == "wrong" else None
                entries.append(BatchEntry(self.remote(directory), name, content, digest=wrong))
                if not is_valid_file_name(name):
                    refusal: Accept | None = refused("INVALID_FILE_NAME")
                elif wrong is not None:
                    refusal = refused("DIGEST_MISMATCH")
                else:
                    refusal = self._new_entry_refusal(directory, name, replace)
                if refusal is None:
                    outcomes.append(stored())
                    placed.append((join(directory, name), content))
                else:
                    outcomes.append(refused_file(reason_name(refusal.reason)))
            # A directory that another file of the batch creates is missing before it
            # appears and a file after: either answer (4.17, files appear in no order).
            destinations = {path for path, _ in placed}
            for index, (directory, *_) in enumerate(files):
                if directory in destinations and set(outcomes[index].reasons) <= DIRECTORY_FAULTS:
                    outcomes[index] = refused_file("FILE_NOT_FOUND", "NOT_A_DIRECTORY")
            request, data = upload_request(entries, conflict_mode=mode)
            note = ", ".join(outcome.describe() for outcome in outcomes)
            check = uploaded_check(outcomes, pb.COMPRESSION_UNSPECIFIED, 0)
            self.call(request, [accepted("FILES_UPLOADED", check, note)], data)
            for path, content in placed:
                self.model.tree.add_file(path, content)

        @precondition(lambda machine: machine.model.state is State.IDLE)
        @precondition(lambda machine: machine.has(pb.FEATURE_BATCH))
        @rule(paths=st.lists(st.sampled_from(DOWNLOAD_PATHS), min_size=1, max_size=BATCH_FILES))
        def download_files(self, paths: list[str]) -> None:
            """A batch of whole files: each sent or refused on its own, in order (4.18)."""
            request = messages.download_files([self.remote(path) for path in paths])
            if any(path_components(self.remote(path)) is None for path in paths):
                self.call(request, [bad_request("a reserved name in a path (4.5.1)")])
                return
            tree = self.model.tree
            outcomes: list[FileOutcome] = []
            for path in paths:
                directory = path.rpartition("/")[0]
                if not tree.exists(path) or not tree.is_directory(directory):
                    outcomes.append(refused_file("FILE_NOT_FOUND"))
                elif tree.is_directory(path):
                    outcomes.append(refused_file("NOT_A_FILE"))
                else:
                    outcomes.append(sent(tree.content(path)))
            note = ", ".join(outcome.describe() for outcome in outcomes)
            limit = binding.limits.max_chunk_size
            check = downloaded_check(outcomes, pb.COMPRESSION_UNSPECIFIED, 0, limit)
            self.call(request, [accepted("FILES_DOWNLOADED", check, note)])

        # -- UPLOAD, DOWNLOAD, DELETE -----------------------------------------------------

        @precondition(in_state(State.UPLOAD))
        @rule(variant=st.sampled_from(CHUNK_VARIANTS))
        def send_chunk(self, variant: str) -> None:
            upload = self.model.upload
            assert upload is not None
            chunk = self.model.chunk_size
            size = min(chunk, len(upload.content) - upload.offset)
            data = upload.content[upload.offset : upload.offset + size]
            last = upload.offset + size == len(upload.content)
            if variant == "wrong digest" and not last:
                variant = "right"
            if variant == "short" and size == 0:
                variant = "long"
            digest = messages.digest_of(upload.content) if last else None
            offset = upload.offset
            if variant == "wrong offset":
                offset += chunk
            elif variant == "short":
                data = data[:-1]
            elif variant == "long":
                data += b"+"
            elif variant == "wrong digest":
                digest = messages.digest_of(upload.content + b"+")
            request = messages.send_chunk(offset, digest)
            if variant in ("wrong offset", "short", "long"):
                self.call(request, [bad_request("the upload is abandoned")], data)
                self.model.reset()
            elif variant == "wrong digest":
                self.call(request, [refused("DIGEST_MISMATCH")], data)
                self.model.reset()
            elif last:
                completed = accepted("TRANSFER_COMPLETED", chunk_offset_check(offset))
                self.call(request, [completed], data)
                self.model.tree.add_file(upload.path, upload.content)
                self.model.reset()
            else:
                self.call(request, [accepted("CHUNK_ACCEPTED", chunk_offset_check(offset))], data)
                upload.offset += size

        @precondition(in_state(State.DOWNLOAD))
        @rule()
        def receive_chunk(self) -> None:
            download = self.model.download
            assert download is not None
            size = min(self.model.chunk_size, len(download.content) - download.offset)
            expected = download.content[download.offset : download.offset + size]
            offset = download.offset

            def data_check(reply: Reply) -> str | None:
                if reply.data != expected:
                    return f"the data frame is not the {size} bytes at offset {offset}"
                return chunk_offset_check(offset)(reply)

            if offset + size == len(download.content):
                whole = digest_check(download.content)

                def last_check(reply: Reply) -> str | None:
                    return data_check(reply) or whole(reply)

                self.call(messages.receive_chunk(), [accepted("TRANSFER_COMPLETED", last_check)])
                self.model.reset()
            else:
                self.call(messages.receive_chunk(), [accepted("CHUNK_SENT", data_check)])
                download.offset += size

        @precondition(in_state(State.DELETE))
        @rule()
        def continue_removal(self) -> None:
            reply = self.call(
                messages.continue_removal(),
                [accepted("FILE_REMOVED"), accepted("ENTRIES_REMOVED")],
            )
            if reply.response.reason == pb.REASON_FILE_REMOVED:
                self.model.reset()

        @precondition(in_state(State.UPLOAD, State.DOWNLOAD, State.DELETE))
        @rule()
        def cancel_transfer(self) -> None:
            self.call(messages.cancel_transfer(), [accepted("TRANSFER_CANCELLED")])
            self.model.reset()

        def teardown(self) -> None:
            session = self.session
            try:
                session.quietly(messages.cancel_transfer(), "clean-up: abandon any transfer")
                going_on = (pb.REASON_REMOVAL_STARTED, pb.REASON_ENTRIES_REMOVED)

                def remove(path: str, why: str) -> None:
                    reply = session.quietly(messages.remove_file(path), why)
                    for _ in range(100):
                        if reply is None or reply.response.reason not in going_on:
                            break
                        reply = session.quietly(messages.continue_removal(), why)

                for request in self.abandoned:
                    # A resume is refused where the name was taken since (by a batch, a
                    # move, a copy...): free the name first, so the staged data goes.
                    upload = request.upload_file
                    remove(f"{upload.directory.rstrip('/')}/{upload.name}", "clean-up: free")
                    session.quietly(request, "clean-up: resume an abandoned upload")
                    session.quietly(messages.cancel_transfer(), "clean-up: and cancel it")
                remove(self.base, "clean-up: remove it all")
                session.quietly(messages.goodbye(), "clean-up: end the session")
            finally:
                session.connection.close()

    return ProtocolSequences


def run_sequences(binding: Binding, examples: int, steps: int = STEPS_PER_EXAMPLE) -> None:
    """Run ``examples`` random sequences; raise the failure of the minimal failing one.

    The examples are derandomized, so two runs against the same server send the same
    sequences, and nothing is written to a hypothesis database.
    """
    run_state_machine_as_test(
        machine_for(binding),
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            database=None,
            derandomize=True,
            report_multiple_bugs=False,
            phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
            verbosity=Verbosity.normal,
            suppress_health_check=list(HealthCheck),
        ),
    )


def failure_summary(error: BaseException) -> str:
    """What went wrong, with hypothesis's note of the steps when it made one."""
    notes = [note for note in getattr(error, "__notes__", []) if note.strip()]
    text = str(error)
    if notes:
        text += "\n" + "\n".join(notes)
    return text


def _run(ctx: CaseContext) -> None:
    examples = ctx.target.stateful_examples
    if examples <= 0:
        ctx.skip("no random sequences asked for (--stateful-examples 0)")
    session = ctx.open_session()
    directory = ctx.case_directory(session)
    session.goodbye("close the set-up session: every sequence opens its own")

    def open_session(transcript: Transcript) -> Session:
        fresh = Session(ctx.connect("S", transcript), ctx.target.token)
        fresh.hello()
        return fresh

    binding = Binding(open_session, directory, ctx.server_limits(), ctx.target.token)
    try:
        run_sequences(binding, examples)
    except Exception as error:
        minimal = binding.last_transcript
        if minimal is not None:
            ctx.transcript.note("the minimal failing sequence found, as replayed last:")
            for event in minimal.events:
                if event.get("note", "").startswith("clean-up") and not ctx.transcript.failed_at():
                    ctx.transcript.mark_failure()
                ctx.transcript.events.append(event)
        if isinstance(error, CaseFailure):
            raise CaseFailure(
                f"minimal failing sequence, {error.step}",
                failure_summary(error),
                sent=error.sent,
                expected=error.expected,
                seen=error.seen,
            ) from error
        raise CaseFailure("minimal failing sequence", failure_summary(error)) from error
    ctx.transcript.note(
        f"{binding.examples_run} random sequences ran, every reply as the model predicts"
    )


CASE = Case(
    "4.13/stateful/1",
    "random sequences of valid and invalid requests in every state",
    "every reply is one the transition table and the tree allow, whatever the order of requests",
    "every reply as the model of the spec predicts",
    _run,
)
