"""Real audio for the voice tests: spoken by the offline TTS, re-encoded with PyAV."""

from __future__ import annotations

import asyncio
import io
import re

import av
import numpy as np

from chatforge.providers.speech import synthesize
from chatforge.providers.speech.audio import pcm16, wav_bytes
from chatforge.providers.speech.piper import LocalPiper

#: Container and codec of each accepted format, as browsers and phones record them.
FORMATS = {
    "ogg": ("ogg", "libopus", 48_000),
    "webm": ("webm", "libopus", 48_000),
    "mp3": ("mp3", "libmp3lame", 44_100),
    "m4a": ("ipod", "aac", 44_100),
}


def spoken_wav(text: str, *, pad_seconds: float = 0.0) -> bytes:
    """``text`` spoken by the local Piper voice, as a WAV file, with silence either side."""
    piper = LocalPiper()
    pcm = asyncio.run(synthesize(piper, text, voice="alloy"))
    silence = b"\x00\x00" * int(pad_seconds * piper.sample_rate)
    return wav_bytes(silence + pcm + silence, piper.sample_rate)


def silent_wav(seconds: float, *, rate: int = 16_000, noise: float = 0.0) -> bytes:
    """Silence (or faint noise) as a WAV file."""
    samples = np.random.default_rng(7).normal(0, noise, int(seconds * rate)).astype(np.float32)
    return wav_bytes(pcm16(samples), rate)


def reencode(wav: bytes, name: str) -> bytes:
    """A WAV file re-encoded to one of :data:`FORMATS` with FFmpeg's own encoders."""
    container_format, codec, rate = FORMATS[name]
    out = io.BytesIO()
    with av.open(io.BytesIO(wav)) as source, av.open(out, "w", format=container_format) as sink:
        stream = sink.add_stream(codec, rate=rate)
        stream.layout = "mono"  # type: ignore[union-attr]
        resampler = av.AudioResampler(
            format=stream.codec_context.format.name,  # type: ignore[union-attr]
            layout="mono",
            rate=rate,
        )
        for frame in source.decode(audio=0):
            for piece in resampler.resample(frame):
                for packet in stream.encode(piece):  # type: ignore[union-attr]
                    sink.mux(packet)
        for piece in resampler.resample(None):
            for packet in stream.encode(piece):  # type: ignore[union-attr]
                sink.mux(packet)
        for packet in stream.encode(None):  # type: ignore[union-attr]
            sink.mux(packet)
    return out.getvalue()


def words(text: str) -> list[str]:
    """The lower-case words of ``text`` (digits kept), for comparing transcripts."""
    return re.findall(r"[a-z0-9]+", text.lower())
