"""Why a server cannot be reached, said in seconds instead of after the full timeout.

Before a client command sends anything, the name of the server is resolved and one
ZeroMQ connection is opened to it with the client's security settings, its socket
monitored: ZeroMQ reports a refused connection (CONNECT_RETRIED before any CONNECTED),
a security handshake that failed (a public key that does not match, or one side
encrypting and not the other) and one that succeeded. The probe sends no message, so
the server sees a connection come and go and nothing else; a session is never opened.
"""

from __future__ import annotations

import socket
import time
import urllib.parse
from typing import Any

import zmq
from zmq.utils.monitor import recv_monitor_message

#: How long the probe waits, at most, for each monitor event.
POLL_STEP_MS = 50


#: Monitor events of a failed security handshake.
_HANDSHAKE_FAILURES = frozenset(
    {
        zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
        zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL,
        zmq.EVENT_HANDSHAKE_FAILED_AUTH,
    }
)


class UnreachableError(TimeoutError):
    """The server cannot be reached; the message says why and what to check.

    A TimeoutError, so the command ends with the status of a server that does not answer.
    """


def _tcp_host_port(endpoint: str) -> tuple[str, int] | None:
    if not endpoint.startswith("tcp://"):
        return None
    parts = urllib.parse.urlsplit(endpoint)
    if parts.hostname is None or parts.port is None:
        return None
    return parts.hostname, parts.port


def check_resolvable(endpoint: str) -> None:
    """:raises UnreachableError: if the host of a tcp:// endpoint has no address."""
    host_port = _tcp_host_port(endpoint)
    if host_port is None:
        return
    host, port = host_port
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise UnreachableError(
            f"cannot resolve the server's name {host!r}: {error.strerror}"
        ) from None
    except UnicodeError:
        raise UnreachableError(f"the server's name {host!r} is not a valid host name") from None


def check_reachable(endpoint: str, public_key: str | None, timeout_ms: int) -> None:
    """Resolve the server's name, connect once and wait for the security handshake.

    Returns when the handshake succeeds. Raises at once when the connection is refused
    or the handshake fails, and after ``timeout_ms`` when nothing answers.

    :raises UnreachableError: saying which of these it is.
    """
    check_resolvable(endpoint)
    context: zmq.Context[Any] = zmq.Context.instance()
    probe: zmq.Socket[Any] = context.socket(zmq.DEALER)
    probe.setsockopt(zmq.LINGER, 0)
    if public_key is not None:
        client_public, client_secret = zmq.curve_keypair()
        probe.curve_publickey = client_public
        probe.curve_secretkey = client_secret
        probe.curve_serverkey = public_key.encode("ascii")
    monitor = probe.get_monitor_socket()
    try:
        probe.connect(endpoint)
        _wait_for_handshake(monitor, endpoint, public_key is not None, timeout_ms)
    finally:
        probe.disable_monitor()
        monitor.close(0)
        probe.close(0)


def _wait_for_handshake(
    monitor: zmq.Socket[Any], endpoint: str, encrypting: bool, timeout_ms: int
) -> None:
    deadline = time.monotonic() + timeout_ms / 1000
    connected = False
    while True:
        remaining_ms = int((deadline - time.monotonic()) * 1000)
        if remaining_ms <= 0:
            break
        if not monitor.poll(min(remaining_ms, POLL_STEP_MS)):
            continue
        event = recv_monitor_message(monitor)["event"]
        if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            return
        if event == zmq.EVENT_CONNECTED:
            connected = True
        elif event == zmq.EVENT_CONNECT_RETRIED and not connected:
            raise UnreachableError(
                f"connection refused: no server listens at {endpoint} (is it running, "
                f"on this port?)"
            )
        elif event in _HANDSHAKE_FAILURES:
            # A mismatch of mechanisms is reported as PROTOCOL, or as NO_DETAIL when the
            # server hangs up first: without a key of ours, the server must encrypt.
            if not encrypting:
                raise UnreachableError(
                    f"the server at {endpoint} encrypts: set REMOFILE_PUBLIC_KEY to its "
                    f"public key (printed when it starts)"
                )
            if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
                raise UnreachableError(
                    f"the server at {endpoint} does not encrypt, and REMOFILE_PUBLIC_KEY "
                    f"is set: unset it, or give the server its private key"
                )
            raise UnreachableError(
                f"the encryption handshake with {endpoint} failed: REMOFILE_PUBLIC_KEY is "
                f"not the public key of this server"
            )
    what = "the connection was made but" if connected else "no connection was made and"
    raise UnreachableError(
        f"no answer from {endpoint} within {timeout_ms} ms: {what} the server did not "
        f"complete the handshake (a firewall, or a host that is down?)"
    )
