"""Conversations (API.md §2 rows 15-17) and their extensions (§5): human handoff and feedback.

On SQLite and PostgreSQL. The chatbots here have no knowledge: the offline model answers quickly
that it found nothing, which is all a conversation needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.factories.chat import answer, conversations_path, messages_of

from chatforge.services.context import AppContext
from chatforge.storage.models import ChatMessage, ChatSession, MessageFeedback

pytestmark = pytest.mark.usefixtures("reuse_embedder")

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
SESSION_FIELDS = {
    "active", "chatbot_id", "created_at", "id", "is_human_mode", "last_message", "metadata",
    "migrated_data", "platform", "session_token", "sns_user_id", "state", "updated_at", "user_id",
    "voice_path",
}  # fmt: skip
MESSAGE_FIELDS = {
    "attachments", "content", "created_at", "id", "metadata", "migrated_data", "model", "provider",
    "sender_type", "session_id", "session_token", "tokens_used", "tool_calls", "tool_results",
}  # fmt: skip


@pytest.fixture
def bot(create_chatbot: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return create_chatbot(name="Talker")


def _session_of(api: TestClient, bot_id: str, token: str, *questions: str) -> str:
    session_id = ""
    for question in questions:
        session_id = answer(api, bot_id, question, token=token)["session_id"]
    return session_id


def test_a_conversation_has_okchat_session_fields_with_the_last_message_a_string(
    api: TestClient, bot: dict[str, Any]
) -> None:
    body = answer(api, bot["id"], "Hello there", token="visitor-1")

    response = api.get(f"{conversations_path(bot['id'])}/{body['session_id']}")

    assert response.status_code == 200
    session = response.json()["session"]
    assert set(session) == SESSION_FIELDS
    assert session["id"] == body["session_id"]
    assert session["chatbot_id"] == bot["id"]
    assert session["last_message"] == body["response"]
    assert session["sns_user_id"] == "visitor-1" and session["session_token"] is None
    assert session["platform"] == "web" and session["state"] == "in_progress"
    assert session["active"] is True and session["is_human_mode"] is False
    assert session["metadata"] == {"anonymous": True}
    assert session["migrated_data"] is False
    assert session["user_id"] is None and session["voice_path"] is None
    assert TIMESTAMP.match(session["created_at"]) and TIMESTAMP.match(session["updated_at"])


def test_the_list_is_most_recent_first_with_last_message_objects_and_pagination(
    api: TestClient, bot: dict[str, Any]
) -> None:
    first = _session_of(api, bot["id"], "a", "One")
    second = _session_of(api, bot["id"], "b", "Two")
    third = _session_of(api, bot["id"], "c", "Three")
    _session_of(api, bot["id"], "a", "One again")  # the first one is active again

    page1 = api.get(conversations_path(bot["id"]), params={"limit": 2}).json()
    page2 = api.get(conversations_path(bot["id"]), params={"limit": 2, "page": 2}).json()

    assert [s["id"] for s in page1["data"] + page2["data"]] == [first, third, second]
    assert page1["pagination"] == {"page": 1, "limit": 2, "total": 3}
    assert page2["pagination"] == {"page": 2, "limit": 2, "total": 3}
    listed = page1["data"][0]
    assert set(listed) == SESSION_FIELDS
    last = messages_of(api, bot["id"], first)[-1]
    assert listed["last_message"] == {
        "content": last["content"],
        "id": last["id"],
        "sender_type": "bot",
    }


def test_the_list_filters_by_platform_and_time(api: TestClient, bot: dict[str, Any]) -> None:
    web = _session_of(api, bot["id"], "w", "Hi")
    whatsapp = answer(api, bot["id"], "Hi", token="w", platform="whatsapp")["session_id"]
    late = _session_of(api, bot["id"], "x", "Hi")
    sessions = {s["id"]: s for s in api.get(conversations_path(bot["id"])).json()["data"]}

    def ids(**params: Any) -> list[str]:
        response = api.get(conversations_path(bot["id"]), params=params)
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()["data"]]

    assert ids(platform="whatsapp") == [whatsapp]
    assert ids(platform="web") == [late, web]
    assert ids(**{"from": sessions[whatsapp]["updated_at"]}) == [late, whatsapp]
    assert ids(to=sessions[whatsapp]["updated_at"]) == [whatsapp, web]
    window = {"from": sessions[whatsapp]["updated_at"], "to": sessions[whatsapp]["updated_at"]}
    assert ids(**window) == [whatsapp]
    assert api.get(conversations_path(bot["id"]), params={"from": "soon"}).status_code == 422
    # A bare date is the whole day: from and to the same day find that day's conversations.
    today = sessions[whatsapp]["updated_at"][:10]
    assert ids(**{"from": today, "to": today}) == ids()
    assert ids(**{"to": "2000-01-01"}) == []
    assert ids(**{"to": today.replace("-", "")}) == ids()  # the basic form is a day too
    assert ids(**{"from": "946684800"}) == ids()  # a Unix time (2000-01-01), as before


def test_messages_are_oldest_first_with_okchat_fields_and_pagination(
    api: TestClient, bot: dict[str, Any]
) -> None:
    session_id = _session_of(api, bot["id"], "v", "First question", "Second question")
    path = f"{conversations_path(bot['id'])}/{session_id}/messages"

    page1 = api.get(path, params={"limit": 3}).json()
    page2 = api.get(path, params={"limit": 3, "page": 2}).json()

    messages = page1["data"] + page2["data"]
    assert [m["sender_type"] for m in messages] == ["user", "bot", "user", "bot"]
    assert [m["content"] for m in messages[::2]] == ["First question", "Second question"]
    assert page1["pagination"] == {"page": 1, "limit": 3, "total": 4}
    assert all(set(m) == MESSAGE_FIELDS for m in messages)
    user, bot_message = messages[0], messages[1]
    assert (user["model"], user["provider"], user["tokens_used"]) == (None, None, 0)
    assert user["metadata"] == {}
    assert (bot_message["model"], bot_message["provider"]) == ("extractive", "extractive")
    assert bot_message["metadata"] == {"sources": [], "search_query": "First question"}
    assert [m["created_at"] for m in messages] == sorted(m["created_at"] for m in messages)
    assert api.get(path, params={"limit": 101}).status_code == 422


def test_a_human_agent_takes_over_replies_and_hands_back(
    api: TestClient, bot: dict[str, Any]
) -> None:
    session_id = _session_of(api, bot["id"], "v", "I need a person")
    base = f"{conversations_path(bot['id'])}/{session_id}"

    reply = api.post(f"{base}/messages", json={"content": "Hi, I'm Sam from support."})
    waiting = answer(api, bot["id"], "Thanks Sam!", token="v")
    handed_back = api.patch(base, json={"is_human_mode": False})
    bot_again = answer(api, bot["id"], "Bye", token="v")

    assert reply.status_code == 200, reply.text
    assert reply.json()["message"] == "Message sent successfully"
    human = reply.json()["data"]
    assert set(human) == MESSAGE_FIELDS and human["sender_type"] == "human"
    assert waiting["response"] is None
    assert handed_back.json()["session"]["is_human_mode"] is False
    assert bot_again["response"] is not None
    stored = [m["sender_type"] for m in messages_of(api, bot["id"], session_id)]
    assert stored == ["user", "bot", "human", "user", "user", "bot"]


def test_patch_closes_reopens_and_records_an_email(api: TestClient, bot: dict[str, Any]) -> None:
    session_id = _session_of(api, bot["id"], "v", "Hello")
    base = f"{conversations_path(bot['id'])}/{session_id}"

    closed = api.patch(base, json={"state": "closed", "email": "Lead@Example.com"})
    wrong_state = api.patch(base, json={"state": "archived"})
    wrong_email = api.patch(base, json={"email": "not an email"})
    before = api.get(base).json()["session"]["updated_at"]
    nothing = api.patch(base, json={})
    assert nothing.status_code == 422 and api.get(base).json()["session"]["updated_at"] == before
    answer(api, bot["id"], "One more thing", token="v")

    assert closed.status_code == 200, closed.text
    assert closed.json()["message"] == "Conversation updated successfully"
    assert closed.json()["session"]["state"] == "closed"
    assert closed.json()["session"]["metadata"]["email"] == "lead@example.com"
    assert wrong_state.status_code == 422 and wrong_email.status_code == 422
    reopened = api.get(base).json()["session"]
    assert reopened["state"] == "in_progress"


def test_feedback_rates_a_bot_message_and_shows_on_it(
    api: TestClient, bot: dict[str, Any], ctx: AppContext
) -> None:
    session_id = _session_of(api, bot["id"], "v", "Hello")
    user, bot_message = messages_of(api, bot["id"], session_id)
    base = f"{conversations_path(bot['id'])}/{session_id}/messages"

    down = api.post(f"{base}/{bot_message['id']}/feedback", json={"rating": "down"})
    up = api.post(
        f"{base}/{bot_message['id']}/feedback", json={"rating": "up", "comment": "Helpful"}
    )
    on_user = api.post(f"{base}/{user['id']}/feedback", json={"rating": "up"})
    invalid = api.post(f"{base}/{bot_message['id']}/feedback", json={"rating": "meh"})

    assert down.status_code == 200, down.text
    assert up.json()["message"] == "Feedback saved successfully"
    feedback = up.json()["feedback"]
    assert (feedback["rating"], feedback["comment"]) == ("up", "Helpful")
    assert feedback["message_id"] == bot_message["id"]
    assert on_user.status_code == 400 and invalid.status_code == 422
    rated = messages_of(api, bot["id"], session_id)[1]
    assert rated["metadata"]["feedback"] == {"rating": "up", "comment": "Helpful"}
    with ctx.db.sessions() as db:
        assert db.scalar(select(func.count()).select_from(MessageFeedback)) == 1


def test_every_conversation_endpoint_is_404_for_another_organization(
    api: TestClient, bot: dict[str, Any], make_key: Callable[[str], str]
) -> None:
    session_id = _session_of(api, bot["id"], "v", "Hello")
    message_id = messages_of(api, bot["id"], session_id)[1]["id"]
    base = f"{conversations_path(bot['id'])}/{session_id}"
    other = {"x-api-key": make_key("other")}
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", conversations_path(bot["id"]), None),
        ("GET", base, None),
        ("GET", f"{base}/messages", None),
        ("PATCH", base, {"is_human_mode": True}),
        ("POST", f"{base}/messages", {"content": "I am not from here"}),
        ("POST", f"{base}/messages/{message_id}/feedback", {"rating": "down"}),
    ]

    for method, path, body in calls:
        response = api.request(method, path, json=body, headers=other)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "not_found"

    unchanged = api.get(base).json()["session"]
    assert unchanged["is_human_mode"] is False
    assert len(messages_of(api, bot["id"], session_id)) == 2


def test_a_session_is_reached_only_through_its_own_chatbot(
    api: TestClient, bot: dict[str, Any], create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    session_id = _session_of(api, bot["id"], "v", "Hello")
    sibling = create_chatbot(name="Sibling")

    response = api.get(f"{conversations_path(sibling['id'])}/{session_id}")
    unknown = api.get(f"{conversations_path(bot['id'])}/00000000-0000-4000-8000-000000000000")

    assert response.status_code == 404 and unknown.status_code == 404


def test_deleting_a_chatbot_deletes_its_conversations(
    api: TestClient, bot: dict[str, Any], ctx: AppContext
) -> None:
    session_id = _session_of(api, bot["id"], "v", "Hello")
    message_id = messages_of(api, bot["id"], session_id)[1]["id"]
    rated = api.post(
        f"{conversations_path(bot['id'])}/{session_id}/messages/{message_id}/feedback",
        json={"rating": "up"},
    )
    assert rated.status_code == 200

    assert api.delete(f"/api/external/chatbot/{bot['id']}").status_code == 200

    with ctx.db.sessions() as db:
        for table in (ChatSession, ChatMessage, MessageFeedback):
            assert db.scalar(select(func.count()).select_from(table)) == 0
