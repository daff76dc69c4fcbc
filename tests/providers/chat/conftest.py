"""Fixtures of the chat-provider tests: fake OpenAI and Anthropic servers on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.servers.anthropic_server import AnthropicServer, anthropic_server
from tests.servers.openai_server import OpenAIServer, openai_server

OPENAI_KEY = "sk-test-0123456789abcdefSECRET"
ANTHROPIC_KEY = "sk-ant-test-0123456789abcdefSECRET"


@pytest.fixture
def openai() -> Iterator[OpenAIServer]:
    """A fake OpenAI server that accepts only :data:`OPENAI_KEY`."""
    with openai_server(api_key=OPENAI_KEY) as server:
        yield server


@pytest.fixture
def anthropic() -> Iterator[AnthropicServer]:
    """A fake Anthropic server that accepts only :data:`ANTHROPIC_KEY`."""
    with anthropic_server(api_key=ANTHROPIC_KEY) as server:
        yield server
