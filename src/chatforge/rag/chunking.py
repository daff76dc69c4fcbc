"""Chunking: a parsed document in, chunks of at most ``max_tokens`` embedding tokens out.

Chunks follow the document's structure. Each section (a heading's text, a page, a slide) is
chunked on its own, so no chunk mixes two headings. Whole paragraphs are packed while they fit;
a paragraph that does not fit starts the next chunk; a paragraph too long for any chunk is cut
between sentences, and a sentence too long between words. Consecutive chunks of a section share
their boundary sentences (the overlap), so a fact split across them is still found whole in one.

Tokens are counted by an injected function (in production the embedding model's tokenizer),
once per paragraph, or once per sentence of a paragraph too long for a chunk, and summed; never
on growing prefixes. Chunking runs on the ingestion hot path and must stay linear in the text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from chatforge.errors import ValidationFailed
from chatforge.rag.cleaning import clean_text
from chatforge.rag.document import ParsedDocument
from chatforge.text.sentences import sentence_ends

__all__ = [
    "Chunk",
    "TokenCounter",
    "chunk_document",
    "format_content",
    "qna_chunk",
    "qna_text",
    "split_windows",
]

TokenCounter = Callable[[str], int]

# Text rarely averages more characters per token than this; until a section has shown its own
# ratio, a paragraph longer than this many characters per token of budget is not counted whole.
_MAX_CHARS_PER_TOKEN = 16
# A record ("name: Ada" lines, as rows of sheets, CSV and JSON are rendered): its fields are not
# prose, and a field cut from its record would only mislead as overlap.
_RECORD = re.compile(r"(?:[^\s:][^:\n]{0,80}: [^\n]*(?:\n|\Z))+")


@dataclass(frozen=True)
class Chunk:
    """One retrievable piece of a knowledge item.

    ``heading`` and ``text`` are stored as the chunk's fields; ``content`` is built from them
    for okchat's API and is never read back.

    Attributes:
        index: The chunk's 1-based position in its item.
        heading: The heading of the section it comes from, if any.
        text: The chunk's text as it appears under ``Content:`` (the heading line first, when
            the section has a heading other than the title); a Q&A pair's answer.
        content: The stored form, okchat's ``Title: ...\\nChunk: n\\n\\nContent:\\n...``.
        tokens: The tokens of ``text``: the sum of its parts' counts, which is exactly
            ``count_tokens(text)`` for WordPiece tokenizers such as MiniLM's. A Q&A pair's are
            those of :func:`qna_text`, its question and answer as keyword search reads them.
        page: The page, slide or sheet it comes from, if the document has pages.
        qna: Whether it is a Q&A pair, whose title is the question and ``text`` the answer.
    """

    index: int
    heading: str | None
    text: str
    content: str
    tokens: int
    page: int | None
    qna: bool = False


def format_content(title: str, index: int, text: str) -> str:
    """The okchat content form of a chunk: ``Title: <title>``, ``Chunk: <n>``, then the text."""
    return f"Title: {_one_line(title)}\nChunk: {index}\n\nContent:\n{text}"


def chunk_document(
    doc: ParsedDocument,
    *,
    title: str,
    count_tokens: TokenCounter,
    max_tokens: int = 256,
    overlap_tokens: int = 32,
) -> list[Chunk]:
    """Cut a parsed document into chunks that follow its headings and paragraphs.

    Args:
        doc: The parsed (and cleaned) document.
        title: The knowledge item's title, written into every chunk's content.
        count_tokens: Counts the tokens of a text as the embedding model will see it, special
            tokens included; it must not pad or truncate.
        max_tokens: The most tokens a chunk's ``text`` may have.
        overlap_tokens: The most tokens of trailing sentences repeated at the start of the next
            chunk of the same section.

    Returns:
        The chunks in reading order, numbered from 1; none is empty.

    Raises:
        ValueError: ``max_tokens`` is below 8 or ``overlap_tokens`` not below ``max_tokens``.
    """
    if max_tokens < 8 or not 0 <= overlap_tokens < max_tokens:
        raise ValueError("need max_tokens >= 8 and 0 <= overlap_tokens < max_tokens")
    cost = _Meter(count_tokens)
    chunks: list[Chunk] = []
    for section in doc.sections:
        prefix = section.heading
        if prefix is not None and prefix.casefold() == _one_line(title).casefold():
            prefix = None
        budget = max_tokens - cost.base
        prefix_cost = cost(prefix) if prefix is not None else 0
        # A heading that would eat half of every chunk stays in ``heading`` only.
        if prefix_cost > budget // 2:
            prefix, prefix_cost = None, 0
        packer = _Packer(cost, budget - prefix_cost, overlap_tokens)
        for paragraph in section.text.split("\n\n"):
            packer.add_paragraph(paragraph)
        for body, body_cost in packer.finish():
            text = f"{prefix}\n{body}" if prefix is not None else body
            index = len(chunks) + 1
            chunks.append(
                Chunk(
                    index=index,
                    heading=section.heading,
                    text=text,
                    content=format_content(title, index, text),
                    tokens=cost.base + prefix_cost + body_cost,
                    page=section.page,
                )
            )
    return chunks


def split_windows(
    text: str, *, count_tokens: TokenCounter, max_tokens: int, overlap_tokens: int
) -> list[str]:
    """Cut a chunk's text into smaller windows, packed like chunks, for extra vectors.

    A small embedding model reads a long chunk as a blur: all-MiniLM-L6-v2 was trained on 128
    tokens, and its mean of 256 token vectors underweights any one sentence. Each window is
    embedded too, and retrieval scores the chunk by its best vector (bench/RESULTS.md).

    Args:
        text: The chunk's text (its ``Content:`` part).
        count_tokens: Counts tokens as the embedding model sees them, special tokens included.
        max_tokens: The most tokens a window's text may have, special tokens included.
        overlap_tokens: The most tokens of trailing sentences repeated in the next window.

    Returns:
        The windows in order; none when the text fits in one window (its own vector covers it)
        or ``max_tokens`` leaves no room.
    """
    cost = _Meter(count_tokens)
    budget = max_tokens - cost.base
    if budget < 8:
        return []
    packer = _Packer(cost, budget, min(overlap_tokens, budget // 2))
    for paragraph in text.split("\n\n"):
        packer.add_paragraph(paragraph)
    bodies = packer.finish()
    return [body for body, _ in bodies] if len(bodies) > 1 else []


def qna_chunk(question: str, answer: str, *, count_tokens: TokenCounter | None = None) -> Chunk:
    """The single chunk of a Q&A item: the answer is its text; its content is okchat's Q&A form.

    Args:
        question: The question; it is also the chunk's title.
        answer: The answer.
        count_tokens: Counts tokens for ``Chunk.tokens``; words are counted when omitted.

    Raises:
        ValidationFailed: The question or the answer is empty.
    """
    question, answer = _one_line(question), clean_text(answer)
    if not question or not answer:
        raise ValidationFailed("A Q&A item needs both a question and an answer.")
    searched = qna_text(question, answer)
    return Chunk(
        index=1,
        heading=None,
        text=answer,
        content=f"Title: {question}\nChunk: 1\n\n{searched}",
        tokens=count_tokens(searched) if count_tokens is not None else len(searched.split()),
        page=None,
        qna=True,
    )


def qna_text(question: str, answer: str) -> str:
    """A Q&A pair as its content shows it and keyword search reads it: question, then answer.

    Searched whole, so that a visitor's words find the pair by its question as well as by its
    answer (its vector is the question's alone).
    """
    return f"Question: {_one_line(question)}\n\nAnswer: {answer}"


@dataclass(frozen=True)
class _Unit:
    """Text packed as one piece: a whole paragraph, a sentence, or a run of words.

    ``separator`` joins it to the text before it; ``whole`` marks a paragraph counted at once,
    which is split into sentences only when its tail is needed for an overlap.
    """

    text: str
    cost: int
    separator: str
    whole: bool = False


class _Meter:
    """Counts tokens of parts of a chunk, and learns how many characters a token takes."""

    def __init__(self, count_tokens: TokenCounter) -> None:
        self.count_tokens = count_tokens
        # Tokenizers may add special tokens ([CLS], [SEP]) to every call: they belong to a
        # chunk once, not to each of its sentences.
        self.base = count_tokens("")
        self.chars = 0
        self.tokens = 0

    def __call__(self, text: str) -> int:
        tokens = max(self.count_tokens(text) - self.base, 0)
        self.chars += len(text)
        self.tokens += tokens
        return tokens

    def longest_fitting(self, budget: int) -> float:
        """The most characters a text of ``budget`` tokens is likely to have, with a margin."""
        if self.tokens < 64:
            return budget * _MAX_CHARS_PER_TOKEN
        return budget * min(_MAX_CHARS_PER_TOKEN, 1.5 * self.chars / self.tokens)


class _Packer:
    """Packs one section's paragraphs into chunk bodies of at most ``budget`` tokens."""

    def __init__(self, cost: _Meter, budget: int, overlap: int) -> None:
        self.cost = cost
        self.budget = budget
        self.overlap = overlap
        # Pieces of an over-long sentence are kept small enough to serve as an overlap.
        self.piece_limit = min(budget, max(overlap, budget // 8, 1))
        self.current: list[_Unit] = []
        self.used = 0
        self.bodies: list[tuple[str, int]] = []

    def add_paragraph(self, paragraph: str) -> None:
        if not paragraph.strip():
            return
        # Counting a paragraph that then proves too long would count its text twice; one
        # clearly longer than a chunk (by the characters per token seen so far) goes straight
        # to sentences. A misjudged one is only packed by sentences instead of whole.
        if len(paragraph) <= self.cost.longest_fitting(self.budget):
            paragraph_cost = self.cost(paragraph)
            if paragraph_cost <= self.budget:
                self._add(_Unit(paragraph, paragraph_cost, "\n\n", whole=True))
                return
        for text, separator in _sentences(paragraph):
            sentence_cost = self.cost(text)
            if sentence_cost <= self.budget:
                self._add(_Unit(text, sentence_cost, separator))
                continue
            pieces = _split(text.split(), " ", self.cost, self.piece_limit)
            for i, (piece, piece_cost, glue) in enumerate(pieces):
                self._add(_Unit(piece, piece_cost, separator if i == 0 else glue))

    def finish(self) -> list[tuple[str, int]]:
        """The chunk bodies and their token counts."""
        if self.current:
            self.bodies.append((_join(self.current), self.used))
        return self.bodies

    def _add(self, unit: _Unit) -> None:
        if self.current and self.used + unit.cost > self.budget:
            self.bodies.append((_join(self.current), self.used))
            self.current, self.used = self._tail()
            # The overlap gives way to new text: a chunk must never repeat only old sentences.
            while self.current and self.used + unit.cost > self.budget:
                self.used -= self.current.pop(0).cost
        self.current.append(unit)
        self.used += unit.cost

    def _tail(self) -> tuple[list[_Unit], int]:
        """The trailing sentences of the current chunk that fit in the overlap."""
        carried: list[_Unit] = []
        total = 0
        for unit in reversed(self.current):
            if total + unit.cost <= self.overlap:
                carried.insert(0, unit)
                total += unit.cost
                continue
            if unit.whole and not _RECORD.fullmatch(unit.text):
                # Only now are the paragraph's last sentences counted, and only as many as fit.
                for text, separator in reversed(_sentences(unit.text, unit.separator)):
                    sentence_cost = self.cost(text)
                    if total + sentence_cost > self.overlap:
                        break
                    carried.insert(0, _Unit(text, sentence_cost, separator))
                    total += sentence_cost
            break
        return carried, total


def _sentences(paragraph: str, first_separator: str = "\n\n") -> list[tuple[str, str]]:
    """Split a paragraph into sentences, each with the separator that precedes it."""
    sentences: list[tuple[str, str]] = []
    separator = first_separator
    for line in paragraph.split("\n"):
        start = 0
        ends = sentence_ends(line)
        for end in [*ends, len(line)]:
            sentence = line[start:end].strip()
            start = end
            if sentence:
                sentences.append((sentence, separator))
                separator = " "
        if sentences:
            separator = "\n"
    return sentences


def _split(
    parts: Sequence[str], joiner: str, cost: Callable[[str], int], limit: int
) -> Iterator[tuple[str, int, str]]:
    """Group consecutive words (or characters) into pieces of at most ``limit`` tokens.

    Yields each piece, its cost, and the glue that joins it to the previous piece. The group size
    is guessed from the tokens per part seen so far and corrected downwards when a guess is too
    long, so each piece costs one or two counts rather than one per word.
    """
    ratio = 1.0  # tokens per part, refined as pieces are measured
    i = 0
    while i < len(parts):
        n = max(1, int(limit / ratio))
        while True:
            piece = joiner.join(parts[i : i + n])
            piece_cost = cost(piece)
            if piece_cost <= limit or n == 1:
                break
            n = max(1, min(n - 1, n * limit // piece_cost))
        if piece_cost > limit and joiner:
            # One "word" longer than a chunk (a URL, base64, a run-on identifier): cut its
            # characters instead.
            for j, (part, part_cost, glue) in enumerate(_split(piece, "", cost, limit)):
                yield part, part_cost, joiner if j == 0 else glue
        else:
            yield piece, piece_cost, joiner
        ratio = max(piece_cost, 1) / n
        i += n


def _join(units: Sequence[_Unit]) -> str:
    return units[0].text + "".join(unit.separator + unit.text for unit in units[1:])


def _one_line(text: str) -> str:
    return " ".join(text.split())
