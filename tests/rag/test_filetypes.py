"""File kinds are read from the bytes; the name only breaks ties between text kinds."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.factories.files import (
    make_csv,
    make_docx,
    make_html,
    make_json,
    make_markdown,
    make_pdf,
    make_png,
    make_pptx,
    make_text,
    make_xlsx,
    make_zip,
)

from chatforge.errors import ParseError, UnsupportedMediaType
from chatforge.rag import FileKind, detect_kind, parse_file

SECTIONS = [("Install", ["Run the installer, then sign in."]), ("Usage", ["Ask a question."])]


def test_each_accepted_kind_is_recognised_from_a_real_file(tmp_path: Path) -> None:
    files = {
        FileKind.PDF: make_pdf(tmp_path / "a.pdf", ["Page one."]),
        FileKind.DOCX: make_docx(tmp_path / "a.docx", SECTIONS),
        FileKind.PPTX: make_pptx(tmp_path / "a.pptx", [("Slide", ["Bullet"])]),
        FileKind.XLSX: make_xlsx(tmp_path / "a.xlsx", {"Prices": [["Item", "Price"], ["Tea", 3]]}),
        FileKind.HTML: make_html(tmp_path / "a.html", title="Page", sections=SECTIONS),
        FileKind.MARKDOWN: make_markdown(tmp_path / "a.md", SECTIONS, title="Guide"),
        FileKind.TEXT: make_text(tmp_path / "a.txt", ["Just some words.", "And more."]),
        FileKind.CSV: make_csv(tmp_path / "a.csv", [["name", "age"], ["Ada", 36], ["Alan", 41]]),
        FileKind.JSON: make_json(tmp_path / "a.json", {"name": "Ada", "langs": ["en", "fr"]}),
    }
    for kind, path in files.items():
        assert detect_kind(path) is kind, path.name


def test_names_do_not_matter_for_binary_kinds(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "report.docx", ["A PDF in disguise."])
    docx = make_docx(tmp_path / "notes.txt", SECTIONS)
    upload = make_xlsx(tmp_path / "0f3a9c", {"S": [["a", "b"], [1, 2]]})

    assert detect_kind(pdf) is FileKind.PDF
    assert detect_kind(docx) is FileKind.DOCX
    assert detect_kind(upload, filename="budget.pdf") is FileKind.XLSX


def test_text_file_named_docx_is_text(tmp_path: Path) -> None:
    path = make_text(tmp_path / "letter.docx", ["Dear reader, this is plain text."])

    assert detect_kind(path) is FileKind.TEXT


def test_pdf_marker_counts_at_the_start_or_before_pdf_objects_only(tmp_path: Path) -> None:
    about = make_text(
        tmp_path / "notes.txt", ["Every PDF file starts with %PDF-1.7, then objects."]
    )
    pdf = make_pdf(tmp_path / "a.pdf", ["Real."]).read_bytes()
    prefixed = tmp_path / "prefixed"
    prefixed.write_bytes(b"MacBinary junk\r\n" + pdf)

    assert detect_kind(about) is FileKind.TEXT
    assert detect_kind(prefixed) is FileKind.PDF


def test_png_named_pdf_is_refused_with_the_accepted_types(tmp_path: Path) -> None:
    path = make_png(tmp_path / "scan.pdf")

    with pytest.raises(UnsupportedMediaType) as caught:
        detect_kind(path)

    assert caught.value.status == 415
    assert "PDF, DOCX, PPTX, XLSX, HTML, Markdown, plain text, CSV and JSON" in caught.value.message
    assert "pdf" in caught.value.details["accepted"]


@pytest.mark.parametrize(
    "payload",
    [
        b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8,  # an executable
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200),  # a JPEG
        bytes(range(256)) * 64,  # binary garbage
    ],
)
def test_binary_data_is_refused(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "upload.txt"
    path.write_bytes(payload)

    with pytest.raises(UnsupportedMediaType):
        detect_kind(path)


def test_zip_of_other_things_is_refused(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "photos.docx", {"img/1.jpg": b"\xff\xd8\xff", "readme.txt": b"hi"})

    with pytest.raises(UnsupportedMediaType, match="not a DOCX, PPTX or XLSX"):
        detect_kind(path)


def test_damaged_zip_takes_its_office_name_so_that_parsing_explains(tmp_path: Path) -> None:
    whole = make_docx(tmp_path / "whole.docx", SECTIONS).read_bytes()
    cut = tmp_path / "cut.docx"
    cut.write_bytes(whole[: len(whole) // 2])
    unnamed = tmp_path / "cut.bin"
    unnamed.write_bytes(whole[: len(whole) // 2])

    assert detect_kind(cut) is FileKind.DOCX
    with pytest.raises(ParseError, match="damaged"):
        parse_file(cut, FileKind.DOCX)
    with pytest.raises(UnsupportedMediaType, match="damaged ZIP"):
        detect_kind(unnamed)


def test_password_protected_office_file_fails_with_advice(tmp_path: Path) -> None:
    # Office wraps an encrypted workbook in an OLE2 container with an EncryptedPackage stream.
    path = tmp_path / "budget.xlsx"
    path.write_bytes(
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + "EncryptedPackage".encode("utf-16-le")
    )

    assert detect_kind(path) is FileKind.XLSX
    with pytest.raises(ParseError, match="password-protected"):
        parse_file(path, FileKind.XLSX)


def test_legacy_office_format_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "old.doc"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1024))

    with pytest.raises(UnsupportedMediaType, match=r"save the file as \.docx"):
        detect_kind(path)


def test_empty_file_takes_the_kind_of_its_name_so_that_parsing_reports_it_empty(
    tmp_path: Path,
) -> None:
    for name, kind in [
        ("empty.pdf", FileKind.PDF),
        ("empty.docx", FileKind.DOCX),
        ("empty.md", FileKind.MARKDOWN),
        ("empty", FileKind.TEXT),
        ("empty.exe", FileKind.TEXT),
    ]:
        path = tmp_path / name
        path.write_bytes(b"")

        assert detect_kind(path) is kind, name

    with pytest.raises(ParseError, match=r"^The PDF is empty\.$"):
        parse_file(tmp_path / "empty.pdf", detect_kind(tmp_path / "empty.pdf"))


def test_extension_breaks_ties_between_text_kinds(tmp_path: Path) -> None:
    prose = ["Plain words without any markup at all.", "A second paragraph."]
    rows = [["a", "b"], ["1", "2"], ["3", "4"]]

    assert detect_kind(make_text(tmp_path / "notes.md", prose)) is FileKind.MARKDOWN
    assert detect_kind(make_text(tmp_path / "notes", prose)) is FileKind.TEXT
    assert detect_kind(make_csv(tmp_path / "table.txt", rows)) is FileKind.TEXT
    assert detect_kind(make_csv(tmp_path / "table", rows)) is FileKind.CSV
    assert detect_kind(make_csv(tmp_path / "t.tsv", rows, delimiter="\t")) is FileKind.CSV


def test_markdown_is_recognised_by_its_markers_without_a_name(tmp_path: Path) -> None:
    heading = make_text(tmp_path / "a", ["# Setup", "Install it."])
    markers = make_text(tmp_path / "b", ["See [the docs](https://example.com).", "- one\n- two"])

    assert detect_kind(heading) is FileKind.MARKDOWN
    assert detect_kind(markers) is FileKind.MARKDOWN


def test_prose_with_commas_is_not_csv(tmp_path: Path) -> None:
    path = make_text(tmp_path / "a", ["Well, then.\nOh, really?"])

    assert detect_kind(path) is FileKind.TEXT


def test_utf16_text_with_bom_is_text(tmp_path: Path) -> None:
    path = make_text(tmp_path / "a.txt", ["Grüße aus Köln."], encoding="utf-16")

    assert detect_kind(path) is FileKind.TEXT


def test_large_json_and_json_lines_are_recognised_from_their_header(tmp_path: Path) -> None:
    big = make_json(tmp_path / "big", [{"id": i, "text": "word " * 40} for i in range(2000)])
    lines = tmp_path / "corpus"
    lines.write_text('{"id": 1, "text": "a"}\n{"id": 2, "text": "b"}\n', encoding="utf-8")

    assert big.stat().st_size > 64 * 1024
    assert detect_kind(big) is FileKind.JSON
    assert detect_kind(lines) is FileKind.JSON


def test_html_fragment_and_legacy_encoded_html_are_html(tmp_path: Path) -> None:
    fragment = tmp_path / "a"
    fragment.write_text("<div><h2>Hours</h2><p>Open daily.</p><p>Closed Sundays.</p></div>")
    legacy = tmp_path / "b"
    legacy.write_bytes(
        b"<!DOCTYPE html><html><head><meta charset='windows-1252'></head>"
        b"<body><p>Caf\xe9</p></body></html>"
    )

    assert detect_kind(fragment) is FileKind.HTML
    assert detect_kind(legacy) is FileKind.HTML
