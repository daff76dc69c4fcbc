"""Hybrid fusion: keyword and vector evidence combined into one calibrated score in [0, 1].

Pure functions over numpy arrays, so that the evaluation bench and the product share them. The
recipe and every constant were chosen by measurement on SciFact's train split (bench/RESULTS.md):

1. candidates are the union of the keyword top-k and the vector top-k chunks;
2. each candidate gets its cosine similarity to the query vector (its best window's, when a
   window of the chunk is closer than the whole) and its BM25 score (zero when it matched no
   term);
3. BM25 is made comparable across queries by dividing it by its own upper bound for the query,
   (k1 + 1) times the sum of the query terms' idf, which puts it in [0, 1) without looking at
   the other candidates; cosine is clipped to [floor, 1] and rescaled to [0, 1];
4. the fused score is a convex combination of the two (0.5 cosine, 0.5 BM25 by 2-fold
   cross-validation once windows were added; 0.4 / 0.6 before), optionally after one round of
   dense pseudo-relevance feedback (Rocchio: the query vector moved towards the top documents).

Because no step depends on the other candidates' scores, a score means the same thing for every
query, and a threshold on it is meaningful.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FusionParams:
    """The constants of the hybrid score."""

    vector_weight: float = 0.5
    cosine_floor: float = 0.0
    prf_docs: int = 0
    prf_beta: float = 1.0


#: BM25's k1 (FTS5's fixed value): a term's contribution is below (k1 + 1) * idf.
BM25_K1 = 1.2


def normalised_bm25(scores: np.ndarray, idf_sum: float) -> np.ndarray:
    """BM25 divided by its upper bound for the query, (k1 + 1) * sum of idf: in [0, 1)."""
    result: np.ndarray = np.clip(
        np.maximum(scores, 0.0) / max((BM25_K1 + 1.0) * idf_sum, 1e-9), 0.0, 1.0
    )
    return result


def rescale_cosine(cosines: np.ndarray, floor: float) -> np.ndarray:
    """Cosine similarity mapped from [floor, 1] onto [0, 1] (clipped)."""
    result: np.ndarray = np.clip((cosines - floor) / (1.0 - floor), 0.0, 1.0)
    return result


def fuse(cosines: np.ndarray, bm25: np.ndarray, idf_sum: float, params: FusionParams) -> np.ndarray:
    """The fused score of each candidate, in [0, 1]."""
    dense = rescale_cosine(cosines, params.cosine_floor)
    keyword = normalised_bm25(bm25, idf_sum)
    result: np.ndarray = params.vector_weight * dense + (1.0 - params.vector_weight) * keyword
    return result


@dataclass(frozen=True)
class Windows:
    """The candidates' window vectors, stacked: row ``i`` belongs to candidate ``owners[i]``."""

    vectors: np.ndarray  # float32 (m, d)
    owners: np.ndarray  # int64 (m,), ascending

    @classmethod
    def of(cls, per_candidate: Sequence[np.ndarray], dimensions: int) -> Windows:
        """Stack each candidate's windows (``(n, d)``, any float type, ``n`` may be 0)."""
        counts = np.fromiter((len(w) for w in per_candidate), dtype=np.int64)
        if not counts.sum():
            return cls(np.zeros((0, dimensions), np.float32), np.zeros(0, np.int64))
        stacked = np.concatenate([w for w in per_candidate if len(w)]).astype(np.float32)
        return cls(stacked, np.repeat(np.arange(len(counts)), counts))


def best_cosines(query: np.ndarray, vectors: np.ndarray, windows: Windows) -> np.ndarray:
    """Each candidate's cosine to the query: its own vector's or its best window's, the higher.

    Args:
        query: The unit query vector.
        vectors: The candidates' vectors (rows, unit length).
        windows: The candidates' windows.
    """
    cosines: np.ndarray = vectors @ query
    if len(windows.owners):
        owners = windows.owners
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        best = np.maximum.reduceat(windows.vectors @ query, starts)
        cosines[owners[starts]] = np.maximum(cosines[owners[starts]], best)
    return cosines


def rocchio(
    query: np.ndarray,
    vectors: np.ndarray,
    fused: np.ndarray,
    groups: Sequence[str],
    docs: int,
    beta: float,
) -> np.ndarray:
    """The query vector moved towards the best chunk of each of the top ``docs`` documents.

    Args:
        query: The unit query vector.
        vectors: Candidate chunk vectors (rows, unit length).
        fused: First-stage fused scores of the candidates.
        groups: The document (knowledge item) of each candidate; each document counts once.
        docs: How many top documents feed back.
        beta: Weight of their mean against the query.
    """
    chosen: list[int] = []
    seen: set[str] = set()
    for index in np.argsort(-fused, kind="stable"):
        if groups[index] in seen:
            continue
        seen.add(groups[index])
        chosen.append(int(index))
        if len(chosen) == docs:
            break
    if not chosen:
        return query
    moved = query + beta * vectors[chosen].mean(axis=0)
    result: np.ndarray = (moved / max(float(np.linalg.norm(moved)), 1e-12)).astype(np.float32)
    return result
