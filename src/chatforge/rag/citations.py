"""Checking a generated answer's citations against the sources it was given.

An LLM is told to cite each statement's source as ``[n]``; nothing makes it. After it answers,
:func:`check_citations` reads the answer sentence by sentence and reports:

- ``unknown``: markers naming no source that was given (``[7]`` of five sources);
- ``unsupported``: markers of a sentence that its cited sources do not hold: fewer than
  :data:`MIN_SUPPORT` of its content terms (stemmed, stop words aside) are in them, or it says a
  number none of them says; of a sentence citing several, also each one holding less than half
  that share by itself;
- ``missing``: sources were given, the answer claims something, and cites none of them.

A lexical check, not an entailment model: it catches a citation to the wrong source and an
invented figure, not a subtle misreading. An answer that only says it could not find the answer
claims nothing and needs no citation.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chatforge.text.analysis import analyze
from chatforge.text.sentences import sentence_ends

#: Least share of a sentence's content terms its cited sources must hold.
MIN_SUPPORT = 0.5

_MARKER = re.compile(r"\[(\d{1,3})\]")
_LEADING_MARKERS = re.compile(r"(?:\s*\[\d{1,3}\])+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NOT_FOUND = re.compile(
    r"\b(?:could ?n[o']t|can ?n[o']t|unable to|did ?n[o']t|do ?n[o']t) (?:find|locate|see)\b"
    r"|\bno (?:information|mention|source)\b|\bnot (?:in|found in|mentioned in) the\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class CitationCheck:
    """What :func:`check_citations` found; ``flagged`` when anything is wrong."""

    cited: tuple[int, ...]
    unknown: tuple[int, ...] = ()
    unsupported: tuple[int, ...] = ()
    missing: bool = False

    @property
    def flagged(self) -> bool:
        """Whether the answer cites a source not given, or one that does not hold it, or none."""
        return bool(self.unknown or self.unsupported or self.missing)

    def as_dict(self) -> dict[str, Any]:
        """The check as JSON-ready values (the bot message's ``metadata.citations``)."""
        return {
            "cited": list(self.cited),
            "unknown": list(self.unknown),
            "unsupported": list(self.unsupported),
            "missing": self.missing,
            "flagged": self.flagged,
        }


def check_citations(answer: str, sources: Mapping[int, str]) -> CitationCheck:
    """Check ``answer``'s ``[n]`` markers against ``sources`` (each ref's text).

    Args:
        answer: The generated answer.
        sources: The text of each source the model was given, by its marker number.
    """
    cited = tuple(dict.fromkeys(int(n) for n in _MARKER.findall(answer)))
    unknown = tuple(n for n in cited if n not in sources)
    if not cited:
        claims = bool(analyze(answer)) and not _NOT_FOUND.search(answer)
        return CitationCheck((), missing=bool(sources) and claims)
    terms_of = {ref: set(analyze(text)) for ref, text in sources.items()}
    numbers_of = {ref: set(_numbers(text)) for ref, text in sources.items()}
    unsupported: dict[int, None] = {}
    for sentence, refs in _cited_sentences(answer):
        known = [r for r in refs if r in sources]
        if not known:
            continue
        terms = set(analyze(_MARKER.sub(" ", sentence)))
        held = set().union(*(terms_of[r] for r in known))
        said = set().union(*(numbers_of[r] for r in known))
        share = len(terms & held) / len(terms) if terms else 1.0
        invented = set(_numbers(_MARKER.sub(" ", sentence))) - said
        if share < MIN_SUPPORT or invented:
            unsupported.update(dict.fromkeys(known))
        elif len(known) > 1 and terms:
            # Each of several sources must hold its part: [2] beside the [1] that holds it all
            # is a citation to a source that says nothing of it.
            for ref in known:
                if len(terms & terms_of[ref]) / len(terms) < MIN_SUPPORT / 2:
                    unsupported[ref] = None
    return CitationCheck(cited, unknown, tuple(unsupported))


def _cited_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """Each sentence of ``answer`` with the markers that cite it.

    A marker cites the sentence it ends ("... 30 days [1].") or, standing after a full stop
    ("... 30 days. [1]"), the one before it; a sentence without a marker of its own shares the
    markers of the next one that has some (a statement cited once at the end of its paragraph).
    """
    bounds = [0, *sentence_ends(answer), len(answer)]
    pieces = [p for a, b in itertools.pairwise(bounds) if (p := answer[a:b].strip())]
    sentences: list[tuple[str, list[int]]] = []
    for piece in pieces:
        leading = _LEADING_MARKERS.match(piece)
        if leading is not None and sentences:
            # "... departure. [1] A deposit ...": the marker cites the sentence before it.
            sentences[-1][1].extend(int(n) for n in _MARKER.findall(leading[0]))
            piece = piece[leading.end() :].strip()
        if _MARKER.sub("", piece).strip(" ."):
            sentences.append((piece, [int(n) for n in _MARKER.findall(piece)]))
    result: list[tuple[str, list[int]]] = []
    waiting: list[str] = []
    for sentence, refs in sentences:
        if not refs:
            waiting.append(sentence)
            continue
        result.extend((w, refs) for w in waiting)
        result.append((sentence, refs))
        waiting = []
    return result


def _numbers(text: str) -> list[str]:
    """The numbers of ``text`` as digits only ("1,649" and "1649" are the same number)."""
    return [re.sub(r"[.,]", "", n).lstrip("0") or "0" for n in _NUMBER.findall(text)]
