"""Remote paths on the command line: one rule for every command.

A remote path is absolute: it starts at the root of the served directory, ``/``, as the
seed's CLI reference says (there is no remote working directory). A relative one is a
usage error whose message shows what to type instead, found before anything is sent.
A ``remofile://host:port/path`` URL (the form of the fsspec filesystem) is accepted
wherever a remote path is: its path is the remote path and its host and port name the
server, over the settings.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import IO, Any

import click

#: The scheme of remote URLs, shared with remofile.client.filesystem.
URL_SCHEME = "remofile"


class RemotePathError(click.UsageError):
    """A remote path of the command line is relative, or a URL is malformed or names
    another server than the others do: status 2, one line as every other error."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"remofile: {self.format_message()}", file=file, err=file is None)


def is_url(text: str) -> bool:
    return text.startswith(f"{URL_SCHEME}://")


@dataclass
class RemoteArguments:
    """Parses the remote paths of one command and remembers the server URLs name."""

    #: (host, port) named by the URLs, None when none was given.
    server: tuple[str, int | None] | None = None
    _first_url: str = field(default="", repr=False)

    def path(self, text: str, what: str = "remote path") -> str:
        """The absolute remote path ``text`` names (a path or a remofile:// URL).

        :raises RemotePathError: if it is relative or a malformed URL, saying what to type.
        """
        if is_url(text):
            return self._url_path(text)
        if not text.startswith("/"):
            suggestion = "/" + text.lstrip("./")
            raise RemotePathError(
                f"the {what} {text!r} is relative; remote paths are absolute, from the "
                f"root of the served directory: write {suggestion!r}"
            )
        return text

    def _url_path(self, text: str) -> str:
        try:
            parts = urllib.parse.urlsplit(text)
            port = parts.port
        except ValueError as error:
            raise RemotePathError(f"malformed URL {text!r}: {error}") from None
        if not parts.hostname or parts.query or parts.fragment:
            raise RemotePathError(f"malformed URL {text!r}: write {URL_SCHEME}://HOST[:PORT]/PATH")
        server = (parts.hostname, port)
        if self.server is not None and server != self.server:
            raise RemotePathError(
                f"{text!r} and {self._first_url!r} name two servers; a command works "
                f"with one server"
            )
        self.server, self._first_url = server, self._first_url or text
        return urllib.parse.unquote(parts.path) or "/"


def looks_remote(text: str) -> bool:
    """Whether a command-line argument can only be a remote path (absolute or a URL)."""
    return text.startswith("/") or is_url(text)
