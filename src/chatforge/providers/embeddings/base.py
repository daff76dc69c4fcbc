"""The embedding provider interface: texts in, unit vectors out.

Every embedding model, local or remote, is an :class:`Embedder`. Its vectors are L2-normalised
``float32`` rows, so that a dot product is the cosine similarity and every index (sqlite-vec,
pgvector) can use the same distance whatever the model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from chatforge.providers.embeddings.wordpiece import count_wordpiece_tokens

#: Rows of unit vectors, one per text: shape ``(n, dimensions)``, ``float32``.
Vectors = NDArray[np.float32]


class Embedder(ABC):
    """An embedding model.

    Capabilities are class or instance attributes, known without loading the model, so that the
    storage layer can size its vector index before the first text is embedded.

    Attributes:
        name: The model as ``provider:model`` (``"local:all-MiniLM-L6-v2-int8"``), stored beside
            the vectors so that vectors of two models are never compared.
        dimensions: The length of every vector.
        max_tokens: The model's input limit in its own tokens, special tokens included; longer
            texts are truncated, so chunks should be cut to at most this many.
    """

    name: str
    dimensions: int
    max_tokens: int

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed texts.

        Args:
            texts: The texts, in any order and of any length (longer ones are truncated).

        Returns:
            An array of shape ``(len(texts), dimensions)``, ``float32``, each row L2-normalised,
            in the order of ``texts``.

        Raises:
            ProviderError: A remote model failed.
            ProviderUnavailable: A remote model is not configured or cannot be reached.
        """

    def embed_query(self, text: str) -> NDArray[np.float32]:
        """Embed one search query; an array of shape ``(dimensions,)``."""
        return self.embed([text]).reshape(-1)

    def count_tokens(self, text: str) -> int:
        """Count the tokens of ``text`` as the model sees it, special tokens included.

        Used to size chunks. The default counts all-MiniLM-L6-v2's WordPiece tokens, an estimate
        that errs on the high side for the byte-pair encodings of remote models (WordPiece splits
        rare words into more pieces), so chunks sized with it stay within their limit.
        """
        return count_wordpiece_tokens(text)


def normalise(matrix: NDArray[np.floating]) -> Vectors:
    """L2-normalise each row, leaving an all-zero row at zero instead of dividing by zero."""
    rows = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    unit: Vectors = rows / np.maximum(norms, np.float32(1e-12))
    return unit
