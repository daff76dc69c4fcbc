"""OpenAI's speech endpoints, or any compatible server's: ``/audio/transcriptions`` and
``/audio/speech``, spoken over httpx.

Transcription sends the decoded audio as a 16 kHz WAV file; synthesis asks for raw PCM
(``response_format: pcm``, 24 kHz 16-bit mono) and streams it as it arrives.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from chatforge.errors import ProviderError, ProviderUnavailable
from chatforge.providers.speech.audio import pcm16, wav_bytes
from chatforge.providers.speech.base import Audio, SpeechToText, TextToSpeech, Transcript
from chatforge.providers.speech.voices import openai_voice

__all__ = ["OPENAI_BASE_URL", "OPENAI_PCM_RATE", "OpenAIEndpoint", "OpenAISTT", "OpenAISpeech"]

log = logging.getLogger(__name__)

OPENAI_BASE_URL = "https://api.openai.com/v1"
OPENAI_PCM_RATE = 24_000
"""The rate of OpenAI's ``pcm`` speech format."""

#: verbose_json names the language in English words; the API elsewhere speaks ISO 639-1.
_LANGUAGES = {
    "english": "en",
    "french": "fr",
    "german": "de",
    "spanish": "es",
    "italian": "it",
    "portuguese": "pt",
    "dutch": "nl",
    "japanese": "ja",
    "chinese": "zh",
    "korean": "ko",
}


@dataclass(frozen=True)
class OpenAIEndpoint:
    """Where to send speech calls.

    Attributes:
        api_key: The key; None for a compatible server that needs none.
        base_url: The base URL ending in ``/v1``.
        timeout: Seconds to connect, and between two chunks of an answer.
    """

    api_key: str | None = field(default=None, repr=False)
    base_url: str = OPENAI_BASE_URL
    timeout: float = 60.0

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


def _failure(response: httpx.Response, what: str) -> ProviderError:
    """The error for a refused call; the provider's text is never repeated (it may quote a key)."""
    status = response.status_code
    if status == 429 or status >= 500:
        retry = response.headers.get("retry-after")
        headers = {"Retry-After": retry} if retry and retry.isdigit() else {}
        return ProviderUnavailable(
            f"The speech provider is busy or down ({status}) for {what}; try again shortly.",
            headers=headers,
        )
    if status in (401, 403):
        return ProviderError(
            f"The speech provider refused the API key ({status}) for {what}: check "
            "CHATFORGE_MODELS__OPENAI_API_KEY, or use the offline voice (CHATFORGE_VOICE__STT=local"
            ", CHATFORGE_VOICE__TTS=local)."
        )
    return ProviderError(f"The speech provider refused {what} ({status}).")


class OpenAISTT(SpeechToText):
    """``POST /audio/transcriptions``.

    Args:
        model: ``whisper-1``, ``gpt-4o-mini-transcribe``, ...
        endpoint: Where to send it.
    """

    name = "openai"

    def __init__(self, model: str, endpoint: OpenAIEndpoint) -> None:
        self.model = model
        self.endpoint = endpoint

    async def transcribe(self, audio: Audio, *, language: str | None = None) -> Transcript:
        verbose = self.model == "whisper-1"  # the newer models answer plain json only
        data: dict[str, Any] = {
            "model": self.model,
            "response_format": "verbose_json" if verbose else "json",
        }
        if language:
            data["language"] = language
        files = {"file": ("audio.wav", wav_bytes(pcm16(audio.samples), audio.sample_rate))}
        try:
            async with httpx.AsyncClient(timeout=self.endpoint.timeout) as client:
                response = await client.post(
                    self.endpoint.url("/audio/transcriptions"),
                    data=data,
                    files=files,
                    headers=self.endpoint.headers(),
                )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"The speech provider could not be reached ({type(exc).__name__})."
            ) from exc
        if response.status_code != 200:
            raise _failure(response, "a transcription")
        try:
            body = response.json()
            text = str(body["text"]).strip()
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError("The speech provider answered a transcription oddly.") from exc
        said = str(body.get("language") or language or "")
        return Transcript(text, _LANGUAGES.get(said.lower(), said), round(audio.seconds, 3))


class OpenAISpeech(TextToSpeech):
    """``POST /audio/speech`` with ``response_format: pcm``.

    Args:
        model: ``tts-1``, ``gpt-4o-mini-tts``, ...
        endpoint: Where to send it.
    """

    def __init__(self, model: str, endpoint: OpenAIEndpoint) -> None:
        self.model = model
        self.endpoint = endpoint

    @property
    def sample_rate(self) -> int:
        return OPENAI_PCM_RATE

    async def stream(self, text: str, *, voice: str) -> AsyncIterator[bytes]:
        body = {
            "model": self.model,
            "input": text,
            "voice": openai_voice(voice),
            "response_format": "pcm",
        }
        carry = b""
        try:
            async with (
                httpx.AsyncClient(timeout=self.endpoint.timeout) as client,
                client.stream(
                    "POST",
                    self.endpoint.url("/audio/speech"),
                    json=body,
                    headers=self.endpoint.headers(),
                ) as response,
            ):
                if response.status_code != 200:
                    await response.aread()
                    raise _failure(response, "speech")
                async for chunk in response.aiter_bytes():
                    chunk = carry + chunk
                    even = len(chunk) - len(chunk) % 2  # never split a 16-bit sample
                    carry = chunk[even:]
                    if even:
                        yield chunk[:even]
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"The speech provider could not be reached ({type(exc).__name__})."
            ) from exc
