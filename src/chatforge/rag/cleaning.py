"""Text cleaning between parsing and chunking.

Parsers hand over text as the library extracted it: PDF lines broken mid-sentence and mid-word,
ligature glyphs, control characters from old encodings, runs of blank lines. Cleaning makes the
text that chunks, keyword rows and embeddings are made from read like the document did.
"""

from __future__ import annotations

import re
import unicodedata

from chatforge.text.sentences import TRAILING_WORDS, looks_like_heading

__all__ = ["clean_text"]

_NEWLINES = str.maketrans({"\r": "\n", "\v": "\n", "\f": "\n\n", "\u2028": "\n", "\u2029": "\n\n"})
# Control characters (but tab and newline), and invisible marks that split words for search:
# soft hyphen, zero-width space, word joiner, byte-order mark. ZWJ/ZWNJ stay: scripts need them.
_DROPPED = {c: None for c in (*range(0, 9), *range(11, 32), *range(0x7F, 0xA0))}
_DROPPED.update({0xAD: None, 0x200B: None, 0x2060: None, 0xFEFF: None})
# Typographic ligatures that PDFs emit as one glyph; "ﬁnd" must match a search for "find".
_LIGATURES = {
    0xFB00: "ff",
    0xFB01: "fi",
    0xFB02: "fl",
    0xFB03: "ffi",
    0xFB04: "ffl",
    0xFB05: "st",
    0xFB06: "st",
}
_TRANSLATION = {**_DROPPED, **_LIGATURES}

_SPACES = re.compile(r"[^\S\n]+")
_LINE_EDGES = re.compile(r" ?\n ?")
_BLANK_RUNS = re.compile(r"\n{3,}")
_HYPHEN_BREAK = re.compile(r"(\w)-\n(\w)")
# A line break inside a paragraph: the line does not end a sentence or a clause, and the next
# line neither is blank nor starts a list item.
_SOFT_BREAK = re.compile(r"(?<=[^\s.!?:;。！？])\n(?![\n•▪◦*\-–]|\d{1,3}[.)]\s)")
# A heading is a line well short of the text's full lines, followed by one that starts with a
# capital or a digit: its break stays, so that it is not read as the next sentence's start.
_HEADING_WIDTH = 0.6


def clean_text(text: str, *, dehyphenate: bool = False, unwrap: bool = False) -> str:
    """Normalise extracted text for chunking and indexing.

    Unicode is composed (NFC) and ligatures expanded; control characters and invisible marks are
    dropped; every run of spaces or tabs becomes one space; lines lose their edge spaces; three
    or more line breaks become one blank line.

    Args:
        text: The text as a parser extracted it.
        dehyphenate: Join words a PDF broke across lines (``"infor-\\nmation"`` becomes
            ``"information"``); only when the next line goes on in lower case.
        unwrap: Join the lines of a paragraph that a PDF broke at its column width, keeping
            breaks after a sentence end, after a heading and before list items.

    Returns:
        The cleaned text, stripped; empty when nothing readable was left.
    """
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").translate(_NEWLINES))
    text = text.translate(_TRANSLATION)
    text = _SPACES.sub(" ", text)
    text = _LINE_EDGES.sub("\n", text)
    if dehyphenate:
        text = _HYPHEN_BREAK.sub(_join_hyphenated, text)
    if unwrap:
        text = _unwrap(text)
    return _BLANK_RUNS.sub("\n\n", text).strip()


def _unwrap(text: str) -> str:
    """Join soft line breaks, except after a heading."""
    lengths = sorted(len(line) for line in text.split("\n") if line)
    # The full line width: most lines of wrapped text are full; a few short ones end paragraphs.
    full = lengths[int(len(lengths) * 0.9)] if len(lengths) >= 4 else 0

    def join(match: re.Match[str]) -> str:
        line = text[text.rfind("\n", 0, match.start()) + 1 : match.start()]
        following = text[match.end() : match.end() + 1]
        words = line.rsplit(" ", 1)
        # A page of a few lines shows no full width: a heading is then told by its shape
        # ("Returns" above "Items can be returned ..." on a one-paragraph page).
        short = len(line) < _HEADING_WIDTH * full if full else looks_like_heading(line)
        heading = (
            short
            and (following.isupper() or following.isdigit())
            and not line.endswith(",")
            and words[-1] not in TRAILING_WORDS  # "Appendix A" is a heading
        )
        return "\n" if heading else " "

    return _SOFT_BREAK.sub(join, text)


def _join_hyphenated(match: re.Match[str]) -> str:
    # "Twenty-\nFive" keeps its hyphen: a capital after the break is a real compound or a name.
    if match[2].islower():
        return match[1] + match[2]
    return match[1] + "-" + match[2]
