"""The extractive model on a support team's knowledge: the answer rules of issue 16.

Each test builds the few chunks it needs in the stored form (okchat's header, Q&A pairs,
``header: value`` records, pipe tables) and asks as a customer would.
"""

from __future__ import annotations

from pathlib import Path

from tests.factories.files import make_pdf
from tests.providers.chat.helpers import passage, request

from chatforge.providers.chat import NOT_FOUND_ANSWER, ChatMessage, ExtractiveModel, complete
from chatforge.providers.chat.base import ChatRequest, Passage
from chatforge.providers.chat.extractive import is_not_found
from chatforge.rag import FileKind, chunk_document, parse_file
from chatforge.rag.chunking import format_content, qna_chunk

ERRORS = passage(
    1,
    format_content(
        "error-codes",
        1,
        "code: E03\nproblem: Speed sensor signal lost\nwhat_to_do: Check the spoke magnet.\n\n"
        "code: E07\nproblem: Controller communication error\nwhat_to_do: Check that the "
        "display cable is plugged in.",
    ),
    similarity=0.6,
    title="error-codes",
)
PRICES = passage(
    2,
    format_content(
        "prices",
        1,
        "model: Trailblazer 29\nsku: RB-TB29\nprice_usd: 1649\nin_stock: yes\n\n"
        "model: Commuter 7\nsku: RB-CM7\nprice_usd: 749\nin_stock: no",
    ),
    similarity=0.6,
    title="prices",
)
MANUAL = passage(
    3,
    format_content(
        "manual",
        2,
        "How do I reset the display?\n1. Turn the bike off.\n\n2. Hold the M and minus buttons "
        "together for 10 seconds.\n\n3. Release the buttons when the display shows RESET.",
    ),
    similarity=0.6,
    title="manual",
)
GIFT_CARDS = passage(
    4,
    qna_chunk(
        "Do you sell gift cards?", "Yes. Gift cards from $25 to $500 are sold in store."
    ).content,
    similarity=0.5,
    title="Do you sell gift cards?",
)
SHIPPING = passage(
    5,
    format_content(
        "policy",
        1,
        "Shipping\nStandard shipping within the US costs $79 and takes 5 to 7 business days.",
    ),
    similarity=0.6,
    title="policy",
)


async def ask(question: str, *passages: Passage, **options: object) -> str:
    model = ExtractiveModel(**options)  # type: ignore[arg-type]
    return (await complete(model, request(question, passages=passages))).text


async def test_a_question_about_one_code_is_never_answered_with_another() -> None:
    answer = await ask("Error E07, what to do?", ERRORS)

    assert "display cable" in answer and "spoke magnet" not in answer
    assert await ask("Error E11, what to do?", ERRORS) == NOT_FOUND_ANSWER


async def test_a_code_does_not_answer_for_a_thing_the_knowledge_never_names() -> None:
    assert "display cable" in await ask("what does E07 mean", ERRORS)
    assert await ask("can I fit a handlebar bag to my E07", ERRORS) == NOT_FOUND_ANSWER


async def test_a_model_number_must_match() -> None:
    assert "$1,649" in await ask("Trailblazer 29 price?", PRICES)
    assert await ask("How much is the Trailblazer 24?", PRICES) == NOT_FOUND_ANSWER


async def test_a_code_inside_the_question_is_not_taken_for_a_name() -> None:
    table = passage(
        1,
        format_content("errors", 1, "| Code | Fix |\n|---|---|\n| TL-403 | Ask an admin. |"),
        title="errors",
    )

    assert "Ask an admin" in await ask("getting TL-403 on a project", table)


async def test_a_sku_written_with_or_without_its_hyphen_names_the_same_row() -> None:
    assert "Commuter 7" in await ask("what is rbcm7?", PRICES)


async def test_a_row_is_said_as_a_sentence_built_from_its_column_names() -> None:
    answer = await ask("how much is the commuter 7", PRICES)

    assert answer == "Commuter 7 costs $749; sku: RB-CM7; in stock: no. [2]"
    assert "price_usd" not in answer


async def test_every_money_column_of_a_row_is_said_as_an_amount_with_its_period() -> None:
    plans = passage(
        1,
        format_content(
            "plans",
            1,
            "plan: Starter\nbase_usd_month: 40\nper_person_usd_month: 6\n\n"
            "plan: Core\nbase_usd_month: 80\nper_person_usd_month: 8\nphone_support: no",
        ),
        title="plans",
    )

    answer = await ask("how much is the core plan", plans)

    assert answer == "Core costs $80 a month (base); per person: $8 a month; phone support: no. [1]"


async def test_a_pipe_table_row_is_said_as_a_sentence() -> None:
    table = passage(
        1,
        format_content(
            "errors",
            1,
            "| Code | Message | Fix |\n|---|---|---|\n| TL-401 | Session expired | Sign in "
            "again. |\n| TL-429 | Too many requests | Wait a minute and retry. |",
        ),
        title="errors",
    )

    answer = await ask("TL-429?", table)

    assert answer == "TL-429; message: Too many requests; fix: Wait a minute and retry. [1]"


async def test_how_do_i_gets_the_steps_under_the_heading_never_the_heading_alone() -> None:
    answer = await ask("Reset the display, how do I do it?", MANUAL, SHIPPING)

    assert "How do I reset the display?" not in answer
    assert answer == (
        "1. Turn the bike off. 2. Hold the M and minus buttons together for 10 seconds. "
        "3. Release the buttons when the display shows RESET. [3]"
    )


async def test_a_qna_pair_does_not_answer_a_question_that_only_shares_a_word() -> None:
    assert await ask("Do you sell helmets?", GIFT_CARDS) == NOT_FOUND_ANSWER


async def test_a_bare_yes_is_said_with_the_fact_it_rests_on() -> None:
    answer = await ask("Do you have gift cards?", GIFT_CARDS)

    assert answer == "Yes. Gift cards from $25 to $500 are sold in store. [4]"


async def test_yes_is_left_out_where_the_question_asks_no_yes_or_no() -> None:
    answer = await ask("What gift cards are there?", GIFT_CARDS)

    assert answer == "Gift cards from $25 to $500 are sold in store. [4]"


async def test_a_place_the_knowledge_never_names_is_not_answered() -> None:
    store = passage(
        1, format_content("contact", 1, "Our store is at 412 Alder Street, Portland."), 0.6
    )

    assert "Alder" in await ask("Where is your store?", store)
    assert await ask("Do you have a store in Seattle?", store) == NOT_FOUND_ANSWER


async def test_a_mistyped_word_is_read_as_the_word_it_is_closest_to() -> None:
    faq = passage(
        1, format_content("faq", 1, "We offer financing through Affirm for 12 months."), 0.6
    )

    assert "Affirm" in await ask("do you offer finacing?", faq)


async def test_a_negative_fact_answers() -> None:
    faq = passage(
        1,
        format_content("faq", 6, "Do you rent bikes?\nNo, we do not rent bikes. We only sell."),
        0.6,
    )

    assert "we do not rent bikes" in await ask("can I rent a bike?", faq)


async def test_a_passage_retrieval_is_unsure_of_needs_nearly_all_the_questions_words() -> None:
    weak = passage(1, SHIPPING.content, similarity=0.35, title="policy")

    assert "$79" in await ask("shipping cost within the US?", weak)
    assert await ask("shipping insurance cost?", weak) == NOT_FOUND_ANSWER


async def test_a_follow_up_never_repeats_the_previous_answer_verbatim() -> None:
    model = ExtractiveModel()
    first = await model.answer("How much is standard shipping?", [SHIPPING])
    follow_up = ChatRequest(
        messages=(
            ChatMessage("user", "How much is standard shipping?"),
            ChatMessage("assistant", first),
            ChatMessage("user", "How long does it take?"),
        ),
        question="How long does it take? How much is standard shipping?",
        passages=(SHIPPING,),
    )

    second = (await complete(model, follow_up)).text

    assert "$79" in first
    assert second != first and "5 to 7 business days" in second and "$79" not in second


def test_the_not_found_reply_is_recognised_with_what_follows_it() -> None:
    assert is_not_found(f"{NOT_FOUND_ANSWER} You can ask me, for example: “Gift cards?”")
    assert not is_not_found("Gift cards from $25. [1]")


async def test_a_pdf_pages_heading_is_not_quoted_with_the_sentence_under_it(
    tmp_path: Path,
) -> None:
    pdf = make_pdf(
        tmp_path / "policy.pdf",
        [
            "Returns\n\nItems can be returned within 30 days of delivery for a full refund.",
            "Loyalty program\n\nEvery dollar you spend earns one point. Points never expire.",
        ],
    )
    document = parse_file(pdf, FileKind.PDF)
    chunks = chunk_document(document, title="Policy", count_tokens=lambda t: len(t.split()))
    passages = [passage(c.index, c.content, title="Policy") for c in chunks]
    model = ExtractiveModel()

    returns = await model.answer("How long do I have to return an item?", passages)
    points = await model.answer("Do loyalty points expire?", passages)

    assert returns == "Items can be returned within 30 days of delivery for a full refund. [1]"
    assert points == "Points never expire. [2]"


async def test_a_price_list_of_name_and_amount_lines_answers_a_line_not_the_list() -> None:
    prices = passage(
        1,
        format_content(
            "prices",
            1,
            "Bakery price list\n\nSourdough loaf: 4.50 euros\nBaguette: 2.20 euros\n"
            "Croissant: 1.80 euros\nFlat white coffee: 3.20 euros",
        ),
        title="prices",
    )

    assert await ask("How much is a baguette?", prices) == "Baguette: 2.20 euros. [1]"
    assert await ask("price of a flat white", prices) == "Flat white coffee: 3.20 euros. [1]"
