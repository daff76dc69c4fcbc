"""Uploading knowledge files (API.md §2 row 12) on SQLite and PostgreSQL, from real files.

Each file is made by the library a user's tools would make it with, uploaded through the API,
and then looked for where retrieval looks: in the chunks table and the keyword index.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.factories.files import (
    LOREM,
    make_csv,
    make_docx,
    make_html,
    make_json,
    make_markdown,
    make_pdf,
    make_png,
    make_pptx,
    make_text,
    make_xlsx,
    make_zip_bomb_docx,
)
from tests.factories.knowledge import (
    chunks_of,
    found_text,
    items_in_db,
    listed,
    poll,
    post_files,
    stored_files,
    upload,
)

from chatforge.rag.filetypes import detect_kind
from chatforge.rag.parsers import parse_file
from chatforge.services.context import AppContext
from chatforge.settings import Settings

# The real local model, loaded once for all these tests (see conftest).
pytestmark = pytest.mark.usefixtures("reuse_embedder")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test's settings with a worker that looks for jobs every 0.05 s instead of 0.5 s.

    Tests here wait for the worker many times; production's idle poll would be most of their time.
    """
    ingestion = settings.ingestion.model_copy(update={"poll_seconds": 0.05})
    return settings.model_copy(update={"ingestion": ingestion})


STAGE_TIMINGS = ("parse_ms", "chunk_ms", "embed_ms", "index_ms")
CONTENT_FORM = re.compile(
    r"^Title: (?P<title>[^\n]*)\nChunk: (?P<n>\d+)\n\nContent:\n(?P<text>.+)$", re.S
)


def every_kind(folder: Path) -> dict[str, tuple[Path, str, str]]:
    """One real file of each accepted kind: ``kind -> (file, query, text its chunks must hold)``."""
    return {
        "pdf": (
            make_pdf(
                folder / "Travel guide.pdf",
                [
                    "The aurora observatory opens at dusk.\n\n" + LOREM,
                    "Ferries leave every hour in summer.\n\n" + LOREM,
                    "Glacier tours depart from the northern pier at seven.",
                ],
                title="Travel guide",
            ),
            "glacier tours pier",
            "Glacier tours depart from the northern pier at seven.",
        ),
        "docx": (
            make_docx(
                folder / "Handbook.docx",
                [
                    ("Refund policy", ["Refunds are issued within fourteen days of a claim."]),
                    ("Price list", ["Our plans are priced per seat."]),
                ],
                title="Customer handbook",
                table=[["Plan", "Price"], ["Platinum", "99 euros"]],
            ),
            "platinum",
            "Platinum",
        ),
        "pptx": (
            make_pptx(
                folder / "Roadmap.pptx",
                [
                    ("Quarterly roadmap", ["Launch the marmalade feature", "Hire two designers"]),
                    ("Risks", ["Supply of citrus fruit"]),
                ],
            ),
            "marmalade feature",
            "Launch the marmalade feature",
        ),
        "xlsx": (
            make_xlsx(
                folder / "Inventory.xlsx",
                {"Stock": [["Instrument", "Count"], ["Saxophone", 12], ["Clarinet", 4]]},
            ),
            "saxophone",
            "Saxophone",
        ),
        "html": (
            make_html(
                folder / "harbor.html",
                title="Harbor guide",
                sections=[("Lighthouse", ["The lighthouse keeper rings the bell at noon."])],
            ),
            "lighthouse keeper bell",
            "The lighthouse keeper rings the bell at noon.",
        ),
        "markdown": (
            make_markdown(
                folder / "hiking.md",
                [("Volcano hiking", ["Bring sturdy boots for the volcano trail."])],
                title="Hiking notes",
            ),
            "volcano boots",
            "Bring sturdy boots for the volcano trail.",
        ),
        "text": (
            make_text(folder / "bakery.txt", ["The bakery sells sourdough on Tuesdays.", LOREM]),
            "sourdough bakery",
            "The bakery sells sourdough on Tuesdays.",
        ),
        "csv": (
            make_csv(
                folder / "landmarks.csv",
                [["city", "landmark"], ["Lisbon", "Belem tower"], ["Porto", "Ribeira quay"]],
            ),
            "ribeira quay",
            "Ribeira quay",
        ),
        "json": (
            make_json(
                folder / "product.json",
                {"product": "Telescope", "warranty": "Three years on the refractor lens"},
            ),
            "refractor lens",
            "Three years on the refractor lens",
        ),
    }


def test_every_file_type_is_parsed_chunked_and_indexed(
    api: TestClient,
    ctx: AppContext,
    create_chatbot: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    chatbot = create_chatbot()
    kinds = every_kind(tmp_path)

    items = upload(api, chatbot["id"], *(path for path, _q, _t in kinds.values()))

    assert len(items) == len(kinds)
    for (kind, (path, query, expected)), item in zip(kinds.items(), items, strict=True):
        assert item["status"] == "ready", (kind, item)
        assert item["error"] is None
        assert item["type"] == "file" and item["enabled"] is True
        assert item["source"] == path.name and item["title"] == path.stem
        assert item["chatbot_id"] == chatbot["id"]
        assert item["size_bytes"] == path.stat().st_size
        assert item["content_hash"] == hashlib.sha256(path.read_bytes()).hexdigest()
        meta = item["metadata"]
        assert all(isinstance(meta.get(k), (int, float)) for k in STAGE_TIMINGS), (kind, meta)
        assert meta["chunks"] == item["chunks"] > 0 and meta["tokens"] > 0, (kind, meta)
        rows = chunks_of(ctx, item["id"])
        assert len(rows) == item["chunks"], kind
        assert [r.chunk_index for r in rows] == list(range(1, len(rows) + 1)), kind
        for row in rows:
            form = CONTENT_FORM.match(row.content)
            assert form is not None, (kind, row.content)
            # A chunk carries the title the document declares, else its file's name.
            declared = parse_file(path, detect_kind(path, filename=path.name)).title
            assert form["title"] == (declared or path.stem), kind
            assert int(form["n"]) == row.chunk_index
        found = found_text(ctx, chatbot["id"], query)
        assert any(expected in content for content in found), (kind, query, found)
        assert any(c in {r.content for r in rows} for c in found), f"{kind}: hit is not its chunk"


def test_pdf_pages_are_counted_and_each_chunk_knows_its_page(
    api: TestClient,
    ctx: AppContext,
    create_chatbot: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    chatbot = create_chatbot()
    pdf = make_pdf(
        tmp_path / "manual.pdf",
        ["Installing the pump.\n\n" + LOREM, LOREM, "Descaling the boiler every month."],
    )

    (item,) = upload(api, chatbot["id"], pdf)

    assert item["status"] == "ready"
    assert item["metadata"]["pages"] == 3
    pages = {row.page for row in chunks_of(ctx, item["id"])}
    assert pages == {1, 2, 3}
    (boiler,) = [r for r in chunks_of(ctx, item["id"]) if "Descaling the boiler" in r.content]
    assert boiler.page == 3


def test_single_file_field_is_accepted_like_files(
    api: TestClient,
    ctx: AppContext,
    create_chatbot: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    chatbot = create_chatbot()
    note = make_text(tmp_path / "note.txt", ["The parking garage closes at midnight."])

    (item,) = upload(api, chatbot["id"], note, field="file")

    assert item["status"] == "ready" and item["chunks"] == 1
    assert found_text(ctx, chatbot["id"], "parking garage")


def test_no_file_in_the_request_is_400(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    chatbot = create_chatbot()

    response = api.post(
        f"/api/external/chatbot/{chatbot['id']}/knowledge-base/files",
        files=[("attachment", ("a.txt", b"hello", "text/plain"))],
    )

    assert response.status_code == 400
    assert "files" in response.json()["error"]["message"]


def test_upload_without_wait_answers_pending_and_becomes_ready_later(
    api: TestClient,
    ctx: AppContext,
    create_chatbot: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    chatbot = create_chatbot()
    first = make_text(tmp_path / "one.txt", ["Penguins nest on the southern cliffs."])
    second = make_markdown(tmp_path / "two.md", [("Seals", ["Seals rest on the beach."])])

    items = upload(api, chatbot["id"], first, second, wait=False)

    # Recorded before the answer: listed at once, its file already in the store.
    assert [i["status"] for i in items] == ["pending", "pending"]
    assert [i["chunks"] for i in items] == [0, 0]
    assert len(stored_files(ctx)) == 2
    assert listed(api, chatbot["id"])["pagination"]["total"] == 2
    done = [poll(api, chatbot["id"], item["id"]) for item in items]
    assert [i["status"] for i in done] == ["ready", "ready"]
    assert all(i["chunks"] > 0 for i in done)
    assert found_text(ctx, chatbot["id"], "penguins cliffs")


def test_png_named_pdf_is_refused_with_415_and_nothing_is_stored(
    api: TestClient,
    ctx: AppContext,
    create_chatbot: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    chatbot = create_chatbot()
    fake = make_png(tmp_path / "report.pdf")
    fine = make_text(tmp_path / "fine.txt", ["A perfectly good text file."])

    alone = post_files(api, chatbot["id"], fake)
    beside = post_files(api, chatbot["id"], fine, fake, wait=False)

    assert alone.status_code == 415
    error = alone.json()["error"]
    assert error["code"] == "unsupported_media_type"
    assert "PDF, DOCX, PPTX, XLSX, HTML, Markdown" in error["message"]
    assert error["message"].startswith("report.pdf: Unsupported file type")  # which file
    assert error["details"]["file"] == "report.pdf"
    # Beside a good file, the unsupported one is refused alone and said to be.
    assert beside.status_code == 200
    assert [i["source"] for i in beside.json()["knowledge_base"]] == ["fine.txt"]
    (refused,) = beside.json()["rejected"]
    assert refused["file"] == "report.pdf"
    assert refused["error"]["code"] == "unsupported_media_type"
    assert [item.source for item in items_in_db(ctx)] == ["fine.txt"]
    assert len(stored_files(ctx)) == 1
    assert list(ctx.tmp_dir.iterdir()) == []


def test_upload_limits_answer_413_and_store_nothing(
    configured_api: Callable[..., TestClient], tmp_path: Path
) -> None:
    api = configured_api(uploads={"max_file_bytes": 2000, "max_files_per_request": 2})
    ctx: AppContext = api.app.state.ctx  # type: ignore[attr-defined]
    chatbot = api.post("/api/external/chatbots", json={"name": "Small"}).json()["chatbot"]
    big = make_text(tmp_path / "big.txt", [LOREM * 10])
    small = [make_text(tmp_path / f"s{i}.txt", [f"Small file number {i}."]) for i in range(3)]

    too_big = post_files(api, chatbot["id"], big)
    too_many = post_files(api, chatbot["id"], *small)

    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "payload_too_large"
    assert "big.txt" in too_big.json()["error"]["message"]
    assert "2,000 bytes" in too_big.json()["error"]["message"]
    assert too_many.status_code == 413
    assert items_in_db(ctx) == []
    assert stored_files(ctx) == []
    assert list(ctx.tmp_dir.iterdir()) == []

    # Beside a small file, the big one is refused alone.
    beside = post_files(api, chatbot["id"], small[0], big, wait=False)
    assert beside.status_code == 200
    assert [r["file"] for r in beside.json()["rejected"]] == ["big.txt"]
    assert beside.json()["rejected"][0]["error"]["code"] == "payload_too_large"
    assert [item.source for item in items_in_db(ctx)] == ["s0.txt"]
    assert list(ctx.tmp_dir.iterdir()) == []


def test_empty_corrupt_encrypted_and_bomb_files_fail_with_a_clear_error(
    api: TestClient,
    ctx: AppContext,
    create_chatbot: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    chatbot = create_chatbot()
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    good = make_pdf(tmp_path / "good.pdf", ["Some text to lose.\n\n" + LOREM, LOREM])
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    locked = make_pdf(tmp_path / "locked.pdf", ["Secret plans."], user_password="hunter2")
    bomb = make_zip_bomb_docx(tmp_path / "bomb.docx", inflated_mb=16)

    items = upload(api, chatbot["id"], empty, corrupt, locked, bomb)

    assert [i["status"] for i in items] == ["failed"] * 4
    errors = [i["error"] for i in items]
    assert "empty" in errors[0]
    assert "damaged" in errors[1] or "could not be read" in errors[1]
    assert "password" in errors[2]
    assert "compressed" in errors[3] and "bomb.bin" in errors[3]
    assert all(i["chunks"] == 0 for i in items)
    assert all(chunks_of(ctx, i["id"]) == [] for i in items)
    # A failed item stays listed with its error, so the user sees what to fix.
    failed = listed(api, chatbot["id"], status="failed")["knowledge_base"]
    assert {i["id"] for i in failed} == {i["id"] for i in items}
    # Another empty file is not "the same file" as the first: it gets its own item and error.
    other = tmp_path / "other.pdf"
    other.write_bytes(b"")
    (again,) = upload(api, chatbot["id"], other)
    assert again["id"] != items[0]["id"] and again["source"] == "other.pdf"
    assert again["status"] == "failed" and again["error"] == "The PDF is empty."
    # The same empty files again are each their own item once more, in one request or two.
    (same,) = upload(api, chatbot["id"], other)
    first, second = upload(api, chatbot["id"], empty, other)
    assert same["id"] == second["id"] == again["id"] and first["id"] == items[0]["id"]


def test_text_file_named_docx_is_indexed_as_text(
    api: TestClient,
    ctx: AppContext,
    create_chatbot: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    chatbot = create_chatbot()
    text = make_text(tmp_path / "minutes.docx", ["The board approved the new orchard budget."])

    (item,) = upload(api, chatbot["id"], text)

    assert item["status"] == "ready", item
    assert item["source"] == "minutes.docx"
    found = found_text(ctx, chatbot["id"], "orchard budget")
    assert any("The board approved the new orchard budget." in c for c in found)


def test_same_file_twice_is_stored_and_indexed_once(
    api: TestClient,
    ctx: AppContext,
    create_chatbot: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    chatbot = create_chatbot()
    original = make_markdown(tmp_path / "faq.md", [("Shipping", ["We ship to islands too."])])
    copy = tmp_path / "faq-copy.md"
    copy.write_bytes(original.read_bytes())

    (first,) = upload(api, chatbot["id"], original)
    again = upload(api, chatbot["id"], original, copy)

    assert [i["id"] for i in again] == [first["id"], first["id"]]
    assert again[0]["status"] == "ready"
    assert listed(api, chatbot["id"])["pagination"]["total"] == 1
    assert len(chunks_of(ctx, first["id"])) == first["chunks"]
    assert len(stored_files(ctx)) == 1
    # Dedupe is per chatbot: another chatbot gets its own copy, once, even when sent twice.
    other = create_chatbot(name="Other")
    theirs = upload(api, other["id"], original, copy)
    assert theirs[0]["id"] == theirs[1]["id"] != first["id"]
    assert theirs[0]["status"] == "ready"
    assert len(stored_files(ctx)) == 2


def test_file_name_cannot_place_the_file_outside_the_store(
    api: TestClient,
    ctx: AppContext,
    create_chatbot: Callable[..., dict[str, Any]],
) -> None:
    chatbot = create_chatbot()
    name = "../../../../escaped.txt"

    response = api.post(
        f"/api/external/chatbot/{chatbot['id']}/knowledge-base/files",
        params={"wait": "true"},
        files=[("files", (name, b"Stored where it belongs.", "text/plain"))],
    )

    assert response.status_code == 200, response.text
    (item,) = response.json()["knowledge_base"]
    assert item["status"] == "ready" and item["title"] == "escaped"
    (stored,) = stored_files(ctx)
    assert stored.name == "escaped.txt"
    assert stored.is_relative_to(ctx.settings.data_dir / "files" / "chatbots" / chatbot["id"])
    assert list(ctx.settings.data_dir.parent.rglob("escaped.txt")) == [stored]
