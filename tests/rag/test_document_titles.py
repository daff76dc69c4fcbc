"""A file's chunks and citations carry the title the document declares (its first heading, a
DOCX title, PDF metadata), not its file name; a title the user gives stays (issue 16)."""

from __future__ import annotations

from pathlib import Path

import docx
import pytest
from fastapi.testclient import TestClient
from tests.factories.chat import answer
from tests.factories.knowledge import kb_path, upload

pytestmark = pytest.mark.usefixtures("reuse_embedder")

MANUAL = """# Voyager E-Bike Owner's Manual

## Range
The 625 Wh battery gives a range of 40 to 80 miles depending on assist level.
"""


def _bot(api: TestClient) -> str:
    response = api.post("/api/external/chatbots", json={"name": "Bikes"})
    assert response.status_code == 200, response.text
    chatbot_id: str = response.json()["chatbot"]["id"]
    return chatbot_id


def test_a_markdown_files_first_heading_is_its_title_in_chunks_and_sources(
    api: TestClient, tmp_path: Path
) -> None:
    path = tmp_path / "manual.md"
    path.write_text(MANUAL, encoding="utf-8")
    bot = _bot(api)
    upload(api, bot, path)

    body = answer(api, bot, "voyager range on one charge")

    assert "40 to 80 miles" in body["response"]
    assert body["sources"][0]["title"] == "Voyager E-Bike Owner's Manual"
    assert body["sources"][0]["content"].startswith("Title: Voyager E-Bike Owner's Manual\n")
    assert body["sources"][0]["source"] == "manual.md"


def test_a_word_documents_title_is_its_title(api: TestClient, tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Voyager E-Bike Owner's Manual", level=0)
    document.add_heading("Range", level=1)
    document.add_paragraph("The 625 Wh battery gives a range of 40 to 80 miles.")
    path = tmp_path / "manual.docx"
    document.save(str(path))
    bot = _bot(api)
    upload(api, bot, path)

    body = answer(api, bot, "What range does the battery give?")

    assert body["sources"][0]["title"] == "Voyager E-Bike Owner's Manual"


def test_a_title_the_user_gave_the_file_stays(api: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "manual.md"
    path.write_text(MANUAL, encoding="utf-8")
    bot = _bot(api)
    (item,) = upload(api, bot, path)
    response = api.patch(
        kb_path(bot), params={"id": item["id"], "wait": "true"}, json={"title": "Bike manual"}
    )
    assert response.status_code == 200, response.text

    body = answer(api, bot, "What range does the battery give?")

    assert body["sources"][0]["title"] == "Bike manual"
