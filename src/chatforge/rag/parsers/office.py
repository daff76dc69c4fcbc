"""Office documents: Word (python-docx), PowerPoint (python-pptx) and Excel (openpyxl).

Every archive passes :func:`check_zip` before a library opens it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pptx
from docx.table import Table
from docx.text.paragraph import Paragraph
from pptx.enum.shapes import MSO_SHAPE_TYPE

from chatforge.rag.document import ParsedDocument, Section
from chatforge.rag.parsers.records import MAX_COLUMNS, MAX_ROWS, cell_text, render_rows
from chatforge.rag.parsers.zipguard import check_zip

__all__ = ["parse_docx", "parse_pptx", "parse_xlsx"]


def parse_docx(path: Path) -> ParsedDocument:
    """Split a Word document into sections at its heading paragraphs.

    The first paragraph in the "Title" style (or the core properties' title) is the document's
    title. Tables are rendered row by row, in their place among the paragraphs.
    """
    check_zip(path)
    document = docx.Document(str(path))
    title: str | None = (document.core_properties.title or "").strip() or None
    sections: list[Section] = []
    heading: str | None = None
    blocks: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            blocks.append(_docx_table(block))
            continue
        style = _style_name(block)
        if style == "title":
            title = title or block.text.strip() or None
        elif style.startswith("heading") and block.text.strip():
            sections.append(Section(heading=heading, text="\n\n".join(blocks)))
            heading, blocks = block.text.strip(), []
        else:
            blocks.append(block.text)
    sections.append(Section(heading=heading, text="\n\n".join(blocks)))
    return ParsedDocument(title=title, sections=tuple(sections), pages=None)


def _style_name(paragraph: Paragraph) -> str:
    try:
        style = paragraph.style
    except (KeyError, ValueError):
        # A paragraph pointing at a style the document does not define reads as body text.
        return ""
    return (style.name or "").lower() if style is not None else ""


def _docx_table(table: Table) -> str:
    rows: list[list[str]] = []
    for row in table.rows:
        cells: list[str] = []
        previous: Any = None
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans; keep it once.
            if cell._tc is not previous:
                cells.append(cell_text(cell.text))
            previous = cell._tc
        rows.append(cells)
    return render_rows(rows)


def parse_pptx(path: Path) -> ParsedDocument:
    """One section per slide: the slide's title is its heading, then its text and notes."""
    check_zip(path)
    presentation = pptx.Presentation(str(path))
    sections = []
    slides = list(presentation.slides)
    for number, slide in enumerate(slides, 1):
        title_shape = slide.shapes.title
        heading = None
        if title_shape is not None and title_shape.has_text_frame:
            heading = title_shape.text_frame.text.strip() or None
        title_id = title_shape.shape_id if title_shape is not None else None
        parts = [text for text in _shape_texts(slide.shapes, title_id) if text.strip()]
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            parts.append(slide.notes_slide.notes_text_frame.text)
        sections.append(Section(heading=heading, text="\n\n".join(parts), page=number))
    title = (presentation.core_properties.title or "").strip() or None
    return ParsedDocument(title=title, sections=tuple(sections), pages=len(slides))


def _shape_texts(shapes: Any, skip_id: int | None) -> Iterator[str]:
    # Shapes come in z-order; reading order is top to bottom, then left to right.
    ordered = sorted(shapes, key=lambda shape: (shape.top or 0, shape.left or 0))
    for shape in ordered:
        if shape.shape_id == skip_id:
            continue
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shape_texts(shape.shapes, skip_id)
        elif shape.has_text_frame:
            yield shape.text_frame.text
        elif getattr(shape, "has_table", False) and shape.has_table:
            rows = [[cell_text(cell.text) for cell in row.cells] for row in shape.table.rows]
            yield render_rows(rows)


def parse_xlsx(path: Path) -> ParsedDocument:
    """One section per worksheet, named after it; rows become ``header: value`` records.

    Cached values are read, not formulas. At most ``MAX_ROWS`` rows and ``MAX_COLUMNS`` columns
    of each sheet are read.
    """
    check_zip(path)
    # read_only streams each sheet's XML instead of building every cell object up front.
    workbook = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    try:
        sections = []
        sheets = list(workbook.worksheets)
        for number, sheet in enumerate(sheets, 1):
            rows = []
            for index, row in enumerate(sheet.iter_rows(values_only=True)):
                if index >= MAX_ROWS:
                    break
                rows.append([cell_text(value) for value in row[:MAX_COLUMNS]])
            sections.append(Section(heading=sheet.title, text=render_rows(rows), page=number))
        title = (workbook.properties.title or "").strip() or None
    finally:
        workbook.close()
    return ParsedDocument(title=title, sections=tuple(sections), pages=len(sheets))
