"""HTML pages: the main content only, with its headings, via trafilatura."""

from __future__ import annotations

from pathlib import Path

import trafilatura

from chatforge.rag.document import ParsedDocument, Section
from chatforge.rag.parsers.text import parse_markdown

__all__ = ["parse_html_raw", "read_html"]


def read_html(path: Path) -> bytes:
    """The page's bytes; trafilatura decodes them by their BOM or ``<meta charset>``."""
    return path.read_bytes()


def parse_html_raw(html: str | bytes, url: str | None = None) -> ParsedDocument:
    """Extract the main content of a page (navigation, footers and ads left out).

    trafilatura renders the content as Markdown, headings included, and its metadata (the
    ``<title>`` among them) as front matter; the Markdown parser then splits it at the headings.
    A page too small or too odd for content extraction falls back to all of its visible text.
    """
    markdown = trafilatura.extract(
        html,
        url=url,
        output_format="markdown",
        include_formatting=True,
        include_tables=True,
        include_comments=False,
        include_links=False,
        include_images=False,
        favor_recall=True,
        with_metadata=True,
    )
    if markdown:
        return parse_markdown(markdown)
    metadata = trafilatura.extract_metadata(html)
    title = metadata.title if metadata is not None else None
    return ParsedDocument(
        title=title or None,
        sections=(Section(heading=None, text=trafilatura.html2txt(html)),),
    )
