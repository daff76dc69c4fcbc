"""Retrieval metrics with the BEIR / trec_eval definitions, and SQuAD's answer metrics.

nDCG@k (trec_eval's ``ndcg_cut``, which BEIR reports): the gain of a document is its graded
relevance, discounted by log2(rank + 1) with ranks from 1; the ideal DCG ranks the judged
documents by relevance. Recall@k: the share of the relevant
documents (relevance > 0) found in the top k. Queries without judgements are not scored.

Answers are scored as SQuAD v1.1's official script does: both texts are normalised (lower case,
punctuation and the articles a, an, the removed, white space collapsed); exact match is 1 when the
normalised texts are equal, token F1 is the F1 of their bags of tokens; both take the best over the
gold answers.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


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


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    lowered = text.lower()
    no_punctuation = "".join(ch for ch in lowered if ch not in _PUNCTUATION)
    no_articles = _ARTICLES.sub(" ", no_punctuation)
    return " ".join(no_articles.split())


def exact_match(prediction: str, golds: Iterable[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer, else 0.0."""
    predicted = normalize_answer(prediction)
    return max((float(predicted == normalize_answer(g)) for g in golds), default=0.0)


def token_f1(prediction: str, golds: Iterable[str]) -> float:
    """The best token F1 of the prediction against the gold answers (SQuAD's definition)."""
    return max((_f1(prediction, g) for g in golds), default=0.0)


def _f1(prediction: str, gold: str) -> float:
    predicted = normalize_answer(prediction).split()
    wanted = normalize_answer(gold).split()
    common = Counter(predicted) & Counter(wanted)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(predicted)
    recall = same / len(wanted)
    return 2 * precision * recall / (precision + recall)
