"""The OpenAI-compatible endpoint (API.md §5), driven by the official ``openai`` SDK unchanged.

The SDK's HTTP client is the test client, so its requests go through the ASGI app; on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from tests.factories.chat import conversations_path, make_store_bot, messages_of
from tests.servers.base import Reply
from tests.servers.openai_server import OpenAIServer, openai_server

pytestmark = pytest.mark.usefixtures("reuse_embedder")

RETURNS = "How many days do I have to return a product?"


def sdk_for(app: FastAPI, key: str) -> openai.OpenAI:
    """The official SDK, pointed at Chatforge's /v1 through the ASGI app."""
    http = TestClient(app, base_url="http://testserver")
    return openai.OpenAI(
        base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0
    )


@pytest.fixture
def sdk(app: FastAPI, key: str, api: TestClient) -> openai.OpenAI:
    return sdk_for(app, key)


@pytest.fixture
def shop(api: TestClient) -> dict[str, Any]:
    return make_store_bot(api)


def test_the_sdk_gets_a_cited_answer_from_a_chatbot_by_slug(
    sdk: openai.OpenAI, shop: dict[str, Any]
) -> None:
    completion = sdk.chat.completions.create(
        model=shop["slug"], messages=[{"role": "user", "content": RETURNS}]
    )

    assert completion.object == "chat.completion"
    assert completion.model == shop["slug"]
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert "within 30 days of purchase" in (choice.message.content or "")
    assert completion.usage is not None and completion.usage.total_tokens > 0
    extra = completion.model_extra or {}
    assert extra["chatforge_sources"][0]["title"] == "Returns"
    assert "[1]" in (choice.message.content or "")


def test_the_sdk_streams_chunks_with_sources_first_and_usage_last(
    sdk: openai.OpenAI, shop: dict[str, Any]
) -> None:
    folded = sdk.chat.completions.create(
        model=shop["id"], messages=[{"role": "user", "content": RETURNS}]
    )

    chunks = list(
        sdk.chat.completions.create(
            model=shop["id"],
            messages=[{"role": "user", "content": RETURNS}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    first, *middle, stop, usage = chunks
    assert first.choices[0].delta.role == "assistant"
    assert (first.model_extra or {})["chatforge_sources"][0]["title"] == "Returns"
    text = "".join(c.choices[0].delta.content or "" for c in middle)
    assert text == folded.choices[0].message.content
    assert stop.choices[0].finish_reason == "stop"
    assert usage.choices == [] and usage.usage is not None and usage.usage.total_tokens > 0


def test_the_sdk_lists_the_organizations_chatbots_as_models(
    sdk: openai.OpenAI,
    create_chatbot: Callable[..., dict[str, Any]],
    app: FastAPI,
    make_key: Callable[[str], str],
) -> None:
    mine = [create_chatbot(name="One"), create_chatbot(name="Two")]
    theirs = sdk_for(app, make_key("other"))

    models = sdk.models.list().data
    one = sdk.models.retrieve(mine[0]["slug"])

    assert {m.id for m in models} == {c["id"] for c in mine}
    assert all(m.object == "model" for m in models)
    assert one.id == mine[0]["id"] and (one.model_extra or {})["slug"] == "one"
    assert theirs.models.list().data == []


def test_an_unknown_model_is_a_404_in_openais_error_shape(
    sdk: openai.OpenAI, api: TestClient, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.chat.completions.create(
            model="no-such-bot", messages=[{"role": "user", "content": "x"}]
        )

    body = caught.value.response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["param"] == "model" and "no-such-bot" in body["error"]["message"]


def test_another_organizations_chatbot_is_not_a_model_for_you(
    app: FastAPI, shop: dict[str, Any], make_key: Callable[[str], str]
) -> None:
    intruder = sdk_for(app, make_key("other"))

    with pytest.raises(openai.NotFoundError):
        intruder.chat.completions.create(
            model=shop["id"], messages=[{"role": "user", "content": RETURNS}]
        )
    with pytest.raises(openai.NotFoundError):
        intruder.models.retrieve(shop["id"])


def test_a_wrong_key_is_a_401_in_openais_error_shape(app: FastAPI, shop: dict[str, Any]) -> None:
    stranger = sdk_for(app, "0" * 48)

    with pytest.raises(openai.AuthenticationError) as caught:
        stranger.chat.completions.create(
            model=shop["id"], messages=[{"role": "user", "content": "x"}]
        )

    error = caught.value.response.json()["error"]
    assert error["type"] == "authentication_error" and error["code"] == "unauthorized"


def test_invalid_requests_are_400_in_openais_error_shape(
    api: TestClient, shop: dict[str, Any]
) -> None:
    response = api.post("/v1/chat/completions", json={"model": "x", "messages": []})
    # Valid JSON that the chat refuses: the last message must be the user's.
    last_is_ours = api.post(
        "/v1/chat/completions",
        json={"model": shop["slug"], "messages": [{"role": "assistant", "content": "Hi"}]},
    )

    for refused in (response, last_is_ours):
        assert refused.status_code == 400, refused.text
        error = refused.json()["error"]
        assert error["type"] == "invalid_request_error" and error["code"] == "validation_error"


def test_the_user_field_keeps_one_conversation_on_the_openai_platform(
    sdk: openai.OpenAI, api: TestClient, shop: dict[str, Any]
) -> None:
    for question in (RETURNS, "When is the store open?"):
        sdk.chat.completions.create(
            model=shop["id"], messages=[{"role": "user", "content": question}], user="crm-42"
        )

    sessions = api.get(conversations_path(shop["id"]), params={"platform": "openai"}).json()
    assert len(sessions["data"]) == 1
    session = sessions["data"][0]
    assert session["sns_user_id"] == "crm-42"
    stored = messages_of(api, shop["id"], session["id"])
    assert [m["content"] for m in stored[::2]] == [RETURNS, "When is the store open?"]


@pytest.fixture
def provider() -> Iterator[OpenAIServer]:
    with openai_server() as server:
        yield server


def test_provider_failures_reach_the_sdk_as_errors_streaming_or_not(
    configured_api: Callable[..., TestClient], provider: OpenAIServer
) -> None:
    client = configured_api(
        models={"openai_base_url": provider.base_url, "openai_api_key": SecretStr("sk-x")}
    )
    bot = make_store_bot(client)
    sdk = sdk_for(client.app, client.headers["x-api-key"])  # type: ignore[arg-type]
    provider.script(
        Reply(status=429, headers={"Retry-After": "9"}),
        Reply(chunks=["Thirty ", "days"], stream_error="The server had an error"),
        Reply(chunks=["Thirty ", "days [1]."]),
    )
    ask = {"model": bot["id"], "messages": [{"role": "user", "content": RETURNS}]}

    with pytest.raises(openai.InternalServerError) as limited:
        sdk.chat.completions.create(**ask)  # type: ignore[call-overload]
    with pytest.raises(openai.APIError, match="failed while answering"):
        list(sdk.chat.completions.create(**ask, stream=True))  # type: ignore[call-overload]
    answered = sdk.chat.completions.create(**ask)  # type: ignore[call-overload]

    assert limited.value.status_code == 503
    assert limited.value.response.headers["retry-after"] == "9"
    assert limited.value.response.json()["error"]["code"] == "provider_unavailable"
    assert answered.choices[0].message.content == "Thirty days [1]."
    assert answered.usage is not None and answered.usage.prompt_tokens > 0
