"""Every failure is API.md's error body; health, readiness and the OpenAPI schema."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from chatforge.api.metrics import forget_dead_processes


def test_unknown_route_is_404_json(client: TestClient) -> None:
    response = client.get("/api/external/nothing-here")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_wrong_method_is_405_json(api: TestClient) -> None:
    response = api.put("/api/external/chatbots", json={})

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_malformed_json_is_400(api: TestClient) -> None:
    response = api.post(
        "/api/external/chatbots",
        content=b'{"name": "oops",',
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_body_that_is_not_an_object_is_422(api: TestClient) -> None:
    response = api.post("/api/external/chatbots", json=["name"])

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_json_sent_without_its_content_type_is_415_saying_so(api: TestClient) -> None:
    # curl -d '{"name": "Shop"}' sends application/x-www-form-urlencoded.
    response = api.post(
        "/api/external/chatbots",
        content=b'{"name": "Shop"}',
        headers={"content-type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert "Content-Type: application/json" in response.json()["error"]["message"]
    assert api.get("/api/external/chatbots").json() == {"chatbots": []}


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    # The start-up load into search memory ends (at once: nothing is indexed yet).
    deadline = time.monotonic() + 10
    while client.get("/readyz").json()["search"] == "warming" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.get("/readyz").json() == {"status": "ready", "search": "warm"}


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_requests_by_route_and_show_the_queue(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]], key: str
) -> None:
    chatbot = create_chatbot()
    for _ in range(3):
        api.get(f"/api/external/chatbot/{chatbot['id']}")
    api.get("/api/external/nothing-here")
    api.post(
        f"/api/external/chatbot/{chatbot['id']}/knowledge-base?wait=true",
        json={"type": "text", "title": "Hours", "content": "We open at nine."},
    )
    api.post(f"/api/external/chatbot/{chatbot['id']}/query-knowledge", json={"query": "open"})
    api.request("BREW", "/healthz")

    response = api.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    route = (("method", "GET"), ("route", "/api/external/chatbot/{chatbotId}"), ("status", "200"))
    assert samples[("chatforge_http_requests_total", route)] == 3
    unmatched = (("method", "GET"), ("route", "unmatched"), ("status", "404"))
    assert samples[("chatforge_http_requests_total", unmatched)] == 1
    timed = (("method", "GET"), ("route", "/api/external/chatbot/{chatbotId}"))
    assert samples[("chatforge_http_request_duration_seconds_count", timed)] == 3
    assert samples[("chatforge_knowledge_items", (("status", "ready"),))] == 1
    assert samples[("chatforge_ingestion_jobs", (("status", "done"),))] == 1
    assert samples[("chatforge_search_memory_chatbots", ())] == 1
    assert samples[("chatforge_search_memory_bytes", ())] > 0
    # Any method name a client makes up is one series, not one each.
    brewed = (("method", "OTHER"), ("route", "/healthz"), ("status", "405"))
    assert samples[("chatforge_http_requests_total", brewed)] == 1
    # Aggregates only: no chatbot id, key or content reaches the metrics.
    assert chatbot["id"] not in response.text and key not in response.text
    assert "nine" not in response.text


def test_cors_allows_any_origin_for_key_calls(api: TestClient) -> None:
    preflight = api.options(
        "/api/external/chatbots",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, content-type",
        },
    )
    response = api.get("/api/external/chatbots", headers={"Origin": "https://shop.example"})

    assert preflight.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"


def test_openapi_shows_real_models(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    assert "/api/external/chatbots" in schema["paths"]
    create = schema["paths"]["/api/external/chatbots"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ChatbotCreate"
    )
    assert "ChatbotFull" in schema["components"]["schemas"]
    assert "ErrorBody" in schema["components"]["schemas"]


@pytest.mark.parametrize(
    ("page", "script"), [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")]
)
def test_api_docs_load_nothing_from_the_internet(
    client: TestClient, page: str, script: str
) -> None:
    html = client.get(page)

    assert html.status_code == 200
    assert "/openapi.json" in html.text
    # Every script, style sheet and icon is served by this server, so the page works offline.
    assert re.findall(r"https?://", html.text) == []
    urls = re.findall(r'(?:src|href)=["\']([^"\']+)["\']', html.text)
    assert f"/docs-assets/{script}" in urls
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert (
        client.get(f"/docs-assets/{script}")
        .headers["content-type"]
        .startswith(("application/javascript", "text/javascript"))
    )


@pytest.mark.slow  # starts a Python process
def test_a_dead_worker_leaves_the_summed_memory_gauges(tmp_path: Path) -> None:
    # A worker process that sets its gauge and ends, as a crashed uvicorn worker does.
    code = (
        "from prometheus_client import Gauge; Gauge('g', 'h', multiprocess_mode='livesum').set(5)"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    assert list(tmp_path.glob("gauge_livesum_*.db"))

    forget_dead_processes(tmp_path)

    assert list(tmp_path.glob("gauge_livesum_*.db")) == []
