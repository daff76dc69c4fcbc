"""hibari's bundled voice (``heart``): a second local voice, female, for okchat's female names.

hibari (PyPI ``hibari-tts``, Apache-2.0) ships one voice inside its wheel and fetches its others
from a model hub on first use; Chatforge only ever asks for the bundled one, so nothing is
downloaded. It speaks at 24 kHz; each sentence is resampled to the Piper voices' rate so that
every local voice streams at one rate and a call's ``output_sample_rate`` does not depend on the
chatbot's voice.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

import numpy as np

from chatforge.errors import ProviderError
from chatforge.providers.speech.audio import pcm16
from chatforge.providers.speech.base import Samples
from chatforge.providers.speech.voices import LocalVoice

__all__ = ["HibariVoice", "load_hibari", "resample"]


def resample(samples: Samples, source_rate: int, rate: int) -> Samples:
    """Mono float samples at ``source_rate`` resampled to ``rate`` (FFmpeg's swresample)."""
    if source_rate == rate or len(samples) == 0:
        return samples
    import av  # the optional voice install

    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1), format="flt", layout="mono"
    )
    frame.sample_rate = source_rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    parts = [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
    parts += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return np.concatenate(parts).astype(np.float32, copy=False) if parts else samples[:0]


class HibariVoice:
    """A loaded hibari voice; its phonemizer keeps state between calls, hence the lock.

    Args:
        model: The ``hibari.Hibari`` instance.
        rate: The sample rate to speak at.
    """

    def __init__(self, model: Any, rate: int) -> None:
        self.model = model
        self.rate = rate
        self.source_rate = int(model.sample_rate)
        self.lock = threading.Lock()

    def speak(self, sentence: str) -> bytes:
        # A fixed seed: the same sentence always sounds the same (hibari adds a noise component).
        with self.lock:
            samples = self.model(sentence, seed=0)
        audio = np.asarray(samples, dtype=np.float32).reshape(-1)
        return pcm16(resample(audio, self.source_rate, self.rate))


def load_hibari(voice: LocalVoice, threads: int | None, rate: int) -> HibariVoice:
    """Load ``voice`` (one hibari bundles; never one it would download) to speak at ``rate``."""
    package = importlib.import_module(voice.package)
    bundled = importlib.import_module(f"{voice.package}.voices").VOICES[voice.model_file]
    if not bundled.get("bundled"):
        raise ProviderError(f"hibari's voice {voice.model_file!r} is not in its package.")
    model = package.Hibari(voice=voice.model_file, threads=threads or 1)
    return HibariVoice(model, rate)
