"""Retrieval metrics against hand computations (BEIR / trec_eval definitions)."""

from __future__ import annotations

import math

import pytest

from chatforge.rag.metrics import ndcg_at_k, percentile, recall_at_k


def test_ndcg_of_a_perfect_ranking_is_one() -> None:
    assert ndcg_at_k(["a", "b", "x"], {"a": 2, "b": 1}) == pytest.approx(1.0)


def test_ndcg_uses_graded_gain_and_log2_discount() -> None:
    # rel 1 at rank 2, rel 2 at rank 3; ideal: rel 2 at rank 1, rel 1 at rank 2.
    dcg = 1 / math.log2(3) + 2 / math.log2(4)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)

    assert ndcg_at_k(["x", "b", "a"], {"a": 2, "b": 1}) == pytest.approx(dcg / idcg)


def test_ndcg_cuts_at_k_and_ignores_zero_judgements() -> None:
    ranking = [f"d{i}" for i in range(10)] + ["a"]

    assert ndcg_at_k(ranking, {"a": 1, "d0": 0}, k=10) == 0.0


def test_recall_counts_relevant_found_in_top_k() -> None:
    assert recall_at_k(["a", "x", "b"], {"a": 1, "b": 1, "c": 1, "z": 0}, k=2) == pytest.approx(
        1 / 3
    )


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([10.0, 20.0, 30.0, 40.0], 50) == pytest.approx(25.0)
    assert percentile([10.0, 20.0, 30.0, 40.0], 95) == pytest.approx(38.5)
