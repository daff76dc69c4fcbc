"""Generators of real files of every accepted type, for tests that ingest them.

Each ``make_*`` function writes a genuine file with the library a user's tools would produce it
with (reportlab for PDF, python-docx, python-pptx, openpyxl) and returns its path, so tests
exercise the same code paths as real uploads. Nothing here is mocked.
"""

from __future__ import annotations

import csv
import io
import json
import struct
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import docx
import openpyxl
import pptx
from pptx.util import Inches
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen import canvas

# A section is a heading (or None for text before the first heading) and its paragraphs.
Sections = Sequence[tuple[str | None, Sequence[str]]]

LOREM = (
    "Chatforge answers questions from the documents you give it. Every answer cites the passages "
    "it used, so a reader can check it. Uploads are parsed, cleaned, chunked and embedded in the "
    "background, and each item shows where the time went. "
)


def make_pdf(
    path: Path,
    pages: Sequence[str],
    *,
    title: str | None = None,
    bookmarks: Mapping[int, str] | None = None,
    user_password: str | None = None,
    owner_password: str | None = None,
) -> Path:
    """Write a text PDF with one entry of ``pages`` per page (blank lines separate paragraphs).

    ``bookmarks`` maps 0-based page indexes to outline titles that start on them. With
    ``user_password`` (or ``owner_password``) the PDF is encrypted with AES-256 by pypdf; an
    empty user password with an owner password gives the common "restrictions only" PDF.
    """
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    if title is not None:
        pdf.setTitle(title)
    width, height = A4
    for index, page_text in enumerate(pages):
        if bookmarks and index in bookmarks:
            pdf.bookmarkPage(f"p{index}")
            pdf.addOutlineEntry(bookmarks[index], f"p{index}", level=0)
        text = pdf.beginText(60, height - 72)
        text.setFont("Helvetica", 11)
        for paragraph in page_text.split("\n\n"):
            for line in simpleSplit(paragraph, "Helvetica", 11, width - 120):
                text.textLine(line)
            text.textLine("")
        pdf.drawText(text)
        pdf.showPage()
    pdf.save()
    if user_password is None and owner_password is None:
        path.write_bytes(buffer.getvalue())
        return path
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(buffer.getvalue())))
    writer.encrypt(
        user_password=user_password or "",
        owner_password=owner_password,
        algorithm="AES-256",
    )
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def make_image_pdf(path: Path, pages: int = 2) -> Path:
    """Write a PDF whose pages only hold drawings (like a scan): no extractable text."""
    pdf = canvas.Canvas(str(path), pagesize=A4)
    for i in range(pages):
        pdf.rect(100 + i * 10, 100, 200, 300, fill=1)
        pdf.showPage()
    pdf.save()
    return path


def make_docx(
    path: Path,
    sections: Sections,
    *,
    title: str | None = None,
    table: Sequence[Sequence[str]] | None = None,
    heading_level: int = 1,
) -> Path:
    """Write a Word document: a Title paragraph, then each heading and its paragraphs.

    ``table`` (rows of cells, the first row being the header) is added after the last section.
    """
    document = docx.Document()
    if title is not None:
        document.core_properties.title = title
        document.add_heading(title, level=0)
    for heading, paragraphs in sections:
        if heading is not None:
            document.add_heading(heading, level=heading_level)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    document.save(str(path))
    return path


def make_pptx(
    path: Path, slides: Sequence[tuple[str, Sequence[str]]], *, notes: bool = False
) -> Path:
    """Write a presentation with one "Title and Content" slide per ``(title, bullets)``."""
    presentation = pptx.Presentation()
    layout = presentation.slide_layouts[1]
    for slide_title, bullets in slides:
        slide = presentation.slides.add_slide(layout)
        slide.shapes.title.text = slide_title
        body = slide.placeholders[1].text_frame
        body.text = bullets[0] if bullets else ""
        for bullet in bullets[1:]:
            body.add_paragraph().text = bullet
        if notes:
            slide.notes_slide.notes_text_frame.text = f"Speaker notes for {slide_title}."
    presentation.save(str(path))
    return path


def make_pptx_with_table(path: Path, title: str, rows: Sequence[Sequence[str]]) -> Path:
    """Write a one-slide presentation (title only layout) holding a table."""
    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])
    slide.shapes.title.text = title
    shape = slide.shapes.add_table(
        len(rows), len(rows[0]), Inches(1), Inches(2), Inches(6), Inches(2)
    )
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            shape.table.cell(r, c).text = value
    presentation.save(str(path))
    return path


def make_xlsx(path: Path, sheets: Mapping[str, Sequence[Sequence[object]]]) -> Path:
    """Write a workbook with one sheet per entry; each sheet's first row is its header."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(list(row))
    workbook.save(str(path))
    return path


def make_html(path: Path, *, title: str, sections: Sections, boilerplate: bool = True) -> Path:
    """Write an HTML page with an <article> of headings and paragraphs, plus nav and footer."""
    body = []
    for heading, paragraphs in sections:
        if heading is not None:
            body.append(f"<h2>{heading}</h2>")
        body.extend(f"<p>{p}</p>" for p in paragraphs)
    nav = "<nav><a href='/'>Home</a> | <a href='/about'>About us</a></nav>" if boilerplate else ""
    footer = (
        "<footer>Copyright 2024 Example Corp. All rights reserved.</footer>" if boilerplate else ""
    )
    path.write_text(
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title></head><body>{nav}<main><article><h1>{title}</h1>"
        f"{''.join(body)}</article></main>{footer}</body></html>",
        encoding="utf-8",
    )
    return path


def make_markdown(path: Path, sections: Sections, *, title: str | None = None) -> Path:
    """Write a Markdown file: ``# title`` then ``## heading`` sections of paragraphs."""
    parts = [f"# {title}"] if title else []
    for heading, paragraphs in sections:
        if heading is not None:
            parts.append(f"## {heading}")
        parts.extend(paragraphs)
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return path


def make_text(path: Path, paragraphs: Sequence[str], *, encoding: str = "utf-8") -> Path:
    """Write plain text, paragraphs separated by blank lines (``utf-16`` writes a BOM)."""
    path.write_bytes("\n\n".join(paragraphs).encode(encoding) + "\n".encode(encoding))
    return path


def make_csv(path: Path, rows: Sequence[Sequence[object]], *, delimiter: str = ",") -> Path:
    """Write a CSV file; the first row is the header."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)
    return path


def make_json(path: Path, value: object) -> Path:
    """Write ``value`` as indented JSON."""
    path.write_text(json.dumps(value, indent=2), encoding="utf-8")
    return path


def make_png(path: Path, size: int = 4) -> Path:
    """Write a small valid PNG (a grey square), whatever the name's extension says."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    pixels = b"".join(b"\x00" + b"\x80" * size for _ in range(size))
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )
    return path


def make_zip_bomb_docx(path: Path, *, inflated_mb: int = 64) -> Path:
    """Write a valid DOCX that also carries a highly compressed member of ``inflated_mb`` zeros.

    A real bomb inflates to gigabytes; this one stays small enough to build in a test while
    showing the same signature (a large member with a compression ratio near 1000:1).
    """
    make_docx(path, [("Harmless", ["This document hides a very compressible attachment."])])
    block = bytes(1024 * 1024)
    with (
        zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("word/media/bomb.bin", "w", force_zip64=True) as member,
    ):
        for _ in range(inflated_mb):
            member.write(block)
    return path


def make_many_members_docx(path: Path, members: int) -> Path:
    """Write a valid DOCX padded with ``members`` tiny extra zip members."""
    make_docx(path, [("Padded", ["A document with a great many parts."])])
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_STORED) as archive:
        for i in range(members):
            archive.writestr(f"customXml/padding{i}.xml", b"<a/>")
    return path


def make_zip(path: Path, members: Mapping[str, bytes]) -> Path:
    """Write a plain zip archive (not an Office document)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path
