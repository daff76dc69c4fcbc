"""API keys in the console: made (shown once), listed by prefix, revoked."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from tests.console.helpers import Person

NEW_KEY = re.compile(r'<code id="new-key">([0-9a-f]{48})</code>')


def test_a_key_is_shown_once_works_and_can_be_revoked(owner: Person, client: TestClient) -> None:
    made = owner.post("/console/keys")
    assert made.status_code == 200
    match = NEW_KEY.search(made.text)
    assert match, made.text
    key = match.group(1)
    headers = {"x-api-key": key}
    assert client.get("/api/external/chatbots", headers=headers).status_code == 200

    listing = owner.client.get("/console/keys").text
    assert key not in listing and f"{key[:8]}…" in listing  # only the prefix, from now on
    key_id = re.search(r"/console/keys/([^/]+)/revoke", listing)
    assert key_id
    revoked = owner.post(f"/console/keys/{key_id.group(1)}/revoke")
    assert revoked.status_code == 303
    assert "Revoked" in owner.client.get("/console/keys").text
    assert client.get("/api/external/chatbots", headers=headers).status_code == 401


def test_another_organizations_key_cannot_be_revoked(
    person: Callable[..., Person], owner: Person, client: TestClient
) -> None:
    key = NEW_KEY.search(owner.post("/console/keys").text)
    assert key
    key_id = re.search(r"/console/keys/([^/]+)/revoke", owner.client.get("/console/keys").text)
    assert key_id
    stranger = person("eve@globex.test", org="globex")
    assert key.group(1)[:8] not in stranger.client.get("/console/keys").text
    assert stranger.post(f"/console/keys/{key_id.group(1)}/revoke").status_code == 404
    assert client.get("/api/external/chatbots", headers={"x-api-key": key[1]}).status_code == 200
