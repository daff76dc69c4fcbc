"""Query-knowledge latency at scale: 100,000 chunks, over HTTP, on SQLite and PostgreSQL.

    python bench/query.py [--chunks 100000] [--base 1500] [--queries 200] [--backend both]

The knowledge base is SciFact repeated with varied text: ``--base`` abstracts are chunked and
embedded for real, then copied with shuffled sentences, a jittered vector (renormalised) and two or
three jittered window vectors until there are ``--chunks`` chunks, written through the product's
own indexing code. Embedding 100,000 chunks for real would take over an hour on two cores and
measures ingestion, not search.

It then starts ``chatforge serve``'s app under uvicorn, in a process of its own, and sends
SciFact queries to ``/query-knowledge``: p50/p95 latency with 1 client, queries per second with 8
clients, and, from the retrieval service in-process, the share of a query spent embedding it, in
keyword search, in vector search and in fusion, and the same service's latency with the
database's own indexes (no memory search) as the peer. ``--data-dir`` reuses an earlier run's
SQLite chunks.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from chatforge.rag.chunking import chunk_document
from chatforge.rag.parsers import parse_text
from chatforge.services.accounts import keys
from chatforge.services.chatbots.service import ChatbotService
from chatforge.services.context import AppContext
from chatforge.services.knowledge.indexing import ChunkRow, replace_chunks
from chatforge.services.search.retrieval import Retriever
from chatforge.settings import SearchSettings, Settings
from chatforge.storage import migrate
from chatforge.storage.models import KnowledgeItem
from pg import temporary_postgres
from serving import start_server, stop_server

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"
CACHE = Path(__file__).resolve().parent / "out"
ITEM_CHUNKS = 50  # chunks per knowledge item in the synthetic base


def base_chunks(ctx: AppContext, count: int) -> tuple[list[tuple[str, str]], np.ndarray]:
    """(title, text) of real SciFact chunks and their real embeddings (cached)."""
    CACHE.mkdir(exist_ok=True)
    cache = CACHE / f"query_base_{count}.npz"
    docs = []
    with gzip.open(DATA / "corpus.jsonl.gz", "rt") as handle:
        for line in handle:
            docs.append(json.loads(line))
            if len(docs) == count:
                break
    embedder = ctx.models.embedder
    pieces: list[tuple[str, str]] = []
    for doc in docs:
        for chunk in chunk_document(
            parse_text(doc["text"]), title=doc["title"], count_tokens=embedder.count_tokens
        ):
            pieces.append((doc["title"], chunk.text))
    if cache.exists():
        vectors = np.load(cache)["vectors"]
        if len(vectors) == len(pieces):
            return pieces, vectors
    print(f"embedding {len(pieces)} base chunks (cached in {cache}) ...", flush=True)
    vectors = embedder.embed([f"{t}\n{b}" for t, b in pieces])
    np.savez(cache, vectors=vectors)
    return pieces, vectors


def load(ctx: AppContext, chatbot_id: str, total: int, base: int) -> None:
    """Fill the chatbot with ``total`` chunks derived from the base set."""
    pieces, vectors = base_chunks(ctx, base)
    rng = np.random.default_rng(7)
    shuffle = random.Random(7)
    written = 0
    started = time.perf_counter()
    while written < total:
        rows = []
        for n in range(min(ITEM_CHUNKS, total - written)):
            source = (written + n) % len(pieces)
            title, body = pieces[source]
            sentences = body.split(". ")
            shuffle.shuffle(sentences)
            jitter = vectors[source] + rng.normal(0, 0.02, vectors.shape[1]).astype(np.float32)
            # Two or three windows, as SciFact's chunks have 2.5 on average: their cost in
            # memory and in re-scoring is what matters here, not their direction.
            windows = vectors[source] + rng.normal(
                0, 0.05, (int(rng.integers(2, 4)), vectors.shape[1])
            ).astype(np.float32)
            rows.append(
                ChunkRow(
                    chunk_index=n + 1,
                    title=title,
                    content=f"Title: {title}\nChunk: {n + 1}\n\nContent:\n" + ". ".join(sentences),
                    body=". ".join(sentences) + f" variant{written + n}",
                    tokens=0,
                    page=None,
                    vector=jitter / np.linalg.norm(jitter),
                    windows=windows / np.linalg.norm(windows, axis=1, keepdims=True),
                )
            )
        with ctx.db.sessions() as session:
            item = KnowledgeItem(
                chatbot_id=chatbot_id, type="text", title=rows[0].title, source="bench",
                status="ready", content_hash=f"bench{written}", chunks=len(rows), meta={},
            )  # fmt: skip
            session.add(item)
            session.flush()
            replace_chunks(
                session.connection(),
                ctx.models.search_index,
                item_id=item.id,
                chatbot_id=chatbot_id,
                rows=rows,
                searchable=True,
            )
            session.commit()
        written += len(rows)
        if written % 10_000 == 0:
            rate = written / (time.perf_counter() - started)
            print(f"  {written:,} chunks written ({rate:,.0f}/s)", flush=True)


def queries(count: int) -> list[str]:
    with (DATA / "queries-train.jsonl").open() as handle:
        texts = [json.loads(line)["text"] for line in handle]
    return texts[:count]


def run_backend(name: str, url: str | None, args: argparse.Namespace) -> dict[str, float]:
    reuse = args.data_dir is not None and url is None
    data_dir = args.data_dir if reuse else Path(tempfile.mkdtemp(prefix=f"cf-query-{name}-"))
    settings = Settings(data_dir=data_dir, database_url=url)  # type: ignore[call-arg]
    ctx = AppContext.build(settings)
    migrate.upgrade(ctx.db.engine)
    ctx.ensure_search_index()
    with ctx.db.sessions() as session:
        key = keys.create_key(session, "bench").key
        org_id = keys.authenticate(ctx.db, key)
        chatbots = ChatbotService(ctx, session, org_id)
        found = chatbots.list()[:1] if reuse else []
        chatbot = found[0] if found else chatbots.create({"name": "bench"})
    if found:
        print(f"[{name}] reusing the chunks in {data_dir}", flush=True)
    else:
        print(f"[{name}] loading {args.chunks:,} chunks into {data_dir} ...", flush=True)
        load(ctx, chatbot.id, args.chunks, args.base)
    ctx.models.search_index.forget_statistics()
    texts = queries(args.queries)

    # Where a query's time goes, from the service itself. The first query loads the chatbot
    # into memory (docs/retrieval.md#search-in-memory).
    retriever = Retriever(ctx.db, ctx.models)
    began = time.perf_counter()
    retriever.search(chatbot.id, texts[0])
    load_s = time.perf_counter() - began
    shares: dict[str, float] = {}
    in_memory: list[float] = []
    for text in texts[:50]:
        timings: dict[str, float] = {}
        began = time.perf_counter()
        retriever.search(chatbot.id, text, timings=timings)
        in_memory.append((time.perf_counter() - began) * 1000)
        for stage, seconds in timings.items():
            shares[stage] = shares.get(stage, 0.0) + seconds
    # The peer in the same process: the database's own indexes (no memory budget).
    on_disk = AppContext.build(settings.model_copy(update={"search": SearchSettings(memory_mb=0)}))
    database = Retriever(on_disk.db, on_disk.models)
    database.search(chatbot.id, texts[0])
    on_database: list[float] = []
    for text in texts[:50]:
        began = time.perf_counter()
        database.search(chatbot.id, text)
        on_database.append((time.perf_counter() - began) * 1000)

    # The server runs in a process of its own, as `chatforge serve` does: clients in this one
    # must not share its interpreter lock.
    server, base = start_server(settings)
    endpoint = f"{base}/api/external/chatbot/{chatbot.id}/query-knowledge"
    headers = {"x-api-key": key}

    def ask(client: httpx.Client, text: str) -> float:
        began = time.perf_counter()
        response = client.post(endpoint, json={"query": text}, headers=headers)
        response.raise_for_status()
        return (time.perf_counter() - began) * 1000

    with httpx.Client(timeout=300) as client:
        for text in texts[:10]:
            ask(client, text)  # warm up
        latencies = [ask(client, text) for text in texts]
    began = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        clients = [httpx.Client(timeout=30) for _ in range(8)]
        list(pool.map(lambda i: ask(clients[i % 8], texts[i % len(texts)]), range(len(texts) * 2)))
    qps = len(texts) * 2 / (time.perf_counter() - began)
    stop_server(server)
    ordered = sorted(latencies)
    total = sum(shares.values()) or 1.0
    result = {
        "chunks": args.chunks,
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
        "qps_8_clients": round(qps, 1),
        "memory_load_s": round(load_s, 2),
        "service_p50_ms_memory": round(statistics.median(in_memory), 1),
        "service_p50_ms_database": round(statistics.median(on_database), 1),
        "database_over_memory": round(
            statistics.median(on_database) / statistics.median(in_memory), 1
        ),
        **{f"share_{k}": round(v / total, 3) for k, v in sorted(shares.items())},
    }
    print(f"[{name}] {json.dumps(result)}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--base", type=int, default=1500, help="real SciFact abstracts embedded")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--data-dir", type=Path, help="SQLite: reuse the chunks an earlier run loaded there"
    )
    args = parser.parse_args()
    results = {}
    if args.backend in ("sqlite", "both"):
        results["sqlite"] = run_backend("sqlite", None, args)
    if args.backend in ("postgresql", "both"):
        with temporary_postgres() as url:
            results["postgresql"] = run_backend("postgresql", url, args)
    goal = results.get("sqlite", {}).get("p95_ms")
    if goal is not None:
        print(f"goal p95 <= 50 ms on SQLite at 1 client: {'PASS' if goal <= 50 else 'FAIL'}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
