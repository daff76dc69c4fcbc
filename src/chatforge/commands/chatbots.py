"""``chatforge chatbots list``: every chatbot on this server, to find the id that commands take."""

from __future__ import annotations

import typer

from chatforge.commands.common import opened
from chatforge.services import operator

app = typer.Typer(help="See the chatbots of every organization.", no_args_is_help=True)


@app.command("list")
def list_() -> None:
    """List chatbots: id, name, organization and number of knowledge items."""
    with opened(existing=True) as ctx, ctx.db.sessions() as session:
        rows = operator.list_chatbots(session)
    if not rows:
        typer.echo("No chatbots yet: create one with POST /api/external/chatbots.")
        return
    typer.echo(f"{'ID':<36}  {'NAME':<28} {'ORGANIZATION':<24} {'ITEMS':>6}")
    for row in rows:
        typer.echo(f"{row.id:<36}  {row.name[:28]:<28} {row.organization[:24]:<24} {row.items:>6}")


def register(parent: typer.Typer) -> None:
    """Add the ``chatbots`` group to the ``chatforge`` app."""
    parent.add_typer(app, name="chatbots")
