"""Cleaning makes extracted text read like the document did."""

from __future__ import annotations

from chatforge.rag import clean_text


def test_whitespace_and_blank_lines_are_normalised() -> None:
    text = "  Title\r\n\r\n\r\n\r\nFirst\t\tline   here.  \n\n\n\nSecond\u00a0line.\f"

    assert clean_text(text) == "Title\n\nFirst line here.\n\nSecond line."


def test_control_and_invisible_characters_are_dropped() -> None:
    text = "Bell\x07 and\x00 nul, soft\u00adhyphen, zero\u200bwidth, \ufeffbom."

    assert clean_text(text) == "Bell and nul, softhyphen, zerowidth, bom."


def test_ligatures_are_expanded_and_accents_composed() -> None:
    assert clean_text("\ufb01nd the \ufb02ow, cafe\u0301") == "find the flow, café"


def test_hyphenated_line_breaks_are_mended_only_when_asked() -> None:
    text = "the infor-\nmation and Twenty-\nFive"

    assert clean_text(text) == text
    assert clean_text(text, dehyphenate=True) == "the information and Twenty-Five"


def test_unwrap_joins_paragraph_lines_but_keeps_sentence_ends_and_lists() -> None:
    text = "A sentence broken\nacross lines.\nNext one:\n- item one\n- item two\n\nNew paragraph"

    assert clean_text(text, unwrap=True) == (
        "A sentence broken across lines.\nNext one:\n- item one\n- item two\n\nNew paragraph"
    )


def test_unwrap_keeps_a_heading_on_its_own_line() -> None:
    text = (
        "2 Installation\n"
        "The router ships with a power supply and a cable that is long\n"
        "enough for most rooms. Place it high, away from walls and metal,\n"
        "and plug it in before the modem. Wait for the light to turn green\n"
        "before you connect a device to it\n"
        "Troubleshooting\n"
        "A red light means that no cable is plugged into the WAN port at\n"
        "Acme Street branches or any other office. If it stays red, call\n"
        "the help desk in\n"
        "Leeds. Appendix A\n"
        "The warranty covers parts."
    )

    assert clean_text(text, unwrap=True).split("\n") == [
        "2 Installation",
        "The router ships with a power supply and a cable that is long enough for most rooms. "
        "Place it high, away from walls and metal, and plug it in before the modem. Wait for the "
        "light to turn green before you connect a device to it",
        "Troubleshooting",
        # A full line before a capital is still a wrapped line.
        # A short line ending in "in" is a sentence wrapped mid-way, not a heading.
        "A red light means that no cable is plugged into the WAN port at Acme Street branches or "
        "any other office. If it stays red, call the help desk in Leeds. Appendix A",
        "The warranty covers parts.",
    ]


def test_nothing_readable_cleans_to_empty() -> None:
    assert clean_text(" \x01\x02 \n\n\t ") == ""


def test_a_heading_on_a_page_of_a_few_lines_keeps_its_own_line() -> None:
    # Too few lines to show a full width: the heading is told by its shape.
    page = "Returns\nItems can be returned within 30 days of delivery for a full refund."
    wrapped = "We ship bikes to all 50 US states and to\nCanada."

    assert clean_text(page, unwrap=True) == page
    assert clean_text(wrapped, unwrap=True) == "We ship bikes to all 50 US states and to Canada."
