"""Links of web sources, and the public endpoints in the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from tests.factories.knowledge import add
from tests.factories.web import serve_site
from tests.public.helpers import public_path, read_back, said

pytestmark = pytest.mark.usefixtures("reuse_embedder")

TOURS = (
    "Harbour tours leave from pier one every hour between nine and five. Tickets cost twelve "
    "euros for adults and six euros for children. "
)


def test_a_web_source_links_to_its_page_and_a_text_source_to_nothing(
    configured_api: Callable[..., TestClient],
) -> None:
    api = configured_api(security={"allow_private_addresses": True})
    made = api.post("/api/external/chatbots", json={"name": "Harbour", "is_public": True})
    bot = made.json()["chatbot"]["id"]
    with serve_site() as site:
        site.page("/tours", "Harbour tours", [TOURS * 3])
        add(
            api, bot,
            {"type": "url", "url": site.url("/tours"), "title": "Tours"},
            {"type": "text", "title": "Tickets", "content": "Tickets for harbour tours: " + TOURS},
        )  # fmt: skip
    api.headers.pop("x-api-key")

    body = said(api, bot, "When do harbour tours leave from the pier?")

    by_title = {s["title"]: s for s in body["sources"]}
    assert by_title["Tours"]["url"] == site.url("/tours")
    assert by_title["Tours"]["source"] == site.url("/tours")
    assert by_title["Tickets"]["url"] is None
    again = read_back(api, bot, body["session_id"], body["visitor_token"]).json()
    assert "every hour" in body["response"]
    assert again["messages"][1]["sources"] == body["sources"]


def test_the_public_endpoints_are_in_the_openapi_document(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]

    chat = paths["/api/public/chatbot/{chatbot}/chat"]["post"]
    config = paths["/api/public/chatbot/{chatbot}"]["get"]
    assert {"/api/public/chatbot/{chatbot}/lead", "/api/public/chatbot/{chatbot}/sessions/"
            "{session_id}", "/api/public/chatbot/{chatbot}/sessions/{session_id}/messages/"
            "{message_id}/feedback"} <= set(paths)  # fmt: skip
    assert "security" not in chat and "security" not in config
    assert any(p["name"] == "X-Visitor-Token" for p in chat["parameters"])
    assert "text/event-stream" in chat["responses"]["200"]["content"]
    assert {"403", "404", "429"} <= set(chat["responses"])
    shown = spec["components"]["schemas"]["PublicChatbotOut"]["properties"]
    assert "prompt" not in shown and "requestEmail" in shown
    source = spec["components"]["schemas"]["PublicSourceOut"]["properties"]
    assert set(source) == {"ref", "knowledge_id", "title", "source", "url"}
    assert public_path("x") == "/api/public/chatbot/x"
