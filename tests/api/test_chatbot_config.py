"""Avatar, voice agent and chat widget endpoints (API.md §2 rows 6-8)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from chatforge.settings import Settings

OKCHAT_VOICE = {
    "agentId": "5f0c7c8e-8f55-4f0a-9a44-3f0c4c1b9d10",
    "appearance": {
        "backgroundColor": "#ffffff", "borderColor": "#e1e1e1", "buttonColor": "#000000",
        "buttonRadius": 32, "buttonTextColor": "#ffffff", "cardRadius": 20,
        "focusOutlineColor": "#000000", "textColor": "#000000",
    },
    "avatar": {"imageUrl": "https://example.com/agent.png"},
    "model": {"max_output_tokens": 2048, "temperature": 0.7},
    "text": {
        "callToAction": "Talk to us", "endCall": "End", "listeningStatus": "Listening",
        "speakingStatus": "Talk to interrupt", "startCall": "Start a call",
    },
    "vad": {"prefix_padding_ms": 500, "silence_duration_ms": 1000, "threshold": 0.8},
    "voice": "shimmer",
}  # fmt: skip


def image_bytes(image_format: str, size: tuple[int, int] = (16, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "teal").save(buffer, image_format)
    return buffer.getvalue()


@pytest.fixture
def chatbot(create_chatbot: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return create_chatbot(name="Avatar Bot")


@pytest.mark.parametrize(
    ("image_format", "extension", "media_type"),
    [("PNG", "png", "image/png"), ("JPEG", "jpg", "image/jpeg"),
     ("WEBP", "webp", "image/webp"), ("GIF", "gif", "image/gif")],
)  # fmt: skip
def test_avatar_of_each_type_is_stored_and_served(
    api: TestClient, chatbot: dict[str, Any], image_format: str, extension: str, media_type: str
) -> None:
    content = image_bytes(image_format)

    response = api.patch(
        f"/api/external/chatbot/{chatbot['id']}/update-avatar",
        files={"avatar": (f"me.{extension}", content, "application/octet-stream")},
    )

    assert response.status_code == 200, response.text
    assert response.json()["message"] == "Avatar updated successfully"
    url = response.json()["chatbot"]["settings"]["avatar"]
    assert url.startswith(f"http://testserver/media/avatars/chatbot/{chatbot['id']}/")
    assert url.endswith(f".{extension}")
    served = api.get(url.removeprefix("http://testserver"), headers={"x-api-key": ""})
    assert served.status_code == 200
    assert served.content == content
    assert served.headers["content-type"] == media_type


def test_replacing_an_avatar_removes_the_old_file(
    api: TestClient, chatbot: dict[str, Any], settings: Settings
) -> None:
    path = f"/api/external/chatbot/{chatbot['id']}/update-avatar"
    first = api.patch(path, files={"avatar": ("a.png", image_bytes("PNG"), "image/png")})
    second = api.patch(path, files={"avatar": ("b.gif", image_bytes("GIF"), "image/gif")})

    old_url = first.json()["chatbot"]["settings"]["avatar"].removeprefix("http://testserver")
    new_url = second.json()["chatbot"]["settings"]["avatar"].removeprefix("http://testserver")
    assert api.get(old_url).status_code == 404
    assert api.get(new_url).status_code == 200
    stored = list((settings.data_dir / "files" / "avatars").rglob("*.*"))
    assert [p.name for p in stored] == [new_url.rsplit("/", 1)[1]]


def test_clearing_the_avatar_stops_serving_its_file(
    api: TestClient, chatbot: dict[str, Any], settings: Settings
) -> None:
    path = f"/api/external/chatbot/{chatbot['id']}/update-avatar"
    uploaded = api.patch(path, files={"avatar": ("a.png", image_bytes("PNG"), "image/png")})
    url = uploaded.json()["chatbot"]["settings"]["avatar"].removeprefix("http://testserver")
    unrelated = api.patch(
        f"/api/external/chatbot/{chatbot['id']}", json={"settings": {"greeting": "Hi!"}}
    )
    assert unrelated.status_code == 200 and api.get(url).status_code == 200

    cleared = api.patch(
        f"/api/external/chatbot/{chatbot['id']}", json={"settings": {"avatar": None}}
    )

    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["chatbot"]["settings"].get("avatar") is None
    assert api.get(url).status_code == 404
    assert list((settings.data_dir / "files" / "avatars").rglob("*.*")) == []


def test_text_file_named_png_is_415(api: TestClient, chatbot: dict[str, Any]) -> None:
    response = api.patch(
        f"/api/external/chatbot/{chatbot['id']}/update-avatar",
        files={"avatar": ("evil.png", b"<script>alert(1)</script>", "image/png")},
    )

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_bmp_image_is_415(api: TestClient, chatbot: dict[str, Any]) -> None:
    response = api.patch(
        f"/api/external/chatbot/{chatbot['id']}/update-avatar",
        files={"avatar": ("x.bmp", image_bytes("BMP"), "image/bmp")},
    )

    assert response.status_code == 415
    assert "PNG" in response.json()["error"]["message"]


def test_oversized_avatar_is_413_and_nothing_is_kept(
    api: TestClient, chatbot: dict[str, Any], settings: Settings
) -> None:
    big = image_bytes("PNG") + b"\0" * (settings.uploads.max_avatar_bytes + 1)

    response = api.patch(
        f"/api/external/chatbot/{chatbot['id']}/update-avatar",
        files={"avatar": ("big.png", big, "image/png")},
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert not list((settings.data_dir / "files").rglob("*.*"))
    assert not list((settings.data_dir / "tmp").iterdir())
    after = api.get(f"/api/external/chatbot/{chatbot['id']}").json()["chatbot"]
    assert "avatar" not in after["settings"]


def test_deleting_a_chatbot_removes_its_avatar_file(
    api: TestClient, chatbot: dict[str, Any]
) -> None:
    response = api.patch(
        f"/api/external/chatbot/{chatbot['id']}/update-avatar",
        files={"avatar": ("a.png", image_bytes("PNG"), "image/png")},
    )
    url = response.json()["chatbot"]["settings"]["avatar"].removeprefix("http://testserver")

    api.delete(f"/api/external/chatbot/{chatbot['id']}")

    assert api.get(url).status_code == 404


def test_voice_agent_round_trips_okchat_example_and_deep_merges(
    api: TestClient, chatbot: dict[str, Any]
) -> None:
    path = f"/api/external/chatbot/{chatbot['id']}/voice-agent"

    first = api.patch(path, json=OKCHAT_VOICE)
    second = api.patch(path, json={"vad": {"threshold": 0.5}, "text": {"endCall": None}})

    assert first.status_code == 200
    assert first.json() == {
        "message": "Voice widget config updated successfully",
        "voice_widget_config": OKCHAT_VOICE,
    }
    merged = second.json()["voice_widget_config"]
    assert merged["vad"] == {
        "prefix_padding_ms": 500,
        "silence_duration_ms": 1000,
        "threshold": 0.5,
    }
    assert "endCall" not in merged["text"]
    assert merged["voice"] == "shimmer"
    stored = api.get(f"/api/external/chatbot/{chatbot['id']}").json()["chatbot"]
    assert stored["voice_widget_config"] == merged


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"appearance": {"buttonColor": "black"}}, "appearance.buttonColor"),
        ({"vad": {"threshold": 1.5}}, "vad.threshold"),
        ({"vad": {"silence_duration_ms": -1}}, "vad.silence_duration_ms"),
        ({"appearance": {"cardRadius": -4}}, "appearance.cardRadius"),
        ({"model": {"temperature": 2.5}}, "model.temperature"),
        ({"voice": 7}, "voice"),
    ],
)
def test_voice_agent_checks_types(
    api: TestClient, chatbot: dict[str, Any], patch: dict[str, Any], field: str
) -> None:
    response = api.patch(f"/api/external/chatbot/{chatbot['id']}/voice-agent", json=patch)

    assert response.status_code == 422
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]


def test_chat_widget_writes_the_snippet(api: TestClient, chatbot: dict[str, Any]) -> None:
    response = api.patch(
        f"/api/external/chatbot/{chatbot['id']}/chat-widget",
        json={"header": "Need help?", "language": "fr", "primaryColor": "#112233", "fontSize": 14},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Chat widget config updated successfully"
    snippet = body["chat_widget_config"]
    assert snippet["header"] == "Need help?"
    assert snippet["fontSize"] == 14  # unknown keys are kept, as in settings.snippet
    assert snippet["language"] == "fr"
    assert snippet["primaryColor"] == "#112233"
    assert snippet["secondaryColor"] == "#10B981"
    stored = api.get(f"/api/external/chatbot/{chatbot['id']}").json()["chatbot"]
    assert stored["settings"]["snippet"] == snippet


def test_chat_widget_rejects_a_bad_colour(api: TestClient, chatbot: dict[str, Any]) -> None:
    response = api.patch(
        f"/api/external/chatbot/{chatbot['id']}/chat-widget", json={"secondaryColor": "#12"}
    )

    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "secondaryColor"


def test_logos_and_avatars_must_be_web_addresses(api: TestClient, chatbot: dict[str, Any]) -> None:
    path = f"/api/external/chatbot/{chatbot['id']}"
    scripted = [
        api.patch(path, json={"settings": {"snippet": {"logo": "javascript:alert(1)"}}}),
        api.patch(path, json={"settings": {"avatar": "data:text/html,<script>x</script>"}}),
        api.patch(f"{path}/chat-widget", json={"logo": "JavaScript:alert(1)"}),
        api.patch(f"{path}/voice-agent", json={"avatar": {"imageUrl": "javascript:x"}}),
    ]
    fine = api.patch(f"{path}/chat-widget", json={"logo": "https://cdn.shop.example/logo.png"})

    assert [r.status_code for r in scripted] == [422, 422, 422, 422]
    assert fine.status_code == 200
    assert fine.json()["chat_widget_config"]["logo"] == "https://cdn.shop.example/logo.png"
