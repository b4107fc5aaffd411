"""Requests in flight: send up to a window of requests before reading their answers.

A transfer is a stream of requests (UPLOAD_FILE, SEND_CHUNK, SEND_CHUNK...). Waiting
for each answer before sending the next would make every chunk cost a round trip, so
the pipeline keeps up to ``window`` requests in flight and hands each response, in
order, to the callback of its request (SPEC.md section 6). A request marked as a
barrier is answered before the next one is even built, for when the next depends on
the answer (a resumed upload starts where the server says).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from remofile.core.framing import Frame
from remofile.v1 import remofile_pb2 as pb

ResponseHandler = Callable[[pb.Response, "Frame | None"], None]


@dataclass
class Outgoing:
    """One request to send and what to do with its answer."""

    kind: str
    message: Any
    on_response: ResponseHandler
    data: Frame | None = None
    barrier: bool = False


class Channel:
    """What the pipeline needs from a client: send a request, receive the next answer."""

    def send_request(self, kind: str, message: Any, data: Frame | None) -> None:
        raise NotImplementedError

    def receive_response(self, timeout_ms: int | None) -> tuple[pb.Response, Frame | None]:
        raise NotImplementedError


def run_pipeline(
    channel: Channel, requests: Iterable[Outgoing], window: int, timeout_ms: int | None
) -> None:
    """Send every request with at most ``window`` unanswered, handling answers in order.

    An exception from a callback or from the channel stops the pipeline and propagates;
    the caller must then consider the requests still in flight lost.
    """
    in_flight: deque[Outgoing] = deque()

    def answer_oldest() -> None:
        response, data = channel.receive_response(timeout_ms)
        in_flight.popleft().on_response(response, data)

    iterator = iter(requests)
    while True:
        while in_flight and (len(in_flight) >= window or in_flight[-1].barrier):
            answer_oldest()
        item = next(iterator, None)
        if item is None:
            break
        channel.send_request(item.kind, item.message, item.data)
        in_flight.append(item)
    while in_flight:
        answer_oldest()
