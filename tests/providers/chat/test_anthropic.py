"""The Anthropic model against a real local server speaking the Messages API's SSE events."""

from __future__ import annotations

import pytest
from tests.providers.chat.conftest import ANTHROPIC_KEY
from tests.providers.chat.helpers import events_of, request, usage_of
from tests.servers.anthropic_server import AnthropicServer
from tests.servers.base import Reply

from chatforge.errors import ProviderError, ProviderUnavailable
from chatforge.providers.chat import (
    ChatMessage,
    ChatModel,
    ChatRequest,
    ModelRegistry,
    ProviderConfig,
    TextDelta,
    complete,
)


def model_at(server: AnthropicServer, timeout: float = 10.0) -> ChatModel:
    config = ProviderConfig(
        anthropic_api_key=ANTHROPIC_KEY, anthropic_base_url=server.base_url, timeout=timeout
    )
    return ModelRegistry.with_builtins(config, plugins=False).build("claude-haiku-4-5")


async def test_streams_text_deltas_then_input_and_output_usage(anthropic: AnthropicServer) -> None:
    anthropic.script(Reply(chunks=["Paris", " is the capital."], usage=(42, 7)))
    events = await events_of(model_at(anthropic), request())
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Paris", " is the capital."]
    usage = usage_of(events)
    assert (usage.input_tokens, usage.output_tokens) == (42, 7)


async def test_sends_system_apart_and_the_headers_anthropic_wants(
    anthropic: AnthropicServer,
) -> None:
    completion = await complete(model_at(anthropic), request(max_tokens=77, temperature=0.2))
    assert completion.text == "Echo: What is the capital of France?"
    sent = anthropic.last_request
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == ANTHROPIC_KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.body["system"] == "Answer from the sources."
    assert sent.body["messages"] == [{"role": "user", "content": "What is the capital of France?"}]
    assert (sent.body["max_tokens"], sent.body["temperature"], sent.body["stream"]) == (
        77,
        0.2,
        True,
    )


async def test_consecutive_turns_of_one_role_are_merged(anthropic: AnthropicServer) -> None:
    messages = (
        ChatMessage("system", "Rules."),
        ChatMessage("user", "Hello."),
        ChatMessage("user", "Sources: ..."),
        ChatMessage("assistant", "Hi."),
        ChatMessage("system", "More rules."),
        ChatMessage("user", "Question?"),
    )
    await complete(model_at(anthropic), ChatRequest(messages=messages, question="Question?"))
    body = anthropic.last_request.body
    assert body["system"] == "Rules.\n\nMore rules."
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][0]["content"] == "Hello.\n\nSources: ..."


async def test_refused_key_is_503_naming_the_setting_without_the_key(
    anthropic: AnthropicServer,
) -> None:
    anthropic.script(Reply(status=401))
    with pytest.raises(ProviderUnavailable) as caught:
        await complete(model_at(anthropic), request())
    assert "CHATFORGE_MODELS__ANTHROPIC_API_KEY" in caught.value.message
    assert ANTHROPIC_KEY not in str(caught.value)


@pytest.mark.parametrize(("status", "what"), [(429, "rate limiting"), (529, "overloaded")])
async def test_rate_limit_and_overload_are_503_with_retry_after(
    anthropic: AnthropicServer, status: int, what: str
) -> None:
    anthropic.script(Reply(status=status, headers={"retry-after": "9"}))
    with pytest.raises(ProviderUnavailable, match=what) as caught:
        await complete(model_at(anthropic), request())
    assert caught.value.headers == {"Retry-After": "9"}


async def test_server_error_is_502_and_its_words_go_to_the_log_only(
    anthropic: AnthropicServer, caplog: pytest.LogCaptureFixture
) -> None:
    anthropic.script(Reply(status=500))
    with pytest.raises(ProviderError) as caught:
        await complete(model_at(anthropic), request())
    assert type(caught.value) is ProviderError
    assert "HTTP 500" in caught.value.message
    assert "Scripted failure 500" not in caught.value.message
    assert "Scripted failure 500" in caplog.text


async def test_overloaded_error_event_mid_stream_is_503(anthropic: AnthropicServer) -> None:
    anthropic.script(Reply(text="partial answer", stream_error="Overloaded"))
    with pytest.raises(ProviderUnavailable, match="overloaded_error") as caught:
        await complete(model_at(anthropic), request())
    assert "Overloaded" not in caught.value.message


async def test_stream_without_message_stop_is_502(anthropic: AnthropicServer) -> None:
    anthropic.script(Reply(text="cut", end=False))
    with pytest.raises(ProviderError, match="before message_stop"):
        await complete(model_at(anthropic), request())


async def test_dropped_connection_is_502(anthropic: AnthropicServer) -> None:
    anthropic.script(Reply(chunks=["a", "b", "c"], close_after=1))
    with pytest.raises(ProviderError) as caught:
        await complete(model_at(anthropic), request())
    assert type(caught.value) is ProviderError


async def test_timeout_is_503(anthropic: AnthropicServer) -> None:
    anthropic.script(Reply(delay=5))
    with pytest.raises(ProviderUnavailable, match="did not answer"):
        await complete(model_at(anthropic, timeout=0.3), request())
