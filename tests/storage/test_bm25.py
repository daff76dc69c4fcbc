"""The one BM25: memory's postings and the database path's stored terms give the same bits."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import create_engine, insert, select

from chatforge.storage.bm25 import Statistics, Weights, score_chunks
from chatforge.storage.models import Base, Chunk
from chatforge.storage.search_index import join_terms, split_terms
from chatforge.storage.search_sqlite import stored_length
from chatforge.storage.segments import ChunkTerms, Snapshot, build_segment

WORDS = [f"w{n}" for n in range(40)]
DIMENSIONS = 4


def random_chunks(first_id: int, count: int, seed: int) -> list[ChunkTerms]:
    rng = np.random.default_rng(seed)
    vector = np.ones(DIMENSIONS, dtype=np.float32) / 2
    return [
        ChunkTerms(
            first_id + n,
            list(rng.choice(WORDS, size=int(rng.integers(0, 4)))),
            list(rng.choice(WORDS, size=int(rng.integers(0, 60)))),
            vector,
            f"item-{n}",
            "text",
        )
        for n in range(count)
    ]


@pytest.mark.parametrize("weights", [Weights(), Weights(title=2.0, b=0.75)])
def test_scores_from_stored_terms_equal_scores_from_postings_to_the_bit(weights: Weights) -> None:
    first, second = random_chunks(1, 50, seed=3), random_chunks(51, 20, seed=4)
    segments = [build_segment(first, DIMENSIONS), build_segment(second, DIMENSIONS)]
    alive = [np.ones(len(s.ids), dtype=bool) for s in segments]
    snapshot = Snapshot(1, segments, alive)
    terms = sorted({"w1", "w5", "w17", "w39", "absent"})

    from_postings = snapshot.bm25(terms, weights)
    from_terms = score_chunks(
        terms,
        [(c.title_terms, c.body_terms) for c in first + second],
        snapshot.statistics(terms),
        weights,
    )

    assert from_terms.tolist() == from_postings.tolist()
    assert (from_terms > 0).sum() > 10


def test_the_idf_prior_keeps_a_one_chunk_base_comparable() -> None:
    statistics = Statistics(chunks=1, length=6, frequencies={"warranti": 1})

    assert 0.8 * statistics.idf("long") < statistics.idf("warranti") < statistics.idf("long")
    assert statistics.avgdl == 6.0
    assert Statistics(0, 0, {}).avgdl == 1.0


@pytest.mark.parametrize(
    ("title", "body"),
    [(["a", "b"], ["c"]), ([], ["c", "d"]), (["a"], []), ([], []), (["ab"], ["cd", "ef", "g"])],
)
def test_sqlite_counts_a_stored_chunks_length_as_bm25_does(
    title: list[str], body: list[str]
) -> None:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine, tables=[Chunk.__table__])  # type: ignore[list-item]
    stored = join_terms(title, body)
    with engine.begin() as conn:
        conn.execute(
            insert(Chunk).values(
                item_id="i", chatbot_id="c", chunk_index=1, content="", embedding=b"", terms=stored
            )
        )
        length = conn.execute(select(stored_length())).scalar_one()

    assert split_terms(stored) == (title, body)
    assert length == len(title) + len(body) + 1
