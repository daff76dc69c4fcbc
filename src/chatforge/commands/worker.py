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
from chatforge.services.knowledge.worker import Worker, stop_workers
from chatforge.settings import Settings

log = logging.getLogger("chatforge.worker")


#: After SIGTERM, how long workers may finish what they are doing before their jobs are
#: released and the process exits (well inside the 10 s a supervisor usually grants).
STOP_SECONDS = 5.0


def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            help=(
                "Workers in this process (default: CHATFORGE_INGESTION__WORKERS). Each reads "
                "files in a child process of its own; two overlap one batch's reading and "
                "writing with another's embedding."
            ),
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run ingestion workers until Ctrl-C or SIGTERM (unfinished jobs go back to the queue)."""
    settings = Settings()
    configure_logging(settings)
    count = concurrency or settings.ingestion.workers
    with opened(settings) as ctx:
        ctx.ensure_search_index()
        with stop_on_signals("Stopping; unfinished jobs go back to the queue...") as stop:
            workers = [Worker(ctx, stop=stop) for _ in range(count)]
            threads = [
                threading.Thread(target=w.run, name=f"chatforge-worker-{n}", daemon=True)
                for n, w in enumerate(workers, start=1)
            ]
            for thread in threads:
                thread.start()
            log.info(
                "%d ingestion worker(s) on %s; Ctrl-C or SIGTERM stops them",
                count,
                ctx.db.engine.url.render_as_string(hide_password=True),
            )
            # Waited on in short steps: the main thread must stay free to receive the signals.
            while not stop.wait(0.5) and any(thread.is_alive() for thread in threads):
                pass
            stop_workers(workers, threads, stop, STOP_SECONDS)
    log.info("all workers stopped")


def register(app: typer.Typer) -> None:
    """Add the command to the ``chatforge`` app."""
    app.command()(worker)
