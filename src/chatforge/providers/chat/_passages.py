"""How the extractive model reads a passage: the units it may quote.

A unit is a sentence of prose, a heading, a numbered step, or a table row. Rows arrive in two
stored forms (``header: value`` lines from CSV, XLSX and Word tables; ``| a | b |`` lines from
Markdown and HTML tables) and are said as one sentence built from their column names ("The
Trailblazer 29 costs $1,649; sku: RB-TB29."), never as a raw row. A bare "Yes." or "No." is
joined to the sentence after it: it is never said without the fact it rests on.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from chatforge.text.analysis import compound_terms, content_terms
from chatforge.text.entities import exact_words, says_amount
from chatforge.text.sentences import split_units

Kind = Literal["prose", "heading", "step", "row"]

_RECORD_LINE = re.compile(r"\A\s*([^:|\n]{1,40}):\s+(\S.*)\Z")
_TABLE_LINE = re.compile(r"\A\s*\|.*\|\s*\Z")
_TABLE_RULE = re.compile(r"\A[\s|:\-]+\Z")
_STEP = re.compile(r"\A(?:\d{1,2}[.)]|[-*•▪◦])\s")
_LEADING_HEADING = re.compile(r"\A(?=\S)(?:\S+\s){0,11}\S+(?<![.!:;,])\Z")
_BARE_REPLY = re.compile(r"\A(?:yes|no)\W{0,3}\Z", re.IGNORECASE)
_PRICE_HEADER = re.compile(r"\b(?:price|cost|fee|amount)\b")
_CURRENCIES = {"usd": "$", "dollars": "$", "eur": "€", "euro": "€", "gbp": "£"}
_FILLER = frozenset({"price", "cost", "fee", "amount", "in", "the"})
_PERIODS = {
    "month": "a month",
    "monthly": "a month",
    "mo": "a month",
    "year": "a year",
    "yearly": "a year",
    "annual": "a year",
    "week": "a week",
    "weekly": "a week",
    "day": "a day",
    "daily": "a day",
    "hour": "an hour",
    "hourly": "an hour",
}


@dataclass(frozen=True)
class Unit:
    """One quotable unit of a passage.

    ``context`` holds the terms of the headings above it (they say what it is about);
    ``tokens`` its words and codes as written, lower-cased, headings above included (for the
    exact tokens a question names); ``section`` numbers the heading it sits under; ``faq``
    says that heading is a question ("Do you offer financing?"): what follows is its answer,
    to be said only to a question that means the same, as a Q&A pair's is.
    """

    text: str
    kind: Kind
    terms: frozenset[str]
    pairs: frozenset[tuple[str, str]]
    context: frozenset[str]
    tokens: frozenset[str]
    section: int
    faq: bool = False


@lru_cache(maxsize=4096)  # popular passages are retrieved by chat after chat
def analyse(content: str, *, every: bool = False) -> tuple[Unit, ...]:
    """The units of ``content`` that have content words (``every`` unit, for a Q&A answer)."""
    units: list[Unit] = []
    context: frozenset[str] = frozenset()
    context_tokens: frozenset[str] = frozenset()
    section = 0
    above_was_heading = False
    faq = False
    for text, kind, extra in _raw_units(content, headings=not every):
        terms = content_terms(text + " " + extra)
        tokens = frozenset(exact_words(text))
        if kind == "heading":
            # Stacked headings ("Shipping", "International") all say what follows.
            if not above_was_heading:
                context, context_tokens = frozenset(), frozenset()
                section += 1
                faq = False
            faq = faq or text.rstrip().endswith("?")
            context |= frozenset(terms) | compound_terms(text)
            context_tokens |= tokens
        above_was_heading = kind == "heading"
        if terms or every:
            pairs = frozenset(itertools.pairwise(terms))
            units.append(
                Unit(
                    text,
                    kind,
                    frozenset(terms) | compound_terms(text),
                    pairs,
                    context,
                    tokens | context_tokens,
                    section,
                    faq=faq,
                )
            )
    return tuple(units)


def _raw_units(content: str, *, headings: bool) -> Iterator[tuple[str, Kind, str]]:
    """``(text, kind, extra terms)`` in reading order; a row's extra terms are its headers."""
    for block in re.split(r"\n\s*\n", content):
        for segment, form in _segments(block):
            if form == "table":
                yield from _table_rows(segment)
            elif form == "record":
                pairs = [_split_record(line) for line in segment]
                if says_amount(pairs[0][1]) and any(c.isdigit() for c in pairs[0][1]):
                    # "Baguette: 2.20 euros" under "Croissant: 1.80 euros" is a price list, a
                    # fact a line; a table's row starts with what it is about, not a price.
                    yield from ((f"{h}: {v}".rstrip(".") + ".", "prose", "") for h, v in pairs)
                else:
                    yield _row_sentence(pairs), "row", " ".join(h for h, _ in pairs)
            else:
                yield from _prose("\n".join(segment), headings=headings)


def _segments(block: str) -> Iterator[tuple[list[str], str]]:
    """Runs of a block's lines: ``table`` lines, ``record`` lines (two or more), ``prose``."""
    lines = block.split("\n")

    def form(line: str) -> str:
        if _TABLE_LINE.match(line):
            return "table"
        return "record" if _RECORD_LINE.match(line) else "prose"

    runs: list[tuple[list[str], str]] = []
    for kind, run in itertools.groupby(lines, key=form):
        group = list(run)
        if kind == "record" and len(group) < 2:
            kind = "prose"  # "Note: ..." alone is a sentence, not a row
        if kind == "prose" and runs and runs[-1][1] == "prose":
            # "Yes, through Affirm: 0% APR ..." under its heading is prose, read with it.
            runs[-1][0].extend(group)
        else:
            runs.append((group, kind))
    yield from runs


def _prose(text: str, *, headings: bool) -> Iterator[tuple[str, Kind, str]]:
    lines = text.split("\n")
    # A chunk starts with the headings of its section, one a line ("How do I reset the
    # display?" above "1. Turn the bike off."): short lines that end no sentence.
    while headings and len(lines) > 1 and _LEADING_HEADING.match(lines[0].strip()):
        yield lines.pop(0).strip(), "heading", ""
    pending: str | None = None
    for sentence, is_heading in _prose_units(lines, headings=headings):
        if pending is not None:
            sentence = f"{pending} {sentence}"
            pending = None
        elif not is_heading and _BARE_REPLY.match(sentence):
            pending = sentence  # said with the sentence after it
            continue
        kind: Kind = "heading" if is_heading else "step" if _STEP.match(sentence) else "prose"
        yield sentence, kind, ""
    if pending is not None:
        yield pending, "prose", ""


def _prose_units(lines: list[str], *, headings: bool) -> Iterator[tuple[str, bool]]:
    """:func:`split_units` of the lines, but a numbered step is one unit, whole."""
    for is_step, run in itertools.groupby(lines, key=lambda line: bool(_STEP.match(line.strip()))):
        if is_step:
            yield from ((" ".join(line.split()), False) for line in run)
        else:
            yield from split_units("\n".join(run), headings=headings)


def _split_record(line: str) -> tuple[str, str]:
    match = _RECORD_LINE.match(line)
    assert match is not None  # only record lines reach here
    return match[1].strip(), match[2].strip()


def _table_rows(lines: Sequence[str]) -> Iterator[tuple[str, Kind, str]]:
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in lines
        if not _TABLE_RULE.match(line)
    ]
    if len(rows) < 2:
        for row in rows:
            yield " | ".join(c for c in row if c), "prose", ""
        return
    header = rows[0]
    for row in rows[1:]:
        pairs = [(h, v) for h, v in zip(header, row, strict=False) if v]
        if pairs:
            yield _row_sentence(pairs), "row", " ".join(header)


def _row_sentence(pairs: Sequence[tuple[str, str]]) -> str:
    """A row said as a sentence from its column names: its first value names it.

    A column of money (its name says a price, a cost, a fee or a currency) says its value as
    an amount: the first is what the row costs ("Core costs $80 a month (base)"), the others
    keep their name ("per person: $6 a month").
    """
    (_, key), rest = pairs[0], pairs[1:]
    money = [(h, v) for h, v in rest if _money_header(h) is not None]
    price = next((p for p in money if _PRICE_HEADER.search(_header(p[0]))), None)
    price = price or next(iter(money), None)
    parts = []
    for header, value in rest:
        if (header, value) == price:
            continue
        if (header, value) in money:  # "install fee: $99" of install_fee_usd
            name = [w for w in _header(header).split() if w not in _CURRENCIES | _PERIODS.keys()]
            parts.append(f"{' '.join(name) or _header(header)}: {_money(header, value)}")
        else:
            parts.append(f"{_header(header)}: {value}")
    head = key
    if price is not None:
        *_, qualifier = _money_header(price[0]) or ("", "", "")
        amount = _money(*price)
        if qualifier.startswith("per "):  # price_per_user_month_usd: "$12 per user a month"
            number, _, period = amount.partition(" ")
            head = f"{key} costs {number} {qualifier} {period}".rstrip()
        else:
            head = f"{key} costs {amount}" + (f" ({qualifier})" if qualifier else "")
    return (f"{head}; {'; '.join(parts)}" if parts else head).rstrip(".") + "."


def _header(header: str) -> str:
    return " ".join(header.replace("_", " ").split()).lower()


def _money_header(header: str) -> tuple[str, str, str] | None:
    """``(symbol, period, qualifier)`` of a column of money, None for another column.

    ``per_person_usd_month`` is ``("$", "a month", "per person")``.
    """
    words = _header(header).split()
    if not (_PRICE_HEADER.search(" ".join(words)) or any(w in _CURRENCIES for w in words)):
        return None
    symbol = next((_CURRENCIES[w] for w in words if w in _CURRENCIES), "")
    period = next((_PERIODS[w] for w in words if w in _PERIODS), "")
    kept = [w for w in words if w not in _CURRENCIES and w not in _PERIODS and w not in _FILLER]
    if kept[-1:] == ["per"] and period:  # price_usd_per_hour
        kept.pop()
    return symbol, period, " ".join(kept)


def _money(header: str, value: str) -> str:
    """``value`` as an amount in the column's currency, with the period the column names:
    "$29 a month" for ``monthly_usd``."""
    symbol, period, _ = _money_header(header) or ("", "", "")
    amount = value
    if symbol and re.fullmatch(r"\d+(?:\.\d+)?", value):
        whole, _, cents = value.partition(".")
        amount = f"{symbol}{int(whole):,}" + (f".{cents}" if cents else "")
    return f"{amount} {period}".strip()
