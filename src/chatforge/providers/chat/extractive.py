"""The offline answerer: it quotes the retrieved sentences that best answer the question.

No instruct LLM can be installed on the machines Chatforge targets, so the default model answers
by extraction. It never writes a word of its own beyond the fixed abstention: every sentence it
says is a quote of a passage, followed by that passage's citation marker. When nothing retrieved
is relevant enough it says :data:`NOT_FOUND_ANSWER`, which tests and the evaluation look for.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import httpx

from chatforge.providers.chat import _quoting, _sentences, _text, places
from chatforge.providers.chat.base import (
    ChatEvent,
    ChatModel,
    ChatRequest,
    Passage,
    TextDelta,
    Usage,
    estimate_tokens,
)
from chatforge.providers.chat.spec import ProviderConfig, ProviderSpec
from chatforge.text.analysis import content_terms, words
from chatforge.text.entities import (
    exact_tokens,
    exact_words,
    is_code,
    mentions,
    names,
    says_amount,
)
from chatforge.text.spelling import closest_terms
from chatforge.text.synonyms import read_as

NOT_FOUND_ANSWER = "I couldn't find this in my knowledge base."
"""What the extractive model says when no retrieved passage answers the question."""


def is_not_found(answer: str) -> bool:
    """Whether ``answer`` is the not-found reply (which may go on to say what can be asked)."""
    return answer.strip().startswith(NOT_FOUND_ANSWER)


#: Retrieval similarity (calibrated, in [0, 1]) below which a passage is not read. Fitted with
#: :data:`CONFIDENT_SIMILARITY`, :data:`MIN_WEAK_OVERLAP` and the overlap shares below by
#: ``bench/support_fit.py`` on the support evaluation's fit companies, each the most cautious
#: value of its best plateau; figures and their history in bench/RESULTS.md.
MIN_SIMILARITY = 0.20
#: Above this retrieval similarity a passage is quoted on the usual overlap; between
#: :data:`MIN_SIMILARITY` and it, only a sentence holding :data:`MIN_WEAK_OVERLAP` of the
#: question's weighted words is (a small knowledge base's passages score low even when they
#: answer: "what's your address?" finds the contact page at 0.22).
CONFIDENT_SIMILARITY = 0.40
MIN_WEAK_OVERLAP = 0.55

#: Retrieval similarity from which a Q&A pair's question means the visitor's: tempting pairs
#: ("Senior discount?" and "Is there a discount for students?") stay below it. Fitted by
#: ``bench/support_fit.py`` on the fit companies.
SAME_QUESTION_SIMILARITY = 0.65

SentenceScorer = Callable[[str, list[str]], list[float]]
"""``(question, sentences) -> similarities`` in [-1, 1], typically embedding cosines."""

_WORDS_PER_DELTA = 4

# How much each signal adds to a sentence's lexical coverage (0 to 1). Fitted by
# bench/extractive_weights_fit.py on SQuAD questions of 12 articles (how often the quote holds
# the gold answer).
_PAIR_WEIGHT = 0.1  # question word pairs found side by side
_CONTEXT_WEIGHT = 0.2  # coverage of the question by the whole passage and its title
_SIMILARITY_WEIGHT = 2.0  # retrieval similarity, relative to the best passage's
_POSITION_WEIGHT = 0.05  # early sentences state what a passage is about
_KIND_WEIGHT = 0.15  # holds a date, number or name when the question asks for one
# A question's word said by what a sentence holds (an amount for "cost"), not by the sentence,
# counts this much less in its score; it still counts whole against the overlap floors. Not
# fitted: any value from 0 to 0.5 gives the same fit answers; above 0 a sentence saying "cost"
# outranks others holding an amount (a dev follow-up), and 1.0 loses a dev answer.
_IMPLIED_DISCOUNT = 0.5
# A heading names a topic and answers nothing: quoted only when no sentence qualifies.
_HEADING_PENALTY = 1.0


@dataclass(frozen=True)
class _Scored:
    sentence: _sentences.Sentence
    score: float


class ExtractiveModel(ChatModel):
    """Answers by quoting the best sentences of ``request.passages``, with their citations.

    A sentence's score adds its lexical overlap with the question (stemmed content words weighted
    by how rare they are among the retrieved sentences, plus matching word pairs), a little of
    its passage's overlap and retrieval similarity, a nudge for sentences early in a passage, and
    the injected semantic similarity when a scorer is given. The best sentence comes first; up to
    ``max_sentences - 1`` others follow, in passage order, when they score nearly as well.

    It reads only ``request.question`` and ``request.passages``: the history and the system
    prompt are instructions it cannot follow, and it never calls the network.
    """

    generative: ClassVar[bool] = False

    def __init__(
        self,
        *,
        score_sentences: SentenceScorer | None = None,
        min_similarity: float = MIN_SIMILARITY,
        min_overlap: float = 0.3,
        max_sentences: int = 3,
        max_words: int = 80,
        semantic_weight: float = 0.5,
        min_semantic: float = 0.55,
        confident_similarity: float = CONFIDENT_SIMILARITY,
        min_weak_overlap: float = MIN_WEAK_OVERLAP,
        min_qna_overlap: float = 0.6,
        same_question_similarity: float = SAME_QUESTION_SIMILARITY,
        min_row_overlap: float = 0.5,
        max_how_to_words: int = 120,
    ) -> None:
        """Create the model.

        Args:
            score_sentences: Optional semantic scorer (an embedder's cosine), run in a thread.
            min_similarity: Passages whose retrieval similarity is below this are not quoted
                (:data:`MIN_SIMILARITY` by default).
            min_overlap: Least share of the question's weighted content words a quoted sentence
                must contain; below it for every sentence, the model abstains.
            max_sentences: Most sentences in an answer.
            max_words: Most words in an answer; a longer single sentence is cut around its
                matching words.
            semantic_weight: Weight of the semantic score when a scorer is given.
            min_semantic: A sentence this similar to the question is quotable even with less
                lexical overlap than ``min_overlap``.
            confident_similarity: A passage retrieved with less similarity than this is quoted
                only by a sentence holding ``min_weak_overlap`` of the question's weighted words.
            min_weak_overlap: See ``confident_similarity``.
            min_qna_overlap: Least share of the question's weighted words that a Q&A pair's
                question and answer must hold for the answer to be quoted.
            same_question_similarity: A Q&A pair retrieved with this similarity or more asks
                the visitor's question in other words ("collect my order at the shop" and
                "pick up an order in store"): its answer needs only ``min_overlap``.
            min_row_overlap: Least share of the question's weighted words a table row must hold:
                a row names many things, so a question on what it lacks ("the boiler capacity
                of the Duetto") must not get it for naming the Duetto and its boiler.
            max_how_to_words: Most words of the steps that answer a "how do I" question.
        """
        self.provider = "extractive"
        self.name = "extractive"
        self._score_sentences = score_sentences
        self.min_similarity = min_similarity
        self._min_overlap = min_overlap
        self._max_sentences = max(1, max_sentences)
        self._max_words = max(8, max_words)
        self._semantic_weight = semantic_weight
        self._min_semantic = min_semantic
        self._confident_similarity = confident_similarity
        self._min_weak_overlap = min_weak_overlap
        self._min_qna_overlap = min_qna_overlap
        self._same_question_similarity = same_question_similarity
        self._min_row_overlap = min_row_overlap
        self._max_how_to_words = max(8, max_how_to_words)

    def __repr__(self) -> str:
        return "ExtractiveModel()"

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        """Stream the quoted answer in small word groups; see :meth:`ChatModel.stream`."""
        said, asked = _previous_turn(request)
        answer = await self.answer(request.question, request.passages, said, asked)
        groups = _quoting.word_groups(answer, _WORDS_PER_DELTA)
        for index, group in enumerate(groups):
            yield TextDelta(group)
            if index % 8 == 7:
                # Give other chats the loop between groups; a long answer must not hog it.
                await asyncio.sleep(0)
        read = request.question + " " + " ".join(p.content for p in request.passages)
        yield Usage(estimate_tokens(read), estimate_tokens(answer))

    async def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        said_before: str = "",
        asked_before: str = "",
    ) -> str:
        """The whole answer to ``question`` from ``passages``, citations included.

        ``said_before`` is the chatbot's previous answer in the conversation and
        ``asked_before`` the question it answered: a follow-up never gets the same answer
        twice, but the clause of it that answers what the follow-up adds.
        """
        sentences = [
            sentence
            for passage in passages
            if passage.similarity >= self.min_similarity
            for sentence in _sentences.sentences_of(passage)
        ]
        vocabulary = {
            term
            for sentence in sentences
            for term in sentence.terms
            | sentence.unit.context
            | _sentences.title_terms(sentence.passage)
        }
        said = frozenset().union(*(s.unit.tokens for s in sentences))
        said |= {w for p in passages for w in exact_words(p.title)}
        # "Ship to Germany?" asks about Europe when the knowledge speaks of Europe only.
        regions = places.regions_said(question, said)
        read = places.as_regions(question, regions)
        # A word the knowledge never says is read as its synonym it says, else as the word it
        # nearly says (a typo, a shorter form).
        query = closest_terms([read_as(t, vocabulary) for t in content_terms(read)], vocabulary)
        if not query or not sentences:
            return NOT_FOUND_ANSWER
        placed = {w for place in regions for w in place.split()}
        named = names(question) - placed
        if not named <= said:
            # "A store in Seattle?": a place, brand or product the knowledge never names.
            return NOT_FOUND_ANSWER
        if named:
            # "Is the Piccolo dishwasher safe?" is not answered by the Aria's tank: a place or
            # product named must be named where the answer is.
            sentences = _sentences.about(sentences, named)
        required = exact_tokens(question)
        naming: frozenset[_sentences.Sentence] = frozenset()
        if required:
            # A question about E07 is never answered from E03's row.
            sentences, naming = _sentences.naming(sentences, required)
        if _text.asks_price(question):
            # "How much is the Mesh M2 extender?" is never answered by a sentence naming it
            # without a price.
            sentences = [s for s in sentences if says_amount(s.text)]
        elif _text.asks_weekdays(question):
            # "Which days do you deliver?" is answered by a sentence naming a day of the week.
            sentences = [s for s in sentences if mentions("weekday", s.text)]
        if (attribute := _text.asked_attribute(read)) is not None:
            # What is asked must be said where the answer is (not the kit's row for its warranty).
            attribute = closest_terms([read_as(attribute, vocabulary)], vocabulary)[0]
            if attribute not in vocabulary or _text.answer_kind(question) not in _text.KIND_TERMS:
                sentences = _sentences.saying(sentences, attribute)
        if not sentences:
            return NOT_FOUND_ANSWER
        semantic: list[float] | None = None
        if self._score_sentences is not None:
            texts = [s.text for s in sentences]
            semantic = await asyncio.to_thread(self._score_sentences, question, texts)
        unknown = frozenset(t for t in query if t not in vocabulary)
        told = _text.situation(question)
        if told:
            # "I'm vegan, can you cater for me?": what the customer says of themselves and the
            # knowledge never says is not what they ask; the question after it is.
            proper = set(content_terms(question.strip()[len(told) :]))
            aside = {t for t in content_terms(told) if t in unknown and t not in proper}
            if any(t not in aside for t in query):
                query = [t for t in query if t not in aside]
                unknown -= aside
        if _text.asks_unsaid_thing(query, unknown) and all(map(is_code, required)):
            naming = frozenset()  # "a keyboard tray for the LD-2": naming the code is not enough
        # Asked how, a sentence that tells what to do ranks first; not in a follow-up, whose
        # answer must add to what was said.
        how_to = _text.asks_how_to(question) and not said_before
        ranked = self._rank(
            question, query, sentences, semantic, exact=naming, unknown=unknown, how_to=how_to
        )
        if not ranked:
            return NOT_FOUND_ANSWER
        # A follow-up's new words, and what it asks ("how long": a duration).
        asked = [t for t in query if t not in content_terms(asked_before)] or query
        current = question.strip().removesuffix(asked_before.strip()).strip() or question
        if said_before and not names(current):
            # "And the Duetto?" asks the previous question of another thing: not this.
            candidates = [r.sentence for r in ranked]
            follow_up = _quoting.follow_up(candidates, said_before, asked, current)
            if follow_up is not None:
                return follow_up
        yes_no = _text.asks_yes_no(question)
        chosen = self._choose(ranked, sentences, how_to=_text.asks_how_to(question), whole=yes_no)
        same = self._same_question_similarity
        answer = _quoting.join(chosen, self._max_words, query, yes_no=yes_no, same_question=same)
        if said_before and _text.without_markers(answer) == _text.without_markers(said_before):
            # A follow-up answered by the sentence already said: never the same answer twice,
            # but the phrase of it that says what is asked ("…for a flat fee of 6 euros…").
            candidates = [r.sentence for r in ranked]
            phrase = _quoting.follow_up(candidates, said_before, asked, current, phrases=True)
            return phrase or NOT_FOUND_ANSWER
        return answer

    def _rank(
        self,
        question: str,
        query: list[str],
        sentences: list[_sentences.Sentence],
        semantic: list[float] | None,
        *,
        exact: frozenset[_sentences.Sentence] = frozenset(),
        unknown: frozenset[str] = frozenset(),
        how_to: bool = False,
    ) -> list[_Scored]:
        """Score every quotable sentence, best first; empty when none is relevant enough.

        A sentence of ``exact`` names the question's codes: that is its overlap.
        ``unknown`` holds the question's terms that no retrieved passage says; ``how_to`` says
        the question asks how to do something.
        """
        idf = _idf(query, sentences)
        weights = {term: idf[term] for term in query}
        # A measure ("how long") counts where a sentence says it, and nowhere against it.
        soft = _text.measure_terms(question)
        kind = _text.answer_kind(question)
        asked = frozenset(words(question))
        # "What's your address?": a sentence holding an address says it, whatever its words.
        kind_terms = _text.KIND_TERMS.get(kind or "", frozenset())
        total = sum(w for t, w in weights.items() if t not in soft) or sum(weights.values())
        pairs = set(itertools.pairwise(query))
        titles: dict[int, frozenset[str]] = {}
        passage_terms: dict[int, frozenset[str]] = {}
        for sentence in sentences:
            ref = sentence.passage.ref
            titles.setdefault(ref, _sentences.title_terms(sentence.passage))
            passage_terms[ref] = (
                passage_terms.get(ref, titles[ref]) | sentence.terms | sentence.unit.context
            )
        top_similarity = max(s.passage.similarity for s in sentences)
        scored: list[_Scored] = []
        for index, sentence in enumerate(sentences):
            ref = sentence.passage.ref
            similarity = sentence.passage.similarity
            # Meaning alone makes only a sentence of prose quotable: a heading, a question of
            # an FAQ or a row is near in meaning to every question on its topic ("a senior
            # discount?" and "Is there a loyalty discount?").
            similar = (
                semantic is not None
                and semantic[index] >= self._min_semantic
                and sentence.unit.kind in ("prose", "step")
            )
            # An answer of a Q&A pair ("Yes, in about ten days.") need not repeat its question,
            # nor a sentence its heading's words ("Parcels take ten days." under "Shipping").
            own = sentence.terms | sentence.unit.context
            implied: frozenset[str] = frozenset()
            if kind_terms and kind and mentions(kind, sentence.text):
                implied = kind_terms - own - titles[ref]
                own |= kind_terms
            named = sentence in exact
            if not (own & weights.keys() or similar or sentence.answer or named):
                continue
            # The title states the topic of every sentence under it ("Its elevation is ..."
            # under "Mount Everest"), so its words count as said by each of them.
            said = own | titles[ref]
            coverage = sum(w for t, w in weights.items() if t in said) / total
            # A word said only by what the sentence holds ("cost" by "$150") lets it answer,
            # but one that says the word itself ranks first.
            said_by_kind = sum(w for t, w in weights.items() if t in implied) / total
            context = sum(w for t, w in weights.items() if t in passage_terms[ref])
            pair_bonus = len(pairs & sentence.unit.pairs) / max(1, len(pairs))
            score = (
                coverage
                - _IMPLIED_DISCOUNT * said_by_kind
                + _PAIR_WEIGHT * pair_bonus
                + _CONTEXT_WEIGHT * context / total
                + _SIMILARITY_WEIGHT * (similarity - top_similarity)
                + _POSITION_WEIGHT / (1 + sentence.position)
                + (_KIND_WEIGHT if kind and mentions(kind, sentence.text) else 0.0)
                + (_KIND_WEIGHT if how_to and _text.instructs(sentence.text) else 0.0)
                - (_HEADING_PENALTY if sentence.heading else 0.0)
            )
            if semantic is not None:
                score += self._semantic_weight * semantic[index]
            # A Q&A pair answers only a question that means the same as its own; a passage
            # retrieval is unsure of must be matched by nearly all of the question's words.
            needed = self._min_overlap
            if (
                sentence.answer
                and similarity < self._same_question_similarity
                and names(sentence.passage.title) - asked
            ):
                # "Can I pay with Apple Pay?" answers for Apple Pay only: never "can I pay by
                # check?", whatever words they share.
                continue
            if (sentence.answer and similarity < self._same_question_similarity) or (
                sentence.unit.faq
                and _text.qualifies_otherwise(query, unknown, sentence.unit.context)
            ):
                # So is the answer under an FAQ heading when the question narrows the
                # heading's topic by a word the knowledge never says: "Student discount?"
                # never gets the answer under "Do you offer discounts for nonprofits?".
                needed = max(needed, self._min_qna_overlap)
            if sentence.unit.kind == "row":
                # A row is one thing of a list: a question on it with a word the knowledge
                # never says asks about another ("teeth whitening *at home*", "the Duetto
                # *Pro*").
                needed = max(needed, self._min_row_overlap if unknown <= soft else 1.0)
            if similarity < self._confident_similarity:
                needed = max(needed, self._min_weak_overlap)
                if _text.qualifies_otherwise(query, unknown, own):
                    # "Shipping insurance cost?" narrows "cost" by a word the knowledge never
                    # says: the shipping cost answers another question.
                    needed = max(needed, self._min_qna_overlap)
            if coverage >= needed or named or (similar and not sentence.answer):
                scored.append(_Scored(sentence, score))
        scored.sort(key=lambda s: s.score, reverse=True)
        return scored

    def _choose(
        self,
        ranked: list[_Scored],
        sentences: list[_sentences.Sentence],
        *,
        how_to: bool,
        whole: bool,
    ) -> list[_sentences.Sentence]:
        """The best sentence, then close runners-up in reading order, within the word budget.

        A heading is never said alone: the sentences under it stand for it. Asked how to do
        something, the steps of the best sentence's section are the answer; asked how, or yes
        or no (``whole``), an FAQ's prose answer, whole ("Yes. Samples are free, up to 4 ...").
        """
        best = ranked[0].sentence
        section = _sentences.section_of(best, sentences)
        steps = [s for s in section if s.unit.kind == "step"]
        if (how_to or best.heading) and steps:
            return _quoting.within_words(steps, self._max_how_to_words)
        prose_answer = (best.unit.faq or best.answer) and not best.heading
        if prose_answer and (how_to or (whole and not steps)):
            # The answer of "Can I import from Trello?" says how in prose ("Go to Settings,
            # then Import ..."): all of it is the answer, not its best sentence.
            return _quoting.within_words(section, self._max_words)
        if best.heading:
            below = [s for s in section if s.position > best.position]
            if not below:
                return [r.sentence for r in ranked if not r.sentence.heading][:1] or [best]
            return _quoting.within_words(below[:2], self._max_words)
        budget = self._max_words - len(best.text.split())
        extras: list[_sentences.Sentence] = []
        said = {best.text}  # the same sentence in two passages is said once
        best_score = ranked[0].score
        for candidate in ranked[1 : self._max_sentences * 3]:
            if len(extras) + 1 >= self._max_sentences:
                break
            size = len(candidate.sentence.text.split())
            if candidate.sentence.text in said or candidate.sentence.heading:
                continue
            if candidate.score >= 0.85 * best_score and size <= budget:
                extras.append(candidate.sentence)
                said.add(candidate.sentence.text)
                budget -= size
        extras.sort(key=lambda s: (s.passage.ref, s.position))
        return [best, *extras]


def _previous_turn(request: ChatRequest) -> tuple[str, str]:
    """The chatbot's previous answer in the conversation and the question it answered."""
    history = list(request.messages[:-1])
    for index in range(len(history) - 1, -1, -1):
        if history[index].role == "assistant":
            asked = next((m.content for m in reversed(history[:index]) if m.role == "user"), "")
            return history[index].content, asked
    return "", ""


def _idf(query: list[str], sentences: list[_sentences.Sentence]) -> dict[str, float]:
    """Inverse sentence frequency of the query terms among the retrieved sentences.

    The retrieved passages are the only collection at hand. A term found in few of their
    sentences points at the answer; a term found nowhere weighs most, so that a question whose
    key words are absent scores low everywhere and the model abstains.
    """
    df: Counter[str] = Counter()
    wanted = set(query)
    for sentence in sentences:
        # A title's words are said by every sentence under it: "Voyager" in the manual's title
        # is no rarer than "motor" in its text.
        df.update(wanted & (sentence.terms | _sentences.title_terms(sentence.passage)))
    n = len(sentences)
    return {term: math.log(1 + (n + 1) / (df[term] + 0.5)) for term in wanted}


def extractive_spec(model: ExtractiveModel | None = None) -> ProviderSpec:
    """The registry entry of the extractive model.

    Args:
        model: The model to serve, for example one with an embedder's ``score_sentences`` or
            tuned thresholds; the app registers this spec with ``replace=True``. By default, an
            :class:`ExtractiveModel` with its defaults. The model keeps no state between
            requests, so one instance serves every chat.
    """
    served = model or ExtractiveModel()

    def build(
        model: str,
        *,
        config: ProviderConfig,
        api_key: str | None,
        http_client: httpx.AsyncClient | None,
    ) -> ChatModel:
        return served

    return ProviderSpec(
        name="extractive",
        factory=build,
        bare_names=("extractive",),
        models=("extractive",),
        examples=("extractive",),
    )
