"""The OpenAI-compatible embedder against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import numpy as np
import pytest
from tests.providers.servers import Failure, ModelServer, hashed_vector, model_server

from chatforge.errors import ProviderError, ProviderUnavailable
from chatforge.providers.embeddings import OpenAICompatibleEmbedder, normalise

KEY = "sk-test-Sup3rSecretKeyValue0123456789"


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with model_server(api_key=KEY, dimensions=16) as running:
        yield running


def make(server: ModelServer, **options: object) -> OpenAICompatibleEmbedder:
    settings: dict[str, object] = {
        "model": "tiny-embed",
        "base_url": server.base_url,
        "api_key": KEY,
        "dimensions": 16,
        "batch_size": 2,
        "timeout": 5.0,
    }
    settings.update(options)
    return OpenAICompatibleEmbedder(**settings)  # type: ignore[arg-type]


def assert_secret_kept(error: BaseException) -> None:
    text = str(error) + repr(error.args)
    assert KEY not in text
    assert KEY[-4:] not in text  # not even the tail a provider echoes


def test_embeds_in_batches_in_input_order_as_unit_vectors(server: ModelServer) -> None:
    texts = ["alpha beta", "gamma", "delta epsilon zeta", "", "beta alpha"]

    vectors = make(server).embed(texts)

    assert vectors.shape == (5, 16) and vectors.dtype == np.float32
    expected = normalise(np.array([hashed_vector(t or " ", 16) for t in texts]))
    np.testing.assert_allclose(vectors, expected, atol=1e-6)
    assert [len(r.body["input"]) for r in server.requests] == [2, 2, 1]
    request = server.requests[0]
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body["model"] == "tiny-embed"
    assert "dimensions" not in request.body  # unknown servers may reject the field


def test_query_embedding_is_one_row(server: ModelServer) -> None:
    query = make(server).embed_query("alpha beta")

    assert query.shape == (16,)
    assert float(np.linalg.norm(query)) == pytest.approx(1.0, abs=1e-6)


def test_refused_key_names_the_setting_and_never_the_key(server: ModelServer) -> None:
    wrong = "sk-wrong-An0therSecretKey98765"
    with pytest.raises(ProviderUnavailable) as caught:
        make(server, api_key=wrong).embed(["hello"])

    assert "CHATFORGE_EMBEDDINGS__API_KEY" in caught.value.message
    assert "401" in caught.value.message
    assert wrong not in str(caught.value) and wrong[-4:] not in str(caught.value)
    assert_secret_kept(caught.value)


def test_rate_limit_is_retried_after_the_servers_retry_after(server: ModelServer) -> None:
    server.failures = [Failure(429, {"Retry-After": "0.3"}, {"error": {"message": "slow down"}})]
    started = time.monotonic()

    vectors = make(server).embed(["alpha"])

    assert time.monotonic() - started >= 0.3
    assert vectors.shape == (1, 16)
    assert len(server.requests) == 2


def test_server_errors_are_retried_twice_then_reported_without_the_key(
    server: ModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    echo = {"error": {"message": f"upstream refused Authorization: Bearer {KEY}"}}
    server.failures = [Failure(500, {}, echo), Failure(503, {}, echo), Failure(502, {}, echo)]

    with pytest.raises(ProviderError) as caught:
        make(server, model="text-embedding-3-small", dimensions=None).embed(["alpha"])

    assert type(caught.value) is ProviderError
    assert "502" in caught.value.message and "upstream refused" not in caught.value.message
    assert "upstream refused" in caplog.text and KEY not in caplog.text
    assert len(server.requests) == 3
    assert_secret_kept(caught.value)


def test_a_retry_after_too_long_to_wait_fails_at_once_and_passes_it_on(
    server: ModelServer,
) -> None:
    server.failures = [Failure(429, {"Retry-After": "600"}, {})]

    with pytest.raises(ProviderUnavailable) as caught:
        make(server).embed(["alpha"])

    assert len(server.requests) == 1
    assert caught.value.status == 503  # as a rate-limited chat model is
    assert caught.value.headers == {"Retry-After": "600"}


def test_a_timeout_is_a_provider_error(server: ModelServer) -> None:
    server.delay = 1.0

    with pytest.raises(ProviderError, match=r"did not answer within 0\.2 seconds") as caught:
        make(server, timeout=0.2).embed(["alpha"])

    assert type(caught.value) is ProviderError


def test_a_server_that_is_not_running_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    embedder = OpenAICompatibleEmbedder(
        model="m", base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, dimensions=4
    )

    with pytest.raises(ProviderUnavailable, match="cannot be reached") as caught:
        embedder.embed(["alpha"])

    assert_secret_kept(caught.value)


def test_dimensions_of_an_unknown_model_are_asked_of_the_server(server: ModelServer) -> None:
    embedder = make(server, dimensions=None)

    assert embedder.dimensions == 16
    assert len(server.requests) == 1


def test_shortened_openai_v3_vectors_are_requested(server: ModelServer) -> None:
    embedder = make(server, model="text-embedding-3-small", dimensions=8)

    assert embedder.embed(["alpha"]).shape == (1, 8)
    assert server.requests[0].body["dimensions"] == 8
    assert embedder.name == "openai:text-embedding-3-small"
    assert embedder.max_tokens == 8191


def test_vectors_of_the_wrong_size_are_a_provider_error(server: ModelServer) -> None:
    embedder = make(server, model="text-embedding-ada-002", dimensions=None)  # known: 1536

    with pytest.raises(ProviderError, match="16 dimensions where 1536 were expected"):
        embedder.embed(["alpha"])


def test_an_answer_that_is_not_embeddings_is_a_provider_error(server: ModelServer) -> None:
    server.failures = [Failure(200, {}, {"choices": []})]

    with pytest.raises(ProviderError, match="one embedding per input"):
        make(server).embed(["alpha"])


def test_count_tokens_estimates_with_wordpiece(server: ModelServer) -> None:
    assert make(server).count_tokens("Hello world") == 4
    assert server.requests == []
