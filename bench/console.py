"""The console's pages on a large organization, on SQLite and PostgreSQL (issue 14).

    cd bench && python console.py [--rounds 40] [--backend both]

Each backend gets a fresh database, seeded in bulk straight through the storage models (it takes
seconds, not the hours the API would): one organization with 50 chatbots, 5,000 knowledge items
(half of them in one chatbot, 60 with chunks), 10,000 conversations over 30 days holding 100,000
messages (a tenth of the answers "not found", 2 % rated, one conversation of 1,000 messages),
and an owner; rows are written in the order they happened, and PostgreSQL is ``ANALYZE``d.
A real ``chatforge serve`` (bench/serving.py) then serves them; a client signed in through the
sign-in form asks every page ``--rounds`` times, one request at a time (after two unmeasured:
the first is printed apart), and the run prints each page's p50/p95 in milliseconds and the
load average. The goal: every page's p95 <= 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import struct
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text

from chatforge.providers.chat.extractive import NOT_FOUND_ANSWER
from chatforge.services.accounts import users
from chatforge.services.context import AppContext
from chatforge.settings import Settings
from chatforge.storage import migrate
from chatforge.storage.models import (
    Chatbot,
    ChatMessage,
    ChatSession,
    Chunk,
    KnowledgeItem,
    MessageFeedback,
    Organization,
    new_id,
)
from pg import temporary_postgres
from serving import start_server, stop_server

CHATBOTS = 50
ITEMS = 5_000
SESSIONS = 10_000
MESSAGES = 100_000
LONG_CONVERSATION = 1_000
EMAIL = "owner@bench.test"
PASSWORD = "bench password 1"
GOAL_MS = 100.0
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
QUESTIONS = [
    "Do you ship to Canada?",
    "How do I reset my password?",
    "Can I pay by invoice?",
    "Where is my order?",
    "Do you have a student discount?",
]


def _batches(rows: list[dict[str, Any]], size: int = 5_000) -> list[list[dict[str, Any]]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def seed(ctx: AppContext) -> dict[str, str]:
    """Fill the database; the ids the pages need (the biggest chatbot, the long conversation)."""
    rng = random.Random(14)
    now = datetime.now(UTC)
    org_id = new_id()
    bots = [new_id() for _ in range(CHATBOTS)]
    with ctx.db.sessions() as session:
        session.execute(insert(Organization), [{"id": org_id, "name": "bench", "created_at": now}])
        session.execute(
            insert(Chatbot),
            [
                {
                    "id": bot,
                    "organization_id": org_id,
                    "name": f"Assistant {n:02d}",
                    "slug": f"assistant-{n:02d}",
                    "settings": {},
                    "is_public": n % 2 == 0,
                    "created_at": now - timedelta(days=60, minutes=n),
                    "updated_at": now - timedelta(days=60, minutes=n),
                }
                for n, bot in enumerate(bots)
            ],
        )
        items: list[dict[str, Any]] = []
        for n in range(ITEMS):
            bot = bots[0] if n < ITEMS // 2 else bots[1 + n % (CHATBOTS - 1)]
            kind = ("text", "qna", "file", "url")[n % 4]
            failed = n % 97 == 0
            items.append(
                {
                    "id": new_id(),
                    "chatbot_id": bot,
                    "type": kind,
                    "title": f"Document {n} about {rng.choice(['returns', 'shipping', 'billing'])}",
                    "source": f"https://example.com/page/{n}" if kind == "url" else "",
                    "status": "failed" if failed else "ready",
                    "error": "The PDF could not be read." if failed else None,
                    "size_bytes": 2_000 + n,
                    "chunks": 0 if failed else 3,
                    "content_hash": f"{n:064x}",
                    "content": f"Answer {n}" if kind in ("text", "qna") else None,
                    "meta": {"question": f"Question {n}?", "answer": f"Answer {n}"}
                    if kind == "qna"
                    else {},
                    "created_at": now - timedelta(minutes=n),
                    "updated_at": now,
                }
            )
        for batch in _batches(items):
            session.execute(insert(KnowledgeItem), batch)
        vector = struct.pack("<384f", *([0.05] * 384))
        chunks = [
            {
                "item_id": item["id"],
                "chatbot_id": item["chatbot_id"],
                "chunk_index": c,
                "title": item["title"],
                "content": f"Passage {c} of {item['title']}.",
                "tokens": 12,
                "embedding": vector,
            }
            for item in items[:60]
            for c in range(3)
        ]
        session.execute(insert(Chunk), chunks)

        sessions: list[dict[str, Any]] = []
        messages: list[dict[str, Any]] = []
        feedback: list[dict[str, Any]] = []
        per_session, extra = divmod(MESSAGES - LONG_CONVERSATION, SESSIONS - 1)
        for s in range(SESSIONS):
            sid = new_id()
            bot = bots[s % CHATBOTS]
            count = LONG_CONVERSATION if s == 0 else per_session + (s <= extra)
            started = now - timedelta(minutes=rng.randrange(30 * 24 * 60))
            platform = ("web", "web", "web", "api", "whatsapp", "telegram", "playground")[s % 7]
            last: dict[str, Any] = {}
            for m in range(count):
                sender = "user" if m % 2 == 0 else "bot"
                question = rng.choice(QUESTIONS)
                not_found = sender == "bot" and rng.random() < 0.1
                row = {
                    "id": new_id(), "session_id": sid, "sender_type": sender,
                    "content": NOT_FOUND_ANSWER if not_found else f"Message {m} of {s}",
                    "meta": {"search_query": question} if sender == "bot" else {},
                    "tokens_used": 0,
                    "created_at": started + timedelta(seconds=20 * m + (3 if m % 2 else 0)),
                }  # fmt: skip
                messages.append(row)
                last = row
                if sender == "bot" and rng.random() < 0.02:
                    feedback.append(
                        {"id": new_id(), "message_id": row["id"],
                         "rating": rng.choice(["up", "down"]), "created_at": row["created_at"],
                         "updated_at": row["created_at"]}
                    )  # fmt: skip
            sessions.append(
                {
                    "id": sid,
                    "chatbot_id": bot,
                    "platform": platform,
                    "sns_user_id": f"visitor-{s}",
                    "is_human_mode": s % 50 == 0,
                    "email": f"visitor{s}@example.com" if s % 10 == 0 else None,
                    "last_message": last["content"],
                    "last_message_id": last["id"],
                    "last_sender_type": last["sender_type"],
                    "meta": {},
                    "created_at": started,
                    "updated_at": last["created_at"],
                }
            )
        # Written in the order they happened, as a live server writes them (tables then lie on
        # disk by time, which PostgreSQL's planner counts on when it reads a day by its index).
        long = sessions[0]
        for rows in (sessions, messages, feedback):
            rows.sort(key=lambda row: row["created_at"])
        for batch in _batches(sessions):
            session.execute(insert(ChatSession), batch)
        for batch in _batches(messages):
            session.execute(insert(ChatMessage), batch)
        session.execute(insert(MessageFeedback), feedback)
        session.commit()
        users.create_user(session, "bench", EMAIL, PASSWORD, "owner")
    return {
        "bot": bots[0],
        "long": long["id"],
        "long_bot": long["chatbot_id"],
        "item": items[0]["id"],
        "messages": str(len(messages)),
    }


def pages(ids: dict[str, str]) -> dict[str, str]:
    """Every page of the console a person opens, by name."""
    bot = ids["bot"]
    today = datetime.now(UTC).date()
    week = (today - timedelta(days=7)).isoformat()
    return {
        "chatbots": "/console/chatbots",
        "chatbots p3": "/console/chatbots?page=3",
        "chatbot settings": f"/console/chatbots/{bot}",
        "knowledge": f"/console/chatbots/{bot}/knowledge",
        "knowledge p100": f"/console/chatbots/{bot}/knowledge?page=100",
        "knowledge failed": f"/console/chatbots/{bot}/knowledge?status=failed",
        "knowledge search": f"/console/chatbots/{bot}/knowledge?q=shipping",
        "knowledge item": f"/console/chatbots/{bot}/knowledge/{ids['item']}",
        "playground": f"/console/chatbots/{bot}/playground",
        "widget": f"/console/chatbots/{bot}/widget",
        "inbox": "/console/inbox",
        "inbox p200": "/console/inbox?page=200",
        "inbox chatbot": f"/console/inbox?chatbot={bot}",
        "inbox human": "/console/inbox?human=true",
        "inbox lead": "/console/inbox?lead=true",
        "inbox rated down": "/console/inbox?down=true",
        "inbox not answered": "/console/inbox?waiting=true",
        "inbox platform": "/console/inbox?platform=whatsapp",
        "inbox last 7 days": f"/console/inbox?since={week}&until={today.isoformat()}",
        "conversation (1,000 msgs)": f"/console/inbox/{ids['long_bot']}/{ids['long']}",
        "conversation poll": f"/console/inbox/{ids['long_bot']}/{ids['long']}/messages",
        "insights 14 d": "/console/insights",
        "insights 30 d": "/console/insights?days=30",
        "insights one chatbot": f"/console/insights?days=30&chatbot={bot}",
        "keys": "/console/keys",
        "people": "/console/users",
    }


def sign_in(client: httpx.Client) -> None:
    form = client.get("/console/login")
    token = CSRF.search(form.text)
    assert token, form.text
    answer = client.post(
        "/console/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token[1]}
    )
    assert answer.status_code == 303, answer.text


def measure(base: str, ids: dict[str, str], rounds: int, only: str) -> dict[str, dict[str, float]]:
    """Each page ``rounds`` times (after two unmeasured), one request at a time."""
    found: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        sign_in(client)
        for name, path in pages(ids).items():
            if not re.search(only, name):
                continue
            times: list[float] = []
            for n in range(rounds + 2):
                began = time.perf_counter()
                answer = client.get(path)
                elapsed = (time.perf_counter() - began) * 1000
                if answer.status_code != 200:
                    raise SystemExit(f"{name}: {path} answered {answer.status_code}")
                if n == 0:
                    first = elapsed
                if n >= 2:
                    times.append(elapsed)
            times.sort()
            found[name] = {
                "p50": round(statistics.median(times), 1),
                "p95": round(times[int(0.95 * (len(times) - 1))], 1),
                "first": round(first, 1),
            }
    return found


def run_backend(name: str, url: str | None, rounds: int, only: str) -> dict[str, dict[str, float]]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"cf-console-{name}-"))
    settings = Settings(data_dir=data_dir, database_url=url)  # type: ignore[call-arg]
    ctx = AppContext.build(settings)
    began = time.perf_counter()
    try:
        migrate.upgrade(ctx.db.engine)
        ids = seed(ctx)
        if ctx.db.engine.dialect.name == "postgresql":
            # What autovacuum does within a minute of a bulk load (and a live database always
            # has): statistics, without which the planner guesses how the rows lie.
            with ctx.db.engine.begin() as connection:
                connection.execute(text("ANALYZE"))
    finally:
        ctx.close()
    print(f"[{name}] seeded {ids['messages']} messages in {time.perf_counter() - began:.0f} s")
    os.environ["CHATFORGE_LIMITS__ENABLED"] = "false"  # the bench measures pages, not limits
    server, base = start_server(settings)
    try:
        result = measure(base, ids, rounds, only)
    finally:
        stop_server(server)
        shutil.rmtree(data_dir, ignore_errors=True)
    for page, figures in result.items():
        print(
            f"[{name}] {page:28} p50 {figures['p50']:6.1f} ms  p95 {figures['p95']:6.1f} ms"
            f"  first {figures['first']:6.1f} ms"
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pages", default="", help="only the pages whose name matches")
    args = parser.parse_args()
    results: dict[str, dict[str, dict[str, float]]] = {}
    if args.backend in ("sqlite", "both"):
        results["sqlite"] = run_backend("sqlite", None, args.rounds, args.pages)
    if args.backend in ("postgresql", "both"):
        with temporary_postgres() as url:
            results["postgresql"] = run_backend("postgresql", url, args.rounds, args.pages)
    print("| page | " + " | ".join(f"{b} p50 | {b} p95" for b in results) + " |")
    print("|---|" + "---:|---:|" * len(results))
    for page in next(iter(results.values())):
        cells = " | ".join(f"{r[page]['p50']} | {r[page]['p95']}" for r in results.values())
        print(f"| {page} | {cells} |")
    print("first visits (not in p50/p95; insights count past days then): " + "; ".join(
        f"{b} {page} {r[page]['first']}" for b, r in results.items() for page in r
        if page.startswith("insights")
    ))  # fmt: skip
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    worst = max(f["p95"] for r in results.values() for f in r.values())
    print(f"goal: every page's p95 <= {GOAL_MS:.0f} ms: {'PASS' if worst <= GOAL_MS else 'FAIL'}")
    out = Path(__file__).parent / "out" / "console.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    sys.exit(0 if worst <= GOAL_MS else 1)


if __name__ == "__main__":
    main()
