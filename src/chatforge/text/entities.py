"""What a text names exactly: codes, model numbers, names, numbers, dates and durations.

Such tokens are not weighed like other words: a question about error E07 must never be answered
with E03's row, nor one about "Trailblazer 24" with the Trailblazer 29, however much else they
share. They are read as written (lower-cased), never stemmed.
"""

from __future__ import annotations

import itertools
import re

from chatforge.text.analysis import READING_STOPWORDS

_EXACT_WORD = re.compile(r"[a-z0-9]+(?:[-/.][a-z0-9]+)*")
# A code names one thing: letters then digits, maybe hyphenated ("E07", "TL-429", "WT-VN14").
_CODE = re.compile(r"\A[a-z]{1,4}(?:-?[a-z]{0,4})\d{1,6}[a-z]?\Z")
# Words after a number that make it a quantity ("40 days"), not part of a name ("Trailblazer 24").
_UNITS = frozenset(
    """day days week weeks month months year years hour hours minute minutes second seconds
    am pm kg g lb lbs mm cm m km mile miles mph km/h percent % user users people person persons
    traveller travellers traveler travelers time times night nights x""".split()  # noqa: SIM905
)
# A capitalised word inside a sentence; not the letters of a code ("TL" of "TL-403").
_NAME_WORD = re.compile(r"(?<![.!?]\s)(?<!\A)\b([A-Z][a-zA-Z]+)\b(?![-/]?\d)")
_NAME = re.compile(r"(?<!^)(?<![.!?] )\b[A-Z][a-z]+")
_YEAR = re.compile(r"\b(?:1\d{3}|20\d{2})s?\b")
# A time of day ("at 3 pm", "7:30 a.m.", "noon").
_CLOCK = re.compile(
    r"\b\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)(?!\w)|\b(?:noon|midnight)\b",
    re.IGNORECASE,
)
_WEEKDAY = re.compile(r"\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)days?\b", re.IGNORECASE)
_MONTH = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December)\b"
)
_NUMBER = re.compile(
    r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|dozen|hundreds?|"
    r"thousands?|millions?|billions?)\b",
    re.IGNORECASE,
)
_MONEY = re.compile(
    r"[$€£¥₹]\s?\d|\d\s?%|"
    # "12 euros", "1.5 million dollars", and amounts in words: "twelve euros", "fifty cents"
    r"(?:\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|"
    r"thirty|forty|fifty|hundred|thousand))\s?(?:(?:million|billion|thousand|hundred)\s)?"
    r"(?:usd|eur|gbp|dollars?|euros?|pounds?|yen|yuan|rupees?|francs?|marks?|cents?)\b|"
    r"\bfree\b|\bno (?:charge|cost|fee)\b",
    re.IGNORECASE,
)
_DURATION = re.compile(
    r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten)\b[\w -]{0,12}?"
    r"\b(?:minutes?|hours?|days?|weeks?|months?|years?)\b"
    r"|\bduration\b[^.;\d]{0,12}\d",  # a table's column: "duration min: 90"
    re.IGNORECASE,
)


def exact_words(text: str) -> list[str]:
    """The words and codes of ``text`` as written, lower-cased ("tl-429", "rb-cm7", "1649")."""
    found = _whole_words(text)
    # "Wi-Fi" also says "wi" and "fi"; "TL-403" also "tl" and "403".
    parts = [part for w in found if "-" in w for part in w.split("-") if part]
    # "Fiber 10" also says "fiber 10": a model number is said with its name.
    named = [f"{a} {b}" for a, b in itertools.pairwise(found) if b.isdigit() and not a.isdigit()]
    return found + parts + named


def _whole_words(text: str) -> list[str]:
    return [w.rstrip(".") for w in _EXACT_WORD.findall(text.lower().replace(",", ""))]


def is_code(token: str) -> bool:
    """Whether a lower-cased token is a code: letters then digits ("e07", "tl-429", "lx-6")."""
    return bool(_CODE.match(token))


def exact_tokens(question: str) -> frozenset[str]:
    """What a question names exactly: codes ("e07") and model numbers ("trailblazer 24").

    A number counts only after a word that is no stop word and before no unit ("cancel 40
    days before" asks about 40 days, not about a thing named 40).
    """
    tokens = _whole_words(question)  # the "6" of "LX-6" is the code's, not a model number
    found = set()
    for n, token in enumerate(tokens):
        if _CODE.match(token):
            found.add(token)
        elif token.isdigit() and n:
            before, after = tokens[n - 1], tokens[n + 1] if n + 1 < len(tokens) else ""
            if before not in READING_STOPWORDS and not before.isdigit() and after not in _UNITS:
                found.add(f"{before} {token}")  # "Fiber 10" is not the $10 of a fee
    return frozenset(found)


def names_all(required: frozenset[str], tokens: frozenset[str]) -> bool:
    """Whether every code or number of ``required`` is said in ``tokens``.

    "TL429" matches "TL-429", "LX 50" matches "LX-50", and "SOC2" matches "SOC 2": the same
    code written apart.
    """
    joined = {t.replace("-", "").replace(" ", "") for t in tokens}
    for token in required:
        bare = token.replace("-", "").replace(" ", "")
        if bare in joined:
            continue
        if " " in token:
            return False  # a model number is said with its name, side by side
        letters = bare.rstrip("0123456789")
        digits = bare[len(letters) :]
        if not (letters and digits and letters in tokens and digits in tokens):
            return False
    return True


def names(text: str) -> frozenset[str]:
    """The capitalised words inside a text, lower-cased: places, brands, products.

    Its first word is left out (every sentence starts with a capital), and so is "I".
    """
    return frozenset(m.lower() for m in _NAME_WORD.findall(text.strip()) if m != "I")


_PLACE = re.compile(r"\b(?:in|at|to|near|from|around|outside)\s+((?:[A-Z][a-zA-Z]+\s?)+)")


def place_names(text: str) -> frozenset[str]:
    """The capitalised words after a preposition of place, lower-cased: "phoenix" of "a store
    in Phoenix?", "las" and "vegas" of "ship to Las Vegas"."""
    return frozenset(
        word.lower() for match in _PLACE.findall(text) for word in match.split() if word != "I"
    )


# The ways a business is reached: a street address, a phone number, an email address.
_CONTACTS = {
    "address": re.compile(
        r"\b\d{1,6}\s+(?:[A-Z][a-zA-Z]*\.?\s+){1,4}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|"
        r"Blvd|Lane|Ln|Drive|Dr|Way|Place|Pl|Square|Sq|Court|Ct|Parkway|Highway|Plaza)\b"
    ),
    "phone": re.compile(r"(?<![\w.])\+?(?:\d[\s().-]{0,2}){7,14}\d\b"),
    "email": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
}
CONTACT_KINDS = frozenset(_CONTACTS)
"""The kinds of :func:`mentions` that say how to reach a business."""


def mentions(kind: str, sentence: str) -> bool:
    """Whether ``sentence`` holds something of a ``kind``: ``"duration"`` ("within 5 days"),
    ``"time"`` (a year, a month or a time of day), ``"weekday"``, ``"number"``, a contact
    (``"address"``, ``"phone"``, ``"email"``), ``"price"`` (:func:`says_amount`), or else
    ``"name"`` (a capitalised word)."""
    if kind in _CONTACTS:
        return bool(_CONTACTS[kind].search(sentence))
    if kind == "price":
        return says_amount(sentence)
    if kind == "duration":
        return bool(_DURATION.search(sentence))
    if kind == "time":
        return bool(_YEAR.search(sentence) or _MONTH.search(sentence) or _CLOCK.search(sentence))
    if kind == "number":
        return bool(_NUMBER.search(sentence))
    if kind == "weekday":
        return bool(_WEEKDAY.search(sentence))
    return bool(_NAME.search(sentence))


def says_amount(sentence: str) -> bool:
    """Whether ``sentence`` states a price or a charge: an amount of money, a percentage, or
    that something is free."""
    return bool(_MONEY.search(sentence))
