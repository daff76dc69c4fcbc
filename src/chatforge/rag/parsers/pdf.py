"""PDF text extraction with pypdf: one section per page, headed by the PDF's bookmarks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from chatforge.errors import ParseError
from chatforge.rag.document import ParsedDocument, Section

__all__ = ["parse_pdf"]

logger = logging.getLogger(__name__)

# Placeholders that PDF writers put where the author gave no title.
_NO_TITLE = {"", "untitled", "untitled document", "no title", "title"}


def parse_pdf(path: Path) -> ParsedDocument:
    """Extract each page's text; a page's heading is the bookmark it falls under, if any.

    Raises:
        ParseError: The PDF is encrypted with a password, or cannot be read.
    """
    # An open file, not a path: pypdf then reads objects on demand instead of the whole file.
    with path.open("rb") as fh:
        reader = PdfReader(fh)
        _unlock(reader)
        headings = _page_headings(reader)
        sections = []
        for number, page in enumerate(reader.pages, 1):
            try:
                text = page.extract_text()
            except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
                # One damaged page should not cost the user the other ninety-nine.
                logger.warning("skipping unreadable page %d of %s: %r", number, path.name, exc)
                continue
            if text.strip():
                sections.append(Section(heading=headings.get(number), text=text, page=number))
        title = reader.metadata.title if reader.metadata is not None else None
        if not isinstance(title, str) or title.strip().lower() in _NO_TITLE:
            title = None
        return ParsedDocument(
            title=title,
            sections=tuple(sections),
            pages=len(reader.pages),
        )


def _unlock(reader: PdfReader) -> None:
    """Open an encrypted PDF with the empty password, or refuse it.

    Many PDFs are encrypted only to restrict printing or copying (an owner password); anyone may
    read them, and so may Chatforge. A PDF that needs a user password cannot be read.
    """
    if not reader.is_encrypted:
        return
    try:
        unlocked = bool(reader.decrypt(""))
    except Exception:
        # An unsupported cipher leaves the PDF as unreadable as a wrong password does.
        unlocked = False
    if not unlocked:
        raise ParseError(
            "The PDF is encrypted with a password. Remove the password and upload it again."
        )


def _page_headings(reader: PdfReader) -> dict[int, str]:
    """Map each 1-based page to the bookmark title its text falls under.

    A page where bookmarks start takes its first one; other pages inherit the last bookmark
    before them. Broken outlines are ignored: headings are a nicety, the text is what matters.
    """
    starts: list[tuple[int, int, str]] = []
    try:
        _collect(reader, reader.outline, starts)
    except Exception:
        return {}
    if not starts:
        return {}
    first_on_page: dict[int, str] = {}
    last_on_page: dict[int, str] = {}
    for page, _order, title in sorted(starts):
        first_on_page.setdefault(page, title)
        last_on_page[page] = title
    headings: dict[int, str] = {}
    current: str | None = None
    for page in range(1, len(reader.pages) + 1):
        if page in first_on_page:
            headings[page] = first_on_page[page]
            # The next page goes on under the last bookmark that starts on this one.
            current = last_on_page[page]
        elif current is not None:
            headings[page] = current
    return headings


def _collect(reader: PdfReader, outline: list[Any], into: list[tuple[int, int, str]]) -> None:
    for entry in outline:
        if isinstance(entry, list):
            _collect(reader, entry, into)
            continue
        page = reader.get_destination_page_number(entry)
        title = str(entry.title or "").strip()
        if page is not None and page >= 0 and title:
            into.append((page + 1, len(into), title))
