"""An LLM's citations are checked, not hoped for (issue 16): a fake OpenAI-compatible server made
to misbehave, and the flags the bot message's metadata carries. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from tests.factories.chat import answer, make_store_bot
from tests.servers.base import Reply, serve
from tests.servers.openai_server import OpenAIServer

pytestmark = pytest.mark.usefixtures("reuse_embedder")

KEY = "sk-server-0123456789abcdefSECRET"
RETURNS = "How many days do I have to return a product?"


@pytest.fixture
def openai() -> Iterator[OpenAIServer]:
    with serve(OpenAIServer(api_key=KEY), path_prefix="/v1") as server:
        yield server


@pytest.fixture
def llm_api(configured_api: Callable[..., TestClient], openai: OpenAIServer) -> TestClient:
    return configured_api(
        models={"openai_base_url": openai.base_url, "openai_api_key": SecretStr(KEY)}
    )


def _citations(llm_api: TestClient, openai: OpenAIServer, said: str) -> dict[str, Any]:
    bot = make_store_bot(llm_api)
    openai.script(Reply(text=said))
    body = answer(llm_api, bot["id"], RETURNS)
    assert body["response"] == said
    given = body["message"]["metadata"]["sources"]
    assert given, "the knowledge has the answer: sources were given"
    citations: dict[str, Any] = body["message"]["metadata"]["citations"]
    return citations


def test_an_answer_citing_the_source_that_holds_it_is_not_flagged(
    llm_api: TestClient, openai: OpenAIServer
) -> None:
    citations = _citations(llm_api, openai, "You can return any product within 30 days [1].")

    assert citations == {
        "cited": [1],
        "unknown": [],
        "unsupported": [],
        "missing": False,
        "flagged": False,
    }


def test_a_marker_naming_a_source_that_was_not_given_is_flagged(
    llm_api: TestClient, openai: OpenAIServer
) -> None:
    citations = _citations(llm_api, openai, "You can return any product within 30 days [9].")

    assert citations["unknown"] == [9]
    assert citations["flagged"] is True


def test_an_answer_without_a_citation_is_flagged(llm_api: TestClient, openai: OpenAIServer) -> None:
    citations = _citations(llm_api, openai, "You can return any product within 30 days.")

    assert (citations["missing"], citations["flagged"]) == (True, True)


def test_an_invented_figure_is_flagged_as_unsupported(
    llm_api: TestClient, openai: OpenAIServer
) -> None:
    citations = _citations(llm_api, openai, "You can return any product within 90 days [1].")

    assert citations["unsupported"] == [1]
    assert citations["flagged"] is True


def test_saying_it_could_not_find_the_answer_is_not_flagged(
    llm_api: TestClient, openai: OpenAIServer
) -> None:
    said = "I could not find this in the knowledge base."

    assert _citations(llm_api, openai, said)["flagged"] is False
