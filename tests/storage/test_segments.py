"""Segments: new chunks in small segments, removed ones masked, merges that change no score."""

from __future__ import annotations

import numpy as np
import pytest

from chatforge.storage.search import Weights, pack_embedding, unpack_embedding
from chatforge.storage.segments import (
    APPROXIMATE_FROM,
    ChunkTerms,
    Snapshot,
    best,
    build_segment,
    merge_segments,
    plan_merge,
)

WORDS = [f"w{n}" for n in range(60)]
DIMENSIONS = 8


def chunks(first_id: int, count: int, seed: int) -> list[ChunkTerms]:
    rng = np.random.default_rng(seed)
    made = []
    for n in range(count):
        vector = rng.normal(size=DIMENSIONS).astype(np.float32)
        windows = rng.normal(size=(int(rng.integers(0, 4)), DIMENSIONS)).astype(np.float32)
        made.append(
            ChunkTerms(
                chunk_id=first_id + n,
                title_terms=list(rng.choice(WORDS, size=int(rng.integers(1, 4)))),
                body_terms=list(rng.choice(WORDS, size=int(rng.integers(5, 30)))),
                vector=vector / np.linalg.norm(vector),
                item_id=f"item-{first_id + n}",
                item_type="text",
                windows=windows,
            )
        )
    return made


def reference_bm25(live: list[ChunkTerms], terms: list[str], weights: Weights) -> dict[int, float]:
    """FTS5's BM25 written out plainly, over the live chunks only."""
    lengths = {c.chunk_id: len(c.title_terms) + len(c.body_terms) + 1 for c in live}
    avgdl = sum(lengths.values()) / len(live)
    scores = {}
    for chunk in live:
        total = 0.0
        for term in terms:
            df = sum(1 for c in live if term in c.title_terms or term in c.body_terms)
            # with the prior: 50 pseudo-chunks, 2.5 of which hold the term
            idf = max(1e-6, np.log((len(live) + 50 - df - 2.5 + 0.5) / (df + 2.5 + 0.5)))
            tf = weights.title * chunk.title_terms.count(term)
            tf += weights.body * chunk.body_terms.count(term)
            if tf:
                norm = 1.2 * (1 - weights.b + weights.b * lengths[chunk.chunk_id] / avgdl)
                total += idf * tf * 2.2 / (tf + norm)
        scores[chunk.chunk_id] = total
    return scores


def test_scores_over_segments_and_masks_equal_the_formula_over_live_chunks() -> None:
    first, second = chunks(1, 40, seed=1), chunks(41, 15, seed=2)
    removed = {3, 7, 42, 50}
    segments = [build_segment(first, DIMENSIONS), build_segment(second, DIMENSIONS)]
    alive = [~np.isin(s.ids, list(removed)) for s in segments]
    snapshot = Snapshot(1, segments, alive)
    live = [c for c in first + second if c.chunk_id not in removed]
    weights = Weights(title=2.0, body=1.0, b=0.5)

    scores = snapshot.bm25(["w1", "w7", "w33"], weights)
    expected = reference_bm25(live, ["w1", "w7", "w33"], weights)

    for slot, chunk_id in enumerate(snapshot.ids.tolist()):
        assert scores[slot] == pytest.approx(expected.get(chunk_id, 0.0), rel=1e-5)
    assert snapshot.total == len(live)


def test_merging_segments_changes_no_score() -> None:
    segments = [build_segment(chunks(1 + 20 * n, 20, seed=n), DIMENSIONS) for n in range(3)]
    alive = [np.ones(20, dtype=bool) for _ in segments]
    alive[1][[2, 5, 9]] = False
    query = np.ones(DIMENSIONS, dtype=np.float32) / np.sqrt(DIMENSIONS)
    before = Snapshot(1, segments, alive)

    merged = merge_segments(segments, alive)
    after = Snapshot(2, [merged], [np.ones(len(merged.ids), dtype=bool)])

    assert len(merged.ids) == 57
    live_before = before.ids[before.live]
    for terms in (["w2"], ["w5", "w40", "w59"]):
        score_before = before.bm25(terms, Weights())[before.live]
        score_after = after.bm25(terms, Weights())
        assert dict(zip(after.ids.tolist(), score_after, strict=True)) == pytest.approx(
            dict(zip(live_before.tolist(), score_before, strict=True))
        )
    slots_after, cos_after = after.nearest(query, 10)
    slots_before, cos_before = before.nearest(query, 10)
    assert after.ids[slots_after].tolist() == before.ids[slots_before].tolist()
    assert cos_after == pytest.approx(cos_before)
    assert not set(before.ids[slots_before].tolist()) - set(live_before.tolist())


def test_each_chunk_keeps_its_own_windows_through_merges() -> None:
    made = [chunks(1 + 20 * n, 20, seed=n) for n in range(3)]
    segments = [build_segment(c, DIMENSIONS) for c in made]
    alive = [np.ones(20, dtype=bool) for _ in segments]
    alive[0][[0, 7]] = False
    alive[2][[3, 19]] = False

    # Out of id order, so that the merge must reorder the chunks and their windows.
    merged = merge_segments(segments[::-1], alive[::-1])

    held = Snapshot(2, [merged], [np.ones(len(merged.ids), dtype=bool)]).chunks_of(
        [c.chunk_id for group in made for c in group]
    )
    removed = {1, 8, 44, 60}
    assert set(held) == {c.chunk_id for group in made for c in group} - removed
    for chunk in (c for group in made for c in group if c.chunk_id not in removed):
        assert chunk.windows is not None
        # Held in half precision: within 1e-3 of what was stored, far from any other chunk's.
        np.testing.assert_allclose(held[chunk.chunk_id].windows, chunk.windows, atol=2e-3)
        np.testing.assert_array_equal(held[chunk.chunk_id].vector, chunk.vector)
    assert len(merged.windows) == sum(len(held[i].windows) for i in held)


def test_too_many_segments_or_too_many_removals_are_merged() -> None:
    big = build_segment(chunks(1, 200, seed=1), DIMENSIONS)
    smalls = [build_segment(chunks(300 + 5 * n, 5, seed=n), DIMENSIONS) for n in range(6)]
    all_alive = [np.ones(len(s.ids), dtype=bool) for s in [big, *smalls]]

    assert plan_merge([big, *smalls[:5]], all_alive[:6]) == []
    mostly_removed = np.zeros(200, dtype=bool)
    mostly_removed[:20] = True
    # Seven segments: the six small ones merge, the large one stays...
    assert plan_merge([big, *smalls], all_alive) == [1, 2, 3, 4, 5, 6]
    # ...unless together they weigh a quarter of its live chunks.
    assert plan_merge([big, *smalls], [mostly_removed, *all_alive[1:]]) == list(range(7))
    assert plan_merge([big, smalls[0]], [mostly_removed, all_alive[1]]) == [0]


def test_large_segments_rescore_their_shortlist_exactly() -> None:
    rng = np.random.default_rng(3)
    count = APPROXIMATE_FROM
    vectors = rng.normal(size=(count, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    segment = build_segment(
        [ChunkTerms(n + 1, [], ["w1"], vectors[n], "item", "text") for n in range(count)],
        dimensions=64,
    )
    snapshot = Snapshot(1, [segment], [np.ones(count, dtype=bool)])
    query = vectors[1234]

    slots, cosines = snapshot.nearest(query, 10)
    exact = vectors @ query
    allowed = np.zeros(count, dtype=bool)
    allowed[::7] = True
    filtered_slots, _ = snapshot.nearest(query, 10, allowed)

    assert segment.projected is not None
    assert snapshot.ids[slots[0]] == 1235  # the vector itself, cosine 1
    assert cosines == pytest.approx(exact[slots], abs=1e-5)
    assert len(set(slots.tolist()) & set(best(exact, 10).tolist())) >= 8
    # A filter searches exactly among the allowed chunks.
    assert filtered_slots.tolist() == best(np.where(allowed, exact, -np.inf), 10).tolist()


def test_a_tiny_knowledge_base_still_tells_matching_terms_from_missing_ones() -> None:
    vector = np.ones(DIMENSIONS, dtype=np.float32) / np.sqrt(DIMENSIONS)
    only = ChunkTerms(1, ["handbook"], ["warranti", "two", "year", "kettl"], vector, "i", "text")
    snapshot = Snapshot(1, [build_segment([only], DIMENSIONS)], [np.ones(1, dtype=bool)])

    statistics = snapshot.statistics(["long", "warranti"])
    matched, missing = statistics.idf("warranti"), statistics.idf("long")

    # Plain idf would give 0 to a term of the only chunk, making every question with one
    # missing word look unrelated to the whole knowledge base.
    assert 0.8 * missing < matched < missing
    assert snapshot.bm25(["warranti"], Weights())[0] > 0.5 * matched


def test_a_stored_embedding_is_the_vector_then_its_windows() -> None:
    vector = np.arange(DIMENSIONS, dtype=np.float32)
    windows = np.ones((3, DIMENSIONS), dtype=np.float32)

    got_vector, got_windows = unpack_embedding(pack_embedding(vector, windows), DIMENSIONS)
    np.testing.assert_array_equal(got_vector, vector)
    np.testing.assert_array_equal(got_windows, windows)
    # A chunk stored before windows existed is its vector alone.
    old_vector, no_windows = unpack_embedding(vector.tobytes(), DIMENSIONS)
    np.testing.assert_array_equal(old_vector, vector)
    assert no_windows.shape == (0, DIMENSIONS)
