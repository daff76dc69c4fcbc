"""OpenAI speech (transcription and synthesis) against a fake server speaking its protocol."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from tests.voice.openai_audio_server import Reply, audio_server, form_field

from chatforge.errors import ProviderError, ProviderUnavailable
from chatforge.providers.speech import Audio, SpeechConfig, SpeechRegistry, synthesize

KEY = "sk-test-voice-0123456789"


def registry(base_url: str, key: str | None = KEY) -> SpeechRegistry:
    return SpeechRegistry(
        SpeechConfig(
            stt="openai:whisper-1",
            tts="openai:tts-1",
            openai_api_key=key,
            openai_base_url=base_url,
            timeout=5,
        )
    )


def one_second() -> Audio:
    return Audio(np.zeros(16_000, dtype=np.float32), 16_000)


def test_transcription_uploads_a_wav_and_reads_the_verbose_answer() -> None:
    with audio_server(api_key=KEY) as server:
        server.script(Reply(text=" Where is my order? "))
        stt = registry(server.base_url).stt()
        transcript = asyncio.run(stt.transcribe(one_second()))
        request = server.last_request
    assert transcript.text == "Where is my order?"
    assert transcript.language == "en"  # "english" in verbose_json
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"].startswith("multipart/form-data")
    form = request.body["_form"]
    assert form_field(form, "model") == "whisper-1"
    assert form_field(form, "response_format") == "verbose_json"
    assert 'filename="audio.wav"' in form and "RIFF" in form and "WAVE" in form


def test_speech_streams_pcm_without_splitting_a_sample() -> None:
    with audio_server(api_key=KEY) as server:
        tts = registry(server.base_url).tts()
        chunks: list[bytes] = []

        async def collect() -> None:
            async for chunk in tts.stream("Hello there.", voice="shimmer"):
                chunks.append(chunk)

        asyncio.run(collect())
        body = server.last_request.body
    assert tts.sample_rate == 24_000
    assert len(chunks) > 1 and all(len(c) % 2 == 0 for c in chunks)
    assert sum(len(c) for c in chunks) == 24_000  # half a second of 16-bit samples
    assert body == {
        "model": "tts-1",
        "input": "Hello there.",
        "voice": "shimmer",
        "response_format": "pcm",
    }


def test_a_refused_key_and_a_rate_limit_say_what_to_do() -> None:
    with audio_server(api_key=KEY) as server:
        with pytest.raises(ProviderError, match="refused the API key") as refused:
            asyncio.run(
                registry(server.base_url, "sk-wrong-key-000000").stt().transcribe(one_second())
            )
        assert "sk-wrong" not in refused.value.message
        server.script(Reply(status=429, headers={"Retry-After": "7"}))
        with pytest.raises(ProviderUnavailable) as limited:
            asyncio.run(synthesize(registry(server.base_url).tts(), "Hi.", voice="alloy"))
        assert limited.value.headers == {"Retry-After": "7"}


def test_openai_speech_without_a_key_is_503_naming_the_setting() -> None:
    config = SpeechConfig(stt="openai:whisper-1")
    with pytest.raises(ProviderUnavailable, match="CHATFORGE_MODELS__OPENAI_API_KEY"):
        SpeechRegistry(config).stt()


@pytest.mark.usefixtures("reuse_embedder")
def test_the_api_transcribes_through_openai_when_configured(
    configured_api: Callable[..., TestClient],
    question_wav: bytes,
) -> None:
    with audio_server(api_key=KEY) as server:
        server.script(Reply(text="What are your opening hours?"))
        api = configured_api(
            voice={"stt": "openai:gpt-4o-mini-transcribe"},
            models={"openai_api_key": SecretStr(KEY), "openai_base_url": server.base_url},
        )
        bot: dict[str, Any] = api.post("/api/external/chatbots", json={"name": "B"}).json()[
            "chatbot"
        ]
        response = api.post(
            f"/api/external/chatbot/{bot['id']}/voice/transcribe",
            files={"file": ("q.wav", question_wav, "audio/wav")},
        )
        form = server.last_request.body["_form"]
    assert response.status_code == 200, response.text
    assert response.json()["text"] == "What are your opening hours?"
    assert form_field(form, "model") == "gpt-4o-mini-transcribe"
    assert form_field(form, "response_format") == "json"
