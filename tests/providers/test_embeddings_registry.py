"""Embedding models by ``provider:model`` name."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from tests.providers.servers import model_server

from chatforge.errors import ProviderUnavailable, ValidationFailed
from chatforge.providers.embeddings import (
    Embedder,
    EmbedderOptions,
    LocalMiniLMEmbedder,
    OpenAICompatibleEmbedder,
    Vectors,
    make_embedder,
    register_embedder,
)


@pytest.mark.parametrize("spec", ["local", "local:all-MiniLM-L6-v2-int8", " local "])
def test_local_names_build_the_offline_model(spec: str) -> None:
    embedder = make_embedder(spec, api_key=None, base_url=None, threads=1, batch_size=4)

    assert isinstance(embedder, LocalMiniLMEmbedder)
    assert (embedder.threads, embedder.batch_size) == (1, 4)


@pytest.mark.parametrize("spec", ["", "bert", "local:bge-small", "cohere:embed-v3", "openai:"])
def test_unknown_names_are_a_validation_error_naming_the_setting(spec: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        make_embedder(spec, api_key=None, base_url=None, threads=None, batch_size=8)

    assert caught.value.details[0]["field"] == "CHATFORGE_EMBEDDINGS__MODEL"


def test_openai_without_a_key_says_which_setting_to_set() -> None:
    with pytest.raises(ProviderUnavailable, match="CHATFORGE_EMBEDDINGS__API_KEY"):
        make_embedder(
            "openai:text-embedding-3-small", api_key=None, base_url=None, threads=None, batch_size=8
        )


def test_openai_compatible_needs_a_base_url() -> None:
    with pytest.raises(ValidationFailed, match="CHATFORGE_EMBEDDINGS__BASE_URL"):
        make_embedder(
            "openai-compatible:m", api_key=None, base_url=None, threads=None, batch_size=8
        )


def test_openai_names_reach_any_compatible_server_by_base_url() -> None:
    with model_server(dimensions=12) as server:
        embedder = make_embedder(
            "openai:my-embedder", api_key=None, base_url=server.base_url, threads=None, batch_size=8
        )
        other = make_embedder(
            "ollama:nomic-embed-text", api_key=None, base_url=server.base_url, batch_size=8
        )

        assert isinstance(embedder, OpenAICompatibleEmbedder)
        assert (embedder.name, embedder.dimensions) == ("openai:my-embedder", 12)
        assert embedder.embed(["a b", "c"]).shape == (2, 12)
        assert (other.name, other.dimensions) == ("ollama:nomic-embed-text", 768)


class ConstantEmbedder(Embedder):
    """A scripted model, registered as a plugin would register its own."""

    name = "constant:one"
    dimensions = 2
    max_tokens = 10

    def embed(self, texts: Sequence[str]) -> Vectors:
        return np.tile(np.array([[0.6, 0.8]], dtype=np.float32), (len(texts), 1))


def test_a_registered_provider_is_built_by_name() -> None:
    seen: list[tuple[str, EmbedderOptions]] = []

    def factory(model: str, options: EmbedderOptions) -> Embedder:
        seen.append((model, options))
        return ConstantEmbedder()

    register_embedder("constant", factory)
    embedder = make_embedder("constant:one", api_key="k", base_url=None, threads=2, batch_size=5)

    assert embedder.embed_query("x").tolist() == pytest.approx([0.6, 0.8])
    assert seen[0][0] == "one" and seen[0][1].batch_size == 5
    assert "k" not in repr(seen[0][1])  # the key stays out of reprs and so of logs
