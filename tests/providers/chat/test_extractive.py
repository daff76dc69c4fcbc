"""The offline extractive model: quotes the best sentences with citations, or abstains."""

from __future__ import annotations

import re

from tests.providers.chat.helpers import events_of, passage, request, text_of, usage_of

from chatforge.providers.chat import (
    CITATION_MARKER,
    NOT_FOUND_ANSWER,
    ExtractiveModel,
    Passage,
    TextDelta,
    complete,
)
from chatforge.rag.chunking import qna_chunk

EVEREST = passage(
    1,
    "Mount Everest is Earth's highest mountain above sea level. It lies in the Mahalangur "
    "Himal sub-range of the Himalayas. Its elevation of 8,849 metres was most recently "
    "established in 2020 by the Chinese and Nepali authorities. The first recorded ascent was "
    "made in 1953 by Tenzing Norgay and Edmund Hillary.",
    similarity=0.71,
    title="Mount Everest",
)
EIFFEL = passage(
    2,
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris. It is "
    "named after the engineer Gustave Eiffel, whose company designed and built the tower from "
    "1887 to 1889. The tower is 330 metres tall.",
    similarity=0.52,
    title="Eiffel Tower",
)
REFUNDS = passage(
    3,
    "Orders can be returned within 30 days of delivery. Refunds are issued to the original "
    "payment method within 5 business days after we receive the item. Shipping costs are not "
    "refunded unless the item arrived damaged.",
    similarity=0.64,
    title="Returns policy",
)
PASSAGES = (EVEREST, EIFFEL, REFUNDS)


def first_sentence(answer: str) -> str:
    return re.split(r"(?<=\[\d\])", answer)[0].strip()


async def ask(question: str, passages: tuple[Passage, ...] = PASSAGES, **options: object) -> str:
    model = ExtractiveModel(**options)  # type: ignore[arg-type]
    return (await complete(model, request(question, passages=passages))).text


async def test_answers_with_the_right_sentence_and_its_citation() -> None:
    answer = await ask("Who made the first ascent of Mount Everest?")
    assert first_sentence(answer) == (
        "The first recorded ascent was made in 1953 by Tenzing Norgay and Edmund Hillary. [1]"
    )


async def test_quotes_the_knowledge_never_the_stored_chunk_header() -> None:
    stored = passage(
        1,
        "Title: Kettle handbook\nChunk: 1\n\nContent:\nEvery kettle carries a two-year "
        "warranty against manufacturing defects.",
        title="Kettle handbook",
    )

    answer = await ask("What warranty does a kettle carry?", (stored,))

    assert answer == "Every kettle carries a two-year warranty against manufacturing defects. [1]"


async def test_answers_with_a_qna_pairs_answer_never_its_question() -> None:
    pair = qna_chunk("Do you ship to Canada?", "Yes. Delivery there takes about ten days.")
    stored = passage(1, pair.content, title="Do you ship to Canada?")

    for question in ("Do you ship to Canada?", "Can you deliver to Canada?"):
        answer = await ask(question, (stored, EIFFEL))

        assert answer == "Yes. Delivery there takes about ten days. [1]"
    terse = qna_chunk("How long is the warranty?", "Two years")
    stored = passage(1, terse.content, title="How long is the warranty?")
    assert await ask("How long is the warranty?", (stored,)) == "Two years [1]"


async def test_picks_the_sentence_that_answers_among_those_of_a_passage() -> None:
    assert first_sentence(await ask("How long do refunds take?")).startswith(
        "Refunds are issued to the original payment method within 5 business days"
    )
    assert first_sentence(await ask("How many days do I have to return an order?")) == (
        "Orders can be returned within 30 days of delivery. [3]"
    )
    assert first_sentence(await ask("What is the elevation of Everest?")).startswith(
        "Its elevation of 8,849 metres"
    )


async def test_picks_across_passages_by_meaning_of_words() -> None:
    answer = await ask("Who designed the Eiffel Tower?")
    assert first_sentence(answer).startswith("It is named after the engineer Gustave Eiffel")
    assert first_sentence(answer).endswith("[2]")


async def test_every_citation_names_a_given_passage() -> None:
    for question in ("When was the first ascent of Everest?", "Are shipping costs refunded?"):
        answer = await ask(question)
        cited = {int(ref) for ref in CITATION_MARKER.findall(answer)}
        assert cited and cited <= {p.ref for p in PASSAGES}


async def test_says_it_found_nothing_without_passages() -> None:
    assert await ask("What is the capital of France?", passages=()) == NOT_FOUND_ANSWER


async def test_says_it_found_nothing_when_no_passage_is_relevant() -> None:
    for question in (
        "What is the capital of Australia?",
        "How do I reset my router password?",
        "Who won the 2018 football World Cup?",
    ):
        assert await ask(question) == NOT_FOUND_ANSWER


async def test_says_it_found_nothing_for_a_question_without_content_words() -> None:
    assert await ask("What is it?") == NOT_FOUND_ANSWER


async def test_ignores_passages_below_the_similarity_threshold() -> None:
    assert await ask("How tall is the Eiffel Tower?", min_similarity=0.6) == NOT_FOUND_ANSWER
    answer = await ask("How tall is the Eiffel Tower?", min_similarity=0.5)
    assert first_sentence(answer) == "The tower is 330 metres tall. [2]"


async def test_streams_word_groups_that_join_into_the_answer_then_word_usage() -> None:
    model = ExtractiveModel()
    chat_request = request("Who made the first ascent of Mount Everest?", passages=PASSAGES)
    events = await events_of(model, chat_request)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    answer = await model.answer(chat_request.question, chat_request.passages)
    assert len(deltas) > 3
    assert text_of(events) == answer
    usage = usage_of(events)
    assert usage.output_tokens == len(re.findall(r"\w+(?:[-'.]\w+)*", answer))
    assert usage.input_tokens > 50


async def test_abstention_is_streamed_too() -> None:
    events = await events_of(ExtractiveModel(), request("Anything?", passages=()))
    assert text_of(events) == NOT_FOUND_ANSWER
    assert usage_of(events).output_tokens == 8


async def test_quotes_at_most_max_sentences_best_first_then_passage_order() -> None:
    answer = await ask("When and by whom was the Eiffel Tower built?", max_sentences=3)
    sentences = re.findall(r".+?\[\d\]", answer)
    assert 1 <= len(sentences) <= 3
    assert "Gustave Eiffel" in sentences[0]
    assert await ask("When and by whom was the Eiffel Tower built?", max_sentences=1) == (
        sentences[0].strip()
    )


async def test_cuts_a_very_long_sentence_around_the_question_words() -> None:
    filler = " ".join(["lorem"] * 60)
    long_passage = passage(
        1, f"{filler} the warranty covers batteries for two years {filler}.", title="Warranty"
    )
    answer = await ask("How long does the warranty cover batteries?", (long_passage,), max_words=20)
    assert answer.startswith("…") and answer.endswith("… [1]")
    assert "warranty covers batteries for two years" in answer
    assert len(answer.split()) <= 23


async def test_an_injected_semantic_scorer_finds_a_paraphrase() -> None:
    cats = passage(1, "Cats make a soft vibrating sound when content. Dogs bark at strangers.", 0.5)
    calls: list[tuple[str, list[str]]] = []

    def scorer(question: str, sentences: list[str]) -> list[float]:
        calls.append((question, sentences))
        return [0.9 if "vibrating" in s else 0.1 for s in sentences]

    question = "Which pet purrs?"
    assert await ask(question, (cats,)) == NOT_FOUND_ANSWER
    answer = await ask(question, (cats,), score_sentences=scorer)
    assert answer == "Cats make a soft vibrating sound when content. [1]"
    assert calls == [
        (question, ["Cats make a soft vibrating sound when content.", "Dogs bark at strangers."])
    ]


async def test_what_happens_and_gets_are_not_the_topic_of_a_question() -> None:
    equipment = passage(
        1,
        "Each employee receives a laptop on the first day. Lost or stolen devices must be "
        "reported to the security team within 24 hours.",
        title="Equipment",
    )

    answer = await ask("What happens if my laptop gets stolen?", (equipment,))

    assert "reported to the security team within 24 hours" in answer


async def test_a_sentence_found_in_two_passages_is_quoted_once() -> None:
    text = "Out-of-warranty repairs cost 49 euros plus parts."
    first, second = passage(1, text, title="Repairs"), passage(2, text, title="Service")

    answer = await ask("How much do out-of-warranty repairs cost?", (first, second))

    assert answer == f"{text} [1]"


async def test_a_heading_is_not_quoted_but_says_what_the_sentences_below_it_are_about() -> None:
    policy = passage(
        1,
        "Refund policy\nRefunds are issued within 14 days of the return.\n"
        "Shipping › International\nParcels abroad take ten days.",
        title="Help",
    )

    refund = await ask("What is the refund policy?", (policy,))
    abroad = await ask("How long does international shipping take?", (policy,))

    assert refund == "Refunds are issued within 14 days of the return. [1]"
    assert abroad == "Parcels abroad take ten days. [1]"
