"""Findings 6 and 11: a tenant cannot make the server call its own ports, learn what a provider
answered, or probe the internal network; and health checks stay quiet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from tests.factories.chat import ask
from tests.factories.knowledge import add, kb_path
from tests.factories.web import Site, serve_site
from tests.servers.base import Reply, serve
from tests.servers.openai_server import OpenAIServer

Bot = Callable[..., dict[str, Any]]
UPSTREAM_SECRET = "internal-build-7f3a: admin console at http://10.0.0.5:9000 (token 5up3r)"


@pytest.fixture
def site() -> Iterator[Site]:
    with serve_site() as running:
        yield running


@pytest.fixture
def upstream() -> Iterator[OpenAIServer]:
    """Whatever listens on a local port, speaking OpenAI's protocol."""
    with serve(OpenAIServer(), path_prefix="/v1") as server:
        yield server


# --- finding 6: only the providers the operator configured ----------------------------------


@pytest.mark.parametrize("model", ["llamacpp:x", "vllm:m", "ollama:llama3.2", "lmstudio:m"])
def test_an_unconfigured_local_runtime_is_422_at_create_and_update(
    api: TestClient, create_chatbot: Bot, model: str
) -> None:
    created = api.post("/api/external/chatbots", json={"name": "B", "settings": {"model": model}})
    bot = create_chatbot()
    updated = api.patch(f"/api/external/chatbot/{bot['id']}", json={"settings": {"model": model}})

    for response in (created, updated):
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert "not configured" in error["message"]
        assert error["details"][0]["field"] == "settings.model"
    assert (
        api.get(f"/api/external/chatbot/{bot['id']}").json()["chatbot"]["settings"]["model"]
        == "extractive"
    )


def test_a_configured_runtime_is_usable_and_its_error_text_never_reaches_the_caller(
    configured_api: Callable[..., TestClient],
    upstream: OpenAIServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = configured_api(models={"compatible_base_urls": {"ollama": upstream.base_url}})
    made = api.post(
        "/api/external/chatbots", json={"name": "Local", "settings": {"model": "ollama:llama3.2"}}
    )
    assert made.status_code == 200, made.text
    bot = made.json()["chatbot"]
    add(api, bot["id"], {"type": "text", "title": "Returns", "content": "Returns: 30 days."})

    upstream.script(Reply(text="Within 30 days [1]."))
    answered = ask(api, bot["id"], "How long do I have to return?")
    upstream.script(Reply(status=500, body={"error": {"message": UPSTREAM_SECRET}}))
    failed = ask(api, bot["id"], "How long do I have to return?")
    upstream.script(Reply(status=500, body={"error": {"message": UPSTREAM_SECRET}}))
    streamed = ask(api, bot["id"], "How long do I have to return?", stream=True)

    assert answered.status_code == 200 and "30 days" in answered.json()["response"]
    assert failed.status_code == 502
    for response in (failed, streamed):
        assert "internal-build" not in response.text and "10.0.0.5" not in response.text
    assert "internal-build-7f3a" in caplog.text  # the operator still sees it


def test_a_provider_key_is_not_a_way_in_for_unconfigured_hosted_providers(
    configured_api: Callable[..., TestClient], upstream: OpenAIServer
) -> None:
    # OpenAI's names go to OpenAI (or the operator's OPENAI_BASE_URL), never to a local port.
    api = configured_api(
        models={"openai_base_url": upstream.base_url, "openai_api_key": SecretStr("sk-op-1234")}
    )
    made = api.post("/api/external/chatbots", json={"name": "B", "settings": {"model": "gpt-4o"}})
    assert made.status_code == 200


# --- finding 11: no probing, and quiet health checks ------------------------------------------


def test_a_url_naming_a_refused_address_is_422_at_once_and_stores_nothing(
    api: TestClient, create_chatbot: Bot, site: Site
) -> None:
    bot = create_chatbot()
    path = kb_path(bot["id"])

    for url in (
        site.url("/"),
        "http://10.11.12.13/admin",
        "http://[::1]/",
        "http://169.254.169.254/",
    ):
        for source in ({"type": "url", "url": url}, {"type": "sitemap", "url": url}):
            response = api.post(path, json=source)
            assert response.status_code == 422, (url, response.text)
            error = response.json()["error"]
            assert "not allowed" in error["message"]
            assert error["details"][0]["field"] == "url"
    many = api.post(
        path, json=[{"type": "text", "content": "ok"}, {"type": "url", "url": site.url("/")}]
    )
    assert many.status_code == 422
    assert many.json()["error"]["details"][0]["field"] == "1.url"
    assert api.get(path).json()["knowledge_base"] == []
    assert site.requests == []


def test_unknown_and_loopback_hosts_read_the_same_to_the_caller(
    api: TestClient, create_chatbot: Bot
) -> None:
    bot = create_chatbot()

    items = add(
        api,
        bot["id"],
        {"type": "url", "url": "http://no-such-host.invalid/admin"},
        {"type": "url", "url": "http://localhost:9/admin"},
    )

    assert [i["status"] for i in items] == ["failed", "failed"]
    unknown, loopback = (i["error"] for i in items)
    assert unknown.replace("no-such-host.invalid", "HOST") == loopback.replace("localhost", "HOST")
    for error in (unknown, loopback):
        for word in ("loopback", "private", "resolve", "127.0.0.1"):
            assert word not in error


def test_readiness_checks_log_nothing(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        caplog.clear()
        for _ in range(3):
            assert client.get("/readyz").status_code == 200
            assert client.get("/healthz").status_code == 200
    assert [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")] == []
