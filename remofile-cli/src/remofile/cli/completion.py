"""Shell completion of remote paths (bash, zsh and fish, through click).

When the client settings are there (variables, or --server NAME), a remote path being
typed is completed from a listing of its directory, asked with a short timeout so a
dead server never freezes the shell; without settings, or on any failure, nothing is
offered. Arguments that may also be local (upload's and download's) also get the
shell's own file completion.
"""

from __future__ import annotations

import contextlib

import click
from click.shell_completion import CompletionItem
from remofile.cli.reachability import check_reachable
from remofile.cli.remote_paths import URL_SCHEME, RemoteArguments, is_url
from remofile.cli.settings import client_settings
from remofile.client import Client

#: Longest a completion waits for the server, per request.
COMPLETION_TIMEOUT_MS = 1000

#: Where --server leaves its value (common.PROFILE_KEY; not imported, to avoid a cycle).
_PROFILE_KEY = "remofile.profile"


def _remote_entries(
    context: click.Context, incomplete: str, directories_only: bool
) -> list[CompletionItem]:
    prefix = ""
    typed = incomplete
    remote = RemoteArguments()
    if is_url(incomplete):
        host_end = incomplete.find("/", len(f"{URL_SCHEME}://"))
        if host_end < 0:
            return []
        prefix, typed = incomplete[:host_end], incomplete[host_end:]
        with contextlib.suppress(click.UsageError):
            remote.path(prefix + "/")
    if not typed.startswith("/"):
        return []
    parent, _, partial = typed.rpartition("/")
    try:
        settings = client_settings(profile=context.meta.get(_PROFILE_KEY), url_server=remote.server)
        client = Client(settings.hostname, settings.port, settings.token, settings.public_key)
    except ValueError:
        return []
    try:
        check_reachable(client.endpoint, settings.public_key, COMPLETION_TIMEOUT_MS)
        entries = client.list_entries(parent or "/", COMPLETION_TIMEOUT_MS)
    except Exception:  # completion offers nothing rather than failing the shell
        return []
    finally:
        client.close()
    return [
        CompletionItem(f"{prefix}{parent}/{entry.name}{'/' if entry.is_directory else ''}")
        for entry in entries
        if entry.name.startswith(partial) and (entry.is_directory or not directories_only)
    ]


def complete_remote_path(
    context: click.Context, _parameter: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Remote files and directories, and local files for commands that take both."""
    items = _remote_entries(context, incomplete, directories_only=False)
    if context.command.name in ("upload", "download"):
        items.append(CompletionItem(incomplete, type="file"))
    return items


def complete_remote_directory(
    context: click.Context, _parameter: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Remote directories."""
    return _remote_entries(context, incomplete, directories_only=True)
