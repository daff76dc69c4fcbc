"""Reading a mistyped word of a question as the word the knowledge says (issue 16)."""

from __future__ import annotations

from chatforge.text.spelling import closest_terms, correct_spelling, edit_distance, known_words

KNOWN = known_words(
    ["Do you offer financing? Yes, through Affirm.", "Is there a free trial?", "Store hours"]
)


def test_a_word_one_edit_from_a_known_word_is_read_as_it() -> None:
    assert correct_spelling("do u do finacing", KNOWN) == "do u do financing"


def test_two_swapped_letters_are_one_edit() -> None:
    assert correct_spelling("free trail?", KNOWN) == "free trial?"
    assert edit_distance("trail", "trial", 1) == 1


def test_short_words_codes_and_known_words_are_left_alone() -> None:
    assert correct_spelling("Error E07 on my store", KNOWN) == "Error E07 on my store"
    assert correct_spelling("hour", KNOWN) == "hour"
    # A name is not a typo: "Seattle" stays though "settle" is known.
    assert correct_spelling("A store in Seattle?", known_words(["settle"])) == "A store in Seattle?"
    assert correct_spelling("Finacing?", KNOWN) == "financing?"


def test_a_word_with_two_equally_near_known_words_is_left_alone() -> None:
    known = known_words(["cater", "caper"])

    assert correct_spelling("caxer", known) == "caxer"
    assert correct_spelling("catter", known) == "cater"


def test_a_stem_snowball_cut_shorter_meets_the_longer_stem_the_knowledge_says() -> None:
    # Snowball stems "deliver" as "deliv" but "delivery" as "deliveri"; "washer" stays whole.
    assert closest_terms(["deliv", "wash", "car"], {"deliveri", "washer", "cart"}) == [
        "deliveri",
        "washer",
        "car",  # three letters are too few to read as another word
    ]
