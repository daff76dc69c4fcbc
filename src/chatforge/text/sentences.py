"""Sentences: where they end, which lines are headings, and the sentences of a passage.

One rule for every reader of sentences: chunking cuts a paragraph too long for a chunk at
:func:`sentence_ends`, the citation check reads an answer sentence by sentence with
:func:`split_sentences`, and the offline answerer quotes the units of :func:`split_units`.
A sentence ends at ``.``, ``!`` or ``?`` (and any closing quotes or brackets) before white space
and a capital, a digit or an opening quote, or at a CJK full stop; abbreviations (``Dr.``,
``e.g.``), initials (``J. K.``) and dotted acronyms (``U.S.``) end none.
"""

from __future__ import annotations

import re

_ABBREVIATION_LIST = """
    mr mrs ms dr prof st sr jr vs etc e.g i.e eg ie inc ltd co corp no nos fig figs approx ca
    gen col lt sgt capt rev mt ft jan feb mar apr jun jul aug sep sept oct nov dec est dept univ
    """
_ABBREVIATIONS = frozenset(_ABBREVIATION_LIST.split())
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])|[。！？]+\s*")
_ACRONYM = re.compile(r"(?:[a-z]\.)+[a-z]")
_BULLET = re.compile(r"\n\s*(?=(?:[-*•▪◦]|\d{1,3}[.)])\s)")
_BLANK_LINE = re.compile(r"\n\s*\n")
_ENDS_CLAUSE = re.compile(r"[.!?:;…][\"'”’)\]]*$")
_SPACE = re.compile(r"\s+")
_SECTION_NUMBER = re.compile(r"\A\d+(?:\.\d+)*\.?\s+")
# Most words in a heading ("2. Paid Time Off", "Returns and refunds").
HEADING_WORDS = 12
# Words a heading does not end with (in lower case: "Appendix A" is a heading); a line that does
# is a sentence wrapped mid-way.
TRAILING_WORDS = frozenset(
    {"a", "an", "and", "the", "of", "to", "in", "on", "at", "for", "with", "by", "or", "from"}
    | {"our", "your"}
)
# Fewest words of a line of prose wrapped by hand (a full line holds 10 to 15).
_WRAPPED_WORDS = 8


def sentence_ends(text: str) -> list[int]:
    """The offsets in ``text`` just after each sentence end and the white space after it."""
    ends: list[int] = []
    for match in _BOUNDARY.finditer(text):
        if text[match.start()] == ".":
            # A bounded look back: chunking runs this on whole documents, in linear time.
            before = text[max(0, match.start() - 24) : match.start()].rsplit(None, 1)
            if before and _is_abbreviation(before[-1]):
                continue
        ends.append(match.end())
    return ends


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences, keeping paragraphs, list items and headings apart.

    White space inside a sentence is collapsed.
    """
    return [sentence for sentence, _ in split_units(text)]


def split_units(text: str, *, headings: bool = True) -> list[tuple[str, bool]]:
    """:func:`split_sentences`, each with whether it is a heading line (when ``headings``)."""
    units: list[tuple[str, bool]] = []
    for block in _BLANK_LINE.split(text):
        parts = _heading_parts(block) if headings else [(block, False)]
        for part, is_heading in parts:
            if is_heading:
                units.append((_SPACE.sub(" ", part).strip(), True))
                continue
            for item in _BULLET.split(part):
                units.extend((s, False) for s in _split_block(_SPACE.sub(" ", item).strip()))
    return [(text, is_heading) for text, is_heading in units if text]


def looks_like_heading(line: str) -> bool:
    """Whether a line has a heading's shape: a few words, the first capitalised (after a
    section number), no other digit and no colon, ending no clause, nor with a comma or a word
    like "and"."""
    bare = _SECTION_NUMBER.sub("", line.strip())
    words = bare.split()
    return (
        0 < len(words) <= HEADING_WORDS
        and bare[0].isupper()
        and not any(ch.isdigit() for ch in bare)  # "Mon-Fri 9-17" is a timetable's line
        and ":" not in bare  # "Price: 12" is a record's field
        and not _ENDS_CLAUSE.search(bare)
        and not bare.endswith(",")
        and words[-1] not in TRAILING_WORDS
    )


def _heading_parts(block: str) -> list[tuple[str, bool]]:
    """``block`` cut before and after each heading line: ``(part, is_heading)`` in order.

    Without this, "2. Paid Time Off" above "Every employee ..." would be read as the sentence
    "Paid Time Off Every employee ...". A heading line has :func:`looks_like_heading`'s shape,
    follows the block's start, a clause's end or another heading, and precedes a line of prose
    or another heading.
    """
    lines = block.split("\n")
    texts = [line.strip() for line in lines]
    ends = [bool(_ENDS_CLAUSE.search(t)) for t in texts]
    # Bottom up: could be a heading, judging by what comes below.
    below = [False] * len(lines)
    for i in range(len(lines) - 2, -1, -1):
        following = texts[i + 1]
        # Prose below: a line that ends a clause, or a long line wrapped by hand ("Items can
        # be returned within 30 days of" above "delivery."); a timetable's lines are short.
        prose = (
            bool(following)
            and following[0].isupper()
            and (ends[i + 1] or len(following.split()) >= _WRAPPED_WORDS)
        )
        below[i] = looks_like_heading(texts[i]) and (prose or below[i + 1])
    parts: list[tuple[str, bool]] = []
    current: list[str] = []
    previous_heading = False
    for i, line in enumerate(lines):
        # The block's start counts as a clause's end.
        is_heading = below[i] and (i == 0 or ends[i - 1] or previous_heading)
        if is_heading:
            if current:
                parts.append(("\n".join(current), False))
            parts.append((line, True))
            current = []
        else:
            current.append(line)
        previous_heading = is_heading
    if current:
        parts.append(("\n".join(current), False))
    return parts


def _split_block(block: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for end in sentence_ends(block):
        pieces.append(block[start:end].strip())
        start = end
    pieces.append(block[start:].strip())
    return pieces


def _is_abbreviation(word: str) -> bool:
    bare = word.lstrip("\"'“‘([").lower()
    if bare in _ABBREVIATIONS:
        return True
    # An initial ("J") or a dotted acronym whose last dot is this one ("U.S").
    return (len(bare) == 1 and bare.isalpha()) or bool(_ACRONYM.fullmatch(bare))
