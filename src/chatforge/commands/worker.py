"""``chatforge worker``: ingestion workers in their own process, on this or another machine.

Every worker takes jobs from the jobs table of the configured database, so that any number of
processes, here or on other machines sharing a PostgreSQL database, split the queue between them.
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated

import typer

from chatforge.commands.common import configure_logging, opened, stop_on_signals
from chatforge.services.worker import Worker
from chatforge.settings import Settings

log = logging.getLogger("chatforge.worker")


def worker(
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            help=(
                "Workers in this process. Two overlap one batch's parsing and writing with "
                "another's embedding; more rarely help on a small machine."
            ),
        ),
    ] = 1,
) -> None:
    """Run ingestion workers until Ctrl-C or SIGTERM (each stops after its current batch)."""
    settings = Settings()
    configure_logging(settings)
    with opened(settings) as ctx:
        ctx.ensure_search_index()
        workers = [Worker(ctx) for _ in range(concurrency)]
        with stop_on_signals("Stopping after the current batch...") as stop:
            threads = [
                threading.Thread(
                    target=w.run, args=(stop,), name=f"chatforge-worker-{n}", daemon=True
                )
                for n, w in enumerate(workers, start=1)
            ]
            for thread in threads:
                thread.start()
            log.info(
                "%d ingestion worker(s) on %s; Ctrl-C or SIGTERM stops them",
                concurrency,
                ctx.engine.url.render_as_string(hide_password=True),
            )
            # Joined in short steps: the main thread must stay free to receive the signals.
            while any(thread.is_alive() for thread in threads):
                for thread in threads:
                    thread.join(timeout=0.5)
    log.info("all workers stopped")


def register(app: typer.Typer) -> None:
    """Add the command to the ``chatforge`` app."""
    app.command()(worker)
