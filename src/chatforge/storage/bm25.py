"""The one BM25 of every search path: memory, SQLite and PostgreSQL score keywords here.

The databases only find candidates (FTS5 and tsvector matches); the score of a chunk is always
this module's, from the chunk's own analysed terms and its chatbot's statistics, so a chatbot's
similarities do not depend on which path served it.

The formula is FTS5's: for each query term ``t`` held by the chunk,

    idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avgdl))

with ``tf`` the title and body frequencies weighted by field, ``length`` the chunk's terms + 1
(FTS5 counts the scope token), ``avgdl`` the chatbot's mean length, and ``idf`` with a prior of
pseudo-chunks (``idf``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

K1 = 1.2
#: Length normalisation: 0.5 rather than FTS5's 0.75, as chunks are short and of similar length
#: (SciFact train +0.0025 hybrid nDCG@10, both folds; bench/RESULTS.md).
B = 0.5

#: Pseudo-chunks added to a chatbot's statistics, each holding a term at ``PRIOR_RATE``. On a
#: knowledge base of a few chunks, plain idf says nothing: a term in every chunk gets 0 and an
#: absent one the most, so "How long is the warranty?" asked of a one-page handbook that never
#: says "long" looked unrelated to it. The prior moves such a base's idfs towards each other;
#: at SciFact's 10,000 chunks it changes nothing (nDCG@10 0.7451 to 0.7453; bench/RESULTS.md).
PRIOR_CHUNKS = 50
PRIOR_RATE = 0.05


def idf(total: int, containing: int) -> float:
    """ln((N - n + 0.5) / (n + 0.5)) over ``total`` chunks plus the prior's, floored at 1e-6."""
    chunks = total + PRIOR_CHUNKS
    holding = containing + PRIOR_CHUNKS * PRIOR_RATE
    return max(1e-6, math.log((chunks - holding + 0.5) / (holding + 0.5)))


@dataclass(frozen=True)
class Weights:
    """BM25's per-field weights on term frequency, and its length normalisation ``b``."""

    title: float = 1.0
    body: float = 1.0
    b: float = B


@dataclass(frozen=True)
class Statistics:
    """What BM25 needs of a chatbot besides a chunk's own terms: its indexed chunks, their
    total length (terms + 1 each), and how many of them hold each query term."""

    chunks: int
    length: int
    frequencies: Mapping[str, int]

    @property
    def avgdl(self) -> float:
        """The mean chunk length (1 for an empty chatbot)."""
        return self.length / self.chunks if self.chunks else 1.0

    def idf(self, term: str) -> float:
        """The term's idf, with the prior."""
        return idf(self.chunks, self.frequencies.get(term, 0))


def term_scores(
    term_idf: float,
    title_tf: np.ndarray,
    body_tf: np.ndarray,
    lengths: np.ndarray,
    avgdl: float,
    weights: Weights,
) -> np.ndarray:
    """One term's contribution to the score of each chunk (0 where the chunk lacks it).

    Computed in float64 whatever the inputs' type, so that every path gets the same bits.
    """
    tf = weights.title * title_tf.astype(np.float64) + weights.body * body_tf.astype(np.float64)
    norm = K1 * (1.0 - weights.b + weights.b * lengths.astype(np.float64) / avgdl)
    result: np.ndarray = term_idf * (tf * (K1 + 1.0)) / (tf + norm)
    return result


def score_chunks(
    terms: Sequence[str],
    chunks: Sequence[tuple[Sequence[str], Sequence[str]]],
    statistics: Statistics,
    weights: Weights,
) -> np.ndarray:
    """BM25 of a few chunks, given as their (title, body) terms; ``terms`` sorted and distinct.

    Adds the terms' contributions in the order of ``terms``, as ``Snapshot.bm25`` does.
    """
    lengths = np.array([len(t) + len(b) + 1 for t, b in chunks], dtype=np.float64)
    scores = np.zeros(len(chunks), dtype=np.float64)
    counted = [(_counts(title, terms), _counts(body, terms)) for title, body in chunks]
    for term in terms:
        title_tf = np.array([t.get(term, 0) for t, _ in counted], dtype=np.float64)
        body_tf = np.array([b.get(term, 0) for _, b in counted], dtype=np.float64)
        held = (title_tf + body_tf) > 0
        if not held.any():
            continue
        scores[held] += term_scores(
            statistics.idf(term),
            title_tf[held],
            body_tf[held],
            lengths[held],
            statistics.avgdl,
            weights,
        )
    return scores


def _counts(words: Sequence[str], wanted: Sequence[str]) -> dict[str, int]:
    keep = set(wanted)
    found: dict[str, int] = {}
    for word in words:
        if word in keep:
            found[word] = found.get(word, 0) + 1
    return found
