"""Random request sequences, run from pytest: our server agrees with the model, and a
broken one is caught with a short transcript of the minimal failing sequence."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import zmq
from broken_servers import StaysBusyAfterCancel
from conformance_serving import TIMEOUT_MS, TOKEN, RunningServer, running_server
from remofile.conformance import messages
from remofile.conformance.expect import CaseFailure, accepted
from remofile.conformance.session import Session
from remofile.conformance.stateful import Binding, run_sequences
from remofile.conformance.transcript import Transcript
from remofile.conformance.wire import Connection


@contextmanager
def binding_for(server: RunningServer, directory_name: str) -> Iterator[Binding]:
    """A binding of the state machine to a server, working in /<directory_name>."""
    context: zmq.Context[Any] = zmq.Context()

    def open_session(transcript: Transcript) -> Session:
        connection = Connection(
            context, server.endpoint, label="S", transcript=transcript, timeout_ms=TIMEOUT_MS
        )
        session = Session(connection, TOKEN)
        session.hello()
        return session

    setup = open_session(Transcript(TOKEN))
    setup.call(
        messages.make_directory("/", directory_name), [accepted("DIRECTORY_CREATED")], "set-up"
    )
    assert setup.opened is not None
    limits = setup.opened
    setup.goodbye()
    setup.connection.close()
    try:
        yield Binding(open_session, f"/{directory_name}", limits, TOKEN)
    finally:
        context.term()


def test_random_sequences_agree_with_the_model(our_server: RunningServer) -> None:
    with binding_for(our_server, "stateful-from-pytest") as binding:
        run_sequences(binding, examples=40)
    assert binding.examples_run >= 40


def test_a_broken_server_fails_with_a_minimal_transcript(tmp_path: Path) -> None:
    with (
        running_server(tmp_path, handler_class=StaysBusyAfterCancel) as server,
        binding_for(server, "stateful-broken") as binding,
        pytest.raises(CaseFailure) as failure,
    ):
        run_sequences(binding, examples=200)
    assert failure.value.seen is not None
    assert binding.last_transcript is not None
    sent = [event for event in binding.last_transcript.events if event["direction"] == "sent"]
    steps = [
        event for event in sent if not event.get("note", "").startswith(("set-up", "clean-up"))
    ]
    kinds = [event["kind"] for event in steps[1:]]  # after HELLO
    # Shrunk to the essence: a transfer, its cancellation, and the request that shows
    # the server did not return to IDLE.
    assert "CANCEL_TRANSFER" in kinds[:-1], kinds
    assert len(kinds) <= 6, kinds
