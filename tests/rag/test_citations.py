"""Checking a generated answer's citations against the sources it was given (issue 16)."""

from __future__ import annotations

from chatforge.rag.citations import check_citations

SOURCES = {
    1: "You can return any product within 30 days of purchase for a full refund.",
    2: "Standard shipping takes 3 to 5 business days and costs 4.99 euros.",
}


def test_a_sentence_its_source_holds_is_not_flagged() -> None:
    check = check_citations("You can return a product within 30 days [1].", SOURCES)

    assert (check.cited, check.flagged) == ((1,), False)


def test_a_marker_naming_no_given_source_is_flagged() -> None:
    check = check_citations("You can return a product within 30 days [7].", SOURCES)

    assert check.unknown == (7,)
    assert check.as_dict()["flagged"] is True


def test_a_source_that_does_not_hold_the_sentence_is_flagged() -> None:
    check = check_citations("Shipping takes 3 to 5 business days [1].", SOURCES)

    assert check.unsupported == (1,)


def test_a_number_no_cited_source_says_is_flagged() -> None:
    check = check_citations("You can return a product within 60 days [1].", SOURCES)

    assert check.unsupported == (1,)


def test_a_second_source_that_says_nothing_of_the_sentence_is_flagged() -> None:
    check = check_citations("You can return a product within 30 days. [1][2]", SOURCES)

    assert check.unsupported == (2,)


def test_a_claim_without_any_citation_is_flagged_when_sources_were_given() -> None:
    assert check_citations("You have 30 days to return it.", SOURCES).missing is True
    assert check_citations("You have 30 days to return it.", {}).flagged is False


def test_saying_it_could_not_find_the_answer_needs_no_citation() -> None:
    answer = "I could not find this in the knowledge base."

    assert check_citations(answer, SOURCES).flagged is False


def test_a_marker_after_the_full_stop_cites_the_sentence_before_it() -> None:
    answer = (
        "You can return any product within 30 days. [1] Shipping takes 3 to 5 business days "
        "and costs 4.99 euros. [2]"
    )

    assert check_citations(answer, SOURCES).flagged is False
