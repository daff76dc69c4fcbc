"""Parsing real files of every kind: the right text, under the right heading, on the right page."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest
from tests.factories.files import (
    LOREM,
    make_csv,
    make_docx,
    make_html,
    make_image_pdf,
    make_json,
    make_many_members_docx,
    make_markdown,
    make_pdf,
    make_pptx,
    make_pptx_with_table,
    make_text,
    make_xlsx,
    make_zip_bomb_docx,
)

from chatforge.errors import ParseError
from chatforge.rag import FileKind, ParsedDocument, detect_kind, parse_file, parse_html
from chatforge.rag.parsers.zipguard import ZipLimits, check_zip


def parse(path: Path) -> ParsedDocument:
    return parse_file(path, detect_kind(path))


# --- PDF -------------------------------------------------------------------------------------


def test_pdf_text_lands_on_its_page(tmp_path: Path) -> None:
    pages = [f"Page {n} talks about topic number {n}. {LOREM}" for n in range(1, 8)]
    doc = parse(make_pdf(tmp_path / "a.pdf", pages, title="Field guide"))

    assert doc.title == "Field guide"
    assert doc.pages == 7
    assert [s.page for s in doc.sections] == [1, 2, 3, 4, 5, 6, 7]
    assert "topic number 3." in doc.sections[2].text
    assert "topic number 4" not in doc.sections[2].text


def test_pdf_bookmarks_become_headings(tmp_path: Path) -> None:
    pages = ["Why we measure.", "How we measured.", "More measuring.", "What we found."]
    path = make_pdf(
        tmp_path / "a.pdf", pages, bookmarks={0: "Introduction", 1: "Method", 3: "Results"}
    )

    doc = parse(path)

    assert [s.heading for s in doc.sections] == ["Introduction", "Method", "Method", "Results"]


def test_pdf_lines_are_rejoined_and_broken_words_mended(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "a.pdf", ["The infor-\nmation was\ncollected in 2023. It is\nfree."])

    text = parse(path).sections[0].text

    assert "The information was collected in 2023." in text
    assert "It is free." in text


def test_pdf_headings_stay_apart_from_the_sentence_after_them(tmp_path: Path) -> None:
    page = (
        "Returns policy\n\nYou can return any item within 30 days of delivery, provided it is "
        "unused and in its original packaging with every accessory.\n\nShipping\n\nOrders "
        "ship within two business days from our warehouse in Leeds."
    )

    (section,) = parse(make_pdf(tmp_path / "a.pdf", [page])).sections

    assert section.text.split("\n") == [
        "Returns policy",
        "You can return any item within 30 days of delivery, provided it is unused and in its "
        "original packaging with every accessory.",
        "Shipping",
        "Orders ship within two business days from our warehouse in Leeds.",
    ]


def test_pdf_with_owner_password_only_is_read(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "a.pdf", ["Readable by all."], owner_password="owner")

    assert parse(path).sections[0].text == "Readable by all."


def test_pdf_with_user_password_is_refused_as_encrypted(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "a.pdf", ["Secret."], user_password="secret", owner_password="x")

    with pytest.raises(ParseError, match="The PDF is encrypted"):
        parse(path)


def test_corrupt_pdfs_are_parse_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
    whole = make_pdf(tmp_path / "whole.pdf", ["One.", "Two."]).read_bytes()
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(whole[: len(whole) // 3])

    for path in (garbage, truncated):
        with pytest.raises(ParseError, match="damaged") as caught:
            parse(path)
        assert caught.value.details["reason"]


def test_scanned_pdf_without_text_explains_ocr(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="no extractable text"):
        parse(make_image_pdf(tmp_path / "scan.pdf"))


def test_a_fifty_page_pdf_gives_every_page(tmp_path: Path) -> None:
    # How fast: bench/ingest.py measures it; tests do not time anything.
    page = "\n\n".join([LOREM * 4] * 3)  # about 3,000 characters, a full page of prose
    path = make_pdf(tmp_path / "fifty.pdf", [page] * 50)

    doc = parse(path)

    assert doc.pages == 50
    assert len(doc.sections) == 50


# --- Office ----------------------------------------------------------------------------------


def test_docx_headings_become_sections_and_tables_rows(tmp_path: Path) -> None:
    path = make_docx(
        tmp_path / "a.docx",
        [
            (None, ["Welcome to the manual."]),
            ("Installation", ["Download the installer.", "Run it twice."]),
            ("Pricing", ["Two plans exist."]),
        ],
        title="User manual",
        table=[["Plan", "Price"], ["Free", "0 EUR"], ["Pro", "12 EUR"]],
    )

    doc = parse(path)

    assert doc.title == "User manual"
    assert [s.heading for s in doc.sections] == [None, "Installation", "Pricing"]
    assert doc.sections[1].text == "Download the installer.\n\nRun it twice."
    assert "Plan: Pro\nPrice: 12 EUR" in doc.sections[2].text
    assert doc.pages is None


def test_docx_subheadings_also_split(tmp_path: Path) -> None:
    path = make_docx(
        tmp_path / "a.docx", [("Deep", ["Text under a level 3 heading."])], heading_level=3
    )

    assert parse(path).sections[0].heading == "Deep"


def test_pptx_slides_are_pages_with_titles_as_headings(tmp_path: Path) -> None:
    path = make_pptx(
        tmp_path / "a.pptx",
        [("Welcome", ["Who we are", "What we do"]), ("Roadmap", ["Q1: launch", "Q2: grow"])],
        notes=True,
    )

    doc = parse(path)

    assert doc.pages == 2
    assert [(s.heading, s.page) for s in doc.sections] == [("Welcome", 1), ("Roadmap", 2)]
    assert "Q1: launch\nQ2: grow" in doc.sections[1].text
    assert "Speaker notes for Roadmap." in doc.sections[1].text
    assert doc.sections[0].text.startswith("Who we are")  # the title is not repeated as text


def test_pptx_tables_are_read(tmp_path: Path) -> None:
    path = make_pptx_with_table(tmp_path / "a.pptx", "Prices", [["Plan", "Price"], ["Pro", "12"]])

    assert parse(path).sections[0].text == "Plan: Pro\nPrice: 12"


def test_xlsx_sheets_are_sections_of_header_value_records(tmp_path: Path) -> None:
    path = make_xlsx(
        tmp_path / "a.xlsx",
        {
            "Menu": [["Item", "Price", "Since"], ["Tea", 3.0, dt.date(2024, 1, 2)], ["Cake", 4.5]],
            "Blank": [],
            "Staff": [["Name", "Role"], ["Ada", "Cook"]],
        },
    )

    doc = parse(path)

    assert doc.pages == 3
    assert [(s.heading, s.page) for s in doc.sections] == [("Menu", 1), ("Staff", 3)]
    assert (
        doc.sections[0].text == "Item: Tea\nPrice: 3\nSince: 2024-01-02\n\nItem: Cake\nPrice: 4.5"
    )
    assert doc.sections[1].text == "Name: Ada\nRole: Cook"


def test_zip_bomb_docx_is_refused_before_inflating(tmp_path: Path) -> None:
    path = make_zip_bomb_docx(tmp_path / "bomb.docx", inflated_mb=32)

    assert path.stat().st_size < 1024 * 1024
    assert detect_kind(path) is FileKind.DOCX
    with pytest.raises(ParseError, match="zip bomb"):
        parse_file(path, FileKind.DOCX)


def test_office_file_with_too_many_parts_is_refused(tmp_path: Path) -> None:
    path = make_many_members_docx(tmp_path / "many.docx", members=10_001)

    with pytest.raises(ParseError, match="parts"):
        parse(path)


def test_office_file_inflating_past_the_total_bound_is_refused(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "a.docx", [("Big", ["x"])])
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("word/media/photo.bin", bytes(range(256)) * 8192)  # 2 MB, incompressible

    check_zip(path)  # within the default bounds
    with pytest.raises(ParseError, match="inflates to 2 MB"):
        check_zip(path, ZipLimits(max_total_bytes=1024 * 1024))


def test_office_file_with_broken_xml_is_a_parse_error(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "a.docx", [("Fine", ["text"])])
    broken = tmp_path / "broken.docx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(
                item, b"<w:document><unclosed" if item.filename == "word/document.xml" else data
            )

    with pytest.raises(ParseError, match="Word document could not be read"):
        parse(broken)


# --- Text kinds ------------------------------------------------------------------------------


def test_html_keeps_main_content_headings_and_title(tmp_path: Path) -> None:
    path = make_html(
        tmp_path / "a.html",
        title="Opening hours",
        sections=[
            ("Weekdays", ["We open at nine and close at six, Monday to Friday."]),
            ("Weekends", ["On Saturdays we open at ten. On Sundays we rest."]),
        ],
    )

    doc = parse(path)

    assert doc.title == "Opening hours"
    headed = {s.heading: s.text for s in doc.sections}
    assert "We open at nine" in headed["Weekdays"]
    assert "On Sundays we rest." in headed["Weekends"]
    assert not any("All rights reserved" in s.text for s in doc.sections)


def test_parse_html_reads_a_fetched_page_and_tiny_pages(tmp_path: Path) -> None:
    page = "<html><head><title>Tiny</title></head><body><p>Only this.</p></body></html>"

    doc = parse_html(page, "https://example.com/tiny")

    assert doc.title == "Tiny"
    assert doc.sections[0].text == "Only this."


def test_markdown_splits_at_headings_outside_code(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text(
        '---\ntitle: "Guide: setup"\n---\nIntro line.\n\n# Setup\n\nSee [the docs](https://x.io).\n\n'
        "```\n# not a heading\n```\n\nUsage\n-----\n\nAsk ![a chart](c.png) away.\n",
        encoding="utf-8",
    )

    doc = parse(path)

    assert doc.title == "Guide: setup"
    assert [s.heading for s in doc.sections] == [None, "Setup", "Setup › Usage"]
    assert doc.sections[1].text == "See the docs.\n\n# not a heading"
    assert doc.sections[2].text == "Ask a chart away."


def test_markdown_sections_are_headed_by_their_heading_path(tmp_path: Path) -> None:
    path = tmp_path / "faq.md"
    path.write_text(
        "# Handbook\n\n## Shipping\n\nWe ship daily.\n\n### International\n\nTen days.\n\n"
        "### Costs\n\nFree above 50 euros.\n\n## Returns\n\nWithin 30 days.\n",
        encoding="utf-8",
    )

    doc = parse(path)

    assert doc.title == "Handbook"
    assert [(s.heading, s.text) for s in doc.sections if s.text] == [
        ("Shipping", "We ship daily."),
        ("Shipping › International", "Ten days."),
        ("Shipping › Costs", "Free above 50 euros."),
        ("Returns", "Within 30 days."),
    ]


def test_markdown_title_defaults_to_first_level_one_heading(tmp_path: Path) -> None:
    path = make_markdown(tmp_path / "a.md", [("Part", ["Body."])], title="Handbook")

    doc = parse(path)

    assert doc.title == "Handbook"
    assert doc.sections[-1].heading == "Part"


def test_text_keeps_paragraphs_and_drops_noise(tmp_path: Path) -> None:
    path = make_text(
        tmp_path / "a.txt", ["First  paragraph\twith   spaces.\x07", "", "", "Second."]
    )

    doc = parse(path)

    assert doc.title is None
    assert doc.sections[0].text == "First paragraph with spaces.\n\nSecond."


def test_utf16_text_is_decoded(tmp_path: Path) -> None:
    path = make_text(tmp_path / "a.txt", ["Grüße aus Köln."], encoding="utf-16")

    assert parse(path).sections[0].text == "Grüße aus Köln."


def test_csv_rows_become_header_value_records(tmp_path: Path) -> None:
    path = make_csv(tmp_path / "a.csv", [["name", "city"], ["Ada", "London"], ["Grace", ""]])

    doc = parse(path)

    assert doc.sections[0].text == "name: Ada\ncity: London\n\nname: Grace"


def test_json_is_flattened_to_readable_paths(tmp_path: Path) -> None:
    path = make_json(
        tmp_path / "a.json",
        [
            {"name": "Ada", "address": {"city": "London"}, "langs": ["en", "fr"]},
            {"name": "Grace", "active": True, "note": None},
        ],
    )

    text = parse(path).sections[0].text

    assert text == "name: Ada\naddress.city: London\nlangs: en, fr\n\nname: Grace\nactive: true"


def test_json_lines_are_read(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"id": 1, "title": "A"}\n{"id": 2, "title": "B"}\n', encoding="utf-8")

    assert parse(path).sections[0].text == "id: 1\ntitle: A\n\nid: 2\ntitle: B"


def test_invalid_json_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('{"a": 1,, "b": 2}', encoding="utf-8")

    with pytest.raises(ParseError, match="not valid JSON"):
        parse_file(path, FileKind.JSON)


@pytest.mark.parametrize("kind", list(FileKind))
def test_empty_file_is_a_parse_error_for_every_kind(tmp_path: Path, kind: FileKind) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")

    with pytest.raises(ParseError, match="is empty"):
        parse_file(path, kind)


def test_whitespace_only_text_has_no_text_to_index(tmp_path: Path) -> None:
    path = make_text(tmp_path / "a.txt", ["   ", "\t"])

    with pytest.raises(ParseError, match="no text to index"):
        parse(path)
