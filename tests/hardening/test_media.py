"""Finding 1: /media serves a chatbot's live avatar by its exact key, and nothing else.

The attack: chatbot ids are public in avatar URLs and item ids come back in chat sources, so a
path that climbs out of ``avatars/`` reaches any tenant's knowledge files. Each encoding is sent
over a real socket, byte for byte, so that no client normalises it first.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.factories.chat import live_server
from tests.factories.files import make_png

SECRET = "The vault code is 4471; never tell a customer."


def raw_get(base_url: str, target: str) -> tuple[int, bytes]:
    """GET ``target`` exactly as written (no normalisation); the status and body."""
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
        conn.sendall(
            f"GET {target} HTTP/1.1\r\nHost: {address.netloc}\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


@pytest.fixture
def victim(api: TestClient, tmp_path: Any) -> dict[str, str]:
    """A chatbot with an avatar and a knowledge file holding a secret."""
    bot = api.post("/api/external/chatbots", json={"name": "Victim"}).json()["chatbot"]
    png = make_png(tmp_path / "logo.png")
    with png.open("rb") as handle:
        avatared = api.patch(
            f"/api/external/chatbot/{bot['id']}/update-avatar",
            files={"avatar": ("logo.png", handle, "image/png")},
        )
    assert avatared.status_code == 200, avatared.text
    uploaded = api.post(
        f"/api/external/chatbot/{bot['id']}/knowledge-base/files",
        files={"files": ("secret.txt", SECRET.encode(), "text/plain")},
    )
    assert uploaded.status_code == 200, uploaded.text
    item_id = uploaded.json()["knowledge_base"][0]["id"]
    avatar_url = avatared.json()["chatbot"]["settings"]["avatar"]
    return {
        "bot": bot["id"],
        "item": item_id,
        "avatar_path": urlsplit(avatar_url).path,
        "file": f"chatbots/{bot['id']}/files/{item_id}/secret.txt",
    }


@pytest.fixture
def base_url(app: FastAPI, client: TestClient) -> Iterator[str]:
    with live_server(app) as url:
        yield url


def test_the_live_avatar_is_public(base_url: str, victim: dict[str, str]) -> None:
    status, body = raw_get(base_url, victim["avatar_path"])
    assert status == 200
    assert body.startswith(b"\x89PNG")


def attacks(victim: dict[str, str]) -> list[str]:
    bot, file = victim["bot"], victim["file"]
    up = f"avatars/chatbot/{bot}"
    return [
        f"/media/{file}",
        f"/media/avatars/../{file}",
        f"/media/avatars/chatbot/../../{file}",
        f"/media/avatars/%2e%2e/{file}",
        f"/media/avatars/%2E%2E/{file}",
        f"/media/avatars/%252e%252e/{file}",
        f"/media/avatars/..%2f{file}",
        f"/media/avatars%2f..%2f{file.replace('/', '%2f')}",
        f"/media/avatars/..%5c{file}",
        f"/media/avatars/..\\{file}",
        f"/media/{up}/../../../{file}",
        f"/media/{up}/%2e%2e/%2e%2e/%2e%2e/{file}",
        f"/media//{file}",
        "/media//etc/passwd",
        "/media/%2fetc%2fpasswd",
        "/media/avatars/../../../../../../etc/passwd",
        "/media/avatars/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/media/avatars/../secret.key",
        "/media/avatars/%2e%2e/chatforge.db",
        "/media/avatars/../../chatforge.db",
    ]


def test_no_encoding_of_a_path_reaches_a_knowledge_file(
    base_url: str, victim: dict[str, str]
) -> None:
    for target in attacks(victim):
        status, body = raw_get(base_url, target)
        assert SECRET.encode() not in body, target
        assert b"SQLite format" not in body, target
        assert status in (400, 404), (target, status)


def test_a_replaced_or_cleared_avatar_is_no_longer_served(
    api: TestClient, base_url: str, victim: dict[str, str], tmp_path: Any
) -> None:
    old = victim["avatar_path"]
    png = make_png(tmp_path / "new.png", size=8)
    with png.open("rb") as handle:
        api.patch(
            f"/api/external/chatbot/{victim['bot']}/update-avatar",
            files={"avatar": ("new.png", handle, "image/png")},
        )
    assert raw_get(base_url, old)[0] == 404
    new = urlsplit(
        api.get(f"/api/external/chatbot/{victim['bot']}").json()["chatbot"]["settings"]["avatar"]
    ).path
    assert raw_get(base_url, new)[0] == 200

    api.patch(f"/api/external/chatbot/{victim['bot']}", json={"settings": {"avatar": None}})
    assert raw_get(base_url, new)[0] == 404


def test_a_deleted_chatbots_avatar_is_gone(
    api: TestClient, base_url: str, victim: dict[str, str]
) -> None:
    api.delete(f"/api/external/chatbot/{victim['bot']}")
    assert raw_get(base_url, victim["avatar_path"])[0] == 404
