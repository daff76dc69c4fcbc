"""The live call over WebSocket: turns detected by the VAD, answers spoken, barge-in."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from tests.factories.chat import make_store_bot, messages_of
from tests.public.helpers import say
from tests.voice.audio import spoken_wav, words

from chatforge.providers.speech import VadParams
from chatforge.providers.speech.audio import decode, pcm16
from chatforge.providers.speech.turns import FRAME, SpeechStarted, TurnDetector, Utterance

pytestmark = [pytest.mark.usefixtures("reuse_embedder"), pytest.mark.slow]

CHUNK = 3200  # 100 ms of 16 kHz 16-bit PCM, as a browser's AudioWorklet sends it


def pcm_of(wav: bytes, *, silence_after: float = 1.2) -> bytes:
    """A recording as the 16 kHz PCM a client streams, with silence after it."""
    audio = decode(wav, max_seconds=60)
    tail = np.zeros(int(silence_after * 16_000), dtype=np.float32)
    return pcm16(np.concatenate([audio.samples, tail]))


def stream(ws: WebSocketTestSession, pcm: bytes) -> None:
    for start in range(0, len(pcm), CHUNK):
        ws.send_bytes(pcm[start : start + CHUNK])


def until(ws: WebSocketTestSession, kind: str) -> tuple[list[dict[str, Any]], bytes]:
    """The events (and audio) received up to and including the first event of ``kind``."""
    events: list[dict[str, Any]] = []
    audio = b""
    while True:
        message = ws.receive()
        if message.get("bytes") is not None:
            audio += message["bytes"]
            continue
        event = json.loads(message["text"])
        events.append(event)
        if event["type"] in (kind, "error"):
            assert event["type"] == kind, event
            return events, audio


def test_turn_detector_cuts_a_stream_at_each_silence() -> None:
    first = decode(spoken_wav("What are your opening hours?", pad_seconds=0.8), max_seconds=60)
    second = decode(spoken_wav("Do you ship abroad?", pad_seconds=0.8), max_seconds=60)
    pcm = pcm16(np.concatenate([first.samples, second.samples]))
    probabilities: list[float] = []

    def energy(frame: np.ndarray[Any, Any]) -> float:  # a stand-in VAD: loud frames are speech
        probabilities.append(float(np.abs(frame).mean()))
        return 1.0 if probabilities[-1] > 0.01 else 0.0

    detector = TurnDetector(VadParams(0.5, 300, 400), energy)
    events = [
        e for start in range(0, len(pcm), 1001) for e in detector.feed(pcm[start : start + 1001])
    ]
    kinds = [type(e) for e in events]
    assert kinds == [SpeechStarted, Utterance, SpeechStarted, Utterance]
    assert len(probabilities) == len(pcm) // 2 // FRAME  # every frame seen once, odd pieces too
    heard = events[1]
    assert isinstance(heard, Utterance) and 1.5 < heard.audio.seconds < 3.5


def test_a_call_answers_each_spoken_question_aloud_and_stores_it(
    api: TestClient, question_wav: bytes
) -> None:
    bot = make_store_bot(api, voice_widget_config={"voice": "echo", "vad": {"threshold": 0.5}})
    path = f"/api/external/chatbot/{bot['id']}/voice/realtime?sessionToken=caller-7"
    with api.websocket_connect(path, headers={"x-api-key": api.headers["x-api-key"]}) as ws:
        ready = ws.receive_json()
        assert ready["type"] == "ready" and ready["input_sample_rate"] == 16_000
        stream(ws, pcm_of(question_wav))
        events, audio = until(ws, "answer")
        ws.send_text(json.dumps({"type": "end"}))
    kinds = [e["type"] for e in events]
    states = [e["state"] for e in events if e["type"] == "state"]
    assert states[:3] == ["listening", "thinking", "speaking"], states
    assert kinds.index("transcript") < kinds.index("sources") < kinds.index("answer")
    transcript = next(e for e in events if e["type"] == "transcript")
    assert words(transcript["text"]) == ["what", "are", "your", "opening", "hours"]
    sources = next(e for e in events if e["type"] == "sources")["sources"]
    assert sources[0]["title"] == "Opening hours"
    answer = events[-1]
    assert "9am" in answer["text"]
    assert len(audio) / 2 / ready["output_sample_rate"] > 1.0  # the answer, spoken
    session_id = next(e for e in events if e["type"] == "session")["session_id"]
    stored = messages_of(api, bot["id"], session_id)
    assert [m["sender_type"] for m in stored] == ["user", "bot"]
    assert stored[0]["content"] == transcript["text"]
    assert stored[1]["id"] == answer["message_id"]


def test_speaking_over_the_answer_interrupts_it_and_starts_a_new_turn(
    api: TestClient, question_wav: bytes
) -> None:
    bot = make_store_bot(api, voice_widget_config={"voice": "alloy"})
    path = f"/api/external/chatbot/{bot['id']}/voice/realtime"
    returns = spoken_wav("How many days do I have to return a product?")
    with api.websocket_connect(path, headers={"x-api-key": api.headers["x-api-key"]}) as ws:
        ws.receive_json()
        stream(ws, pcm_of(question_wav))
        until(ws, "session")
        stream(ws, pcm_of(returns))  # the caller talks while the first answer is under way
        events, _audio = until(ws, "answer")
    kinds = [e["type"] for e in events]
    assert "interrupted" in kinds, kinds
    transcripts = [e["text"] for e in events if e["type"] == "transcript"]
    assert "return" in words(transcripts[-1])
    assert "30 days" in events[-1]["text"]


def test_a_call_needs_a_key_and_a_public_call_a_configured_public_chatbot(
    api: TestClient, client: TestClient, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    bot = create_chatbot(is_public=True)
    path = f"/api/external/chatbot/{bot['id']}/voice/realtime"
    with client.websocket_connect(path, headers={"x-api-key": "cf_wrong"}) as ws:
        assert ws.receive_json()["error"]["code"] == "unauthorized"
    public = f"/api/public/chatbot/{bot['id']}/voice/realtime"
    with client.websocket_connect(public) as ws:
        assert ws.receive_json()["error"]["code"] == "not_found"  # no voice agent
    api.patch(
        f"/api/external/chatbot/{bot['id']}",
        json={
            "voice_widget_config": {"voice": "nova"},
            "settings": {"allowedOrigins": ["https://shop.example"]},
        },
    )
    with client.websocket_connect(public, headers={"origin": "https://evil.example"}) as ws:
        assert ws.receive_json()["error"]["code"] == "origin_not_allowed"
    with client.websocket_connect(public, headers={"origin": "https://shop.example"}) as ws:
        assert ws.receive_json()["type"] == "ready"


def test_a_visitor_call_issues_a_token_and_keeps_one_session(
    api: TestClient, client: TestClient, question_wav: bytes
) -> None:
    make_store_bot(api, is_public=True, slug="talk", voice_widget_config={"voice": "nova"})
    with client.websocket_connect("/api/public/chatbot/talk/voice/realtime") as ws:
        ws.receive_json()
        stream(ws, pcm_of(question_wav))
        first, _ = until(ws, "answer")
        stream(ws, pcm_of(question_wav))
        second, _ = until(ws, "answer")
    session = next(e for e in first if e["type"] == "session")
    assert session["visitor_token"]
    again = next(e for e in second if e["type"] == "session")
    assert again["session_id"] == session["session_id"] and "visitor_token" not in again


def test_a_visitor_call_over_the_chat_limit_is_told_to_wait_and_keeps_listening(
    configured_api: Callable[..., TestClient], question_wav: bytes
) -> None:
    client = configured_api(public={"chat_per_visitor": "1/hour"})
    bot = make_store_bot(client, is_public=True, slug="busy", voice_widget_config={"voice": "nova"})
    key = client.headers.pop("x-api-key")
    path = f"/api/public/chatbot/busy/voice/realtime?visitor_token={'v' * 43}"
    with client.websocket_connect(path) as ws:
        ws.receive_json()
        stream(ws, pcm_of(question_wav))
        first, _ = until(ws, "answer")
        stream(ws, pcm_of(question_wav))
        second, audio = until(ws, "error")
        after = ws.receive_json()  # still listening: the call goes on
        stream(ws, pcm_of(question_wav))
        third, _ = until(ws, "error")
        ws.send_text(json.dumps({"type": "end"}))
    refused = second[-1]["error"]
    assert refused["code"] == "rate_limited"
    assert 0 < refused["details"]["retry_after"] <= 3600
    assert f"wait {refused['details']['retry_after']} seconds" in refused["message"]
    assert not audio and [e["type"] for e in second if e["type"] != "state"] == ["error"]
    assert after == {"type": "state", "state": "listening"}
    # While the caller must wait, what they say is refused without being transcribed.
    assert [e["type"] for e in third] == ["error"]
    assert third[0]["error"]["code"] == "rate_limited"
    client.headers["x-api-key"] = key
    session_id = next(e for e in first if e["type"] == "session")["session_id"]
    stored = messages_of(client, bot["id"], session_id)
    assert [m["sender_type"] for m in stored] == ["user", "bot"]


def test_a_typed_message_and_a_call_on_another_server_share_the_visitors_limit(
    configured_api: Callable[..., TestClient], redis_url: str, question_wav: bytes
) -> None:
    limits = {"limits": {"storage_url": redis_url}, "public": {"chat_per_visitor": "1/hour"}}
    typing = configured_api(**limits)
    make_store_bot(typing, is_public=True, slug="shared", voice_widget_config={"voice": "nova"})
    calling = configured_api(**limits)  # a second server of the same deployment
    token = "t" * 43
    typed = say(typing, "shared", "What are your opening hours?", token=token)
    assert typed.status_code == 200, typed.text
    path = f"/api/public/chatbot/shared/voice/realtime?visitor_token={token}"
    with calling.websocket_connect(path) as ws:
        ws.receive_json()
        stream(ws, pcm_of(question_wav))
        events, audio = until(ws, "error")
        ws.send_text(json.dumps({"type": "end"}))
    assert events[-1]["error"]["code"] == "rate_limited"
    assert "transcript" not in [e["type"] for e in events] and not audio
