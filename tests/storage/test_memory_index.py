"""Search in memory: the database indexes' answers, never stale, statistics per chatbot."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from tests.factories.knowledge import add, patch, ready

from chatforge.services.context import AppContext
from chatforge.services.knowledge.indexing import chunk_terms
from chatforge.storage.memory_index import MemorySearchIndex
from chatforge.storage.models import Chunk
from chatforge.storage.search import Weights
from chatforge.text.analysis import analyze

TOPICS = [
    ("Refund policy", "Return any kettle within 30 days of delivery for a full refund."),
    ("Shipping", "Orders ship from Rotterdam; delivery takes three to five days in the EU."),
    ("Warranty", "Every kettle carries a two-year warranty against manufacturing defects."),
    ("Descaling", "Descale the kettle monthly with citric acid to keep the warranty valid."),
    ("Payment", "We accept credit cards, PayPal and bank transfers; refunds use the same method."),
    ("Stores", "Our stores in Rotterdam and Utrecht open at nine and close at six."),
]
QUERIES = ["kettle warranty", "refund delivery days", "Rotterdam stores", "descale citric acid"]


def memory(ctx: AppContext) -> MemorySearchIndex:
    index = ctx.models.search_index
    assert isinstance(index, MemorySearchIndex)
    return index


def keyword(ctx: AppContext, chatbot_id: str, query: str) -> list[tuple[int, float]]:
    with ctx.db.reader().connect() as conn:
        return memory(ctx).keyword(conn, chatbot_id, analyze(query), 10, Weights())


@pytest.fixture
def shop(api: TestClient, create_chatbot: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    chatbot = create_chatbot(name="Kettle Shop")
    items = add(
        api, chatbot["id"], *[{"type": "text", "title": t, "content": c} for t, c in TOPICS]
    )
    return {"id": chatbot["id"], "items": {i["title"]: i["id"] for i in items}}


def test_memory_search_gives_the_database_index_answers(
    ctx: AppContext, shop: dict[str, Any]
) -> None:
    index = memory(ctx)
    # The databases only find candidates: both paths score them with storage.bm25, whatever b.
    weights = Weights(title=2.0, b=0.75)
    for query in QUERIES:
        terms = analyze(query)
        vector = ctx.models.embedder.embed_query(query)
        with ctx.db.reader().connect() as conn:
            in_memory = index.keyword(conn, shop["id"], terms, 10, weights)
            database = index.inner.keyword(conn, shop["id"], terms, 10, weights)
            near_memory = index.vector(conn, shop["id"], vector, 4)
            near_database = index.inner.vector(conn, shop["id"], vector, 4)
            idf_memory = index.idf(conn, terms, shop["id"])
            idf_database = index.inner.idf(conn, terms, shop["id"])

        assert in_memory, query
        assert [i for i, _ in in_memory] == [i for i, _ in database]
        assert [s for _, s in in_memory] == [s for _, s in database]
        assert [i for i, _ in near_memory] == [i for i, _ in near_database]
        assert [s for _, s in near_memory] == pytest.approx([s for _, s in near_database], abs=1e-5)
        assert idf_memory == idf_database


def test_the_database_vector_search_keeps_its_hnsw_settings_on_a_read_connection(
    ctx: AppContext, shop: dict[str, Any]
) -> None:
    if ctx.db.engine.dialect.name != "postgresql":
        pytest.skip("HNSW settings are PostgreSQL's")
    vector = ctx.models.embedder.embed_query("kettle warranty")
    with ctx.db.reader().connect() as conn:
        found = memory(ctx).inner.vector(conn, shop["id"], vector, 120)
        # SET LOCAL outside a transaction is ignored (a warning only): the scan would stop at
        # the default 40 neighbours of every tenant, then filter to this chatbot.
        assert conn.execute(text("SHOW hnsw.ef_search")).scalar() == "120"
        assert conn.execute(text("SHOW hnsw.iterative_scan")).scalar() == "relaxed_order"
    assert len(found) == len(TOPICS)


def test_every_process_sees_a_disable_and_an_addition_at_once(
    api: TestClient,
    ctx: AppContext,
    shop: dict[str, Any],
    configured_api: Callable[..., TestClient],
) -> None:
    warranty = shop["items"]["Warranty"]
    assert warranty in {hit_item(ctx, i) for i, _ in keyword(ctx, shop["id"], "warranty")}

    other_process = configured_api()  # another app on the same database
    assert patch(other_process, shop["id"], warranty, {"enabled": False}).status_code == 200
    found = {hit_item(ctx, i) for i, _ in keyword(ctx, shop["id"], "warranty")}
    assert warranty not in found
    assert shop["items"]["Descaling"] in found

    [added] = add(
        other_process,
        shop["id"],
        {"type": "text", "title": "Gift cards", "content": "Gift cards never expire."},
    )
    assert {hit_item(ctx, i) for i, _ in keyword(ctx, shop["id"], "gift")} == {added["id"]}


def test_one_chatbots_knowledge_does_not_move_anothers_scores(
    api: TestClient, ctx: AppContext, shop: dict[str, Any], create_chatbot: Callable[..., Any]
) -> None:
    before = keyword(ctx, shop["id"], "kettle warranty")

    other = create_chatbot(name="Kettle Blog")
    add(
        api,
        other["id"],
        *[{"type": "text", "title": f"Post {n}", "content": f"Kettle post {n}."} for n in range(8)],
    )

    assert keyword(ctx, shop["id"], "kettle warranty") == before


def test_with_no_memory_budget_the_database_indexes_answer(
    shop: dict[str, Any], configured_api: Callable[..., TestClient]
) -> None:
    client = configured_api(search={"memory_mb": 0})
    ctx: AppContext = client.app.state.ctx  # type: ignore[attr-defined]
    with ctx.db.reader().connect() as conn:
        assert memory(ctx).snapshot(conn, shop["id"]) is None
    response = client.post(
        f"/api/external/chatbot/{shop['id']}/query-knowledge", json={"query": "kettle warranty"}
    )

    assert response.status_code == 200
    assert response.json()["results"][0]["knowledge_id"] == shop["items"]["Warranty"]


def hit_item(ctx: AppContext, chunk_id: int) -> str:
    with ctx.db.sessions() as session:
        chunk = session.get(Chunk, chunk_id)
        assert chunk is not None
        return chunk.item_id


def test_an_edited_item_is_found_by_its_new_words_only(
    api: TestClient, ctx: AppContext, shop: dict[str, Any]
) -> None:
    stores = shop["items"]["Stores"]  # the newest chunks: an edit's chunks would reuse their ids
    assert {hit_item(ctx, i) for i, _ in keyword(ctx, shop["id"], "Utrecht")} == {stores}

    edit = {"content": "Our shop in Eindhoven opens at ten."}
    assert patch(api, shop["id"], stores, edit).status_code == 200
    ready(api, shop["id"], stores)

    assert keyword(ctx, shop["id"], "Utrecht") == []
    assert {hit_item(ctx, i) for i, _ in keyword(ctx, shop["id"], "Eindhoven")} == {stores}


def test_a_restarted_server_loads_chatbots_before_their_first_search(
    shop: dict[str, Any], configured_api: Callable[..., TestClient]
) -> None:
    restarted = configured_api()
    index = memory(restarted.app.state.ctx)  # type: ignore[attr-defined]

    deadline = time.monotonic() + 30
    while shop["id"] not in index._snapshots and time.monotonic() < deadline:
        time.sleep(0.05)

    assert index._snapshots[shop["id"]].total == len(TOPICS)


def test_while_a_chatbot_loads_the_database_answers_its_searches(
    api: TestClient, ctx: AppContext, shop: dict[str, Any]
) -> None:
    index = memory(ctx)
    loading = index._loading.setdefault(shop["id"], threading.Lock())
    fresh = MemorySearchIndex(index.inner, memory_mb=64, terms_of=chunk_terms)
    fresh._loading[shop["id"]] = loading

    with loading:  # another thread is loading this chatbot
        began = time.monotonic()
        with ctx.db.reader().connect() as conn:
            assert fresh.snapshot(conn, shop["id"]) is None
            found = fresh.keyword(conn, shop["id"], analyze("warranty"), 5, Weights())
        waited = time.monotonic() - began

    assert {hit_item(ctx, i) for i, _ in found} >= {shop["items"]["Warranty"]}
    assert waited < 2


def test_chunks_stored_without_their_terms_are_found_and_scored_as_before(
    ctx: AppContext, shop: dict[str, Any], configured_api: Callable[..., TestClient]
) -> None:
    before = keyword(ctx, shop["id"], "kettle warranty")
    with ctx.db.engine.begin() as conn:  # as rows written before chunks.terms existed
        conn.execute(
            text("UPDATE chunks SET terms = NULL WHERE chatbot_id = :c"), {"c": shop["id"]}
        )

    for memory_mb in (64, 0):  # from memory, and from the database's indexes
        restarted: AppContext = configured_api(search={"memory_mb": memory_mb}).app.state.ctx  # type: ignore[attr-defined]
        assert keyword(restarted, shop["id"], "kettle warranty") == before
