"""How the extractive model says its answer: quotes, their markers, and the stream's pieces."""

from __future__ import annotations

import re

from chatforge.providers.chat import _text
from chatforge.providers.chat._sentences import Sentence, replies_to
from chatforge.text.analysis import content_terms

_LEADING_REPLY = re.compile(r"\A(?:Yes|No)[.!,]\s+(?=\S)", re.IGNORECASE)


def join(
    chosen: list[Sentence],
    max_words: int,
    query: list[str],
    *,
    yes_no: bool,
    same_question: float = 1.0,
) -> str:
    """The quotes in order, one marker after each run from the same passage.

    A leading "Yes." or "No." is kept for a yes-or-no question only: before the steps of
    "how do I ..." it would answer nothing that was asked. It answers the question of its FAQ
    entry or Q&A pair, so it is kept only where that question is the visitor's: retrieved with
    ``same_question`` similarity or more, or asking half of the visitor's words.
    """
    parts: list[str] = []
    for index, sentence in enumerate(chosen):
        text = quote(sentence, max_words, query)
        if not (
            yes_no and (sentence.passage.similarity >= same_question or replies_to(sentence, query))
        ):
            text = _LEADING_REPLY.sub("", text, count=1)
            text = text[:1].upper() + text[1:]  # "No, we do not ..." said as "We do not ..."
        following = chosen[index + 1] if index + 1 < len(chosen) else None
        if following is not None and following.passage.ref == sentence.passage.ref:
            text = text.removesuffix(f" [{sentence.passage.ref}]")
        parts.append(text)
    return " ".join(parts)


def within_words(sentences: list[Sentence], limit: int) -> list[Sentence]:
    """The first ``sentences`` within ``limit`` words (the first one always)."""
    kept: list[Sentence] = []
    used = 0
    for sentence in sentences:
        size = len(sentence.text.split())
        if kept and used + size > limit:
            break
        kept.append(sentence)
        used += size
    return kept


def quote(sentence: Sentence, max_words: int, query: list[str]) -> str:
    """The sentence as quoted, with its marker; cut around the matching words when too long."""
    tokens = sentence.text.split()
    if len(tokens) <= max_words:
        return f"{sentence.text} [{sentence.passage.ref}]"
    wanted = set(query)
    hits = [1 if wanted & set(content_terms(token)) else 0 for token in tokens]
    window = max_words
    densest = max(range(len(tokens) - window + 1), key=lambda i: sum(hits[i : i + window]))
    inside = [i for i in range(densest, densest + window) if hits[i]] or [densest + window // 2]
    # Centre the window on the matching words: the answer is usually next to them.
    middle = (inside[0] + inside[-1]) // 2
    best_start = min(max(0, middle - window // 2), len(tokens) - window)
    text = " ".join(tokens[best_start : best_start + window])
    prefix = "…" if best_start > 0 else ""
    suffix = "…" if best_start + window < len(tokens) else ""
    return f"{prefix}{text}{suffix} [{sentence.passage.ref}]"


def word_groups(text: str, size: int) -> list[str]:
    """``text`` in pieces of ``size`` words that join back to exactly ``text``."""
    tokens = text.split(" ")
    return [
        " ".join(tokens[i : i + size]) + (" " if i + size < len(tokens) else "")
        for i in range(0, len(tokens), size)
    ]


def follow_up(
    ranked: list[Sentence],
    said_before: str,
    asked: list[str],
    current: str,
    *,
    phrases: bool = False,
) -> str | None:
    """The answer to a follow-up that asks about what the previous answer quoted, or None.

    "And how long does it take?" after the whitening's price asks about the sentence quoted
    (the whitening's row, not the aftercare after whitening): its clause that holds the
    follow-up's new words ``asked`` or what ``current`` asks for, never the sentence again.
    With ``phrases``, a sentence of one clause is cut at its prepositions too.
    """
    before = _text.without_markers(said_before)
    for sentence in ranked:
        if sentence.text not in before:
            continue
        kind = _text.answer_kind(current)
        clause = _text.answering_clause(sentence.text, asked, kind, phrases=phrases)
        if clause is not None:
            return f"…{clause}… [{sentence.passage.ref}]"
    return None
