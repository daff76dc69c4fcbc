"""How the extractive model reads a question: what kind of answer it asks for, and how.

Terms, sentences, spelling and exact tokens are :mod:`chatforge.text`'s; this module holds only
what a question says about the answer it wants ("how long", "how do I", yes or no, "what is the
X of Y"), and the clause of a sentence that answers a follow-up.
"""

from __future__ import annotations

import itertools
import re

from chatforge.text.analysis import READING_STOPWORDS, content_terms, stem, words
from chatforge.text.entities import mentions
from chatforge.text.synonyms import synonyms


def measure_terms(question: str) -> frozenset[str]:
    """The stems of the measures a question asks about ("how long", "how hard").

    Such a word says what kind of answer is wanted. An answer may repeat it ("330 metres tall")
    or not ("within 5 days" for "how long"), so its absence must not count against a sentence.
    """
    tokens = words(question)
    measures = {
        stem(w)
        for n, w in enumerate(tokens)
        if (n and tokens[n - 1] == "how" and w not in READING_STOPWORDS) or w in _BOUNDS
    }
    # "How far in advance?" and "what time?" ask for a span or a time that the answer says as
    # "24 hours ahead" or "at 3 pm", not in these words.
    lowered = question.lower()
    if match := _NOTICE.search(lowered):
        measures |= set(content_terms(match[0]))
    if _WHAT_TIME.search(lowered):
        measures.add(stem("time"))
    if _HOURS.search(lowered):  # "what hours is chat open?": "Monday to Friday, 6 am to 6 pm"
        measures |= {stem("hours"), stem("open")}
    # "Is phone support included?": the answer names it ("phone support: yes").
    measures |= {stem(w) for w in words(lowered) if w in _THERE}
    return frozenset(measures)


# "Max group size?" asks for a number that an answer says as "at most 16", or not at all;
# "return window?" for a time span ("within 45 days").
_BOUNDS = frozenset({"max", "maximum", "min", "minimum", "window", "period", "deadline"})
_SPAN = re.compile(r"\b(?:window|period|deadline)\b")


_MEASURES = frozenset(
    """many much long far old tall high big large deep wide often heavy fast""".split()  # noqa: SIM905
)
_HOW_MEASURE = re.compile(rf"\bhow (?:{'|'.join(sorted(_MEASURES))})\b")
# "How long does it take?" asks for a time span, "How long is the river?" for a length.
_HOW_LONG = re.compile(
    r"\bhow long (?:\w+ ){0,5}(?:take|takes|last|lasts|wait|until|stay|stays|keep|remain|"
    r"valid|good for|have to|has to|need|needs)\b"
)
# "How far in advance must I cancel?", "how much notice?", "how early?": a span before a time.
_NOTICE = re.compile(
    r"\bhow (?:far|much) (?:in )?(?:advance|ahead|notice)\b|\bhow (?:early|soon|late)\b"
)
_WHAT_TIME = re.compile(r"\b(?:what|which) time\b|\bwhat hour\b")
_HOURS = re.compile(r"\b(?:what|which|your|opening|open|business) hours\b|\bhours\b.*\bopen\b")
_WHICH_DAYS = re.compile(r"\b(?:which|what) days?\b(?! of the month)")
_THERE = frozenset({"include", "included", "includes"})
_YES_NO_QUESTION = re.compile(
    r"\A\W*(?:do|does|did|is|are|was|were|can|could|will|would|should|have|has|may|am)\b",
    re.IGNORECASE,
)
_WHEN = ("when", "what year", "in what year", "which year", "what date", "on what date")


# How a customer asks for a way to reach the business, and the stems of the words asking it:
# a sentence holding a street address says "address", whatever its words.
_CONTACT_ASKED = {
    "email": re.compile(r"\be-?mail\b"),
    "phone": re.compile(
        r"\b(?:tele)?phone\b|\bhotline\b|\bcall (?:you|us)\b|"
        r"\b(?:emergency|contact|support|help) (?:number|line)\b"
    ),
    "address": re.compile(
        r"\bad+res+\b|\bwh?ere? (?:are|r) (?:you|u)\b|\blocated\b|"
        r"\bwh?ere? (?:is|are|r) (?:your|the) (?:office|shop|store|clinic|location|building|"
        r"facility|showroom|warehouse)s?\b"
    ),
}
KIND_TERMS = {
    "email": frozenset({"email", "address"}),
    "phone": frozenset({"phone", "telephon", "call", "number", "hotlin", "line"}),
    "address": frozenset({"address", "locat"}),
    "price": frozenset({"cost", "price", "fee", "charg", "amount"}),
    "weekday": frozenset({"day"}),
}
"""The stems a question uses for what it asks, by kind: a sentence holding a thing of the kind
(an address, an amount) says them, whatever its words ("Installation is free" says the cost)."""


def first_question(text: str) -> str:
    """The first question of ``text``: a follow-up read with the question it follows ("and
    does it cost anything? how long does installation take?") asks the first. A question of
    one word ("Hi?", "Sorry?") asks nothing yet."""
    start = 0
    while (end := text.find("?", start)) >= 0 and end < len(text.rstrip()) - 1:
        if len(text[start:end].split()) >= 2:
            return text[start : end + 1]
        start = end + 1
    return text[start:] if start else text


def answer_kind(question: str) -> str | None:
    """The kind of answer a question asks for: ``"time"``, ``"number"``, ``"name"``, a contact
    (``"email"``, ``"phone"``, ``"address"``), ``"price"`` or None."""
    q = first_question(question).lower().strip()
    for kind, asked in _CONTACT_ASKED.items():
        if asked.search(q):
            return kind
    if _PRICE.search(q):
        return "price"
    if _WHICH_DAYS.search(q):
        return "weekday"
    if (
        q.startswith(_WHEN)
        or " what year" in q
        or " which year" in q
        or _WHAT_TIME.search(q)
        or _HOURS.search(q)
    ):
        return "time"
    if _HOW_LONG.search(q) or _SPAN.search(q) or _NOTICE.search(q):
        return "duration"
    if _HOW_MEASURE.search(q) or "percentage" in q:
        return "number"
    if q.startswith(("who", "whom", "whose")):
        return "name"
    return None


# A sentence that tells how: a step, a menu path, a button ("under Settings > Plan").
_INSTRUCTION = re.compile(
    r"\A\s*(?:\d{1,2}[.)]\s+)?(?:go to|open|click|tap|select|press|choose|enter|log in|sign in)\b"
    r"|\w \> \w|\b(?:click|tap|select|press)\b",
    re.IGNORECASE,
)


def instructs(sentence: str) -> bool:
    """Whether ``sentence`` tells the reader what to do: a step, a menu path or a button."""
    return bool(_INSTRUCTION.search(sentence))


_HOW_TO = re.compile(
    r"\A\W*(?:how (?:do|can|should|would) (?:i|we|you)|how to|what are the steps|steps to)\b"
    r"|\bsteps?\W*\Z",
    re.IGNORECASE,
)


def asks_how_to(question: str) -> bool:
    """Whether a question asks for a procedure ("How do I reset...", "setup steps")."""
    return bool(_HOW_TO.search(question.strip()))


def qualifies_otherwise(query: list[str], unknown: frozenset[str], heading: frozenset[str]) -> bool:
    """Whether the question narrows a heading's topic by a word the knowledge never says.

    "Student discount?" puts "student", said nowhere, before "discount", a word of the
    heading "Do you offer discounts for nonprofits?": the heading answers another question.
    """
    pairs = itertools.pairwise(query)
    return any(first in unknown and second in heading for first, second in pairs)


def asks_unsaid_thing(query: list[str], unknown: frozenset[str]) -> bool:
    """Whether the question names a thing of two or more words the knowledge never says.

    "Can I add a keyboard tray to the LD-2?" asks about a keyboard tray: a sentence naming the
    LD-2 does not answer it for naming the code. One unknown word ("what does E01 *mean*") is
    how the question is put, not what it is about.
    """
    return any(a in unknown and b in unknown for a, b in itertools.pairwise(query))


_WHAT_OF = re.compile(
    r"\A\W*what(?:'s|’s|s| is| are| was)?\s+(?:the|a|an|your)\s+((?:\w+\s+){0,2}?\w+)\s+"
    r"(?:of|on)\b",
    re.IGNORECASE,
)
# "How much weight can a shelf hold?" asks for a weight; "how much is", "how much time" ask for
# an amount or a span that an answer need not name. ("How many yards" is answered by "a 61-yard
# run": "how many" is left out.)
_HOW_MUCH_OF = re.compile(r"\bhow much (\w+)\b", re.IGNORECASE)


def asked_attribute(question: str) -> str | None:
    """What a "what is the X of Y?" or "how much X ...?" question asks for: X's last term
    ("torqu" of "What is the torque of the Voyager motor?", "warranti" of "what's the warranty
    on the kit", "weight" of "how much weight can a shelf hold"); None for a question of another
    form, or one asking an amount, a time, a number of people or a comparison ("how much
    longer", "how much older")."""
    match = _WHAT_OF.match(question)
    terms = content_terms(match[1]) if match else []
    if not terms and (how := _HOW_MUCH_OF.search(question)):
        asked = how[1].lower()
        if asked not in _MEASURES and not asked.endswith("er"):
            terms = [t for t in content_terms(asked) if t not in _COUNTED]
    return terms[-1] if terms else None


# What "how much" asks without naming a thing an answer would say: an amount, a time, people.
_COUNTED = frozenset(
    stem(w)
    for w in """cost price fee money time day week month year hour minute people person guest
    more less""".split()  # noqa: SIM905
)


def asks_yes_no(question: str) -> bool:
    """Whether a question is answered by yes or no ("Do you ship to Canada?")."""
    return bool(_YES_NO_QUESTION.match(question))


_CLAUSE = re.compile(r",\s+|;\s+|\s+and\s+|\s+but\s+")
# Within a clause, the phrases a preposition starts: "for a flat fee of 6 euros".
_PHRASE = re.compile(r"\s+(?=(?:for|within|at|from|by|between|until|before|after)\s)")


def without_markers(answer: str) -> str:
    """An answer without its citation markers and cut marks, for comparison."""
    return " ".join(re.sub(r"\[\d+\]|…", " ", answer).split())


def answering_clause(
    sentence: str, query: list[str], kind: str | None, *, phrases: bool = False
) -> str | None:
    """The clause of ``sentence`` that best answers: the question's words, or what it asks.

    With ``phrases``, a sentence of one clause is read as the phrases its prepositions start
    ("for a flat fee of 6 euros" of "We deliver ... for a flat fee of 6 euros.").
    """
    clauses = [c.strip(" .") for c in _CLAUSE.split(sentence) if c.strip(" .")]
    if len(clauses) < 2 and phrases and kind is not None:
        clauses = [c.strip(" .") for c in _PHRASE.split(sentence) if c.strip(" .")]
    if len(clauses) < 2:
        return None
    wanted = set(query)

    wanted |= {other for term in query for other in synonyms(term)}  # "cost" and "fee"

    def fit(clause: str) -> float:
        hits = len(wanted & set(content_terms(clause)))
        return hits + (1.5 if kind and mentions(kind, clause) else 0.0)

    best = max(clauses, key=fit)
    return best if fit(best) > 0 else None


# A customer's situation, then the question: "I'm vegan, can you cater for me?".
_SITUATION = re.compile(
    r"\A(.+),\s*(?=(?:can|could|do|does|did|is|are|am|will|would|should|may|what|how|when|"
    r"where|who|which|why)\b)",
    re.IGNORECASE,
)


def situation(question: str) -> str:
    """The clause before the question proper, where the customer says their situation ("I'm
    vegan" of "I'm vegan, can you cater for me?"); empty when the question has none."""
    match = _SITUATION.match(question.strip())
    return match[1] if match else ""


_PRICE = re.compile(
    r"\b(?:costs?|prices?(?! match)|fees?|charges|amounts)\b|\bhow much (?:is|are|for)\b"
    # "Do you charge for it?", "is there a charge": money; "charge the battery" is not.
    r"|\b(?:you|they|we) charge\b|\bcharge for\b|\b(?:a|any|extra|no) charge\b",
    re.IGNORECASE,
)


def asks_weekdays(question: str) -> bool:
    """Whether a question asks on which days of the week ("which days do you deliver?")."""
    return bool(_WHICH_DAYS.search(first_question(question).lower()))


def asks_price(question: str) -> bool:
    """Whether a question asks what something costs ("root canal cost", "how much is the
    Trailblazer 29?"); "how much do I save" asks for a share, and "Are shipping costs
    refunded?" for a yes or no, not for a price."""
    question = first_question(question)
    return bool(_PRICE.search(question)) and not asks_yes_no(question)
