"""Fixtures of the voice tests: real speech made once per test session by the offline TTS."""

from __future__ import annotations

import pytest
from tests.voice.audio import silent_wav, spoken_wav

QUESTION = "What are your opening hours?"
SENTENCE = "Please send the parcel to our office in Berlin before Friday."


@pytest.fixture(scope="session")
def question_wav() -> bytes:
    """A short spoken question about the shop, with half a second of silence either side."""
    return spoken_wav(QUESTION, pad_seconds=0.5)


@pytest.fixture(scope="session")
def sentence_wav() -> bytes:
    """A spoken sentence with distinctive words."""
    return spoken_wav(SENTENCE)


@pytest.fixture(scope="session")
def silence_wav() -> bytes:
    """Two seconds of faint noise and no speech."""
    return silent_wav(2.0, noise=0.002)
