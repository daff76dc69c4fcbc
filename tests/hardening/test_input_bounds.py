"""Finding 7: bounds on what one request may carry, and files that must be read.

Each limit answers before anything is written, with a status and message a client can act on;
nothing that was refused is stored or echoed back in later reads.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.factories.files import make_docx
from tests.factories.knowledge import kb_path, post_files, upload

from chatforge.services.context import AppContext

Bot = Callable[..., dict[str, Any]]


def nested_body(field: str, depth: int) -> str:
    """A JSON body whose ``field`` nests ``depth`` objects deep (written as text: json.dumps
    itself gives up past about a thousand levels)."""
    return f'{{"{field}": ' + '{"a": ' * depth + '"leaf"' + "}" * depth + "}"


@pytest.mark.parametrize("field", ["settings", "personality_config", "voice_widget_config"])
def test_deeply_nested_json_is_422_and_nothing_is_stored(
    api: TestClient, create_chatbot: Bot, field: str
) -> None:
    bot = create_chatbot()
    path = f"/api/external/chatbot/{bot['id']}"

    for depth in (30, 255, 5000):
        response = api.patch(
            path,
            content=nested_body(field, depth),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 422, (depth, response.text)
        assert "MAX_JSON_DEPTH" in response.json()["error"]["message"]

    # The chatbot and the organization's list still read.
    assert api.get(path).status_code == 200
    assert api.get("/api/external/chatbots").status_code == 200


def test_a_stored_configuration_is_bounded_in_size(api: TestClient, create_chatbot: Bot) -> None:
    bot = create_chatbot()
    path = f"/api/external/chatbot/{bot['id']}"

    response = api.patch(path, json={"settings": {"notes": "x" * 70_000}})

    assert response.status_code == 422, response.text
    assert "MAX_SETTINGS_BYTES" in response.json()["error"]["message"]
    assert "notes" not in api.get(path).json()["chatbot"]["settings"]


def test_a_body_over_the_limit_is_413_before_it_is_read(
    api: TestClient, create_chatbot: Bot
) -> None:
    bot = create_chatbot()
    path = f"/api/external/chatbot/{bot['id']}"

    huge = {"settings": {"notes": "x" * (20 * 1024 * 1024)}}
    response = api.patch(path, json=huge)

    assert response.status_code == 413, response.text[:200]
    assert "MAX_BODY_BYTES" in response.json()["error"]["message"]
    listed = api.get("/api/external/chatbots").text
    assert len(listed) < 10_000 and "xxxxxxxx" not in listed


def test_the_body_limit_is_a_setting(configured_api: Callable[..., TestClient]) -> None:
    small = configured_api(limits={"max_body_bytes": 200})

    refused = small.post(
        "/api/external/chatbots", json={"name": "B" * 50, "description": "d" * 300}
    )
    accepted = small.post("/api/external/chatbots", json={"name": "Bot"})

    assert refused.status_code == 413
    assert accepted.status_code == 200


def test_a_filter_of_too_many_ids_is_422(api: TestClient, create_chatbot: Bot) -> None:
    bot = create_chatbot()
    ids = [f"{n:036d}" for n in range(5000)]

    response = api.post(
        f"/api/external/chatbot/{bot['id']}/query-knowledge",
        json={"query": "warranty", "filter": {"knowledge_ids": ids}},
    )

    assert response.status_code == 422, response.text[:300]
    assert "knowledge_ids" in response.text


@pytest.mark.parametrize(
    "params",
    [
        {"page": "9223372036854775807"},
        {"page": "99999999999999999999999"},
        {"from": "9999-12-31T23:59:59-23:59"},
        {"to": "0001-01-01T00:00:00+23:59"},
    ],
)
def test_out_of_range_paging_and_times_are_422(
    api: TestClient, create_chatbot: Bot, params: dict[str, str]
) -> None:
    bot = create_chatbot()

    response = api.get(f"/api/external/chatbot/{bot['id']}/conversations", params=params)

    assert response.status_code == 422, response.text


def test_an_out_of_range_knowledge_page_is_422(api: TestClient, create_chatbot: Bot) -> None:
    bot = create_chatbot()
    response = api.get(kb_path(bot["id"]), params={"page": "9223372036854775807"})
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "name",
    # The fast lane keeps one name of each kind: a parent, a climb, a Windows climb.
    [
        "..",
        "../..",
        "..\\..",
        *(pytest.param(n, marks=pytest.mark.slow) for n in (".", "/", "./..")),
    ],
)
def test_an_upload_named_like_a_folder_stays_in_its_own_folder(
    api: TestClient, ctx: AppContext, create_chatbot: Bot, name: str
) -> None:
    bot = create_chatbot()

    response = api.post(
        f"{kb_path(bot['id'])}/files",
        params={"wait": "true"},
        files=[("files", (name, b"Our warranty lasts two years.", "text/plain"))],
    )

    assert response.status_code == 200, response.text
    (item,) = response.json()["knowledge_base"]
    assert item["status"] == "ready", item
    files_root = ctx.settings.data_dir.resolve() / "files"
    item_dir = files_root / "chatbots" / bot["id"] / "files" / item["id"]
    stored = [p for p in item_dir.iterdir() if p.is_file()]
    assert len(stored) == 1 and stored[0].read_bytes() == b"Our warranty lasts two years."
    # Nothing landed beside the item's own folder.
    assert [p.name for p in item_dir.parent.iterdir()] == [item["id"]]


@pytest.mark.slow  # compresses 190 MB; tests/rag/test_parsers.py checks the total bound quickly
def test_a_docx_of_many_compressible_parts_is_refused(
    api: TestClient, create_chatbot: Bot, tmp_path: Path
) -> None:
    # 19 parts of 9.9 MB each: every part is under the per-part ratio floor, the whole is not.
    path = make_docx(tmp_path / "padded.docx", [("Padded", ["A harmless looking document."])])
    block = bytes(int(9.9 * 1024 * 1024))
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        for n in range(19):
            archive.writestr(f"word/media/pad{n}.bin", block)
    bot = create_chatbot()

    (item,) = upload(api, bot["id"], path)

    assert item["status"] == "failed", item
    assert "zip bomb" in item["error"]


@pytest.mark.parametrize("encoding", ["cp1252", pytest.param("latin-1", marks=pytest.mark.slow)])
def test_a_legacy_encoded_text_file_is_indexed_and_read_right(
    api: TestClient, create_chatbot: Bot, tmp_path: Path, encoding: str
) -> None:
    text = "Garantía: el período de devolución es de 30 días. Crème brûlée, naïve façade."
    if encoding == "cp1252":
        text += " Precio: 5 € – “sí”."
    path = tmp_path / "notas.txt"
    path.write_bytes(text.encode(encoding))
    bot = create_chatbot()

    (item,) = upload(api, bot["id"], path)

    assert item["status"] == "ready", item
    found = api.post(
        f"/api/external/chatbot/{bot['id']}/query-knowledge",
        json={"query": "período de devolución", "mode": "keyword"},
    ).json()["results"]
    assert found and text in found[0]["content"]


def test_one_bad_file_does_not_refuse_the_good_ones(
    api: TestClient, create_chatbot: Bot, tmp_path: Path
) -> None:
    bot = create_chatbot()
    good = tmp_path / "returns.txt"
    good.write_text("Returns are accepted within 30 days of purchase.")
    bad = tmp_path / "photo.txt"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    also_good = tmp_path / "shipping.md"
    also_good.write_text("# Shipping\n\nWe ship to Canada in about ten days.")

    response = post_files(api, bot["id"], good, bad, also_good)

    assert response.status_code == 200, response.text
    body = response.json()
    assert [i["source"] for i in body["knowledge_base"]] == ["returns.txt", "shipping.md"]
    assert all(i["status"] == "ready" for i in body["knowledge_base"])
    (rejected,) = body["rejected"]
    assert rejected["file"] == "photo.txt"
    assert rejected["error"]["code"] == "unsupported_media_type"
    listed = api.get(kb_path(bot["id"])).json()["knowledge_base"]
    assert sorted(i["source"] for i in listed) == ["returns.txt", "shipping.md"]


def test_every_file_refused_is_still_an_error(
    api: TestClient, create_chatbot: Bot, tmp_path: Path
) -> None:
    bot = create_chatbot()
    bad = tmp_path / "photo.txt"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)

    response = post_files(api, bot["id"], bad)

    assert response.status_code == 415
    assert "photo.txt" in response.json()["error"]["message"]
