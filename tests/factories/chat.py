"""Helpers for chat tests: a tiny knowledge base, chat calls, and Server-Sent Events parsing."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi.testclient import TestClient
from tests.factories.knowledge import add

STORE_KNOWLEDGE = [
    {
        "type": "text",
        "title": "Returns",
        "content": (
            "You can return any product within 30 days of purchase for a full refund. "
            "Refunds are paid to the original payment method within 5 business days."
        ),
    },
    {
        "type": "text",
        "title": "Opening hours",
        "content": (
            "Our store is open from 9am to 6pm, Monday to Saturday. On Sundays the store is closed."
        ),
    },
    {
        "type": "text",
        "title": "Shipping",
        "content": (
            "Standard shipping takes 3 to 5 business days and costs 4.99 euros. Orders above "
            "50 euros ship for free."
        ),
    },
]
"""Three short texts of a shop: enough for retrieval to choose, small enough to index fast."""


def chat_path(chatbot_id: str) -> str:
    """The chat endpoint of a chatbot."""
    return f"/api/external/chatbot/{chatbot_id}/chat"


def conversations_path(chatbot_id: str) -> str:
    """The conversations endpoint of a chatbot."""
    return f"/api/external/chatbot/{chatbot_id}/conversations"


def make_store_bot(client: TestClient, **fields: Any) -> dict[str, Any]:
    """A chatbot with the shop's knowledge, ready to answer."""
    fields.setdefault("name", "Shop Bot")
    response = client.post("/api/external/chatbots", json=fields)
    assert response.status_code == 200, response.text
    chatbot: dict[str, Any] = response.json()["chatbot"]
    items = add(client, chatbot["id"], *STORE_KNOWLEDGE)
    assert all(item["status"] == "ready" for item in items), items
    return chatbot


def ask(
    client: TestClient,
    chatbot_id: str,
    content: str,
    *,
    token: str | None = None,
    platform: str | None = None,
    history: list[dict[str, str]] | None = None,
    stream: bool = False,
) -> Any:
    """POST one user message (after ``history``, when given); the response."""
    body: dict[str, Any] = {"messages": [*(history or []), {"role": "user", "content": content}]}
    if token is not None:
        body["sessionToken"] = token
    if platform is not None:
        body["platform"] = platform
    return client.post(chat_path(chatbot_id), params={"stream": str(stream).lower()}, json=body)


def answer(client: TestClient, chatbot_id: str, content: str, **options: Any) -> dict[str, Any]:
    """The non-streaming answer's body; the call must succeed."""
    response = ask(client, chatbot_id, content, **options)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def parse_events(text: str) -> list[tuple[str, Any]]:
    """``(event, data)`` pairs of a text/event-stream body; every data line must be JSON."""
    events: list[tuple[str, Any]] = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name, data = "message", []
        for line in block.split("\n"):
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        assert len(data) == 1, f"one data line per event: {block!r}"
        events.append((name, json.loads(data[0])))
    return events


def streamed(client: TestClient, chatbot_id: str, content: str, **options: Any) -> Any:
    """The events of a streaming chat call, checked to be an event stream."""
    response = ask(client, chatbot_id, content, stream=True, **options)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_events(response.text)


def messages_of(client: TestClient, chatbot_id: str, session_id: str) -> list[dict[str, Any]]:
    """A session's stored messages, oldest first."""
    response = client.get(
        f"{conversations_path(chatbot_id)}/{session_id}/messages", params={"limit": 100}
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


@contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port; its base URL.

    For what the in-process test client cannot show: a client that disconnects mid-stream. The
    app's lifespan is left to the test client that already runs it.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
