"""The `remofile` command (also installed as `rmf`)."""

from __future__ import annotations

from typing import ClassVar

import click
from remofile.cli.client_commands import (
    download_command,
    file_command,
    folder_command,
    list_command,
    remove_command,
    sync_group,
    upload_command,
)
from remofile.cli.common import store_profile
from remofile.cli.remote_commands import copy_command, digest_command, move_command
from remofile.cli.server_commands import (
    generate_keys_command,
    generate_token_command,
    run_command,
    start_command,
    stop_command,
)


class AliasedGroup(click.Group):
    """A group that also answers to the aliases in ALIASES (directory -> folder...)."""

    ALIASES: ClassVar[dict[str, str]] = {"directory": "folder", "mv": "move", "cp": "copy"}

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, self.ALIASES.get(cmd_name, cmd_name))

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        _, command, rest = super().resolve_command(ctx, args)
        return (command.name if command else None), command, rest


@click.group(cls=AliasedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--server",
    "profile",
    metavar="NAME",
    expose_value=False,
    callback=store_profile,
    help="Client commands use the server NAME of the config file (or REMOFILE_PROFILE).",
)
@click.version_option(None, "-V", "--version", package_name="remofile-cli", prog_name="remofile")
def cli() -> None:
    """Remofile: serve a directory and move files to and from it.

    Client commands (list, file, folder, upload, download, remove, move, copy, digest,
    sync) find the server through REMOFILE_HOSTNAME and REMOFILE_PORT (or
    REMOFILE_SERVER=host:port), REMOFILE_TOKEN, and REMOFILE_PUBLIC_KEY for an
    encrypting server, or a named server of ~/.config/remofile/config.toml (--server
    NAME or REMOFILE_PROFILE), which the variables override. Remote paths are
    absolute (they start at the root, /) or remofile://HOST:PORT/PATH URLs. Server
    commands (run, start, stop, generate-token, generate-keys) need no settings.

    \b
    Examples:
      remofile run my-directory/ 6768
      remofile upload -r src/ /backup
      remofile list -l /
    """


for command in (
    list_command,
    file_command,
    folder_command,
    upload_command,
    download_command,
    remove_command,
    move_command,
    copy_command,
    digest_command,
    sync_group,
    run_command,
    start_command,
    stop_command,
    generate_token_command,
    generate_keys_command,
):
    cli.add_command(command)
