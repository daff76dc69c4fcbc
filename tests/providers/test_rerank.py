"""The HTTP reranker against a real rerank server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.providers.servers import Failure, ModelServer, model_server

from chatforge.errors import ProviderError, ProviderUnavailable
from chatforge.providers.rerank import HTTPReranker

KEY = "jina_Rer4nkSecretKey0123456789"


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with model_server(api_key=KEY) as running:
        yield running


def test_scores_come_back_in_document_order(server: ModelServer) -> None:
    reranker = HTTPReranker(server.base_url, KEY, "tiny-rerank", provider="jina")
    documents = ["nothing here", "refund policy and refund times", "the refund"]

    scores = reranker.rerank("what is the refund policy", documents)

    # The server lists results by relevance; the client puts them back in document order.
    assert scores == [0.0, 2.0, 2.0]
    body = server.requests[0].body
    assert body == {
        "model": "tiny-rerank",
        "query": "what is the refund policy",
        "documents": documents,
        "top_n": 3,
    }
    assert reranker.name == "jina:tiny-rerank"


def test_no_documents_need_no_request(server: ModelServer) -> None:
    assert HTTPReranker(server.base_url, KEY, "m").rerank("query", []) == []
    assert server.requests == []


def test_refused_key_is_unavailable_and_never_echoed(server: ModelServer) -> None:
    wrong = "jina_Wr0ngSecretKey987654321"
    with pytest.raises(ProviderUnavailable, match="refused the API key") as caught:
        HTTPReranker(server.base_url, wrong, "m").rerank("q", ["d"])

    assert wrong not in str(caught.value) and wrong[-4:] not in str(caught.value)


def test_rate_limit_then_success(server: ModelServer) -> None:
    server.failures = [Failure(429, {"Retry-After": "0"})]

    assert HTTPReranker(server.base_url, KEY, "m").rerank("refund", ["refund"]) == [1.0]
    assert len(server.requests) == 2


def test_an_answer_missing_a_document_is_a_provider_error(server: ModelServer) -> None:
    server.failures = [Failure(200, {}, {"results": [{"index": 0, "relevance_score": 0.9}]})]

    with pytest.raises(ProviderError, match="did not score every document"):
        HTTPReranker(server.base_url, KEY, "m").rerank("q", ["a", "b"])


def test_text_embeddings_inference_scores_are_read_too(server: ModelServer) -> None:
    server.failures = [
        Failure(200, {}, {"results": [{"index": 1, "score": 0.2}, {"index": 0, "score": 0.7}]})
    ]

    assert HTTPReranker(server.base_url, KEY, "m").rerank("q", ["a", "b"]) == [0.7, 0.2]
