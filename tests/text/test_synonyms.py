"""Customer words read as the business's words (issue 16)."""

from __future__ import annotations

from chatforge.text.analysis import content_terms
from chatforge.text.entities import mentions
from chatforge.text.synonyms import read_as, synonyms


def test_a_word_the_text_never_says_is_read_as_its_synonym_the_text_says() -> None:
    vocabulary = set(content_terms("Registering extends the warranty to 3 years."))
    assert read_as("longer", vocabulary) == "extend"


def test_a_word_the_text_says_is_kept() -> None:
    assert read_as("price", {"price", "cost"}) == "price"
    assert read_as("gasket", {"price"}) == "gasket"


def test_merely_related_words_are_not_synonyms() -> None:
    assert "discount" not in synonyms("price")


def test_contacts_are_spotted_as_written() -> None:
    assert mentions("address", "Visit us at 220 West Lake Street, Chicago.")
    assert not mentions("address", "We have 3 Street parties a year.")
    assert mentions("phone", "Call +1 (312) 555-0177, Monday to Saturday.")
    assert not mentions("phone", "From 2019 to 2024 we grew.")
    assert mentions("email", "Email hello@brightsmile.example today.")
