"""Chat with the offline extractive model (API.md §4), on SQLite and PostgreSQL.

No provider key is configured: chatbots get the ``extractive`` model, which answers by quoting the
retrieved knowledge with ``[n]`` citations, and says so when the knowledge has no answer.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.factories.chat import (
    answer,
    ask,
    conversations_path,
    make_store_bot,
    messages_of,
    streamed,
)

from chatforge.providers.chat.extractive import MIN_SIMILARITY, is_not_found
from chatforge.services.chat.service import EMAIL_REQUEST

pytestmark = pytest.mark.usefixtures("reuse_embedder")

SOURCE_FIELDS = {"knowledge_id", "title", "source", "content", "similarity", "ref"}


def test_offline_answer_quotes_the_knowledge_and_cites_it(api: TestClient) -> None:
    bot = make_store_bot(api)

    body = answer(api, bot["id"], "How many days do I have to return a product?")

    assert set(body) == {"response", "session_id", "message", "sources"}
    assert uuid.UUID(body["session_id"]).version == 4
    assert "within 30 days of purchase" in body["response"]
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", body["response"])}
    by_ref = {s["ref"]: s for s in body["sources"]}
    assert cited and cited <= set(by_ref)
    assert all(by_ref[n]["title"] == "Returns" for n in cited)
    assert all(set(s) == SOURCE_FIELDS for s in body["sources"])
    assert [s["ref"] for s in body["sources"]] == list(range(1, len(body["sources"]) + 1))

    message = body["message"]
    assert message["content"] == body["response"]
    assert message["sender_type"] == "bot"
    assert (message["model"], message["provider"]) == ("extractive", "extractive")
    assert message["tokens_used"] > 0
    assert message["session_id"] == body["session_id"]
    assert message["metadata"]["sources"] == body["sources"]
    assert message["tool_calls"] is None and message["tool_results"] is None


def test_question_outside_the_knowledge_is_answered_not_found(api: TestClient) -> None:
    bot = make_store_bot(api)

    body = answer(api, bot["id"], "Who won the football world cup in 1998?")

    assert is_not_found(body["response"])
    # Passages too far from the question to be quoted are not shown as its sources either.
    assert body["sources"] == []


def test_sources_are_only_the_passages_the_model_could_quote(api: TestClient) -> None:
    bot = make_store_bot(api)
    query = api.post(
        f"/api/external/chatbot/{bot['id']}/query-knowledge",
        json={"query": "How many days do I have to return a product?"},
    ).json()["results"]

    body = answer(api, bot["id"], "How many days do I have to return a product?")

    assert any(r["similarity"] < MIN_SIMILARITY for r in query)  # the other two texts
    assert body["sources"] and all(s["similarity"] >= MIN_SIMILARITY for s in body["sources"])
    assert "Returns" in {s["title"] for s in body["sources"]}


def test_greetings_and_thanks_get_a_friendly_reply_not_a_search(api: TestClient) -> None:
    bot = make_store_bot(api, settings={"greeting": "Welcome to the shop! Ask me anything."})

    hello = answer(api, bot["id"], "Hello there!")
    thanks = answer(api, bot["id"], "Great, thanks a lot :)")
    leaving = answer(api, bot["id"], "Thanks, bye!")
    question = answer(api, bot["id"], "Hi, how many days do I have to return a product?")
    thanks_and_question = answer(
        api, bot["id"], "thanks, and how many days do I have to return it?"
    )

    assert hello["response"] == "Welcome to the shop! Ask me anything."
    assert hello["sources"] == [] and hello["message"]["metadata"] == {"kind": "small_talk"}
    assert thanks["response"].startswith("You're welcome!")
    assert leaving["response"].startswith("You're welcome! Goodbye")
    assert leaving["message"]["metadata"] == {"kind": "small_talk"}
    assert "within 30 days of purchase" in question["response"]  # a question is a question
    assert "within 30 days of purchase" in thanks_and_question["response"]


def test_stream_sends_session_then_sources_then_deltas_then_done(api: TestClient) -> None:
    bot = make_store_bot(api)

    events = streamed(api, bot["id"], "When is the store open on Saturday?")

    names = [name for name, _ in events]
    assert names[:2] == ["session", "sources"]
    assert names[-1] == "done"
    assert set(names[2:-1]) == {"delta"} and len(names) > 3
    session_id = events[0][1]["session_id"]
    sources = events[1][1]["sources"]
    assert any(s["title"] == "Opening hours" for s in sources)
    text = "".join(data["content"] for name, data in events if name == "delta")
    done = events[-1][1]
    assert done["message"]["content"] == text
    assert "9am to 6pm" in text
    assert done["message"]["session_id"] == session_id
    assert done["message"]["metadata"]["sources"] == sources
    assert set(done["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert done["usage"]["total_tokens"] == done["message"]["tokens_used"]


def test_stream_and_non_stream_give_the_same_answer(api: TestClient) -> None:
    bot = make_store_bot(api)
    question = "How much does standard shipping cost?"

    folded = answer(api, bot["id"], question)
    events = streamed(api, bot["id"], question)

    assert "".join(d["content"] for n, d in events if n == "delta") == folded["response"]


def test_a_session_token_keeps_one_session_and_no_token_makes_new_ones(api: TestClient) -> None:
    bot = make_store_bot(api)

    first = answer(api, bot["id"], "When is the store open?", token="visitor-1")
    second = answer(api, bot["id"], "Is it open on Sundays?", token="visitor-1")
    other_platform = answer(api, bot["id"], "Hello", token="visitor-1", platform="whatsapp")
    anonymous = [answer(api, bot["id"], "Hello")["session_id"] for _ in range(2)]

    assert first["session_id"] == second["session_id"]
    assert other_platform["session_id"] != first["session_id"]
    assert len(set(anonymous)) == 2 and first["session_id"] not in anonymous
    stored = messages_of(api, bot["id"], first["session_id"])
    assert [m["sender_type"] for m in stored] == ["user", "bot", "user", "bot"]
    assert stored[0]["content"] == "When is the store open?"
    session = api.get(f"{conversations_path(bot['id'])}/{first['session_id']}").json()["session"]
    assert session["sns_user_id"] == "visitor-1" and session["platform"] == "web"


def test_a_follow_up_question_is_answered_from_what_it_follows(api: TestClient) -> None:
    bot = make_store_bot(api)

    first = answer(api, bot["id"], "How much does standard shipping cost?", token="v")
    body = answer(api, bot["id"], "How long does it take?", token="v")
    fresh = answer(api, bot["id"], "How long does it take?")

    assert "4.99 euros" in first["response"]
    assert "3 to 5 business days" in body["response"]
    searched = body["message"]["metadata"]["search_query"]
    assert searched == "How much does standard shipping cost? How long does it take?"
    assert first["message"]["metadata"]["search_query"] == "How much does standard shipping cost?"
    assert is_not_found(fresh["response"])  # without the conversation, "it" is unknown


def test_human_mode_stores_the_message_and_gives_no_answer(api: TestClient) -> None:
    bot = make_store_bot(api)
    session_id = answer(api, bot["id"], "Hello", token="v")["session_id"]
    patched = api.patch(
        f"{conversations_path(bot['id'])}/{session_id}", json={"is_human_mode": True}
    )
    assert patched.status_code == 200, patched.text

    body = answer(api, bot["id"], "I want to talk to a person", token="v")
    events = streamed(api, bot["id"], "Anyone there?", token="v")

    assert body == {"response": None, "session_id": session_id, "message": None, "sources": []}
    assert [n for n, _ in events] == ["session", "sources", "done"]
    assert events[-1][1]["message"] is None
    stored = messages_of(api, bot["id"], session_id)
    assert [m["content"] for m in stored[-2:]] == ["I want to talk to a person", "Anyone there?"]
    assert [m["sender_type"] for m in stored[-2:]] == ["user", "user"]


def test_email_is_asked_first_then_stored_as_a_lead_and_the_question_answered(
    api: TestClient,
) -> None:
    bot = make_store_bot(api, settings={"isRequestUserInfoEnabled": True})

    asked = answer(api, bot["id"], "How many days do I have to return a product?", token="v")
    given = answer(api, bot["id"], "Sure, my email is Jo.Doe@Example.com", token="v")
    later = answer(api, bot["id"], "When is the store open?", token="v")

    assert asked["response"] == EMAIL_REQUEST
    assert asked["message"]["sender_type"] == "bot" and asked["sources"] == []
    assert "within 30 days" in given["response"]  # the question asked before the email
    assert "9am to 6pm" in later["response"]
    session = api.get(f"{conversations_path(bot['id'])}/{asked['session_id']}").json()["session"]
    assert session["metadata"] == {"anonymous": False, "email": "jo.doe@example.com"}


def test_the_question_before_several_email_requests_is_the_one_answered(api: TestClient) -> None:
    bot = make_store_bot(api, settings={"isRequestUserInfoEnabled": True})

    answer(api, bot["id"], "How many days do I have to return a product?", token="v")
    refused = answer(api, bot["id"], "I'd rather not say", token="v")
    again = answer(api, bot["id"], "my mail is jo at example dot com", token="v")
    given = answer(api, bot["id"], "jo@example.com", token="v")

    assert refused["response"] == again["response"] == EMAIL_REQUEST
    assert "within 30 days" in given["response"]


def test_an_email_and_a_question_in_one_message_get_an_answer(api: TestClient) -> None:
    bot = make_store_bot(api, settings={"isRequestUserInfoEnabled": True})

    body = answer(api, bot["id"], "jo@example.com - how much does standard shipping cost?")

    assert "4.99 euros" in body["response"]


def test_request_history_is_used_instead_of_the_stored_one(api: TestClient) -> None:
    bot = make_store_bot(api)
    history = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
    ]

    body = answer(api, bot["id"], "When is the store open?", history=history)

    # Only the new turn is stored: the earlier ones are the client's memory.
    stored = messages_of(api, bot["id"], body["session_id"])
    assert [m["content"] for m in stored] == ["When is the store open?", body["response"]]


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [{"role": "assistant", "content": "Hi"}],
        [{"role": "user", "content": "   "}],
        [{"role": "robot", "content": "Hi"}],
    ],
)
def test_the_last_message_must_be_a_user_message(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]], messages: list[Any]
) -> None:
    bot = create_chatbot()

    response = api.post(f"/api/external/chatbot/{bot['id']}/chat", json={"messages": messages})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_chat_with_an_unknown_chatbot_is_404_streaming_or_not(api: TestClient) -> None:
    for stream in (False, True):
        response = ask(api, str(uuid.uuid4()), "Hello", stream=stream)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_a_chatbot_without_tools_does_not_search(api: TestClient) -> None:
    bot = make_store_bot(api, settings={"isToolEnabled": False})

    body = answer(api, bot["id"], "How many days do I have to return a product?")

    assert body["sources"] == [] and is_not_found(body["response"])
    assert "search_query" not in body["message"]["metadata"]


def test_chat_reads_the_chatbot_of_the_callers_organization_only(
    api: TestClient, client: TestClient, make_key: Callable[[str], str]
) -> None:
    bot = make_store_bot(api)
    intruder = {"x-api-key": make_key("other")}

    response = client.post(
        f"/api/external/chatbot/{bot['id']}/chat",
        json={"messages": [{"role": "user", "content": "Hi"}]},
        headers=intruder,
    )

    assert response.status_code == 404


def test_the_extractive_model_may_also_score_sentences_by_meaning(
    configured_api: Callable[..., TestClient],
) -> None:
    lexical = configured_api()
    semantic = configured_api(models={"extractive_semantic": True})
    bot = make_store_bot(semantic)
    question = "How quickly is my money given back?"  # no word in common with the answer

    assert is_not_found(answer(lexical, bot["id"], question)["response"])
    assert "within 5 business days" in answer(semantic, bot["id"], question)["response"]
