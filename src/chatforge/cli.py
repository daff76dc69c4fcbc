"""The ``chatforge`` command line: serve, migrate and manage API keys."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from chatforge.services import keys
from chatforge.services.context import AppContext
from chatforge.settings import Settings
from chatforge.storage import migrate as migrations

app = typer.Typer(
    help="Chatforge: self-hosted AI chatbots grounded in your knowledge.", no_args_is_help=True
)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _context(settings: Settings | None = None) -> AppContext:
    return AppContext.build(settings or Settings())


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Migrate the database and start the server (API and background worker)."""
    import uvicorn

    from chatforge.app import create_app

    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    public_base_url = settings.resolved_public_base_url(host, port)
    ctx = _context(settings)
    migrations.upgrade(ctx.engine)
    with ctx.sessions() as session:
        if not keys.has_any_organization(session):
            created = keys.create_key(session, "default")
            typer.echo(
                "\nFirst start: made the organization 'default' and this API key "
                "(shown only once, keep it):\n\n"
                f"    {created.key}\n\n"
                "Send it with every request, for example:\n"
                f"    curl -H 'x-api-key: {created.key}' {public_base_url}/api/external/chatbots\n"
            )
    ctx.close()
    typer.echo(f"Chatforge is listening on {public_base_url} (API docs: {public_base_url}/docs)")
    uvicorn.run(
        create_app(settings, public_base_url=public_base_url),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
    )


@app.command()
def migrate() -> None:
    """Migrate the database to the newest schema."""
    ctx = _context()
    migrations.upgrade(ctx.engine)
    typer.echo(f"Database is at revision {migrations.current_revision(ctx.engine)}.")
    ctx.close()


@keys_app.command("create")
def keys_create(
    org: Annotated[str, typer.Option("--org", help="Organization name (made when new).")],
) -> None:
    """Make an API key for an organization and print it (once)."""
    ctx = _context()
    migrations.upgrade(ctx.engine)
    with ctx.sessions() as session:
        created = keys.create_key(session, org)
    typer.echo(created.key)
    typer.echo(
        f"API key for organization {created.organization_name!r}; it is shown only once.", err=True
    )
    ctx.close()


@keys_app.command("list")
def keys_list() -> None:
    """List keys (prefixes only) with their organization and state."""
    ctx = _context()
    migrations.upgrade(ctx.engine)
    with ctx.sessions() as session:
        rows = keys.list_keys(session)
    if not rows:
        typer.echo("No keys yet: chatforge keys create --org NAME")
    for row in rows:
        state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
        used = f"last used {row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never used"
        typer.echo(f"{row.prefix}...  {row.organization_name:<24} {state:<20} {used}")
    ctx.close()


@keys_app.command("revoke")
def keys_revoke(
    key_prefix: Annotated[str, typer.Argument(help="The key's first characters (at least 4).")],
) -> None:
    """Revoke a key; requests with it fail from now on."""
    ctx = _context()
    migrations.upgrade(ctx.engine)
    try:
        with ctx.sessions() as session:
            info = keys.revoke_key(session, key_prefix)
    except Exception as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        ctx.close()
    typer.echo(f"Revoked {info.prefix}... of organization {info.organization_name!r}.")


def main() -> None:
    """Entry point of the ``chatforge`` script."""
    app()
