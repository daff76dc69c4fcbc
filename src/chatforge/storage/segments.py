"""Immutable in-memory segments of a chatbot's chunks, and the snapshot that searches them.

A segment holds some chunks' ids, lengths, vectors and keyword postings (compressed-sparse-row:
per term, the slots of the chunks that contain it with their title and body term frequencies),
built with numpy in one pass. New chunks become a new small segment; removed chunks are masked;
segments are merged, Lucene-style, when there are too many or too much of them is masked. A query
sees a ``Snapshot``: segments and masks that never change under it.

Keyword scores are ``bm25``'s, the one formula of every search path, with the snapshot's own
statistics (chunk count, total length, document frequency over the live chunks). Vector scores
are exact cosines; a segment of ``APPROXIMATE_FROM`` chunks or more first ranks by a
96-dimensional PCA projection, then re-scores its best ``max(1000, 10 x k)`` exactly (recall@100
0.994 against exact search on 100,000 MiniLM chunks; bench/RESULTS.md).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from chatforge.storage.bm25 import Statistics, Weights, term_scores
from chatforge.storage.search_index import HeldChunk

#: Segments at least this large rank vectors by a projection first, then re-score exactly.
APPROXIMATE_FROM = 20_000
PROJECTED_DIMENSIONS = 96
RESCORED = 1000
#: More segments than this are merged.
MAX_SEGMENTS = 6


@dataclass(frozen=True)
class ChunkTerms:
    """One chunk as the memory index reads it from the database."""

    chunk_id: int
    title_terms: list[str]
    body_terms: list[str]
    vector: np.ndarray
    item_id: str
    item_type: str
    windows: np.ndarray | None = None  # (n, d): the chunk's window vectors, if any


@dataclass(frozen=True)
class Segment:
    """Chunks and their postings; never modified after it is built."""

    ids: np.ndarray  # int64, ascending
    lengths: np.ndarray  # float32: terms in title and body, + 1 as FTS5 counts
    vectors: np.ndarray  # float32 (n, d), unit rows
    vocabulary: dict[str, int]
    pointers: np.ndarray  # int64 (terms + 1): postings of term t are [pointers[t], pointers[t+1])
    slots: np.ndarray  # int32
    title_tf: np.ndarray  # float32
    body_tf: np.ndarray  # float32
    items: np.ndarray  # object: each chunk's knowledge item id
    types: np.ndarray  # object: each chunk's item type
    #: float16 (m, d): window vectors, each chunk's together, in slot order. They only re-score
    #: candidates, and half precision moves a cosine by about 1e-4 at half the memory.
    windows: np.ndarray
    window_starts: np.ndarray  # int64 (n + 1): slot s has windows [starts[s], starts[s + 1])
    projection: np.ndarray | None = None  # float32 (d, p), for large segments
    projected: np.ndarray | None = None  # float32 (n, p)

    @property
    def nbytes(self) -> int:
        arrays = (self.ids, self.lengths, self.vectors, self.pointers, self.slots, self.windows)
        extra = sum(a.nbytes for a in arrays) + self.title_tf.nbytes + self.body_tf.nbytes
        extra += 2 * self.items.nbytes
        if self.projected is not None:
            extra += self.projected.nbytes
        return extra + 64 * len(self.vocabulary)

    def postings(self, term: str) -> slice | None:
        found = self.vocabulary.get(term)
        if found is None:
            return None
        return slice(int(self.pointers[found]), int(self.pointers[found + 1]))


def build_segment(chunks: Sequence[ChunkTerms], dimensions: int) -> Segment:
    """A segment of ``chunks``, in one vectorised pass over their terms."""
    chunks = sorted(chunks, key=lambda c: c.chunk_id)
    count = len(chunks)
    vocabulary: dict[str, int] = {}
    term_ids = array("q")
    field_lengths = array("q")
    for chunk in chunks:
        for terms in (chunk.title_terms, chunk.body_terms):
            term_ids.extend([vocabulary.setdefault(t, len(vocabulary)) for t in terms])
            field_lengths.append(len(terms))
    occurrences = np.frombuffer(term_ids, dtype=np.int64) if term_ids else np.zeros(0, np.int64)
    per_field = np.frombuffer(field_lengths, dtype=np.int64) if count else np.zeros(0, np.int64)
    docs = np.repeat(np.repeat(np.arange(count, dtype=np.int64), 2), per_field)
    in_title = np.repeat(np.tile(np.array([True, False]), count), per_field)
    lengths = (per_field.reshape(count, 2).sum(axis=1) + 1).astype(np.float32)
    vectors = (
        np.stack([c.vector for c in chunks]).astype(np.float32)
        if chunks
        else np.zeros((0, dimensions), dtype=np.float32)
    )
    windows = [
        np.zeros((0, dimensions), np.float32) if c.windows is None else c.windows for c in chunks
    ]
    return _assemble(
        np.array([c.chunk_id for c in chunks], dtype=np.int64),
        lengths,
        vectors,
        _strings([c.item_id for c in chunks]),
        _strings([c.item_type for c in chunks]),
        np.concatenate([np.zeros((0, dimensions), np.float16), *windows], dtype=np.float16),
        np.array([len(w) for w in windows], dtype=np.int64),
        vocabulary,
        occurrences,
        docs,
        in_title.astype(np.float32),
        (~in_title).astype(np.float32),
    )


def merge_segments(segments: Sequence[Segment], alive: Sequence[np.ndarray]) -> Segment:
    """One segment of the live chunks of ``segments``."""
    vocabulary: dict[str, int] = {}
    ids, lengths, vectors, terms, docs, title_tf, body_tf = [], [], [], [], [], [], []
    items, types, windows, window_counts = [], [], [], []
    offset = 0
    for segment, live in zip(segments, alive, strict=True):
        words = sorted(segment.vocabulary, key=segment.vocabulary.__getitem__)
        remap = np.array([vocabulary.setdefault(w, len(vocabulary)) for w in words], np.int64)
        new_slot = np.cumsum(live) - 1 + offset
        local_terms = np.repeat(np.arange(len(words)), np.diff(segment.pointers))
        keep = live[segment.slots]
        terms.append(remap[local_terms[keep]])
        docs.append(new_slot[segment.slots[keep]])
        title_tf.append(segment.title_tf[keep])
        body_tf.append(segment.body_tf[keep])
        ids.append(segment.ids[live])
        lengths.append(segment.lengths[live])
        vectors.append(segment.vectors[live])
        items.append(segment.items[live])
        types.append(segment.types[live])
        counts = np.diff(segment.window_starts)
        windows.append(segment.windows[np.repeat(live, counts)])
        window_counts.append(counts[live])
        offset += int(live.sum())
    merged_ids = np.concatenate(ids)
    order = np.argsort(merged_ids, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    all_windows, counts = np.concatenate(windows), np.concatenate(window_counts)
    return _assemble(
        merged_ids[order],
        np.concatenate(lengths)[order],
        np.concatenate(vectors)[order],
        np.concatenate(items)[order],
        np.concatenate(types)[order],
        all_windows[_ragged_order(counts, order)],
        counts[order],
        vocabulary,
        np.concatenate(terms),
        rank[np.concatenate(docs)],
        np.concatenate(title_tf),
        np.concatenate(body_tf),
    )


def _ragged_order(counts: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Row indices that put runs of ``counts`` rows (run i for slot i) in the slots' ``order``."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    new_counts = counts[order]
    new_starts = np.concatenate([[0], np.cumsum(new_counts)[:-1]]).astype(np.int64)
    shift = np.repeat(starts[order] - new_starts, new_counts)
    rows: np.ndarray = np.arange(int(new_counts.sum()), dtype=np.int64) + shift
    return rows


def _assemble(
    ids: np.ndarray,
    lengths: np.ndarray,
    vectors: np.ndarray,
    items: np.ndarray,
    types: np.ndarray,
    windows: np.ndarray,
    window_counts: np.ndarray,
    vocabulary: dict[str, int],
    terms: np.ndarray,
    docs: np.ndarray,
    title_weight: np.ndarray,
    body_weight: np.ndarray,
) -> Segment:
    """Sort (term, chunk) occurrences into postings, summing each field's frequency."""
    count = max(len(ids), 1)
    keys, inverse = np.unique(terms * count + docs, return_inverse=True)
    title_tf = np.bincount(inverse, weights=title_weight, minlength=len(keys)).astype(np.float32)
    body_tf = np.bincount(inverse, weights=body_weight, minlength=len(keys)).astype(np.float32)
    term_of = keys // count
    pointers = np.zeros(len(vocabulary) + 1, dtype=np.int64)
    np.cumsum(np.bincount(term_of, minlength=len(vocabulary)), out=pointers[1:])
    projection = projected = None
    if len(ids) >= APPROXIMATE_FROM:
        projection = _principal_axes(vectors)
        projected = np.ascontiguousarray(vectors @ projection)
    return Segment(
        ids=ids,
        lengths=lengths,
        vectors=np.ascontiguousarray(vectors),
        vocabulary=vocabulary,
        pointers=pointers,
        slots=(keys % count).astype(np.int32),
        title_tf=title_tf,
        body_tf=body_tf,
        items=items,
        types=types,
        windows=np.ascontiguousarray(windows),
        window_starts=np.concatenate([[0], np.cumsum(window_counts)]).astype(np.int64),
        projection=projection,
        projected=projected,
    )


def _strings(values: Sequence[str]) -> np.ndarray:
    """An object array of strings, each distinct value stored once."""
    interned: dict[str, str] = {}
    found = np.empty(len(values), dtype=object)
    found[:] = [interned.setdefault(v, v) for v in values]
    return found


def _principal_axes(vectors: np.ndarray) -> np.ndarray:
    sample = vectors[np.random.default_rng(0).choice(len(vectors), 10_000, replace=False)]
    _, _, axes = np.linalg.svd(sample - sample.mean(axis=0), full_matrices=False)
    return np.ascontiguousarray(axes[:PROJECTED_DIMENSIONS].T.astype(np.float32))


class Snapshot:
    """Segments with their live-chunk masks, as one query sees them."""

    def __init__(self, version: int, segments: list[Segment], alive: list[np.ndarray]) -> None:
        self.version = version
        self.segments = segments
        self.alive = alive
        self.ids = np.concatenate([s.ids for s in segments]) if segments else np.zeros(0, np.int64)
        self.live = np.concatenate(alive) if alive else np.zeros(0, bool)
        self.total = int(self.live.sum())
        # Summed as integers: the database path sums the same lengths, and must get the same.
        self.length = sum(
            int(s.lengths[a].astype(np.int64).sum()) for s, a in zip(segments, alive, strict=True)
        )
        self.slot_of = {int(chunk_id): slot for slot, chunk_id in enumerate(self.ids.tolist())}
        self.nbytes = sum(s.nbytes for s in segments) + 80 * len(self.ids)
        self.starts = np.cumsum([0] + [len(s.ids) for s in segments])

    def chunks_of(self, chunk_ids: Sequence[int]) -> dict[int, HeldChunk]:
        """What this snapshot holds of those chunks (live or not): item, type and vectors."""
        held = [(int(c), self.slot_of.get(int(c))) for c in chunk_ids]
        held = [(c, slot) for c, slot in held if slot is not None]
        if not held:
            return {}
        slots = np.array([slot for _, slot in held], dtype=np.int64)
        segment_of = (np.searchsorted(self.starts, slots, side="right") - 1).tolist()
        offsets = (slots - self.starts[segment_of]).tolist()
        found = {}
        for (chunk_id, _), n, at in zip(held, segment_of, offsets, strict=True):
            segment = self.segments[n]
            first, last = segment.window_starts[at], segment.window_starts[at + 1]
            found[chunk_id] = HeldChunk(
                str(segment.items[at]),
                str(segment.types[at]),
                segment.vectors[at],
                segment.windows[first:last],
            )
        return found

    def frequency(self, term: str) -> int:
        """How many live chunks hold the term."""
        n = 0
        for segment, live in zip(self.segments, self.alive, strict=True):
            found = segment.postings(term)
            if found is not None:
                n += int(np.count_nonzero(live[segment.slots[found]]))
        return n

    def statistics(self, terms: Sequence[str]) -> Statistics:
        """BM25's statistics over the live chunks, for these terms."""
        return Statistics(self.total, self.length, {t: self.frequency(t) for t in terms})

    def bm25(self, terms: Sequence[str], weights: Weights) -> np.ndarray:
        """BM25 of every slot (zero where no term matches or the chunk is not live); ``terms``
        sorted and distinct, as the database path adds them in that order."""
        parts = []
        statistics = self.statistics(terms)
        for segment in self.segments:
            scores = np.zeros(len(segment.ids), dtype=np.float64)
            for term in terms:
                found = segment.postings(term)
                if found is None:
                    continue
                slots = segment.slots[found]
                scores[slots] += term_scores(
                    statistics.idf(term),
                    segment.title_tf[found],
                    segment.body_tf[found],
                    segment.lengths[slots],
                    statistics.avgdl,
                    weights,
                )
            parts.append(scores)
        scores = np.concatenate(parts) if parts else np.zeros(0)
        scores[~self.live] = 0.0
        return scores

    def nearest(
        self, query: np.ndarray, limit: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``limit`` live slots (within ``allowed``) nearest to ``query``, and their cosines.

        Cosines are exact. Without ``allowed``, a large segment is searched by projection first
        and only its best ``max(RESCORED, 10 x limit)`` are scored exactly; a filter may keep
        chunks that the projection would pass over, so filtered searches are exact throughout.
        """
        slots, cosines = [], []
        offset = 0
        for segment, live in zip(self.segments, self.alive, strict=True):
            count = len(segment.ids)
            mask = live if allowed is None else live & allowed[offset : offset + count]
            if allowed is None and segment.projected is not None and segment.projection is not None:
                rough = segment.projected @ (query @ segment.projection)
                keep = min(max(RESCORED, 10 * limit), count)
                shortlist = np.argpartition(-rough, keep - 1)[:keep]
                shortlist = shortlist[mask[shortlist]]
                scores = segment.vectors[shortlist] @ query
            else:
                shortlist = np.flatnonzero(mask)
                scores = (segment.vectors @ query)[shortlist]
            order = best(scores, limit)
            slots.append(shortlist[order] + offset)
            cosines.append(scores[order])
            offset += count
        if not slots:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        all_slots, all_cosines = np.concatenate(slots), np.concatenate(cosines)
        order = best(all_cosines, limit)
        return all_slots[order], all_cosines[order]


def best(scores: np.ndarray, limit: int) -> np.ndarray:
    """Indices of the ``limit`` highest scores, highest first (ties by index)."""
    if limit <= 0 or not len(scores):
        return np.zeros(0, dtype=np.int64)
    if limit >= len(scores):
        return np.argsort(-scores, kind="stable")
    best = np.argpartition(-scores, limit - 1)[:limit]
    return best[np.lexsort((best, -scores[best]))]


def plan_merge(segments: Sequence[Segment], alive: Sequence[np.ndarray]) -> list[int]:
    """Which segments to merge now (none when the shape is fine).

    Too many segments: the small ones merge together, or everything when they outweigh the
    largest. A segment with over a quarter of its chunks removed is rewritten.
    """
    live = [int(a.sum()) for a in alive]
    if len(segments) <= MAX_SEGMENTS:
        return [n for n, s in enumerate(segments) if live[n] < 0.75 * len(s.ids)]
    largest = max(range(len(segments)), key=lambda n: live[n])
    rest = [n for n in range(len(segments)) if n != largest]
    if sum(live[n] for n in rest) * 4 >= live[largest]:
        return list(range(len(segments)))
    return rest
