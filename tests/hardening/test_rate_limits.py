"""Rate limits (per address, per key, failed keys per address) and per-organization quotas.

Rate limits are tested through the ASGI app, with the counters in memory and in a real Redis
server that the tests start themselves; quotas on SQLite and PostgreSQL, checking each time that
a refused request stored nothing.
"""

from __future__ import annotations

import hashlib
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.factories.chat import STORE_KNOWLEDGE, streamed
from tests.factories.knowledge import items_in_db, kb_path, post_files, stored_files

from chatforge.services.context import AppContext
from chatforge.storage.models import Chatbot, Job

CHATBOTS = "/api/external/chatbots"
WRONG = {"x-api-key": "0" * 48}

ConfiguredApi = Callable[..., TestClient]
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


# Low limits are per hour, not per minute: the sliding-window counter lets a second request in
# when two fall either side of a window's boundary, which a per-minute test would cross now
# and then.


def assert_rate_limited(response: Any, *, about: str) -> None:
    """A 429 in API.md's error body with a usable ``Retry-After``."""
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= 3600  # within the hour's window
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert about in error["message"]
    assert "Retry in" in error["message"]


# Rate limits


def test_wrong_keys_from_one_address_are_refused_then_even_a_right_key(
    configured_api: ConfiguredApi,
) -> None:
    api = configured_api()  # the defaults: 30 failed keys a minute per address

    answers = [api.get(CHATBOTS, headers=WRONG).status_code for _ in range(30)]
    guessed = api.get(CHATBOTS, headers=WRONG)
    right = api.get(CHATBOTS)  # the client's own, correct key

    assert answers == [401] * 30
    assert_rate_limited(guessed, about="wrong or missing API key")
    assert_rate_limited(right, about="wrong or missing API key")
    assert api.get("/healthz").status_code == 200  # probes are never limited


@sqlite_only
def test_missing_keys_count_as_failed_authentications(configured_api: ConfiguredApi) -> None:
    api = configured_api(limits={"failed_auth_per_ip": "3/hour"})
    bare = {"x-api-key": ""}

    answers = [api.get(CHATBOTS, headers=bare).status_code for _ in range(3)]

    assert answers == [401] * 3
    assert_rate_limited(api.get(CHATBOTS), about="wrong or missing API key")


@sqlite_only
def test_one_key_is_limited_and_another_key_is_not(
    configured_api: ConfiguredApi, make_key: Callable[[str], str]
) -> None:
    api = configured_api(limits={"per_key": "3/hour"})
    other = {"x-api-key": make_key("acme")}

    answers = [api.get(CHATBOTS).status_code for _ in range(3)]
    over = api.get(CHATBOTS)

    assert answers == [200] * 3
    assert_rate_limited(over, about="this API key")
    assert api.get(CHATBOTS, headers=other).status_code == 200
    # The Bearer form is the same key, counted once.
    bearer = {"x-api-key": "", "authorization": f"Bearer {api.headers['x-api-key']}"}
    assert_rate_limited(api.get(CHATBOTS, headers=bearer), about="this API key")


@sqlite_only
def test_one_address_is_limited_whatever_key_it_sends(
    configured_api: ConfiguredApi, make_key: Callable[[str], str]
) -> None:
    api = configured_api(limits={"per_ip": "3/hour"})
    other = {"x-api-key": make_key("acme")}

    answers = [api.get(CHATBOTS).status_code for _ in range(3)]

    assert answers == [200] * 3
    assert_rate_limited(api.get(CHATBOTS, headers=other), about="this address")
    assert_rate_limited(api.get("/openapi.json"), about="this address")
    for probe in ("/healthz", "/readyz", "/metrics"):
        assert api.get(probe).status_code != 429


@sqlite_only
def test_forwarded_address_is_used_only_when_trusted(configured_api: ConfiguredApi) -> None:
    trusting = configured_api(limits={"per_ip": "1/hour", "trust_forwarded_for": True})
    ignoring = configured_api(limits={"per_ip": "1/hour"})

    # Behind a trusted proxy each client is its own address: the last one the proxy added.
    first = trusting.get(CHATBOTS, headers={"x-forwarded-for": "10.0.0.9, 203.0.113.1"})
    second = trusting.get(CHATBOTS, headers={"x-forwarded-for": "10.0.0.9, 203.0.113.2"})
    again = trusting.get(CHATBOTS, headers={"x-forwarded-for": "203.0.113.1"})
    untrusted = [
        ignoring.get(CHATBOTS, headers={"x-forwarded-for": f"203.0.113.{n}"}) for n in (1, 2)
    ]

    assert (first.status_code, second.status_code) == (200, 200)
    assert_rate_limited(again, about="this address")
    assert untrusted[0].status_code == 200
    assert_rate_limited(untrusted[1], about="this address")


@sqlite_only
def test_disabled_limits_refuse_nothing(configured_api: ConfiguredApi) -> None:
    api = configured_api(
        limits={"enabled": False, "per_ip": "1/hour", "per_key": "1/hour",
                "failed_auth_per_ip": "1/hour"}
    )  # fmt: skip

    wrong = [api.get(CHATBOTS, headers=WRONG).status_code for _ in range(5)]
    right = [api.get(CHATBOTS).status_code for _ in range(5)]

    assert wrong == [401] * 5
    assert right == [200] * 5


@sqlite_only
def test_openai_routes_are_refused_in_openai_error_shape(configured_api: ConfiguredApi) -> None:
    api = configured_api(limits={"per_key": "1/hour"})

    assert api.get("/v1/models").status_code == 200
    over = api.get("/v1/models")

    assert over.status_code == 429
    assert 1 <= int(over.headers["retry-after"]) <= 3600
    error = over.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"], error["param"]) == (
        "rate_limit_error",
        "rate_limited",
        None,
    )
    assert "this API key" in error["message"]


@sqlite_only
def test_a_refusal_carries_cors_headers(configured_api: ConfiguredApi) -> None:
    api = configured_api(limits={"per_ip": "1/hour"})
    origin = {"origin": "https://shop.example"}

    api.get(CHATBOTS, headers=origin)
    over = api.get(CHATBOTS, headers=origin)

    assert over.status_code == 429
    assert over.headers["access-control-allow-origin"] == "*"


@sqlite_only
@pytest.mark.usefixtures("reuse_embedder")
def test_chat_streams_pass_through_the_limiter(configured_api: ConfiguredApi) -> None:
    api = configured_api(limits={"per_key": "100/minute"})
    bot = api.post(CHATBOTS, json={"name": "Shop Bot"}).json()["chatbot"]
    added = api.post(kb_path(bot["id"]), params={"wait": "true"}, json=STORE_KNOWLEDGE)
    assert added.status_code == 200, added.text

    events = streamed(api, bot["id"], "When is the store open on Saturday?")

    names = [name for name, _ in events]
    assert names[:2] == ["session", "sources"] and names[-1] == "done"
    assert "9am to 6pm" in "".join(data["content"] for name, data in events if name == "delta")


@sqlite_only
def test_malformed_rate_is_refused_when_the_app_is_built(configured_api: ConfiguredApi) -> None:
    with pytest.raises(ValueError, match="CHATFORGE_LIMITS__PER_KEY"):
        configured_api(limits={"per_key": "often"})


# Redis


def _redis_keys(url: str) -> bytes:
    port = urlsplit(url).port
    assert port is not None
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        conn.sendall(b"KEYS *\r\n")
        return conn.recv(65536)


@sqlite_only
def test_two_apps_sharing_redis_share_the_counts(
    configured_api: ConfiguredApi, redis_url: str
) -> None:
    limits = {"storage_url": redis_url, "per_key": "4/hour"}
    first, second = configured_api(limits=limits), configured_api(limits=limits)
    second.headers["x-api-key"] = first.headers["x-api-key"]  # one key, two processes

    answers = [client.get(CHATBOTS).status_code for client in (first, second, first, second)]

    assert answers == [200] * 4
    assert_rate_limited(first.get(CHATBOTS), about="this API key")
    assert_rate_limited(second.get(CHATBOTS), about="this API key")
    # The store holds the key's SHA-256, never the key.
    key = first.headers["x-api-key"]
    stored = _redis_keys(redis_url)
    assert hashlib.sha256(key.encode()).hexdigest().encode() in stored
    assert key.encode() not in stored


@sqlite_only
def test_failed_keys_are_shared_through_redis(
    configured_api: ConfiguredApi, redis_url: str
) -> None:
    limits = {"storage_url": redis_url, "failed_auth_per_ip": "2/hour"}
    first, second = configured_api(limits=limits), configured_api(limits=limits)

    assert first.get(CHATBOTS, headers=WRONG).status_code == 401
    assert second.get(CHATBOTS, headers=WRONG).status_code == 401

    assert_rate_limited(first.get(CHATBOTS), about="wrong or missing API key")


@sqlite_only
def test_unreachable_redis_lets_requests_through_with_a_warning(
    configured_api: ConfiguredApi, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nowhere = f"redis://127.0.0.1:{port}/0"
    api = configured_api(limits={"storage_url": nowhere, "per_ip": "1/hour"})

    with caplog.at_level(logging.WARNING, logger="chatforge.api.ratelimit"):
        answers = [api.get(CHATBOTS).status_code for _ in range(3)]

    assert answers == [200] * 3
    assert any("requests are not limited" in r.getMessage() for r in caplog.records)


# Quotas


def assert_quota_refused(response: Any, *, status: int, setting: str) -> None:
    """A quota refusal: the status, ``quota_exceeded``, and the setting that raises it."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert setting in error["message"]
    assert error["details"]["setting"] == setting


def test_chatbot_quota_refuses_one_more_and_stores_nothing(
    configured_api: ConfiguredApi, ctx: AppContext
) -> None:
    api = configured_api(quotas={"chatbots_per_org": 2})
    for name in ("One", "Two"):
        assert api.post(CHATBOTS, json={"name": name}).status_code == 200

    over = api.post(CHATBOTS, json={"name": "Three"})

    assert_quota_refused(over, status=429, setting="CHATFORGE_QUOTAS__CHATBOTS_PER_ORG")
    assert "at most 2 chatbots" in over.json()["error"]["message"]
    with ctx.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Chatbot)) == 2


def test_item_quota_refuses_a_batch_that_goes_over_and_stores_none_of_it(
    configured_api: ConfiguredApi, ctx: AppContext
) -> None:
    api = configured_api(quotas={"items_per_org": 2}, ingestion={"worker": False})
    bot = api.post(CHATBOTS, json={"name": "Bot"}).json()["chatbot"]
    first = {"type": "text", "title": "A", "content": "Alpha."}
    assert api.post(kb_path(bot["id"]), json=first).status_code == 200

    batch = [
        {"type": "qna", "question": "B?", "answer": "Beta."},
        {"type": "text", "title": "C", "content": "Gamma."},
    ]
    over = api.post(kb_path(bot["id"]), json=batch)
    again = api.post(kb_path(bot["id"]), json=first)  # already there: adds nothing

    assert_quota_refused(over, status=429, setting="CHATFORGE_QUOTAS__ITEMS_PER_ORG")
    assert again.status_code == 200
    assert [item.title for item in items_in_db(ctx)] == ["A"]


def test_url_and_sitemap_sources_count_against_the_item_quota(
    configured_api: ConfiguredApi, ctx: AppContext
) -> None:
    # No worker runs: nothing is fetched, the items are only recorded.
    api = configured_api(quotas={"items_per_org": 1}, ingestion={"worker": False})
    bot = api.post(CHATBOTS, json={"name": "Bot"}).json()["chatbot"]
    page = {"type": "url", "url": "https://example.com/a"}
    assert api.post(kb_path(bot["id"]), json=page).status_code == 200

    sitemap = {"type": "sitemap", "url": "https://example.com/sitemap.xml"}
    over = api.post(kb_path(bot["id"]), json=sitemap)

    assert_quota_refused(over, status=429, setting="CHATFORGE_QUOTAS__ITEMS_PER_ORG")
    assert [item.source for item in items_in_db(ctx)] == ["https://example.com/a"]


def test_stored_bytes_quota_refuses_with_413_and_keeps_no_file(
    configured_api: ConfiguredApi, ctx: AppContext, tmp_path: Path
) -> None:
    api = configured_api(quotas={"stored_bytes_per_org": 100}, ingestion={"worker": False})
    bot = api.post(CHATBOTS, json={"name": "Bot"}).json()["chatbot"]
    small, large = tmp_path / "small.txt", tmp_path / "large.txt"
    small.write_text("x" * 60)
    large.write_text("y" * 50)
    assert post_files(api, bot["id"], small, wait=False).status_code == 200
    files_before = stored_files(ctx)

    over = post_files(api, bot["id"], large, wait=False)
    text_over = api.post(kb_path(bot["id"]), json={"type": "text", "content": "z" * 50})

    assert_quota_refused(over, status=413, setting="CHATFORGE_QUOTAS__STORED_BYTES_PER_ORG")
    assert_quota_refused(text_over, status=413, setting="CHATFORGE_QUOTAS__STORED_BYTES_PER_ORG")
    assert stored_files(ctx) == files_before
    assert [item.source for item in items_in_db(ctx)] == ["small.txt"]


def test_queued_jobs_quota_refuses_more_work_until_the_queue_drains(
    configured_api: ConfiguredApi, ctx: AppContext
) -> None:
    # No worker runs: the jobs stay queued.
    api = configured_api(quotas={"queued_jobs_per_org": 1}, ingestion={"worker": False})
    bot = api.post(CHATBOTS, json={"name": "Bot"}).json()["chatbot"]
    assert api.post(kb_path(bot["id"]), json={"type": "text", "content": "One."}).status_code == 200

    over = api.post(kb_path(bot["id"]), json={"type": "text", "content": "Two."})

    assert_quota_refused(over, status=429, setting="CHATFORGE_QUOTAS__QUEUED_JOBS_PER_ORG")
    assert len(items_in_db(ctx)) == 1
    with ctx.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 1


@sqlite_only
def test_zero_means_no_quota(configured_api: ConfiguredApi) -> None:
    api = configured_api(
        quotas={"chatbots_per_org": 0, "items_per_org": 0, "stored_bytes_per_org": 0,
                "queued_jobs_per_org": 0},
        ingestion={"worker": False},
    )  # fmt: skip

    bots = [api.post(CHATBOTS, json={"name": f"Bot {n}"}) for n in range(3)]
    added = api.post(
        kb_path(bots[0].json()["chatbot"]["id"]),
        json=[{"type": "text", "content": f"Text {n}."} for n in range(3)],
    )

    assert [b.status_code for b in bots] == [200] * 3
    assert added.status_code == 200
