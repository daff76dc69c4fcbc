"""Offline text-to-speech: Piper voices on onnxruntime (``piper-onnx``), sentence by sentence.

The voices ship in PyPI packages (:mod:`chatforge.providers.speech.voices`); one of them is
hibari's (:mod:`chatforge.providers.speech.hibari`), resampled to the Piper rate. Text is cut into
sentences and each is synthesized in a worker thread as the previous one streams out, so the
first audio comes after the first sentence, not after the whole answer.
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread
import numpy as np

from chatforge.providers.speech.audio import pcm16
from chatforge.providers.speech.base import TextToSpeech
from chatforge.providers.speech.hibari import load_hibari
from chatforge.providers.speech.shared import load_shared
from chatforge.providers.speech.voices import LocalVoice, local_voice

__all__ = ["PIPER_RATE", "LocalPiper", "sentences"]

PIPER_RATE = 22_050
"""The sample rate of the medium-quality Piper voices."""

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")
_LONG = 240  # characters: a longer sentence is cut at commas so that it starts sooner


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences to speak one after another (citations like [1] removed)."""
    text = re.sub(r"\s*\[\d+(?:,\s*\d+)*\]", "", text)
    text = re.sub(r"[*_`#>]+", "", text)  # Markdown marks are not read out
    parts: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        sentence = " ".join(sentence.split())
        if not sentence:
            continue
        while len(sentence) > _LONG and ", " in sentence[:_LONG]:
            cut = sentence.rindex(", ", 0, _LONG) + 1
            parts.append(sentence[:cut])
            sentence = sentence[cut:].strip()
        parts.append(sentence)
    return [p for p in parts if any(ch.isalnum() for ch in p)]


class _Speaker(Protocol):
    def speak(self, sentence: str) -> bytes: ...


class _Voice:
    """A loaded Piper voice; espeak-ng (its phonemizer) is not thread-safe, hence the lock."""

    def __init__(self, piper: Any, sample_rate: int) -> None:
        self.piper = piper
        self.sample_rate = sample_rate
        self.lock = threading.Lock()

    def speak(self, sentence: str) -> bytes:
        with self.lock:
            samples, _rate = self.piper.create(sentence)
        return pcm16(np.asarray(samples, dtype=np.float32).reshape(-1))


def _load_voice(voice: LocalVoice, threads: int | None) -> _Voice:
    import onnxruntime
    from piper_onnx import Piper  # the optional voice install

    # phonemizer warns on every sentence whose punctuation it splits differently: noise.
    logging.getLogger("phonemizer").setLevel(logging.ERROR)
    package = importlib.import_module(voice.package)
    folder = Path(package.data_dir())
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(
        str(folder / voice.model_file), sess_options=options, providers=["CPUExecutionProvider"]
    )
    piper = Piper.from_session(session, str(folder / f"{voice.model_file}.json"))
    return _Voice(piper, int(piper.sample_rate))


class LocalPiper(TextToSpeech):
    """The local voices (Piper's, and hibari's resampled), all at :data:`PIPER_RATE`.

    Args:
        threads: onnxruntime threads per synthesis; None lets it choose.
    """

    def __init__(self, *, threads: int | None = None) -> None:
        self.threads = threads

    @property
    def sample_rate(self) -> int:
        return PIPER_RATE

    async def _voice(self, name: str) -> _Speaker:
        voice = local_voice(name)
        if voice.engine == "hibari":
            return await load_shared(
                f"hibari:{voice.name}:{self.threads}",
                lambda: load_hibari(voice, self.threads, PIPER_RATE),
            )
        return await load_shared(
            f"piper:{voice.name}:{self.threads}", lambda: _load_voice(voice, self.threads)
        )

    async def stream(self, text: str, *, voice: str) -> AsyncIterator[bytes]:
        loaded = await self._voice(voice)
        for sentence in sentences(text):
            yield await anyio.to_thread.run_sync(loaded.speak, sentence)
