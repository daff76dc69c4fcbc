"""A "not found" answer of the offline model says what the chatbot can answer instead."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.factories.chat import answer, make_store_bot
from tests.factories.knowledge import add

from chatforge.providers.chat import NOT_FOUND_ANSWER
from chatforge.services.chat.service import offer_examples, offer_topics

OUTSIDE = "Who won the football world cup in 1998?"


def test_not_found_offers_the_chatbots_suggestions(api: TestClient) -> None:
    bot = make_store_bot(api, suggestions=["How do returns work?", "When do you ship?"])

    body = answer(api, bot["id"], OUTSIDE)

    assert body["response"] == (
        f"{NOT_FOUND_ANSWER} You can ask me, for example: “How do returns work?” or "
        "“When do you ship?”"
    )
    assert body["sources"] == []


def test_without_suggestions_not_found_offers_its_qna_questions(api: TestClient) -> None:
    bot = make_store_bot(api)
    add(api, bot["id"], {"type": "qna", "question": "Do you sell gift cards?", "answer": "Yes."})

    body = answer(api, bot["id"], OUTSIDE)

    assert body["response"].startswith(NOT_FOUND_ANSWER)
    assert body["response"].endswith("“Do you sell gift cards?”")


def test_an_answer_that_was_found_offers_nothing(api: TestClient) -> None:
    bot = make_store_bot(api, suggestions=["How do returns work?"])

    body = answer(api, bot["id"], "How many days do I have to return a product?")

    assert "You can ask me" not in body["response"]


def test_examples_are_listed_as_a_sentence() -> None:
    assert offer_examples([]) == ""
    assert offer_examples(["A?"]) == "You can ask me, for example: “A?”"
    assert offer_examples(["A?", "B?", "C?"]) == "You can ask me, for example: “A?”, “B?” or “C?”"


def test_without_suggestions_or_qna_not_found_names_the_topics_it_covers(api: TestClient) -> None:
    bot = make_store_bot(api)

    body = answer(api, bot["id"], OUTSIDE)

    assert body["response"] == (
        f"{NOT_FOUND_ANSWER} My knowledge covers Opening hours, Returns and Shipping."
    )


def test_topics_are_listed_as_a_sentence() -> None:
    assert offer_topics([]) == ""
    assert offer_topics(["Returns"]) == "My knowledge covers Returns."
    assert offer_topics(["A", "B"]) == "My knowledge covers A and B."


def test_an_answer_that_found_nothing_rests_on_no_sources(api: TestClient) -> None:
    bot = make_store_bot(api, suggestions=["How do returns work?"])

    body = answer(api, bot["id"], "Do you sell gift cards for the store?")

    assert body["response"].startswith(NOT_FOUND_ANSWER)
    assert body["sources"] == []  # what the answer rests on
    assert body["message"]["metadata"]["sources"]  # what was searched, for operators
