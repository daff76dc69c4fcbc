"""Retrieval metrics with the BEIR / trec_eval definitions.

nDCG@k (trec_eval's ``ndcg_cut``, which BEIR reports): the gain of a document is its graded
relevance, discounted by log2(rank + 1) with ranks from 1; the ideal DCG ranks the judged
documents by relevance. Recall@k: the share of the relevant
documents (relevance > 0) found in the top k. Queries without judgements are not scored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def ndcg_at_k(ranking: Sequence[str], relevance: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k of one ranked list of document ids against graded judgements."""
    dcg = sum(
        max(relevance.get(doc, 0), 0) / math.log2(rank + 2) for rank, doc in enumerate(ranking[:k])
    )
    ideal = sorted((r for r in relevance.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(rank + 2) for rank, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranking: Sequence[str], relevance: Mapping[str, int], k: int = 100) -> float:
    """Recall@k: relevant documents in the top k over all relevant documents."""
    relevant = {doc for doc, r in relevance.items() if r > 0}
    if not relevant:
        return 0.0
    return len(relevant & set(ranking[:k])) / len(relevant)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation, as numpy's default."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
