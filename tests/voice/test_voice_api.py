"""The voice endpoints with an API key, on SQLite and PostgreSQL, with real speech."""

from __future__ import annotations

import base64
import io
import wave
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.factories.chat import make_store_bot, messages_of
from tests.voice.audio import reencode, words

from chatforge.providers.speech.audio import decode
from chatforge.services.context import AppContext

pytestmark = [pytest.mark.usefixtures("reuse_embedder"), pytest.mark.slow]


#: The words of "Your order will arrive on Monday. Thank you for waiting." that must be heard.
_SAID = frozenset({"order", "arrive", "monday", "thank", "waiting"})


def voice_path(chatbot_id: str, rest: str) -> str:
    return f"/api/external/chatbot/{chatbot_id}/voice/{rest}"


def upload(wav: bytes, name: str = "question.wav", kind: str = "audio/wav") -> dict[str, Any]:
    return {"file": (name, wav, kind)}


def test_transcribe_returns_the_words_language_and_duration(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]], question_wav: bytes
) -> None:
    bot = create_chatbot()
    response = api.post(voice_path(bot["id"], "transcribe"), files=upload(question_wav))
    assert response.status_code == 200, response.text
    body = response.json()
    assert words(body["text"]) == ["what", "are", "your", "opening", "hours"]
    assert body["language"] == "en"
    assert 2.0 < body["duration"] < 5.0


def test_transcribe_takes_the_webm_opus_a_browser_records(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]], question_wav: bytes
) -> None:
    bot = create_chatbot()
    webm = reencode(question_wav, "webm")
    files = upload(webm, "blob", "application/octet-stream")  # the name and type are not trusted
    response = api.post(voice_path(bot["id"], "transcribe"), files=files)
    assert response.status_code == 200, response.text
    assert "opening" in words(response.json()["text"])


def test_silence_is_a_clear_no_speech_error(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]], silence_wav: bytes
) -> None:
    bot = create_chatbot()
    response = api.post(voice_path(bot["id"], "transcribe"), files=upload(silence_wav))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "no_speech"
    assert "No speech" in error["message"]


def test_a_file_that_is_not_audio_is_415_naming_the_formats(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    bot = create_chatbot()
    files = upload(b"Hello, this is a text file pretending to be audio.\n" * 50, "a.wav")
    response = api.post(voice_path(bot["id"], "transcribe"), files=files)
    assert response.status_code == 415
    assert "WAV, WebM/Opus, OGG, MP3 and M4A" in response.json()["error"]["message"]


def test_audio_over_the_size_or_duration_limit_is_413(
    configured_api: Callable[..., TestClient], question_wav: bytes
) -> None:
    small = configured_api(voice={"max_audio_bytes": 20_000})
    bot = small.post("/api/external/chatbots", json={"name": "Bot"}).json()["chatbot"]
    response = small.post(voice_path(bot["id"], "transcribe"), files=upload(question_wav))
    assert response.status_code == 413
    assert "CHATFORGE_VOICE__MAX_AUDIO_BYTES" in response.json()["error"]["message"]
    short = configured_api(voice={"max_audio_seconds": 1.0})
    response = short.post(voice_path(bot["id"], "transcribe"), files=upload(question_wav))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "audio_too_long"


def test_another_organizations_chatbot_is_not_found(
    client: TestClient,
    make_key: Callable[[str], str],
    create_chatbot: Callable[..., dict[str, Any]],
    question_wav: bytes,
) -> None:
    bot = create_chatbot()
    other = {"x-api-key": make_key("globex")}
    for rest in ("transcribe", "chat"):
        response = client.post(
            voice_path(bot["id"], rest), files=upload(question_wav), headers=other
        )
        assert response.status_code == 404, response.text
    response = client.post(voice_path(bot["id"], "speak"), json={"text": "Hi"}, headers=other)
    assert response.status_code == 404
    wrong = {"x-api-key": "cf_not_a_key"}
    response = client.post(voice_path(bot["id"], "speak"), json={"text": "Hi"}, headers=wrong)
    assert response.status_code == 401


def test_speak_streams_a_wav_that_says_the_text(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    bot = create_chatbot(voice_widget_config={"voice": "shimmer"})
    text = "Your order will arrive on Monday. Thank you for waiting."
    with api.stream("POST", voice_path(bot["id"], "speak"), json={"text": text}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "audio/wav"
        chunks = list(response.iter_bytes())
    wav = b"".join(chunks)
    assert wav[:4] == b"RIFF"
    transcript = api.post(voice_path(bot["id"], "transcribe"), files=upload(wav)).json()
    missed = _SAID - set(words(transcript["text"]))
    assert len(missed) <= 1, transcript  # Piper's voice varies a little from run to run


def test_speak_as_raw_pcm_says_its_sample_rate(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    bot = create_chatbot()
    response = api.post(voice_path(bot["id"], "speak"), json={"text": "Hello.", "format": "pcm"})
    assert response.status_code == 200
    rate = int(response.headers["x-sample-rate"])
    assert response.headers["content-type"].startswith(f"audio/L16;rate={rate}")
    assert 0.3 < len(response.content) / 2 / rate < 3.0


def test_speak_refuses_an_unknown_voice_and_empty_or_long_text(
    configured_api: Callable[..., TestClient],
) -> None:
    api = configured_api(voice={"max_speak_chars": 50})
    bot = api.post("/api/external/chatbots", json={"name": "Bot"}).json()["chatbot"]
    path = voice_path(bot["id"], "speak")
    unknown = api.post(path, json={"text": "Hi", "voice": "robot"})
    assert unknown.status_code == 422
    assert "Unknown voice 'robot'" in unknown.json()["error"]["message"]
    assert api.post(path, json={"text": "   "}).status_code == 422
    too_long = api.post(path, json={"text": "word " * 20})
    assert too_long.status_code == 422
    assert "at most 50" in too_long.json()["error"]["message"]


def test_voice_agent_refuses_an_unknown_voice_at_update_time(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    bot = create_chatbot()
    path = f"/api/external/chatbot/{bot['id']}/voice-agent"
    refused = api.patch(path, json={"voice": "robot"})
    assert refused.status_code == 422
    assert "shimmer" in refused.json()["error"]["message"]  # it lists the known voices
    assert api.patch(path, json={"voice": "echo"}).status_code == 200


def test_a_spoken_turn_is_answered_spoken_and_stored_with_its_recording(
    api: TestClient, ctx: AppContext, question_wav: bytes
) -> None:
    bot = make_store_bot(api, voice_widget_config={"voice": "alloy"})
    response = api.post(
        voice_path(bot["id"], "chat"),
        files=upload(question_wav),
        data={"platform": "web", "sessionToken": "caller-1"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert words(body["transcript"]["text"]) == ["what", "are", "your", "opening", "hours"]
    assert "9am" in body["response"] and "6pm" in body["response"], body["response"]
    assert body["sources"][0]["title"] == "Opening hours"
    audio = base64.b64decode(body["audio"]["data"])
    with wave.open(io.BytesIO(audio)) as spoken:
        assert spoken.getframerate() == body["audio"]["sample_rate"]
        assert spoken.getnframes() / spoken.getframerate() > 1.0
    # The turn is in the conversation like a typed one, with the recording kept.
    stored = messages_of(api, bot["id"], body["session_id"])
    assert [m["sender_type"] for m in stored] == ["user", "bot"]
    assert stored[0]["content"] == body["transcript"]["text"]
    assert stored[1]["content"] == body["response"]
    session = api.get(f"/api/external/chatbot/{bot['id']}/conversations/{body['session_id']}")
    assert body["voice_path"].endswith(".wav")
    assert session.json()["session"]["voice_path"] == body["voice_path"]
    with ctx.files.open(body["voice_path"]) as recording:
        kept = decode(recording.read(), max_seconds=60)
    assert 2.0 < kept.seconds < 5.0
    # The same caller's next spoken turn continues the session.
    again = api.post(
        voice_path(bot["id"], "chat"),
        files=upload(question_wav),
        data={"sessionToken": "caller-1"},
    )
    assert again.json()["session_id"] == body["session_id"]


def test_recordings_are_not_kept_when_retention_is_zero(
    configured_api: Callable[..., TestClient], question_wav: bytes
) -> None:
    api = configured_api(voice={"recording_retention_days": 0})
    bot = make_store_bot(api)
    body = api.post(voice_path(bot["id"], "chat"), files=upload(question_wav)).json()
    assert body["voice_path"] is None
    assert body["response"]


def test_without_the_voice_install_the_endpoints_say_how_to_enable_it(
    api: TestClient,
    create_chatbot: Callable[..., dict[str, Any]],
    question_wav: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chatforge.providers.speech import registry

    # As if one package of the voice extra were missing from this environment.
    missing = {**registry._LOCAL_MODULES, "chatforge_absent_voice_model": "absent-voice-model"}
    monkeypatch.setattr(registry, "_LOCAL_MODULES", missing)
    bot = create_chatbot()
    for response in (
        api.post(voice_path(bot["id"], "transcribe"), files=upload(question_wav)),
        api.post(voice_path(bot["id"], "speak"), json={"text": "Hello."}),
    ):
        assert response.status_code == 503
        error = response.json()["error"]
        assert "pip install 'chatforge[voice]'" in error["message"]
        assert "absent-voice-model" in error["message"]


def test_recordings_go_with_their_chatbot_and_with_quiet_conversations(
    api: TestClient, ctx: AppContext, question_wav: bytes
) -> None:
    from datetime import timedelta

    from chatforge.errors import NotFound
    from chatforge.services.voice.recordings import purge_recordings
    from chatforge.storage.models import ChatSession, utcnow

    quiet = make_store_bot(api, name="Quiet")
    old = api.post(voice_path(quiet["id"], "chat"), files=upload(question_wav)).json()
    recent = api.post(voice_path(quiet["id"], "chat"), files=upload(question_wav)).json()
    with ctx.db.sessions() as db:  # one conversation has been quiet for longer than 30 days
        session = db.get(ChatSession, old["session_id"])
        assert session is not None
        session.updated_at = utcnow() - timedelta(days=31)
        db.commit()
    assert purge_recordings(ctx) == 1
    with pytest.raises(NotFound), ctx.files.open(old["voice_path"]):
        pass
    with ctx.files.open(recent["voice_path"]) as kept:
        assert kept.read(4) == b"RIFF"
    conversation = api.get(f"/api/external/chatbot/{quiet['id']}/conversations/{old['session_id']}")
    assert conversation.json()["session"]["voice_path"] is None
    assert api.delete(f"/api/external/chatbot/{quiet['id']}").status_code == 200
    with pytest.raises(NotFound), ctx.files.open(recent["voice_path"]):
        pass


@pytest.mark.parametrize(
    ("audio_format", "media_type"), [("mp3", "audio/mpeg"), ("opus", "audio/ogg")]
)
def test_speak_streams_mp3_or_opus_on_request(
    api: TestClient,
    create_chatbot: Callable[..., dict[str, Any]],
    audio_format: str,
    media_type: str,
) -> None:
    bot = create_chatbot()
    text = "Your order will arrive on Monday. Thank you for waiting."
    body = {"text": text, "format": audio_format}
    with api.stream("POST", voice_path(bot["id"], "speak"), json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media_type)
        chunks = [chunk for chunk in response.iter_bytes() if chunk]
    assert len(chunks) > 1  # streamed as it is spoken, not in one piece at the end
    heard = api.post(
        voice_path(bot["id"], "transcribe"), files=upload(b"".join(chunks), "answer.bin")
    )
    assert heard.status_code == 200, heard.text
    missed = _SAID - set(words(heard.json()["text"]))
    assert len(missed) <= 1, heard.json()  # through a lossy codec, at most one word misheard
