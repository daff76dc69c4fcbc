"""Ordinary API traffic under load: 200 concurrent clients, on SQLite and PostgreSQL, one run.

    python bench/api_load.py [--clients 200] [--requests 4000] [--backend both]

Each backend gets a fresh database and a real ``chatforge serve`` in a process of its own
(bench/serving.py), with one chatbot that knows a few texts. ``--clients`` clients then send
``--requests`` requests in all, as fast as they are answered, drawn from a fixed mix: list the
chatbots (40 %), read one (30 %), create one (15 %) and query its knowledge (15 %). The run prints
each backend's throughput, p50/p95 latency and the count of responses >= 500, which must be 0:
a busy database answers 503 with ``Retry-After``, and none of those is expected either.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from chatforge.services.accounts import keys
from chatforge.services.context import AppContext
from chatforge.settings import Settings
from chatforge.storage import migrate
from pg import temporary_postgres
from serving import start_server, stop_server

MIX = (("list", 40), ("get", 30), ("create", 15), ("query", 15))
TEXTS = [
    "Refunds are possible within 30 days of purchase with the original receipt.",
    "Our support team answers on weekdays from 9 am to 6 pm Central European Time.",
    "Shipping to the European Union takes three to five working days.",
    "The premium plan includes priority support and unlimited chatbots.",
]


def prepare(data_dir: Path, url: str | None) -> str:
    """Migrate a fresh database and make the benchmark's key."""
    settings = Settings(data_dir=data_dir, database_url=url)  # type: ignore[call-arg]
    ctx = AppContext.build(settings)
    try:
        migrate.upgrade(ctx.db.engine)
        with ctx.db.sessions() as session:
            return keys.create_key(session, "bench").key
    finally:
        ctx.close()


async def seed(client: httpx.AsyncClient) -> str:
    """One chatbot with a few indexed texts; returns its id."""
    created = await client.post("/api/external/chatbots", json={"name": "Load"})
    created.raise_for_status()
    chatbot_id: str = created.json()["chatbot"]["id"]
    sources = [{"type": "text", "title": f"T{i}", "content": t} for i, t in enumerate(TEXTS)]
    added = await client.post(
        f"/api/external/chatbot/{chatbot_id}/knowledge-base?wait=true", json=sources, timeout=300
    )
    added.raise_for_status()
    return chatbot_id


async def load(base: str, key: str, clients: int, total: int) -> dict[str, Any]:
    """Send ``total`` requests from ``clients`` concurrent clients; the figures."""
    # Idle connections close before uvicorn's 5 s keep-alive ends: a request sent on one that
    # the server is closing would fail without an answer (ReadError), a client-side artefact.
    limits = httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=3
    )
    async with httpx.AsyncClient(
        base_url=base, headers={"x-api-key": key}, limits=limits, timeout=120
    ) as client:
        chatbot_id = await seed(client)
        kinds = [kind for kind, weight in MIX for _ in range(weight)]
        rng = random.Random(12)
        plan = [rng.choice(kinds) for _ in range(total)]
        latencies: dict[str, list[float]] = {kind: [] for kind, _weight in MIX}
        statuses: Counter[int] = Counter()
        by_kind: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        next_index = 0

        async def one(kind: str, n: int) -> httpx.Response:
            if kind == "list":
                return await client.get("/api/external/chatbots")
            if kind == "get":
                return await client.get(f"/api/external/chatbot/{chatbot_id}")
            if kind == "create":
                return await client.post("/api/external/chatbots", json={"name": f"Load {n}"})
            return await client.post(
                f"/api/external/chatbot/{chatbot_id}/query-knowledge",
                json={"query": "How long does shipping take?"},
            )

        async def worker() -> None:
            nonlocal next_index
            while next_index < total:
                n = next_index
                next_index += 1
                began = time.perf_counter()
                try:
                    response = await one(plan[n], n)
                    status = response.status_code
                except httpx.TransportError as exc:
                    status = 599  # no answer at all counts as a server failure
                    errors[type(exc).__name__] += 1
                latencies[plan[n]].append((time.perf_counter() - began) * 1000)
                statuses[status] += 1
                by_kind[f"{plan[n]} {status}"] += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    ordered = sorted(ms for values in latencies.values() for ms in values)
    return {
        "clients": clients,
        "requests": total,
        "seconds": round(elapsed, 1),
        "requests_per_s": round(total / elapsed, 1),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
        "p50_ms_by_kind": {k: round(statistics.median(v), 1) for k, v in latencies.items() if v},
        "responses_5xx": sum(n for status, n in statuses.items() if status >= 500),
        "statuses": dict(sorted(statuses.items())),
        "by_kind": dict(sorted(by_kind.items())),
        "transport_errors": dict(errors),
    }


def run_backend(name: str, url: str | None, args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"cf-load-{name}-"))
    key = prepare(data_dir, url)  # (a failed start leaves data_dir for a look)
    settings = Settings(data_dir=data_dir, database_url=url)  # type: ignore[call-arg]
    # 200 clients on one key are far over the default rate limits; this measures the database.
    os.environ["CHATFORGE_LIMITS__ENABLED"] = "false"
    server, base = start_server(settings)
    try:
        result = asyncio.run(load(base, key, args.clients, args.requests))
    finally:
        stop_server(server)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"[{name}] {json.dumps(result)}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    results = {}
    if args.backend in ("sqlite", "both"):
        results["sqlite"] = run_backend("sqlite", None, args)
    if args.backend in ("postgresql", "both"):
        with temporary_postgres() as url:
            results["postgresql"] = run_backend("postgresql", url, args)
    failures = sum(r["responses_5xx"] for r in results.values())
    print(f"goal: 0 responses >= 500: {'PASS' if failures == 0 else 'FAIL'} ({failures})")
    print(
        json.dumps(
            {name: {k: v for k, v in r.items() if k != "by_kind"} for name, r in results.items()}
        )
    )


if __name__ == "__main__":
    main()
