"""Allowed origins and per-chatbot CORS on the public paths, with real Origin headers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.factories.chat import conversations_path
from tests.public.helpers import public_path, say

SHOP = "https://shop.example"
PREFLIGHT = {"Access-Control-Request-Method": "POST"}


@pytest.fixture
def guarded(create_chatbot: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """A public chatbot that may be embedded on the shop's site and a local test page only."""
    return create_chatbot(
        name="Guarded",
        is_public=True,
        settings={"allowedOrigins": [SHOP, "http://localhost:8080"]},
    )


def test_allowed_origins_are_checked_and_normalized(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    bot = create_chatbot(
        is_public=True,
        settings={"allowedOrigins": ["HTTPS://Shop.Example/", "https://shop.example:443", SHOP]},
    )
    assert bot["settings"]["allowedOrigins"] == [SHOP]

    refusals = {
        "a path": ["https://shop.example/checkout"],
        "no scheme": ["shop.example"],
        "another scheme": ["ftp://shop.example"],
        "a wildcard": ["https://*.shop.example"],
        "not a string": [42],
        "not a list": SHOP,
        "too many": [f"https://shop{n}.example" for n in range(101)],
    }
    for case, value in refusals.items():
        response = api.patch(
            f"/api/external/chatbot/{bot['id']}", json={"settings": {"allowedOrigins": value}}
        )
        assert response.status_code == 422, (case, response.text)
        error = response.json()["error"]
        assert error["details"][0]["field"].startswith("settings.allowedOrigins"), case
    created = api.post(
        "/api/external/chatbots",
        json={"name": "Bad", "settings": {"allowedOrigins": ["https://a.example/x"]}},
    )
    assert created.status_code == 422
    stored = api.get(f"/api/external/chatbot/{bot['id']}").json()["chatbot"]["settings"]
    assert stored["allowedOrigins"] == [SHOP]


def test_an_allowed_origin_is_echoed_and_another_is_refused(
    api: TestClient, visitor: TestClient, guarded: dict[str, Any]
) -> None:
    allowed = visitor.get(public_path(guarded["id"]), headers={"Origin": SHOP})
    local = visitor.get(public_path(guarded["id"]), headers={"Origin": "http://localhost:8080"})
    own = visitor.get(public_path(guarded["id"]), headers={"Origin": "http://testserver"})
    no_origin = visitor.get(public_path(guarded["id"]))
    evil = visitor.get(public_path(guarded["id"]), headers={"Origin": "https://evil.example"})
    evil_chat = say(visitor, guarded["id"], "Hello", Origin="https://evil.example")
    lookalike = visitor.get(
        public_path(guarded["id"]), headers={"Origin": "https://shop.example.evil.example"}
    )

    for response in (allowed, local, own):
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-origin"] == response.request.headers["origin"]
        assert response.headers["vary"] == "Origin"
        assert "access-control-allow-credentials" not in response.headers
    assert no_origin.status_code == 200
    assert "access-control-allow-origin" not in no_origin.headers
    for response in (evil, evil_chat, lookalike):
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "origin_not_allowed"
        assert "allowedOrigins" in response.json()["error"]["message"]
    # The refused chat stored nothing.
    assert api.get(conversations_path(guarded["id"])).json()["pagination"]["total"] == 0


def test_preflights_are_answered_per_chatbot(
    visitor: TestClient, guarded: dict[str, Any], create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    open_bot = create_chatbot(name="Open", is_public=True)
    path = public_path(guarded["id"], "/chat")

    allowed = visitor.options(path, headers={"Origin": SHOP, **PREFLIGHT})
    refused = visitor.options(path, headers={"Origin": "https://evil.example", **PREFLIGHT})
    anyone = visitor.options(
        public_path(open_bot["id"], "/chat"),
        headers={"Origin": "https://blog.example", **PREFLIGHT},
    )

    assert allowed.status_code == 204, allowed.text
    assert allowed.headers["access-control-allow-origin"] == SHOP
    assert allowed.headers["access-control-allow-methods"] == "GET, POST, OPTIONS"
    assert allowed.headers["access-control-allow-headers"] == "Content-Type, X-Visitor-Token"
    assert allowed.headers["vary"] == "Origin"
    assert "access-control-allow-credentials" not in allowed.headers
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers
    # No list: any site may embed it, and it is named, never "*".
    assert anyone.status_code == 204
    assert anyone.headers["access-control-allow-origin"] == "https://blog.example"


def test_a_cross_site_chat_streams_with_cors_headers(
    visitor: TestClient, guarded: dict[str, Any]
) -> None:
    response = say(visitor, guarded["id"], "Hello", stream=True, Origin=SHOP)

    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == SHOP
    assert "event: done" in response.text


def test_a_missing_chatbot_answers_404_readable_by_the_widget(visitor: TestClient) -> None:
    response = visitor.get(public_path("nobody"), headers={"Origin": SHOP})

    assert response.status_code == 404
    assert response.headers["access-control-allow-origin"] == SHOP


def test_key_authenticated_paths_keep_the_wildcard(api: TestClient) -> None:
    listed = api.get("/api/external/chatbots", headers={"Origin": "https://evil.example"})
    preflight = api.options(
        "/api/external/chatbots",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )

    assert listed.status_code == 200
    assert listed.headers["access-control-allow-origin"] == "*"
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"


def test_chatforge_own_pages_are_allowed_under_any_host_name_it_is_reached_by(
    visitor: TestClient, guarded: dict[str, Any]
) -> None:
    # The hosted chat page opened as https://chat.example:8443/chat/... while the server was
    # started on another address: its calls are same-origin, whatever allowedOrigins says.
    host = {"Host": "chat.example:8443"}
    own = say(visitor, guarded["id"], "Hello", Origin="https://chat.example:8443", **host)
    own_preflight = visitor.options(
        public_path(guarded["id"], "/chat"),
        headers={"Origin": "https://chat.example:8443", **PREFLIGHT, **host},
    )
    other = say(visitor, guarded["id"], "Hello", Origin="https://evil.example", **host)

    assert own.status_code == 200, own.text
    assert own_preflight.status_code == 204
    assert other.status_code == 403
