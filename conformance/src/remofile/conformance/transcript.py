"""The record of everything one case sent and received, decoded for people and for JSON."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from remofile.conformance.spec import reason_name, type_name
from remofile.v1 import remofile_pb2 as pb

#: What the right token is replaced with in transcripts, so reports can be shared.
TOKEN_MASK = "<token>"

#: Bytes of an undecodable frame shown in a transcript.
RAW_PREVIEW_BYTES = 48

#: The note that marks where a case failed.
FAILURE_MARK = "^^^ the case failed here; what follows is clean-up"

#: Longest line of the text form of a transcript.
TEXT_LINE_CHARS = 400


def message_dict(message: Message) -> dict[str, Any]:
    """A protobuf message as JSON-ready data, with the field names of the .proto file."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def data_summary(data: bytes | memoryview) -> dict[str, Any]:
    """A data frame as its size and digest: chunks are too large to print."""
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def request_kind(request: pb.Request) -> str:
    """The request's name in the spec's spelling, e.g. ``LIST_FILES``; ``(no kind)``."""
    kind = request.WhichOneof("kind")
    return kind.upper() if kind else "(no kind)"


def response_label(response: pb.Response) -> str:
    """``ACCEPTED FILES_LISTED`` and the like."""
    return f"{type_name(response.type)} {reason_name(response.reason)}"


@dataclass
class Transcript:
    """Events of one case in order: what each client sent, got back, or waited for."""

    #: The right token, masked wherever it appears.
    token: str
    events: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def _add(self, event: dict[str, Any]) -> None:
        event["at_ms"] = round((time.monotonic() - self.started) * 1000, 1)
        self.events.append(event)

    def request_dict(self, request: pb.Request) -> dict[str, Any]:
        decoded = message_dict(request)
        token = decoded.get("token")
        if isinstance(token, str) and self.token:
            if token.startswith(self.token):
                decoded["token"] = TOKEN_MASK + token[len(self.token) :]
            elif token and self.token.startswith(token):
                decoded["token"] = f"{TOKEN_MASK} less its last {len(self.token) - len(token)}"
        return decoded

    def sent(
        self,
        client: str,
        frames: Sequence[bytes | memoryview],
        request: pb.Request | None,
        note: str = "",
    ) -> None:
        """Record a message sent; ``request`` is the decoded Request frame, if there is one."""
        event: dict[str, Any] = {"client": client, "direction": "sent", "frames": len(frames)}
        if request is not None:
            event["kind"] = request_kind(request)
            event["message"] = self.request_dict(request)
        else:
            event["raw"] = [self._preview(frame) for frame in frames]
            event["sizes"] = [len(frame) for frame in frames]
        if request is not None and len(frames) > 2:
            event["data"] = data_summary(frames[2])
        if note:
            event["note"] = note
        self._add(event)

    def _preview(self, frame: bytes | memoryview) -> str:
        """The first bytes of a frame in hex, the token masked out of them."""
        head = bytes(frame[: RAW_PREVIEW_BYTES + len(self.token)])
        if self.token:
            head = head.replace(self.token.encode(), TOKEN_MASK.encode())
        return head[:RAW_PREVIEW_BYTES].hex()

    def received(self, client: str, response: pb.Response, data: bytes | None, frames: int) -> None:
        event: dict[str, Any] = {
            "client": client,
            "direction": "received",
            "frames": frames,
            "label": response_label(response),
            "message": message_dict(response),
        }
        if data is not None:
            event["data"] = data_summary(data)
        self._add(event)

    def broken(self, client: str, frames: Sequence[bytes]) -> None:
        """Record a reply that is not [delimiter, Response(, data)]."""
        self._add(
            {
                "client": client,
                "direction": "received",
                "frames": len(frames),
                "raw": [self._preview(frame) for frame in frames],
                "sizes": [len(frame) for frame in frames],
            }
        )

    def silence(self, client: str, waited_ms: int) -> None:
        self._add({"client": client, "direction": "silence", "waited_ms": waited_ms})

    def note(self, text: str) -> None:
        self._add({"direction": "note", "note": text})

    def mark_failure(self) -> None:
        """Mark where the case failed, before its clean-up."""
        if self.failed_at() is None:
            self.note(FAILURE_MARK)

    def failed_at(self) -> int | None:
        """The index of the failure mark, if there is one."""
        for index, event in enumerate(self.events):
            if event.get("note") == FAILURE_MARK:
                return index
        return None

    def up_to_failure(self, last: int) -> list[dict[str, Any]]:
        """The ``last`` events before the failure mark (or the end), the mark included."""
        end = self.failed_at()
        stop = len(self.events) if end is None else end + 1
        return self.events[max(stop - last, 0) : stop]

    def text(self) -> str:
        """The transcript as lines a person reads: ``A -> LIST_FILES {...}``."""
        return "\n".join(render_event(event) for event in self.events)


def render_event(event: dict[str, Any]) -> str:
    """One transcript event as one line of text."""
    client = event.get("client", "")
    direction = event["direction"]
    at = f"{event.get('at_ms', 0):>8.1f}ms "
    if direction == "note":
        return f"{at}   # {event['note']}"
    if direction == "silence":
        return f"{at}{client} .. no reply within {event['waited_ms']} ms"
    arrow = "->" if direction == "sent" else "<-"
    if "message" in event:
        body = dict(event["message"])
        if direction == "received":
            body.pop("type", None)
            body.pop("reason", None)
            head = event["label"]
        else:
            body.pop("token", None)
            body.pop("session_id", None)
            head = event["kind"]
        line = f"{at}{client} {arrow} {head} {json.dumps(body, separators=(',', ':'))}"
        if "data" in event:
            line += f" + data frame of {event['data']['bytes']} bytes"
        if event.get("note"):
            line += f"   # {event['note']}"
    else:
        line = f"{at}{client} {arrow} {event['frames']} raw frame(s) {event['raw']}"
        if event.get("note"):
            line += f"   # {event['note']}"
    if len(line) > TEXT_LINE_CHARS:
        line = line[: TEXT_LINE_CHARS - 3] + "..."
    return line
