"""Messages to and from ZeroMQ frames (SPEC.md section 2.2).

On the wire a message is an empty delimiter frame, one frame holding a serialized
Request or Response, and for chunk data one more frame with the raw bytes. A REQ
socket adds and strips the delimiter itself; a DEALER socket must do it, which is what
these helpers are for. Chunk data stays in its own frame so that it is never copied
into or out of a protobuf message.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.message import DecodeError
from remofile.v1 import remofile_pb2 as pb

#: The empty frame that separates the envelope from the message, as REQ/REP use.
DELIMITER = b""

#: Anything ZeroMQ can send as a frame without copying it first.
Frame = bytes | bytearray | memoryview

#: Request kinds whose message carries a data frame.
REQUEST_KINDS_WITH_DATA = frozenset({"send_chunk", "upload_files"})


class MalformedMessage(ValueError):
    """The frames do not form a message of the protocol (answered ERROR BAD_REQUEST)."""


def request_frames(request: pb.Request, data: Frame | None = None) -> list[Frame]:
    """Frames for a request, without the delimiter (as a REQ socket sends them)."""
    frames: list[Frame] = [request.SerializeToString()]
    if data is not None:
        frames.append(data)
    return frames


def parse_request(frames: Sequence[Frame]) -> tuple[pb.Request, Frame | None, str]:
    """Read a request from its frames (delimiter already removed).

    :returns: the request, its data frame or None, and the name of its kind.
    :raises MalformedMessage: if the frames are not one request with the right data.
    """
    if not frames:
        raise MalformedMessage("empty message")
    request = pb.Request()
    try:
        request.ParseFromString(bytes(frames[0]))
    except (DecodeError, RuntimeWarning) as error:
        raise MalformedMessage(f"first frame is not a Request: {error}") from error
    kind = request.WhichOneof("kind")
    if kind is None:
        raise MalformedMessage("Request has no kind set")
    expected_frames = 2 if kind in REQUEST_KINDS_WITH_DATA else 1
    if len(frames) != expected_frames:
        raise MalformedMessage(
            f"{kind} takes {expected_frames} frame(s) after the delimiter, got {len(frames)}"
        )
    return request, (frames[1] if expected_frames == 2 else None), kind


def response_frames(response: pb.Response, data: Frame | None = None) -> list[Frame]:
    """Frames for a response, without the delimiter (as a REP socket sends them)."""
    frames: list[Frame] = [response.SerializeToString()]
    if data is not None:
        frames.append(data)
    return frames


def parse_response(frames: Sequence[Frame]) -> tuple[pb.Response, Frame | None]:
    """Read a response from its frames (delimiter already removed).

    :raises MalformedMessage: if the first frame is not a Response or frames are extra.
    """
    if not frames or len(frames) > 2:
        raise MalformedMessage(f"a response has 1 or 2 frames, got {len(frames)}")
    response = pb.Response()
    try:
        response.ParseFromString(bytes(frames[0]))
    except (DecodeError, RuntimeWarning) as error:
        raise MalformedMessage(f"first frame is not a Response: {error}") from error
    return response, (frames[1] if len(frames) == 2 else None)
