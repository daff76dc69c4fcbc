"""Codes, model numbers, names and amounts, as a question or a sentence writes them."""

from __future__ import annotations

import pytest

from chatforge.text.entities import exact_tokens, is_code, names, names_all, says_amount


def test_codes_and_model_numbers_are_what_a_question_names_exactly() -> None:
    assert exact_tokens("Error E07, what to do?") == {"e07"}
    assert exact_tokens("How much is the Trailblazer 24?") == {"trailblazer 24"}
    # The digit of a code is the code's, not a model number; "40 days" is a quantity.
    assert exact_tokens("how to factory reset the LX-6") == {"lx-6"}
    assert exact_tokens("what if I cancel 40 days before") == frozenset()
    assert is_code("tl-429") and not is_code("2026")


def test_a_code_written_apart_or_without_its_hyphen_is_the_same_code() -> None:
    assert names_all(frozenset({"tl429"}), frozenset({"tl-429"}))
    assert names_all(frozenset({"soc2"}), frozenset({"soc", "2"}))
    assert not names_all(frozenset({"e07"}), frozenset({"e03"}))


def test_names_are_the_capitalised_words_after_the_first() -> None:
    assert names("Do you have a store in Phoenix?") == {"phoenix"}
    assert names("Can I pay with PayPal, or do I need a card?") == {"paypal"}


@pytest.mark.parametrize(
    ("sentence", "amount"),
    [
        ("Teeth whitening costs $450.", True),
        ("A restocking fee of 15% applies.", True),
        ("Installation is free.", True),
        ("The LX-6 works with up to 3 Lumen Mesh M2 extenders.", False),
        ("Tickets cost twelve euros for adults and six euros for children.", True),
        ("Tours leave every hour between nine and five.", False),
    ],
)
def test_an_amount_is_money_a_percentage_or_free(sentence: str, amount: bool) -> None:
    assert says_amount(sentence) is amount
