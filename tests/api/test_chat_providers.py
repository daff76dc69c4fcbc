"""Chat answered by LLM providers: real local servers speaking OpenAI's and Anthropic's streaming
wire protocols, configured through Settings like any provider. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from tests.factories.chat import (
    answer,
    ask,
    chat_path,
    live_server,
    make_store_bot,
    messages_of,
    streamed,
)
from tests.servers.anthropic_server import AnthropicServer, anthropic_server
from tests.servers.base import Exchange, Reply, serve
from tests.servers.openai_server import OpenAIServer

pytestmark = pytest.mark.usefixtures("reuse_embedder")

SERVER_KEY = "sk-server-0123456789abcdefSECRET"
CHATBOT_KEY = "sk-chatbot-9876543210fedcbaSECRET"
ANTHROPIC_KEY = "sk-ant-test-0123456789abcdefSECRET"
RETURNS = "How many days do I have to return a product?"


class RecordingOpenAIServer(OpenAIServer):
    """The fake OpenAI server, also noting when a client hung up mid-answer."""

    def __init__(self, *, api_key: str | None = None) -> None:
        super().__init__(api_key=api_key)
        self.hung_up = threading.Event()

    def handle(self, exchange: Exchange) -> None:
        try:
            super().handle(exchange)
        except (BrokenPipeError, ConnectionResetError):
            self.hung_up.set()
            raise


@pytest.fixture
def openai() -> Iterator[RecordingOpenAIServer]:
    """A fake OpenAI that accepts only the server's key."""
    with serve(RecordingOpenAIServer(api_key=SERVER_KEY), path_prefix="/v1") as server:
        yield server


@pytest.fixture
def llm_api(configured_api: Callable[..., TestClient], openai: OpenAIServer) -> TestClient:
    """A client of an app whose OpenAI models go to the fake server, with the server's key."""
    return configured_api(
        models={"openai_base_url": openai.base_url, "openai_api_key": SecretStr(SERVER_KEY)}
    )


def test_a_chatbot_made_with_a_key_configured_answers_with_openai(
    llm_api: TestClient, openai: OpenAIServer
) -> None:
    bot = make_store_bot(llm_api)
    openai.script(Reply(text="You have 30 days to return it [1].", usage=(120, 9)))

    body = answer(llm_api, bot["id"], RETURNS)

    assert bot["settings"]["model"] == "gpt-4o-mini"
    assert body["response"] == "You have 30 days to return it [1]."
    message = body["message"]
    assert (message["model"], message["provider"], message["tokens_used"]) == (
        "gpt-4o-mini",
        "openai",
        129,
    )
    sent = openai.last_request
    assert sent.headers["authorization"] == f"Bearer {SERVER_KEY}"
    assert sent.body["model"] == "gpt-4o-mini" and sent.body["stream"] is True
    system, *rest = sent.body["messages"]
    assert system["role"] == "system"
    assert "<sources>" in system["content"] and "within 30 days of purchase" in system["content"]
    assert "Cite the source" in system["content"]
    assert rest == [{"role": "user", "content": RETURNS}]
    assert body["sources"][0]["title"] == "Returns"


def test_streaming_sends_sources_before_the_first_token_then_the_tokens(
    llm_api: TestClient, openai: OpenAIServer
) -> None:
    bot = make_store_bot(llm_api)
    openai.script(Reply(chunks=["You have ", "30 days ", "[1]."]))

    events = streamed(llm_api, bot["id"], RETURNS)

    assert [n for n, _ in events] == ["session", "sources", "delta", "delta", "delta", "done"]
    assert [d["content"] for n, d in events if n == "delta"] == ["You have ", "30 days ", "[1]."]
    done = events[-1][1]
    assert done["message"]["content"] == "You have 30 days [1]."
    assert done["message"]["metadata"]["sources"] == events[1][1]["sources"]


def test_a_session_token_gives_the_model_the_earlier_turns(
    llm_api: TestClient, openai: OpenAIServer
) -> None:
    bot = make_store_bot(llm_api)
    openai.script(
        Reply(text="You can return it within 30 days [1]."),
        Reply(text="How are refunds paid after a return?"),  # the standalone rewrite
        Reply(text="To your original payment method [1]."),
    )

    first = answer(llm_api, bot["id"], RETURNS, token="visitor-7")
    second = answer(llm_api, bot["id"], "And how is the money paid back?", token="visitor-7")

    assert second["session_id"] == first["session_id"]
    rewrite, final = openai.requests[-2:]
    assert "Follow-up question: And how is the money paid back?" in str(rewrite.body["messages"])
    assert RETURNS in str(rewrite.body["messages"])
    turns = [(m["role"], m["content"]) for m in final.body["messages"][1:]]
    assert turns == [
        ("user", RETURNS),
        ("assistant", "You can return it within 30 days [1]."),
        ("user", "And how is the money paid back?"),
    ]
    # Retrieval searched for the rewritten question.
    assert second["message"]["metadata"]["search_query"] == "How are refunds paid after a return?"
    assert "original payment method" in final.body["messages"][0]["content"]


def test_a_client_that_disconnects_stops_generation_and_the_partial_answer_is_kept(
    llm_api: TestClient, openai: RecordingOpenAIServer
) -> None:
    bot = make_store_bot(llm_api)
    words = [f"word{i} " for i in range(60)]
    openai.script(Reply(chunks=words, chunk_delay=0.1))
    started = time.monotonic()

    with live_server(llm_api.app) as base, httpx.Client(base_url=base, timeout=10) as http:
        body = {"messages": [{"role": "user", "content": RETURNS}], "sessionToken": "leaver"}
        headers = {"x-api-key": llm_api.headers["x-api-key"]}
        url = chat_path(bot["id"]) + "?stream=true"
        with http.stream("POST", url, json=body, headers=headers) as response:
            assert response.status_code == 200
            deltas = 0
            for line in response.iter_lines():
                deltas += line == "event: delta"
                if deltas == 3:
                    break  # leaving the block closes the connection mid-answer
        assert openai.hung_up.wait(5), "the provider stream was not closed"
        assert time.monotonic() - started < 5  # far less than the 6 s the full answer takes
        session = llm_api.get(f"/api/external/chatbot/{bot['id']}/conversations").json()
        session_id = session["data"][0]["id"]
        stored = _wait_for_bot_message(llm_api, bot["id"], session_id)

    assert stored["metadata"]["partial"] is True
    assert stored["content"].startswith("word0 word1 word2")
    assert len(stored["content"].split()) < len(words)
    assert stored["metadata"]["sources"]


def _wait_for_bot_message(client: TestClient, chatbot_id: str, session_id: str) -> Any:
    deadline = time.monotonic() + 10
    while True:
        bots = [m for m in messages_of(client, chatbot_id, session_id) if m["sender_type"] == "bot"]
        if bots:
            return bots[-1]
        assert time.monotonic() < deadline, "the partial answer was not stored"
        time.sleep(0.05)


def test_a_refused_key_is_503_naming_the_setting_and_the_message_is_kept(
    llm_api: TestClient,
) -> None:
    bot = make_store_bot(llm_api, openai_api_key="sk-wrong-key-for-this-server")

    response = ask(llm_api, bot["id"], RETURNS, token="v")

    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "provider_unavailable"
    assert "CHATFORGE_MODELS__OPENAI_API_KEY" in error["message"]
    assert "extractive" in error["message"]
    assert "sk-wrong" not in response.text
    _assert_only_the_question_is_stored(llm_api, bot["id"], "v")


def test_a_known_model_without_any_key_is_503_pointing_at_the_offline_model(
    api: TestClient,
) -> None:
    bot = make_store_bot(api, settings={"model": "gpt-4o-mini"})

    response = ask(api, bot["id"], RETURNS, token="v")

    assert response.status_code == 503
    message = response.json()["error"]["message"]
    assert "CHATFORGE_MODELS__OPENAI_API_KEY" in message and "'extractive'" in message
    _assert_only_the_question_is_stored(api, bot["id"], "v")


def test_a_rate_limited_provider_is_503_with_its_retry_after(
    llm_api: TestClient, openai: OpenAIServer
) -> None:
    bot = make_store_bot(llm_api)
    openai.script(Reply(status=429, headers={"Retry-After": "7"}))

    response = ask(llm_api, bot["id"], RETURNS, token="v")

    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.json()["error"]["code"] == "provider_unavailable"
    _assert_only_the_question_is_stored(llm_api, bot["id"], "v")


def test_a_provider_server_error_is_502(llm_api: TestClient, openai: OpenAIServer) -> None:
    bot = make_store_bot(llm_api)
    openai.script(Reply(status=500))

    response = ask(llm_api, bot["id"], RETURNS, token="v")

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "provider_error"
    _assert_only_the_question_is_stored(llm_api, bot["id"], "v")


def test_a_failure_mid_stream_is_an_error_event_and_what_was_said_is_kept(
    llm_api: TestClient, openai: OpenAIServer
) -> None:
    bot = make_store_bot(llm_api)
    openai.script(Reply(chunks=["You have ", "30 "], stream_error="The server had an error"))

    events = streamed(llm_api, bot["id"], RETURNS, token="v")

    assert [n for n, _ in events] == ["session", "sources", "delta", "delta", "error"]
    error = events[-1][1]["error"]
    assert error["code"] == "provider_error" and "failed while answering" in error["message"]
    assert "The server had an error" not in error["message"]  # its words go to the log only
    stored = messages_of(llm_api, bot["id"], events[0][1]["session_id"])
    assert [m["sender_type"] for m in stored] == ["user", "bot"]
    assert stored[1]["content"] == "You have 30 "
    assert stored[1]["metadata"]["partial"] is True
    assert stored[1]["metadata"]["error"]["code"] == "provider_error"


def test_a_rate_limit_while_streaming_is_an_error_event_with_retry_after(
    llm_api: TestClient, openai: OpenAIServer
) -> None:
    bot = make_store_bot(llm_api)
    openai.script(Reply(status=429, headers={"Retry-After": "3"}))

    events = streamed(llm_api, bot["id"], RETURNS)

    assert [n for n, _ in events] == ["session", "sources", "error"]
    assert events[-1][1]["error"]["code"] == "provider_unavailable"
    assert events[-1][1]["error"]["details"] == {"retry_after": "3"}


def test_the_chatbots_own_openai_key_is_sent_and_never_logged(
    configured_api: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with serve(OpenAIServer(api_key=CHATBOT_KEY), path_prefix="/v1") as server:
        client = configured_api(
            models={"openai_base_url": server.base_url, "openai_api_key": SecretStr(SERVER_KEY)}
        )
        bot = make_store_bot(client, openai_api_key=CHATBOT_KEY)
        server.script(Reply(text="Thirty days [1]."), Reply(status=401))

        ok = answer(client, bot["id"], RETURNS)
        refused = ask(client, bot["id"], RETURNS)

    assert ok["response"] == "Thirty days [1]."
    assert server.requests[0].headers["authorization"] == f"Bearer {CHATBOT_KEY}"
    assert refused.status_code == 503
    for secret in (CHATBOT_KEY, SERVER_KEY):
        assert secret not in caplog.text
        assert secret not in refused.text
    assert any(r.levelno >= logging.WARNING for r in caplog.records)  # the failure was logged


def test_an_anthropic_model_answers_through_the_messages_api(
    configured_api: Callable[..., TestClient],
) -> None:
    anthropic: AnthropicServer
    with anthropic_server(api_key=ANTHROPIC_KEY) as anthropic:
        client = configured_api(
            models={
                "anthropic_base_url": anthropic.base_url,
                "anthropic_api_key": SecretStr(ANTHROPIC_KEY),
            }
        )
        bot = make_store_bot(client, settings={"model": "anthropic:claude-haiku-4-5"})
        anthropic.script(Reply(chunks=["Within ", "30 days [1]."], usage=(200, 6)))

        events = streamed(client, bot["id"], RETURNS)

    assert [n for n, _ in events] == ["session", "sources", "delta", "delta", "done"]
    message = events[-1][1]["message"]
    assert (message["provider"], message["model"]) == ("anthropic", "claude-haiku-4-5")
    assert message["content"] == "Within 30 days [1]." and message["tokens_used"] == 206
    sent = anthropic.last_request.body
    assert "<sources>" in sent["system"]
    assert sent["messages"] == [{"role": "user", "content": RETURNS}]


def _assert_only_the_question_is_stored(client: TestClient, chatbot_id: str, token: str) -> None:
    listed = client.get(f"/api/external/chatbot/{chatbot_id}/conversations").json()["data"]
    session = next(s for s in listed if s["sns_user_id"] == token)
    stored = messages_of(client, chatbot_id, session["id"])
    assert [(m["sender_type"], m["content"]) for m in stored] == [("user", RETURNS)]
    assert session["last_message"]["sender_type"] == "user"
