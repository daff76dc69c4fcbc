"""The sentences the extractive model may quote, and which of them may answer a question.

A retrieved passage is read into :class:`Sentence` units (:mod:`._passages`); before any is
scored, the question's exact words narrow them: the codes it names (:func:`naming`) and the
names it says (:func:`about`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chatforge.providers.chat._passages import Unit, analyse
from chatforge.providers.chat.base import Passage
from chatforge.text.analysis import compound_terms, content_terms, stem
from chatforge.text.entities import exact_words, is_code, names_all

# okchat's forms of a chunk, for passages given as ``content`` alone (see ``_body_of``).
_OKCHAT_HEADER = re.compile(r"\ATitle: [^\n]*\nChunk: \d+\n\nContent:\n")
_QNA_HEADER = re.compile(r"\ATitle: [^\n]*\nChunk: \d+\n\nQuestion: [^\n]*\n\nAnswer: ")


@dataclass(frozen=True)
class Sentence:
    """A quotable unit of a retrieved passage."""

    passage: Passage
    position: int  # index of the unit in its passage
    unit: Unit
    answer: bool = False  # part of a Q&A pair's answer: its question says what it is about

    @property
    def text(self) -> str:
        return self.unit.text

    @property
    def terms(self) -> frozenset[str]:
        return self.unit.terms

    @property
    def heading(self) -> bool:
        return self.unit.kind == "heading"


def sentences_of(passage: Passage) -> list[Sentence]:
    """The quotable units of a retrieved passage, in reading order.

    Only the passage's body is quoted: never its ``Title / Chunk`` header, nor a Q&A pair's
    question (its title), whose answer is read whole.
    """
    body, qna = (passage.body, passage.qna) if passage.body else _body_of(passage.content)
    return [
        Sentence(passage, position, unit, answer=qna)
        for position, unit in enumerate(analyse(body, every=qna))
    ]


def _body_of(content: str) -> tuple[str, bool]:
    """The body of a passage given only as okchat's ``content``, and whether it is a Q&A pair.

    Retrieval fills a passage's fields; a passage built by hand (a client of the provider, a
    test) may carry only the content, in okchat's form or as plain text.
    """
    qna = _QNA_HEADER.match(content)
    if qna is not None:
        return content[qna.end() :], True
    return _OKCHAT_HEADER.sub("", content, count=1), False


def about(sentences: list[Sentence], named: frozenset[str]) -> list[Sentence]:
    """The sentences whose section (its sentences, headings or title) says every name given.

    "A store in Phoenix?" is not answered by the store in Tucson, though the knowledge names
    Phoenix elsewhere, nor a question on the Piccolo by the Aria's manual; a section names a
    place or product once for all its sentences. Names meet by their stems ("Norman" and "the
    Normans").
    """
    wanted = {stem(name) for name in named}
    said: dict[tuple[int, int], set[str]] = {}
    for s in sentences:
        key = (s.passage.ref, s.unit.section)
        if key not in said:
            said[key] = {stem(t) for t in title_tokens(s.passage)}
        said[key] |= {stem(t) for t in s.unit.tokens}
    return [s for s in sentences if wanted <= said[(s.passage.ref, s.unit.section)]]


def section_of(sentence: Sentence, sentences: list[Sentence]) -> list[Sentence]:
    """The sentences of ``sentence``'s section (its passage, under its heading), headings left
    out, in reading order."""
    ref, section = sentence.passage.ref, sentence.unit.section
    return [
        s for s in sentences if s.passage.ref == ref and s.unit.section == section and not s.heading
    ]


def saying(sentences: list[Sentence], term: str) -> list[Sentence]:
    """The sentences whose section (its sentences, headings or title) says ``term``.

    "What's the warranty on the wood care kit?" is not answered by the kit's price row, nor by
    the sentence telling how to use it: what is asked must be said where the answer is, not
    only somewhere in the retrieved text.
    """
    said: dict[tuple[int, int], set[str]] = {}
    for s in sentences:
        key = (s.passage.ref, s.unit.section)
        if key not in said:
            said[key] = set(title_terms(s.passage))
        said[key] |= s.terms | s.unit.context
    return [s for s in sentences if term in said[(s.passage.ref, s.unit.section)]]


def replies_to(sentence: Sentence, query: list[str]) -> bool:
    """Whether the question a sentence answers (its FAQ heading, its Q&A pair's question) asks
    at least half of the visitor's question, so that its "Yes." or "No." answers the visitor.

    "No. We sell Lift Desk tops only with a frame." answers "Can I buy the tabletop without the
    frame?", not "Does the lift desk frame come in white?": said to that visitor, the "No." would
    be a claim the knowledge never makes.
    """
    asked = sentence.unit.context | (title_terms(sentence.passage) if sentence.answer else set())
    return bool(query) and 2 * sum(t in asked for t in query) >= len(query)


def naming(
    sentences: list[Sentence], required: frozenset[str]
) -> tuple[list[Sentence], frozenset[Sentence]]:
    """The sentences that may answer a question naming ``required`` codes, and those of them
    that name the codes themselves (in the sentence or its headings).

    A product's manual names the product ("LX-6") in some sections and implies it in others
    ("Factory reset: push a paper clip ..."): a sentence naming no code at all may answer, on
    the usual overlap, when its document names every code of the question elsewhere. A
    sentence naming another code (E03's row) never does, nor any sentence for a bare number.
    A title naming the codes ("Lumen LX-6 Router Setup Guide") names them for its document.
    """
    naming = [s for s in sentences if names_all(required, s.unit.tokens)]
    items = {s.passage.knowledge_id for s in naming}
    items |= {
        s.passage.knowledge_id for s in sentences if names_all(required, title_tokens(s.passage))
    }
    if not all(is_code(token) for token in required):
        return naming, frozenset(naming)
    implied = [
        s
        for s in sentences
        if s.passage.knowledge_id in items
        and s not in naming
        and not any(is_code(token) for token in s.unit.tokens)
    ]
    kept = set(naming) | set(implied)
    return [s for s in sentences if s in kept], frozenset(naming)


def title_tokens(passage: Passage) -> frozenset[str]:
    """The words and codes of a passage's title, as written."""
    return frozenset(exact_words(passage.title))


def title_terms(passage: Passage) -> frozenset[str]:
    """The content terms of a passage's title."""
    return frozenset(content_terms(passage.title)) | compound_terms(passage.title)
