"""Where client commands find the server: the REMOFILE_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from remofile.core.limits import DEFAULT_PORT

HOSTNAME_VARIABLE = "REMOFILE_HOSTNAME"
PORT_VARIABLE = "REMOFILE_PORT"
SERVER_VARIABLE = "REMOFILE_SERVER"
TOKEN_VARIABLE = "REMOFILE_TOKEN"
PUBLIC_KEY_VARIABLE = "REMOFILE_PUBLIC_KEY"
PRIVATE_KEY_VARIABLE = "REMOFILE_PRIVATE_KEY"


class SettingError(ValueError):
    """A setting is missing or malformed; the message names the variable to set."""


@dataclass(frozen=True)
class ClientSettings:
    hostname: str
    port: int
    token: str
    public_key: str | None


def _port(text: str, variable: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise SettingError(f"{variable} must be a port number, got {text!r}") from None
    if not 0 < port < 65536:
        raise SettingError(f"{variable} must be between 1 and 65535, got {port}")
    return port


def client_settings(environment: Mapping[str, str] | None = None) -> ClientSettings:
    """Read the client settings.

    The server is ``REMOFILE_HOSTNAME`` (with ``REMOFILE_PORT``, 6768 by default) or
    ``REMOFILE_SERVER=host:port``; ``REMOFILE_HOSTNAME`` may also be a full ZeroMQ
    endpoint (``ipc:///run/remofile.sock``). ``REMOFILE_TOKEN`` is required;
    ``REMOFILE_PUBLIC_KEY`` is needed for an encrypting server.

    :raises SettingError: naming the variable to set when one is missing or malformed.
    """
    env = os.environ if environment is None else environment
    hostname = env.get(HOSTNAME_VARIABLE, "").strip()
    port = DEFAULT_PORT
    server = env.get(SERVER_VARIABLE, "").strip()
    if server and not hostname:
        host, separator, port_text = server.rpartition(":")
        if not separator or not host:
            raise SettingError(f"{SERVER_VARIABLE} must be host:port, got {server!r}")
        hostname, port = host.strip("[]"), _port(port_text, SERVER_VARIABLE)
    elif env.get(PORT_VARIABLE, "").strip():
        port = _port(env[PORT_VARIABLE].strip(), PORT_VARIABLE)
    if not hostname:
        raise SettingError(
            f"no server configured: set {HOSTNAME_VARIABLE} (and {PORT_VARIABLE}) "
            f"or {SERVER_VARIABLE}=host:port"
        )
    token = env.get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise SettingError(f"no token configured: set {TOKEN_VARIABLE} to the server's token")
    public_key = env.get(PUBLIC_KEY_VARIABLE, "").strip() or None
    return ClientSettings(hostname, port, token, public_key)
