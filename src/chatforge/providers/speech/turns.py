"""Turn detection on a live stream: where an utterance starts and where it ends.

A live call sends 16 kHz 16-bit mono PCM in pieces of any size. :class:`TurnDetector` cuts it into
32 ms frames, asks Silero VAD (:class:`SileroStream`, which keeps the model's state from frame to
frame) how likely each is speech, and follows the chatbot's ``vad`` settings: speech starts when
frames pass ``threshold`` (:class:`SpeechStarted`, the moment to stop playback: barge-in), and
the utterance ends after ``silence_duration_ms`` of silence (:class:`Utterance`, with
``prefix_padding_ms`` of audio from before the start).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from chatforge.providers.speech.base import RECOGNITION_RATE, Audio, Samples, VadParams
from chatforge.providers.speech.shared import offline

__all__ = ["FRAME", "SileroStream", "SpeechStarted", "TurnDetector", "TurnEvent", "Utterance"]

FRAME = 512
"""Samples per VAD frame (32 ms at 16 kHz), as Silero VAD reads them."""

_CONTEXT = 64  # samples of the previous frame the model reads with each frame
_START_FRAMES = 3  # ~100 ms of speech before a turn counts as started (a click is not speech)
_MIN_SPEECH_MS = 250  # shorter utterances (a cough) are dropped


@dataclass(frozen=True)
class SpeechStarted:
    """The caller started speaking."""


@dataclass(frozen=True)
class Utterance:
    """The caller finished an utterance: its audio, from ``prefix_padding_ms`` before it."""

    audio: Audio


TurnEvent = SpeechStarted | Utterance


class SileroStream:
    """Silero VAD frame by frame, with the model's recurrent state kept between frames."""

    def __init__(self) -> None:
        offline()
        from faster_whisper.vad import get_vad_model  # the optional voice install

        self._session: Any = get_vad_model().session  # loaded once per process
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)

    def __call__(self, frame: Samples) -> float:
        """The probability that ``frame`` (:data:`FRAME` samples) is speech."""
        window = np.concatenate([self._context, frame])[None, :]
        out, self._h, self._c = self._session.run(
            None, {"input": window, "h": self._h, "c": self._c}
        )
        self._context = frame[-_CONTEXT:]
        return float(out.reshape(-1)[0])


class TurnDetector:
    """Cuts a live PCM stream into utterances.

    Args:
        params: The chatbot's VAD settings.
        probability: Speech probability of one frame; :class:`SileroStream` in production.
        max_seconds: An utterance longer than this ends there.
    """

    def __init__(
        self,
        params: VadParams,
        probability: Callable[[Samples], float],
        *,
        max_seconds: float = 60.0,
    ) -> None:
        self.params = params
        self.probability = probability
        self.max_frames = int(max_seconds * RECOGNITION_RATE / FRAME)
        padding = int(params.prefix_padding_ms * RECOGNITION_RATE / 1000 / FRAME) + 1
        self._before: deque[Samples] = deque(maxlen=padding)
        self._speech: list[Samples] = []
        self._voiced = 0  # frames above the threshold in the current turn
        self._run = 0  # consecutive frames above the threshold
        self._silent = 0  # consecutive frames of silence in a started turn
        self._started = False
        self._carry = b""
        self._pending = np.zeros(0, dtype=np.float32)
        frame_ms = FRAME * 1000 / RECOGNITION_RATE
        self._end_frames = max(1, round(params.silence_duration_ms / frame_ms))
        self._min_frames = max(1, round(_MIN_SPEECH_MS / frame_ms))
        self._low = max(params.threshold - 0.15, 0.01)

    @property
    def speaking(self) -> bool:
        """Whether an utterance is under way."""
        return self._started

    def feed(self, pcm: bytes) -> list[TurnEvent]:
        """Take more 16-bit PCM; the turn events it completes, in order."""
        data = self._carry + pcm
        even = len(data) - len(data) % 2
        self._carry = data[even:]
        samples = np.frombuffer(data[:even], dtype="<i2").astype(np.float32) / 32768.0
        self._pending = np.concatenate([self._pending, samples])
        events: list[TurnEvent] = []
        while len(self._pending) >= FRAME:
            frame, self._pending = self._pending[:FRAME], self._pending[FRAME:]
            event = self._frame(frame)
            if event is not None:
                events.append(event)
        return events

    def _frame(self, frame: Samples) -> TurnEvent | None:
        probability = self.probability(frame)
        if not self._started:
            self._before.append(frame)
            self._run = self._run + 1 if probability >= self.params.threshold else 0
            if self._run >= _START_FRAMES:
                self._started = True
                self._speech = list(self._before)
                self._voiced = self._run
                self._silent = 0
                return SpeechStarted()
            return None
        self._speech.append(frame)
        if probability >= self.params.threshold:
            self._voiced += 1
            self._silent = 0
        elif probability < self._low:
            self._silent += 1
        if self._silent >= self._end_frames or len(self._speech) >= self.max_frames:
            return self._finish()
        return None

    def _finish(self) -> Utterance | None:
        speech, voiced = self._speech, self._voiced
        self._started, self._speech, self._voiced, self._run, self._silent = False, [], 0, 0, 0
        self._before.clear()
        if voiced < self._min_frames:
            return None
        return Utterance(Audio(np.concatenate(speech), RECOGNITION_RATE))
