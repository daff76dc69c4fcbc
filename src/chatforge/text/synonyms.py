"""Customer words and business words that mean the same: "return window" and "returned within
45 days", "a longer warranty" and "extends the warranty", "SSO" and "single sign-on".

A small curated table, general to support knowledge (policies, manuals, price lists, FAQs),
never to one business. It is used in matching only, as a reader would: a word of a question
that the retrieved text never says is read as a word of its group that the text does say
(:func:`read_as`). The keyword index never sees it.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import lru_cache

from chatforge.text.analysis import content_terms

# One group a line: words that a customer and a business use for one thing. Only words that
# are interchangeable in a support question belong together ("price" and "cost"), not words
# that are merely related ("price" and "discount").
_GROUPS = """
    refund reimburse reimbursement money-back
    cost price fee charge
    cancel terminate cancellation termination
    deliver delivery ship shipping arrive dispatch
    fix troubleshoot repair
    book reserve reservation booking
    schedule appointment
    hours open opening
    phone telephone call
    email e-mail
    address located location
    longer extend extended extension
    maximum max most
    minimum min least
    setup set-up install installation
    throttle slow
    home house
    kid child children
    engineer technician
    membership plan subscription
    allow allowed permit permitted welcome
    """


@lru_cache(maxsize=1)
def _table() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for line in _GROUPS.strip().splitlines():
        stems = {stem for word in line.split() for stem in content_terms(word.replace("-", ""))}
        for stem in stems:
            table.setdefault(stem, set()).update(stems - {stem})
    return {stem: frozenset(others) for stem, others in table.items()}


def synonyms(term: str) -> frozenset[str]:
    """The stems that mean what the stem ``term`` means (empty for a word of no group)."""
    return _table().get(term, frozenset())


def read_as(term: str, vocabulary: Collection[str]) -> str:
    """``term`` if ``vocabulary`` says it, else the first (alphabetically) of its synonyms that
    ``vocabulary`` says, else ``term``."""
    if term in vocabulary:
        return term
    said = sorted(s for s in synonyms(term) if s in vocabulary)
    return said[0] if said else term
