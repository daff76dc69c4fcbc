"""Embeddings from any OpenAI-compatible ``POST /embeddings`` endpoint.

OpenAI itself, and the servers that copy its wire format (Ollama, vLLM, llama.cpp, LM Studio,
text-embeddings-inference, LiteLLM). The request is ``{"model", "input": [...]}``; the answer is
``{"data": [{"index", "embedding"}]}``. Vectors are normalised here, because not every server
returns unit vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from chatforge.errors import ProviderError
from chatforge.providers.embeddings.base import Embedder, Vectors, normalise
from chatforge.providers.embeddings.endpoint import JSONEndpoint

OPENAI_BASE_URL = "https://api.openai.com/v1"
KEY_HINT = "set CHATFORGE_EMBEDDINGS__API_KEY to a valid key, or use the offline model 'local'"


@dataclass(frozen=True)
class KnownModel:
    """What a remote model accepts and returns, for models whose size need not be asked."""

    dimensions: int
    max_tokens: int


KNOWN_MODELS = {
    "text-embedding-3-small": KnownModel(1536, 8191),
    "text-embedding-3-large": KnownModel(3072, 8191),
    "text-embedding-ada-002": KnownModel(1536, 8191),
    "nomic-embed-text": KnownModel(768, 8192),
    "mxbai-embed-large": KnownModel(1024, 512),
    "all-minilm": KnownModel(384, 256),
}
#: Input limit assumed for a model not in :data:`KNOWN_MODELS`: what most embedding models take.
DEFAULT_MAX_TOKENS = 512


class OpenAICompatibleEmbedder(Embedder):
    """An embedding model behind an OpenAI-compatible ``/embeddings`` endpoint.

    Args:
        model: The model name the server knows (``text-embedding-3-small``).
        base_url: Base URL of the API, with its ``/v1``.
        api_key: Bearer key; None for servers that need none.
        dimensions: Vector length. None: taken from :data:`KNOWN_MODELS`, else asked of the
            server with one short request at construction. For OpenAI's ``text-embedding-3``
            models a smaller value than the model's own is requested from the server.
        batch_size: Texts per request.
        timeout: Seconds to wait for one request.
        provider: The name's prefix (``"openai"``, ``"ollama"``).
        max_tokens: The model's input limit; None: from :data:`KNOWN_MODELS`, else 512.
        key_hint: What the user should do when the key is refused.

    Raises:
        ProviderError: ``dimensions`` had to be asked of the server, and it failed.
        ProviderUnavailable: ``dimensions`` had to be asked of the server, and it refused the
            key or could not be reached.
    """

    def __init__(
        self,
        *,
        model: str,
        base_url: str = OPENAI_BASE_URL,
        api_key: str | None = None,
        dimensions: int | None = None,
        batch_size: int = 128,
        timeout: float = 60.0,
        provider: str = "openai",
        max_tokens: int | None = None,
        key_hint: str = KEY_HINT,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        known = KNOWN_MODELS.get(model)
        self.model = model
        self.name = f"{provider}:{model}"
        self.batch_size = batch_size
        self.max_tokens = max_tokens or (known.max_tokens if known else DEFAULT_MAX_TOKENS)
        self.endpoint = JSONEndpoint(
            label="The embeddings API",
            base_url=base_url,
            api_key=api_key,
            key_hint=key_hint,
            timeout=timeout,
        )
        # Only OpenAI's v3 models shorten their vectors on request; other servers may reject
        # the field, so it is sent only when it asks for something.
        self._request_dimensions = (
            dimensions
            if dimensions is not None
            and known is not None
            and dimensions != known.dimensions
            and model.startswith("text-embedding-3")
            else None
        )
        if dimensions is not None:
            self.dimensions = dimensions
        elif known is not None:
            self.dimensions = known.dimensions
        else:
            self.dimensions = int(self._request(["dimensions"]).shape[1])

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed texts, ``batch_size`` per request, in the order of ``texts``."""
        result = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            vectors = self._request(batch)
            if vectors.shape[1] != self.dimensions:
                raise ProviderError(
                    f"{self.name} returned vectors of {vectors.shape[1]} dimensions where "
                    f"{self.dimensions} were expected; check the model name and its dimensions."
                )
            result[start : start + len(batch)] = normalise(vectors)
        return result

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.endpoint.close()

    def _request(self, texts: list[str]) -> NDArray[np.float32]:
        """One ``/embeddings`` call: a row per text, in the order of ``texts``."""
        # OpenAI rejects an empty string in ``input``; a blank embeds to the same as empty.
        body: dict[str, Any] = {"model": self.model, "input": [t or " " for t in texts]}
        if self._request_dimensions is not None:
            body["dimensions"] = self._request_dimensions
        answer = self.endpoint.post("/embeddings", body)
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, list) or len(data) != len(texts):
            raise ProviderError(
                f"{self.name} answered without one embedding per input "
                f"({len(texts)} sent); is the base URL an OpenAI-compatible API?"
            )
        try:
            # Servers may answer out of order; ``index`` says which input a vector belongs to.
            ordered = sorted(data, key=lambda item: int(item.get("index", 0)))
            vectors = np.asarray([item["embedding"] for item in ordered], dtype=np.float32)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ProviderError(f"{self.name} answered embeddings in an unknown shape.") from exc
        if vectors.ndim != 2 or vectors.shape[1] == 0:
            raise ProviderError(f"{self.name} answered embeddings in an unknown shape.")
        return vectors
