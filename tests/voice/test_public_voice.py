"""The public voice endpoints: a visitor with no key talks to a public chatbot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.factories.chat import conversations_path, make_store_bot, messages_of
from tests.public.helpers import public_path, visitor_headers
from tests.voice.audio import words

pytestmark = [pytest.mark.usefixtures("reuse_embedder"), pytest.mark.slow]


@pytest.fixture
def visitor(app: Any, client: TestClient) -> TestClient:
    """A client with no API key (the app is already started by ``client``)."""
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def voice_shop(api: TestClient) -> dict[str, Any]:
    """A public shop chatbot with its voice agent configured."""
    return make_store_bot(
        api,
        is_public=True,
        slug="voice-shop",
        voice_widget_config={"voice": "nova", "vad": {"threshold": 0.6}},
    )


def talk(
    visitor: TestClient,
    chatbot: str,
    wav: bytes,
    *,
    token: str | None = None,
    session_id: str | None = None,
) -> Any:
    data = {"session_id": session_id} if session_id else {}
    return visitor.post(
        public_path(chatbot, "/voice/chat"),
        files={"file": ("q.wav", wav, "audio/wav")},
        data=data,
        headers=visitor_headers(token),
    )


def test_a_visitor_talks_and_the_operator_sees_the_conversation(
    api: TestClient, visitor: TestClient, voice_shop: dict[str, Any], question_wav: bytes
) -> None:
    first = talk(visitor, "voice-shop", question_wav)
    assert first.status_code == 200, first.text
    body = first.json()
    token = body["visitor_token"]
    assert "opening" in words(body["transcript"]["text"])
    assert "9am" in body["response"]
    assert body["audio"]["data"]
    assert set(body["sources"][0]) == {"ref", "knowledge_id", "title", "source", "url"}
    assert "voice_path" not in body  # where recordings live is the operator's business
    second = talk(visitor, "voice-shop", question_wav, token=token, session_id=body["session_id"])
    assert second.status_code == 200, second.text
    assert second.json()["session_id"] == body["session_id"]
    assert "visitor_token" not in second.json()
    stored = messages_of(api, voice_shop["id"], body["session_id"])
    assert [m["sender_type"] for m in stored] == ["user", "bot", "user", "bot"]
    listed = api.get(conversations_path(voice_shop["id"])).json()["data"]
    assert listed[0]["voice_path"].startswith(f"chatbots/{voice_shop['id']}/recordings/")


def test_another_visitor_cannot_continue_someone_elses_session(
    visitor: TestClient, voice_shop: dict[str, Any], question_wav: bytes
) -> None:
    body = talk(visitor, "voice-shop", question_wav).json()
    stranger = talk(visitor, "voice-shop", question_wav, session_id=body["session_id"])
    assert stranger.status_code == 404
    forged = talk(
        visitor, "voice-shop", question_wav, token="x" * 43, session_id=body["session_id"]
    )
    assert forged.status_code == 404


def test_transcribe_and_speak_work_for_visitors(
    visitor: TestClient, voice_shop: dict[str, Any], question_wav: bytes
) -> None:
    heard = visitor.post(
        public_path("voice-shop", "/voice/transcribe"),
        files={"file": ("q.wav", question_wav, "audio/wav")},
    )
    assert heard.status_code == 200, heard.text
    # Whisper tiny.en sometimes hears "opening ours" (or "now"): "opening" is the word it keeps.
    assert {"what", "opening"} <= set(words(heard.json()["text"])), heard.json()
    spoken = visitor.post(public_path("voice-shop", "/voice/speak"), json={"text": "Welcome!"})
    assert spoken.status_code == 200
    assert spoken.content[:4] == b"RIFF"


def test_private_chatbots_and_chatbots_without_voice_have_no_public_voice(
    api: TestClient,
    visitor: TestClient,
    create_chatbot: Callable[..., dict[str, Any]],
    question_wav: bytes,
) -> None:
    private = create_chatbot(voice_widget_config={"voice": "alloy"})
    mute = create_chatbot(is_public=True)
    for bot in (private, mute):
        response = talk(visitor, bot["id"], question_wav)
        assert response.status_code == 404, response.text
        speak = visitor.post(public_path(bot["id"], "/voice/speak"), json={"text": "Hi"})
        assert speak.status_code == 404


def test_a_refused_origin_cannot_use_the_voice(
    api: TestClient, visitor: TestClient, voice_shop: dict[str, Any]
) -> None:
    api.patch(
        f"/api/external/chatbot/{voice_shop['id']}",
        json={"settings": {"allowedOrigins": ["https://shop.example"]}},
    )
    refused = visitor.post(
        public_path("voice-shop", "/voice/speak"),
        json={"text": "Hi"},
        headers={"Origin": "https://evil.example"},
    )
    assert refused.status_code == 403
    allowed = visitor.post(
        public_path("voice-shop", "/voice/speak"),
        json={"text": "Hi"},
        headers={"Origin": "https://shop.example"},
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"


def test_the_call_button_gets_its_look_and_labels_but_no_model_settings(
    api: TestClient, visitor: TestClient, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    bot = create_chatbot(
        is_public=True,
        voice_widget_config={
            "voice": "shimmer",
            "appearance": {"buttonColor": "#112233", "buttonRadius": 32},
            "text": {"startCall": "Call us", "endCall": "Hang up"},
            "avatar": {"imageUrl": "https://cdn.example/a.png"},
            "model": {"temperature": 0.2, "max_output_tokens": 99},
            "agentId": "secret-agent",
        },
    )
    response = visitor.get(public_path(bot["id"], "/voice"))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "appearance": {"buttonColor": "#112233", "buttonRadius": 32},
        "text": {"startCall": "Call us", "endCall": "Hang up"},
        "avatar": "https://cdn.example/a.png",
        "input_sample_rate": 16000,
    }
    mute = create_chatbot(is_public=True)
    assert visitor.get(public_path(mute["id"], "/voice")).status_code == 404


def test_a_visitor_address_is_limited_on_voice_as_on_chat(
    configured_api: Callable[..., TestClient], question_wav: bytes
) -> None:
    from starlette.websockets import WebSocketDisconnect

    client = configured_api(public={"chat_per_ip": "2/hour"})
    make_store_bot(client, is_public=True, slug="busy", voice_widget_config={"voice": "nova"})
    client.headers.pop("x-api-key")
    heard = client.post(
        public_path("busy", "/voice/transcribe"),
        files={"file": ("q.wav", question_wav, "audio/wav")},
    )
    spoken = client.post(public_path("busy", "/voice/speak"), json={"text": "Hello"})
    # Over the address's limit: more speech work is refused, and so is a live call.
    refused = client.post(public_path("busy", "/voice/speak"), json={"text": "Hello again"})
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect(public_path("busy", "/voice/realtime")) as call,
    ):
        call.receive_json()

    assert (heard.status_code, spoken.status_code) == (200, 200)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert closed.value.code == 1008
