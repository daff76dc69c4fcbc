"""The extractive model reads a passage's fields (retrieval fills them), and answers from them
exactly as from okchat's content form alone (a passage a client builds by hand)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.providers.chat.helpers import passage, request

from chatforge.providers.chat import ExtractiveModel, Passage, complete
from chatforge.rag.chunking import format_content, qna_chunk

HOURS_BODY = "Opening hours\nThe shop opens at nine and closes at six.\n\nOn Sundays it is closed."
PAIR = qna_chunk("Do you deliver on Sundays?", "Yes, within the city ring, until noon.")
# As retrieval hands them: the fields and, built from them, the okchat form.
WITH_FIELDS = (
    replace(
        passage(1, format_content("Shop guide", 1, HOURS_BODY), title="Shop guide"),
        heading="Opening hours",
        body=HOURS_BODY,
    ),
    replace(passage(2, PAIR.content, title="Do you deliver on Sundays?"), body=PAIR.text, qna=True),
)
CONTENT_ONLY = tuple(replace(p, heading=None, body="", qna=False) for p in WITH_FIELDS)


async def ask(question: str, passages: tuple[Passage, ...]) -> str:
    return (await complete(ExtractiveModel(), request(question, passages=passages))).text


@pytest.mark.parametrize(
    "question",
    [
        "When does the shop open?",
        "Is the shop open on Sundays?",
        "Do you deliver on Sundays?",
        "Can you deliver to the city ring?",
        "Do you sell bicycles?",
    ],
)
async def test_answers_the_same_from_fields_as_from_content_alone(question: str) -> None:
    assert await ask(question, WITH_FIELDS) == await ask(question, CONTENT_ONLY)


async def test_quotes_the_body_never_the_header_nor_a_pairs_question() -> None:
    hours = await ask("When does the shop open?", WITH_FIELDS[:1])
    pair = await ask("Do you deliver on Sundays?", WITH_FIELDS[1:])

    assert hours.startswith("The shop opens at nine and closes at six.")
    assert pair == "Yes, within the city ring, until noon. [2]"
    assert not any(word in hours + pair for word in ("Title", "Chunk", "Question", "Answer"))


async def test_the_body_is_read_not_the_content() -> None:
    # A passage whose fields and content disagree: the fields are what the model reads.
    moved = replace(WITH_FIELDS[0], body="Opening hours\nThe shop opens at ten and closes at five.")

    assert await ask("When does the shop open?", (moved,)) == (
        "The shop opens at ten and closes at five. [1]"
    )
