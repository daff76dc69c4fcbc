"""Concurrent streaming chats against a running server, on SQLite and PostgreSQL.

    python bench/chat_load.py [--chats 200] [--paragraphs 300] [--backend sqlite|postgresql|both]
                              [--workers 1] [--think 10 --rounds 3]
    python bench/chat_load.py --url http://host:8000 --key KEY --chatbot ID [--chats 200]

Without ``--url`` it loads ``--paragraphs`` SQuAD paragraphs (``../shared/data/squad/dev-a.json``)
as text items of a new chatbot whose model is ``extractive``, through the real pipeline (knowledge
items -> jobs -> worker; embeddings cached in ``bench/out``), then starts ``chatforge serve
--workers N`` on that database and a free port. It sends a few warm-up chats, 30 chats one at a
time (the service time of a chat, without queueing), then ``--chats`` streaming chats at once
(``POST .../chat?stream=true``, one SQuAD question each, each in a new session), and parses their
Server-Sent Events: time to the ``sources`` event, to the first ``delta`` and to ``done``
(p50/p95), and errors (non-200, ``error`` events, missing events, transport failures). The goal
(issue 5): 0 errors and p95 time-to-first-delta <= 300 ms on SQLite, on 2 cores. The load average
is printed with the figures: other work on the machine slows everything down. With the server
stopped, it then times the embedding model alone on the burst's questions (the floor no server
can beat: every chat embeds its question before its sources) and prints p95 over that floor.

With ``--think S`` it also runs ``--chats`` conversations at once, the way a chat product counts
concurrent chats: each visitor asks ``--rounds`` questions in one session, waiting about S
seconds between an answer and the next question (conversations start spread over the first S
seconds), and the time to first delta of every message is measured.

With ``--public`` the conversations go through the public chat API instead (the widget's path,
``POST /api/public/chatbot/{id}/chat?stream=true``, no key): each visitor's first message is
issued a visitor token, and the next ones send it back (``X-Visitor-Token``) with their
``session_id``. The chatbot is public; the server's per-address limits are raised for the run,
since every simulated visitor shares the bench's one address. The goal (issue 13): 200 open
conversations, 20 s between a visitor's messages, 0 errors and p95 first delta <= 150 ms:

    python bench/chat_load.py --public --chats 200 --think 20 --rounds 3 --backend sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from chatforge.providers.embeddings.cache import CachedEmbedder
from chatforge.providers.embeddings.local import LocalMiniLMEmbedder
from chatforge.providers.embeddings.queries import MAX_BATCH
from chatforge.rag.metrics import percentile
from chatforge.services.accounts import keys
from chatforge.services.chatbots.service import ChatbotService
from chatforge.services.context import AppContext
from chatforge.services.knowledge.service import KnowledgeService
from chatforge.services.knowledge.worker import Worker
from chatforge.settings import Settings
from chatforge.storage import migrate
from pg import temporary_postgres
from serving import start_server, stop_server

SQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad" / "dev-a.json"
CACHE = Path(__file__).resolve().parent / "out"
GOAL_P95_FIRST_DELTA_MS = 300.0
GOAL_PUBLIC_P95_FIRST_DELTA_MS = 150.0
#: The per-address limits while the public bench runs: all its visitors share one address.
PUBLIC_BENCH_LIMITS = {
    "CHATFORGE_LIMITS__PER_IP": "1000000/minute",
    "CHATFORGE_PUBLIC__PER_IP": "1000000/minute",
    "CHATFORGE_PUBLIC__CHAT_PER_IP": "1000000/minute",
}
WARM_UP = 5
SEQUENTIAL = 30  # chats sent one at a time before the concurrent burst


@dataclass
class ChatResult:
    """What one streamed chat showed the client; times in ms from sending the request."""

    status: int = 0
    sources_ms: float | None = None
    first_delta_ms: float | None = None
    done_ms: float | None = None
    error: str | None = None
    events: list[str] = field(default_factory=list)


def squad_paragraphs(count: int) -> tuple[list[dict[str, str]], list[str]]:
    """The first ``count`` paragraphs (as text sources) and their questions."""
    data = json.loads(SQUAD.read_text(encoding="utf-8"))
    sources: list[dict[str, str]] = []
    questions: list[str] = []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            if len(sources) == count:
                return sources, questions
            title = article["title"].replace("_", " ")
            sources.append({"type": "text", "title": title, "content": paragraph["context"]})
            questions += [qa["question"] for qa in paragraph["qas"]]
    return sources, questions


def prepare(
    settings: Settings, paragraphs: int, *, public: bool = False
) -> tuple[str, str, list[str]]:
    """Migrate, make a key and an extractive chatbot, and ingest the paragraphs."""
    ctx = AppContext.build(settings)
    try:
        migrate.upgrade(ctx.db.engine)
        CACHE.mkdir(exist_ok=True)
        ctx.models.use_embedder(
            CachedEmbedder(ctx.models.embedder, CACHE / "chat_load_embeddings.db")
        )
        ctx.ensure_search_index()
        sources, questions = squad_paragraphs(paragraphs)
        with ctx.db.sessions() as session:
            key = keys.create_key(session, "bench").key
            org_id = keys.authenticate(ctx.db, key)
            chatbot = ChatbotService(ctx, session, org_id).create(
                {"name": "chat load", "is_public": public, "settings": {"model": "extractive"}}
            )
            chatbot_id = chatbot.id
            KnowledgeService(ctx, session, org_id).add_sources(chatbot_id, sources)
        worker = Worker(ctx)
        while worker.run_once():
            pass
        return key, chatbot_id, questions
    finally:
        ctx.close()


async def one_chat(
    client: httpx.AsyncClient, url: str, question: str, token: str | None = None
) -> ChatResult:
    result = ChatResult()
    began = time.perf_counter()
    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": question}],
        "platform": "bench",
    }
    if token is not None:
        body["sessionToken"] = token
    try:
        async with client.stream("POST", url, params={"stream": "true"}, json=body) as response:
            result.status = response.status_code
            if response.status_code != 200:
                await response.aread()
                result.error = f"HTTP {response.status_code}: {response.text[:200]}"
                return result
            event = ""
            async for line in response.aiter_lines():
                now = (time.perf_counter() - began) * 1000
                if line.startswith("event:"):
                    event = line[6:].strip()
                    result.events.append(event)
                    if event == "sources" and result.sources_ms is None:
                        result.sources_ms = now
                    elif event == "delta" and result.first_delta_ms is None:
                        result.first_delta_ms = now
                    elif event == "done":
                        result.done_ms = now
                elif line.startswith("data:") and event == "error":
                    result.error = f"error event: {line[5:].strip()[:200]}"
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    if result.error is None:
        missing = [e for e in ("session", "sources", "delta", "done") if e not in result.events]
        if missing:
            result.error = f"missing events: {', '.join(missing)}"
    return result


async def load(url: str, key: str, questions: list[str], chats: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    timeout = httpx.Timeout(120.0)
    async with httpx.AsyncClient(headers={"x-api-key": key}, limits=limits, timeout=timeout) as c:
        for question in questions[:WARM_UP]:
            warm = await one_chat(c, url, question)
            if warm.error:
                raise SystemExit(f"warm-up chat failed: {warm.error}")
        # One chat at a time first: the service time of a chat, without queueing.
        alone = [
            await one_chat(c, url, questions[(WARM_UP + i) % len(questions)])
            for i in range(SEQUENTIAL)
        ]
        asked = [questions[(WARM_UP + SEQUENTIAL + i) % len(questions)] for i in range(chats)]
        load_before = os.getloadavg()
        began = time.perf_counter()
        results = await asyncio.gather(*(one_chat(c, url, q) for q in asked))
        wall = time.perf_counter() - began
        load_after = os.getloadavg()
    errors = [r.error for r in [*alone, *results] if r.error]

    def stats(values: list[float | None]) -> tuple[float, float]:
        present = [v for v in values if v is not None]
        return round(percentile(present, 50), 1), round(percentile(present, 95), 1)

    sources = stats([r.sources_ms for r in results])
    first = stats([r.first_delta_ms for r in results])
    done = stats([r.done_ms for r in results])
    return {
        "chats": chats,
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
        "sources_p50_ms": sources[0],
        "sources_p95_ms": sources[1],
        "first_delta_p50_ms": first[0],
        "first_delta_p95_ms": first[1],
        "done_p50_ms": done[0],
        "done_p95_ms": done[1],
        "alone_first_delta_p50_ms": stats([r.first_delta_ms for r in alone])[0],
        "alone_first_delta_p95_ms": stats([r.first_delta_ms for r in alone])[1],
        "alone_done_p50_ms": stats([r.done_ms for r in alone])[0],
        "wall_s": round(wall, 2),
        "chats_per_s": round(chats / wall, 1),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "cpus": os.cpu_count(),
        "asked": asked,
    }


async def conversations(
    url: str, key: str, questions: list[str], count: int, think: float, rounds: int
) -> dict[str, Any]:
    """``count`` conversations at once, each ``rounds`` questions in one session, with a think
    time (uniform in [0.5, 1.5] x ``think`` seconds) between an answer and the next question;
    conversations start spread over the first ``think`` seconds."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    rng = random.Random(0)
    async with httpx.AsyncClient(
        headers={"x-api-key": key}, limits=limits, timeout=httpx.Timeout(120.0)
    ) as client:

        async def visitor(n: int) -> list[ChatResult]:
            await asyncio.sleep(rng.uniform(0, think))
            results = []
            for turn in range(rounds):
                question = questions[(n * rounds + turn) % len(questions)]
                results.append(await one_chat(client, url, question, token=f"visitor-{n}"))
                await asyncio.sleep(think * rng.uniform(0.5, 1.5))
            return results

        began = time.perf_counter()
        everyone = await asyncio.gather(*(visitor(n) for n in range(count)))
        wall = time.perf_counter() - began
    results = [r for one in everyone for r in one]
    present = [r.first_delta_ms for r in results if r.first_delta_ms is not None]
    return {
        "conversations": count,
        "think_s": think,
        "messages": len(results),
        "errors": sum(1 for r in results if r.error),
        "first_delta_p50_ms": round(percentile(present, 50), 1),
        "first_delta_p95_ms": round(percentile(present, 95), 1),
        "messages_per_s": round(len(results) / wall, 1),
    }


async def one_public_chat(
    client: httpx.AsyncClient, url: str, question: str, visitor: dict[str, str]
) -> ChatResult:
    """One streamed message of a visitor through the public API; ``visitor`` keeps the token
    and the session id the first message is given."""
    result = ChatResult()
    began = time.perf_counter()
    body: dict[str, Any] = {"messages": [{"role": "user", "content": question}]}
    headers = {}
    if "session_id" in visitor:
        body["session_id"] = visitor["session_id"]
        headers["X-Visitor-Token"] = visitor["visitor_token"]
    try:
        async with client.stream(
            "POST", url, params={"stream": "true"}, json=body, headers=headers
        ) as response:
            result.status = response.status_code
            if response.status_code != 200:
                await response.aread()
                result.error = f"HTTP {response.status_code}: {response.text[:200]}"
                return result
            event = ""
            async for line in response.aiter_lines():
                now = (time.perf_counter() - began) * 1000
                if line.startswith("event:"):
                    event = line[6:].strip()
                    result.events.append(event)
                    if event == "delta" and result.first_delta_ms is None:
                        result.first_delta_ms = now
                    elif event == "done":
                        result.done_ms = now
                elif line.startswith("data:") and event == "session":
                    visitor.update(json.loads(line[5:]))
                elif line.startswith("data:") and event == "error":
                    result.error = f"error event: {line[5:].strip()[:200]}"
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    if result.error is None:
        missing = [e for e in ("session", "sources", "delta", "done") if e not in result.events]
        if missing:
            result.error = f"missing events: {', '.join(missing)}"
    return result


async def public_conversations(
    url: str, questions: list[str], count: int, think: float, rounds: int
) -> dict[str, Any]:
    """:func:`conversations` through the public API, as the widget talks: no key, a visitor
    token per visitor, one session each."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    rng = random.Random(0)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(120.0)) as client:

        async def visitor(n: int) -> list[ChatResult]:
            await asyncio.sleep(rng.uniform(0, think))
            known: dict[str, str] = {}
            results = []
            for turn in range(rounds):
                question = questions[(n * rounds + turn) % len(questions)]
                results.append(await one_public_chat(client, url, question, known))
                await asyncio.sleep(think * rng.uniform(0.5, 1.5))
            return results

        began = time.perf_counter()
        everyone = await asyncio.gather(*(visitor(n) for n in range(count)))
        wall = time.perf_counter() - began
    results = [r for one in everyone for r in one]
    errors = [r.error for r in results if r.error]
    present = [r.first_delta_ms for r in results if r.first_delta_ms is not None]
    return {
        "conversations": count,
        "think_s": think,
        "messages": len(results),
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
        "first_delta_p50_ms": round(percentile(present, 50), 1),
        "first_delta_p95_ms": round(percentile(present, 95), 1),
        "messages_per_s": round(len(results) / wall, 1),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }


def run_public(name: str, settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """The public-API conversations on one backend."""
    print(f"[{name}] loading {args.paragraphs} SQuAD paragraphs (public chatbot) ...", flush=True)
    _, chatbot_id, questions = prepare(settings, args.paragraphs, public=True)
    os.environ.update(PUBLIC_BENCH_LIMITS)  # the server inherits the environment
    server, base = start_server(settings, workers=args.workers)
    try:
        url = f"{base}/api/public/chatbot/{chatbot_id}/chat"
        think = args.think or 20.0
        figures = asyncio.run(public_conversations(url, questions, args.chats, think, args.rounds))
    finally:
        stop_server(server)
    result = {"backend": name, "mode": "public", "workers": args.workers, **figures}
    print(f"[{name}] {json.dumps(result)}", flush=True)
    return result


def embedding_floor(questions: list[str]) -> float:
    """Seconds the embedding model alone takes for ``questions``, in the server's query batches.

    Every chat embeds its question before its ``sources`` event, so the burst's last first delta
    cannot come before this (measured with the server stopped, on the same cores).
    """
    embedder = LocalMiniLMEmbedder()
    embedder.warm_up()
    began = time.perf_counter()
    for start in range(0, len(questions), MAX_BATCH):
        embedder.embed(questions[start : start + MAX_BATCH])
    return time.perf_counter() - began


def run_backend(name: str, database_url: str | None, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"cf-chat-{name}-") as data_dir:
        settings = Settings(data_dir=Path(data_dir), database_url=database_url)
        if args.public:
            return run_public(name, settings, args)
        return _run_backend(name, settings, args)


def _run_backend(name: str, settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    print(f"[{name}] loading {args.paragraphs} SQuAD paragraphs ...", flush=True)
    key, chatbot_id, questions = prepare(settings, args.paragraphs)
    server, base = start_server(settings, workers=args.workers)
    try:
        url = f"{base}/api/external/chatbot/{chatbot_id}/chat"
        result = asyncio.run(load(url, key, questions, args.chats))
    finally:
        stop_server(server)
    if args.think:
        server, base = start_server(settings, workers=args.workers)
        try:
            url = f"{base}/api/external/chatbot/{chatbot_id}/chat"
            result["conversation_mode"] = asyncio.run(
                conversations(url, key, questions, args.chats, args.think, args.rounds)
            )
        finally:
            stop_server(server)
    asked = result.pop("asked")
    floor_ms = embedding_floor(asked) * 1000
    result["embedding_floor_ms"] = round(floor_ms, 1)
    result["first_delta_p95_over_floor"] = round(result["first_delta_p95_ms"] / floor_ms, 2)
    result = {"backend": name, "paragraphs": args.paragraphs, "workers": args.workers, **result}
    print(f"[{name}] {json.dumps(result)}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=200, help="concurrent streaming chats")
    parser.add_argument("--workers", type=int, default=1, help="chatforge serve --workers")
    parser.add_argument("--paragraphs", type=int, default=300, help="SQuAD paragraphs loaded")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="also run --chats conversations at once, this many seconds between a visitor's "
        "messages on average (0: only the burst)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="messages per conversation")
    parser.add_argument(
        "--public",
        action="store_true",
        help="conversations through the public chat API (no key; --think defaults to 20)",
    )
    parser.add_argument("--url", help="an external server's base URL (no loading, no backend)")
    parser.add_argument("--key", help="API key, with --url")
    parser.add_argument("--chatbot", help="chatbot id, with --url (its model should be extractive)")
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    if args.url:
        if not (args.key and args.chatbot):
            parser.error("--url needs --key and --chatbot")
        url = f"{args.url.rstrip('/')}/api/external/chatbot/{args.chatbot}/chat"
        _, questions = squad_paragraphs(args.paragraphs)
        results["external"] = asyncio.run(load(url, args.key, questions, args.chats))
        results["external"].pop("asked")
        print(f"[external] {json.dumps(results['external'])}", flush=True)
    else:
        if args.backend in ("sqlite", "both"):
            results["sqlite"] = run_backend("sqlite", None, args)
        if args.backend in ("postgresql", "both"):
            with temporary_postgres() as url:
                results["postgresql"] = run_backend("postgresql", url, args)
    for name, figures in results.items():
        if figures.get("mode") == "public":
            ok = figures["errors"] == 0 and (
                figures["first_delta_p95_ms"] <= GOAL_PUBLIC_P95_FIRST_DELTA_MS
            )
            print(
                f"goal on {name} (public API): {figures['conversations']} conversations, "
                f"{figures['think_s']:.0f} s between a visitor's messages, 0 errors and p95 "
                f"first delta <= {GOAL_PUBLIC_P95_FIRST_DELTA_MS:.0f} ms: "
                f"{'PASS' if ok else 'FAIL'} ({figures['errors']} errors, p50 "
                f"{figures['first_delta_p50_ms']} ms, p95 {figures['first_delta_p95_ms']} ms, "
                f"load average {figures['loadavg'][0]} on {figures['cpus']} cpus)"
            )
            continue
        ok = figures["errors"] == 0 and figures["first_delta_p95_ms"] <= GOAL_P95_FIRST_DELTA_MS
        scope = "" if name == "sqlite" else " (the goal is set on SQLite)"
        print(
            f"goal on {name}{scope}: 0 errors and p95 time-to-first-delta <= "
            f"{GOAL_P95_FIRST_DELTA_MS:.0f} ms with {figures['chats']} chats: "
            f"{'PASS' if ok else 'FAIL'} ({figures['errors']} errors, p95 "
            f"{figures['first_delta_p95_ms']} ms, load average {figures['loadavg_after'][0]} "
            f"on {figures['cpus']} cpus)"
        )
        talk = figures.get("conversation_mode")
        if talk:
            ok = talk["errors"] == 0 and talk["first_delta_p95_ms"] <= GOAL_P95_FIRST_DELTA_MS
            print(
                f"  {talk['conversations']} conversations at once, {talk['think_s']:.0f} s between "
                f"a visitor's messages: {talk['errors']} errors, p95 time-to-first-delta "
                f"{talk['first_delta_p95_ms']} ms ({'within' if ok else 'over'} "
                f"{GOAL_P95_FIRST_DELTA_MS:.0f} ms), {talk['messages_per_s']} messages/s"
            )
        if "embedding_floor_ms" in figures:
            print(
                f"  the embedding model alone takes {figures['embedding_floor_ms']:.0f} ms for "
                f"these {figures['chats']} questions: p95 first delta is "
                f"{figures['first_delta_p95_over_floor']}x that floor"
            )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
