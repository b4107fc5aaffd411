"""``python -m remofile.cli`` runs the remofile command."""

from remofile.cli.main import cli

cli()
