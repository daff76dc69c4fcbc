"""``chatforge ingest CHATBOT_ID PATH...``: add local files and folders to a knowledge base.

Files go through the same service call as an API upload (the same type check, size limit, dedupe
and durable recording), one file per call, so that a file of a type that is not accepted is
reported and skipped instead of rejecting the rest. Then, unless ``--no-wait``, an in-process
worker indexes them while a progress bar follows their status in the database. That worker takes
any due job of the database, as ``chatforge worker`` would (the queue has no owner); the command
returns once this run's items are ready or failed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from chatforge.commands.common import fail_on, opened, stop_on_signals
from chatforge.errors import ChatforgeError, NotFound, PayloadTooLarge, UnsupportedMediaType
from chatforge.services import operator
from chatforge.services.context import AppContext
from chatforge.services.knowledge.service import KnowledgeItem, KnowledgeService, Upload
from chatforge.services.knowledge.uploads import save_upload
from chatforge.services.knowledge.worker import Worker
from chatforge.settings import Settings

DONE = ("ready", "failed")
POLL_SECONDS = 0.5
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class LocalFile:
    """A file found on the command line: where it is and the name the knowledge base shows."""

    path: Path
    name: str


@dataclass
class Run:
    """What one ``chatforge ingest`` did, for its summary."""

    items: dict[str, KnowledgeItem] = field(default_factory=dict)
    known: set[str] = field(default_factory=set)  # already in the base before this run
    skipped: list[tuple[str, str]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    interrupted: bool = False

    def count(self, *statuses: str) -> int:
        """Items in any of ``statuses``."""
        return sum(item.status in statuses for item in self.items.values())

    @property
    def chunks(self) -> int:
        """Chunks of the items that are ready."""
        return sum(item.chunks for item in self.items.values() if item.status == "ready")


def find_files(paths: Iterable[Path]) -> list[LocalFile]:
    """The files named, and those in the folders named (recursively, hidden ones left out).

    A file's name is its path from the folder that holds what was named (``docs/guide/a.pdf``
    for ``docs``), so that files of the same name in two folders stay apart in the base.
    """
    found: dict[Path, LocalFile] = {}
    for given in paths:
        if not given.is_dir():
            found.setdefault(given.absolute(), LocalFile(given, given.name))
            continue
        top = given.absolute()
        for folder, subfolders, names in os.walk(top):
            subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
            for name in sorted(names):
                path = Path(folder, name)
                if not name.startswith(".") and path.is_file():
                    found.setdefault(path, LocalFile(path, str(path.relative_to(top.parent))))
    return list(found.values())


def record(
    ctx: AppContext, knowledge: KnowledgeService, chatbot_id: str, file: LocalFile, run: Run
) -> None:
    """Store and queue one file exactly as an API upload would; note it or why it was skipped."""
    try:
        with file.path.open("rb") as source:
            copy = save_upload(
                source,
                directory=ctx.tmp_dir,
                max_bytes=ctx.settings.uploads.max_file_bytes,
                what=file.name,
            )
    except PayloadTooLarge as exc:
        run.skipped.append((file.name, exc.message))
        return
    except OSError as exc:
        run.skipped.append((file.name, f"Cannot read the file: {exc.strerror or exc}."))
        return
    try:
        (item,), _ = knowledge.add_files(chatbot_id, [Upload(filename=file.name, path=copy)])
    except UnsupportedMediaType as exc:  # its message starts with the file's name
        run.skipped.append((file.name, exc.message.removeprefix(f"{file.name}: ")))
        return
    finally:
        copy.unlink(missing_ok=True)  # add_files moved it into the store, unless it failed
    if item.id not in run.items and item.status in DONE:
        run.known.add(item.id)
    run.items[item.id] = item


def progress_bar(console: Console) -> Progress:
    """Items done of total, chunks so far, time spent and left."""
    return Progress(
        TextColumn("{task.description:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )


def index(ctx: AppContext, knowledge: KnowledgeService, run: Run, progress: Progress) -> None:
    """Index the run's items with a worker in this process, following their status."""
    task = progress.add_task("Indexing", total=len(run.items), detail="")
    ctx.ensure_search_index()
    worker = Worker(ctx)
    with stop_on_signals("Stopping after the current batch (Ctrl-C again to quit now)...") as stop:
        # Daemon: a second Ctrl-C must end the process; an unfinished job is leased, not lost.
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        thread.start()
        while True:
            refresh(knowledge, run, progress, task)
            if run.count(*DONE) == len(run.items):
                break
            if not thread.is_alive():
                run.interrupted = True
                break
            time.sleep(POLL_SECONDS)
        stop.set()
        while thread.is_alive():
            thread.join(timeout=0.5)
    refresh(knowledge, run, progress, task)


def refresh(knowledge: KnowledgeService, run: Run, progress: Progress, task: TaskID) -> None:
    """Read the status of the items not done yet again, and show it."""
    waiting = [item for item in run.items.values() if item.status not in DONE]
    for batch in _batches(waiting, 500):
        for item in knowledge.wait(batch, timeout=0):
            run.items[item.id] = item
    progress.update(task, completed=run.count(*DONE), detail=f"items, {run.chunks} chunks")


def summary(run: Run, chatbot_name: str) -> Iterator[str]:
    """The lines printed at the end."""
    elapsed = time.perf_counter() - run.started
    new = len(run.items) - len(run.known)
    yield f"Knowledge base: {chatbot_name}"
    yield f"Items:   {len(run.items)} ({new} new, {len(run.known)} already in the knowledge base)"
    yield f"Ready:   {run.count('ready')}"
    yield f"Failed:  {run.count('failed')}"
    for item in run.items.values():
        if item.status == "failed":
            yield f"  {item.source}: {item.error}"
    pending = len(run.items) - run.count(*DONE)
    if pending:
        yield f"Pending: {pending} (queued: `chatforge worker` or `chatforge serve` indexes them)"
    yield f"Chunks:  {run.chunks}"
    yield f"Skipped: {len(run.skipped)}"
    for name, reason in run.skipped:
        yield f"  {name}: {reason}"
    rate = len(run.items) / elapsed if elapsed > 0 else 0.0
    yield f"Time:    {elapsed:.1f} s ({rate:.2f} items/s)"


def ingest(
    chatbot_id: Annotated[
        str, typer.Argument(help="The chatbot's id (see: chatforge chatbots list).")
    ],
    paths: Annotated[
        list[Path],
        typer.Argument(
            exists=True,
            help="Files and folders (folders recursively, hidden files left out).",
        ),
    ],
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait",
            help="Index the files now, with a progress bar; or only queue them for a worker.",
        ),
    ] = True,
) -> None:
    """Add files and folders to a chatbot's knowledge base, on this server's database.

    Exits with 1 when an item failed, 2 when the chatbot is unknown.
    """
    settings = Settings()
    # Batch log lines would tear the progress bar; warnings and errors still show.
    logging.basicConfig(level=max(logging.WARNING, logging.getLevelName(settings.log_level)))
    # pypdf warns about the damage it works around; a file it cannot read is reported as failed.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    files = find_files(paths)
    console = Console(stderr=True)
    run = Run()
    with opened(settings, existing=True) as ctx, ctx.db.sessions() as session:
        try:
            knowledge = operator.knowledge_service(ctx, session, chatbot_id)
            chatbot = knowledge.chatbots.get(chatbot_id.strip())
        except NotFound as exc:
            raise fail_on(exc, EXIT_USAGE) from exc
        try:
            with progress_bar(console) as progress:
                task = progress.add_task("Recording", total=len(files), detail="files")
                for file in files:
                    record(ctx, knowledge, chatbot.id, file, run)
                    progress.advance(task)
                if wait and run.items:
                    index(ctx, knowledge, run, progress)
        except ChatforgeError as exc:
            raise fail_on(exc) from exc
        for line in summary(run, chatbot.name):
            typer.echo(line)
    if run.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if run.count("failed"):
        raise typer.Exit(EXIT_FAILED)


def _batches(items: Sequence[KnowledgeItem], size: int) -> Iterator[list[KnowledgeItem]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def register(app: typer.Typer) -> None:
    """Add the command to the ``chatforge`` app."""
    app.command()(ingest)
