"""The playground: ask a chatbot, see its answer with the sources it used."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from tests.console.helpers import Person
from tests.factories.chat import make_store_bot, parse_events

pytestmark = pytest.mark.usefixtures("reuse_embedder")

TOKEN = re.compile(r'name="token" value="([^"]+)"')


def test_an_owner_asks_and_sees_the_sources(owner: Person, api: TestClient) -> None:
    bot = make_store_bot(api)
    page = owner.client.get(f"/console/chatbots/{bot['id']}/playground")
    assert page.status_code == 200
    token = TOKEN.search(page.text)
    assert token
    turn = owner.client.post(
        f"/console/chatbots/{bot['id']}/playground",
        data={"content": "How many days do I have to return a product?", "token": token[1]},
        headers={"HX-Request": "true", "X-CSRF-Token": owner.csrf},
    )
    assert turn.status_code == 200, turn.text
    assert "30 days" in turn.text
    assert "[1] Returns" in turn.text and "cited in the answer" in turn.text
    assert re.search(r"similarity 0\.\d\d", turn.text)
    # A follow-up lands in the same conversation, which stays out of the inbox.
    owner.client.post(
        f"/console/chatbots/{bot['id']}/playground",
        data={"content": "When do you open?", "token": token[1]},
        headers={"HX-Request": "true", "X-CSRF-Token": owner.csrf},
    )
    sessions = api.get(f"/api/external/chatbot/{bot['id']}/conversations").json()["data"]
    assert len(sessions) == 1 and sessions[0]["platform"] == "playground"
    assert "0 conversations" in owner.client.get("/console/inbox").text


def test_the_playground_is_for_owners_of_the_chatbot(
    person: Callable[..., Person], api: TestClient
) -> None:
    bot = make_store_bot(api)
    agent = person("agent@acme.test", role="agent")
    stranger = person("eve@globex.test", org="globex")
    path = f"/console/chatbots/{bot['id']}/playground"
    assert agent.client.get(path).status_code == 403
    assert stranger.client.get(path).status_code == 404
    asked = stranger.client.post(
        path, data={"content": "Hi"}, headers={"HX-Request": "true", "X-CSRF-Token": stranger.csrf}
    )
    assert asked.status_code == 404
    assert api.get(f"/api/external/chatbot/{bot['id']}/conversations").json()["data"] == []


def test_the_answer_streams_and_ends_with_its_sources_and_why(
    owner: Person, api: TestClient
) -> None:
    bot = make_store_bot(api)
    page = owner.client.get(f"/console/chatbots/{bot['id']}/playground").text
    assert f'data-stream="/console/chatbots/{bot["id"]}/playground/stream"' in page
    token = TOKEN.search(page)
    assert token
    path = f"/console/chatbots/{bot['id']}/playground/stream"
    question = {"content": "How many days do I have to return a product?", "token": token[1]}
    streamed = owner.post(path, question)
    assert streamed.status_code == 200, streamed.text
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = parse_events(streamed.text)
    deltas = "".join(data["text"] for name, data in events if name == "delta")
    assert "30 days" in deltas
    name, done = events[-1]
    assert name == "done"
    assert "30 days" in done["html"] and "cited in the answer" in done["html"]
    assert re.search(r"similarity 0\.\d\d", done["html"])
    sessions = api.get(f"/api/external/chatbot/{bot['id']}/conversations").json()["data"]
    assert len(sessions) == 1 and sessions[0]["platform"] == "playground"
    refused = owner.client.post(path, data=question)  # without the CSRF token
    assert refused.status_code == 403


def test_an_answer_that_found_nothing_shows_what_was_searched_not_sources(
    owner: Person, api: TestClient
) -> None:
    bot = make_store_bot(api)
    page = owner.client.get(f"/console/chatbots/{bot['id']}/playground").text
    token = TOKEN.search(page)
    assert token
    question = {"content": "Can I pay with bitcoin at the store?", "token": token[1]}
    streamed = owner.post(f"/console/chatbots/{bot['id']}/playground/stream", question)
    name, done = parse_events(streamed.text)[-1]
    assert name == "done", done
    assert "couldn&#39;t find" in done["html"]
    assert not re.search(r"\d+ sources?\b", done["html"]) and "why this answer" not in done["html"]
    assert "cited in the answer" not in done["html"]
    # What retrieval looked at stays visible to the owner, labelled for what it is.
    assert "Not found in the knowledge · what was searched" in done["html"]
    whole = owner.client.post(
        f"/console/chatbots/{bot['id']}/playground",
        data=question,
        headers={"HX-Request": "true", "X-CSRF-Token": owner.csrf},
    )
    assert "couldn&#39;t find" in whole.text and not re.search(r"\d+ sources?\b", whole.text)
