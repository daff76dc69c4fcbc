"""A chunk's title, heading and body are stored as fields, and retrieval hands them on to the
chat model; ``content`` stays okchat's form, built from them. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from tests.factories.files import make_markdown
from tests.factories.knowledge import add, chunks_of, keyword_hits, upload

from chatforge.rag.chunking import format_content
from chatforge.services.context import AppContext
from chatforge.services.search.retrieval import Retriever
from chatforge.storage.models import Chunk
from chatforge.storage.search_index import bump_versions

pytestmark = pytest.mark.usefixtures("reuse_embedder")


def test_a_files_chunks_keep_their_section_heading_and_body(
    api: TestClient,
    ctx: AppContext,
    create_chatbot: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    chatbot = create_chatbot()
    guide = make_markdown(
        tmp_path / "guide.md",
        [
            ("Opening hours", ["The shop opens at nine and closes at six."]),
            ("Parking", ["Customers park for free behind the shop."]),
        ],
        title="Shop guide",
    )

    (item,) = upload(api, chatbot["id"], guide)

    chunks = chunks_of(ctx, item["id"])
    assert [(c.heading, c.body) for c in chunks] == [
        ("Opening hours", "Opening hours\nThe shop opens at nine and closes at six."),
        ("Parking", "Parking\nCustomers park for free behind the shop."),
    ]
    # The okchat form is built from the fields, unchanged.
    assert [c.content for c in chunks] == [
        format_content(c.title, c.chunk_index, c.body) for c in chunks
    ]


def test_a_text_item_is_its_body_under_no_heading(
    api: TestClient, ctx: AppContext, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    chatbot = create_chatbot()
    text = "The museum opens at nine and closes at five on weekdays."

    (item,) = add(api, chatbot["id"], {"type": "text", "title": "Visiting", "content": text})

    (chunk,) = chunks_of(ctx, item["id"])
    assert (chunk.title, chunk.heading, chunk.body) == ("Visiting", None, text)
    assert chunk.content == f"Title: Visiting\nChunk: 1\n\nContent:\n{text}"


def test_a_qna_pair_is_its_question_as_title_and_its_answer_as_body(
    api: TestClient, ctx: AppContext, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    chatbot = create_chatbot()
    qna = {
        "type": "qna",
        "question": "Do you deliver on Sundays?",
        "answer": "Yes, within the city ring, until noon.",
    }

    (item,) = add(api, chatbot["id"], qna)

    (chunk,) = chunks_of(ctx, item["id"])
    assert (chunk.title, chunk.heading, chunk.body) == (
        "Do you deliver on Sundays?",
        None,
        "Yes, within the city ring, until noon.",
    )
    assert chunk.content == (
        "Title: Do you deliver on Sundays?\nChunk: 1\n\n"
        "Question: Do you deliver on Sundays?\n\nAnswer: Yes, within the city ring, until noon."
    )


def test_retrieval_hands_the_fields_to_the_chat_model(
    api: TestClient, ctx: AppContext, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    chatbot = create_chatbot()
    add(
        api,
        chatbot["id"],
        {"type": "qna", "question": "Do you deliver on Sundays?", "answer": "Yes, until noon."},
        {"type": "text", "title": "Parking", "content": "Customers park for free behind it."},
    )

    retriever = Retriever(ctx.db, ctx.models)
    (pair,) = retriever.search(chatbot["id"], "deliver sundays", limit=1)
    (text,) = retriever.search(chatbot["id"], "park for free", limit=1)

    passage = pair.passage(1)
    assert (passage.title, passage.body, passage.qna) == (
        "Do you deliver on Sundays?",
        "Yes, until noon.",
        True,
    )
    assert passage.content == pair.content and passage.content.endswith("Answer: Yes, until noon.")
    passage = text.passage(2)
    assert (passage.ref, passage.heading, passage.body, passage.qna) == (
        2,
        None,
        "Customers park for free behind it.",
        False,
    )


def test_a_chunk_stored_without_its_terms_is_searched_by_its_fields(
    api: TestClient, ctx: AppContext, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    chatbot = create_chatbot()
    (pair, text) = add(
        api,
        chatbot["id"],
        {"type": "qna", "question": "Do you deliver on Sundays?", "answer": "Yes, until noon."},
        {"type": "text", "title": "Parking", "content": "Customers park for free behind it."},
    )
    # As chunks indexed before their analysed terms were stored: read from title and body.
    with ctx.db.engine.begin() as conn:
        conn.execute(update(Chunk).values(terms=None))
        bump_versions(conn, [chatbot["id"]])
    ids = {item["id"]: chunks_of(ctx, item["id"])[0].id for item in (pair, text)}

    # A Q&A pair is found by its question's words as well as by its answer's.
    assert keyword_hits(ctx, chatbot["id"], "deliver sundays")[:1] == [ids[pair["id"]]]
    assert keyword_hits(ctx, chatbot["id"], "until noon")[:1] == [ids[pair["id"]]]
    assert keyword_hits(ctx, chatbot["id"], "park free")[:1] == [ids[text["id"]]]
    # Never by okchat's header words, which are no text of the knowledge.
    assert keyword_hits(ctx, chatbot["id"], "chunk content") == []
