"""Parsing, cleaning and chunking of knowledge: pure functions over files and text.

``rag`` imports nothing of Chatforge but :mod:`chatforge.errors`: no web framework, no database,
no model. The ingestion service composes it::

    kind = detect_kind(path, filename=upload_name)      # from the bytes, not the name
    document = parse_file(path, kind)                   # cleaned sections, or ParseError
    chunks = chunk_document(document, title=title, count_tokens=tokenizer_count)
"""

from chatforge.rag.chunking import (
    Chunk,
    TokenCounter,
    chunk_document,
    format_content,
    qna_chunk,
    split_windows,
)
from chatforge.rag.cleaning import clean_text
from chatforge.rag.document import ParsedDocument, Section
from chatforge.rag.filetypes import ACCEPTED_TYPES, MEDIA_TYPES, FileKind, detect_kind
from chatforge.rag.parsers import parse_file, parse_html, parse_markdown, parse_text

__all__ = [
    "ACCEPTED_TYPES",
    "MEDIA_TYPES",
    "Chunk",
    "FileKind",
    "ParsedDocument",
    "Section",
    "TokenCounter",
    "chunk_document",
    "clean_text",
    "detect_kind",
    "format_content",
    "parse_file",
    "parse_html",
    "parse_markdown",
    "parse_text",
    "qna_chunk",
    "split_windows",
]
