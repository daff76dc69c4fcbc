"""Typos: the edit distance of two words, and the known word a mistyped one meant.

Customers mistype ("do u do finacing?", "free trail"). Chat corrects a question's words against
the words of the passages it found (:func:`correct_spelling`) and searches again; the offline
answerer corrects its query's stems against the stems it reads (:func:`closest_terms`). A word
of five letters or more may be one edit off, one of nine or more two; a swap of two neighbouring
letters is one edit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from chatforge.text.analysis import STOPWORDS, fold

_LETTERS = re.compile(r"[A-Za-z]+")
# Shortest word read as a typo; a word of _LONG letters or more may be two edits off.
_SHORTEST_TYPO = 5
_LONG = 9
# Shortest stem read as a shorter form of a known one ("wash" of "washer").
_SHORTEST_STEM = 4


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


def _limit(word: str) -> int:
    return 2 if len(word) >= _LONG else 1


def known_words(texts: Iterable[str]) -> frozenset[str]:
    """The lower-cased, accent-folded words of ``texts``, for :func:`correct_spelling`."""
    return frozenset(w for text in texts for w in _LETTERS.findall(fold(text)))


def correct_spelling(text: str, known: frozenset[str]) -> str:
    """``text`` with each word the knowledge never says swapped for a near word it does say.

    A word absent from ``known`` that is near a word of ``known`` starting with the same letter
    is read as that word. Stop words, codes, numbers and capitalised words after the first
    (names) are never changed, nor a word with two near words that are equally close (which one
    was meant is not known).
    """

    def fix(match: re.Match[str]) -> str:
        word = match[0]
        lower = fold(word)
        if len(lower) < _SHORTEST_TYPO or lower in known or lower in STOPWORDS:
            return word
        if word[0].isupper() and text[: match.start()].strip():
            return word  # a name ("a store in Seattle?") is not a typo of "settle"
        limit = _limit(lower)
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

    return _LETTERS.sub(fix, text)


def closest_terms(query: list[str], vocabulary: set[str]) -> list[str]:
    """``query`` with each stem absent from ``vocabulary`` swapped for a near one in it.

    The shortest stem of ``vocabulary`` that extends it, for stems of four letters or more
    (Snowball cuts "deliver" to "deliv" but "delivery" to "deliveri", and keeps "washer"
    whole), else, from five letters, the first (in alphabetical order) within the edit
    distance of a typo.
    """
    result = []
    for term in query:
        if term in vocabulary or len(term) < _SHORTEST_STEM or not term.isalpha():
            result.append(term)
            continue
        longer = sorted((v for v in vocabulary if v.startswith(term)), key=lambda v: (len(v), v))
        if longer:
            result.append(longer[0])
            continue
        if len(term) < _SHORTEST_TYPO:
            result.append(term)
            continue
        limit = _limit(term)
        near = sorted(
            v for v in vocabulary if abs(len(v) - len(term)) <= limit and v[:1] == term[:1]
        )
        match = next((v for v in near if edit_distance(term, v, limit) <= limit), None)
        result.append(match or term)
    return result
