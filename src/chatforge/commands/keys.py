"""``chatforge keys create | list | revoke``: API keys of organizations."""

from __future__ import annotations

from typing import Annotated

import typer

from chatforge.commands.common import fail_on, opened
from chatforge.errors import ChatforgeError
from chatforge.services.accounts import keys

app = typer.Typer(help="Manage API keys.", no_args_is_help=True)


@app.command("create")
def create(
    org: Annotated[str, typer.Option("--org", help="Organization name (made when new).")],
) -> None:
    """Make an API key for an organization and print it (once)."""
    with opened() as ctx, ctx.db.sessions() as session:
        created = keys.create_key(session, org)
    typer.echo(created.key)
    typer.echo(
        f"API key for organization {created.organization_name!r}; it is shown only once.", err=True
    )


@app.command("list")
def list_() -> None:
    """List keys (prefixes only) with their organization and state."""
    with opened(existing=True) as ctx, ctx.db.sessions() as session:
        rows = keys.list_keys(session)
    if not rows:
        typer.echo("No keys yet: chatforge keys create --org NAME")
    for row in rows:
        state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
        used = f"last used {row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never used"
        typer.echo(f"{row.prefix}...  {row.organization_name:<24} {state:<20} {used}")


@app.command("revoke")
def revoke(
    key_prefix: Annotated[str, typer.Argument(help="The key's first characters (at least 4).")],
) -> None:
    """Revoke a key; requests with it fail from now on."""
    try:
        with opened(existing=True) as ctx, ctx.db.sessions() as session:
            info = keys.revoke_key(session, key_prefix)
    except ChatforgeError as exc:
        raise fail_on(exc) from exc
    typer.echo(f"Revoked {info.prefix}... of organization {info.organization_name!r}.")


def register(parent: typer.Typer) -> None:
    """Add the ``keys`` group to the ``chatforge`` app."""
    parent.add_typer(app, name="keys")
