"""Render the support evaluation's binary knowledge files from their committed text sources.

Each company of ``bench/support/companies`` keeps its PDF, DOCX and XLSX files as text in
``docs/``: ``NAME.pdf.md`` and ``NAME.docx.md`` (``#``/``##`` headings, paragraphs, ``1.``
numbered steps, ``|`` table rows) and ``NAME.xlsx.csv``. This script writes ``knowledge/NAME.pdf``,
``knowledge/NAME.docx`` and ``knowledge/NAME.xlsx`` beside the text formats, the same bytes of
text every run (reportlab's invariant mode, fixed document properties). The binaries are not
committed; ``bench/support_eval.py`` runs this first.

    .venv/bin/python bench/support/make_files.py [COMPANIES_DIR]
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from pathlib import Path

import docx
import openpyxl
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import ListFlowable, ListItem, Paragraph, SimpleDocTemplate, Spacer

HERE = Path(__file__).resolve().parent
_FIXED = dt.datetime(2026, 1, 1)


def _blocks(text: str) -> list[tuple[str, str | list[str]]]:
    """``(kind, content)`` blocks of a spec: h1, h2, p, steps (list), table (list of rows)."""
    blocks: list[tuple[str, str | list[str]]] = []
    for line in text.splitlines():
        line = line.rstrip()
        if not line:
            continue
        if line.startswith("## "):
            blocks.append(("h2", line[3:]))
        elif line.startswith("# "):
            blocks.append(("h1", line[2:]))
        elif line[:1].isdigit() and ". " in line[:4]:
            step = line.split(". ", 1)[1]
            if blocks and blocks[-1][0] == "steps":
                blocks[-1][1].append(step)  # type: ignore[union-attr]
            else:
                blocks.append(("steps", [step]))
        elif line.startswith("|"):
            row = " | ".join(c.strip() for c in line.strip("|").split("|"))
            if blocks and blocks[-1][0] == "table":
                blocks[-1][1].append(row)  # type: ignore[union-attr]
            else:
                blocks.append(("table", [row]))
        else:
            blocks.append(("p", line))
    return blocks


def make_pdf(spec: Path, target: Path) -> None:
    styles = getSampleStyleSheet()
    story: list[object] = []
    for kind, content in _blocks(spec.read_text(encoding="utf-8")):
        if kind == "h1":
            story.append(Paragraph(str(content), styles["Title"]))
        elif kind == "h2":
            story.append(Paragraph(str(content), styles["Heading2"]))
        elif kind == "steps":
            items = [ListItem(Paragraph(s, styles["BodyText"])) for s in content]
            story.append(ListFlowable(items, bulletType="1"))
        else:
            lines = content if isinstance(content, list) else [content]
            story.extend(Paragraph(line, styles["BodyText"]) for line in lines)
        story.append(Spacer(1, 6))
    # A PDF saved from a word processor declares its title: the document's first heading.
    title = next((str(c) for k, c in _blocks(spec.read_text(encoding="utf-8")) if k == "h1"), "")
    SimpleDocTemplate(str(target), pagesize=A4, invariant=1, title=title).build(story)


def make_docx(spec: Path, target: Path) -> None:
    document = docx.Document()
    document.core_properties.created = _FIXED
    document.core_properties.modified = _FIXED
    for kind, content in _blocks(spec.read_text(encoding="utf-8")):
        if kind == "h1":
            document.add_heading(str(content), level=0)
        elif kind == "h2":
            document.add_heading(str(content), level=1)
        elif kind == "steps":
            for number, step in enumerate(content, start=1):
                document.add_paragraph(f"{number}. {step}")
        elif kind == "table":
            rows = [row.split(" | ") for row in content]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
        else:
            document.add_paragraph(str(content))
    document.save(str(target))


def make_xlsx(spec: Path, target: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = spec.name.split(".")[0]
    with spec.open(encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh):
            sheet.append([int(v) if v.isdigit() else v for v in row])
    workbook.properties.created = _FIXED
    workbook.properties.modified = _FIXED
    workbook.save(str(target))


def build(companies: Path) -> list[Path]:
    """Render every company's ``docs/`` into its ``knowledge/``; the files written."""
    written = []
    makers = {
        ".pdf.md": (".pdf", make_pdf),
        ".docx.md": (".docx", make_docx),
        ".xlsx.csv": (".xlsx", make_xlsx),
    }
    for spec in sorted(companies.glob("*/docs/*")):
        for suffix, (extension, make) in makers.items():
            if spec.name.endswith(suffix):
                name = spec.name[: -len(suffix)] + extension
                target = spec.parent.parent / "knowledge" / name
                target.parent.mkdir(exist_ok=True)
                make(spec, target)
                written.append(target)
    return written


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "companies"
    for path in build(root):
        print(path.relative_to(root))
