"""Light English text handling for the extractive model: sentences, terms, codes, clauses.

Written here rather than taken from a library because the extractive model needs only lexical
overlap that is stable and fast; a small suffix stripper does that without a native dependency.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

_STOPWORDS = """
    a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can could did didn't do does doesn't doing don't down
    during each either few for from further had has have having he her here hers herself him
    himself his how i if in into is isn't it it's its itself just let me might more most much must
    my myself no nor not now of off on once one only or other our ours ourselves out over own per
    same she should so some such than that that's the their theirs them themselves then there
    there's these they this those through to too under until up upon us very via was wasn't we
    were weren't what what's when where where's which while who who's whom whose why will with
    within without would you your yours yourself yourselves
    many name named kind type called tell know please explain describe say said give find
    get gets getting got use used using take takes took taken happen happens happened
    come comes came go goes went gone
    whats wheres whos hows u r ur pls plz im ive dont cant can't won't i'm i've hi hello thanks
"""
STOPWORDS = frozenset(_STOPWORDS.split())
"""Words that carry no topic: function words, question words, and the verbs of asking."""

_ABBREVIATION_LIST = """
    mr mrs ms dr prof st sr jr vs etc e.g i.e eg ie inc ltd co corp no nos fig figs approx ca
    gen col lt sgt capt rev mt ft jan feb mar apr jun jul aug sep sept oct nov dec est dept univ
"""
_ABBREVIATIONS = frozenset(_ABBREVIATION_LIST.split())

# A sentence ends at . ! or ? (and any closing quotes or brackets) before white space and a
# capital, a digit or an opening quote.
_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_BULLET = re.compile(r"\n\s*(?=(?:[-*•▪◦]|\d{1,3}[.)])\s)")
_BLANK_LINE = re.compile(r"\n\s*\n")
_ENDS_CLAUSE = re.compile(r"[.!?:;…][\"'”’)\]]*$")
# Most words in a heading ("2. Paid Time Off", "Returns and refunds").
_HEADING_WORDS = 12
# Words a heading does not end with (in lower case: "Appendix A" is a heading); a line that does
# is a sentence wrapped mid-way.
_TRAILING_WORDS = frozenset(
    {"a", "an", "and", "the", "of", "to", "in", "on", "at", "for", "with", "by", "or", "from"}
    | {"our", "your"}
)
_SECTION_NUMBER = re.compile(r"\A\d+(?:\.\d+)*\.?\s+")
_SPACE = re.compile(r"\s+")
_TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences, keeping paragraphs, list items and headings apart.

    Abbreviations (``Dr.``, ``e.g.``), initials (``J. K.``) and dotted acronyms (``U.S.``) do not
    end a sentence. White space inside a sentence is collapsed.
    """
    return [sentence for sentence, _ in split_units(text)]


def split_units(text: str, *, headings: bool = True) -> list[tuple[str, bool]]:
    """:func:`split_sentences`, each with whether it is a heading line (when ``headings``)."""
    units: list[tuple[str, bool]] = []
    for block in _BLANK_LINE.split(text):
        parts = _heading_parts(block) if headings else [(block, False)]
        for part, is_heading in parts:
            if is_heading:
                units.append((_SPACE.sub(" ", part).strip(), True))
                continue
            for item in _BULLET.split(part):
                units.extend((s, False) for s in _split_block(_SPACE.sub(" ", item).strip()))
    return [(text, is_heading) for text, is_heading in units if text]


def _heading_parts(block: str) -> list[tuple[str, bool]]:
    """``block`` cut before and after each heading line: ``(part, is_heading)`` in order.

    Without this, "2. Paid Time Off" above "Every employee ..." would be read as the sentence
    "Paid Time Off Every employee ...". A heading line is short, starts with a capital (after a
    section number), holds no other digit and no colon, ends no clause (nor with a comma or a
    word like "and"), follows the block's start, a clause's end or another heading, and precedes
    a line of prose (a capital first, a clause's end last) or another heading.
    """
    lines = block.split("\n")
    texts = [line.strip() for line in lines]
    ends = [bool(_ENDS_CLAUSE.search(t)) for t in texts]
    # Bottom up: could be a heading, judging by what comes below.
    below = [False] * len(lines)
    for i in range(len(lines) - 2, -1, -1):
        following = texts[i + 1]
        prose = bool(following) and following[0].isupper() and ends[i + 1]
        below[i] = _heading_like(texts[i]) and (prose or below[i + 1])
    parts: list[tuple[str, bool]] = []
    current: list[str] = []
    previous_heading = False
    for i, line in enumerate(lines):
        # The block's start counts as a clause's end.
        is_heading = below[i] and (i == 0 or ends[i - 1] or previous_heading)
        if is_heading:
            if current:
                parts.append(("\n".join(current), False))
            parts.append((line, True))
            current = []
        else:
            current.append(line)
        previous_heading = is_heading
    if current:
        parts.append(("\n".join(current), False))
    return parts


def _heading_like(text: str) -> bool:
    bare = _SECTION_NUMBER.sub("", text)
    words = bare.split()
    return (
        0 < len(words) <= _HEADING_WORDS
        and bare[0].isupper()
        and not any(ch.isdigit() for ch in bare)  # "Mon-Fri 9-17" is a timetable's line
        and ":" not in bare  # "Price: 12" is a record's field
        and not _ENDS_CLAUSE.search(bare)
        and not bare.endswith(",")
        and words[-1] not in _TRAILING_WORDS
    )


def _split_block(block: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(block):
        before = block[start : match.start()].rsplit(" ", 1)[-1]
        if block[match.start()] == "." and _is_abbreviation(before):
            continue
        pieces.append(block[start : match.end()].strip())
        start = match.end()
    pieces.append(block[start:].strip())
    return pieces


def _is_abbreviation(word: str) -> bool:
    bare = word.lstrip("\"'“‘([").lower()
    if bare in _ABBREVIATIONS:
        return True
    # An initial ("J") or a dotted acronym whose last dot is this one ("U.S").
    return (len(bare) == 1 and bare.isalpha()) or bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", bare))


def words(text: str) -> list[str]:
    """The lower-cased word tokens of ``text``."""
    return _TOKEN.findall(text.lower())


def content_terms(text: str) -> list[str]:
    """The stems of the words of ``text`` that are not stop words, in order."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and not _is_possessive_stop(w)]


def measure_terms(question: str) -> frozenset[str]:
    """The stems of the measures a question asks about ("how long", "how tall").

    Such a word says what kind of answer is wanted. An answer may repeat it ("330 metres tall")
    or not ("within 5 days" for "how long"), so its absence must not count against a sentence.
    """
    tokens = words(question)
    return frozenset(
        stem(w) for n, w in enumerate(tokens) if n and tokens[n - 1] == "how" and w in _MEASURES
    )


def _is_possessive_stop(word: str) -> bool:
    return word.endswith(("'s", "’s")) and word[:-2] in STOPWORDS


_VOWEL = re.compile(r"[aeiouy]")
_DERIVATIONAL = (
    ("ational", "ate"),
    ("ization", "ize"),
    ("fulness", "ful"),
    ("iveness", "ive"),
    ("ousness", "ous"),
    ("ements", ""),
    ("ement", ""),
    ("ments", ""),
    ("ment", ""),
    ("ness", ""),
    ("ation", "ate"),
    ("ition", "ite"),
    ("ities", ""),
    ("ity", ""),
    ("tion", "t"),
    ("sion", "s"),
    ("ally", "al"),
    ("ly", ""),
)


# Irregular verb forms a customer and a policy word differently ("I paid" and "paid users",
# "rode it" and "50 miles ridden"): each read as its base form.
_IRREGULAR_FORMS = """
    paid:pay bought:buy sold:sell sent:send made:make kept:keep left:leave brought:bring
    spent:spend rode:ride ridden:ride broke:break broken:break chose:choose chosen:choose
    lost:lose held:hold met:meet ran:run won:win built:build caught:catch fed:feed fell:fall
    fallen:fall forgot:forget forgotten:forget froze:freeze frozen:freeze hid:hide hidden:hide
    lent:lend shook:shake shaken:shake stole:steal stolen:steal tore:tear torn:tear
    wore:wear worn:wear wrote:write written:write drove:drive driven:drive flew:fly flown:fly
"""
_IRREGULAR = dict(pair.split(":") for pair in _IRREGULAR_FORMS.split())


@lru_cache(maxsize=65536)  # a vocabulary is small and chats repeat it: stemming is the hot path
def stem(word: str) -> str:
    """Reduce an English word to a stem shared by its inflections and close derivations.

    Not Porter, but in its spirit: possessives, plurals, ``-ed``/``-ing`` and a few derivational
    suffixes are stripped, so that *located*, *locates* and *location* meet at ``locat``. Numbers
    and short words are kept whole.
    """
    if word in _IRREGULAR:
        return stem(_IRREGULAR[word])
    if len(word) <= 3 or not word.isalpha():
        return word.removesuffix("'s").removesuffix("’s")
    word = word.removesuffix("'s").removesuffix("’s")
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        base = word[: -len(suffix)]
        if word.endswith(suffix) and len(base) >= 3 and _VOWEL.search(base):
            word = base
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # running -> run, stopped -> stop
            break
    for suffix, replacement in _DERIVATIONAL:
        base = word[: -len(suffix)]
        if word.endswith(suffix) and len(base) >= 3 and _VOWEL.search(base):
            word = base + replacement
            break
    if word.endswith("y") and len(word) > 3 and word[-2] not in "aeiou":
        word = word[:-1] + "i"  # happy and happiness meet at happi
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]  # locate and located meet at locat
    return word


_YEAR = re.compile(r"\b(?:1\d{3}|20\d{2})s?\b")
_MONTH = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December)\b"
)
_NUMBER = re.compile(
    r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|dozen|hundreds?|"
    r"thousands?|millions?|billions?)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<!^)(?<![.!?] )\b[A-Z][a-z]+")
_MEASURES = frozenset(
    """many much long far old tall high big large deep wide often heavy fast""".split()  # noqa: SIM905
)
_HOW_MEASURE = re.compile(rf"\bhow (?:{'|'.join(sorted(_MEASURES))})\b")
# "How long does it take?" asks for a time span, "How long is the river?" for a length.
_HOW_LONG = re.compile(r"\bhow long (?:\w+ ){0,3}(?:take|takes|last|lasts|wait|until)\b")
_DURATION = re.compile(
    r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten)\b[\w -]{0,12}?"
    r"\b(?:minutes?|hours?|days?|weeks?|months?|years?)\b",
    re.IGNORECASE,
)
_YES_NO_QUESTION = re.compile(
    r"\A\W*(?:do|does|did|is|are|was|were|can|could|will|would|should|have|has|may|am)\b",
    re.IGNORECASE,
)
_WHEN = ("when", "what year", "in what year", "which year", "what date", "on what date")


def answer_kind(question: str) -> str | None:
    """The kind of answer a question asks for: ``"time"``, ``"number"``, ``"name"`` or None."""
    q = question.lower().strip()
    if q.startswith(_WHEN) or " what year" in q or " which year" in q:
        return "time"
    if _HOW_LONG.search(q):
        return "duration"
    if _HOW_MEASURE.search(q) or "percentage" in q:
        return "number"
    if q.startswith(("who", "whom", "whose")):
        return "name"
    return None


def mentions(kind: str, sentence: str) -> bool:
    """Whether ``sentence`` holds something of the ``kind`` that :func:`answer_kind` returns."""
    if kind == "duration":
        return bool(_DURATION.search(sentence))
    if kind == "time":
        return bool(_YEAR.search(sentence) or _MONTH.search(sentence))
    if kind == "number":
        return bool(_NUMBER.search(sentence))
    return bool(_NAME.search(sentence))


_EXACT_WORD = re.compile(r"[a-z0-9]+(?:[-/.][a-z0-9]+)*")
# A code names one thing: letters then digits, maybe hyphenated ("E07", "TL-429", "WT-VN14").
_CODE = re.compile(r"\A[a-z]{1,4}(?:-?[a-z]{0,4})\d{1,6}[a-z]?\Z")
# Words after a number that make it a quantity ("40 days"), not part of a name ("Trailblazer 24").
_UNITS = frozenset(
    """day days week weeks month months year years hour hours minute minutes second seconds
    am pm kg g lb lbs mm cm m km mile miles mph km/h percent % user users people person persons
    traveller travellers traveler travelers time times night nights x""".split()  # noqa: SIM905
)


def exact_words(text: str) -> list[str]:
    """The words and codes of ``text`` as written, lower-cased ("tl-429", "rb-cm7", "1649")."""
    found = [w.rstrip(".") for w in _EXACT_WORD.findall(text.lower().replace(",", ""))]
    # "Wi-Fi" also says "wi" and "fi"; "TL-403" also "tl" and "403".
    return found + [part for w in found if "-" in w for part in w.split("-") if part]


def exact_tokens(question: str) -> frozenset[str]:
    """What a question names exactly: codes ("E07") and model numbers ("Trailblazer 24").

    An answer must say these as written: a question about E07 is never answered with E03's
    row. A number counts only after a word that is no stop word and before no unit ("cancel 40
    days before" asks about 40 days, not about a thing named 40).
    """
    tokens = exact_words(question)
    found = set()
    for n, token in enumerate(tokens):
        if _CODE.match(token):
            found.add(token)
        elif token.isdigit() and n:
            before, after = tokens[n - 1], tokens[n + 1] if n + 1 < len(tokens) else ""
            if before not in STOPWORDS and not before.isdigit() and after not in _UNITS:
                found.add(token)
    return frozenset(found)


_HOW_TO = re.compile(
    r"\A\W*(?:how (?:do|can|should|would) (?:i|we|you)|how to|what are the steps|steps to)\b"
    r"|\bsteps?\W*\Z",
    re.IGNORECASE,
)


def asks_how_to(question: str) -> bool:
    """Whether a question asks for a procedure ("How do I reset...", "setup steps")."""
    return bool(_HOW_TO.search(question.strip()))


def closest_terms(query: list[str], vocabulary: set[str]) -> list[str]:
    """``query`` with each term absent from ``vocabulary`` swapped for a near spelling in it.

    Customers mistype ("finacing", "subscripton"); a term of five letters or more that is one
    edit (two for nine letters or more) from a known term is read as that term.
    """
    result = []
    for term in query:
        if term in vocabulary or len(term) < 5 or not term.isalpha():
            result.append(term)
            continue
        limit = 2 if len(term) >= 9 else 1
        near = [v for v in vocabulary if abs(len(v) - len(term)) <= limit and v[:1] == term[:1]]
        match = next((v for v in sorted(near) if _within(term, v, limit)), None)
        result.append(match or term)
    return result


def _within(a: str, b: str, limit: int) -> bool:
    """Whether ``a`` is at most ``limit`` edits from ``b``; a swap of neighbours ("trail",
    "trial") is one edit (optimal string alignment)."""
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if before and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return False
        before, previous = previous, current
    return previous[-1] <= limit


# A capitalised word inside a sentence; not the letters of a code ("TL" of "TL-403").
_NAME_WORD = re.compile(r"(?<![.!?]\s)(?<!\A)\b([A-Z][a-zA-Z]+)\b(?![-/]?\d)")


def names(question: str) -> frozenset[str]:
    """The capitalised words inside a question, lower-cased: places, brands, products.

    Its first word is left out (every sentence starts with a capital), and so is "I".
    """
    text = question.strip()
    return frozenset(m.lower() for m in _NAME_WORD.findall(text) if m != "I")


def qualifies_otherwise(query: list[str], unknown: frozenset[str], heading: frozenset[str]) -> bool:
    """Whether the question narrows a heading's topic by a word the knowledge never says.

    "Student discount?" puts "student", said nowhere, before "discount", a word of the
    heading "Do you offer discounts for nonprofits?": the heading answers another question.
    """
    pairs = itertools.pairwise(query)
    return any(first in unknown and second in heading for first, second in pairs)


_WHAT_OF = re.compile(
    r"\A\W*what(?:'s|’s|s| is| are| was)?\s+(?:the|a|an|your)\s+((?:\w+\s+){0,2}?\w+)\s+of\b",
    re.IGNORECASE,
)


def asked_attribute(question: str) -> str | None:
    """What a "what is the X of Y?" question asks for: X's last term ("torqu" of "What is the
    torque of the Voyager motor?"); None for a question of another form."""
    match = _WHAT_OF.match(question)
    terms = content_terms(match[1]) if match else []
    return terms[-1] if terms else None


def asks_yes_no(question: str) -> bool:
    """Whether a question is answered by yes or no ("Do you ship to Canada?")."""
    return bool(_YES_NO_QUESTION.match(question))


_CLAUSE = re.compile(r",\s+|;\s+|\s+and\s+|\s+but\s+")


def without_markers(answer: str) -> str:
    """An answer without its citation markers and cut marks, for comparison."""
    return " ".join(re.sub(r"\[\d+\]|…", " ", answer).split())


def answering_clause(sentence: str, query: list[str], kind: str | None) -> str | None:
    """The clause of ``sentence`` that best answers: the question's words, or what it asks."""
    clauses = [c.strip(" .") for c in _CLAUSE.split(sentence) if c.strip(" .")]
    if len(clauses) < 2:
        return None
    wanted = set(query)

    def fit(clause: str) -> float:
        hits = len(wanted & set(content_terms(clause)))
        return hits + (1.5 if kind and mentions(kind, clause) else 0.0)

    best = max(clauses, key=fit)
    return best if fit(best) > 0 else None


def names_all(required: frozenset[str], tokens: frozenset[str]) -> bool:
    """Whether every code or number of ``required`` is said in ``tokens``.

    "TL429" matches "TL-429", and "SOC2" matches "SOC 2": the same code written apart.
    """
    joined = {t.replace("-", "") for t in tokens}
    for token in required:
        bare = token.replace("-", "")
        if bare in joined:
            continue
        letters = bare.rstrip("0123456789")
        digits = bare[len(letters) :]
        if not (letters and digits and letters in tokens and digits in tokens):
            return False
    return True
