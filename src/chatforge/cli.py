"""The ``chatforge`` command line; each command group lives in :mod:`chatforge.commands`."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from chatforge.commands import chatbots, evaluate, ingest, keys, server, users, worker

app = typer.Typer(
    help="Chatforge: self-hosted AI chatbots grounded in your knowledge.", no_args_is_help=True
)
for group in (server, keys, users, chatbots, ingest, worker, evaluate):
    group.register(app)


def main() -> None:
    """Entry point of the ``chatforge`` script."""
    try:
        app(standalone_mode=True)
    except ValidationError as exc:  # a CHATFORGE_* setting out of range: one line per setting
        for error in exc.errors():
            name = "__".join(str(part) for part in error["loc"]).upper()
            typer.echo(f"Invalid setting CHATFORGE_{name}: {error['msg']}", err=True)
        typer.echo("Every setting is described in docs/configuration.md.", err=True)
        raise SystemExit(2) from None
