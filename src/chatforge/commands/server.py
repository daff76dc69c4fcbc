"""``chatforge serve`` and ``chatforge migrate``."""

from __future__ import annotations

import os
import shutil
from typing import Annotated

import typer

from chatforge.commands.common import configure_logging, opened
from chatforge.services.accounts import keys, users
from chatforge.settings import Settings
from chatforge.storage import migrate as migrations

#: After SIGTERM, how long open requests (streams, ``?wait=true`` uploads) may take to finish;
#: the ingestion workers then get the rest of the 10 s a supervisor usually grants.
GRACEFUL_SHUTDOWN_SECONDS = 3
#: The first owner made on a first start, beside the first key.
FIRST_OWNER_EMAIL = "owner@chatforge.local"


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes. Each runs its own ingestion workers "
            "(CHATFORGE_INGESTION__WORKERS each) and holds its own search memory "
            "(CHATFORGE_SEARCH__MEMORY_MB each).",
        ),
    ] = 1,
) -> None:
    """Migrate the database and start the server (API and background worker)."""
    import uvicorn

    from chatforge.app import create_app

    settings = Settings()
    configure_logging(settings)
    public_base_url = settings.resolved_public_base_url(host, port)
    with opened(settings) as ctx, ctx.db.sessions() as session:
        if not keys.has_any_organization(session):
            created = keys.create_key(session, "default")
            typer.echo(
                "\nFirst start: made the organization 'default' and this API key "
                "(shown only once, keep it):\n\n"
                f"    {created.key}\n\n"
                "Send it with every request, for example:\n"
                f"    curl -H 'x-api-key: {created.key}' {public_base_url}/api/external/chatbots\n"
            )
            password = users.create_first_owner(session, "default", FIRST_OWNER_EMAIL)
            typer.echo(
                f"Sign in to the console at {public_base_url}/console/ as the owner "
                f"{FIRST_OWNER_EMAIL} with the password (shown only once):\n\n"
                f"    {password}\n\n"
                "Make more users with `chatforge users create --org default --email E --role "
                "owner|agent`.\n"
            )
        elif not users.has_any_user(session):
            typer.echo(
                "No console users yet: make an owner with `chatforge users create --org NAME "
                f"--email E --role owner`, then sign in at {public_base_url}/console/."
            )
        else:
            typer.echo(
                "API keys are shown only when made: `chatforge keys list` shows the "
                "organizations, `chatforge keys create --org NAME` makes another key for one."
            )
    typer.echo(f"Chatforge is listening on {public_base_url} (API docs: {public_base_url}/docs)")
    if workers == 1:
        uvicorn.run(
            create_app(settings, public_base_url=public_base_url),
            host=host,
            port=port,
            log_level=settings.log_level.lower(),
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            proxy_headers=False,
        )
        return
    # Each worker process builds its own app from the environment.
    os.environ.setdefault("CHATFORGE_PUBLIC_BASE_URL", public_base_url)
    # Each process counts its requests into files here; a scrape of any one sums them all.
    metrics_dir = settings.data_dir / "tmp" / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)  # counts of an earlier run
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    uvicorn.run(
        "chatforge.app:create_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        # The client address is the TCP peer's. uvicorn would otherwise take X-Forwarded-For
        # from any local peer; Chatforge reads it only with CHATFORGE_LIMITS__TRUST_FORWARDED_FOR.
        proxy_headers=False,
    )


def migrate() -> None:
    """Migrate the database to the newest schema."""
    with opened() as ctx:
        typer.echo(f"Database is at revision {migrations.current_revision(ctx.db.engine)}.")


def register(app: typer.Typer) -> None:
    """Add the commands to the ``chatforge`` app."""
    app.command()(serve)
    app.command()(migrate)
