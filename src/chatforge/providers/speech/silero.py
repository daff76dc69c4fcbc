"""Voice activity detection: Silero VAD (its ONNX model, as faster-whisper ships it).

The model file comes with the ``faster-whisper`` package (``assets/silero_vad_v6.onnx``) and
runs on onnxruntime: no PyTorch. The chatbot's ``vad`` settings map onto Silero's options: the
speech ``threshold``, ``prefix_padding_ms`` of audio kept before speech, and the
``silence_duration_ms`` that ends an utterance.
"""

from __future__ import annotations

from chatforge.providers.speech.base import Audio, SpeechSpan, VadParams, VoiceActivityDetector
from chatforge.providers.speech.shared import offline

__all__ = ["SileroVad"]

_MIN_SPEECH_MS = 150  # shorter blips (a click, a cough) are not speech


class SileroVad(VoiceActivityDetector):
    """Silero VAD over whole recordings; the model is loaded once per process."""

    def speech(self, audio: Audio, params: VadParams) -> list[SpeechSpan]:
        offline()
        from faster_whisper.vad import (  # the optional voice install
            VadOptions,
            get_speech_timestamps,
        )

        options = VadOptions(
            threshold=params.threshold,
            min_speech_duration_ms=_MIN_SPEECH_MS,
            min_silence_duration_ms=params.silence_duration_ms,
            speech_pad_ms=params.prefix_padding_ms,
        )
        found = get_speech_timestamps(audio.samples, options, sampling_rate=audio.sample_rate)
        return [SpeechSpan(int(span["start"]), int(span["end"])) for span in found]
