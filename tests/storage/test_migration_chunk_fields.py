"""Revision 0008 fills the new ``heading`` and ``body`` columns of chunks stored in the old form,
and goes down again without losing them, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import BigInteger, Engine, LargeBinary, column, insert, select, table, text
from sqlalchemy.orm import Session

from chatforge.storage import migrate
from chatforge.storage.db import create_db_engine
from chatforge.storage.models import Chatbot, Chunk, KnowledgeItem, Organization

#: ``chunks`` as revision 0007 has it (the model has more columns, with defaults).
OLD_CHUNKS = table(
    "chunks",
    *(column(name) for name in ("item_id", "chatbot_id", "chunk_index", "title", "content")),
    column("id", BigInteger),
    column("tokens"),
    column("embedding", LargeBinary),
)
TEXT_BODY = "Opening hours\nThe shop opens at nine.\n\nIt closes at six."
OLD_TEXT = f"Title: Shop guide\nChunk: 2\n\nContent:\n{TEXT_BODY}"
OLD_QNA = (
    "Title: Do you deliver on Sundays?\nChunk: 1\n\n"
    "Question: Do you deliver on Sundays?\n\nAnswer: Yes, until noon.\n\nNot on holidays."
)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of its own."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fields.db'}"
    else:
        base: str = request.getfixturevalue("postgres_url")
        admin = create_db_engine(base)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("DROP DATABASE IF EXISTS chatforge_fields"))
            conn.execute(text("CREATE DATABASE chatforge_fields"))
        admin.dispose()
        url = base.replace("/chatforge_test?", "/chatforge_fields?")
    made = create_db_engine(url)
    yield made
    made.dispose()


def _migrate(engine: Engine, verb: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, verb)(config, revision)


def _old_chunks(engine: Engine) -> dict[str, int]:
    """A text chunk and a Q&A pair as revision 0007 stored them; their ids by kind."""
    with Session(engine) as session:
        org = Organization(name="Acme")
        session.add(org)
        session.flush()
        bot = Chatbot(organization_id=org.id, name="Shop", slug="shop")
        session.add(bot)
        session.flush()
        ids = {}
        for kind, title, content in (
            ("text", "Shop guide", OLD_TEXT),
            ("qna", "Do you deliver on Sundays?", OLD_QNA),
        ):
            item = KnowledgeItem(
                chatbot_id=bot.id, type=kind, title=title, source="", content_hash=kind
            )
            session.add(item)
            session.flush()
            ids[kind] = session.execute(
                insert(OLD_CHUNKS)
                .values(
                    item_id=item.id, chatbot_id=bot.id, chunk_index=1, title=title,
                    content=content, tokens=0, embedding=b"",
                )
                .returning(OLD_CHUNKS.c.id)
            ).scalar_one()  # fmt: skip
        session.commit()
    return ids


def test_old_chunks_get_their_body_and_no_heading(engine: Engine) -> None:
    _migrate(engine, "upgrade", "0007")
    ids = _old_chunks(engine)

    _migrate(engine, "upgrade", "head")

    with Session(engine) as session:
        stored = {c.id: c for c in session.scalars(select(Chunk))}
    qna, old = stored[ids["qna"]], stored[ids["text"]]
    assert (old.heading, old.body, old.content) == (None, TEXT_BODY, OLD_TEXT)
    # A Q&A pair's body is its answer, all of it; the question stays its title.
    assert (qna.title, qna.heading, qna.body, qna.content) == (
        "Do you deliver on Sundays?",
        None,
        "Yes, until noon.\n\nNot on holidays.",
        OLD_QNA,
    )


def test_going_down_keeps_the_chunks_in_their_old_form(engine: Engine) -> None:
    _migrate(engine, "upgrade", "0007")
    ids = _old_chunks(engine)
    _migrate(engine, "upgrade", "head")

    _migrate(engine, "downgrade", "0007")

    with engine.connect() as conn:
        columns = list(conn.execute(text("SELECT * FROM chunks")).keys())
        contents = {r.id: r.content for r in conn.execute(text("SELECT id, content FROM chunks"))}
    assert "body" not in columns and "heading" not in columns
    assert contents == {ids["text"]: OLD_TEXT, ids["qna"]: OLD_QNA}
