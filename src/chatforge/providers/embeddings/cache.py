"""A persistent cache in front of an embedder, for evaluations that ingest the same texts again.

Vectors are keyed by the embedder's name and the SHA-256 of the text, in a small SQLite file, so a
second run (another database, other fusion settings) embeds nothing it has embedded before. The
server does not use it: its texts are embedded once and kept with their chunks.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import sqlean

from chatforge.providers.embeddings.base import Embedder


class CachedEmbedder(Embedder):
    """Wraps an embedder; texts seen before come from the cache file."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimensions = inner.dimensions
        self.max_tokens = inner.max_tokens
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlean.connect(str(path), check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, v BLOB)")

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.name}\x1f{text}".encode()).hexdigest()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                batch = keys[start : start + 500]
                marks = ",".join("?" * len(batch))
                for key, blob in self._db.execute(
                    f"SELECT key, v FROM vectors WHERE key IN ({marks})",  # noqa: S608
                    batch,
                ):
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        missing = [i for i, key in enumerate(keys) if key not in found]
        if missing:
            vectors = self.inner.embed([texts[i] for i in missing])
            with self._lock:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                    [
                        (keys[i], v.astype(np.float32).tobytes())
                        for i, v in zip(missing, vectors, strict=True)
                    ],
                )
                self._db.commit()
            for i, vector in zip(missing, vectors, strict=True):
                found[keys[i]] = vector
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.stack([found[key] for key in keys]).astype(np.float32)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)
