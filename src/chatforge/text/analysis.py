"""Terms of a text: the index terms keyword search stores, and the content terms a reader weighs.

Both fold case and accents, drop stop words and stem with the Snowball English stemmer
(PyStemmer), so *located*, *locates* and *location* meet at ``locat``. They differ in what they
drop: :func:`analyze` keeps every topic-bearing word and must never change (both databases store
its terms, and a change would need a reindex), while :func:`content_terms` also drops the verbs
and question words of asking ("tell", "get", "whats"): a question's topic is what is left.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer

# The English stop words of bm25s / scikit-learn's short list: frequent words that carry no topic.
_STOPWORDS = """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can did do does doing don down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own s same she should so some such t than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with you your yours yourself yourselves
    """
STOPWORDS = frozenset(_STOPWORDS.split())
"""The stop words of the keyword index (:func:`analyze`)."""

_READING_STOPWORDS = """
    a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can could did didn't do does doesn't doing don't down
    during each either few for from further had has have having he her here hers herself him
    himself his how i if in into is isn't it it's its itself just let me might more most much must
    my myself no nor not now of off on once one only or other our ours ourselves out over own per
    same she should so some such than that that's the their theirs them themselves then there
    there's these they this those through to too under until up upon us very via was wasn't we
    were weren't what what's when where where's which while who who's whom whose why will with
    within without would you your yours yourself yourselves still even already really ever
    actually anything something everything different various several separate need needs
    bring brings
    many name named kind type called tell know please explain describe say said give find
    get gets getting got use used using take takes took taken happen happens happened
    come comes came go goes went gone
    whats wheres whos hows u r ur pls plz im ive dont cant can't won't i'm i've hi hello thanks
    wher whre wat waht wht hw hwo wen whn
    """
READING_STOPWORDS = frozenset(_READING_STOPWORDS.split())
"""Words that carry no topic for a reader (:func:`content_terms`): function words, question
words, and the verbs of asking."""

# Irregular verb forms a customer and a policy word differently ("I paid" and "paid users",
# "rode it" and "50 miles ridden"): each is read as its base form before stemming.
_IRREGULAR_FORMS = """
    paid:pay bought:buy sold:sell sent:send made:make kept:keep left:leave brought:bring
    spent:spend rode:ride ridden:ride broke:break broken:break chose:choose chosen:choose
    lost:lose held:hold met:meet ran:run won:win built:build caught:catch fed:feed fell:fall
    fallen:fall forgot:forget forgotten:forget froze:freeze frozen:freeze hid:hide hidden:hide
    lent:lend shook:shake shaken:shake stole:steal stolen:steal tore:tear torn:tear
    wore:wear worn:wear wrote:write written:write drove:drive driven:drive flew:fly flown:fly
    """
# Nouns the stemmer keeps apart from their verb ("delivery" is "deliveri", "deliver" "deliv"):
# "Do you deliver on Saturdays?" is answered by "Deliveries run from Wednesday to Saturday".
_DERIVED_FORMS = """
    delivery:deliver deliveries:deliver payment:pay payments:pay shipment:ship shipments:ship
    replacement:replace replacements:replace renewal:renew renewals:renew arrival:arrive
    arrivals:arrive removal:remove approval:approve
    """
_IRREGULAR = dict(pair.split(":") for pair in (_IRREGULAR_FORMS + _DERIVED_FORMS).split())
# A customer writes "blinks three times" where a manual writes "blinks 3 times": a number word
# is read as its digits. ("one" is a pronoun as often as a number: a stop word.)
_IRREGULAR.update(
    zip(
        "two three four five six seven eight nine ten eleven twelve".split(),  # noqa: SIM905
        map(str, range(2, 13)),
        strict=True,
    )
)

_INDEX_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SIZE = re.compile(r"\b(\d+(?:\.\d+)?)\s*[x×]\s*(?=\d)(\d)")
_COMPOUND = re.compile(r"\b[a-z]+(?:-[a-z]+)+\b")
_MAX_TERM = 40


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def fold(text: str) -> str:
    """``text`` in lower case without accents ("Café" -> "cafe")."""
    if text.isascii():
        return text.lower()  # the common case, on the chat's hot path
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def analyze(text: str) -> list[str]:
    """The index terms of a text, in order (repeats kept: they are term frequencies)."""
    words = [
        w for w in _INDEX_TOKEN.findall(fold(text)) if w not in STOPWORDS and len(w) <= _MAX_TERM
    ]
    return [s for s in _stemmer().stemWords(words) if s.isalnum()]


def words(text: str) -> list[str]:
    """The folded word tokens of ``text``, an apostrophe's clitic kept ("don't"); a size is one
    token however it is spaced ("10x10", "10 x 10" and "10×10" are "10x10")."""
    return _WORD.findall(_SIZE.sub(r"\1x\2", fold(text).replace("’", "'")))


@lru_cache(maxsize=65536)  # a vocabulary is small and chats repeat it: stemming is the hot path
def stem(word: str) -> str:
    """The Snowball English stem of a lower-case word; an irregular verb form stems as its
    base ("paid" as "pay"), a possessive as its owner ("tolkien's" as "tolkien")."""
    word = word.removesuffix("'s")
    return str(_stemmer().stemWord(_IRREGULAR.get(word, word)))


def content_terms(text: str) -> list[str]:
    """The stems of the words of ``text`` that are not reading stop words, in order."""
    return [
        stem(w)
        for w in words(text)
        if w not in READING_STOPWORDS and w.removesuffix("'s") not in READING_STOPWORDS
    ]


def compound_terms(text: str) -> frozenset[str]:
    """The stems of the hyphenated words of ``text`` written as one ("wifi" of "Wi-Fi",
    "ebik" of "e-bikes"), which a customer often types without the hyphen."""
    return frozenset(stem(w.replace("-", "")) for w in _COMPOUND.findall(fold(text)))
