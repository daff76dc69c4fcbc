"""How a customer asks for a span, a time, a price or an inclusion, in words the knowledge
does not use: "how far in advance" for "24 hours ahead", "do you charge for" for "is free"."""

from __future__ import annotations

import pytest
from tests.providers.chat.helpers import passage

from chatforge.providers.chat import ExtractiveModel
from chatforge.providers.chat._text import answer_kind, measure_terms
from chatforge.providers.chat.extractive import is_not_found
from chatforge.rag.chunking import format_content
from chatforge.text.analysis import stem, words

POLICIES = passage(
    1,
    format_content(
        "Clinic policies",
        1,
        "Appointments and cancellations\nPlease cancel or move an appointment at least 24 hours "
        "ahead. Missed appointments are charged a $35 fee.\n\nStitch check\nThe stitch check is "
        "free and is booked 10 to 14 days after surgery.",
    ),
    similarity=0.39,  # retrieval is unsure: the question's words must be said
    title="Clinic policies",
)
PLANS = passage(
    2,
    format_content(
        "plans",
        1,
        "plan: Team\nprice_usd: 9\nsso: no\n\nplan: Business\nprice_usd: 19\nsso: yes",
    ),
    similarity=0.5,
    title="plans",
)


async def ask(question: str, *passages: object) -> str:
    return await ExtractiveModel().answer(question, passages)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("how far in advance do i need to cancel?", "duration"),
        ("how much notice do you need", "duration"),
        ("how long is a written quote good for", "duration"),
        ("what time should I bring my cat in?", "time"),
        ("what hours is live chat open", "time"),
        ("do you charge for the stitch check?", "price"),
        ("is there a charge for parking?", "price"),
        ("how long to charge the battery from empty", "number"),  # a battery's charge, not money
        ("voyager range on one charge", None),
        ("whats your adress", "address"),  # a typo still asks for the address
    ],
)
def test_the_kind_of_answer_a_question_asks_for(question: str, kind: str | None) -> None:
    assert answer_kind(question) == kind


def test_the_words_that_ask_for_a_span_or_an_inclusion_need_not_be_in_the_answer() -> None:
    assert {stem("far"), stem("advance")} <= measure_terms("how far in advance must I cancel?")
    assert stem("included") in measure_terms("is phone support included?")
    assert stem("cancel") not in measure_terms("how far in advance must I cancel?")


async def test_how_far_in_advance_is_answered_by_the_span_ahead() -> None:
    answer = await ask("how far in advance do i need to cancel an appointment", POLICIES)

    assert answer.startswith("Please cancel or move an appointment at least 24 hours ahead.")


async def test_do_you_charge_for_is_answered_by_what_it_costs_even_when_free() -> None:
    answer = await ask("do you charge for the stitch check visit?", POLICIES)

    assert answer == "The stitch check is free and is booked 10 to 14 days after surgery. [1]"


async def test_a_row_answers_whether_it_includes_something() -> None:
    answer = await ask("does the Team plan include SSO?", PLANS)

    assert "Team costs $9" in answer and "sso: no" in answer


async def test_a_word_that_only_says_different_kinds_does_not_block_an_answer() -> None:
    schedules = passage(
        3,
        format_content(
            "FAQ", 4, "How many pay schedules can I have?\nUp to 3 pay schedules per company."
        ),
        similarity=0.55,
        title="FAQ",
    )

    answer = await ask("how many different pay schedules can i set up", schedules)

    assert not is_not_found(answer) and "Up to 3" in answer


DELIVERY = passage(
    5,
    format_content(
        "Handbook",
        2,
        "Delivery\nWe deliver orders over 40 euros within 10 km of the shop for a flat fee of 6 "
        "euros.",
    ),
    similarity=0.5,
    title="Handbook",
)


async def test_a_follow_up_answered_by_the_sentence_already_said_gets_the_phrase_it_asks() -> None:
    model = ExtractiveModel()
    first = await model.answer("Do you deliver?", [DELIVERY])
    second = await model.answer(
        "How much does it cost? Do you deliver?", [DELIVERY], first, "Do you deliver?"
    )

    assert first.startswith("We deliver orders over 40 euros")
    assert second == "…for a flat fee of 6 euros… [5]"


async def test_a_noun_is_read_as_its_verb_where_the_stemmer_keeps_them_apart() -> None:
    days = passage(
        6,
        format_content("Handbook", 3, "Deliveries run from Wednesday to Saturday, 9 am to 2 pm."),
        similarity=0.5,
        title="Handbook",
    )

    assert "Wednesday to Saturday" in await ask("On which days do you deliver?", days)
    assert answer_kind("on which days do you deliver?") == "weekday"


async def test_may_i_bring_a_dog_is_answered_by_dogs_being_welcome_and_a_cat_is_not() -> None:
    access = passage(
        7,
        format_content(
            "Parking and access",
            1,
            "Free customer parking is available behind the shop. The shop has step-free access. "
            "Dogs on a lead are welcome inside.",
        ),
        similarity=0.3,
        title="Parking and access",
    )

    assert await ask("Can I bring my dog?", access) == "Dogs on a lead are welcome inside. [7]"
    assert await ask("Are dogs allowed in the shop?", access) == (
        "Dogs on a lead are welcome inside. [7]"
    )
    assert is_not_found(await ask("can i bring my cat", access))


WEEK = passage(
    8,
    format_content(
        "FAQ",
        2,
        "Delivery\nYou can skip a week until the cutoff, 5 days before your delivery day.\n\n"
        "Do you deliver on weekends?\nNo, we do not deliver on Saturday or Sunday.\n\n"
        "Gift cards\nGift cards of $60, $100 and $150 are sold on our website.",
    ),
    title="FAQ",
)


async def test_which_days_is_answered_by_the_days_of_the_week_said_as_a_sentence() -> None:
    answer = await ask("which days do you deliver", WEEK)

    # The "No," answers the FAQ's own question, not this one; the sentence starts anew.
    assert answer == "We do not deliver on Saturday or Sunday. [8]"


async def test_what_amounts_asks_for_the_amounts() -> None:
    answer = await ask("what amounts do gift cards come in", WEEK)

    assert answer == "Gift cards of $60, $100 and $150 are sold on our website. [8]"


async def test_where_is_your_office_even_misspelt_asks_for_the_address() -> None:
    contact = passage(
        9,
        format_content(
            "Contact",
            1,
            "The office is open Monday to Friday from 9 am to 6 pm. Our office is at 4410 W "
            "Overland Road, Boise, ID 83705.",
        ),
        similarity=0.28,
        title="Contact",
    )

    assert answer_kind("where is your office") == "address"
    assert "4410 W Overland Road" in await ask("wher is your office", contact)


async def test_a_size_is_one_word_however_it_is_spaced() -> None:
    units = passage(
        10,
        format_content(
            "unit-prices",
            1,
            "unit: S-1010\nsize_feet: 10 x 10\nrent_usd_month: 119\n\n"
            "unit: S-1020\nsize_feet: 10 x 20\nrent_usd_month: 199",
        ),
        title="unit-prices",
    )

    assert words("a 10x10, a 10 x 20 or a 5×5") == ["a", "10x10", "a", "10x20", "or", "a", "5x5"]
    assert (await ask("how much is a 10x10", units)).startswith("S-1010 costs $119 a month")


async def test_asked_how_the_sentence_that_says_what_to_do_comes_first() -> None:
    cancelling = passage(
        11,
        format_content(
            "FAQ",
            3,
            "Cancelling\nYou can cancel your subscription right after your first box. "
            "Cancel your subscription online at any time under Settings > Plan.",
        ),
        title="FAQ",
    )

    answer = await ask("how do I cancel my subscription", cancelling)

    assert answer.startswith("Cancel your subscription online at any time under Settings > Plan.")
