"""Keys and tenant isolation: a key sees only its organization's chatbots (API.md §0)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from chatforge.services.accounts import keys
from chatforge.services.context import AppContext
from chatforge.storage.models import ApiKey

ENDPOINTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/api/external/chatbot/{id}", {}),
    ("PATCH", "/api/external/chatbot/{id}", {"json": {"name": "Stolen"}}),
    ("PATCH", "/api/external/chatbots", {"json": {"id": "{id}", "name": "Stolen"}}),
    ("DELETE", "/api/external/chatbot/{id}", {}),
    ("PATCH", "/api/external/chatbot/{id}/voice-agent", {"json": {"voice": "alloy"}}),
    ("PATCH", "/api/external/chatbot/{id}/chat-widget", {"json": {"name": "Stolen"}}),
]


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    return buffer.getvalue()


def test_missing_key_is_401(client: TestClient) -> None:
    response = client.get("/api/external/chatbots")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_unknown_key_is_401(client: TestClient) -> None:
    response = client.get("/api/external/chatbots", headers={"x-api-key": "0" * 48})

    assert response.status_code == 401


def test_authorization_without_bearer_says_how_to_send_the_key(
    client: TestClient, key: str
) -> None:
    response = client.get("/api/external/chatbots", headers={"Authorization": key})

    assert response.status_code == 401
    assert "'Bearer <key>'" in response.json()["error"]["message"]
    assert key not in response.text


def test_bearer_token_is_accepted(client: TestClient, key: str) -> None:
    response = client.get("/api/external/chatbots", headers={"Authorization": f"Bearer {key}"})

    assert response.status_code == 200


def test_keys_are_48_lowercase_hex_and_stored_only_hashed(ctx: AppContext) -> None:
    with ctx.db.sessions() as session:
        created = keys.create_key(session, "acme")
        stored = session.execute(select(ApiKey.key_hash, ApiKey.prefix)).all()

    assert len(created.key) == 48 and created.key == created.key.lower()
    int(created.key, 16)
    assert [tuple(row) for row in stored] == [(keys.hash_key(created.key), created.key[:8])]


def test_revoked_key_fails(client: TestClient, ctx: AppContext, key: str) -> None:
    assert client.get("/api/external/chatbots", headers={"x-api-key": key}).status_code == 200

    with ctx.db.sessions() as session:
        keys.revoke_key(session, key[:10])

    assert client.get("/api/external/chatbots", headers={"x-api-key": key}).status_code == 401


@pytest.mark.parametrize(("method", "path", "kwargs"), ENDPOINTS)
def test_other_organization_gets_404_and_changes_nothing(
    client: TestClient,
    make_key: Callable[[str], str],
    method: str,
    path: str,
    kwargs: dict[str, Any],
) -> None:
    owner = {"x-api-key": make_key("owner")}
    intruder = {"x-api-key": make_key("intruder")}
    chatbot = client.post("/api/external/chatbots", json={"name": "Private"}, headers=owner).json()
    chatbot_id = chatbot["chatbot"]["id"]
    if "json" in kwargs:
        kwargs = {"json": {k: v.replace("{id}", chatbot_id) for k, v in kwargs["json"].items()}}

    response = client.request(method, path.replace("{id}", chatbot_id), headers=intruder, **kwargs)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    after = client.get(f"/api/external/chatbot/{chatbot_id}", headers=owner).json()["chatbot"]
    assert after == chatbot["chatbot"]


def test_other_organization_cannot_change_avatar(
    client: TestClient, make_key: Callable[[str], str]
) -> None:
    owner = {"x-api-key": make_key("owner")}
    chatbot_id = client.post(
        "/api/external/chatbots", json={"name": "Private"}, headers=owner
    ).json()["chatbot"]["id"]

    response = client.patch(
        f"/api/external/chatbot/{chatbot_id}/update-avatar",
        files={"avatar": ("a.png", _png(), "image/png")},
        headers={"x-api-key": make_key("intruder")},
    )

    assert response.status_code == 404


def test_other_organization_never_sees_chatbots_listed(
    client: TestClient, make_key: Callable[[str], str]
) -> None:
    owner = {"x-api-key": make_key("owner")}
    intruder = {"x-api-key": make_key("intruder")}
    client.post("/api/external/chatbots", json={"name": "Private"}, headers=owner)

    assert client.get("/api/external/chatbots", headers=intruder).json() == {"chatbots": []}
    assert len(client.get("/api/external/chatbots", headers=owner).json()["chatbots"]) == 1
