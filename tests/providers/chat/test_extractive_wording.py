"""The extractive model when a customer words a question otherwise than the knowledge does.

Contact questions ("what's your address?") are answered by the sentence holding an address,
phone number or email; customer words are read as the business's ("a longer warranty" and
"extends the warranty"); a product named in the question must be named where the answer is.
"""

from __future__ import annotations

from tests.providers.chat.helpers import passage, request

from chatforge.providers.chat import NOT_FOUND_ANSWER, ChatMessage, ExtractiveModel, complete
from chatforge.providers.chat.base import ChatRequest, Passage
from chatforge.rag.chunking import format_content, qna_chunk

CONTACT = passage(
    1,
    format_content(
        "Contact us",
        1,
        "Our shop is at 412 Alder Street, Portland, Oregon.\n\nPhone and email\n"
        "Email help@shop.example. We answer emails within one business day.",
    ),
    similarity=0.23,
    title="Contact us",
)
WARRANTY = passage(
    2,
    format_content(
        "Warranty",
        1,
        "Every machine has a 2-year warranty. Registering your machine online within 60 days "
        "extends the warranty to 3 years.",
    ),
    similarity=0.35,
    title="Warranty",
)
TANK = passage(
    3,
    format_content(
        "FAQ",
        1,
        "Is the water tank dishwasher safe?\nNo. The water tank of the Aria is not dishwasher "
        "safe; wash it by hand.\n\nWhich models do you sell?\nThe Aria and the Piccolo.",
    ),
    similarity=0.5,
    title="FAQ",
)


async def ask(question: str, *passages: Passage) -> str:
    return (await complete(ExtractiveModel(), request(question, passages=passages))).text


async def test_a_question_for_an_address_gets_the_sentence_holding_one() -> None:
    assert "412 Alder Street" in await ask("what's your address", CONTACT)
    assert "412 Alder Street" in await ask("where r u located", CONTACT)


async def test_a_question_for_an_email_gets_the_sentence_holding_one() -> None:
    assert "help@shop.example" in await ask("email address?", CONTACT)


async def test_a_question_for_a_phone_number_is_not_answered_by_an_email() -> None:
    assert await ask("Is there a phone number for support?", CONTACT) == NOT_FOUND_ANSWER


async def test_a_customer_word_is_read_as_the_business_word() -> None:
    assert "3 years" in await ask("can i get a longer warranty", WARRANTY)


async def test_a_word_the_knowledge_never_says_narrowing_a_weak_passage_abstains() -> None:
    assert await ask("warranty insurance years?", WARRANTY) == NOT_FOUND_ANSWER


async def test_a_product_named_is_answered_only_where_it_is_named() -> None:
    assert await ask("Is the Piccolo dishwasher safe?", TANK) == NOT_FOUND_ANSWER
    assert "not dishwasher safe" in await ask("Is the Aria's tank dishwasher safe?", TANK)


async def test_a_qna_pair_about_a_named_thing_never_answers_for_another() -> None:
    apple_pay = passage(
        4,
        qna_chunk("Can I pay with Apple Pay?", "Yes, we take Apple Pay at the front desk.").content,
        similarity=0.6,
        title="Can I pay with Apple Pay?",
    )

    assert await ask("can I pay by check?", apple_pay) == NOT_FOUND_ANSWER
    assert "Apple Pay" in await ask("can I pay with Apple Pay?", apple_pay)


async def test_asked_how_an_faq_answer_in_prose_is_said_whole() -> None:
    faq = passage(
        5,
        format_content(
            "FAQ",
            3,
            "Can I import from Trello?\nYes. Go to Settings, then Import, and pick Trello. "
            "Boards, lists, cards and attachments are imported.",
        ),
        similarity=0.7,
        title="FAQ",
    )

    answer = await ask("how do I import my trello boards", faq)

    assert "Go to Settings, then Import" in answer and "are imported" in answer


async def test_a_follow_up_asks_about_what_the_previous_answer_quoted() -> None:
    fees = passage(
        6,
        format_content(
            "fees",
            1,
            "treatment: Teeth whitening\nprice_usd: 450\nduration_min: 90\n\n"
            "treatment: Filling\nprice_usd: 150\nduration_min: 40",
        ),
        similarity=0.3,
        title="fees",
    )
    aftercare = passage(
        7,
        format_content(
            "Aftercare", 3, "After teeth whitening\nAvoid coffee for 48 hours after whitening."
        ),
        similarity=0.48,
        title="Aftercare",
    )
    model = ExtractiveModel()
    first = await model.answer("how much is teeth whitening?", [fees])
    follow_up = ChatRequest(
        messages=(
            ChatMessage("user", "how much is teeth whitening?"),
            ChatMessage("assistant", first),
            ChatMessage("user", "and how long does it take?"),
        ),
        question="and how long does it take? how much is teeth whitening?",
        passages=(aftercare, fees),
    )

    second = (await complete(model, follow_up)).text

    assert "$450" in first
    assert "90" in second and "$450" not in second and "coffee" not in second


async def test_a_yes_or_no_price_question_is_answered_by_the_amount() -> None:
    terms = passage(
        8,
        format_content(
            "Terms", 1, "Installation\nStandard installation is free and takes 2 hours."
        ),
        similarity=0.31,
        title="Terms",
    )

    assert "free" in await ask("does installation cost anything?", terms)


async def test_a_window_asks_for_a_time_span() -> None:
    returns = passage(
        9,
        format_content(
            "Returns",
            1,
            "Unused machines in the original packaging can be returned within 45 days for a "
            "full refund. Our team checks every returned machine.",
        ),
        similarity=0.27,
        title="Returns",
    )

    assert "45 days" in await ask("return window?", returns)


async def test_a_price_question_after_a_greeting_still_needs_an_amount() -> None:
    aria = passage(
        10,
        format_content(
            "Aria", 1, "The Aria has a single boiler. The Aria costs $549 in black or silver."
        ),
        similarity=0.6,
        title="Aria",
    )

    answer = await ask("Hi? how much is the Aria?", aria)

    assert "$549" in answer and "single boiler" not in answer
