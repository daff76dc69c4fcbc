"""Helpers for knowledge tests: add knowledge through the API, then look inside the database.

Adding goes through the HTTP API, as a user would. Checking goes to the tables and the search
indexes themselves (``chunks``, FTS5 or ``chunk_terms``, ``chunk_vectors``), because "the item is
ready" is only true when its rows are really there, and "deleted" only when they are really gone.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from chatforge.services.context import AppContext
from chatforge.storage.models import Chunk, Job, KnowledgeItem
from chatforge.storage.search import Weights
from chatforge.text.analysis import analyze


def kb_path(chatbot_id: str) -> str:
    """The knowledge-base path of a chatbot."""
    return f"/api/external/chatbot/{chatbot_id}/knowledge-base"


def post_files(
    api: TestClient, chatbot_id: str, *paths: Path, wait: bool = True, field: str = "files"
) -> Any:
    """Upload files in one multipart request; the response."""
    parts = [
        (
            field,
            (
                path.name,
                path.read_bytes(),
                mimetypes.guess_type(path.name)[0] or "application/octet-stream",
            ),
        )
        for path in paths
    ]
    return api.post(f"{kb_path(chatbot_id)}/files", params={"wait": str(wait).lower()}, files=parts)


def upload(api: TestClient, chatbot_id: str, *paths: Path, **options: Any) -> list[dict[str, Any]]:
    """Upload files and return the items; the request must succeed."""
    response = post_files(api, chatbot_id, *paths, **options)
    assert response.status_code == 200, response.text
    assert response.json()["message"] == "Files uploaded successfully"
    items: list[dict[str, Any]] = response.json()["knowledge_base"]
    return items


def add(
    api: TestClient, chatbot_id: str, *sources: dict[str, Any], wait: bool = True
) -> list[dict[str, Any]]:
    """Add JSON sources (one object, or a list when several) and return the items."""
    body: Any = sources[0] if len(sources) == 1 else list(sources)
    response = api.post(kb_path(chatbot_id), params={"wait": str(wait).lower()}, json=body)
    assert response.status_code == 200, response.text
    assert response.json()["message"] == "Knowledge base created successfully"
    items: list[dict[str, Any]] = response.json()["knowledge_base"]
    return items


def patch(api: TestClient, chatbot_id: str, item_id: str, body: dict[str, Any]) -> Any:
    """PATCH an item by ``?id=``."""
    return api.patch(kb_path(chatbot_id), params={"id": item_id}, json=body)


def listed(api: TestClient, chatbot_id: str, **params: Any) -> dict[str, Any]:
    """The list endpoint's body; the request must succeed."""
    response = api.get(kb_path(chatbot_id), params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def item_by_id(api: TestClient, chatbot_id: str, item_id: str) -> dict[str, Any]:
    """An item as the list endpoint shows it."""
    for item in listed(api, chatbot_id, limit=100)["knowledge_base"]:
        if item["id"] == item_id:
            found: dict[str, Any] = item
            return found
    raise AssertionError(f"item {item_id} is not listed")


def poll(
    api: TestClient,
    chatbot_id: str,
    item_id: str,
    until: Callable[[dict[str, Any]], bool] = lambda i: i["status"] in ("ready", "failed"),
    timeout: float = 60,
) -> dict[str, Any]:
    """Poll the list endpoint until the item satisfies ``until`` (a user waiting for it)."""
    deadline = time.monotonic() + timeout
    while True:
        item = item_by_id(api, chatbot_id, item_id)
        if until(item):
            return item
        assert time.monotonic() < deadline, f"item never got there: {item}"
        time.sleep(0.1)


def ready(api: TestClient, chatbot_id: str, item_id: str) -> dict[str, Any]:
    """Wait until the item is ready again (after an edit queued it)."""
    item = poll(api, chatbot_id, item_id, lambda i: i["status"] in ("ready", "failed"))
    assert item["status"] == "ready", item
    return item


def chunks_of(ctx: AppContext, item_id: str) -> list[Chunk]:
    """The item's rows in the chunks table, in order."""
    with ctx.db.sessions() as session:
        return list(
            session.scalars(
                select(Chunk).where(Chunk.item_id == item_id).order_by(Chunk.chunk_index)
            )
        )


def chunk_count(ctx: AppContext) -> int:
    """All rows of the chunks table."""
    with ctx.db.sessions() as session:
        return session.scalar(select(func.count()).select_from(Chunk)) or 0


def keyword_hits(ctx: AppContext, chatbot_id: str, query: str, limit: int = 5) -> list[int]:
    """Chunk ids the keyword index finds for ``query``, best first."""
    with ctx.db.engine.begin() as conn:
        hits = ctx.models.search_index.keyword(conn, chatbot_id, analyze(query), limit, Weights())
    return [chunk_id for chunk_id, _score in hits]


def vector_hits(ctx: AppContext, chatbot_id: str, query: str, limit: int = 5) -> list[int]:
    """Chunk ids the vector index finds nearest to ``query``, best first."""
    vector = ctx.models.embedder.embed([query])[0]
    with ctx.db.engine.begin() as conn:
        hits = ctx.models.search_index.vector(conn, chatbot_id, vector, limit)
    return [chunk_id for chunk_id, _score in hits]


def found_text(ctx: AppContext, chatbot_id: str, query: str) -> list[str]:
    """The contents of the chunks the keyword index finds for ``query``."""
    ids = keyword_hits(ctx, chatbot_id, query)
    with ctx.db.sessions() as session:
        return list(session.scalars(select(Chunk.content).where(Chunk.id.in_(ids))))


def index_rows(ctx: AppContext) -> tuple[set[int], set[int]]:
    """Chunk ids held by the keyword index and by the vector index, over every chatbot."""
    keyword_table = (
        "SELECT rowid FROM chunks_fts"
        if ctx.db.engine.dialect.name == "sqlite"
        else "SELECT chunk_id FROM chunk_terms"
    )
    with ctx.db.engine.connect() as conn:
        keyword = {int(r[0]) for r in conn.execute(text(keyword_table))}
        vectors = {int(r[0]) for r in conn.execute(text("SELECT chunk_id FROM chunk_vectors"))}
    return keyword, vectors


def stored_files(ctx: AppContext) -> list[Path]:
    """Every file under the data directory's file store."""
    root = ctx.settings.data_dir / "files"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def items_in_db(ctx: AppContext) -> list[KnowledgeItem]:
    """Every knowledge item of every chatbot."""
    with ctx.db.sessions() as session:
        return list(session.scalars(select(KnowledgeItem)))


def jobs_of(ctx: AppContext, item_id: str) -> list[Job]:
    """The item's jobs, oldest first."""
    with ctx.db.sessions() as session:
        return list(
            session.scalars(select(Job).where(Job.item_id == item_id).order_by(Job.created_at))
        )
