"""Fusion's pieces that rank candidates: each chunk's best cosine over its vector and windows."""

from __future__ import annotations

import numpy as np

from chatforge.rag.fusion import Windows, best_cosines


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_a_candidate_scores_its_best_vector_whether_chunk_or_window() -> None:
    query = unit(1, 0, 0)
    vectors = np.stack([unit(0, 1, 0), unit(1, 1, 0), unit(0, 0, 1), unit(1, 0, 0)])
    windows = Windows.of(
        [
            np.stack([unit(0, 1, 1), unit(1, 0.1, 0)]).astype(np.float16),  # a window matches
            np.zeros((0, 3), np.float32),  # no windows: its own vector
            np.stack([unit(0, 1, 1)]),  # its window is no closer than itself
            np.stack([unit(0, 1, 0), unit(0, 0, 1)]),  # itself is the best match
        ],
        3,
    )

    cosines = best_cosines(query, vectors, windows)

    assert np.allclose(cosines, [unit(1, 0.1, 0)[0], unit(1, 1, 0)[0], 0.0, 1.0], atol=1e-3)


def test_no_windows_at_all_is_the_plain_cosine() -> None:
    query = unit(1, 2, 3)
    vectors = np.stack([unit(3, 2, 1), unit(1, 2, 3)])

    cosines = best_cosines(query, vectors, Windows.of([np.zeros((0, 3))] * 2, 3))

    assert np.allclose(cosines, vectors @ query)
