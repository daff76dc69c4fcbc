"""The offline speech models themselves: recognition, synthesis, VAD and audio decoding."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from tests.voice.audio import FORMATS, reencode, silent_wav, spoken_wav, words
from tests.voice.conftest import SENTENCE

from chatforge.errors import BadRequest, UnsupportedMediaType, ValidationFailed
from chatforge.providers.speech import (
    RECOGNITION_RATE,
    SpeechConfig,
    SpeechRegistry,
    VadParams,
    synthesize,
)
from chatforge.providers.speech.audio import AudioTooLong, decode, wav_bytes
from chatforge.providers.speech.piper import sentences
from chatforge.providers.speech.shared import loaded_models
from chatforge.providers.speech.voices import check_voice, local_voice

pytestmark = pytest.mark.slow


def transcribe(wav: bytes) -> str:
    stt = SpeechRegistry().stt()
    return asyncio.run(stt.transcribe(decode(wav, max_seconds=60))).text


def test_spoken_sentence_is_transcribed_back_word_for_word(sentence_wav: bytes) -> None:
    heard = words(transcribe(sentence_wav))
    expected = words(SENTENCE)
    missed = [w for w in expected if w not in heard]
    assert len(missed) <= 1, (heard, missed)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_each_format_a_browser_or_phone_records_is_decoded(sentence_wav: bytes, name: str) -> None:
    original = decode(sentence_wav, max_seconds=60)
    audio = decode(reencode(sentence_wav, name), max_seconds=60)
    assert audio.sample_rate == RECOGNITION_RATE
    assert abs(audio.seconds - original.seconds) < 0.15  # codecs pad a few frames
    if name == "webm":  # what Chrome's MediaRecorder sends: check the words survive it too
        stt = SpeechRegistry().stt()
        text = asyncio.run(stt.transcribe(audio)).text
        assert {"parcel", "berlin", "friday"} <= set(words(text)), text


def test_bytes_that_are_not_audio_are_refused_as_unsupported() -> None:
    with pytest.raises(UnsupportedMediaType, match="WAV, WebM/Opus, OGG, MP3 and M4A"):
        decode(b"%PDF-1.7\n" + b"x" * 4000, max_seconds=60)


def test_a_truncated_recording_is_a_clear_error(sentence_wav: bytes) -> None:
    with pytest.raises((BadRequest, UnsupportedMediaType)):
        decode(reencode(sentence_wav, "mp3")[:200], max_seconds=60)


def test_audio_longer_than_the_limit_is_refused(sentence_wav: bytes) -> None:
    with pytest.raises(AudioTooLong, match="longer than 1 seconds"):
        decode(sentence_wav, max_seconds=1)


def test_vad_finds_the_speech_between_silences_with_the_chatbots_padding() -> None:
    wav = spoken_wav("Hello there, I need some help with my order.", pad_seconds=1.5)
    audio = decode(wav, max_seconds=60)
    vad = SpeechRegistry().vad()
    spans = vad.speech(audio, VadParams(threshold=0.5, prefix_padding_ms=100))
    assert spans, "no speech found"
    start = spans[0].start / RECOGNITION_RATE
    end = spans[-1].end / RECOGNITION_RATE
    assert 1.1 < start < 1.6, start  # speech starts at 1.5 s, padded by 0.1 s
    assert audio.seconds - 1.7 < end < audio.seconds - 1.1, (end, audio.seconds)
    wider = vad.speech(audio, VadParams(threshold=0.5, prefix_padding_ms=600))
    assert wider[0].start < spans[0].start  # more padding keeps more audio before speech


def test_vad_hears_nothing_in_silence_or_faint_noise() -> None:
    vad = SpeechRegistry().vad()
    for wav in (silent_wav(2.0), silent_wav(2.0, noise=0.003)):
        assert vad.speech(decode(wav, max_seconds=60), VadParams()) == []


def test_speech_is_cut_into_sentences_without_citation_marks() -> None:
    text = "Returns are free [1]. Refunds take **5 days** [2, 3]! Questions?\n\n- Call us."
    assert sentences(text) == [
        "Returns are free.",
        "Refunds take 5 days!",
        "Questions?",
        "- Call us.",
    ]


def test_every_okchat_voice_speaks_and_an_unknown_one_is_refused() -> None:
    for name in ("alloy", "echo", "onyx", "joe"):
        assert local_voice(check_voice(name)).name == "joe"
    for name in ("shimmer", "nova", "coral", "heart"):
        assert local_voice(check_voice(name)).name == "heart"
    with pytest.raises(ValidationFailed, match="Unknown voice 'robot'"):
        check_voice("robot")


def _pitch(pcm: bytes, rate: int) -> float:
    """The median fundamental frequency (Hz) of the loud voiced frames, by autocorrelation."""
    x = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768.0
    size = int(0.04 * rate)
    loudness = float(np.sqrt(np.mean(x**2)))
    shortest, longest = int(rate / 400), int(rate / 60)
    found = []
    for start in range(0, len(x) - size, size // 2):
        frame = x[start : start + size] - x[start : start + size].mean()
        if np.sqrt(np.mean(frame**2)) < loudness:
            continue
        corr = np.correlate(frame, frame, "full")[size - 1 :]
        lag = shortest + int(np.argmax(corr[shortest:longest]))
        if corr[lag] > 0.3 * corr[0]:
            found.append(rate / lag)
    return float(np.median(found))


def test_a_female_okchat_voice_sounds_different_from_a_male_one_offline() -> None:
    tts = SpeechRegistry().tts()
    stt = SpeechRegistry().stt()
    spoken = {
        name: asyncio.run(synthesize(tts, SENTENCE, voice=name)) for name in ("shimmer", "echo")
    }
    assert spoken["shimmer"] != spoken["echo"]
    for pcm in spoken.values():  # both are understood ...
        audio = decode(wav_bytes(pcm, tts.sample_rate), max_seconds=60)
        heard = set(words(asyncio.run(stt.transcribe(audio)).text))
        assert {"parcel", "berlin", "friday"} <= heard, heard
    # ... and they are two voices: a woman's pitch is well above a man's (about 200 vs 85 Hz).
    female, male = (_pitch(spoken[name], tts.sample_rate) for name in ("shimmer", "echo"))
    assert female > 1.6 * male, (female, male)


def test_models_load_once_per_process_and_are_shared(sentence_wav: bytes) -> None:
    transcribe(sentence_wav)
    transcribe(sentence_wav)
    SpeechRegistry(SpeechConfig()).stt()
    whisper = [key for key in loaded_models() if key.startswith("whisper:tiny.en")]
    assert len(whisper) == 1, loaded_models()
