"""What every command shares: the wired context, logging and a graceful stop on signals."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import typer

from chatforge.errors import ChatforgeError
from chatforge.services.context import AppContext
from chatforge.settings import Settings
from chatforge.storage import migrate as migrations


def configure_logging(settings: Settings) -> None:
    """Log to stderr at the configured level."""
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")


@contextmanager
def opened(
    settings: Settings | None = None, *, migrate: bool = True, existing: bool = False
) -> Iterator[AppContext]:
    """The context of the configured database, migrated to the newest schema, closed after.

    With ``existing``, a SQLite database that is not there yet is an error rather than made:
    a command that reads (``chatbots list``) run from the wrong folder must say so, not report
    an empty new database.
    """
    settings = settings or Settings()
    database = (settings.data_dir / "chatforge.db").resolve()
    if existing and not settings.database_url and not database.exists():
        raise fail(
            f"No Chatforge database at {database}. Run this where `chatforge serve` runs, or "
            "point CHATFORGE_DATA_DIR (or CHATFORGE_DATABASE_URL) at its data."
        )
    ctx = AppContext.build(settings)
    try:
        if migrate:
            migrations.upgrade(ctx.db.engine)
        yield ctx
    finally:
        ctx.close()


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr; the caller raises the returned exit."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def fail_on(exc: ChatforgeError, code: int = 1) -> typer.Exit:
    """:func:`fail` with the message of a Chatforge error."""
    return fail(exc.message, code)


@contextmanager
def stop_on_signals(notice: str) -> Iterator[threading.Event]:
    """An event set by the first SIGINT or SIGTERM, so that work stops (workers within seconds).

    A second Ctrl-C interrupts at once (KeyboardInterrupt), for a user who will not wait. The
    previous handlers come back on exit. Signals reach only the main thread, which must therefore
    wait in short, interruptible steps (``Event.wait``, ``Thread.join`` with a timeout).
    """
    stop = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        typer.echo(notice, err=True)

    for sig in previous:
        signal.signal(sig, handle)
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
