"""Parsing: a file of a known kind in, a cleaned :class:`ParsedDocument` out.

``parse_file`` is the one entry point for uploads; ``parse_html``, ``parse_markdown`` and
``parse_text`` serve sources that arrive as strings (URL pages, text items). Whatever goes wrong
inside a parsing library, callers see a :class:`~chatforge.errors.ParseError` whose message a
user can act on, never the library's exception.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from chatforge.errors import ChatforgeError, ParseError
from chatforge.rag.cleaning import clean_text
from chatforge.rag.document import ParsedDocument, Section
from chatforge.rag.filetypes import FileKind

__all__ = ["parse_file", "parse_html", "parse_markdown", "parse_text"]

logger = logging.getLogger(__name__)

_LABELS = {
    FileKind.PDF: "PDF",
    FileKind.DOCX: "Word document",
    FileKind.PPTX: "PowerPoint presentation",
    FileKind.XLSX: "Excel workbook",
    FileKind.HTML: "HTML page",
    FileKind.MARKDOWN: "Markdown file",
    FileKind.TEXT: "text file",
    FileKind.CSV: "CSV file",
    FileKind.JSON: "JSON file",
}


def parse_file(path: Path, kind: FileKind) -> ParsedDocument:
    """Parse and clean a file whose kind :func:`~chatforge.rag.filetypes.detect_kind` found.

    Args:
        path: The file on disk.
        kind: Its kind.

    Returns:
        The document, cleaned, with at least one non-empty section.

    Raises:
        ParseError: The file is empty, encrypted, corrupt, an Office zip beyond the safety
            bounds, or holds no extractable text.
    """
    label = _LABELS[kind]
    try:
        if path.stat().st_size == 0:
            raise ParseError(f"The {label} is empty.")
        document = _parser(kind)(path)
    except ChatforgeError:
        raise
    except Exception as exc:
        # Parsing libraries raise anything from KeyError to RecursionError on malformed input;
        # all of it means the same to the user: this file cannot be read.
        logger.info("cannot parse %s as %s: %r", path.name, kind, exc)
        raise ParseError(
            f"The {label} could not be read: it is damaged or not a valid {label}. "
            "Open it in its application, save it again and re-upload it.",
            details={"reason": f"{type(exc).__name__}: {exc}"[:300]},
        ) from exc
    return _finish(document, label, pdf=kind is FileKind.PDF)


def parse_html(html: str | bytes, url: str | None = None) -> ParsedDocument:
    """Parse an HTML page (an upload or a fetched URL) into its main content, cleaned.

    Args:
        html: The page; bytes are decoded by their BOM or ``<meta charset>``.
        url: The page's address, which helps tell its content from its navigation.

    Raises:
        ParseError: The page cannot be read or has no text.
    """
    from chatforge.rag.parsers.html import parse_html_raw

    try:
        document = parse_html_raw(html, url)
    except Exception as exc:
        raise ParseError("The HTML page could not be read.") from exc
    return _finish(document, _LABELS[FileKind.HTML], pdf=False)


def parse_markdown(text: str) -> ParsedDocument:
    """Parse Markdown text into sections at its headings, cleaned.

    Raises:
        ParseError: The text is empty.
    """
    from chatforge.rag.parsers.text import parse_markdown as parse

    return _finish(parse(text), "text", pdf=False)


def parse_text(text: str) -> ParsedDocument:
    """Parse plain text (one section, paragraphs at blank lines), cleaned.

    Raises:
        ParseError: The text is empty.
    """
    from chatforge.rag.parsers.text import parse_text as parse

    return _finish(parse(text), "text", pdf=False)


def _parser(kind: FileKind) -> Callable[[Path], ParsedDocument]:
    # Imported on first use: pypdf, python-docx, openpyxl and trafilatura together take about a
    # second to import, which an API process or a text-only ingestion need not pay.
    if kind is FileKind.PDF:
        from chatforge.rag.parsers.pdf import parse_pdf

        return parse_pdf
    if kind in (FileKind.DOCX, FileKind.PPTX, FileKind.XLSX):
        from chatforge.rag.parsers import office

        return {
            FileKind.DOCX: office.parse_docx,
            FileKind.PPTX: office.parse_pptx,
            FileKind.XLSX: office.parse_xlsx,
        }[kind]
    from chatforge.rag.parsers import text

    if kind is FileKind.HTML:
        from chatforge.rag.parsers.html import parse_html_raw, read_html

        return lambda path: parse_html_raw(read_html(path))
    if kind is FileKind.CSV:
        return text.parse_csv
    readers: dict[FileKind, Callable[[str], ParsedDocument]] = {
        FileKind.MARKDOWN: text.parse_markdown,
        FileKind.TEXT: text.parse_text,
        FileKind.JSON: text.parse_json,
    }
    reader = readers[kind]
    return lambda path: reader(text.read_text(path))


def _finish(document: ParsedDocument, label: str, *, pdf: bool) -> ParsedDocument:
    """Clean every section, drop the empty ones, and refuse a document with no text left."""
    sections = []
    for section in document.sections:
        body = clean_text(section.text, dehyphenate=pdf, unwrap=pdf)
        if body:
            sections.append(replace(section, heading=_one_line(section.heading), text=body))
    if not sections:
        # A document of headings only still says something; index its headings.
        headings = [h for s in document.sections if (h := _one_line(s.heading))]
        if headings:
            sections.append(Section(heading=None, text="\n\n".join(headings)))
    if not sections:
        if pdf:
            raise ParseError(
                "The PDF has no extractable text: it may hold scanned images, "
                "and text recognition (OCR) is not supported."
            )
        raise ParseError(f"The {label} has no text to index.")
    return ParsedDocument(
        title=_one_line(document.title), sections=tuple(sections), pages=document.pages
    )


def _one_line(text: str | None) -> str | None:
    if text is None:
        return None
    return " ".join(clean_text(text).split()) or None
