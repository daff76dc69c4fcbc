"""Answers on small knowledge bases, where a business starts: one PDF, one text, three texts.

    python bench/small_kb.py

Builds three chatbots through the real pipeline (a three-page owner's guide as a PDF, a one-item
handbook, a shop's three short texts), asks each labelled questions through the chat service with
the offline ``extractive`` model, and prints how many answerable questions were answered and how
many others were answered "not found", with every miss. SQuAD (``chatforge eval answers``)
measures the same on a base of 900 paragraphs; this measures the first-run experience, where
keyword statistics over a handful of chunks say little.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.factories.chat import STORE_KNOWLEDGE
from tests.factories.files import make_pdf

from chatforge.providers.chat import NOT_FOUND_ANSWER
from chatforge.services.accounts import keys
from chatforge.services.chat.service import ChatService, Incoming, IncomingMessage
from chatforge.services.chatbots.service import ChatbotService
from chatforge.services.context import AppContext
from chatforge.services.knowledge.service import KnowledgeService, Upload
from chatforge.services.knowledge.worker import Worker
from chatforge.settings import Settings
from chatforge.storage import migrate

GUIDE = [
    "Aurora Smart Kettle AK-200 Owner's Guide\n\nThank you for buying the Aurora Smart Kettle "
    "AK-200 from Lumenbrook Appliances. This guide covers the warranty, returns, shipping and "
    "care of your kettle.\n\nWarranty\n\nThe Aurora Smart Kettle AK-200 is covered by a limited "
    "warranty of 3 years from the date of purchase. The warranty covers defects in materials and "
    "workmanship, including the heating element, the temperature sensor and the Wi-Fi module. "
    "The warranty does not cover limescale damage, cracked glass caused by dropping the kettle, "
    "or use with liquids other than water. Registering your kettle in the Lumenbrook app within "
    "60 days extends the warranty by one additional year, to 4 years in total.",
    "Returns\n\nYou can return an unused kettle within 45 days of delivery for a full refund. "
    "Opened kettles can be returned within 30 days, with a 10 percent restocking fee. Refunds "
    "are issued to the original payment method within 7 business days after the returned kettle "
    "reaches our warehouse in Reno, Nevada.\n\nShipping\n\nStandard shipping is free on all "
    "orders over 50 dollars and takes 3 to 5 business days. Express shipping costs 14 dollars "
    "and delivers in 1 to 2 business days. We ship to the United States and Canada only; orders "
    "to Canada take 7 to 10 business days and may incur import duties.",
    "Care instructions\n\nDescale the kettle every 4 weeks with a mixture of equal parts white "
    "vinegar and water: fill to the MAX line, boil, let it stand for 20 minutes, then rinse "
    "twice with clean water. Never immerse the base in water and never put the kettle in the "
    "dishwasher. The mesh filter in the spout can be removed and rinsed under the tap once a week.",
]
HANDBOOK = [
    {
        "type": "text",
        "title": "Kettle Handbook",
        "content": (
            "Returns: you can return the kettle within 30 days of purchase for a full refund, if "
            "you keep the receipt. Warranty: the kettle is covered by a two-year warranty against "
            "manufacturing defects. Cleaning: descale the kettle once a month with white vinegar "
            "and rinse it twice."
        ),
    }
]
# (question, whether the knowledge answers it)
QUESTIONS: dict[str, list[tuple[str, bool]]] = {
    "guide (PDF, 3 pages)": [
        ("How long is the warranty on the kettle?", True),
        ("What is the return policy?", True),
        ("How often should I descale it and with what?", True),
        ("Can I return a product?", True),
        ("Do you ship to Canada?", True),
        ("How much does express shipping cost?", True),
        ("Can I put the kettle in the dishwasher?", True),
        ("How long does a refund take?", True),
        ("What is the capacity of the kettle in liters?", False),
        ("Do you have a store in Berlin?", False),
        ("What is the price of a Tesla Model 3?", False),
        ("Do you sell replacement glass lids?", False),
        ("Who is the CEO of the company?", False),
        ("Does the kettle work with Alexa?", False),
    ],
    "handbook (1 text)": [
        ("How long is the warranty?", True),
        ("Can I return the kettle?", True),
        ("How do I clean the kettle?", True),
        ("What is the refund policy?", True),
        ("What does the warranty cover?", True),
        ("Is the kettle dishwasher safe?", False),
        ("What is the capital of France?", False),
        ("How do I reset my router password?", False),
        ("Do you sell coffee machines?", False),
    ],
    "shop (3 texts)": [
        ("How many days do I have to return a product?", True),
        ("When is the store open?", True),
        ("How much does shipping cost?", True),
        ("What is your refund policy?", True),
        ("Is the store open on Sunday?", True),
        ("Who won the football world cup in 1998?", False),
        ("Do you sell gift cards?", False),
        ("Can I pay with bitcoin?", False),
        ("Where is your warehouse located?", False),
    ],
}


def build(name: str) -> tuple[AppContext, str, str]:
    """A fresh database with one extractive chatbot holding the named knowledge, indexed."""
    data_dir = Path(tempfile.mkdtemp(prefix="cf-small-"))
    ctx = AppContext.build(Settings(data_dir=data_dir, ingestion={"worker": False}))
    migrate.upgrade(ctx.db.engine)
    ctx.ensure_search_index()
    with ctx.db.sessions() as session:
        org_id = keys.create_key(session, "bench").organization_id
        chatbot = ChatbotService(ctx, session, org_id).create(
            {"name": name, "settings": {"model": "extractive"}}
        )
        knowledge = KnowledgeService(ctx, session, org_id)
        if name.startswith("guide"):
            pdf = make_pdf(data_dir / "aurora_kettle_guide.pdf", GUIDE)
            knowledge.add_files(chatbot.id, [Upload(filename=pdf.name, path=pdf)])
        else:
            knowledge.add_sources(
                chatbot.id, HANDBOOK if name.startswith("hand") else STORE_KNOWLEDGE
            )
        chatbot_id = chatbot.id
    worker = Worker(ctx)
    while worker.run_once():
        pass
    return ctx, org_id, chatbot_id


async def main() -> None:
    answered = answerable = abstained = unanswerable = 0
    for name, questions in QUESTIONS.items():
        ctx, org_id, chatbot_id = build(name)
        chat = ChatService(ctx, org_id)
        for question, known in questions:
            reply = await chat.answer(
                chatbot_id, [IncomingMessage("user", question)], Incoming(chatbot_id, "bench", None)
            )
            found = (reply.response or "").strip() != NOT_FOUND_ANSWER
            answerable += known
            answered += known and found
            unanswerable += not known
            abstained += not known and not found
            if found != known:
                best = max((s.similarity for s in reply.sources), default=0.0)
                print(f"  miss [{name}] {question!r} -> {reply.response!r} (best {best:.2f})")
        ctx.close()
        shutil.rmtree(ctx.settings.data_dir, ignore_errors=True)
    print(f"answered {answered}/{answerable} answerable questions")
    print(f"answered 'not found' to {abstained}/{unanswerable} questions it does not answer")


if __name__ == "__main__":
    asyncio.run(main())
