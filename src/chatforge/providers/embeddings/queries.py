"""Query embeddings under load: concurrent queries share one model call, repeats are remembered.

Every search embeds its query, one short text at a time. When many arrive at once (a burst of
chats), the model is far faster on one batch of them than on each in turn, so calls that arrive
while the model is busy wait and go in together, the way databases group commits. A lone query
pays nothing for this: it runs at once. Recent queries are also kept (the same suggested question
asked by many visitors is embedded once).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from chatforge.providers.embeddings.base import Embedder, Vectors

#: Most queries embedded in one model call.
MAX_BATCH = 64
#: Recent query vectors kept.
REMEMBERED = 4096


@dataclass(eq=False)
class _Waiting:
    text: str
    done: threading.Event = field(default_factory=threading.Event)
    vector: NDArray[np.float32] | None = None
    error: BaseException | None = None


class QueryEmbedder(Embedder):
    """Wraps an embedder: batches concurrent ``embed_query`` calls and remembers recent ones."""

    def __init__(self, inner: Embedder, *, remembered: int = REMEMBERED) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimensions = inner.dimensions
        self.max_tokens = inner.max_tokens
        self._remembered = remembered
        self._recent: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._waiting: list[_Waiting] = []
        self._busy = False
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> Vectors:
        return self.inner.embed(texts)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed_query(self, text: str) -> NDArray[np.float32]:
        with self._lock:
            known = self._recent.get(text)
            if known is not None:
                self._recent.move_to_end(text)
                return known
            mine = _Waiting(text)
            self._waiting.append(mine)
            lead = not self._busy
            self._busy = True
        if not lead:
            mine.done.wait()
        # Whoever finds the model free runs batches until its own query is answered, then
        # hands the model to the next waiter, if any (set free with ``lead`` in its error slot).
        while not mine.done.is_set() or isinstance(mine.error, _Lead):
            mine.done.clear()
            mine.error = None
            self._run_batch()
        if mine.error is not None:
            raise mine.error
        assert mine.vector is not None
        return mine.vector

    def _run_batch(self) -> None:
        with self._lock:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
        try:
            vectors = self.inner.embed([w.text for w in batch])
        except BaseException as exc:  # every waiter of the batch gets the model's error
            for waiting in batch:
                waiting.error = exc
        else:
            with self._lock:
                vectors.setflags(write=False)  # shared by every caller that asks the same
                for waiting, vector in zip(batch, vectors, strict=True):
                    waiting.vector = vector
                    self._recent[waiting.text] = vector
                while len(self._recent) > self._remembered:
                    self._recent.popitem(last=False)
        with self._lock:
            successor = self._waiting[0] if self._waiting else None
            if successor is None:
                self._busy = False
            else:
                successor.error = _Lead()
        for waiting in batch:
            waiting.done.set()
        if successor is not None:
            successor.done.set()


class _Lead(Exception):
    """Marks a waiter as the next to run the model (never raised)."""
