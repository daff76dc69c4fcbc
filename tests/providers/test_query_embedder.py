"""Concurrent query embeddings share model calls and give each caller its own vector."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from chatforge.errors import ProviderError
from chatforge.providers.embeddings import Embedder, Vectors
from chatforge.providers.embeddings.queries import QueryEmbedder

QUESTIONS = [f"How long does delivery to city number {n} take?" for n in range(24)]


class Recording(Embedder):
    """The real local model, with a record of the batches it was given."""

    def __init__(self, model: Embedder, fail_on: str | None = None) -> None:
        self.model = model
        self.name, self.dimensions, self.max_tokens = model.name, model.dimensions, model.max_tokens
        self.batches: list[list[str]] = []
        self.fail_on = fail_on
        self.release = threading.Event()

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.batches.append(list(texts))
        if len(self.batches) == 1:
            self.release.wait(10)  # hold the model busy while the others arrive
        if self.fail_on in texts:
            raise ProviderError("The embedding model failed.")
        return self.model.embed(texts)


def ask_all(embedder: QueryEmbedder, model: Recording, texts: list[str]) -> list[object]:
    """Ask the first text, and the rest while the model is busy with it."""
    with ThreadPoolExecutor(len(texts)) as pool:
        futures = [pool.submit(embedder.embed_query, texts[0])]
        while not model.batches:
            threading.Event().wait(0.01)
        futures += [pool.submit(embedder.embed_query, text) for text in texts[1:]]
        while len(embedder._waiting) < len(texts) - 1:
            threading.Event().wait(0.01)
        model.release.set()
        results: list[object] = []
        for future in futures:
            try:
                results.append(future.result(timeout=30))
            except ProviderError as exc:
                results.append(exc)
        return results


def test_concurrent_queries_share_model_calls_and_get_their_own_vectors(
    local_embedder: Embedder,
) -> None:
    model = Recording(local_embedder)
    embedder = QueryEmbedder(model)

    vectors = ask_all(embedder, model, QUESTIONS)

    expected = local_embedder.embed(QUESTIONS)
    for vector, want in zip(vectors, expected, strict=True):
        assert isinstance(vector, np.ndarray)
        assert np.allclose(vector, want, atol=1e-5)
    # The first query alone, then everyone who waited for it, together.
    assert model.batches == [QUESTIONS[:1], model.batches[1]]
    assert sorted(model.batches[1]) == sorted(QUESTIONS[1:])


def test_a_repeated_query_is_not_embedded_again(local_embedder: Embedder) -> None:
    model = Recording(local_embedder)
    model.release.set()
    embedder = QueryEmbedder(model)

    first = embedder.embed_query("Do you ship to Canada?")
    again = embedder.embed_query("Do you ship to Canada?")

    assert np.array_equal(first, again)
    assert len(model.batches) == 1
    with pytest.raises(ValueError):
        again[0] = 1.0  # shared between callers, so nobody may change it


def test_a_failed_batch_fails_its_queries_and_the_next_ones_still_run(
    local_embedder: Embedder,
) -> None:
    model = Recording(local_embedder, fail_on="a question the model fails on")
    embedder = QueryEmbedder(model)
    asked = [*QUESTIONS[:11], "a question the model fails on"]

    results = dict(zip(asked, ask_all(embedder, model, asked), strict=True))

    assert isinstance(results[asked[0]], np.ndarray)  # alone in the first batch
    assert all(isinstance(results[text], ProviderError) for text in asked[1:])
    assert isinstance(embedder.embed_query("After the failure"), np.ndarray)
