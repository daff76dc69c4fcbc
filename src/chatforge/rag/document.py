"""The typed result of parsing a file: a title and its sections, in reading order."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    """A run of text under one heading.

    Attributes:
        heading: The heading the text sits under (a DOCX heading, a slide title, a sheet name),
            or None for text with no heading (a PDF page, the start of a document).
        text: The section's text; paragraphs are separated by a blank line.
        page: The 1-based PDF page, PPTX slide or XLSX sheet the text comes from, if any.
    """

    heading: str | None
    text: str
    page: int | None = None


@dataclass(frozen=True)
class ParsedDocument:
    """A parsed file.

    Attributes:
        title: The title the file declares (metadata, a Title paragraph, ``<title>``), if any.
        sections: The sections in reading order; none is empty after cleaning.
        pages: The number of PDF pages, PPTX slides or XLSX sheets; None for other kinds.
    """

    title: str | None
    sections: tuple[Section, ...]
    pages: int | None = None
