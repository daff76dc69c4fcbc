"""Text analysis for keyword search: the same terms on SQLite and PostgreSQL.

Lower-case, fold accents, split on anything that is not a letter or digit, drop English stop words,
and stem with the Snowball English stemmer. Both databases index the terms this module makes, so
keyword scores do not depend on a database's own tokenizer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import Stemmer

# The English stop words of bm25s / scikit-learn's short list: frequent words that carry no topic.
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "did",
        "do",
        "does",
        "doing",
        "don",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "s",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "t",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
    ]
)

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_MAX_TERM = 40


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def analyze(text: str) -> list[str]:
    """The index terms of a text, in order (repeats kept: they are term frequencies)."""
    words = [w for w in _TOKEN.findall(_fold(text)) if w not in STOPWORDS and len(w) <= _MAX_TERM]
    return [s for s in _stemmer().stemWords(words) if s.isalnum()]


_WORD = re.compile(r"[A-Za-z]+")
# Shortest word read as a typo; a word of _LONG letters or more may be two edits off.
_SHORTEST_TYPO = 5
_LONG = 9


def known_words(texts: Iterable[str]) -> frozenset[str]:
    """The lower-cased, accent-folded words of ``texts``, for :func:`correct_spelling`."""
    return frozenset(w for text in texts for w in _WORD.findall(_fold(text)))


def correct_spelling(text: str, known: frozenset[str]) -> str:
    """``text`` with each word the knowledge never says swapped for a near word it does say.

    Customers mistype ("do u do finacing?", "free trail"). A word of five letters or more that
    is absent from ``known`` and one edit (two from nine letters) from a word of ``known`` that
    starts with the same letter is read as that word; a swap of two neighbouring letters is one
    edit. Stop words, codes, numbers and capitalised words after the first (names) are never
    changed, nor a word with two near words that are equally close (which one was meant is not
    known).
    """

    def fix(match: re.Match[str]) -> str:
        word = match[0]
        lower = _fold(word)
        if len(lower) < _SHORTEST_TYPO or lower in known or lower in STOPWORDS:
            return word
        if word[0].isupper() and text[: match.start()].strip():
            return word  # a name ("a store in Seattle?") is not a typo of "settle"
        limit = 2 if len(lower) >= _LONG else 1
        best: list[tuple[int, str]] = []
        for candidate in known:
            if candidate[:1] != lower[:1] or abs(len(candidate) - len(lower)) > limit:
                continue
            distance = edit_distance(lower, candidate, limit)
            if distance <= limit:
                best.append((distance, candidate))
        if not best:
            return word
        best.sort()
        if len(best) > 1 and best[1][0] == best[0][0]:
            return word
        return best[0][1]

    return _WORD.sub(fix, text)


def edit_distance(a: str, b: str, limit: int) -> int:
    """The edit distance of ``a`` and ``b`` counting a swap of neighbours as one edit (optimal
    string alignment), or ``limit + 1`` as soon as it must exceed ``limit``."""
    before: list[int] | None = None
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if (
                before is not None
                and i > 1
                and j > 1
                and a[i - 1] == b[j - 2]
                and a[i - 2] == b[j - 1]
            ):
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return previous[-1]
