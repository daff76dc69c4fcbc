"""Calls of the public API, as the widget makes them."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from tests.factories.chat import parse_events


def public_path(chatbot: str, rest: str = "") -> str:
    """A public path of a chatbot (id or slug)."""
    return f"/api/public/chatbot/{chatbot}{rest}"


def visitor_headers(token: str | None) -> dict[str, str]:
    """The visitor's token header, when there is one."""
    return {"X-Visitor-Token": token} if token else {}


def say(
    client: TestClient,
    chatbot: str,
    content: str,
    *,
    token: str | None = None,
    session_id: str | None = None,
    stream: bool = False,
    **headers: str,
) -> Any:
    """POST one visitor message; the response."""
    body: dict[str, Any] = {"messages": [{"role": "user", "content": content}]}
    if session_id is not None:
        body["session_id"] = session_id
    return client.post(
        public_path(chatbot, "/chat"),
        params={"stream": str(stream).lower()},
        json=body,
        headers={**visitor_headers(token), **headers},
    )


def said(client: TestClient, chatbot: str, content: str, **options: Any) -> dict[str, Any]:
    """The JSON answer of one visitor message; the call must succeed."""
    response = say(client, chatbot, content, **options)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def streamed_events(
    client: TestClient, chatbot: str, content: str, **options: Any
) -> list[tuple[str, Any]]:
    """The events of a streamed visitor message; the call must succeed."""
    response = say(client, chatbot, content, stream=True, **options)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_events(response.text)


def read_back(
    client: TestClient, chatbot: str, session_id: str, token: str | None, **params: str
) -> Any:
    """GET the visitor's session; the response."""
    return client.get(
        public_path(chatbot, f"/sessions/{session_id}"),
        params=params,
        headers=visitor_headers(token),
    )
