"""Where client commands find the server: a named server of the config file, then the
REMOFILE_* environment variables over it, then the server a remofile:// URL names."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remofile.core.limits import DEFAULT_PORT

HOSTNAME_VARIABLE = "REMOFILE_HOSTNAME"
PORT_VARIABLE = "REMOFILE_PORT"
SERVER_VARIABLE = "REMOFILE_SERVER"
TOKEN_VARIABLE = "REMOFILE_TOKEN"
PUBLIC_KEY_VARIABLE = "REMOFILE_PUBLIC_KEY"
PRIVATE_KEY_VARIABLE = "REMOFILE_PRIVATE_KEY"
#: The named server of the config file to use when --server is not given.
PROFILE_VARIABLE = "REMOFILE_PROFILE"
#: Where the config file is, when not in the usual place (see config_path).
CONFIG_VARIABLE = "REMOFILE_CONFIG"

#: The keys a named server of the config file may have.
SERVER_KEYS = frozenset({"host", "port", "token", "token_file", "public_key"})


class SettingError(ValueError):
    """A setting is missing or malformed; the message names the variable to set."""


@dataclass(frozen=True)
class ClientSettings:
    hostname: str
    port: int
    token: str
    public_key: str | None


def _port(text: object, variable: str) -> int:
    try:
        port = int(str(text))
    except ValueError:
        raise SettingError(f"{variable} must be a port number, got {text!r}") from None
    if not 0 < port < 65536:
        raise SettingError(f"{variable} must be between 1 and 65535, got {port}")
    return port


def config_path(environment: Mapping[str, str] | None = None) -> Path:
    """The config file: ``REMOFILE_CONFIG``, else ``$XDG_CONFIG_HOME/remofile/config.toml``
    (``~/.config/remofile/config.toml`` when XDG_CONFIG_HOME is not set)."""
    env = os.environ if environment is None else environment
    if env.get(CONFIG_VARIABLE, "").strip():
        return Path(env[CONFIG_VARIABLE].strip()).expanduser()
    base = env.get("XDG_CONFIG_HOME", "").strip() or os.path.join(
        os.path.expanduser("~"), ".config"
    )
    return Path(base, "remofile", "config.toml")


def read_config(path: Path) -> dict[str, Any]:
    """The parsed config file, or an empty one if there is none."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise SettingError(f"cannot read the config file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingError(f"the config file {path} is not valid TOML: {error}") from None


def named_server(name: str, environment: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The table ``[servers.NAME]`` of the config file.

    :raises SettingError: naming the file and the servers it has, if there is no such one.
    """
    path = config_path(environment)
    servers = read_config(path).get("servers", {})
    if not isinstance(servers, dict):
        raise SettingError(f"'servers' of {path} must be a table of [servers.NAME] tables")
    server = servers.get(name)
    if not isinstance(server, dict):
        known = ", ".join(sorted(servers)) or "none"
        raise SettingError(f"no server named {name!r} in {path} (it has: {known})")
    unknown = sorted(set(server) - SERVER_KEYS)
    if unknown:
        raise SettingError(
            f"[servers.{name}] of {path} has unknown keys: {', '.join(unknown)} "
            f"(it may have {', '.join(sorted(SERVER_KEYS))})"
        )
    return server


def server_names(environment: Mapping[str, str] | None = None) -> list[str]:
    """The names of the servers of the config file (for completion); none if unreadable."""
    try:
        servers = read_config(config_path(environment)).get("servers", {})
    except SettingError:
        return []
    return sorted(servers) if isinstance(servers, dict) else []


def _profile_settings(
    profile: str | None, env: Mapping[str, str]
) -> tuple[str, int | None, str, str | None, str]:
    """hostname, port, token and public key of the named server ("" and None when absent),
    and where they come from, for messages."""
    name = profile or env.get(PROFILE_VARIABLE, "").strip()
    if not name:
        return "", None, "", None, ""
    server = named_server(name, env)
    origin = f"[servers.{name}] of {config_path(env)}"
    if "token" in server and "token_file" in server:
        raise SettingError(f"{origin} has both token and token_file: keep one")
    token = str(server.get("token", "")).strip()
    if "token_file" in server:
        token_path = os.path.expanduser(str(server["token_file"]))
        try:
            with open(token_path, encoding="utf-8") as handle:
                token = handle.read().strip()
        except OSError as error:
            raise SettingError(
                f"cannot read the token file {token_path} of {origin}: {error.strerror}"
            ) from None
    port = _port(server["port"], f"port of {origin}") if "port" in server else None
    public_key = str(server.get("public_key", "")).strip() or None
    return str(server.get("host", "")).strip(), port, token, public_key, origin


def client_settings(
    environment: Mapping[str, str] | None = None,
    profile: str | None = None,
    url_server: tuple[str, int | None] | None = None,
) -> ClientSettings:
    """Read the client settings.

    The server is ``REMOFILE_HOSTNAME`` (with ``REMOFILE_PORT``, 6768 by default) or
    ``REMOFILE_SERVER=host:port``, but not both; ``REMOFILE_HOSTNAME`` may also be a full
    ZeroMQ endpoint (``ipc:///run/remofile.sock``). ``REMOFILE_TOKEN`` is required;
    ``REMOFILE_PUBLIC_KEY`` is needed for an encrypting server.

    A named server of the config file (``profile``, else ``REMOFILE_PROFILE``) gives
    defaults for all of them, which the variables override. ``url_server``, the host
    and port of the ``remofile://`` URLs of the command line, overrides the server.

    :raises SettingError: naming the variable to set when one is missing, malformed or
        in conflict with another.
    """
    env = os.environ if environment is None else environment
    hostname, profile_port, token, public_key, origin = _profile_settings(profile, env)
    port = profile_port if profile_port is not None else DEFAULT_PORT
    variable_host = env.get(HOSTNAME_VARIABLE, "").strip()
    variable_port = env.get(PORT_VARIABLE, "").strip()
    server = env.get(SERVER_VARIABLE, "").strip()
    if server and (variable_host or variable_port):
        both = HOSTNAME_VARIABLE if variable_host else PORT_VARIABLE
        raise SettingError(
            f"{SERVER_VARIABLE} and {both} are both set and name the server twice: "
            f"unset one of them"
        )
    if server:
        host, separator, port_text = server.rpartition(":")
        if not separator or not host:
            raise SettingError(f"{SERVER_VARIABLE} must be host:port, got {server!r}")
        hostname, port = host.strip("[]"), _port(port_text, SERVER_VARIABLE)
    else:
        if variable_host:
            hostname = variable_host
        if variable_port:
            port = _port(variable_port, PORT_VARIABLE)
    if url_server is not None:
        hostname = url_server[0]
        port = url_server[1] if url_server[1] is not None else DEFAULT_PORT
    if not hostname:
        raise SettingError(
            f"no server configured: set {HOSTNAME_VARIABLE} (and {PORT_VARIABLE}) "
            f"or {SERVER_VARIABLE}=host:port, or name a server of {config_path(env)} "
            f"with --server NAME"
        )
    token = env.get(TOKEN_VARIABLE, "").strip() or token
    if not token:
        where = f" (or token in {origin})" if origin else ""
        raise SettingError(
            f"no token configured: set {TOKEN_VARIABLE}{where} to the server's token"
        )
    public_key = env.get(PUBLIC_KEY_VARIABLE, "").strip() or public_key
    return ClientSettings(hostname, port, token, public_key)
