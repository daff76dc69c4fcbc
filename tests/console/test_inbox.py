"""The inbox: a visitor's conversation, taken over and answered by a person, handed back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from tests.console.helpers import Person
from tests.factories.chat import answer, conversations_path, make_store_bot, messages_of


def _visitor_conversation(api: TestClient, chatbot_id: str, token: str = "visitor-1") -> str:
    body = answer(api, chatbot_id, "Hello, is anyone there?", token=token)
    session_id: str = body["session_id"]
    return session_id


def test_an_agent_takes_over_replies_and_hands_back(
    person: Callable[..., Person], create_chatbot: Callable[..., dict[str, Any]], api: TestClient
) -> None:
    bot = create_chatbot(name="Front desk")
    session_id = _visitor_conversation(api, bot["id"])
    agent = person("agent@acme.test", role="agent")

    inbox = agent.client.get("/console/inbox")
    assert "Front desk" in inbox.text and f"/console/inbox/{bot['id']}/{session_id}" in inbox.text
    page = agent.client.get(f"/console/inbox/{bot['id']}/{session_id}")
    assert "Hello, is anyone there?" in page.text and "Take over" in page.text

    taken = agent.post(f"/console/inbox/{bot['id']}/{session_id}/takeover")
    assert taken.status_code == 303
    conversation = api.get(f"{conversations_path(bot['id'])}/{session_id}").json()
    assert conversation["session"]["is_human_mode"] is True, conversation

    reply = agent.client.post(
        f"/console/inbox/{bot['id']}/{session_id}/reply",
        data={"content": "Hi, this is Ann from support."},
        headers={"HX-Request": "true", "X-CSRF-Token": agent.csrf},
    )
    assert reply.status_code == 200 and "Hi, this is Ann from support." in reply.text
    # The reply is in the conversation as the API (and the widget) read it.
    messages = messages_of(api, bot["id"], session_id)
    assert messages[-1]["content"] == "Hi, this is Ann from support."
    assert messages[-1]["sender_type"] == "human"
    filtered = agent.client.get("/console/inbox?human=true")
    assert session_id in filtered.text

    back = agent.post(f"/console/inbox/{bot['id']}/{session_id}/handback")
    assert back.status_code == 303
    assert "Take over" in agent.client.get(f"/console/inbox/{bot['id']}/{session_id}").text
    assert session_id not in agent.client.get("/console/inbox?human=true").text


def test_inbox_filters_leads_and_rated_down(
    owner: Person, create_chatbot: Callable[..., dict[str, Any]], api: TestClient
) -> None:
    bot = create_chatbot()
    plain = _visitor_conversation(api, bot["id"], "visitor-a")
    lead = _visitor_conversation(api, bot["id"], "visitor-b")
    down = _visitor_conversation(api, bot["id"], "visitor-c")
    base = conversations_path(bot["id"])
    assert api.patch(f"{base}/{lead}", json={"email": "lead@example.com"}).status_code == 200
    bot_message = next(m for m in messages_of(api, bot["id"], down) if m["sender_type"] == "bot")
    rated = api.post(
        f"{base}/{down}/messages/{bot_message['id']}/feedback", json={"rating": "down"}
    )
    assert rated.status_code == 200, rated.text

    everything = owner.client.get("/console/inbox").text
    assert all(s in everything for s in (plain, lead, down))
    leads = owner.client.get("/console/inbox?lead=true").text
    assert lead in leads and plain not in leads and "lead@example.com" in leads
    downs = owner.client.get("/console/inbox?down=true").text
    assert down in downs and plain not in downs and "Rated down" in downs
    # A visitor's message that nobody answered yet (the conversation is in human mode).
    assert api.patch(f"{base}/{plain}", json={"is_human_mode": True}).status_code == 200
    answer(api, bot["id"], "Hello? Anyone?", token="visitor-a")
    waiting = owner.client.get("/console/inbox?waiting=true").text
    assert plain in waiting and lead not in waiting and down not in waiting


def test_another_organizations_conversation_is_not_found(
    person: Callable[..., Person], create_chatbot: Callable[..., dict[str, Any]], api: TestClient
) -> None:
    bot = create_chatbot()
    session_id = _visitor_conversation(api, bot["id"])
    stranger = person("eve@globex.test", org="globex", role="agent")
    assert session_id not in stranger.client.get("/console/inbox").text
    path = f"/console/inbox/{bot['id']}/{session_id}"
    assert stranger.client.get(path).status_code == 404
    assert stranger.client.get(f"{path}/messages").status_code == 404
    assert stranger.post(f"{path}/takeover").status_code == 404
    assert stranger.post(f"{path}/reply", {"content": "gotcha"}).status_code == 404
    assert all(m["content"] != "gotcha" for m in messages_of(api, bot["id"], session_id))


def test_inbox_filters_by_platform_and_date(
    owner: Person, create_chatbot: Callable[..., dict[str, Any]], api: TestClient
) -> None:
    bot = create_chatbot()
    web = _visitor_conversation(api, bot["id"], "visitor-web")
    whatsapp = answer(api, bot["id"], "Hola", token="visitor-wa", platform="whatsapp")["session_id"]
    page = owner.client.get("/console/inbox").text
    assert '<option value="whatsapp"' in page and '<option value="web"' in page
    only = owner.client.get("/console/inbox?platform=whatsapp").text
    assert whatsapp in only and web not in only and "1 conversation<" in only
    today = datetime.now(UTC).date()
    tomorrow, yesterday = today + timedelta(days=1), today - timedelta(days=1)
    current = owner.client.get(f"/console/inbox?since={today}&until={today}").text
    assert web in current and whatsapp in current
    later = owner.client.get(f"/console/inbox?since={tomorrow}").text
    assert web not in later and "0 conversations" in later
    earlier = owner.client.get(f"/console/inbox?until={yesterday}").text
    assert web not in earlier and whatsapp not in earlier
    ignored = owner.client.get("/console/inbox?since=not-a-day").text  # a bad day filters nothing
    assert web in ignored and whatsapp in ignored


def test_a_conversation_shows_the_sources_each_answer_cites(
    person: Callable[..., Person], api: TestClient
) -> None:
    bot = make_store_bot(api, name="Shop")
    body = answer(api, bot["id"], "How long do refunds take?", token="visitor-9")
    cited = [s for s in body["sources"] if f"[{s['ref']}]" in body["response"]]
    assert cited and len(body["sources"]) > len(cited)  # more was searched than cited
    agent = person("agent@acme.test", role="agent")

    page = agent.client.get(f"/console/inbox/{bot['id']}/{body['session_id']}").text

    shown = page.split('aria-label="Sources cited"')[1].split("</ol>")[0]
    assert all(f"[{s['ref']}]</span> {s['title']}" in shown for s in cited)
    uncited = [s for s in body["sources"] if s not in cited]
    assert not any(f"[{s['ref']}]" in shown for s in uncited)


def test_a_visitor_is_named_by_the_id_the_callers_system_knows_them_by(
    person: Callable[..., Person], create_chatbot: Callable[..., dict[str, Any]], api: TestClient
) -> None:
    bot = create_chatbot(name="Front desk")
    known = _visitor_conversation(api, bot["id"], token="cust-42")
    anonymous = _visitor_conversation(api, bot["id"], token="visitor-1f2e3d")
    agent = person("agent@acme.test", role="agent")

    inbox = agent.client.get("/console/inbox").text
    page = agent.client.get(f"/console/inbox/{bot['id']}/{known}").text

    assert "cust-42" in inbox and "<h1>cust-42</h1>" in page
    assert f"Visitor {anonymous[:8]}" in inbox and "visitor-1f2e3d" not in inbox
