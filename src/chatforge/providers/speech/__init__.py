"""Speech models: speech-to-text, text-to-speech and voice activity detection (docs/voice.md)."""

from chatforge.providers.speech.base import (
    RECOGNITION_RATE,
    Audio,
    SpeechSpan,
    SpeechToText,
    TextToSpeech,
    Transcript,
    VadParams,
    VoiceActivityDetector,
    synthesize,
)
from chatforge.providers.speech.registry import (
    INSTALL_HINT,
    SpeechConfig,
    SpeechRegistry,
    missing_voice_packages,
)

__all__ = [
    "INSTALL_HINT",
    "RECOGNITION_RATE",
    "Audio",
    "SpeechConfig",
    "SpeechRegistry",
    "SpeechSpan",
    "SpeechToText",
    "TextToSpeech",
    "Transcript",
    "VadParams",
    "VoiceActivityDetector",
    "missing_voice_packages",
    "synthesize",
]
