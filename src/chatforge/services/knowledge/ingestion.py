"""The ingestion pipeline: parse -> clean -> chunk -> embed -> index, with timings per stage.

Items are prepared one by one (parse, chunk) but embedded together: a worker takes several jobs at
once so that the model sees full batches, which is where the time goes. The database sees a batch,
not an item, at a time: one statement marks the batch ``processing``, and one transaction writes
every item's chunks, keyword rows and vectors and marks it ``ready``, each item in a savepoint of
its own so that one item's failure never undoes another's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from chatforge.errors import ChatforgeError, FetchError, ParseError, UnsupportedMediaType
from chatforge.providers.embeddings import Embedder, normalise
from chatforge.rag.chunking import Chunk as DraftChunk
from chatforge.rag.chunking import chunk_document, format_content, qna_chunk, split_windows
from chatforge.rag.parsers import parse_markdown, parse_text
from chatforge.services.context import AppContext
from chatforge.services.knowledge.indexing import ChunkRow, replace_chunks
from chatforge.services.knowledge.parsing import Document, Parser, ReadRequest, Stopped
from chatforge.settings import IngestionSettings
from chatforge.storage.models import KnowledgeItem, utcnow

log = logging.getLogger(__name__)

#: The item's ``metadata`` flag: its title is its page's own (or its URL until the page is read),
#: not one the user gave.
TITLE_FROM_PAGE = "title_from_page"

#: Errors that no retry can fix: the item fails with the error's message.
PERMANENT_ERRORS = (ParseError, FetchError, UnsupportedMediaType)
#: Item types read in the parser's child process (the others need no parser).
READ_IN_CHILD = frozenset({"file", "url"})


def header_tokens(count_tokens: Callable[[str], int], title: str) -> int:
    """Tokens that okchat's ``Title: ...\nChunk: n\n\nContent:\n`` header adds to a chunk."""
    return max(count_tokens(format_content(title, 999, "")) - count_tokens(""), 0)


def window_contents(
    embedder: Embedder,
    config: IngestionSettings,
    title: str,
    index: int,
    text: str,
    budget: int | None = None,
) -> list[str]:
    """The stored form of a chunk's windows (``split_windows``), each with the chunk's header.

    ``budget`` is the window's tokens less the header's, when the caller knows it already.
    """
    if not config.window_tokens:
        return []
    if budget is None:
        budget = min(config.window_tokens, embedder.max_tokens)
        budget -= header_tokens(embedder.count_tokens, title)
    windows = split_windows(
        text,
        count_tokens=embedder.count_tokens,
        max_tokens=budget,
        overlap_tokens=config.window_overlap_tokens,
    )
    return [format_content(title, index, window) for window in windows]


@dataclass
class Prepared:
    """An item parsed and chunked, waiting for its embeddings."""

    item_id: str
    chatbot_id: str
    titles: list[str]
    chunks: list[DraftChunk]
    meta: dict[str, Any] = field(default_factory=dict)
    vectors: np.ndarray | None = None
    #: Per chunk (every chunk, once chunked), the stored form of its windows
    #: (``split_windows``; none for a short chunk), and their vectors.
    windows: list[list[str]] = field(default_factory=list)
    window_vectors: list[np.ndarray] = field(default_factory=list)
    #: Texts to embed instead of the chunks' content (a Q&A pair is embedded by its question).
    embed_as: list[str] | None = None
    #: The item's content hash and title when it was read, to tell whether it changed since.
    version: tuple[str, str] = ("", "")
    #: Bytes fetched for a web item (its pages' bodies); other items' sizes are known upfront.
    fetched_bytes: int | None = None
    #: The title a web page gives itself, for an item the user did not name (see
    #: :func:`titled_by_page`).
    page_title: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What happened to one item."""

    item_id: str
    ok: bool
    error: str | None = None
    permanent: bool = False
    chunks: int = 0
    #: Left unread, for fairness: the job goes back to the queue as if never taken.
    deferred: bool = False


class Ingestor:
    """Runs the pipeline for knowledge items."""

    def __init__(self, ctx: AppContext, parser: Parser | None = None) -> None:
        self.ctx = ctx
        self.parser = parser or Parser(ctx.settings.ingestion)
        self._index_ensured = False

    def ingest(
        self, item_ids: Sequence[str], *, keep: Callable[[str], bool] | None = None
    ) -> list[Outcome]:
        """Index the given items; returns one outcome per item (never raises for an item).

        ``keep`` is asked before each item is read; an item it refuses is left unread, with a
        ``deferred`` outcome. Raises :class:`~chatforge.services.knowledge.parsing.Stopped` when the
        parser's worker is stopping: the caller releases every item.
        """
        outcomes: list[Outcome] = []
        prepared: list[Prepared] = []
        for item in self._start(item_ids):
            if keep is not None and not keep(item.id):
                outcomes.append(Outcome(item.id, ok=False, deferred=True))
                continue
            if item.type in READ_IN_CHILD and any(
                p.chatbot_id != item.chatbot_id for p in prepared
            ):
                # Another chatbot's items, ready to embed, must not wait on this one's reading
                # (which may take up to the time limit): index them first.
                outcomes += self._index(prepared)
                prepared = []
            try:
                prepared.append(self._prepare(item))
            except Stopped:
                raise
            except Exception as exc:
                outcomes.append(_failure(item.id, exc))
        return outcomes + self._index(prepared)

    def _index(self, prepared: list[Prepared]) -> list[Outcome]:
        """Embed and write prepared items; one outcome each."""
        if not prepared:
            return []
        try:
            self._embed(prepared)
            self._ensure_index()
        except Exception as exc:
            return [_failure(p.item_id, exc) for p in prepared]
        return self._write(prepared)

    def _start(self, item_ids: Sequence[str]) -> list[KnowledgeItem]:
        """Mark the items ``processing`` and load them, in one transaction (gone ones skipped)."""
        if not item_ids:
            return []
        with self.ctx.db.sessions() as session:
            session.execute(
                update(KnowledgeItem)
                .where(KnowledgeItem.id.in_(item_ids))
                .values(status="processing", error=None)
            )
            items = session.scalars(
                select(KnowledgeItem).where(KnowledgeItem.id.in_(item_ids))
            ).all()
            session.commit()
        order = {item_id: n for n, item_id in enumerate(item_ids)}
        return sorted(items, key=lambda item: order[item.id])

    def _ensure_index(self) -> None:
        # A worker may run where no server started (``chatforge worker``, the CLI, another
        # machine): the vector table must not depend on a server having made it first.
        if not self._index_ensured:
            self.ctx.ensure_search_index()
            self._index_ensured = True

    def _prepare(self, item: KnowledgeItem) -> Prepared:
        started = time.perf_counter()
        docs, fetched_bytes = self._parse(item)
        parsed = time.perf_counter()
        prepared = self._chunk(item, docs)
        prepared.fetched_bytes = fetched_bytes
        prepared.version = (item.content_hash, item.title)
        chunked = time.perf_counter()
        prepared.meta.update(
            parse_ms=round((parsed - started) * 1000, 1),
            chunk_ms=round((chunked - parsed) * 1000, 1),
        )
        if not prepared.chunks:
            raise ParseError("No text could be extracted from this source.")
        return prepared

    def _parse(self, item: KnowledgeItem) -> tuple[list[Document], int | None]:
        """The item's documents, and the bytes fetched for them (web items only).

        Files and web pages are read in the parser's child process, under its limits; texts
        (bounded by the API) and Q&A pairs need no parser.
        """
        if item.type == "text":
            content = item.content or ""
            parser = parse_markdown if item.source.endswith(".md") else parse_text
            return [Document(item.title, parser(content))], None
        if item.type == "qna":
            return [], None
        if item.type == "file":
            request = ReadRequest(
                "file", str(self._local_file(item)), item.title, filename=item.source
            )
        else:
            crawl_options = item.meta.get("crawl") or {}
            request = ReadRequest(
                "url",
                item.source,
                item.title,
                sitemap=item.meta.get("kind") == "sitemap",
                max_pages=int(crawl_options.get("max_pages", 1)),
                same_domain=bool(crawl_options.get("same_domain", True)),
                fetcher=self.ctx.web_fetcher(),
            )
        result = self.parser.read(request)
        return result.documents, result.fetched_bytes

    def _chunk(self, item: KnowledgeItem, docs: list[Document]) -> Prepared:
        embedder = self.ctx.models.embedder
        config = self.ctx.settings.ingestion
        prepared = Prepared(item_id=item.id, chatbot_id=item.chatbot_id, titles=[], chunks=[])
        if item.type == "qna":
            question = str(item.meta.get("question", item.title))
            chunk = qna_chunk(question, str(item.meta.get("answer", item.content or "")))
            prepared.titles.append(question)
            prepared.chunks.append(chunk)
            # Embedded by its question, so that a user asking it matches it closely; the answer
            # is still found by keyword search.
            prepared.embed_as = [question]
            prepared.windows = [[]]
            return prepared
        pages = 0
        for number, (title, document, url) in enumerate(docs, start=1):
            pages += document.pages or 0
            header = header_tokens(embedder.count_tokens, title)
            budget = max(min(config.chunk_tokens, embedder.max_tokens) - header, 32)
            window_budget = min(config.window_tokens, embedder.max_tokens) - header
            for chunk in chunk_document(
                document,
                title=title,
                count_tokens=embedder.count_tokens,
                max_tokens=budget,
                overlap_tokens=min(config.chunk_overlap_tokens, budget // 2),
            ):
                # Chunks are numbered through the whole item, also when it spans several pages.
                index = len(prepared.chunks) + 1
                prepared.titles.append(title)
                prepared.chunks.append(
                    DraftChunk(
                        index=index,
                        heading=chunk.heading,
                        text=chunk.text,
                        content=format_content(title, index, chunk.text),
                        tokens=chunk.tokens,
                        # A web item's page is the number of the page (of ``page_urls``).
                        page=chunk.page if url is None else number,
                    )
                )
                prepared.windows.append(
                    window_contents(embedder, config, title, index, chunk.text, window_budget)
                )
        if pages:
            prepared.meta["pages"] = pages
        if item.type == "url":
            prepared.meta["documents"] = len(docs)
            prepared.meta["page_urls"] = [doc.url for doc in docs]
            if titled_by_page(item) and docs:  # the start page, read first
                prepared.page_title = docs[0].parsed.title
        return prepared

    def _embed(self, prepared: list[Prepared]) -> None:
        # The stored okchat form is what gets embedded: title, position and text together
        # measured best on SciFact (bench/RESULTS.md), and chunks are sized so that it fits.
        # A chunk cut into windows is embedded as its windows only: its own vector is their
        # mean, which finds candidates and feeds back nearly as well as embedding it whole, at
        # 1.3 instead of 2.3 times the chunks' tokens.
        texts = [
            text
            for item in prepared
            for text in (
                item.embed_as
                or [c.content for c, w in zip(item.chunks, item.windows, strict=True) if not w]
            )
        ]
        texts += [text for item in prepared for windows in item.windows for text in windows]
        started = time.perf_counter()
        vectors = self.ctx.models.embedder.embed(texts)
        elapsed_ms = (time.perf_counter() - started) * 1000
        offset = 0
        whole: list[np.ndarray] = []
        for item in prepared:
            count = len(item.embed_as) if item.embed_as else item.windows.count([])
            whole.append(vectors[offset : offset + count])
            offset += count
        for item, own in zip(prepared, whole, strict=True):
            embedded, rows, next_own = len(own), [], iter(own)
            item.window_vectors = []
            for windows in item.windows:
                found = vectors[offset : offset + len(windows)]
                offset += len(windows)
                embedded += len(windows)
                item.window_vectors.append(found)
                rows.append(
                    normalise(found.mean(axis=0, keepdims=True))[0]
                    if len(found)
                    else next(next_own)
                )
            item.vectors = (
                np.stack(rows) if rows else np.zeros((0, vectors.shape[1]), dtype=np.float32)
            )
            # The batch's time, shared by texts embedded: each item's fair part of it.
            item.meta["embed_ms"] = round(elapsed_ms * embedded / max(len(texts), 1), 1)

    def _write(self, batch: list[Prepared]) -> list[Outcome]:
        """Store every item of the batch in one transaction, each in its own savepoint."""
        outcomes: list[Outcome] = []
        with self.ctx.db.sessions() as session:
            # The row locks order these writes after a concurrent edit, disable or delete of an
            # item on PostgreSQL (SQLite's write transactions are already serial).
            items = {
                item.id: item
                for item in session.scalars(
                    select(KnowledgeItem)
                    .where(KnowledgeItem.id.in_([p.item_id for p in batch]))
                    .order_by(KnowledgeItem.id)
                    .with_for_update()
                )
            }
            # By chatbot: each write moves its chatbot's search version (a row lock on
            # PostgreSQL), and workers that take those locks in one order cannot deadlock.
            for prepared in sorted(batch, key=lambda p: (p.chatbot_id, p.item_id)):
                item = items.get(prepared.item_id)
                try:
                    with session.begin_nested():
                        chunks = self._write_one(session, item, prepared)
                except Exception as exc:
                    outcomes.append(_failure(prepared.item_id, exc))
                    continue
                outcomes.append(Outcome(prepared.item_id, ok=True, chunks=chunks))
            session.commit()
        return outcomes

    def _write_one(self, session: Session, item: KnowledgeItem | None, prepared: Prepared) -> int:
        assert prepared.vectors is not None
        if item is None:  # deleted while it was being embedded
            return 0
        if (item.content_hash, item.title) != prepared.version:
            # Edited while this run was embedding: the edit's own job indexes the new version
            # (it may already have, on another worker); never overwrite it with this one.
            return 0
        started = time.perf_counter()
        rows = [
            ChunkRow(
                chunk_index=chunk.index,
                title=title,
                content=chunk.content,
                body=chunk.text,
                tokens=chunk.tokens,
                page=chunk.page,
                vector=vector,
                windows=windows,
                heading=chunk.heading,
                qna=chunk.qna,
            )
            for title, chunk, vector, windows in zip(
                prepared.titles,
                prepared.chunks,
                prepared.vectors,
                prepared.window_vectors,
                strict=True,
            )
        ]
        replace_chunks(
            session.connection(),
            self.ctx.models.search_index,
            item_id=item.id,
            chatbot_id=item.chatbot_id,
            rows=rows,
            searchable=item.enabled,
        )
        meta = {**item.meta, **prepared.meta}
        meta["index_ms"] = round((time.perf_counter() - started) * 1000, 1)
        meta["chunks"] = len(rows)
        meta["tokens"] = sum(r.tokens for r in rows)
        meta["indexed_hash"] = item.content_hash
        values: dict[str, Any] = {"status": "ready", "error": None, "chunks": len(rows)}
        if prepared.page_title and titled_by_page(item):  # not renamed by the user meanwhile
            values["title"] = _page_title(prepared.page_title)
            meta[TITLE_FROM_PAGE] = True  # an item older than the flag keeps following its page
        if prepared.fetched_bytes is not None:
            values["size_bytes"] = prepared.fetched_bytes
        session.execute(
            update(KnowledgeItem)
            .where(KnowledgeItem.id == item.id)
            .values(**values, meta=meta, updated_at=utcnow())
        )
        return len(rows)

    def _local_file(self, item: KnowledgeItem) -> Path:
        path = self.ctx.files.local_path(item.file_key or "")
        if path is None:
            raise ParseError("The uploaded file is missing from storage.")
        return path


#: The longest title a page may give its item: the API's own limit for a title a user types.
MAX_PAGE_TITLE = 500


def _page_title(title: str) -> str:
    """A page's title as an item's title: cut at a word before :data:`MAX_PAGE_TITLE`."""
    title = " ".join(title.split())
    if len(title) <= MAX_PAGE_TITLE:
        return title
    return title[: MAX_PAGE_TITLE - 1].rsplit(" ", 1)[0].rstrip(" ,.;:-") + "…"


def titled_by_page(item: KnowledgeItem) -> bool:
    """Whether a web page item takes its title from the page: the user gave it none (it is
    named by its URL until the page is read). A sitemap lists pages and has no title of its
    own: it stays named by its URL. An item without the flag (:data:`TITLE_FROM_PAGE`) is one
    whose title is its URL."""
    if item.type != "url" or item.meta.get("kind") == "sitemap":
        return False
    return bool(item.meta.get(TITLE_FROM_PAGE, item.title == item.source))


def _failure(item_id: str, exc: Exception) -> Outcome:
    if isinstance(exc, PERMANENT_ERRORS):
        return Outcome(item_id, ok=False, error=exc.message, permanent=True)
    if isinstance(exc, ChatforgeError):
        log.warning("ingestion of %s failed: %s", item_id, exc.message)
        return Outcome(item_id, ok=False, error=exc.message)
    log.error("ingestion of %s failed", item_id, exc_info=exc)
    # The item's error is shown to the customer: no internals, the log has the trace.
    return Outcome(item_id, ok=False, error="Indexing failed unexpectedly.")


def item_status(ctx: AppContext, item_ids: Sequence[str]) -> dict[str, str]:
    """Current status of items (for waiting callers and tests)."""
    with ctx.db.sessions() as session:
        rows = session.execute(
            select(KnowledgeItem.id, KnowledgeItem.status).where(KnowledgeItem.id.in_(item_ids))
        )
        return {str(r[0]): str(r[1]) for r in rows}
