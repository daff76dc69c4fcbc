"""Knowledge in the console: many files at once, sources, live statuses, failures and retry."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.console.helpers import Person
from tests.factories.files import make_pdf

pytestmark = pytest.mark.usefixtures("reuse_embedder")

STATUS = re.compile(r'data-item="([^"]+)" data-status="([^"]+)"')


def _htmx(person: Person) -> dict[str, str]:
    return {"HX-Request": "true", "X-CSRF-Token": person.csrf}


def _settled(person: Person, chatbot_id: str, seconds: float = 60) -> str:
    """The knowledge list once no item is queued or being read (as htmx polls it)."""
    deadline = time.monotonic() + seconds
    while True:
        page = person.client.get(f"/console/chatbots/{chatbot_id}/knowledge/items")
        statuses = [status for _, status in STATUS.findall(page.text)]
        if all(s in ("ready", "failed") for s in statuses) or time.monotonic() > deadline:
            return page.text
        assert 'hx-trigger="every' in page.text  # the list keeps polling while busy
        time.sleep(0.2)


def test_files_upload_together_and_reach_ready(
    owner: Person, create_chatbot: Callable[..., dict[str, Any]], api: TestClient, tmp_path: Path
) -> None:
    bot = create_chatbot(name="Docs")
    pdf = make_pdf(tmp_path / "returns.pdf", ["Returns are accepted within 30 days of delivery."])
    answer = owner.client.post(
        f"/console/chatbots/{bot['id']}/knowledge/files",
        files=[
            ("files", ("returns.pdf", pdf.read_bytes(), "application/pdf")),
            ("files", ("hours.txt", b"The shop opens at 9 and closes at 18.", "text/plain")),
            ("files", ("tool.exe", b"MZ\x90\x00\x03\x00binary", "application/octet-stream")),
        ],
        headers=_htmx(owner),
    )
    assert answer.status_code == 200, answer.text
    assert "2 files added" in answer.text and "tool.exe" in answer.text  # the refused one named
    assert len(STATUS.findall(answer.text)) == 2

    settled = _settled(owner, bot["id"])
    assert [s for _, s in STATUS.findall(settled)] == ["ready", "ready"]
    assert 'hx-trigger="every' not in settled  # nothing left to watch: polling stops
    items = api.get(f"/api/external/chatbot/{bot['id']}/knowledge-base").json()["knowledge_base"]
    assert sorted(i["status"] for i in items) == ["ready", "ready"]
    assert all(i["chunks"] > 0 for i in items)
    for item in items:  # each row shows its chunk count
        assert re.search(
            rf'data-item="{item["id"]}".*?class="num">{item["chunks"]}<', settled, re.S
        )


def test_text_and_qna_sources_are_added(
    owner: Person, create_chatbot: Callable[..., dict[str, Any]], api: TestClient
) -> None:
    bot = create_chatbot()
    path = f"/console/chatbots/{bot['id']}/knowledge/sources"
    text = owner.client.post(
        path,
        data={"kind": "text", "title": "Shipping", "content": "We ship worldwide in 5 days."},
        headers=_htmx(owner),
    )
    qna = owner.client.post(
        path,
        data={"kind": "qna", "question": "Do you ship to Mars?", "answer": "Not yet."},
        headers=_htmx(owner),
    )
    assert text.status_code == 200 and qna.status_code == 200
    assert "Do you ship to Mars?" in qna.text and "Shipping" in qna.text
    empty = owner.client.post(path, data={"kind": "qna", "question": "Why?"}, headers=_htmx(owner))
    assert "Fill in the answer" in empty.text
    refused = owner.client.post(
        path, data={"kind": "url", "url": "http://127.0.0.1/admin"}, headers=_htmx(owner)
    )
    assert "not allowed" in refused.text
    items = api.get(f"/api/external/chatbot/{bot['id']}/knowledge-base").json()["knowledge_base"]
    assert sorted(i["type"] for i in items) == ["qna", "text"]


def test_a_failed_item_shows_its_reason_and_can_be_retried(
    owner: Person, create_chatbot: Callable[..., dict[str, Any]], api: TestClient
) -> None:
    bot = create_chatbot()
    owner.client.post(
        f"/console/chatbots/{bot['id']}/knowledge/files",
        files=[("files", ("broken.pdf", b"%PDF-1.7\nthis is not a real PDF", "application/pdf"))],
        headers=_htmx(owner),
    )
    settled = _settled(owner, bot["id"])
    ((item_id, status),) = STATUS.findall(settled)
    assert status == "failed"
    assert 'class="error-text small"' in settled and f"/{item_id}/retry" in settled

    retried = owner.client.post(
        f"/console/chatbots/{bot['id']}/knowledge/{item_id}/retry", headers=_htmx(owner)
    )
    assert retried.status_code == 200
    assert STATUS.findall(retried.text)[0][1] in ("pending", "processing", "failed")
    item = api.get(f"/api/external/chatbot/{bot['id']}/knowledge-base").json()["knowledge_base"][0]
    assert item["status"] in ("pending", "processing", "failed")
    assert _settled(owner, bot["id"]).count('data-status="failed"') == 1  # fails again, honestly


def test_deleting_an_item_removes_it(
    owner: Person, create_chatbot: Callable[..., dict[str, Any]], api: TestClient
) -> None:
    bot = create_chatbot()
    owner.client.post(
        f"/console/chatbots/{bot['id']}/knowledge/sources",
        data={"kind": "text", "content": "Temporary note."},
        headers=_htmx(owner),
    )
    ((item_id, _),) = STATUS.findall(_settled(owner, bot["id"]))
    gone = owner.client.post(
        f"/console/chatbots/{bot['id']}/knowledge/{item_id}/delete", headers=_htmx(owner)
    )
    assert gone.status_code == 200 and item_id not in gone.text
    assert (
        api.get(f"/api/external/chatbot/{bot['id']}/knowledge-base").json()["knowledge_base"] == []
    )


def test_search_filters_the_list_in_the_database(
    owner: Person, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    bot = create_chatbot()
    path = f"/console/chatbots/{bot['id']}/knowledge"
    for title in ("Shipping rates", "Returns policy", "50% off_sale"):
        owner.client.post(
            f"{path}/sources", data={"kind": "text", "title": title, "content": f"About {title}."},
            headers=_htmx(owner),
        )  # fmt: skip
    owner.client.post(
        f"{path}/sources",
        data={"kind": "qna", "question": "Do you SHIP abroad?", "answer": "Yes."},
        headers=_htmx(owner),
    )  # fmt: skip
    found = owner.client.get(f"{path}/items", params={"q": "ship"}).text
    assert "Shipping rates" in found and "Do you SHIP abroad?" in found
    assert "Returns policy" not in found and "(2)" in found
    qna_only = owner.client.get(path, params={"q": "ship", "kind": "qna"}).text
    assert "Do you SHIP abroad?" in qna_only and "Shipping rates" not in qna_only
    assert 'value="ship"' in qna_only  # the search box keeps what was typed
    wildcard = owner.client.get(f"{path}/items", params={"q": "%"}).text  # no LIKE wildcard
    assert "50% off_sale" in wildcard and "(1)" in wildcard
    none = owner.client.get(f"{path}/items", params={"q": "zebra"}).text
    assert "No item matches." in none


def test_an_item_opens_with_its_chunks_and_a_qna_is_edited_in_place(
    owner: Person, person: Callable[..., Person],
    create_chatbot: Callable[..., dict[str, Any]], api: TestClient,
) -> None:  # fmt: skip
    bot = create_chatbot()
    path = f"/console/chatbots/{bot['id']}/knowledge"
    owner.client.post(
        f"{path}/sources", data={"kind": "qna", "question": "When do you open?",
                                 "answer": "From 9 to 5."}, headers=_htmx(owner),
    )  # fmt: skip
    ((item_id, status),) = STATUS.findall(_settled(owner, bot["id"]))
    assert status == "ready"
    page = owner.client.get(f"{path}/{item_id}")
    assert page.status_code == 200
    assert "From 9 to 5." in page.text and page.text.count("data-chunk=") == 1
    assert f'href="/console/chatbots/{bot["id"]}/knowledge/{item_id}"' in _settled(owner, bot["id"])

    edited = owner.post(
        f"{path}/{item_id}/qna", {"question": "When are you open?", "answer": "From 8 to 6."}
    )
    assert edited.status_code == 303 and edited.headers["location"].endswith("?saved=1")
    item = api.get(f"/api/external/chatbot/{bot['id']}/knowledge-base").json()["knowledge_base"][0]
    assert item["title"] == "When are you open?"
    _settled(owner, bot["id"])
    again = owner.client.get(f"{path}/{item_id}").text
    assert "From 8 to 6." in again and "From 9 to 5." not in again  # read again: new chunks

    empty = owner.post(f"{path}/{item_id}/qna", {"question": "When?", "answer": " "})
    assert empty.status_code == 400
    stranger = person("eve@globex.test", org="globex")
    assert stranger.client.get(f"{path}/{item_id}").status_code == 404
    assert (
        stranger.post(f"{path}/{item_id}/qna", {"question": "x", "answer": "y"}).status_code == 404
    )
