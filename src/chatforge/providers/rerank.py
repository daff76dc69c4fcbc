"""Rerankers: score how well each passage answers a query, to reorder retrieved chunks.

One interface, :class:`Reranker`, and a client for the rerank API that Cohere, Jina, vLLM,
text-embeddings-inference's Cohere route and LiteLLM share:
``POST /rerank {"model", "query", "documents"}`` answers
``{"results": [{"index", "relevance_score"}]}``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from chatforge.errors import ProviderError
from chatforge.providers.embeddings.endpoint import JSONEndpoint

KEY_HINT = "set the rerank API key setting to a valid key, or turn the rerank API off"


class Reranker(ABC):
    """A model that scores (query, passage) pairs.

    Attributes:
        name: The model as ``provider:model``.
    """

    name: str

    @abstractmethod
    def rerank(self, query: str, documents: Sequence[str]) -> list[float]:
        """Score each document against ``query``.

        Returns:
            One score per document, in the order of ``documents``; higher is more relevant.
            Scores compare within one call only (their scale depends on the model).

        Raises:
            ProviderError: The model failed.
            ProviderUnavailable: The model is not configured or cannot be reached.
        """


class HTTPReranker(Reranker):
    """A rerank model behind the common ``POST /rerank`` API.

    Args:
        base_url: Base URL of the API (``https://api.cohere.com/v2``, ``https://api.jina.ai/v1``,
            ``http://127.0.0.1:8000/v1`` for vLLM); ``/rerank`` is appended.
        api_key: Bearer key; None for servers that need none.
        model: The model name the server knows.
        timeout: Seconds to wait for one request.
        provider: The name's prefix (``"cohere"``, ``"jina"``).
        key_hint: What the user should do when the key is refused.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str,
        *,
        timeout: float = 30.0,
        provider: str = "http",
        key_hint: str = KEY_HINT,
    ) -> None:
        self.name = f"{provider}:{model}"
        self.model = model
        self.endpoint = JSONEndpoint(
            label="The rerank API",
            base_url=base_url,
            api_key=api_key,
            key_hint=key_hint,
            timeout=timeout,
        )

    def rerank(self, query: str, documents: Sequence[str]) -> list[float]:
        """Score each document in one request; see :meth:`Reranker.rerank`."""
        if not documents:
            return []
        answer = self.endpoint.post(
            "/rerank",
            # ``top_n`` as long as the list: Cohere and Jina return every result by default,
            # but some proxies default to fewer.
            {
                "model": self.model,
                "query": query,
                "documents": list(documents),
                "top_n": len(documents),
            },
        )
        return _scores(self.name, answer, len(documents))

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.endpoint.close()


def _scores(name: str, answer: Any, count: int) -> list[float]:
    """The score of each document from a rerank answer, which lists them by relevance."""
    results = answer.get("results") if isinstance(answer, dict) else answer
    if not isinstance(results, list):
        raise ProviderError(f"{name} answered without 'results'; is the base URL a rerank API?")
    scores: list[float | None] = [None] * count
    try:
        for result in results:
            # ``relevance_score`` is the Cohere/Jina name; text-embeddings-inference says ``score``.
            score = result.get("relevance_score", result.get("score"))
            index = int(result["index"])
            if not 0 <= index < count:
                raise IndexError(index)
            scores[index] = float(score)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise ProviderError(f"{name} answered rerank results in an unknown shape.") from exc
    if any(score is None for score in scores):
        raise ProviderError(f"{name} did not score every document ({count} sent).")
    return [score for score in scores if score is not None]
