"""Which kind of file an upload is, read from its bytes.

A file's name is chosen by whoever uploads it, so it is never trusted: binary kinds (PDF and the
Office formats) are recognised by their magic numbers and zip members, text kinds by decoding and
sniffing the first bytes. The name's extension only breaks ties between text kinds (a ``.md``
file with no Markdown markers is still Markdown; a ``.txt`` file of comma-separated lines is still
text). Only a header is read, never the whole file.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import unicodedata
import zipfile
from enum import StrEnum
from pathlib import Path

import charset_normalizer

from chatforge.errors import UnsupportedMediaType

__all__ = [
    "ACCEPTED_TYPES",
    "MEDIA_TYPES",
    "FileKind",
    "detect_kind",
    "text_encoding",
]

# Enough to sniff text kinds reliably; zip archives are read from their central directory.
HEADER_BYTES = 64 * 1024


class FileKind(StrEnum):
    """The file kinds Chatforge can ingest."""

    PDF = "pdf"
    DOCX = "docx"
    PPTX = "pptx"
    XLSX = "xlsx"
    HTML = "html"
    MARKDOWN = "markdown"
    TEXT = "text"
    CSV = "csv"
    JSON = "json"


ACCEPTED_TYPES = "PDF, DOCX, PPTX, XLSX, HTML, Markdown, plain text, CSV and JSON"

MEDIA_TYPES: dict[FileKind, str] = {
    FileKind.PDF: "application/pdf",
    FileKind.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    FileKind.PPTX: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    FileKind.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    FileKind.HTML: "text/html",
    FileKind.MARKDOWN: "text/markdown",
    FileKind.TEXT: "text/plain",
    FileKind.CSV: "text/csv",
    FileKind.JSON: "application/json",
}

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OFFICE_MAIN_PARTS = {
    "word/document.xml": FileKind.DOCX,
    "ppt/presentation.xml": FileKind.PPTX,
    "xl/workbook.xml": FileKind.XLSX,
}
_OFFICE_EXTENSIONS = {".docx": FileKind.DOCX, ".pptx": FileKind.PPTX, ".xlsx": FileKind.XLSX}
_MARKDOWN_EXTENSIONS = {".md", ".markdown", ".mdown", ".mkd", ".mdx"}
_CSV_EXTENSIONS = {".csv", ".tsv"}
_TEXT_EXTENSIONS = {".txt", ".text", ".log"}
_EMPTY_KINDS = {
    ".pdf": FileKind.PDF,
    ".html": FileKind.HTML,
    ".htm": FileKind.HTML,
    ".json": FileKind.JSON,
    **_OFFICE_EXTENSIONS,
    **dict.fromkeys(_MARKDOWN_EXTENSIONS, FileKind.MARKDOWN),
    **dict.fromkeys(_CSV_EXTENSIONS, FileKind.CSV),
}

_HTML_START = re.compile(
    r"\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b", re.S
)
_HTML_TAG = re.compile(r"<(?:html|head|body|p|div|h[1-6]|table|ul|ol|article|section|a)[\s>]", re.I)
_MD_HEADING = re.compile(r"^#{1,6}[ \t]+\S|^\S.*\n(?:=+|-+)[ \t]*$", re.M)
_MD_MARKERS = {
    "list": re.compile(r"^[ \t]*(?:[-*+]|\d{1,3}[.)])[ \t]+\S", re.M),
    "link": re.compile(r"!?\[[^\]\n]+\]\([^)\s]+\)"),
    "fence": re.compile(r"^[ \t]*(?:```|~~~)", re.M),
    "quote": re.compile(r"^>[ \t]?\S", re.M),
    "emphasis": re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__"),
    "table": re.compile(r"^\|.*\|[ \t]*\n\|[ \t:|-]+\|[ \t]*$", re.M),
}


def detect_kind(path: Path, *, filename: str | None = None) -> FileKind:
    """Tell which kind of file ``path`` holds, from its bytes.

    Args:
        path: The file on disk (an upload may be stored under a name of its hash).
        filename: The name the user gave the file; its extension breaks ties between text kinds.
            Defaults to ``path.name``.

    Returns:
        The file's kind. An empty file takes the kind of its name (TEXT if the name says none),
        and a damaged or password-protected Office file
        named as one takes the kind of its name, so that parsing them fails with a message
        that says why (an item that failed, not a refused upload).

    Raises:
        UnsupportedMediaType: The file is none of the accepted kinds (an image, an executable, a
            zip of something else, binary data); the message names the accepted types.
    """
    extension = Path(filename or path.name).suffix.lower()
    with path.open("rb") as fh:
        head = fh.read(HEADER_BYTES)
        complete = not fh.read(1)
    if not head:
        # Nothing to tell by: the name says what the user meant to send ("The PDF is empty.").
        return _EMPTY_KINDS.get(extension, FileKind.TEXT)
    # Readers accept the PDF marker anywhere in the first kilobyte (some tools prepend junk);
    # after other bytes it must come with PDF objects, or a text about PDFs would be taken.
    marker = head.find(b"%PDF-", 0, 1024)
    if marker == 0 or (marker > 0 and (not head[:marker].strip() or b"endobj" in head)):
        return FileKind.PDF
    if head.startswith(_ZIP_MAGIC):
        return _office_kind(path, extension)
    if head.startswith(_OLE2_MAGIC):
        # Office encrypts a DOCX, XLSX or PPTX by wrapping it in an OLE2 container.
        if "EncryptedPackage".encode("utf-16-le") in head:
            if extension in _OFFICE_EXTENSIONS:
                return _OFFICE_EXTENSIONS[extension]
            raise _unsupported("a password-protected Office file; remove the password")
        raise _unsupported(
            "legacy Office formats (.doc, .xls, .ppt) are not supported; save the file as "
            ".docx, .xlsx or .pptx"
        )
    text = _decode_head(head, complete=complete)
    if text is None:
        # Legacy-encoded HTML (say, windows-1252 with a meta charset) is still HTML.
        if b"\x00" not in head and _is_html(head.decode("latin-1")):
            return FileKind.HTML
        raise _unsupported("the file is binary data of an unknown kind")
    return _text_kind(text, extension, complete=complete)


def text_encoding(head: bytes, *, complete: bool = False) -> str:
    """The codec to read a text file with, from its first bytes.

    A byte-order mark decides; then UTF-8 (``utf-8-sig`` reads it with or without a BOM) when
    the bytes are valid UTF-8; else the legacy encoding that charset-normalizer finds most
    plausible, Windows-1252 among equally plausible ones (the Western text that Notepad and
    Excel wrote for decades). Binary bytes get ``utf-8-sig``, which fails to decode them.

    Args:
        head: The file's first bytes (:data:`HEADER_BYTES` of them, or all of a short file).
        complete: ``head`` is the whole file (a character cut at its end is an error).
    """
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8) or b"\x00" in head:
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
    except UnicodeDecodeError:
        return _legacy_encoding(head) or "utf-8-sig"
    return "utf-8-sig"


def _legacy_encoding(head: bytes) -> str | None:
    matches = charset_normalizer.from_bytes(head[:HEADER_BYTES])
    best = matches.best()
    if best is None:
        return None
    tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    if any("cp1252" in m.could_be_from_charset for m in tied):
        return "cp1252"
    return str(best.encoding)


def _unsupported(reason: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        f"Unsupported file type: {reason}. Accepted types: {ACCEPTED_TYPES}.",
        details={"accepted": [kind.value for kind in FileKind]},
    )


def _office_kind(path: Path, extension: str) -> FileKind:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        # A truncated upload of a real document: its parser will say it is damaged.
        if extension in _OFFICE_EXTENSIONS:
            return _OFFICE_EXTENSIONS[extension]
        raise _unsupported("a damaged ZIP archive") from exc
    for part, kind in _OFFICE_MAIN_PARTS.items():
        if part in names:
            return kind
    raise _unsupported("a ZIP archive that is not a DOCX, PPTX or XLSX document")


def _decode_head(head: bytes, *, complete: bool) -> str | None:
    """Decode a header as text, or None when it is binary."""
    encoding = text_encoding(head, complete=complete)
    if encoding == "utf-8-sig" and b"\x00" in head:
        return None
    # An incremental decoder tolerates a character cut in two at the end of the header.
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        text = decoder.decode(head, final=complete)
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    controls = sum(
        1 for ch in text[:8192] if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f\v"
    )
    if controls > max(2, len(text[:8192]) // 100):
        return None
    return text


def _text_kind(text: str, extension: str, *, complete: bool) -> FileKind:
    stripped = text.strip()
    if _is_html(text):
        return FileKind.HTML
    if stripped[:1] in ("{", "[") and (
        _is_json(stripped, complete=complete) or _is_json_lines(stripped, complete=complete)
    ):
        return FileKind.JSON
    if extension in _MARKDOWN_EXTENSIONS:
        return FileKind.MARKDOWN
    if extension in _CSV_EXTENSIONS and _is_csv(text, complete=complete, min_rows=2):
        return FileKind.CSV
    if extension in _TEXT_EXTENSIONS or not stripped:
        return FileKind.TEXT
    if _MD_HEADING.search(text):
        return FileKind.MARKDOWN
    if _is_csv(text, complete=complete, min_rows=3):
        return FileKind.CSV
    markers = {name for name, pattern in _MD_MARKERS.items() if pattern.search(text)}
    if len(markers) >= 2 or markers & {"link", "fence", "table"}:
        return FileKind.MARKDOWN
    return FileKind.TEXT


def _is_html(text: str) -> bool:
    start = text[:4096]
    if _HTML_START.match(start.lower()):
        return True
    # A fragment saved as a page (no <html>): it starts with a tag and is mostly markup.
    return start.lstrip().startswith("<") and len(_HTML_TAG.findall(start)) >= 3


def _is_json(text: str, *, complete: bool) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        # A header cut mid-document fails at its end (or in a string running to its end);
        # an error earlier is a real one.
        truncated = exc.msg.startswith("Unterminated string") or len(text) - exc.pos <= 64
        return not complete and truncated
    except RecursionError:
        return False
    return True


def _is_json_lines(text: str, *, complete: bool) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    if not complete:
        lines = lines[:-1]
    if len(lines) < 2:
        return False
    for line in lines[:50]:
        if line.lstrip()[:1] not in ("{", "["):
            return False
        try:
            json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            return False
    return True


def _is_csv(text: str, *, complete: bool, min_rows: int) -> bool:
    """True when the text is rows of two or more fields, with one delimiter, all alike."""
    sample = text[:16384]
    lines = sample.splitlines(keepends=True)
    if not (complete and len(sample) == len(text)):
        lines = lines[:-1]  # the last line may be cut short
    sample = "".join(lines[:50])
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return False
    try:
        rows = [row for row in csv.reader(io.StringIO(sample), dialect) if row]
    except csv.Error:
        return False
    if len(rows) < min_rows:
        return False
    widths = {len(row) for row in rows}
    return len(widths) == 1 and widths.pop() >= 2
