"""Chatbots in the console: list, create, edit, delete, and other organizations' are 404."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from tests.console.helpers import Person

ROW = re.compile(r'<a class="strong" href="/console/chatbots/[^/]+/knowledge">([^<]+)</a>')


def test_owner_creates_edits_and_deletes_a_chatbot(owner: Person, api: TestClient) -> None:
    form = owner.client.get("/console/chatbots/new")
    assert form.status_code == 200 and 'value="extractive"' in form.text
    created = owner.post(
        "/console/chatbots",
        {"name": "Billing helper", "greeting": "Hi! Ask me about invoices.", "model": "extractive"},
    )
    assert created.status_code == 303
    chatbot_id = created.headers["location"].split("/")[3]

    saved = owner.post(
        f"/console/chatbots/{chatbot_id}",
        {
            "name": "Billing desk",
            "description": "Answers invoice questions",
            "prompt": "Answer only about billing.",
            "greeting": "Hello, billing here.",
            "style": "Concise",
            "tone": "Warm",
            "suggestions": "Where is my invoice?\n\nHow do I pay?\n",
            "model": "extractive",
            "email_capture": "true",
            "is_public": "true",
        },
    )
    assert saved.status_code == 303
    assert "Saved." in owner.client.get(saved.headers["location"]).text
    # What the console saved is what the API reads.
    bot = api.get(f"/api/external/chatbot/{chatbot_id}").json()["chatbot"]
    assert bot["name"] == "Billing desk" and bot["description"] == "Answers invoice questions"
    assert bot["settings"]["prompt"] == "Answer only about billing."
    assert bot["settings"]["greeting"] == "Hello, billing here."
    assert bot["settings"]["isRequestUserInfoEnabled"] is True
    assert bot["suggestions"] == ["Where is my invoice?", "How do I pay?"]
    assert bot["personality_config"] == {"style": "Concise", "tone": "Warm"}
    assert bot["is_public"] is True

    # Unchecked boxes turn the flags off again.
    owner.post(f"/console/chatbots/{chatbot_id}", {"name": "Billing desk", "model": "extractive"})
    bot = api.get(f"/api/external/chatbot/{chatbot_id}").json()["chatbot"]
    assert bot["is_public"] is False and bot["settings"]["isRequestUserInfoEnabled"] is False

    confirm = owner.client.get(f"/console/chatbots/{chatbot_id}/delete")
    assert "cannot be undone" in confirm.text
    deleted = owner.post(f"/console/chatbots/{chatbot_id}/delete")
    assert deleted.status_code == 303 and deleted.headers["location"] == "/console/chatbots"
    assert api.get(f"/api/external/chatbot/{chatbot_id}").status_code == 404


def test_a_chatbot_needs_a_name_and_a_known_model(owner: Person, api: TestClient) -> None:
    nameless = owner.post("/console/chatbots", {"name": "  ", "model": "extractive"})
    assert nameless.status_code == 422 and "Give the chatbot a name" in nameless.text
    unknown = owner.post("/console/chatbots", {"name": "Bot", "model": "nosuch:model-x"})
    assert unknown.status_code == 422 and "Unknown model" in unknown.text
    assert 'value="Bot"' in unknown.text  # what was typed is kept
    assert api.get("/api/external/chatbots").json()["chatbots"] == []


def test_models_offered_are_those_the_server_can_use(owner: Person) -> None:
    page = owner.client.get("/console/chatbots/new").text
    options = re.findall(r'<option value="([^"]+)"', page)
    assert "extractive" in options
    # No OpenAI or Anthropic key on this server: their models are not offered.
    assert "gpt-4o-mini" not in options and "claude-sonnet-4-6" not in options


def test_the_list_is_paginated(
    owner: Person, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    for n in range(23):
        create_chatbot(name=f"Bot {n:02d}")
    first = owner.client.get("/console/chatbots")
    second = owner.client.get("/console/chatbots?page=2")
    assert "23 chatbots" in first.text
    assert len(ROW.findall(first.text)) == 20 and "Page 1 of 2" in first.text
    assert ROW.findall(second.text) == ["Bot 02", "Bot 01", "Bot 00"]  # newest first


def test_another_organizations_chatbot_is_not_found(
    person: Callable[..., Person], create_chatbot: Callable[..., dict[str, Any]], api: TestClient
) -> None:
    bot = create_chatbot(name="Acme secret")
    stranger = person("eve@globex.test", org="globex")
    for path in (f"/console/chatbots/{bot['id']}", f"/console/chatbots/{bot['id']}/knowledge",
                 f"/console/chatbots/{bot['id']}/delete"):  # fmt: skip
        answer = stranger.client.get(path)
        assert answer.status_code == 404, path
        assert "Acme secret" not in answer.text
    assert stranger.post(f"/console/chatbots/{bot['id']}/delete").status_code == 404
    assert stranger.post(f"/console/chatbots/{bot['id']}", {"name": "Mine"}).status_code == 404
    assert "Acme secret" not in stranger.client.get("/console/chatbots").text
    kept = api.get(f"/api/external/chatbot/{bot['id']}").json()["chatbot"]
    assert kept["name"] == "Acme secret"
