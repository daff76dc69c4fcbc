"""The extractive model on FAQ documents, document titles, typos and places (issue 16).

Each test builds the chunks it needs in the stored form and asks as a customer would.
"""

from __future__ import annotations

from tests.providers.chat.helpers import passage, request

from chatforge.providers.chat import NOT_FOUND_ANSWER, ExtractiveModel, complete
from chatforge.providers.chat.base import Passage
from chatforge.rag.chunking import format_content, qna_chunk

NONPROFITS = passage(
    1,
    format_content(
        "Taskloom FAQ",
        4,
        "Do you offer discounts for nonprofits?\nYes, registered nonprofits get 50% off the "
        "Team and Business plans.",
    ),
    0.45,
    title="Taskloom FAQ",
)
FINANCING = passage(
    1,
    format_content(
        "Frequently asked questions",
        2,
        "Do you offer financing?\nYes, through Affirm: 0% APR for 12 months on bikes over $1,000.",
    ),
    0.5,
    title="Frequently asked questions",
)


async def ask(question: str, *passages: Passage) -> str:
    return (await complete(ExtractiveModel(), request(question, passages=passages))).text


async def test_an_faq_heading_answers_only_its_own_question() -> None:
    assert await ask("Is there a student discount?", NONPROFITS) == NOT_FOUND_ANSWER
    assert "50% off" in await ask("do you have a discount for nonprofits?", NONPROFITS)


async def test_an_faq_heading_answers_a_question_naming_its_topic_in_other_words() -> None:
    tours = passage(
        1,
        format_content(
            "faq",
            3,
            "Do you offer private tours?\nYes, any tour can be booked as a private tour for "
            "groups of 4 or more travellers.",
        ),
        0.58,
    )

    assert "private tour" in await ask("can we book a private tour for our family of 5", tours)


async def test_an_answer_with_a_colon_under_its_heading_is_said_not_the_heading() -> None:
    answer = await ask("do you offer financing?", FINANCING)

    assert answer == "Yes, through Affirm: 0% APR for 12 months on bikes over $1,000. [1]"


async def test_two_swapped_letters_are_one_typo() -> None:
    trial = passage(
        1,
        format_content(
            "faq", 1, "Is there a free trial?\nYes. Every workspace gets a 14-day free trial."
        ),
        0.41,
    )

    assert "14-day free trial" in await ask("free trail?", trial)


async def test_a_product_named_only_in_the_documents_title_is_known() -> None:
    manual = passage(
        1,
        format_content(
            "Voyager E-Bike Owner's Manual",
            2,
            "How do I reset the display?\n1. Turn the bike off.\n\n2. Hold the M and minus "
            "buttons together for 10 seconds.",
        ),
        0.6,
        title="Voyager E-Bike Owner's Manual",
    )

    assert "10 seconds" in await ask("Reset the Voyager display?", manual)


async def test_a_country_is_answered_by_the_region_the_knowledge_names() -> None:
    shipping = passage(
        1,
        format_content(
            "Store Policies",
            1,
            "Shipping\nWe ship bikes to all 50 US states and to Canada. We do not ship to "
            "Europe, Asia or Australia.",
        ),
        0.45,
    )

    assert "do not ship to Europe" in await ask("Ship to Germany?", shipping)
    assert "do not ship to Europe" in await ask("do you ship to tokyo", shipping)
    # A place in no region the knowledge names stays unknown.
    assert await ask("Do you ship to Brazil?", shipping) == NOT_FOUND_ANSWER


async def test_what_is_asked_for_must_be_something_the_knowledge_says() -> None:
    manual = passage(
        1,
        format_content(
            "Voyager E-Bike Owner's Manual",
            4,
            "Assist levels\nThe Voyager has five assist levels. The motor stops assisting at "
            "20 mph.",
        ),
        0.5,
        title="Voyager E-Bike Owner's Manual",
    )

    assert await ask("What is the torque of the Voyager motor?", manual) == NOT_FOUND_ANSWER
    assert "20 mph" in await ask("What speed does the motor stop assisting at?", manual)


async def test_an_irregular_verb_meets_its_base_form() -> None:
    guests = passage(
        1,
        qna_chunk("Do guests count as paid users?", "No. Guests are free.").content,
        0.59,
        title="Do guests count as paid users?",
    )

    assert "Guests are free" in await ask("do I pay for guests?", guests)


async def test_an_faq_yes_or_no_is_said_only_to_its_own_question() -> None:
    tabletop = passage(
        1,
        format_content(
            "Store FAQ",
            7,
            "Can I buy the tabletop without the frame?\nNo. We sell desk tops only with a frame.",
        ),
        0.47,
        title="Store FAQ",
    )

    other = await ask("does the desk frame come in white?", tabletop)
    assert not other.startswith(("No", "Yes"))
    assert (await ask("can I buy the tabletop without the frame?", tabletop)).startswith("No.")


async def test_what_is_asked_for_must_be_said_where_the_answer_is() -> None:
    kit = passage(
        1,
        format_content(
            "Care guide",
            2,
            "Wood care kit\nRe-oil the top once a year with our wood care kit.\n\n"
            "Warranty\nOur table frames carry a 10-year warranty.",
        ),
        0.5,
        title="Care guide",
    )

    assert await ask("what's the warranty on the wood care kit", kit) == NOT_FOUND_ANSWER
    assert await ask("how much weight can the wood care kit hold", kit) == NOT_FOUND_ANSWER
    assert "10-year" in await ask("what's the warranty on the frames", kit)


async def test_a_yes_or_no_question_gets_the_faq_answer_whole() -> None:
    samples = passage(
        1,
        format_content(
            "Store FAQ",
            1,
            "Can I get wood samples before I order?\nYes. Wood samples are free, up to 4 per "
            "household. We mail them within 3 business days.",
        ),
        0.6,
        title="Store FAQ",
    )

    answer = await ask("can you mail me a walnut sample before I order", samples)
    assert "up to 4 per household" in answer
    assert "within 3 business days" in answer
