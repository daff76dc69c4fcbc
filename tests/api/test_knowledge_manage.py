"""Listing, editing, disabling and deleting knowledge (API.md §2 rows 9-11) on both databases.

What an edit or a delete promises is checked where retrieval would see it: the chunks table, the
keyword index (FTS5 or ``chunk_terms``), the vector index (``chunk_vectors``) and the file store.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.factories.files import make_markdown, make_text
from tests.factories.knowledge import (
    add,
    chunk_count,
    chunks_of,
    found_text,
    index_rows,
    item_by_id,
    jobs_of,
    kb_path,
    keyword_hits,
    listed,
    patch,
    post_files,
    ready,
    stored_files,
    upload,
    vector_hits,
)

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


Chatbots = Callable[..., dict[str, Any]]


def text(title: str, content: str) -> dict[str, Any]:
    return {"type": "text", "title": title, "content": content}


# --- list ------------------------------------------------------------------------------------


def test_list_pages_newest_first_with_the_total(api: TestClient, create_chatbot: Chatbots) -> None:
    chatbot = create_chatbot()
    added = add(api, chatbot["id"], *(text(f"Note {i}", f"Note number {i}.") for i in range(5)))

    first = listed(api, chatbot["id"], page=1, limit=2)
    last = listed(api, chatbot["id"], page=3, limit=2)
    beyond = listed(api, chatbot["id"], page=4, limit=2)

    assert first["chatbot"]["id"] == chatbot["id"]
    assert first["pagination"] == {"page": 1, "limit": 2, "total": 5}
    assert [i["title"] for i in first["knowledge_base"]] == ["Note 4", "Note 3"]
    assert [i["title"] for i in last["knowledge_base"]] == ["Note 0"]
    assert beyond["knowledge_base"] == [] and beyond["pagination"]["total"] == 5
    everything = listed(api, chatbot["id"])
    assert everything["pagination"] == {"page": 1, "limit": 20, "total": 5}
    assert {i["id"] for i in everything["knowledge_base"]} == {i["id"] for i in added}


def test_list_filters_by_type_and_status(
    api: TestClient, create_chatbot: Chatbots, tmp_path: Path
) -> None:
    chatbot = create_chatbot()
    add(
        api,
        chatbot["id"],
        text("Plain", "Some plain text."),
        {"type": "qna", "question": "Open?", "answer": "Always open."},
    )
    empty = tmp_path / "empty.md"
    empty.write_bytes(b"")
    (broken,) = upload(api, chatbot["id"], empty)
    (good,) = upload(api, chatbot["id"], make_text(tmp_path / "good.txt", ["Good file."]))

    def titles(**params: Any) -> set[str]:
        body = listed(api, chatbot["id"], **params)
        assert body["pagination"]["total"] == len(body["knowledge_base"])
        return {i["title"] for i in body["knowledge_base"]}

    assert titles(type="qna") == {"Open?"}
    assert titles(type="text") == {"Plain"}
    assert titles(type="file") == {"empty", "good"}
    assert titles(status="failed") == {"empty"}
    assert titles(status="ready") == {"Plain", "Open?", "good"}
    assert titles(type="file", status="ready") == {"good"}
    assert titles(type="url") == set()
    assert broken["status"] == "failed" and good["status"] == "ready"


def test_list_rejects_bad_paging_and_filters_with_422(
    api: TestClient, create_chatbot: Chatbots
) -> None:
    chatbot = create_chatbot()
    path = kb_path(chatbot["id"])

    for params, field in (
        ({"limit": 101}, "limit"),
        ({"limit": 0}, "limit"),
        ({"page": 0}, "page"),
        ({"type": "pdf"}, "type"),
        ({"status": "done"}, "status"),
    ):
        response = api.get(path, params=params)
        assert response.status_code == 422, params
        assert [d["field"] for d in response.json()["error"]["details"]] == [field]
    assert api.get(path, params={"limit": 100}).status_code == 200


# --- edit ------------------------------------------------------------------------------------


def test_text_edit_reindexes_the_new_content(
    api: TestClient, ctx: AppContext, create_chatbot: Chatbots
) -> None:
    chatbot = create_chatbot()
    (item,) = add(api, chatbot["id"], text("Menu", "The soup of the day is pumpkin."))

    response = patch(api, chatbot["id"], item["id"], {"content": "The soup of the day is lentil."})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Knowledge base updated successfully"
    assert body["knowledge"]["status"] == "pending"
    assert body["knowledge"]["content_hash"] != item["content_hash"]
    done = ready(api, chatbot["id"], item["id"])
    assert done["chunks"] == 1 and done["error"] is None
    assert found_text(ctx, chatbot["id"], "pumpkin") == []
    assert found_text(ctx, chatbot["id"], "lentil") == [
        "Title: Menu\nChunk: 1\n\nContent:\nThe soup of the day is lentil."
    ]
    assert chunk_count(ctx) == 1
    assert len(index_rows(ctx)[0]) == len(index_rows(ctx)[1]) == 1


def test_title_edit_renames_every_chunk(
    api: TestClient, ctx: AppContext, create_chatbot: Chatbots
) -> None:
    chatbot = create_chatbot()
    (item,) = add(api, chatbot["id"], text("Old name", "Gift cards never expire."))

    response = patch(api, chatbot["id"], item["id"], {"title": "Gift cards"})

    assert response.status_code == 200 and response.json()["knowledge"]["title"] == "Gift cards"
    ready(api, chatbot["id"], item["id"])
    (chunk,) = chunks_of(ctx, item["id"])
    assert chunk.content.startswith("Title: Gift cards\nChunk: 1\n")
    assert chunk.title == "Gift cards"


def test_an_edit_with_wait_answers_once_the_item_is_indexed_again(
    api: TestClient, ctx: AppContext, create_chatbot: Chatbots
) -> None:
    chatbot = create_chatbot()
    (item,) = add(api, chatbot["id"], text("Hours", "We open at nine."))

    response = api.patch(
        kb_path(chatbot["id"]),
        params={"id": item["id"], "wait": "true"},
        json={"content": "We open at ten on Sundays."},
    )

    assert response.status_code == 200, response.text
    assert response.json()["knowledge"]["status"] == "ready"
    assert [c.content.rsplit("\n", 1)[-1] for c in chunks_of(ctx, item["id"])] == [
        "We open at ten on Sundays."
    ]


def test_qna_edit_reindexes_the_pair(
    api: TestClient, ctx: AppContext, create_chatbot: Chatbots
) -> None:
    chatbot = create_chatbot()
    (item,) = add(
        api, chatbot["id"], {"type": "qna", "question": "Pets allowed?", "answer": "Only cats."}
    )

    response = patch(api, chatbot["id"], item["id"], {"answer": "Cats and small dogs."})

    assert response.status_code == 200, response.text
    ready(api, chatbot["id"], item["id"])
    (chunk,) = chunks_of(ctx, item["id"])
    assert chunk.content == (
        "Title: Pets allowed?\nChunk: 1\n\nQuestion: Pets allowed?\n\nAnswer: Cats and small dogs."
    )
    patch(api, chatbot["id"], item["id"], {"question": "Are pets allowed inside?"})
    edited = ready(api, chatbot["id"], item["id"])
    assert edited["title"] == "Are pets allowed inside?"
    (chunk,) = chunks_of(ctx, item["id"])
    assert chunk.content.endswith(
        "Question: Are pets allowed inside?\n\nAnswer: Cats and small dogs."
    )
    assert found_text(ctx, chatbot["id"], "small dogs") == [chunk.content]
    # The title of a pair is its question.
    patch(api, chatbot["id"], item["id"], {"title": "May I bring my dog?"})
    retitled = ready(api, chatbot["id"], item["id"])
    assert retitled["title"] == "May I bring my dog?"
    (chunk,) = chunks_of(ctx, item["id"])
    assert chunk.content == (
        "Title: May I bring my dog?\nChunk: 1\n\n"
        "Question: May I bring my dog?\n\nAnswer: Cats and small dogs."
    )


def test_title_edit_of_a_file_keeps_its_content_hash_so_dedupe_still_works(
    api: TestClient, ctx: AppContext, create_chatbot: Chatbots, tmp_path: Path
) -> None:
    chatbot = create_chatbot()
    guide = make_markdown(tmp_path / "guide.md", [("Setup", ["Plug the router in first."])])
    (item,) = upload(api, chatbot["id"], guide)

    response = patch(api, chatbot["id"], item["id"], {"title": "Router guide"})

    assert response.status_code == 200, response.text
    assert response.json()["knowledge"]["content_hash"] == item["content_hash"]
    ready(api, chatbot["id"], item["id"])
    assert all(c.content.startswith("Title: Router guide\n") for c in chunks_of(ctx, item["id"]))
    (again,) = upload(api, chatbot["id"], guide)
    assert again["id"] == item["id"]
    assert listed(api, chatbot["id"])["pagination"]["total"] == 1


def test_disabled_item_leaves_both_indexes_but_keeps_its_chunks(
    api: TestClient, ctx: AppContext, create_chatbot: Chatbots
) -> None:
    chatbot = create_chatbot()
    (hidden,) = add(api, chatbot["id"], text("Secret", "The vault code changes every Friday."))
    add(api, chatbot["id"], text("Public", "The shop opens on Mondays."))
    ids = [c.id for c in chunks_of(ctx, hidden["id"])]
    assert set(keyword_hits(ctx, chatbot["id"], "vault code friday")) == set(ids)

    response = patch(api, chatbot["id"], hidden["id"], {"enabled": False})

    assert response.status_code == 200
    assert response.json()["knowledge"]["enabled"] is False
    assert response.json()["knowledge"]["status"] == "ready"
    assert keyword_hits(ctx, chatbot["id"], "vault code friday") == []
    assert not set(vector_hits(ctx, chatbot["id"], "vault code", limit=10)) & set(ids)
    keyword, vectors = index_rows(ctx)
    assert not (keyword | vectors) & set(ids)
    assert [c.id for c in chunks_of(ctx, hidden["id"])] == ids  # kept, not deleted
    assert item_by_id(api, chatbot["id"], hidden["id"])["enabled"] is False
    assert keyword_hits(ctx, chatbot["id"], "shop mondays")  # the other item is untouched
    assert len(listed(api, chatbot["id"])["knowledge_base"]) == 2


def test_enabling_again_restores_the_same_chunks_without_reindexing(
    api: TestClient, ctx: AppContext, create_chatbot: Chatbots
) -> None:
    chatbot = create_chatbot()
    (item,) = add(api, chatbot["id"], text("Hours", "The pool is heated in winter."))
    before = chunks_of(ctx, item["id"])
    patch(api, chatbot["id"], item["id"], {"enabled": False})

    response = patch(api, chatbot["id"], item["id"], {"enabled": True})

    assert response.status_code == 200
    restored = response.json()["knowledge"]
    assert restored["enabled"] is True and restored["status"] == "ready"
    assert restored["metadata"] == item["metadata"]  # no pipeline stage ran again
    assert len(jobs_of(ctx, item["id"])) == 1  # no new job
    ids = [c.id for c in before]
    assert [(c.id, c.embedding) for c in chunks_of(ctx, item["id"])] == [
        (c.id, c.embedding) for c in before
    ]
    assert keyword_hits(ctx, chatbot["id"], "pool heated winter") == ids
    assert vector_hits(ctx, chatbot["id"], "is the pool heated in winter?", limit=1) == ids
    keyword, vectors = index_rows(ctx)
    assert keyword == vectors == set(ids)


def test_content_edit_of_a_disabled_item_stays_hidden(
    api: TestClient, ctx: AppContext, create_chatbot: Chatbots
) -> None:
    chatbot = create_chatbot()
    (item,) = add(api, chatbot["id"], text("Draft", "A first draft about sailing."))
    patch(api, chatbot["id"], item["id"], {"enabled": False})

    patch(api, chatbot["id"], item["id"], {"content": "A second draft about rowing."})

    done = ready(api, chatbot["id"], item["id"])
    assert done["enabled"] is False
    assert "rowing" in chunks_of(ctx, item["id"])[0].content
    assert keyword_hits(ctx, chatbot["id"], "rowing") == []
    assert index_rows(ctx) == (set(), set())
    patch(api, chatbot["id"], item["id"], {"enabled": True})
    assert found_text(ctx, chatbot["id"], "rowing")


def test_patch_needs_an_id_a_known_item_and_fields_of_its_type(
    api: TestClient, create_chatbot: Chatbots, tmp_path: Path
) -> None:
    chatbot = create_chatbot()
    (note,) = add(api, chatbot["id"], text("Note", "A short note."))
    (pair,) = add(api, chatbot["id"], {"type": "qna", "question": "Why?", "answer": "Because."})
    (document,) = upload(api, chatbot["id"], make_text(tmp_path / "doc.txt", ["A document."]))
    path = kb_path(chatbot["id"])

    missing_id = api.patch(path, json={"title": "x"})
    unknown = patch(api, chatbot["id"], "00000000-0000-4000-8000-000000000000", {"title": "x"})

    assert missing_id.status_code == 400
    assert missing_id.json()["error"]["code"] == "bad_request"
    assert "?id=" in missing_id.json()["error"]["message"]
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    for item, body, field in (
        (note, {"question": "Q?"}, "question"),
        (note, {"url": "https://example.com"}, "url"),
        (pair, {"content": "text"}, "content"),
        (document, {"content": "replace the file"}, "content"),
        (document, {"answer": "A."}, "answer"),
    ):
        response = patch(api, chatbot["id"], item["id"], body)
        assert response.status_code == 422, (item["type"], body)
        assert [d["field"] for d in response.json()["error"]["details"]] == [field]
    for body in ({"content": ""}, {"content": "   "}, {"title": ""}, {"enabled": "yes"}):
        assert patch(api, chatbot["id"], note["id"], body).status_code == 422, body
    # Nothing was changed by the refused edits.
    assert item_by_id(api, chatbot["id"], note["id"]) == note


# --- delete ----------------------------------------------------------------------------------


def test_delete_removes_chunks_index_rows_and_the_stored_file(
    api: TestClient, ctx: AppContext, create_chatbot: Chatbots, tmp_path: Path
) -> None:
    chatbot = create_chatbot()
    (document,) = upload(
        api, chatbot["id"], make_text(tmp_path / "tides.txt", ["High tide is at six."])
    )
    (kept,) = add(api, chatbot["id"], text("Moon", "The moon pulls the sea."))
    doomed = {c.id for c in chunks_of(ctx, document["id"])}
    assert len(stored_files(ctx)) == 1

    response = api.delete(kb_path(chatbot["id"]), params={"id": document["id"]})

    assert response.status_code == 200, response.text
    assert response.json()["message"] == "Knowledge base data deleted successfully"
    assert response.json()["chatbot"]["id"] == chatbot["id"]
    assert chunks_of(ctx, document["id"]) == []
    keyword, vectors = index_rows(ctx)
    assert not (keyword | vectors) & doomed
    kept_ids = {c.id for c in chunks_of(ctx, kept["id"])}
    assert keyword == vectors == kept_ids
    assert stored_files(ctx) == []
    assert found_text(ctx, chatbot["id"], "high tide") == []
    assert [i["id"] for i in listed(api, chatbot["id"])["knowledge_base"]] == [kept["id"]]
    # Deleted means gone: a second delete is a 404, and the same file may be added again.
    assert api.delete(kb_path(chatbot["id"]), params={"id": document["id"]}).status_code == 404
    (again,) = upload(api, chatbot["id"], tmp_path / "tides.txt")
    assert again["id"] != document["id"] and again["status"] == "ready"


def test_delete_needs_an_id_of_a_known_item(api: TestClient, create_chatbot: Chatbots) -> None:
    chatbot = create_chatbot()

    missing = api.delete(kb_path(chatbot["id"]))
    unknown = api.delete(
        kb_path(chatbot["id"]), params={"id": "00000000-0000-4000-8000-000000000000"}
    )

    assert missing.status_code == 400 and missing.json()["error"]["code"] == "bad_request"
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"


def test_deleting_a_pending_item_leaves_nothing_once_the_worker_is_done(
    api: TestClient, ctx: AppContext, create_chatbot: Chatbots, tmp_path: Path
) -> None:
    chatbot = create_chatbot()
    files = [
        make_text(tmp_path / f"f{i}.txt", [f"File number {i} about quartz."]) for i in range(3)
    ]
    items = upload(api, chatbot["id"], *files, wait=False)

    for item in items:
        assert api.delete(kb_path(chatbot["id"]), params={"id": item["id"]}).status_code == 200

    (marker,) = add(api, chatbot["id"], text("Marker", "Added after the deletes."))
    assert marker["status"] == "ready"  # the worker has moved past the deleted items
    assert {c.item_id for c in chunks_of(ctx, marker["id"])} == {marker["id"]}
    assert chunk_count(ctx) == marker["chunks"]
    assert found_text(ctx, chatbot["id"], "quartz") == []
    assert stored_files(ctx) == []


def test_deleting_the_chatbot_removes_its_knowledge_files_and_index_rows(
    api: TestClient, ctx: AppContext, create_chatbot: Chatbots, tmp_path: Path
) -> None:
    doomed = create_chatbot(name="Doomed")
    other = create_chatbot(name="Other")
    upload(api, doomed["id"], make_text(tmp_path / "a.txt", ["Apples grow in the orchard."]))
    add(api, doomed["id"], text("Pears", "Pears ripen in autumn."))
    (kept,) = upload(api, other["id"], make_text(tmp_path / "b.txt", ["Bananas need warmth."]))

    response = api.delete(f"/api/external/chatbot/{doomed['id']}")

    assert response.status_code == 200, response.text
    kept_ids = {c.id for c in chunks_of(ctx, kept["id"])}
    assert chunk_count(ctx) == len(kept_ids)
    assert index_rows(ctx) == (kept_ids, kept_ids)
    assert [p.name for p in stored_files(ctx)] == ["b.txt"]
    assert api.get(kb_path(doomed["id"])).status_code == 404
    assert found_text(ctx, other["id"], "bananas warmth")


# --- tenant isolation ------------------------------------------------------------------------


def test_other_organization_gets_404_on_every_knowledge_endpoint(
    api: TestClient,
    ctx: AppContext,
    create_chatbot: Chatbots,
    make_key: Callable[[str], str],
    tmp_path: Path,
) -> None:
    chatbot = create_chatbot()
    (item,) = add(api, chatbot["id"], text("Payroll", "Salaries are paid on the 25th."))
    before = listed(api, chatbot["id"])
    chunks_before = [(c.id, c.content) for c in chunks_of(ctx, item["id"])]
    intruder = {"x-api-key": make_key("intruder")}
    path = kb_path(chatbot["id"])
    note = make_text(tmp_path / "note.txt", ["Planted by the intruder."])

    answers = {
        "list": api.get(path, headers=intruder),
        "upload": api.post(
            f"{path}/files",
            headers=intruder,
            files=[("files", ("note.txt", note.read_bytes(), "text/plain"))],
        ),
        "add": api.post(path, headers=intruder, json=text("Planted", "Planted text.")),
        "patch": api.patch(path, headers=intruder, params={"id": item["id"]}, json={"title": "x"}),
        "disable": api.patch(
            path, headers=intruder, params={"id": item["id"]}, json={"enabled": False}
        ),
        "delete": api.delete(path, headers=intruder, params={"id": item["id"]}),
    }
    # Nor through a chatbot of its own: the item id alone must not reach A's item.
    own = api.post("/api/external/chatbots", headers=intruder, json={"name": "Mine"}).json()
    own_path = kb_path(own["chatbot"]["id"])
    answers["patch via own chatbot"] = api.patch(
        own_path, headers=intruder, params={"id": item["id"]}, json={"title": "x"}
    )
    answers["delete via own chatbot"] = api.delete(
        own_path, headers=intruder, params={"id": item["id"]}
    )

    for name, response in answers.items():
        assert response.status_code == 404, (name, response.text)
        assert response.json()["error"]["code"] == "not_found", name
    assert listed(api, chatbot["id"]) == before
    assert [(c.id, c.content) for c in chunks_of(ctx, item["id"])] == chunks_before
    assert found_text(ctx, chatbot["id"], "salaries paid")
    assert stored_files(ctx) == []
    assert post_files(api, chatbot["id"], note).status_code == 200  # the owner still can
