"""The fake provider servers speak the real wire formats: the official SDKs accept them."""

from __future__ import annotations

import anthropic as anthropic_sdk
import openai as openai_sdk
import pytest
from tests.providers.chat.conftest import ANTHROPIC_KEY, OPENAI_KEY
from tests.servers.anthropic_server import AnthropicServer
from tests.servers.base import Reply
from tests.servers.openai_server import OpenAIServer


def openai_client(server: OpenAIServer) -> openai_sdk.OpenAI:
    return openai_sdk.OpenAI(base_url=server.base_url, api_key=OPENAI_KEY, max_retries=0)


def anthropic_client(server: AnthropicServer) -> anthropic_sdk.Anthropic:
    return anthropic_sdk.Anthropic(base_url=server.base_url, api_key=ANTHROPIC_KEY, max_retries=0)


def test_openai_sdk_streams_chunks_and_usage_from_fake_server(openai: OpenAIServer) -> None:
    openai.script(Reply(text="Paris is the capital.", usage=(12, 5)))
    stream = openai_client(openai).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Capital of France?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Paris is the capital."
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (12, 5)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_openai_sdk_reads_non_streamed_completion_from_fake_server(openai: OpenAIServer) -> None:
    openai.script(Reply(text="Hello there."))
    completion = openai_client(openai).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
    )
    assert completion.choices[0].message.content == "Hello there."
    assert completion.usage is not None and completion.usage.completion_tokens == 2


def test_openai_sdk_sees_fake_server_errors_as_openai_errors(openai: OpenAIServer) -> None:
    openai.script(Reply(status=429, headers={"Retry-After": "7"}))
    with pytest.raises(openai_sdk.RateLimitError) as caught:
        openai_client(openai).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
        )
    assert caught.value.response.headers["retry-after"] == "7"
    bad = openai_sdk.OpenAI(base_url=openai.base_url, api_key="sk-wrong-key", max_retries=0)
    with pytest.raises(openai_sdk.AuthenticationError):
        bad.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )


def test_openai_sdk_sees_in_stream_error_of_fake_server(openai: OpenAIServer) -> None:
    openai.script(Reply(text="partial", stream_error="The server had an error"))
    stream = openai_client(openai).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    with pytest.raises(openai_sdk.APIError, match="The server had an error"):
        list(stream)


def test_anthropic_sdk_streams_events_and_usage_from_fake_server(
    anthropic: AnthropicServer,
) -> None:
    anthropic.script(Reply(text="Bonjour à tous.", usage=(20, 4)))
    with anthropic_client(anthropic).messages.stream(
        model="claude-haiku-4-5",
        max_tokens=100,
        system="Be brief.",
        messages=[{"role": "user", "content": "Greet"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Bonjour à tous."
    assert final.content[0].type == "text" and final.content[0].text == "Bonjour à tous."
    assert (final.usage.input_tokens, final.usage.output_tokens) == (20, 4)
    assert final.stop_reason == "end_turn"
    assert anthropic.last_request.body["system"] == "Be brief."


def test_anthropic_sdk_reads_non_streamed_message_from_fake_server(
    anthropic: AnthropicServer,
) -> None:
    anthropic.script(Reply(text="Hi!"))
    message = anthropic_client(anthropic).messages.create(
        model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "Hey"}]
    )
    assert message.content[0].type == "text" and message.content[0].text == "Hi!"


def test_anthropic_sdk_sees_fake_server_errors_as_anthropic_errors(
    anthropic: AnthropicServer,
) -> None:
    client = anthropic_client(anthropic)
    anthropic.script(Reply(status=429, headers={"retry-after": "3"}))
    with pytest.raises(anthropic_sdk.RateLimitError) as caught:
        client.messages.create(
            model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.response.headers["retry-after"] == "3"
    anthropic.script(Reply(text="partial", stream_error="Overloaded"))
    with (
        pytest.raises(anthropic_sdk.APIStatusError, match="Overloaded"),
        client.messages.stream(
            model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        ) as stream,
    ):
        list(stream.text_stream)


def test_anthropic_fake_server_refuses_system_role_in_messages(
    anthropic: AnthropicServer,
) -> None:
    with pytest.raises(anthropic_sdk.BadRequestError, match="role"):
        anthropic_client(anthropic).messages.create(
            model="claude-haiku-4-5",
            max_tokens=10,
            messages=[{"role": "system", "content": "x"}],  # type: ignore[typeddict-item,unused-ignore]
        )
