"""The OpenAI-compatible model against a real local server speaking Chat Completions SSE."""

from __future__ import annotations

import time

import pytest
from tests.providers.chat.conftest import OPENAI_KEY
from tests.providers.chat.helpers import events_of, request, usage_of
from tests.servers.base import Reply
from tests.servers.openai_server import OpenAIServer, openai_server

from chatforge.errors import ProviderError, ProviderUnavailable
from chatforge.providers.chat import (
    ChatModel,
    ModelRegistry,
    ProviderConfig,
    TextDelta,
    complete,
    streaming,
)


def model_at(server: OpenAIServer, name: str = "gpt-4o-mini", **config: object) -> ChatModel:
    settings = ProviderConfig(
        openai_api_key=OPENAI_KEY,
        openai_base_url=server.base_url,
        **config,  # type: ignore[arg-type]
    )
    return ModelRegistry.with_builtins(settings, plugins=False).build(name)


async def test_streams_deltas_in_order_then_usage(openai: OpenAIServer) -> None:
    openai.script(Reply(chunks=["The capital ", "is ", "Paris."], usage=(31, 6)))
    events = await events_of(model_at(openai), request())
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["The capital ", "is ", "Paris."]
    usage = usage_of(events)
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (31, 6, 37)


async def test_complete_folds_the_stream(openai: OpenAIServer) -> None:
    openai.script(Reply(text="Paris is the capital of France.", usage=(10, 6)))
    completion = await complete(model_at(openai), request())
    assert completion.text == "Paris is the capital of France."
    assert completion.usage.output_tokens == 6


async def test_sends_the_chat_completions_request_openai_expects(openai: OpenAIServer) -> None:
    await complete(model_at(openai), request(max_tokens=50, temperature=0.1))
    sent = openai.last_request
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert sent.body["model"] == "gpt-4o-mini"
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["max_completion_tokens"] == 50
    assert sent.body["temperature"] == 0.1
    assert [m["role"] for m in sent.body["messages"]] == ["system", "user"]


async def test_reasoning_models_get_no_temperature(openai: OpenAIServer) -> None:
    await complete(model_at(openai, "o3-mini"), request())
    assert "temperature" not in openai.last_request.body


async def test_compatible_server_by_table_name_gets_max_tokens_and_no_key() -> None:
    with openai_server() as server:
        config = ProviderConfig(extra_openai_compatible={"ollama": server.base_url})
        model = ModelRegistry.with_builtins(config, plugins=False).build("ollama:llama3.2:3b")
        completion = await complete(model, request(max_tokens=64))
    assert (model.provider, model.name) == ("ollama", "llama3.2:3b")
    assert completion.text == "Echo: What is the capital of France?"
    sent = server.last_request
    assert sent.body["model"] == "llama3.2:3b"
    assert sent.body["max_tokens"] == 64 and "max_completion_tokens" not in sent.body
    assert "authorization" not in sent.headers


async def test_usage_is_estimated_when_the_server_reports_none(openai: OpenAIServer) -> None:
    openai.script(Reply(text="one two three", report_usage=False))
    usage = usage_of(await events_of(model_at(openai), request()))
    assert usage.output_tokens == 3
    assert usage.input_tokens > 0


async def test_refused_key_is_503_naming_the_settings_without_the_key() -> None:
    with (
        openai_server(api_key="sk-the-right-one-000000") as server,
        pytest.raises(ProviderUnavailable) as caught,
    ):
        await complete(model_at(server), request())
    error = caught.value
    assert error.status == 503
    assert "CHATFORGE_MODELS__OPENAI_API_KEY" in error.message
    assert "openai_api_key" in error.message and "extractive" in error.message
    # The server quoted part of the refused key back; none of it may reach the client.
    assert_no_key(error)
    assert "SECRET" not in error.message and OPENAI_KEY[:6] + "***" not in error.message


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_statuses_are_provider_unavailable(openai: OpenAIServer, status: int) -> None:
    openai.script(Reply(status=status))
    with pytest.raises(ProviderUnavailable, match="refused the API key"):
        await complete(model_at(openai), request())


@pytest.mark.parametrize(("status", "what"), [(429, "rate limiting"), (503, "overloaded")])
async def test_rate_limit_and_unavailable_are_503_with_retry_after(
    openai: OpenAIServer, status: int, what: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = {"error": {"message": f"Slow down, key {OPENAI_KEY}", "type": "requests"}}
    openai.script(Reply(status=status, headers={"Retry-After": "20"}, body=body))
    with pytest.raises(ProviderUnavailable) as caught:
        await complete(model_at(openai), request())
    assert caught.value.status == 503
    assert caught.value.headers == {"Retry-After": "20"}
    assert what in caught.value.message and "Slow down" not in caught.value.message
    assert_no_key(caught.value)
    assert "Slow down" in caplog.text and OPENAI_KEY not in caplog.text


async def test_rate_limit_without_retry_after_has_no_header(openai: OpenAIServer) -> None:
    openai.script(Reply(status=429))
    with pytest.raises(ProviderUnavailable) as caught:
        await complete(model_at(openai), request())
    assert caught.value.headers == {}


@pytest.mark.parametrize("status", [500, 502])
async def test_server_errors_are_502(openai: OpenAIServer, status: int) -> None:
    openai.script(Reply(status=status))
    with pytest.raises(ProviderError) as caught:
        await complete(model_at(openai), request())
    assert type(caught.value) is ProviderError and caught.value.status == 502
    assert f"HTTP {status}" in caught.value.message


async def test_unknown_model_at_provider_is_502_its_message_logged_not_returned(
    openai: OpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    body = {"error": {"message": "The model `gpt-9` does not exist", "code": "model_not_found"}}
    openai.script(Reply(status=404, body=body))
    with pytest.raises(ProviderError, match="HTTP 404") as caught:
        await complete(model_at(openai), request())
    assert "does not exist" not in caught.value.message
    assert "gpt-9` does not exist" in caplog.text


async def test_timeout_is_503(openai: OpenAIServer) -> None:
    openai.script(Reply(delay=5))
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match=r"did not answer within 0\.3 seconds"):
        await complete(model_at(openai, timeout=0.3), request())
    assert time.monotonic() - started < 3


async def test_stalled_stream_times_out_as_503(openai: OpenAIServer) -> None:
    openai.script(Reply(chunks=["a ", "b"], chunk_delay=5))
    with pytest.raises(ProviderUnavailable):
        await complete(model_at(openai, timeout=0.3), request())


async def test_unreachable_server_is_503() -> None:
    with openai_server() as server:
        gone = server.base_url
    model = ModelRegistry.with_builtins(
        ProviderConfig(openai_api_key=OPENAI_KEY, openai_base_url=gone), plugins=False
    ).build("gpt-4o-mini")
    with pytest.raises(ProviderUnavailable, match="cannot be reached"):
        await complete(model, request())


async def test_connection_dropped_mid_stream_is_502_after_the_first_deltas(
    openai: OpenAIServer,
) -> None:
    openai.script(Reply(chunks=["Par", "is ", "is"], close_after=2))
    seen: list[str] = []
    with pytest.raises(ProviderError) as caught:
        async with streaming(model_at(openai), request()) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    seen.append(event.text)
    assert seen == ["Par", "is "]
    assert type(caught.value) is ProviderError


async def test_stream_without_done_marker_is_502(openai: OpenAIServer) -> None:
    openai.script(Reply(text="cut short", end=False))
    with pytest.raises(ProviderError, match="before its end marker"):
        await complete(model_at(openai), request())


async def test_error_inside_the_stream_is_502_without_the_key(openai: OpenAIServer) -> None:
    openai.script(Reply(text="partial", stream_error=f"upstream failed for {OPENAI_KEY}"))
    with pytest.raises(ProviderError, match="failed while answering") as caught:
        await complete(model_at(openai), request())
    assert_no_key(caught.value)


async def test_leaving_the_stream_early_stops_reading(openai: OpenAIServer) -> None:
    openai.script(Reply(chunks=["first ", *(["slow "] * 20)], chunk_delay=0.2))
    started = time.monotonic()
    async with streaming(model_at(openai), request()) as events:
        async for event in events:
            assert event == TextDelta("first ") or isinstance(event, TextDelta)
            break
    assert time.monotonic() - started < 2


def test_model_repr_never_shows_the_key(openai: OpenAIServer) -> None:
    model = model_at(openai)
    assert OPENAI_KEY not in repr(model)
    assert OPENAI_KEY not in repr(ProviderConfig(openai_api_key=OPENAI_KEY))
    assert OPENAI_KEY not in str(vars(model).get("_endpoint"))


def assert_no_key(error: Exception) -> None:
    for text in (str(error), repr(error), repr(getattr(error, "details", None))):
        assert OPENAI_KEY not in text
        assert "SECRET" not in text
