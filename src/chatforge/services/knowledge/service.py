"""A chatbot's knowledge base: add files and sources, list, edit, enable, delete.

Adding only records: the item is stored (its file on disk, fsynced) and a job is queued in the
same transaction, so that a crash after the API answers loses nothing; the worker
(:mod:`chatforge.services.knowledge.ingestion`) does the parsing, chunking, embedding and indexing.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chatforge.errors import (
    ChatforgeError,
    FetchRefused,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from chatforge.rag.filetypes import detect_kind
from chatforge.services.accounts import quotas
from chatforge.services.chatbots.service import ChatbotService
from chatforge.services.context import AppContext
from chatforge.services.knowledge import waiting
from chatforge.services.knowledge.indexing import disable_item, enable_item
from chatforge.services.knowledge.ingestion import TITLE_FROM_PAGE, titled_by_page
from chatforge.services.knowledge.uploads import save_upload
from chatforge.storage.models import Chatbot, Job, KnowledgeItem, utcnow

__all__ = ["KnowledgeItem", "KnowledgeService", "Upload"]

ITEM_TYPES = ("file", "text", "qna", "url")
STATUSES = ("pending", "processing", "ready", "failed")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Upload:
    """A file received by the API, already on disk."""

    filename: str
    path: Path


@dataclass(frozen=True)
class Rejected:
    """A file of an upload that was not stored, and why."""

    filename: str
    error: ChatforgeError


def sha256_file(path: Path) -> tuple[str, int]:
    """The SHA-256 of a file and its size, read in blocks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def sha256_text(*parts: str) -> str:
    """The SHA-256 of text parts (a separator keeps ("ab", "c") and ("a", "bc") apart)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class KnowledgeService:
    """Knowledge use cases for one organization."""

    def __init__(self, ctx: AppContext, session: Session, organization_id: str) -> None:
        self.ctx = ctx
        self.session = session
        self.chatbots = ChatbotService(ctx, session, organization_id)

    def list_items(
        self,
        chatbot_id: str,
        *,
        page: int = 1,
        limit: int = 20,
        item_type: str | None = None,
        status: str | None = None,
    ) -> tuple[Chatbot, list[KnowledgeItem], int]:
        """A page of the chatbot's items, newest first, and the total that match."""
        chatbot = self.chatbots.get(chatbot_id)
        query = select(KnowledgeItem).where(KnowledgeItem.chatbot_id == chatbot.id)
        if item_type:
            query = query.where(KnowledgeItem.type == item_type)
        if status:
            query = query.where(KnowledgeItem.status == status)
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        items = self.session.scalars(
            query.order_by(KnowledgeItem.created_at.desc(), KnowledgeItem.id)
            .offset((page - 1) * limit)
            .limit(limit)
        )
        return chatbot, list(items), total

    def get(self, chatbot_id: str, item_id: str, *, for_update: bool = False) -> KnowledgeItem:
        """One item of one of the organization's chatbots (row-locked when ``for_update``)."""
        chatbot = self.chatbots.get(chatbot_id)
        query = select(KnowledgeItem).where(
            KnowledgeItem.id == item_id, KnowledgeItem.chatbot_id == chatbot.id
        )
        if for_update:
            # Orders edits and deletes after an ingestion write of the same item on PostgreSQL.
            query = query.with_for_update(of=KnowledgeItem)
        item = self.session.scalar(query)
        if item is None:
            raise NotFound(f"Knowledge item {item_id} not found.")
        return item

    def upload_files(
        self, chatbot_id: str, parts: Sequence[tuple[str, BinaryIO]]
    ) -> tuple[list[KnowledgeItem], list[Rejected]]:
        """Stream received files (name, stream) to disk within the upload limits, then
        :meth:`add_files` them; the copies are removed once stored.

        A file over ``uploads.max_file_bytes`` is refused alone; more files than
        ``uploads.max_files_per_request`` is a 413 for the whole request.
        """
        limits = self.ctx.settings.uploads
        if len(parts) > limits.max_files_per_request:
            raise PayloadTooLarge(f"At most {limits.max_files_per_request} files per request.")
        uploads: list[Upload] = []
        too_large: list[Rejected] = []
        try:
            for name, stream in parts:
                try:
                    path = save_upload(
                        stream,
                        directory=self.ctx.tmp_dir,
                        max_bytes=limits.max_file_bytes,
                        what=name,
                    )
                except PayloadTooLarge as exc:  # this file is refused, the others go on
                    too_large.append(Rejected(name, exc))
                    continue
                uploads.append(Upload(filename=name, path=path))
            return self.add_files(chatbot_id, uploads, too_large)
        finally:
            for upload in uploads:
                upload.path.unlink(missing_ok=True)

    def add_files(
        self, chatbot_id: str, uploads: list[Upload], refused: Sequence[Rejected] = ()
    ) -> tuple[list[KnowledgeItem], list[Rejected]]:
        """Record uploaded files and queue them; a file already in the base is returned as is.

        Every file's type is checked from its bytes first: a file of no accepted kind is
        refused alone (and so is one the caller could not send, passed in ``refused``) while
        the others are stored. When every file is refused, the first refusal is raised (415 or
        413, naming the file) and nothing is stored.

        Returns:
            The items, one per stored (or already known) file, and the refused files.
        """
        chatbot = self.chatbots.get(chatbot_id)
        rejected = list(refused)
        accepted: list[Upload] = []
        for upload in uploads:
            try:
                detect_kind(upload.path, filename=upload.filename)
            except UnsupportedMediaType as exc:  # say which of the files it was
                error = UnsupportedMediaType(
                    f"{upload.filename}: {exc.message}",
                    details={**(exc.details or {}), "file": upload.filename},
                )
                rejected.append(Rejected(upload.filename, error))
            else:
                accepted.append(upload)
        if not accepted:
            raise rejected[0].error
        uploads = accepted
        items: list[KnowledgeItem] = []
        stored: list[str] = []
        digests = [sha256_file(upload.path) for upload in uploads]
        known = self._by_hash(chatbot.id, [digest for digest, _size in digests])
        fresh = {
            (digest if size else f"{digest}/{upload.filename}"): size
            for upload, (digest, size) in zip(uploads, digests, strict=True)
        }
        self._check_quotas([size for key, size in fresh.items() if key not in known], known)
        try:
            for upload, (digest, size) in zip(uploads, digests, strict=True):
                # Every empty file has the same hash: only the same name is the same file.
                key = digest if size else f"{digest}/{upload.filename}"
                if key not in known and not size:
                    named = self._empty_named(chatbot.id, digest, upload.filename)
                    if named is not None:
                        known[key] = named
                existing = known.get(key)
                if existing is not None:
                    self._retry_if_failed(existing)
                    items.append(existing)
                    continue
                item = KnowledgeItem(
                    chatbot_id=chatbot.id,
                    type="file",
                    title=Path(upload.filename).stem or upload.filename or "Untitled",
                    source=upload.filename,
                    size_bytes=size,
                    content_hash=digest,
                    meta={},
                )
                self.session.add(item)
                self.session.flush()
                known[key] = item
                # Leading dots go: a name of "." or ".." would be the folder itself or its parent.
                name = _UNSAFE_NAME.sub("_", Path(upload.filename).name).lstrip(".")
                safe = name[-120:] or "file"
                item.file_key = f"chatbots/{chatbot.id}/files/{item.id}/{safe}"
                self.ctx.files.put(item.file_key, upload.path)
                stored.append(item.file_key)
                self._enqueue(item)
                items.append(item)
            self.session.commit()
        except Exception:
            self.session.rollback()
            for key in stored:
                self.ctx.files.delete(key)
            raise
        return items, rejected

    def add_sources(self, chatbot_id: str, sources: list[dict[str, Any]]) -> list[KnowledgeItem]:
        """Record text, Q&A, URL and sitemap sources and queue them."""
        chatbot = self.chatbots.get(chatbot_id)
        for index, source in enumerate(sources):
            if source.get("url"):
                self._check_address(
                    str(source["url"]), f"{index}.url" if len(sources) > 1 else "url"
                )
        drafts = [_item_from_source(chatbot.id, source) for source in sources]
        known = self._by_hash(chatbot.id, [draft.content_hash for draft in drafts])
        # A URL's size is known once fetched (the column's default fills in 0 at flush).
        fresh = {d.content_hash: d.size_bytes or 0 for d in drafts if d.content_hash not in known}
        self._check_quotas(list(fresh.values()), known)
        items: list[KnowledgeItem] = []
        new: list[KnowledgeItem] = []
        for draft in drafts:
            existing = known.get(draft.content_hash)
            if existing is not None:
                self._retry_if_failed(existing)
                items.append(existing)
                continue
            known[draft.content_hash] = draft
            self.session.add(draft)
            new.append(draft)
            items.append(draft)
        self.session.flush()
        for item in new:
            self._enqueue(item)
        self.session.commit()
        return items

    def update(self, chatbot_id: str, item_id: str, patch: dict[str, Any]) -> KnowledgeItem:
        """Edit an item: content edits re-index it, ``enabled`` hides or shows it."""
        item = self.get(chatbot_id, item_id, for_update=True)
        old_size = item.size_bytes
        reindex = False
        if patch.get("title") is not None and item.type != "qna":
            item.title = str(patch["title"])
            if item.type == "url":  # named by the user now, never again by its page
                item.meta = {**item.meta, TITLE_FROM_PAGE: False}
            reindex = True
        if item.type == "text" and patch.get("content") is not None:
            item.content = str(patch["content"])
            item.size_bytes = len(item.content.encode())
            reindex = True
        # A Q&A pair's title is its question: editing either edits both.
        asked = patch.get("question") or patch.get("title")
        if item.type == "qna" and (asked or patch.get("answer")):
            question = str(asked or item.meta.get("question", ""))
            answer = str(patch.get("answer") or item.meta.get("answer", ""))
            item.meta = {**item.meta, "question": question, "answer": answer}
            item.title, item.content = question, answer
            item.size_bytes = len((question + answer).encode())
            reindex = True
        if item.type == "url" and patch.get("url"):
            self._check_address(str(patch["url"]), "url")
            if titled_by_page(item):  # named by its new URL until the new page is read
                item.title = str(patch["url"])
            item.source = str(patch["url"])
            reindex = True
        if not reindex and set(patch) - {"enabled"}:
            raise ValidationFailed(
                f"Nothing to change on a {item.type} item with these fields.",
                details=[
                    {"field": k, "message": f"not editable on a {item.type} item"}
                    for k in sorted(set(patch) - {"enabled"})
                ],
            )
        if reindex:
            quotas.check_knowledge(
                self.session,
                self.ctx.settings.quotas,
                self.chatbots.organization_id,
                stored_bytes=max(0, item.size_bytes - old_size),
                jobs=1,
            )
            item.content_hash = _hash_of(item)
            item.status, item.error = "pending", None
            self._enqueue(item)
        if patch.get("enabled") is not None and bool(patch["enabled"]) != item.enabled:
            item.enabled = bool(patch["enabled"])
            with_conn = self.session.connection()
            if item.enabled:
                enable_item(with_conn, self.ctx.models.search_index, item.id)
            else:
                disable_item(with_conn, self.ctx.models.search_index, item.id)
        item.updated_at = utcnow()
        self.session.commit()
        return item

    def delete(self, chatbot_id: str, item_id: str) -> Chatbot:
        """Delete an item with its chunks, index rows and stored file."""
        item = self.get(chatbot_id, item_id, for_update=True)
        disable_item(self.session.connection(), self.ctx.models.search_index, item.id)
        file_key = item.file_key
        self.session.delete(item)
        self.session.commit()
        if file_key:
            self.ctx.files.delete_prefix(file_key.rsplit("/", 1)[0] + "/")
        return self.chatbots.get(chatbot_id)

    def wait(self, items: list[KnowledgeItem], timeout: float) -> list[KnowledgeItem]:
        """Wait until every item is ``ready`` or ``failed`` (or the timeout passes), on this
        thread: for the command line (``timeout=0`` reads their state again). The API waits
        with :meth:`wait_indexed`, which holds no thread."""
        ids = [item.id for item in items]
        deadline = time.monotonic() + timeout
        while True:
            # Only these rows are read again: expiring every object would make the caller's
            # next look at any other one begin a transaction (on SQLite, the write lock).
            query = select(KnowledgeItem).where(KnowledgeItem.id.in_(ids))
            fresh = {
                item.id: item
                for item in self.session.scalars(query.execution_options(populate_existing=True))
            }
            done = all(fresh[i].status in ("ready", "failed") for i in ids if i in fresh)
            if done or time.monotonic() >= deadline:
                self.session.commit()
                return [fresh[i] for i in ids if i in fresh]
            self.session.commit()
            time.sleep(0.1)

    async def wait_indexed(
        self, item_ids: list[str], *, disconnected: Callable[[], Awaitable[bool]]
    ) -> list[KnowledgeItem]:
        """``?wait=true``: the items once indexed, holding no thread meanwhile; capped, bounded
        per organization and stopped when the client goes
        (:mod:`chatforge.services.knowledge.waiting`)."""
        return await waiting.wait_for_items(
            self.ctx, self.chatbots.organization_id, item_ids, disconnected=disconnected
        )

    def _check_address(self, url: str, field: str) -> None:
        """Refuse a URL whose host is an IP address that will never be fetched (422)."""
        try:
            host = httpx.URL(url).host
        except httpx.InvalidURL as exc:  # a host IDNA cannot encode, a bad port...
            message = f"This is not a URL that can be fetched: {exc}."
            details = [{"field": field, "message": str(exc)}]
            raise ValidationFailed(message, details=details) from exc
        try:
            self.ctx.web_fetcher().guard.check_literal(host)
        except FetchRefused as exc:
            raise ValidationFailed(
                exc.message, details=[{"field": field, "message": exc.message}]
            ) from exc

    def _by_hash(self, chatbot_id: str, digests: list[str]) -> dict[str, KnowledgeItem]:
        """The chatbot's items that have one of these content hashes, by hash."""
        found: dict[str, KnowledgeItem] = {}
        unique = sorted(set(digests))
        for start in range(0, len(unique), 500):
            for item in self.session.scalars(
                select(KnowledgeItem).where(
                    KnowledgeItem.chatbot_id == chatbot_id,
                    KnowledgeItem.content_hash.in_(unique[start : start + 500]),
                )
            ):
                found.setdefault(item.content_hash, item)
        return found

    def _empty_named(self, chatbot_id: str, digest: str, filename: str) -> KnowledgeItem | None:
        """The chatbot's empty file item of this name, if any."""
        return self.session.scalars(
            select(KnowledgeItem).where(
                KnowledgeItem.chatbot_id == chatbot_id,
                KnowledgeItem.content_hash == digest,
                KnowledgeItem.source == filename,
            )
        ).first()

    def _retry_if_failed(self, item: KnowledgeItem) -> None:
        # Adding again what failed (the embedding server was down, the site was offline) is how
        # a user retries it: dedupe must not answer with the old failure forever.
        if item.status == "failed":
            item.status, item.error, item.updated_at = "pending", None, utcnow()
            self._enqueue(item)

    def _check_quotas(self, new_sizes: list[int], known: dict[str, KnowledgeItem]) -> None:
        # Before anything is stored: the new items, their bytes, and a job for each of them and
        # for each failed item that adding it again retries.
        retries = sum(1 for item in known.values() if item.status == "failed")
        quotas.check_knowledge(
            self.session,
            self.ctx.settings.quotas,
            self.chatbots.organization_id,
            items=len(new_sizes),
            stored_bytes=sum(new_sizes),
            jobs=len(new_sizes) + retries,
        )

    def _enqueue(self, item: KnowledgeItem) -> None:
        self.session.add(
            Job(
                kind="ingest",
                item_id=item.id,
                max_attempts=self.ctx.settings.ingestion.max_attempts,
            )
        )


def _hash_of(item: KnowledgeItem) -> str:
    if item.type == "file":
        # A file's hash is of its bytes, which no edit changes; dedupe of uploads relies on it.
        return item.content_hash
    if item.type == "qna":
        return sha256_text("qna", item.meta.get("question", ""), item.meta.get("answer", ""))
    if item.type == "url":
        return sha256_text(item.meta.get("kind", "url"), item.source, str(item.meta.get("crawl")))
    return sha256_text("text", item.title, item.content or "")


def _item_from_source(chatbot_id: str, source: dict[str, Any]) -> KnowledgeItem:
    kind = source["type"]
    if kind == "text":
        content = str(source["content"])
        title = str(source.get("title") or content.strip().split("\n", 1)[0][:80] or "Text")
        item = KnowledgeItem(
            chatbot_id=chatbot_id, type="text", title=title, source="text", content=content,
            size_bytes=len(content.encode()), meta={},
        )  # fmt: skip
    elif kind == "qna":
        question, answer = str(source["question"]), str(source["answer"])
        item = KnowledgeItem(
            chatbot_id=chatbot_id, type="qna", title=question, source="qna", content=answer,
            size_bytes=len((question + answer).encode()),
            meta={"question": question, "answer": answer},
        )  # fmt: skip
    else:
        crawl = source.get("crawl") or {}
        meta: dict[str, Any] = {"kind": kind}
        if kind == "url":
            meta["crawl"] = {
                "max_pages": int(crawl.get("max_pages", 1)),
                "same_domain": bool(crawl.get("same_domain", True)),
            }
            meta[TITLE_FROM_PAGE] = not source.get("title")
        item = KnowledgeItem(
            chatbot_id=chatbot_id, type="url", title=str(source.get("title") or source["url"]),
            source=str(source["url"]), meta=meta,
        )  # fmt: skip
    item.content_hash = _hash_of(item)
    return item
