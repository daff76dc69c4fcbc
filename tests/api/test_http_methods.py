"""HEAD answers every page, file and health check like GET, without the body; a 405 names the
methods the path has.

Uptime monitors and link checkers ask with ``HEAD``. These are the HTTP layer's (no query reaches
the database differently), so they run on SQLite only.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.browser import LiveServer, live_server  # noqa: F401

#: Headers that differ from one answer to the next (a fresh nonce, cookie or date).
_PER_ANSWER = {"content-security-policy", "set-cookie", "date"}


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "chatforge.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def public_bot(create_chatbot: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return create_chatbot(name="Shop", is_public=True, slug="shop")


def _same_headers(head: httpx.Response, get: httpx.Response) -> None:
    assert head.status_code == get.status_code
    assert {k: v for k, v in head.headers.items() if k not in _PER_ANSWER} == {
        k: v for k, v in get.headers.items() if k not in _PER_ANSWER
    }


@pytest.mark.parametrize(
    "path",
    [
        "/healthz",
        "/widget.js",
        "/chat/shop",
        "/chat/no-such-bot",  # the friendly 404 page
        "/openapi.json",
        "/docs",
        "/docs-assets/favicon.png",
        "/console/login",
        "/console/static/console.css",
        "/",
    ],
)
def test_head_answers_like_get_without_a_body(
    client: TestClient, public_bot: dict[str, Any], path: str
) -> None:
    get = client.get(path, follow_redirects=False)
    head = client.head(path, follow_redirects=False)

    assert get.content or get.status_code == 307
    _same_headers(head, get)
    assert head.content == b""


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_monitors_checking_with_head_see_the_service_up(client: TestClient, path: str) -> None:
    response = client.head(path)

    assert response.status_code == 200 and response.content == b""
    assert int(response.headers["content-length"]) > 0


def test_head_of_a_key_call_answers_its_status(api: TestClient, client: TestClient) -> None:
    assert api.head("/api/external/chatbots").status_code == 200
    unauthenticated = TestClient(client.app, raise_server_exceptions=False)
    assert unauthenticated.head("/api/external/chatbots").status_code == 401


def test_head_over_http_leaves_the_connection_usable(
    live_server: LiveServer,  # noqa: F811
    public_bot: dict[str, Any],
) -> None:
    # A real server: the length of the GET is announced, no byte of it is sent, and the next
    # request on the same connection is answered (a stray body would corrupt it).
    with httpx.Client(base_url=live_server.url) as http:
        head = http.head("/widget.js", headers={"accept-encoding": "identity"})
        get = http.get("/widget.js", headers={"accept-encoding": "identity"})
        monitored = http.head("/healthz")

    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(get.content) > 1000
    assert head.headers["etag"] == get.headers["etag"]
    assert monitored.status_code == 200 and monitored.headers["content-length"] == "15"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/external/chatbots", "GET, HEAD, PATCH, POST"),
        ("DELETE", "/healthz", "GET, HEAD"),
        ("POST", "/widget.js", "GET, HEAD"),
        ("PUT", "/chat/shop", "GET, HEAD"),
        ("GET", "/api/external/chatbot/any-id/chat", "POST"),
        ("HEAD", "/api/external/chatbot/any-id/chat", "POST"),  # HEAD only where GET is
        ("POST", "/docs-assets/favicon.png", "GET, HEAD"),
    ],
)
def test_wrong_method_is_405_listing_the_allowed_ones(
    api: TestClient, method: str, path: str, allowed: str
) -> None:
    response = api.request(method, path)

    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    if method != "HEAD":
        assert response.json()["error"]["code"] == "method_not_allowed"


def test_openapi_document_lists_no_head_operations(client: TestClient) -> None:
    # HEAD is the server's, not an operation of its own that a generated client would grow.
    paths = client.get("/openapi.json").json()["paths"]

    assert "/healthz" in paths and "/widget.js" in paths
    assert not any("head" in operations for operations in paths.values())
