"""Sentences as every reader of them splits them: chunking, citations, the offline answerer."""

from __future__ import annotations

import pytest

from chatforge.text.sentences import sentence_ends, split_sentences


def test_sentences_split_at_ends_but_not_at_abbreviations_or_numbers() -> None:
    text = (
        "Dr. Smith joined the U.S. Army in 1990. He earned $3.5 million, e.g. from J. R. R. "
        "Tolkien's estate! Was it enough? Yes.\n\n- First item\n- Second item"
    )
    assert split_sentences(text) == [
        "Dr. Smith joined the U.S. Army in 1990.",
        "He earned $3.5 million, e.g. from J. R. R. Tolkien's estate!",
        "Was it enough?",
        "Yes.",
        "- First item",
        "- Second item",
    ]


def test_headings_are_not_read_into_the_sentence_below_them() -> None:
    text = (
        "Acme Employee Handbook\n2. Paid Time Off\nEvery employee receives 25 days of paid "
        "vacation. Unused days carry over.\nOpening hours\nMon-Fri 9-17\nSat 10-14"
    )

    assert split_sentences(text) == [
        "Acme Employee Handbook",
        "2. Paid Time Off",
        "Every employee receives 25 days of paid vacation.",
        "Unused days carry over.",
        # Short lines above other short lines are content, as a timetable's are.
        "Opening hours Mon-Fri 9-17 Sat 10-14",
    ]


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        # A sentence wrapped by hand: its short lines are not headings.
        (
            "Orders placed before noon leave from our\nwarehouse. Delivery takes three days, "
            "and\nInternational orders take up to two weeks.",
            [
                "Orders placed before noon leave from our warehouse.",
                "Delivery takes three days, and International orders take up to two weeks.",
            ],
        ),
        # Rows of a spreadsheet, a list and a short answer keep every word.
        (
            "Product: Widget\nPrice: 12\nDescription: A small widget.",
            ["Product: Widget Price: 12 Description: A small widget."],
        ),
        (
            "- Passport\n- Visa\nAll documents must be valid.",
            ["- Passport", "- Visa All documents must be valid."],
        ),
        # Stacked headings are each a heading; "Appendix A" ends with a letter, not a word.
        (
            "Handbook\nLeave\nPaid Time Off\nEvery employee gets 25 days.",
            ["Handbook", "Leave", "Paid Time Off", "Every employee gets 25 days."],
        ),
        ("Appendix A\nThe warranty covers parts.", ["Appendix A", "The warranty covers parts."]),
        # Three short lines or more are a table, read as before.
        (
            "Opening hours\nMon-Fri 9-17\nSat 10-14\nWe are closed on Sundays.",
            ["Opening hours Mon-Fri 9-17 Sat 10-14 We are closed on Sundays."],
        ),
        ("Yes\nYou can return it.", ["Yes", "You can return it."]),
        # A heading above prose wrapped by hand is still a heading.
        (
            "Returns\nItems can be returned within 30 days of delivery for a\nfull refund.",
            ["Returns", "Items can be returned within 30 days of delivery for a full refund."],
        ),
    ],
)
def test_nothing_is_lost_to_the_heading_rule(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


def test_sentence_ends_are_offsets_after_the_space_and_know_cjk_full_stops() -> None:
    text = "Dr. Who arrived. He left!  Then 水。次"

    ends = sentence_ends(text)

    assert [text[a:b] for a, b in zip([0, *ends], [*ends, len(text)], strict=True)] == [
        "Dr. Who arrived. ",
        "He left!  ",
        "Then 水。",
        "次",
    ]
