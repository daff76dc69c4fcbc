"""The speech interfaces: speech-to-text, text-to-speech and voice activity detection.

Audio inside Chatforge is :class:`Audio`: mono float32 samples in [-1, 1] at a known rate
(16 kHz for recognition, the voice's own rate for synthesis). Each kind of model has one small
abstract class; synthesis streams 16-bit PCM, and :func:`synthesize` folds that stream, so the
streamed and the whole answer run the same code.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]

RECOGNITION_RATE = 16_000
"""The sample rate every speech-to-text model and the VAD read."""


@dataclass(frozen=True)
class Audio:
    """Mono audio.

    Attributes:
        samples: Float32 samples in [-1, 1].
        sample_rate: Samples per second.
    """

    samples: Samples
    sample_rate: int

    @property
    def seconds(self) -> float:
        """The duration."""
        return len(self.samples) / self.sample_rate if self.sample_rate else 0.0


@dataclass(frozen=True)
class Transcript:
    """What was said.

    Attributes:
        text: The words, trimmed.
        language: The spoken language (ISO 639-1), as the model detected or was told.
        duration: Seconds of audio transcribed.
    """

    text: str
    language: str
    duration: float


@dataclass(frozen=True)
class VadParams:
    """A chatbot's voice activity settings (its ``voice_widget_config.vad``).

    Attributes:
        threshold: Speech probability above which a frame is speech, in [0, 1].
        prefix_padding_ms: Audio kept before the detected start of speech.
        silence_duration_ms: Silence that ends an utterance.
    """

    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500


@dataclass(frozen=True)
class SpeechSpan:
    """One stretch of speech, in samples of the analysed audio."""

    start: int
    end: int


class SpeechToText(ABC):
    """A speech recognition model."""

    name: ClassVar[str] = "stt"

    @abstractmethod
    async def transcribe(self, audio: Audio, *, language: str | None = None) -> Transcript:
        """The words of ``audio`` (16 kHz mono).

        Raises:
            ProviderError: The provider failed; ProviderUnavailable when it cannot be reached.
        """


class TextToSpeech(ABC):
    """A speech synthesis model; it streams 16-bit little-endian mono PCM."""

    @property
    @abstractmethod
    def sample_rate(self) -> int:
        """The rate of the PCM that :meth:`stream` yields."""

    @abstractmethod
    def stream(self, text: str, *, voice: str) -> AsyncIterator[bytes]:
        """Speak ``text`` with ``voice``, as PCM chunks in order (sentence by sentence).

        Raises:
            ProviderError: The provider failed; ProviderUnavailable when it cannot be reached.
        """


class VoiceActivityDetector(ABC):
    """Finds speech in audio."""

    @abstractmethod
    def speech(self, audio: Audio, params: VadParams) -> list[SpeechSpan]:
        """The stretches of speech of ``audio`` (16 kHz mono), padded by the params."""


async def synthesize(model: TextToSpeech, text: str, *, voice: str) -> bytes:
    """The whole PCM of ``text``, by folding :meth:`TextToSpeech.stream`."""
    return b"".join([chunk async for chunk in model.stream(text, voice=voice)])
