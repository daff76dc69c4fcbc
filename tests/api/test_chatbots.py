"""The chatbot endpoints (API.md §1, §2 rows 1-5) on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")

# okchat's create-chatbot example body.
OKCHAT_CREATE = {
    "name": "API Docs Demo Chatbot",
    "description": "A helpful support assistant",
    "is_public": True,
    "personality_config": {"style": "Friendly", "tone": "Professional"},
    "settings": {
        "greeting": "Hello! How can I assist you today?",
        "isRequestUserInfoEnabled": False,
        "isToolEnabled": True,
        "model": "gpt-4o-mini",
        "prompt": "You are a helpful assistant for our API docs.",
        "snippet": {
            "header": "Docs help",
            "logo": "https://example.com/logo.png",
            "name": "Docs bot",
            "primaryColor": "#4F46E5",
            "secondaryColor": "#10B981",
            "slogan": "Ask me anything",
        },
    },
}

FULL_FIELDS = {
    "active", "created_at", "description", "docs_metadata", "enabled_plugins", "id", "is_public",
    "managers", "migrated_data", "name", "openai_api_key", "organization_id", "personality_config",
    "settings", "slug", "suggestions", "updated_at", "v1_chatbot_id", "version_id",
    "voice_widget_config",
}  # fmt: skip
LITE_LEFT_OUT = {"docs_metadata", "managers", "migrated_data", "openai_api_key", "v1_chatbot_id"}


def test_create_chatbot_round_trips_okchat_example(api: TestClient) -> None:
    response = api.post("/api/external/chatbots", json=OKCHAT_CREATE)

    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Chatbot created successfully"
    chatbot = body["chatbot"]
    assert set(chatbot) == FULL_FIELDS
    assert uuid.UUID(chatbot["id"]).version == 4
    assert uuid.UUID(chatbot["organization_id"]).version == 4
    assert TIMESTAMP.match(chatbot["created_at"]) and TIMESTAMP.match(chatbot["updated_at"])
    assert chatbot["name"] == "API Docs Demo Chatbot"
    assert chatbot["slug"] == "api-docs-demo-chatbot"
    assert chatbot["is_public"] is True and chatbot["active"] is True
    assert chatbot["personality_config"] == OKCHAT_CREATE["personality_config"]
    assert chatbot["settings"] == OKCHAT_CREATE["settings"]
    assert chatbot["openai_api_key"] is None
    assert chatbot["migrated_data"] is False

    fetched = api.get(f"/api/external/chatbot/{chatbot['id']}").json()["chatbot"]
    assert fetched == chatbot


def test_create_with_only_a_name_gets_okchat_defaults(api: TestClient) -> None:
    chatbot = api.post("/api/external/chatbots", json={"name": "Helper"}).json()["chatbot"]

    # No provider key is set: the server's default model is the offline one.
    assert chatbot["settings"]["model"] == "extractive"
    assert chatbot["settings"]["greeting"] == "Hello! How can I assist you today?"
    assert chatbot["settings"]["isToolEnabled"] is True
    assert chatbot["settings"]["snippet"]["primaryColor"] == "#4F46E5"
    assert chatbot["personality_config"] == {"style": "Friendly", "tone": "Professional"}
    assert chatbot["slug"] == "helper"


def test_list_is_newest_first_and_leaves_out_private_fields(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    first = create_chatbot(name="First")
    second = create_chatbot(name="Second")

    response = api.get("/api/external/chatbots")

    assert response.status_code == 200
    listed = response.json()["chatbots"]
    assert [c["id"] for c in listed] == [second["id"], first["id"]]
    assert set(listed[0]) == FULL_FIELDS - LITE_LEFT_OUT


def test_slug_is_made_unique_when_absent_and_conflicts_when_given(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    assert create_chatbot(name="Sales Bot")["slug"] == "sales-bot"
    assert create_chatbot(name="Sales Bot")["slug"] == "sales-bot-2"

    taken = api.post("/api/external/chatbots", json={"name": "Other", "slug": "sales-bot"})

    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "conflict"


def test_same_slug_is_allowed_in_two_organizations(
    client: TestClient, make_key: Callable[[str], str]
) -> None:
    for org in ("a", "b"):
        response = client.post(
            "/api/external/chatbots",
            json={"name": "Bot", "slug": "bot"},
            headers={"x-api-key": make_key(org)},
        )
        assert response.status_code == 200, response.text


def test_name_is_required_and_bounded(api: TestClient) -> None:
    missing = api.post("/api/external/chatbots", json={"description": "no name"})
    too_long = api.post("/api/external/chatbots", json={"name": "x" * 101})

    assert missing.status_code == 422
    assert missing.json()["error"]["details"][0]["field"] == "name"
    assert too_long.status_code == 422


def test_wrong_types_are_422_with_the_field(api: TestClient) -> None:
    response = api.post(
        "/api/external/chatbots",
        json={"name": "Bot", "is_public": "yes", "settings": {"snippet": {"primaryColor": "blue"}}},
    )

    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["error"]["details"]}
    assert fields == {"is_public", "settings.snippet.primaryColor"}


def test_patch_deep_merges_and_null_removes(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    chatbot = create_chatbot(**OKCHAT_CREATE)

    response = api.patch(
        f"/api/external/chatbot/{chatbot['id']}",
        json={
            "description": "Now for billing",
            "settings": {"snippet": {"primaryColor": "#000000", "logo": None}, "greeting": "Hi!"},
            "personality_config": {"tone": "Casual"},
        },
    )

    assert response.status_code == 200
    assert response.json()["message"] == "Chatbot updated successfully"
    updated = response.json()["chatbot"]
    assert updated["description"] == "Now for billing"
    assert updated["settings"]["greeting"] == "Hi!"
    assert updated["settings"]["prompt"] == OKCHAT_CREATE["settings"]["prompt"]
    snippet = updated["settings"]["snippet"]
    assert snippet["primaryColor"] == "#000000"
    assert "logo" not in snippet
    assert snippet["slogan"] == "Ask me anything"
    assert updated["personality_config"] == {"style": "Friendly", "tone": "Casual"}
    assert updated["updated_at"] > chatbot["updated_at"]
    assert api.get(f"/api/external/chatbot/{chatbot['id']}").json()["chatbot"] == updated


def test_patch_collection_takes_target_from_body_or_query(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    chatbot = create_chatbot()

    by_id = api.patch("/api/external/chatbots", json={"id": chatbot["id"], "name": "A"})
    by_camel = api.patch("/api/external/chatbots", json={"chatbotId": chatbot["id"], "name": "B"})
    by_query = api.patch(f"/api/external/chatbots?chatbotId={chatbot['id']}", json={"name": "C"})
    no_target = api.patch("/api/external/chatbots", json={"name": "D"})

    assert [r.json()["chatbot"]["name"] for r in (by_id, by_camel, by_query)] == ["A", "B", "C"]
    assert no_target.status_code == 400
    assert no_target.json()["error"]["code"] == "bad_request"


def test_patch_cannot_empty_the_name(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    chatbot = create_chatbot()

    response = api.patch(f"/api/external/chatbot/{chatbot['id']}", json={"name": None})

    assert response.status_code == 422


def test_openai_key_is_stored_encrypted_and_only_masked(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]], settings: Any
) -> None:
    secret = "sk-proj-abcdefghijklmnopqrstuvwxyz123456"
    chatbot = create_chatbot(openai_api_key=secret)

    assert chatbot["openai_api_key"] == "sk-...3456"
    assert secret not in api.get(f"/api/external/chatbot/{chatbot['id']}").text
    assert secret not in api.get("/api/external/chatbots").text
    key_file = settings.data_dir / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    if settings.database_url.startswith("sqlite"):
        raw = (settings.data_dir.parent / "chatforge.db").read_bytes()
        raw += (settings.data_dir.parent / "chatforge.db-wal").read_bytes()
        assert secret.encode() not in raw

    cleared = api.patch(f"/api/external/chatbot/{chatbot['id']}", json={"openai_api_key": None})
    assert cleared.json()["chatbot"]["openai_api_key"] is None


def test_delete_removes_the_chatbot(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    chatbot = create_chatbot()

    response = api.delete(f"/api/external/chatbot/{chatbot['id']}")

    assert response.status_code == 200
    assert response.json() == {"message": "Chatbot deleted successfully"}
    assert api.get(f"/api/external/chatbot/{chatbot['id']}").status_code == 404
    assert api.get("/api/external/chatbots").json() == {"chatbots": []}
    assert api.delete(f"/api/external/chatbot/{chatbot['id']}").status_code == 404


def test_unknown_chatbot_is_404_with_error_body(api: TestClient) -> None:
    for path in (f"/api/external/chatbot/{uuid.uuid4()}", "/api/external/chatbot/not-a-uuid"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_the_default_model_follows_the_server_settings(
    configured_api: Callable[..., TestClient],
) -> None:
    with_key = configured_api(models={"openai_api_key": SecretStr("sk-test-key")})
    chosen = configured_api(models={"default": "anthropic:claude-haiku-4-5"})

    made = [
        c.post("/api/external/chatbots", json={"name": "Bot"}).json()["chatbot"]
        for c in (with_key, chosen)
    ]

    assert [m["settings"]["model"] for m in made] == ["gpt-4o-mini", "anthropic:claude-haiku-4-5"]


@pytest.mark.parametrize("model", ["gpt-4o-mini", "openai:gpt-4.1-mini", "extractive", "groq:x"])
def test_known_models_are_accepted_even_without_their_key(api: TestClient, model: str) -> None:
    body = {"name": "Bot", "settings": {"model": model}}
    response = api.post("/api/external/chatbots", json=body)

    assert response.status_code == 200, response.text
    assert response.json()["chatbot"]["settings"]["model"] == model


def test_an_unknown_model_is_422_on_settings_model_at_create_and_update(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    created = api.post(
        "/api/external/chatbots", json={"name": "Bot", "settings": {"model": "gpt-9-ultra"}}
    )
    chatbot = create_chatbot()
    updated = api.patch(
        f"/api/external/chatbot/{chatbot['id']}", json={"settings": {"model": "nope:x"}}
    )

    for response in (created, updated):
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert [d["field"] for d in error["details"]] == ["settings.model"]
        assert "extractive" in error["message"]
    unchanged = api.get(f"/api/external/chatbot/{chatbot['id']}").json()["chatbot"]
    assert unchanged["settings"]["model"] == "extractive"


def test_an_unknown_server_default_model_is_a_500_naming_the_setting(
    configured_api: Callable[..., TestClient],
) -> None:
    client = configured_api(models={"default": "nope:model"})

    response = client.post("/api/external/chatbots", json={"name": "Bot"})

    assert response.status_code == 500
    assert "CHATFORGE_MODELS__DEFAULT" in response.json()["error"]["message"]
