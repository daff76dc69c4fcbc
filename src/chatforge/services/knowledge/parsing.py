"""Reading files and web pages in a child process, under a time and a memory limit per item.

A parser library can take an hour on a small hostile file (a PDF whose 500 pages share one huge
compressed content stream) or exhaust memory on a decompression bomb; in the worker's own process
neither can be stopped. Each worker therefore keeps one long-lived child process
(``python -m chatforge.services.knowledge.parsing``) that reads its items: its address space is
capped (``RLIMIT_AS``, ``parse_memory_mb`` above what the child uses at start), and the worker waits
at most ``parse_timeout_seconds`` for an answer before it kills the child and starts another. Either
way the item fails with a reason that names the setting. The child is a fresh interpreter, never
a fork: the worker's process holds the embedding model's threads, which a fork would copy broken.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import pickle
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple

import httpx

from chatforge.errors import ChatforgeError, FetchError, ParseError
from chatforge.providers.web import WebFetcher
from chatforge.rag.document import ParsedDocument
from chatforge.rag.filetypes import detect_kind
from chatforge.rag.parsers import parse_file, parse_html
from chatforge.settings import IngestionSettings

log = logging.getLogger(__name__)

MAX_SITEMAP_PAGES = 200
#: How often a waiting worker looks at its stop event and its child.
POLL_SECONDS = 0.2


class Stopped(Exception):
    """The worker is stopping: the item was left unread and its job is to be released."""


class Document(NamedTuple):
    """A document of an item: the title its chunks carry, and its web page's URL if any."""

    title: str
    parsed: ParsedDocument
    url: str | None = None


@dataclass(frozen=True)
class ReadRequest:
    """What to read: a stored file, or a web page, crawl or sitemap."""

    kind: str  # "file" or "url"
    source: str  # the file's local path, or the URL
    title: str
    filename: str = ""
    sitemap: bool = False
    max_pages: int = 1
    same_domain: bool = True
    #: The worker's fetcher (its guard and bounds), sent to the child with the request.
    fetcher: WebFetcher | None = None


@dataclass(frozen=True)
class ReadResult:
    """An item's documents, and the bytes fetched for them (web items only)."""

    documents: list[Document]
    fetched_bytes: int | None = None


def _file_title(request: ReadRequest, document: ParsedDocument) -> str:
    """The title a file's chunks carry: the one the document declares (PDF metadata, a DOCX
    title, a first heading) in place of a title that is only the file's name; a title the user
    gave stays."""
    named = request.filename is not None and request.title == Path(request.filename).stem
    return (document.title or request.title) if named else request.title


def read(request: ReadRequest) -> ReadResult:
    """Read an item here, in this process (the child runs this; so may a caller without limits)."""
    if request.kind == "file":
        path = Path(request.source)
        document = parse_file(path, detect_kind(path, filename=request.filename))
        return ReadResult([Document(_file_title(request, document), document)])
    from chatforge.providers.web import crawl, read_sitemap

    fetcher = request.fetcher or WebFetcher()
    pages: list[Document] = []
    fetched = 0
    if request.sitemap:
        for url in read_sitemap(fetcher, request.source, max_urls=MAX_SITEMAP_PAGES):
            try:
                page = fetcher.fetch(url)
                document = parse_html(page.body, page.url)
            except (FetchError, ParseError) as exc:
                log.info("skipping sitemap page: %s", exc.message)
                continue
            pages.append(Document(document.title or url, document, page.url))
            fetched += len(page.body)
    else:
        for page in crawl(
            fetcher, request.source, max_pages=request.max_pages, same_domain=request.same_domain
        ):
            try:
                document = parse_html(page.body, page.url)
            except ParseError:
                continue
            pages.append(Document(document.title or page.url, document, page.url))
            fetched += len(page.body)
    if not pages:
        raise FetchError(f"No readable page was found at {request.source}.")
    return ReadResult(pages, fetched)


class _Child(NamedTuple):
    process: subprocess.Popen[bytes]
    requests: Connection
    replies: Connection


class Parser:
    """Reads items in a child process of its own, one at a time, within the configured limits.

    The child starts on first use and is reused; after a limit is hit it is killed, and the next
    item starts a new one. ``stopping`` is looked at while waiting: when it turns true the child
    is killed and :class:`Stopped` raised, so that a worker stops within a fraction of a second.
    """

    def __init__(
        self, config: IngestionSettings, stopping: Callable[[], bool] = lambda: False
    ) -> None:
        self.config = config
        self.stopping = stopping
        self._child: _Child | None = None
        self._lock = threading.Lock()

    def read(self, request: ReadRequest) -> ReadResult:
        """Read an item in the child; raises ParseError when it breaks a limit."""
        try:
            message = _dumps(request)
        except (pickle.PicklingError, TypeError, AttributeError):
            # A fetcher made in code (a test's resolver function) cannot travel: read it here.
            log.warning("reading %s in the worker's own process, without limits", request.source)
            return read(request)
        with self._lock:
            child = self._start()
            try:
                child.requests.send_bytes(message)
            except OSError:  # the child died between items (killed from outside): a new one
                self._kill()
                child = self._start()
                child.requests.send_bytes(message)
            reply = self._wait(child, request)
        status, value = reply
        if status == "ok":
            assert isinstance(value, ReadResult)
            return value
        if status == "memory":
            self._kill()  # a process that ran out of memory may be left in any state
            raise ParseError(self._memory_message(request))
        assert isinstance(value, Exception)
        raise value

    def close(self) -> None:
        """Stop the child (safe from any thread, also while a read is waiting on it)."""
        self._kill()

    def _wait(self, child: _Child, request: ReadRequest) -> tuple[str, object]:
        deadline = time.monotonic() + self.config.parse_timeout_seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                raise ParseError(
                    f"Reading this {_noun(request)} took longer than "
                    f"{self.config.parse_timeout_seconds:g} s, the limit "
                    "(CHATFORGE_INGESTION__PARSE_TIMEOUT_SECONDS)."
                )
            if self.stopping():
                self._kill()
                raise Stopped
            try:
                if child.replies.poll(min(POLL_SECONDS, remaining)):
                    reply: tuple[str, object] = child.replies.recv()
                    return reply
            except (EOFError, OSError):
                pass  # the child died: below
            if child.process.poll() is not None or child.replies.closed:
                self._kill()
                if self.stopping():
                    raise Stopped
                # Killed by the kernel or crashed in a C library: nearly always memory.
                raise ParseError(self._memory_message(request))

    def _memory_message(self, request: ReadRequest) -> str:
        return (
            f"Reading this {_noun(request)} needed more than {self.config.parse_memory_mb} MB "
            "of memory, the limit (CHATFORGE_INGESTION__PARSE_MEMORY_MB)."
        )

    def _start(self) -> _Child:
        if self._child is not None and self._child.process.poll() is None:
            return self._child
        self._kill()
        to_child_r, to_child_w = os.pipe()
        to_parent_r, to_parent_w = os.pipe()
        fds = (to_child_r, to_parent_w)
        command = [sys.executable, "-m", "chatforge.services.knowledge.parsing", *map(str, fds)]
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*command, str(self.config.parse_memory_mb)],
            pass_fds=fds,
            stdin=subprocess.DEVNULL,
            close_fds=True,
        )
        os.close(to_child_r)
        os.close(to_parent_w)
        self._child = _Child(
            process, Connection(to_child_w, readable=False), Connection(to_parent_r, writable=False)
        )
        return self._child

    def _kill(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        if child.process.poll() is None:
            child.process.kill()
        child.process.wait()
        for connection in (child.requests, child.replies):
            with contextlib.suppress(OSError):
                connection.close()


def _noun(request: ReadRequest) -> str:
    return "file" if request.kind == "file" else "web source"


class _Pickler(pickle.Pickler):
    """Pickles a request; a TLS context (which cannot be pickled) is made again in the child."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, ssl.SSLContext):
            return httpx.create_ssl_context, ()
        return NotImplemented


def _dumps(request: ReadRequest) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(request)
    return buffer.getvalue()


# --- the child -------------------------------------------------------------------------------


def _watch_parent() -> None:
    """Exit when the worker is gone (``kill -9``), instead of reading on for nobody."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _limit_memory(megabytes: int) -> None:
    import resource

    with Path("/proc/self/status").open(encoding="ascii") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    start = int(fields["VmSize"].split()[0]) * 1024
    limit = start + megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _serve(requests: Connection, replies: Connection) -> None:
    while True:
        try:
            request = pickle.loads(requests.recv_bytes())  # noqa: S301 - from our own worker
        except (EOFError, OSError):
            return  # the worker closed its end: done
        reply: tuple[str, Any]
        try:
            reply = ("ok", read(request))
        except MemoryError:
            reply = ("memory", None)
        except ChatforgeError as exc:
            # The parsers turn any library exception into "this file cannot be read"; running
            # out of memory must instead name the limit.
            out_of_memory = isinstance(exc.__cause__, MemoryError)
            reply = ("memory", None) if out_of_memory else ("error", type(exc)(exc.message))
        except Exception as exc:  # a parser's bug on a strange file: the worker logs and retries
            reply = ("error", RuntimeError(f"{type(exc).__name__}: {exc}"))
        try:
            replies.send(reply)
        except MemoryError:
            replies.send(("memory", None))
        if reply[0] == "memory":
            return


def main(argv: list[str]) -> None:
    """The child's entry point: read requests from one pipe, answer on the other."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    requests = Connection(int(argv[0]), writable=False)
    replies = Connection(int(argv[1]), readable=False)
    _watch_parent()
    if sys.platform == "linux":
        _limit_memory(int(argv[2]))
    _serve(requests, replies)


if __name__ == "__main__":
    # Run as the imported module, not as ``__main__``: the replies' classes must pickle under
    # the names the worker knows them by.
    from chatforge.services.knowledge.parsing import main as child_main

    child_main(sys.argv[1:])
