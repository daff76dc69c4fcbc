"""Text kinds, read with the standard library: plain text, Markdown, CSV and JSON."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path

from chatforge.errors import ParseError
from chatforge.rag.document import ParsedDocument, Section
from chatforge.rag.filetypes import HEADER_BYTES, text_encoding
from chatforge.rag.parsers.records import MAX_COLUMNS, MAX_ROWS, cell_text, render_rows

__all__ = ["parse_csv", "parse_json", "parse_markdown", "parse_text", "read_text"]

_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,3}[.)])[ \t]")
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t:|-]*-{3,}[ \t:|-]*\|?[ \t]*$")
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)")
_LINK = re.compile(r"\[([^\]\n]+)\]\([^)\n]*\)")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_FRONT_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.M)
# Deeper JSON than this is written compactly: nobody reads a path fifty keys long.
_JSON_DEPTH = 12


def read_text(path: Path) -> str:
    """Read a whole text file in its encoding (see :func:`text_encoding`: BOM, UTF-8, legacy).

    Bytes that do not decode become U+FFFD rather than failing: the header was checked already,
    and one bad byte deep in a large file should not lose the rest.
    """
    with path.open("rb") as fh:
        head = fh.read(HEADER_BYTES)
        encoding = text_encoding(head, complete=not fh.read(1))
    return path.read_text(encoding=encoding, errors="replace")


def parse_text(text: str) -> ParsedDocument:
    """Plain text: one section without heading; paragraphs are its blank-line separated blocks."""
    return ParsedDocument(title=None, sections=(Section(heading=None, text=text),))


def parse_markdown(text: str) -> ParsedDocument:
    """Split Markdown into sections at its headings (ATX ``#`` and setext underlines).

    Each section is headed by the path of headings above it ("Shipping › International").

    The front matter's ``title`` or else the first level-1 heading is the title. Headings inside
    fenced code do not count. Links and images keep only their text, so URLs do not crowd the
    chunks; HTML comments and table rules are dropped.
    """
    title, text = _front_matter(_HTML_COMMENT.sub("", text))
    sections: list[Section] = []
    heading: str | None = None
    path: list[tuple[int, str]] = []  # the headings above this point, outermost first
    lines: list[str] = []
    in_fence = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        atx = None if in_fence else _ATX_HEADING.match(line)
        if atx is None and not in_fence and lines and _is_setext(line, lines[-1]):
            atx_level, atx_text = (1 if "=" in line else 2), lines.pop().strip()
        elif atx is not None:
            atx_level, atx_text = len(atx[1]), atx[2].strip()
        else:
            if in_fence or not _TABLE_RULE.match(line) or "|" not in line:
                lines.append(_LINK.sub(r"\1", _IMAGE.sub(r"\1", line)))
            continue
        if not atx_text:
            continue
        sections.append(Section(heading=heading, text="\n".join(lines)))
        text_of_heading, lines = _LINK.sub(r"\1", atx_text), []
        if title is None and atx_level == 1:
            title = text_of_heading
        # A section is headed by its headings' path ("Shipping › International"), the title left
        # out: "International" alone no longer says what it is about.
        path = [(level, text) for level, text in path if level < atx_level]
        path.append((atx_level, text_of_heading))
        heading = " › ".join(text for level, text in path if not (level == 1 and text == title))
        heading = heading or text_of_heading
    sections.append(Section(heading=heading, text="\n".join(lines)))
    return ParsedDocument(title=title, sections=tuple(sections))


def _is_setext(line: str, previous: str) -> bool:
    # "---" under a paragraph line is a level-2 heading; under a blank line or a list item it is
    # a thematic break.
    return bool(
        _SETEXT_UNDERLINE.match(line)
        and previous.strip()
        and not _LIST_ITEM.match(previous)
        and not previous.lstrip().startswith(("|", ">"))
    )


def _front_matter(text: str) -> tuple[str | None, str]:
    match = _FRONT_MATTER.match(text)
    if match is None:
        return None, text
    title_match = _FRONT_TITLE.search(match[1])
    title = None
    if title_match is not None:
        title = title_match[1]
        if len(title) >= 2 and title[0] == title[-1] and title[0] in "\"'":
            title = title[1:-1].replace('\\"', '"')
    return title or None, text[match.end() :]


def parse_csv(path: Path) -> ParsedDocument:
    """Each row after the header becomes a ``header: value`` record (a paragraph of its own)."""
    with path.open("rb") as fh:
        head = fh.read(HEADER_BYTES)
        encoding = text_encoding(head, complete=not fh.read(1))
    with path.open(encoding=encoding, errors="replace", newline="") as fh:
        sample = fh.read(16384)
        fh.seek(0)
        try:
            dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
                sample, delimiters=",;\t|"
            )
        except csv.Error:
            dialect = csv.excel
        rows = []
        for index, row in enumerate(csv.reader(fh, dialect)):
            if index >= MAX_ROWS:
                break
            rows.append([cell_text(value) for value in row[:MAX_COLUMNS]])
    return ParsedDocument(title=None, sections=(Section(heading=None, text=render_rows(rows)),))


def parse_json(text: str) -> ParsedDocument:
    """Flatten JSON (or JSON Lines) into ``path: value`` lines.

    Each element of an array of objects becomes its own paragraph, so that records stay whole
    in chunks.
    """
    try:
        values = [json.loads(text)]
    except json.JSONDecodeError as exc:
        # JSON Lines: one document per line.
        if not exc.msg.startswith("Extra data"):
            raise ParseError(f"The JSON file is not valid JSON: {exc}.") from exc
        try:
            values = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as line_exc:
            raise ParseError(f"The JSON file is not valid JSON: {line_exc}.") from line_exc
    lines: list[str] = []
    for value in values:
        lines.extend(_flatten(value, "", 0))
        lines.append("")
    return ParsedDocument(title=None, sections=(Section(heading=None, text="\n".join(lines)),))


def _flatten(value: object, path: str, depth: int) -> Iterator[str]:
    if isinstance(value, dict) and depth < _JSON_DEPTH:
        for key, item in value.items():
            yield from _flatten(item, f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(value, list) and depth < _JSON_DEPTH:
        if all(not isinstance(item, dict | list) for item in value):
            joined = ", ".join(filter(None, (cell_text(item) for item in value)))
            if joined:
                yield f"{path or 'items'}: {joined}"
            return
        for index, item in enumerate(value):
            # A blank line between records makes each one a paragraph for the chunker.
            yield ""
            # Top-level records read best with paths relative to themselves ("name: Ada").
            yield from _flatten(item, f"{path}[{index}]" if path else "", depth + 1)
    elif isinstance(value, dict | list):
        yield f"{path or 'value'}: {json.dumps(value, ensure_ascii=False)}"
    elif value is not None and value != "":
        yield f"{path or 'value'}: {cell_text(value)}"
