"""``chatforge ingest``, ``chatforge worker`` and ``chatforge chatbots list`` on a real database.

Files are real (reportlab PDFs, python-docx documents), the embedder is the real local model, and
every test runs on SQLite and on PostgreSQL with pgvector.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from tests.factories.files import LOREM, make_docx, make_pdf, make_png, make_text
from typer.testing import CliRunner, Result

from chatforge.cli import app
from chatforge.services.accounts import keys
from chatforge.services.chatbots.service import ChatbotService
from chatforge.services.context import AppContext
from chatforge.settings import Settings
from chatforge.storage.models import Chunk, Job, KnowledgeItem

PAGE = "Refunds are paid within fourteen days of a request. " + LOREM * 3


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """The environment a user's shell would hold: the data directory and the database."""
    return {"CHATFORGE_DATA_DIR": str(tmp_path / "data"), "CHATFORGE_DATABASE_URL": database_url}


@pytest.fixture
def ctx(env: dict[str, str]) -> Iterator[AppContext]:
    """A context on the same database as the commands, to check what they wrote."""
    settings = Settings(
        _env_file=None,
        data_dir=Path(env["CHATFORGE_DATA_DIR"]),
        database_url=env["CHATFORGE_DATABASE_URL"],
    )
    context = AppContext.build(settings)
    yield context
    context.close()


@pytest.fixture
def chatbot_id(ctx: AppContext) -> str:
    """A chatbot of organization "acme", made through the service as the API would."""
    with ctx.db.sessions() as session:
        org = keys.get_or_create_organization(session, "acme")
        session.commit()
        return ChatbotService(ctx, session, org.id).create({"name": "Handbook"}).id


def ingest(env: dict[str, str], *args: str | Path) -> Result:
    return CliRunner().invoke(app, ["ingest", *map(str, args)], env=env)


def summary_number(result: Result, label: str) -> int:
    match = re.search(rf"^{label}:\s+(\d+)", result.stdout, re.MULTILINE)
    assert match, result.output
    return int(match.group(1))


def index_rows(ctx: AppContext) -> tuple[int, int]:
    """Rows in the keyword index and in the vector index."""
    keyword = "chunks_fts" if ctx.db.engine.dialect.name == "sqlite" else "chunk_terms"
    with ctx.db.engine.connect() as conn:
        terms = conn.execute(text(f"SELECT count(*) FROM {keyword}")).scalar_one()
        vectors = conn.execute(text("SELECT count(*) FROM chunk_vectors")).scalar_one()
    return int(terms), int(vectors)


def items_by_source(ctx: AppContext) -> dict[str, KnowledgeItem]:
    with ctx.db.sessions() as session:
        return {i.source: i for i in session.scalars(select(KnowledgeItem))}


def test_ingest_indexes_a_folder_of_pdfs_and_word_files(
    tmp_path: Path, env: dict[str, str], ctx: AppContext, chatbot_id: str
) -> None:
    docs = tmp_path / "handbook"
    (docs / "policies" / "2024").mkdir(parents=True)
    (docs / ".git").mkdir()
    make_pdf(docs / "refunds.pdf", [PAGE, "Shipping takes three days. " + LOREM * 2])
    make_docx(docs / "policies" / "leave.docx", [("Leave", ["Staff get 25 days. " + LOREM])])
    make_docx(docs / "policies" / "2024" / "travel.docx", [("Travel", ["Book by rail. " + LOREM])])
    make_png(docs / "logo.pdf")  # named as a PDF, but an image: skipped, not fatal
    make_text(docs / ".notes.txt", ["Hidden files are left out."])
    make_text(docs / ".git" / "HEAD.txt", ["So are hidden folders."])

    result = ingest(env, chatbot_id, docs)

    assert result.exit_code == 0, result.output
    assert summary_number(result, "Items") == 3
    assert summary_number(result, "Ready") == 3
    assert summary_number(result, "Failed") == 0
    assert summary_number(result, "Skipped") == 1
    assert re.search(r"handbook/logo.pdf: Unsupported file type", result.stdout)
    assert re.search(r"Time:\s+[\d.]+ s \([\d.]+ items/s\)", result.stdout)

    items = items_by_source(ctx)
    assert set(items) == {
        "handbook/refunds.pdf",
        "handbook/policies/leave.docx",
        "handbook/policies/2024/travel.docx",
    }
    assert all(i.status == "ready" and i.chunks > 0 for i in items.values())
    assert items["handbook/refunds.pdf"].meta["pages"] == 2
    assert {"parse_ms", "chunk_ms", "embed_ms", "index_ms"} <= set(
        items["handbook/refunds.pdf"].meta
    )
    with ctx.db.sessions() as session:
        chunks = session.scalar(select(func.count()).select_from(Chunk))
    assert chunks == summary_number(result, "Chunks") == sum(i.chunks for i in items.values())
    assert index_rows(ctx) == (chunks, chunks)


def test_a_corrupt_pdf_is_reported_failed_and_the_exit_code_is_1(
    tmp_path: Path, env: dict[str, str], ctx: AppContext, chatbot_id: str
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> trailing garbage")
    make_text(docs / "faq.txt", ["Opening hours are nine to five.", LOREM])

    result = ingest(env, chatbot_id, docs)

    assert result.exit_code == 1, result.output
    assert summary_number(result, "Items") == 2
    assert summary_number(result, "Ready") == 1
    assert summary_number(result, "Failed") == 1
    assert re.search(r"^  docs/broken.pdf: The PDF could not be read", result.stdout, re.M)
    assert items_by_source(ctx)["docs/broken.pdf"].status == "failed"
    assert index_rows(ctx) == (summary_number(result, "Chunks"),) * 2


def test_files_ingested_twice_are_stored_and_indexed_once(
    tmp_path: Path, env: dict[str, str], ctx: AppContext, chatbot_id: str
) -> None:
    first = make_pdf(tmp_path / "guide.pdf", [PAGE])
    copy = tmp_path / "again"
    copy.mkdir()
    (copy / "guide-copy.pdf").write_bytes(first.read_bytes())

    once = ingest(env, chatbot_id, first)
    twice = ingest(env, chatbot_id, first, copy)

    assert once.exit_code == twice.exit_code == 0, twice.output
    assert "(0 new, 1 already in the knowledge base)" in twice.stdout
    assert summary_number(twice, "Chunks") == summary_number(once, "Chunks")
    assert list(items_by_source(ctx)) == ["guide.pdf"]
    assert first.exists(), "the user's file must be copied, never moved"


def test_a_folder_with_a_known_file_and_a_new_one_indexes_the_new_one(
    tmp_path: Path, env: dict[str, str], ctx: AppContext, chatbot_id: str
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    known = make_pdf(docs / "guide.pdf", [PAGE])
    assert ingest(env, chatbot_id, known).exit_code == 0
    make_text(docs / "faq.txt", ["Opening hours are nine to five.", LOREM])

    result = ingest(env, chatbot_id, docs)

    assert result.exit_code == 0, result.output
    assert "(1 new, 1 already in the knowledge base)" in result.stdout
    assert summary_number(result, "Ready") == 2
    assert "Pending" not in result.stdout  # indexed in this run, not left to wait on a lock
    assert items_by_source(ctx)["docs/faq.txt"].status == "ready"


def test_unknown_chatbot_is_a_usage_error(
    tmp_path: Path, env: dict[str, str], chatbot_id: str
) -> None:
    file = make_text(tmp_path / "a.txt", ["Some text."])

    result = ingest(env, "00000000-0000-0000-0000-000000000000", file)

    assert result.exit_code == 2
    assert "Chatbot 00000000-0000-0000-0000-000000000000 not found" in result.output
    assert "chatforge chatbots list" in result.output


def test_commands_that_read_refuse_a_folder_without_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    file = make_text(tmp_path / "a.txt", ["Some text."])
    env: dict[str, str | None] = {"CHATFORGE_DATA_DIR": None, "CHATFORGE_DATABASE_URL": None}

    for command in (["chatbots", "list"], ["keys", "list"], ["ingest", "some-id", str(file)]):
        result = CliRunner().invoke(app, command, env=env)

        assert result.exit_code == 1, (command, result.output)
        assert f"No Chatforge database at {elsewhere / 'data' / 'chatforge.db'}" in result.output
        assert "CHATFORGE_DATA_DIR" in result.output
    assert list(elsewhere.iterdir()) == []  # nothing was made


def test_missing_path_is_a_usage_error(
    tmp_path: Path, env: dict[str, str], chatbot_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = ingest(env, chatbot_id, "nowhere")

    assert result.exit_code == 2
    assert "'nowhere' does not exist" in result.output


def test_chatbots_list_shows_ids_organizations_and_item_counts(
    tmp_path: Path, env: dict[str, str], ctx: AppContext, chatbot_id: str
) -> None:
    with ctx.db.sessions() as session:
        other = keys.get_or_create_organization(session, "globex")
        session.commit()
        ChatbotService(ctx, session, other.id).create({"name": "Sales"})
    ingest(env, chatbot_id, make_text(tmp_path / "a.txt", ["Some text."]), "--no-wait")

    result = CliRunner().invoke(app, ["chatbots", "list"], env=env)

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert re.search(rf"^{chatbot_id}\s+Handbook\s+acme\s+1$", result.stdout, re.M), lines
    assert re.search(r"\s+Sales\s+globex\s+0$", result.stdout, re.M), lines


@pytest.mark.slow  # starts chatforge processes
def test_worker_indexes_a_queued_item_and_stops_on_sigterm(
    tmp_path: Path, env: dict[str, str], ctx: AppContext, chatbot_id: str
) -> None:
    queued = ingest(env, chatbot_id, make_pdf(tmp_path / "queued.pdf", [PAGE]), "--no-wait")
    assert queued.exit_code == 0, queued.output
    assert "Pending: 1" in queued.stdout

    process = subprocess.Popen(
        [sys.executable, "-m", "chatforge", "worker", "--concurrency", "2"],
        env={**os.environ, **env, "CHATFORGE_INGESTION__POLL_SECONDS": "0.2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while items_by_source(ctx)["queued.pdf"].status != "ready":
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "the worker did not index the item"
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 0, output
    assert re.search(r"ingested 1 items \(1 ready, 0 failed or retrying\), \d+ chunks", output)
    assert "all workers stopped" in output
    with ctx.db.sessions() as session:
        assert session.scalars(select(Job.status)).all() == ["done"]


@pytest.mark.parametrize("command", ["ingest", "worker", "chatbots"])
def test_help_describes_the_ingestion_commands(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])

    assert result.exit_code == 0
    assert "Usage" in result.stdout
