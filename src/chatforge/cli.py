"""The ``chatforge`` command line; each command group lives in :mod:`chatforge.commands`."""

from __future__ import annotations

import typer

from chatforge.commands import chatbots, evaluate, ingest, keys, server, users, worker

app = typer.Typer(
    help="Chatforge: self-hosted AI chatbots grounded in your knowledge.", no_args_is_help=True
)
for group in (server, keys, users, chatbots, ingest, worker, evaluate):
    group.register(app)


def main() -> None:
    """Entry point of the ``chatforge`` script."""
    app()
